/*
 * stop.h: the stop flag. SIGINT and SIGTERM set it; every long loop
 * (reading a file, waiting for a lock, a retry's backoff) reads it and ends
 * its work as interrupted. A leaf any layer may include, as PostgreSQL keeps
 * its interrupt flag in miscadmin.h.
 */
#ifndef FINOPS_STOP_H
#define FINOPS_STOP_H

/* Non-zero once SIGINT or SIGTERM arrived. */
int fo_stop_requested(void);

/* The signal that asked to stop, or 0. */
int fo_stop_signal(void);

/*
 * Installs the handlers (the job runner does, once): SIGINT and SIGTERM set
 * the flag without SA_RESTART, so a blocking wait returns EINTR and its loop
 * sees it; SIGPIPE is ignored (a closed connection is an error, not a death).
 */
void fo_stop_catch_signals(void);

#endif
