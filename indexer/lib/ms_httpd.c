/* ms_httpd.c - starting a libmicrohttpd listener and answering from a
 * buffer (ms_httpd.h).
 *
 * Functions: ms_httpd_start, ms_httpd_reply.
 */
#include "ms_httpd.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_addr.h"

static ms_status_t fail(ms_status_t st, char **err_r, const char *what,
			const char *addr, const char *why)
{
	if (err_r && asprintf(err_r, "%s %s: %s", what, addr, why) < 0)
		*err_r = NULL;
	return st;
}

ms_status_t ms_httpd_start(const char *what, const char *addr,
			   MHD_AccessHandlerCallback handler, void *cls,
			   unsigned max_conns, unsigned idle_secs,
			   struct MHD_Daemon **d_r, char **err_r)
{
	struct sockaddr_storage ss;
	*d_r = NULL;
	if (err_r)
		*err_r = NULL;
	if (ms_addr_parse(addr, &ss) < 0)
		return fail(MS_ERR_CONFIG, err_r, what, addr,
			    "not a numeric HOST:PORT or [ADDR]:PORT");
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* inherited by the thread */
	errno = 0;
	*d_r = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, cls, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, max_conns,
		MHD_OPTION_CONNECTION_TIMEOUT, idle_secs, MHD_OPTION_END);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!*d_r)
		return fail(MS_ERR_IO, err_r, what, addr,
			    e ? strerror(e) : "cannot listen");
	return MS_OK;
}

enum MHD_Result ms_httpd_reply(struct MHD_Connection *c, unsigned status,
			       const char *type, const char *p, size_t n)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		n, (void *)p, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}
