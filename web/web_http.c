/* web_http.c - the libmicrohttpd glue (web_http.h).
 *
 * Functions: web_http_start, web_http_set_config, web_http_stop, and the
 * callbacks on_request (collects a bounded body, then answers),
 * on_completed (frees the request state), client_addr, send_resp.
 */
#include "web_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_clock.h"
#include "ms_log.h"
#include "web.h"
#include "web_archive.h"
#include "web_form.h"
#include "web_metrics.h"
#include "web_resp.h"
#include "web_route.h"

typedef struct conn_state {
	ms_buf body;
	int too_big;
	int64_t start;
} conn_state;

static struct MHD_Daemon *daemon_h;
static ms_config *cur_cfg;
static pthread_mutex_t cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static int use_tls;
static char *tls_cert, *tls_key;

static ms_config *cfg_get(void)
{
	pthread_mutex_lock(&cfg_mu);
	ms_config *c = ms_config_ref(cur_cfg);
	pthread_mutex_unlock(&cfg_mu);
	return c;
}

void web_http_set_config(ms_config *cfg)
{
	ms_config *old;
	pthread_mutex_lock(&cfg_mu);
	old = cur_cfg;
	cur_cfg = ms_config_ref(cfg);
	pthread_mutex_unlock(&cfg_mu);
	ms_config_unref(&old);
}

static void client_addr(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	snprintf(out, n, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  out, (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

static const char *get_arg(const web_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

static void add_headers(struct MHD_Response *m, const web_resp *rs)
{
	MHD_add_response_header(m, "Content-Type", rs->ctype);
	MHD_add_response_header(m, "Content-Security-Policy",
				rs->csp ? rs->csp : WEB_CSP);
	MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(m, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(m, "X-Frame-Options",
				rs->csp ? "SAMEORIGIN" : "DENY");
	MHD_add_response_header(m, "Cache-Control", "no-store");
	MHD_add_response_header(m, "Cross-Origin-Opener-Policy", "same-origin");
	if (rs->location[0])
		MHD_add_response_header(m, "Location", rs->location);
	if (rs->set_cookie[0])
		MHD_add_response_header(m, "Set-Cookie", rs->set_cookie);
	if (rs->disposition[0])
		MHD_add_response_header(m, "Content-Disposition",
					rs->disposition);
	if (use_tls)
		MHD_add_response_header(m, "Strict-Transport-Security",
					"max-age=31536000");
}

/* Sends rs: its file (handed over to libmicrohttpd, which closes it) or
 * its body. */
static enum MHD_Result send_resp(struct MHD_Connection *c, web_resp *rs)
{
	struct MHD_Response *m =
		rs->file_fd >= 0
			? MHD_create_response_from_fd64(rs->file_size,
							rs->file_fd)
			: MHD_create_response_from_buffer(
				  rs->body.len,
				  rs->body.data ? rs->body.data : (void *)"",
				  MHD_RESPMEM_MUST_COPY);
	if (!m)
		return MHD_NO;
	if (rs->file_fd >= 0)
		rs->file_fd = -1; /* libmicrohttpd's now */
	add_headers(m, rs);
	enum MHD_Result ok = MHD_queue_response(c, rs->status, m);
	MHD_destroy_response(m);
	return ok;
}

static int method_ok(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	       strcmp(m, "POST") == 0;
}

/* Answers a request whose body is complete. */
static enum MHD_Result answer(struct MHD_Connection *c, const char *url,
			      const char *method, conn_state *cs)
{
	char addr[WEB_ADDR_MAX];
	client_addr(c, addr, sizeof addr);
	web_req r = { .method = method,
		      .path = url,
		      .client = addr,
		      .cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							    "Cookie"),
		      .body = cs->body.data ? cs->body.data : "",
		      .body_len = cs->body.len,
		      .tls = use_tls,
		      .arg = get_arg,
		      .conn = c,
		      .cfg = cfg_get() };
	web_resp rs;
	web_resp_init(&rs);
	if (!method_ok(method))
		web_resp_error(&rs, 405, "Method not allowed.");
	else if (cs->too_big)
		web_resp_error(&rs, 413, "Request body too large.");
	else if (!web_form_path_ok(url))
		web_resp_error(&rs, 400, "Bad path.");
	else
		web_route(&r, &rs);
	ms_log_info("%s %s %s %s %u %zu %lldms", addr,
		    r.has_user ? r.user.name : "-", method, url, rs.status,
		    rs.body.len, (long long)(ms_clock_ms() - cs->start));
	web_metrics_request(url, rs.status, ms_clock_ms() - cs->start);
	enum MHD_Result ok = send_resp(c, &rs);
	web_resp_free(&rs);
	ms_config_unref(&r.cfg);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	conn_state *cs = *con_cls;
	if (!cs) {
		if (!(cs = calloc(1, sizeof *cs)))
			return MHD_NO;
		cs->start = ms_clock_ms();
		*con_cls = cs;
		return MHD_YES;
	}
	if (*data_size) {
		if (!method_ok(method) ||
		    cs->body.len + *data_size > WEB_BODY_MAX)
			cs->too_big = 1;
		else if (ms_buf_append(&cs->body, data, *data_size))
			return MHD_NO;
		*data_size = 0;
		return MHD_YES;
	}
	return answer(c, url, method, cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	conn_state *cs = *con_cls;
	if (cs) {
		ms_buf_free(&cs->body);
		free(cs);
	}
	*con_cls = NULL;
}

/* Parses "HOST:PORT" or "[ADDR]:PORT" into ss. 0 or -1. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hn = colon ? (size_t)(colon - s) : 0;
	long port = colon ? strtol(colon + 1, NULL, 10) : 0;
	if (!colon || hn == 0 || hn >= sizeof host || port <= 0 || port > 65535)
		return -1;
	memcpy(host, s, hn);
	host[hn] = '\0';
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (host[0] == '[' && host[hn - 1] == ']') {
		host[hn - 1] = '\0';
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1 ? 0
									  : -1;
	}
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &v4->sin_addr) == 1 ? 0 : -1;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	ms_buf b = MS_BUF_INIT;
	char chunk[4096];
	size_t n;
	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1 << 20))
		ms_buf_append(&b, chunk, n);
	fclose(f);
	return ms_buf_steal(&b);
}

static int load_tls(const ms_config *cfg)
{
	use_tls = *cfg->web_tls_cert || *cfg->web_tls_key;
	if (!use_tls)
		return 0;
	if (!*cfg->web_tls_cert || !*cfg->web_tls_key)
		return ms_log_error("[web] tls_cert and tls_key must both be "
				    "set"),
		       -1;
	if (!(tls_cert = read_file(cfg->web_tls_cert)))
		return ms_log_error("%s: cannot read", cfg->web_tls_cert), -1;
	if (!(tls_key = read_file(cfg->web_tls_key)))
		return ms_log_error("%s: cannot read", cfg->web_tls_key), -1;
	return 0;
}

int web_http_start(ms_config *cfg)
{
	struct sockaddr_storage ss;
	if (parse_listen(cfg->web_listen, &ss) < 0)
		return ms_log_error("[web] listen: bad address '%s'",
				    cfg->web_listen),
		       -1;
	if (load_tls(cfg) < 0)
		return -1;
	web_http_set_config(cfg);
	web_metrics_start(cfg); /* [web] metrics, a listener of its own */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG | (use_tls ? MHD_USE_TLS : 0) |
			 (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	daemon_h = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)WEB_CONN_MEMORY, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)WEB_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		use_tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, tls_cert,
		MHD_OPTION_HTTPS_MEM_KEY, tls_key, MHD_OPTION_END);
	if (!daemon_h)
		return ms_log_error("cannot listen on %s", cfg->web_listen), -1;
	ms_log_info("listening on %s://%s", use_tls ? "https" : "http",
		    cfg->web_listen);
	return 0;
}

void web_http_stop(void)
{
	if (daemon_h)
		MHD_stop_daemon(daemon_h);
	daemon_h = NULL;
	web_metrics_stop();
	web_archive_drop_all();
	pthread_mutex_lock(&cfg_mu);
	ms_config_unref(&cur_cfg);
	pthread_mutex_unlock(&cfg_mu);
	free(tls_cert);
	free(tls_key);
	tls_cert = tls_key = NULL;
}
