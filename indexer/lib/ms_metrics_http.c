/* ms_metrics_http.c - serves a metrics registry over HTTP with
 * libmicrohttpd (ms_metrics.h).
 *
 * Functions: ms_metrics_serve, ms_metrics_server_stop; file-local
 * on_request. One internal polling thread answers every scrape (scrapes
 * are rare and short); at most MAX_CONNS connections, each dropped after
 * IDLE_SECS without traffic. libmicrohttpd's own error log is off: a
 * failure to listen comes back to the caller as one line. The thread is
 * started with every signal blocked, so a daemon's signals (SIGTERM for
 * libmilter's sigwait, a signalfd) never land in it.
 */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_addr.h"
#include "ms_metrics.h"

#define MAX_CONNS     16
#define IDLE_SECS     10
#define CONTENT_TYPE  "text/plain; version=0.0.4; charset=utf-8"
#define NOT_FOUND     "metrics are at /metrics\n"
#define NOT_ALLOWED   "only GET and HEAD\n"
#define OUT_OF_MEMORY "out of memory\n"

struct ms_metrics_server {
	struct MHD_Daemon *d;
	ms_metrics *m;
};

/* Queues a response of n bytes at p (copied) with status. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *p, size_t n)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		n, (void *)p, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type",
				status == 200 ? CONTENT_TYPE
					      : "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	ms_metrics_server *s = cls;
	(void)version;
	(void)data;
	if (!*con_cls) { /* headers only so far: wait for the body */
		*con_cls = s;
		return MHD_YES;
	}
	if (*data_size) { /* a body is not wanted: drop it */
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, 405, NOT_ALLOWED, strlen(NOT_ALLOWED));
	if (strcmp(url, "/metrics") != 0)
		return reply(c, 404, NOT_FOUND, strlen(NOT_FOUND));
	ms_buf b = MS_BUF_INIT;
	enum MHD_Result ok =
		ms_metrics_render(s->m, &b) == MS_OK
			? reply(c, 200, b.data ? b.data : "", b.len)
			: reply(c, 500, OUT_OF_MEMORY, strlen(OUT_OF_MEMORY));
	ms_buf_free(&b);
	return ok;
}

static ms_status_t fail(ms_status_t st, char **err_r, const char *addr,
			const char *why)
{
	if (err_r && asprintf(err_r, "metrics %s: %s", addr, why) < 0)
		*err_r = NULL;
	return st;
}

ms_status_t ms_metrics_serve(ms_metrics *m, const char *addr,
			     ms_metrics_server **srv_r, char **err_r)
{
	struct sockaddr_storage ss;
	*srv_r = NULL;
	if (err_r)
		*err_r = NULL;
	if (ms_addr_parse(addr, &ss) < 0)
		return fail(MS_ERR_CONFIG, err_r, addr,
			    "not a numeric HOST:PORT or [ADDR]:PORT");
	ms_metrics_server *s = calloc(1, sizeof *s);
	if (!s)
		return MS_ERR_NOMEM;
	s->m = m;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* inherited by the thread */
	errno = 0;
	s->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)IDLE_SECS, MHD_OPTION_END);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->d) {
		free(s);
		return fail(MS_ERR_IO, err_r, addr,
			    e ? strerror(e) : "cannot listen");
	}
	*srv_r = s;
	return MS_OK;
}

void ms_metrics_server_stop(ms_metrics_server **srv)
{
	if (!srv || !*srv)
		return;
	MHD_stop_daemon((*srv)->d);
	free(*srv);
	*srv = NULL;
}
