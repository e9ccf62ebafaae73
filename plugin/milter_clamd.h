/* milter_clamd.h - the milter's clamd client: zINSTREAM over unix or TCP
 * sockets (or, on unix sockets when asked, zFILDES: the descriptor itself
 * is passed) with timeouts and fail-over between endpoints.
 *
 * A message is CLEAN only when clamd answered "stream: OK" for all of it;
 * every other outcome (no endpoint reachable, timeout, size limit, any
 * ERROR reply, a reply that cannot be parsed) is FAILED, never clean
 * (DESIGN.md invariant 2).
 */
#ifndef MILTER_CLAMD_H
#define MILTER_CLAMD_H

#include <stddef.h>
#include <stdint.h>

typedef enum ms_scan_result {
	MS_SCAN_CLEAN,
	MS_SCAN_INFECTED,
	MS_SCAN_FAILED
} ms_scan_result;

typedef struct ms_scan_verdict {
	ms_scan_result result;
	char virus[128];    /* INFECTED: the signature name, else "" */
	char reason[256];   /* FAILED: one line, naming the last endpoint */
	char endpoint[128]; /* the endpoint that answered (or was tried last) */
} ms_scan_verdict;

/* Borrowed by ms_clamd_scan for the duration of the call. */
typedef struct ms_clamd_opts {
	/* "unix:/path" or "inet:host:port" (numeric host or a name that
	 * getaddrinfo resolves; "[v6addr]:port" too), NULL-terminated;
	 * tried in order. */
	const char *const *endpoints;
	unsigned connect_timeout_ms; /* 0 = 10 s */
	unsigned read_timeout_ms;    /* each send/receive wait; 0 = 60 s */
	size_t chunk_size;	     /* bytes per INSTREAM chunk; 0 = 64 KiB */
	/* On a unix endpoint, pass fd with zFILDES (SCM_RIGHTS) for files
	 * up to MS_CLAMD_FILDES_MAX bytes instead of streaming them; a
	 * clamd that answers it with anything but a verdict is asked
	 * again with zINSTREAM on the same connection attempt. */
	int fildes;
} ms_clamd_opts;

/* Larger files are streamed, so that clamd's StreamMaxLength (default
 * 25 MB) refuses them with an error instead of MaxFileSize cutting a
 * FILDES scan short (which clamd reports as OK). */
#define MS_CLAMD_FILDES_MAX (16u * 1024 * 1024)

/* Scans fd[0..len) with zINSTREAM, or zFILDES (then fd must hold exactly
 * the len bytes: clamd scans the whole file). The file is read with
 * pread(), so the descriptor's offset is untouched. Tries each endpoint in
 * order and fails over to the next on a connect error, a timeout, a short file,
 * or a reply that is neither "stream: OK" nor "stream: NAME FOUND". Always
 * fills *v. Thread-safe (no shared state); SIGPIPE is never raised. */
void ms_clamd_scan(const ms_clamd_opts *o, int fd, uint64_t len,
		   ms_scan_verdict *v);

/* Parses one complete clamd reply buf[0..n): n counts its terminator, a
 * NUL or a newline, which must be the last byte (without it the reply is
 * incomplete: FAILED; a NUL or control byte before it: garbage). Writes the
 * virus name into virus[0..vn) for INFECTED and a one-line reason into
 * reason[0..rn) for FAILED (both always terminated when vn/rn > 0). */
ms_scan_result ms_clamd_parse_reply(const char *buf, size_t n, char *virus,
				    size_t vn, char *reason, size_t rn);

#endif
