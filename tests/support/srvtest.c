/*
 * srvtest.c: test servers as child processes (see srvtest.h).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "srvtest.h"

const char *
srvtest_python(void)
{
	const char *p = getenv("FINOPS_TEST_PYTHON");

	return p && *p ? p : "python3";
}

const char *
srvtest_source_dir(void)
{
	const char *d = getenv("FINOPS_SOURCE_DIR");

	if (!d || !*d)
		fail_msg("FINOPS_SOURCE_DIR is not set (run the tests with ctest)");
	return d;
}

void
srvtest_start(struct srvtest *s, const char *const *argv)
{
	char script[1024], line[64];
	const char *args[32];
	int fds[2], n = 0;
	FILE *f;

	snprintf(script, sizeof(script), "%s/tests/support/%s", srvtest_source_dir(), argv[0]);
	args[n++] = srvtest_python();
	args[n++] = script;
	for (int i = 1; argv[i] && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	assert_int_equal(pipe(fds), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(args[0], (char *const *)args);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	assert_non_null(f);
	if (!fgets(line, sizeof(line), f) || sscanf(line, "PORT %d", &s->port) != 1)
		fail_msg("%s did not start", script);
	fclose(f);
}

void
srvtest_stop(struct srvtest *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}
