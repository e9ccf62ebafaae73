/* ms_remote.c - GETs from a `mailsift serve` host's read-only endpoint
 * (ms_remote.h).
 *
 * Functions: ms_remote_get; file-local read_reply, parse_reply (the
 * address parsing is in ms_remote_addr.c). The reply is read whole (bounded by
 * max plus the header) before it is parsed; the status line and the header end
 * are searched with explicit lengths.
 */
#include "ms_remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_sock.h"

#define HEAD_MAX 4096 /* bytes of status line and headers at most */

/* Reads until the end of stream into out (at most max + HEAD_MAX). */
static ms_status_t read_reply(int fd, size_t max, int64_t deadline, ms_buf *out,
			      const char *addr, char **err_r)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = ms_sock_recv(fd, chunk, sizeof chunk, deadline);
		if (n == 0)
			return MS_OK;
		if (n < 0)
			return ms_sock_fail(err_r, MS_ERR_REMOTE, addr,
					    "reading the answer", errno);
		if (out->len + (size_t)n > max + HEAD_MAX)
			return ms_sock_fail(err_r, MS_ERR_REMOTE, addr,
					    "answer too long", 0);
		if (ms_buf_append(out, chunk, (size_t)n))
			return MS_ERR_NOMEM;
	}
}

/* Checks the status line of reply[0..len) and moves the body to out. */
static ms_status_t parse_reply(const ms_buf *reply, ms_buf *out,
			       const char *addr, char **err_r)
{
	const char *p = reply->data ? reply->data : "";
	size_t len = reply->len;
	const char *end = NULL;
	for (size_t i = 0; i + 4 <= len && i < HEAD_MAX; i++)
		if (!memcmp(p + i, "\r\n\r\n", 4)) {
			end = p + i + 4;
			break;
		}
	if (!end || len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return ms_sock_fail(err_r, MS_ERR_REMOTE, addr,
				    "not an HTTP answer", 0);
	if (!memcmp(p + 9, "404", 3))
		return MS_ERR_NOTFOUND;
	if (memcmp(p + 9, "200", 3) != 0) {
		char what[64];
		snprintf(what, sizeof what, "answered %.3s", p + 9);
		return ms_sock_fail(err_r, MS_ERR_REMOTE, addr, what, 0);
	}
	return ms_buf_append(out, end, len - (size_t)(end - p));
}

ms_status_t ms_remote_get(const char *addr, const char *path,
			  unsigned connect_ms, unsigned timeout_ms, size_t max,
			  ms_buf *out, char **err_r)
{
	char host[MS_REMOTE_HOST_MAX], ep[MS_REMOTE_HOST_MAX + 16];
	unsigned port;
	if (err_r)
		*err_r = NULL;
	if (ms_remote_split(addr, host, &port))
		return ms_sock_fail(err_r, MS_ERR_REMOTE, addr, "not HOST:PORT",
				    0);
	snprintf(ep, sizeof ep,
		 strchr(host, ':') ? "inet:[%s]:%u" : "inet:%s:%u", host,
		 port + 1);
	int64_t deadline = ms_sock_deadline(timeout_ms);
	int fd = ms_sock_connect(ep, connect_ms, err_r);
	if (fd < 0)
		return MS_ERR_REMOTE;
	ms_buf req = MS_BUF_INIT, reply = MS_BUF_INIT;
	ms_status_t st = ms_buf_printf(&req,
				       "GET %s HTTP/1.0\r\nHost: %s\r\n"
				       "Connection: close\r\n\r\n",
				       path, host);
	if (!st && ms_sock_send(fd, req.data, req.len, deadline))
		st = ms_sock_fail(err_r, MS_ERR_REMOTE, addr,
				  "sending the request", errno);
	if (!st)
		st = read_reply(fd, max, deadline, &reply, addr, err_r);
	if (!st)
		st = parse_reply(&reply, out, addr, err_r);
	close(fd);
	ms_buf_free(&req);
	ms_buf_free(&reply);
	return st;
}
