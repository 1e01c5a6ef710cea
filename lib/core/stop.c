/*
 * stop.c: the stop flag (see stop.h).
 */
#include <signal.h>
#include <string.h>

#include "finops/stop.h"

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

int
fo_stop_requested(void)
{
	return stop_signal != 0;
}

int
fo_stop_signal(void)
{
	return (int)stop_signal;
}

void
fo_stop_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
