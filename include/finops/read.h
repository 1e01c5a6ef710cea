/*
 * read.h: a source of bytes as a read function, the one shape every reader
 * takes (local files, HTTP and S3 streams, fuzz input), and an open file as
 * one.
 */
#ifndef FINOPS_READ_H
#define FINOPS_READ_H

#include <stddef.h>
#include <sys/types.h>

#include "finops/error.h"

/* Reads up to len bytes; returns the count, 0 at the end, -1 with err. */
typedef ssize_t (*fo_read_fn)(void *ctx, char *buf, size_t len, fo_err *err);

/* An open file as a read function: fo_fd_read(&(struct fo_fd_source){fd, path}, ...). */
struct fo_fd_source {
	int fd;
	const char *path;            /* named in errors */
};

/*
 * read(2) of source's fd that retries on EINTR unless a stop was asked
 * (stop.h); -1 with err, naming the path, on failure.
 */
ssize_t fo_fd_read(void *source, char *buf, size_t len, fo_err *err);

#endif
