/* web_metrics.c - mailsift-web's metrics (web_metrics.h).
 *
 * Functions: web_metrics_start, web_metrics_stop, web_metrics_request,
 * web_metrics_login; file-local page_of. The page label comes from a
 * fixed table of routes, so a client cannot grow the label set.
 */
#include "web_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_log.h"
#include "ms_metrics.h"

static const double latency_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
					 0.05,	0.1,	0.25,  0.5,  1,
					 2.5,	5,	10,    30 };

/* The routes of web_route.c: an exact path, or a prefix ending in '/'. */
static const struct {
	const char *path;
	const char *page;
} routes[] = {
	{ "/", "root" },
	{ "/login", "login" },
	{ "/logout", "logout" },
	{ "/style.css", "static" },
	{ "/search", "search" },
	{ "/api/search", "api_search" },
	{ "/api/count", "api_count" },
	{ "/message/", "message" },
	{ "/api/message/", "api_message" },
	{ "/dashboard", "dashboard" },
	{ "/audit", "audit" },
	{ "/holds", "holds" },
	{ "/holds/", "holds" },
	{ "/export", "export" },
};

static ms_metrics *reg;
static ms_metrics_server *srv;
static ms_metric *f_requests, *f_latency, *f_logins;

static const char *page_of(const char *path)
{
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		const char *r = routes[i].path;
		size_t n = strlen(r);
		if (n > 1 && r[n - 1] == '/' ? strncmp(path, r, n) == 0
					     : strcmp(path, r) == 0)
			return routes[i].page;
	}
	return "other";
}

static void make_registry(void)
{
	f_requests = ms_metrics_counter(reg, "mailsift_web_requests_total",
					"Requests answered, by page and HTTP "
					"status code.",
					MS_LABELS("page", "code"));
	f_latency = ms_metrics_histogram(
		reg, "mailsift_web_request_duration_seconds",
		"Time from a request's arrival to its answer, by page.",
		MS_LABELS("page"), latency_bounds,
		sizeof latency_bounds / sizeof latency_bounds[0]);
	f_logins = ms_metrics_counter(reg, "mailsift_web_logins_total",
				      "Login attempts by result.",
				      MS_LABELS("result"));
	ms_metric_get(f_logins, MS_LABELS("ok"));
	ms_metric_get(f_logins, MS_LABELS("failed"));
	ms_metric_get(f_logins, MS_LABELS("throttled"));
}

void web_metrics_start(const ms_config *cfg)
{
	if (reg || !(reg = ms_metrics_new()))
		return;
	make_registry();
	char *err = NULL;
	if (!*cfg->web_metrics)
		return;
	if (ms_metrics_serve(reg, cfg->web_metrics, &srv, &err) == MS_OK)
		ms_log_info("metrics on http://%s/metrics", cfg->web_metrics);
	else
		ms_log_error("%s; going on without metrics",
			     err ? err : "metrics: out of memory");
	free(err);
}

void web_metrics_stop(void)
{
	ms_metrics_server_stop(&srv);
	f_requests = f_latency = f_logins = NULL;
	ms_metrics_free(&reg);
}

void web_metrics_request(const char *path, unsigned status, int64_t ms)
{
	char code[16];
	const char *page = page_of(path);
	snprintf(code, sizeof code, "%u", status);
	ms_series_inc(ms_metric_get(f_requests, MS_LABELS(page, code)));
	ms_series_observe(ms_metric_get(f_latency, MS_LABELS(page)),
			  (double)ms / 1000.0);
}

void web_metrics_login(web_login_result r)
{
	static const char *const names[] = { "ok", "failed", "throttled" };
	ms_series_inc(ms_metric_get(f_logins, MS_LABELS(names[r])));
}
