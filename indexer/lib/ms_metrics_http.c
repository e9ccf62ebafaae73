/* ms_metrics_http.c - serves a metrics registry over HTTP with
 * libmicrohttpd (ms_metrics.h).
 *
 * Functions: ms_metrics_serve, ms_metrics_server_stop; file-local
 * on_request, reply. One internal polling thread (ms_httpd.h: started
 * with every signal blocked) answers every scrape (scrapes are rare and
 * short); at most MAX_CONNS connections, each dropped after IDLE_SECS
 * without traffic. A failure to listen comes back to the caller as one
 * line.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_httpd.h"
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

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *p, size_t n)
{
	return ms_httpd_reply(c, status,
			      status == 200 ? CONTENT_TYPE
					    : "text/plain; charset=utf-8",
			      p, n);
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

ms_status_t ms_metrics_serve(ms_metrics *m, const char *addr,
			     ms_metrics_server **srv_r, char **err_r)
{
	*srv_r = NULL;
	ms_metrics_server *s = calloc(1, sizeof *s);
	if (!s) {
		if (err_r)
			*err_r = NULL;
		return MS_ERR_NOMEM;
	}
	s->m = m;
	ms_status_t st = ms_httpd_start("metrics", addr, on_request, s,
					MAX_CONNS, IDLE_SECS, &s->d, err_r);
	if (st)
		free(s);
	else
		*srv_r = s;
	return st;
}

void ms_metrics_server_stop(ms_metrics_server **srv)
{
	if (!srv || !*srv)
		return;
	MHD_stop_daemon((*srv)->d);
	free(*srv);
	*srv = NULL;
}
