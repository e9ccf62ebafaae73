/* ms_remote.h - the client side of a `mailsift serve` host's small
 * read-only HTTP endpoint (at its --listen PORT+1), which gives a search
 * head what Xapian's remote backend does not carry: the raw messages that
 * show and export write, and the names of the shards the host serves.
 *
 * Addresses are written as in [archive] remote: "HOST:PORT" (HOST a name
 * or IPv4 address, or "[V6]"), PORT the host's xapian-tcpsrv (1..65534);
 * the endpoint is PORT+1. Requests are HTTP/1.0 GETs: /raw/SHA256 (the
 * message's bytes, as the host's store holds them decrypted) and /shards
 * (one shard name per line). Error messages are one line, malloc'ed, and
 * name the address; the caller frees them with free().
 */
#ifndef MS_REMOTE_H
#define MS_REMOTE_H

#include <stddef.h>

#include "ms_buf.h"
#include "ms_status.h"

#define MS_REMOTE_HOST_MAX 256

/* 1 if s is a valid remote address (see above). */
int ms_remote_addr_ok(const char *s);

/* Splits s into host (without brackets) and port. 0, or -1 if s is not a
 * valid address. */
int ms_remote_split(const char *s, char host[MS_REMOTE_HOST_MAX],
		    unsigned *port_r);

/* GETs path (starting with '/') from the endpoint of address addr and
 * appends the body (at most max bytes) to out. connect_ms and timeout_ms
 * bound the connect and the whole exchange. MS_OK; MS_ERR_NOTFOUND (the
 * host answered 404); MS_ERR_REMOTE (unreachable, timed out, another
 * status, a malformed or too long answer) with *err_r set (if err_r);
 * MS_ERR_NOMEM. out may hold part of a body after an error. */
ms_status_t ms_remote_get(const char *addr, const char *path,
			  unsigned connect_ms, unsigned timeout_ms, size_t max,
			  ms_buf *out, char **err_r);

#endif
