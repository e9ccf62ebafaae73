/* web_http.h - the HTTP server (libmicrohttpd): listening, TLS, request
 * bodies, the security headers, one log line per request.
 *
 * A thread per connection (at most WEB_CONNECTIONS; libmicrohttpd's
 * listening thread polls, so descriptor numbers are not limited to
 * FD_SETSIZE) serves its requests one after another, so a slow request
 * delays only its own connection and the kernel shares the processors
 * fairly between clients (with a pool of a few threads, each serving its
 * share of the connections in turn, 50 busy keep-alive clients saw p95
 * latencies several times their p50). Each request gets a reference to
 * the configuration current when it started (so a SIGHUP reload never
 * changes a request under way), is handed to web_route(),
 * and its web_resp is sent with Content-Security-Policy,
 * X-Content-Type-Options, Referrer-Policy, X-Frame-Options and
 * Cache-Control. Limits: request headers and URL within
 * WEB_CONN_MEMORY bytes (libmicrohttpd answers 431/414 beyond), form
 * bodies WEB_BODY_MAX bytes (413), methods GET, HEAD and POST (405).
 *
 * Functions: web_http_start, web_http_set_config, web_http_stop.
 */
#ifndef WEB_HTTP_H
#define WEB_HTTP_H

#include "ms_config.h"

#define WEB_CONNECTIONS 512
#define WEB_CONN_MEMORY (32 * 1024)
#define WEB_BODY_MAX	(16 * 1024)

/* Starts serving cfg's [web] listen (HTTPS when tls_cert/tls_key are
 * set; the files are read now). Takes a reference to cfg. 0, or -1 after
 * logging why. */
int web_http_start(ms_config *cfg);
/* Makes cfg (a new reference is taken) the configuration of new
 * requests. */
void web_http_set_config(ms_config *cfg);
/* Stops accepting, waits for running requests, drops the config. */
void web_http_stop(void);

#endif
