/* web_metrics.h - mailsift-web's Prometheus metrics: the hooks of the
 * request and login paths, and the [web] metrics listener.
 *
 * Series:
 *   mailsift_web_requests_total{page,code}  answered requests; page is the
 *     route (search, message, api_search, holds, export, login, ...;
 *     "other" for anything else), code the HTTP status
 *   mailsift_web_request_duration_seconds{page}  from the request's first
 *     byte to its answer (millisecond resolution; histogram)
 *   mailsift_web_logins_total{result}  result: ok, failed, throttled
 * Counting is always on (lock-free atomics); the listener (plain HTTP, no
 * login, apart from [web] listen) runs only when [web] metrics is set.
 *
 * Functions: web_metrics_start, web_metrics_stop, web_metrics_request,
 * web_metrics_login.
 */
#ifndef WEB_METRICS_H
#define WEB_METRICS_H

#include <stdint.h>

#include "ms_config.h"

typedef enum web_login_result {
	WEB_LOGIN_OK,
	WEB_LOGIN_FAILED,
	WEB_LOGIN_THROTTLED
} web_login_result;

/* Makes the registry and, when cfg->web_metrics is set, serves it (a
 * failure is logged; the console runs without). Before the HTTP threads
 * start. */
void web_metrics_start(const ms_config *cfg);
/* Stops serving and frees the registry, after the HTTP threads stopped. */
void web_metrics_stop(void);
/* A request for path answered with status after ms milliseconds. */
void web_metrics_request(const char *path, unsigned status, int64_t ms);
void web_metrics_login(web_login_result r);

#endif
