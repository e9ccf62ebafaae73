/* ms_sock.h - client stream sockets with timeouts: connecting to an
 * endpoint as plugin.conf writes it, sending and receiving against a
 * deadline. Used by the clamd commands (ms_clamd.h) and `mailsift doctor`.
 *
 * Endpoints:
 *   unix:PATH, local:PATH        a unix socket
 *   inet:HOST:PORT, inet:[V6]:PORT   TCP, clamd's form ([scanner] clamd)
 *   inet:PORT@HOST, inet6:PORT@HOST  TCP, libmilter's form ([milter]
 *                                socket); no @HOST means 127.0.0.1 (::1)
 * HOST may be a name getaddrinfo resolves; every address is tried.
 *
 * Descriptors are non-blocking and close-on-exec; SIGPIPE is never raised.
 * Error strings are one line, "ENDPOINT: what: strerror", malloc'ed; the
 * caller frees them with free().
 */
#ifndef MS_SOCK_H
#define MS_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ms_status.h"

/* Sets *err_r (if err_r) to "ENDPOINT: what: strerror(e)" (without the
 * strerror part when e is 0) and returns st: the one error format of the
 * modules built on these sockets. */
ms_status_t ms_sock_fail(char **err_r, ms_status_t st, const char *ep,
			 const char *what, int e);

/* The deadline timeout_ms from now on the monotonic clock (ms_clock.h). */
int64_t ms_sock_deadline(unsigned timeout_ms);

/* Connects to endpoint within timeout_ms. Returns the descriptor (the
 * caller closes it), or -1 with *err_r (if err_r) set: a bad endpoint, a
 * name that does not resolve, a refused or timed-out connect. */
int ms_sock_connect(const char *endpoint, unsigned timeout_ms, char **err_r);

/* Sends p[0..n) completely before deadline. 0, or -1 with errno set
 * (ETIMEDOUT when the deadline passed). */
int ms_sock_send(int fd, const void *p, size_t n, int64_t deadline);

/* Waits until fd is readable (or deadline) and receives at most n bytes
 * into p. Returns the byte count, 0 at end of stream, or -1 with errno set
 * (ETIMEDOUT when the deadline passed). */
ssize_t ms_sock_recv(int fd, void *p, size_t n, int64_t deadline);

/* Receives exactly n bytes before deadline. 0, or -1 with errno set
 * (ECONNRESET for an end of stream before n bytes). */
int ms_sock_recv_all(int fd, void *p, size_t n, int64_t deadline);

#endif
