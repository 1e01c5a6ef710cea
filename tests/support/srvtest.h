/*
 * srvtest.h: starts a test server (a Python script in tests/support) that
 * prints "PORT <n>" once it listens on 127.0.0.1, and stops it.
 */
#ifndef FINOPS_SRVTEST_H
#define FINOPS_SRVTEST_H

#include <sys/types.h>

struct srvtest {
	pid_t pid;
	int port;
};

/* argv[0] is the script's path under tests/support; the rest are its options. */
void srvtest_start(struct srvtest *s, const char *const *argv);
void srvtest_stop(struct srvtest *s);

/* The interpreter (FINOPS_TEST_PYTHON, else python3) and the source tree. */
const char *srvtest_python(void);
const char *srvtest_source_dir(void);

#endif
