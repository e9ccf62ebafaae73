/* test_metrics.c - unit tests for the metrics registry (ms_metrics.h), its
 * text rendering and HTTP server, and the HOST:PORT parser (ms_addr.h):
 * exact output for counters, gauges and histograms (bucket edges, +Inf,
 * sum, count), label and help escaping, bad names and bounds refused,
 * NULL no-ops, the overflow series of a full family, values cut at 255
 * bytes, scrape callbacks, exact totals from 8 threads, and /metrics, 404,
 * 405 and a busy port over real HTTP on loopback.
 */
#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ms_addr.h"
#include "ms_metrics.h"
#include "support_util.h"

/* Renders m into a malloc'ed string. */
static char *render(ms_metrics *m)
{
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_metrics_render(m, &b), MS_OK);
	return ms_buf_steal(&b);
}

START_TEST(test_counter_gauge_text)
{
	ms_metrics *m = ms_metrics_new();
	ms_metric *c = ms_metrics_counter(m, "t_events_total",
					  "Events seen.\nSecond \\ line", NULL);
	ms_metric *g = ms_metrics_gauge(m, "t_level", "A level.", NULL);
	ms_metric *l = ms_metrics_counter(m, "t_by_total", "By kind.",
					  MS_LABELS("kind", "code"));
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(g);
	ms_series_add(ms_metric_get(c, NULL), 41);
	ms_series_inc(ms_metric_get(c, NULL));
	ms_series_set(ms_metric_get(g, NULL), 0.1);
	ms_series_inc(ms_metric_get(l, MS_LABELS("a\"b\\c\nd", "200")));
	ms_series_add(ms_metric_get(l, MS_LABELS("plain", "404")), 3);
	char *s = render(m);
	ck_assert_str_eq(s,
			 "# HELP t_events_total Events seen.\\nSecond \\\\ "
			 "line\n"
			 "# TYPE t_events_total counter\n"
			 "t_events_total 42\n"
			 "# HELP t_level A level.\n"
			 "# TYPE t_level gauge\n"
			 "t_level 0.1\n"
			 "# HELP t_by_total By kind.\n"
			 "# TYPE t_by_total counter\n"
			 "t_by_total{kind=\"a\\\"b\\\\c\\nd\",code=\"200\"} 1\n"
			 "t_by_total{kind=\"plain\",code=\"404\"} 3\n");
	free(s);
	ck_assert_double_eq(ms_series_value(ms_metric_get(c, NULL), NULL), 42);
	ms_metrics_free(&m);
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_histogram_text)
{
	ms_metrics *m = ms_metrics_new();
	const double b[] = { 0.005, 0.5, 1, 2.5 };
	ms_metric *h = ms_metrics_histogram(m, "t_wait_seconds", "Waits.",
					    MS_LABELS("page"), b, 4);
	ms_series *s = ms_metric_get(h, MS_LABELS("x"));
	ms_series_observe(s, 0.00390625); /* bucket 0.005 */
	ms_series_observe(s, 0.5);	  /* on the edge: bucket 0.5 */
	ms_series_observe(s, 0.75);	  /* bucket 1 */
	ms_series_observe(s, 100);	  /* +Inf */
	ms_series_observe(s, NAN);	  /* ignored */
	char *t = render(m);
	ck_assert_str_eq(t, "# HELP t_wait_seconds Waits.\n"
			    "# TYPE t_wait_seconds histogram\n"
			    "t_wait_seconds_bucket{page=\"x\",le=\"0.005\"} 1\n"
			    "t_wait_seconds_bucket{page=\"x\",le=\"0.5\"} 2\n"
			    "t_wait_seconds_bucket{page=\"x\",le=\"1\"} 3\n"
			    "t_wait_seconds_bucket{page=\"x\",le=\"2.5\"} 3\n"
			    "t_wait_seconds_bucket{page=\"x\",le=\"+Inf\"} 4\n"
			    "t_wait_seconds_sum{page=\"x\"} 101.25390625\n"
			    "t_wait_seconds_count{page=\"x\"} 4\n");
	free(t);
	uint64_t n = 0;
	ck_assert_double_eq(ms_series_value(s, &n), 101.25390625);
	ck_assert_uint_eq(n, 4);
	ms_metrics_free(&m);
}
END_TEST

START_TEST(test_histogram_unlabelled)
{
	ms_metrics *m = ms_metrics_new();
	const double b[] = { 1 };
	ms_metric *h = ms_metrics_histogram(m, "t_h", "H.", NULL, b, 1);
	char *t = render(m);
	ck_assert_str_eq(t,
			 "# HELP t_h H.\n# TYPE t_h histogram\n"
			 "t_h_bucket{le=\"1\"} 0\nt_h_bucket{le=\"+Inf\"} 0\n"
			 "t_h_sum 0\nt_h_count 0\n");
	free(t);
	ck_assert_ptr_nonnull(h);
	ms_metrics_free(&m);
}
END_TEST

START_TEST(test_gauge_values)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0, "0" },	      { -2.5, "-2.5" },
		{ 1e-9, "1e-09" },    { 1234567890123, "1234567890123" },
		{ INFINITY, "+Inf" }, { -INFINITY, "-Inf" },
		{ NAN, "NaN" },	      { 0.1 + 0.2, "0.30000000000000004" }
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ms_metrics *m = ms_metrics_new();
		ms_series_set(
			ms_metric_get(ms_metrics_gauge(m, "g", "", NULL), NULL),
			cases[i].v);
		char *t = render(m), want[128];
		snprintf(want, sizeof want, "# HELP g \n# TYPE g gauge\ng %s\n",
			 cases[i].want);
		ck_assert_str_eq(t, want);
		free(t);
		ms_metrics_free(&m);
	}
}
END_TEST

START_TEST(test_bad_names)
{
	ms_metrics *m = ms_metrics_new();
	const double up[] = { 1, 2 }, down[] = { 2, 1 }, inf[] = { INFINITY };
	ck_assert_ptr_nonnull(ms_metrics_counter(m, "ok:name_total", "", NULL));
	ck_assert_ptr_null(ms_metrics_counter(m, "ok:name_total", "", NULL));
	ck_assert_ptr_null(ms_metrics_gauge(m, "", "", NULL));
	ck_assert_ptr_null(ms_metrics_gauge(m, "9lives", "", NULL));
	ck_assert_ptr_null(ms_metrics_gauge(m, "a-b", "", NULL));
	ck_assert_ptr_null(ms_metrics_gauge(m, "a", "", MS_LABELS("__x")));
	ck_assert_ptr_null(ms_metrics_gauge(m, "a", "", MS_LABELS("a:b")));
	ck_assert_ptr_null(ms_metrics_gauge(
		m, "a", "", MS_LABELS("a", "b", "c", "d", "e")));
	ck_assert_ptr_nonnull(ms_metrics_gauge(m, "le", "", MS_LABELS("le")));
	ck_assert_ptr_null(
		ms_metrics_histogram(m, "h1", "", MS_LABELS("le"), up, 2));
	ck_assert_ptr_null(ms_metrics_histogram(m, "h2", "", NULL, down, 2));
	ck_assert_ptr_null(ms_metrics_histogram(m, "h3", "", NULL, inf, 1));
	ck_assert_ptr_null(ms_metrics_histogram(m, "h4", "", NULL, up, 0));
	ck_assert_ptr_null(ms_metrics_histogram(m, "h5", "", NULL, NULL, 1));
	ck_assert_ptr_nonnull(ms_metrics_histogram(m, "h6", "", NULL, up, 2));
	/* wrong number of label values */
	ms_metric *f =
		ms_metrics_counter(m, "two_total", "", MS_LABELS("a", "b"));
	ck_assert_ptr_null(ms_metric_get(f, MS_LABELS("x")));
	ck_assert_ptr_null(ms_metric_get(f, NULL));
	ck_assert_ptr_null(ms_metric_get(f, MS_LABELS("x", "y", "z")));
	ck_assert_ptr_nonnull(ms_metric_get(f, MS_LABELS("x", "y")));
	ms_metrics_free(&m);
}
END_TEST

START_TEST(test_null_noops)
{
	ck_assert_ptr_null(ms_metrics_counter(NULL, "a", "", NULL));
	ck_assert_ptr_null(ms_metric_get(NULL, NULL));
	ms_series_inc(NULL);
	ms_series_add(NULL, 5);
	ms_series_set(NULL, 1);
	ms_series_observe(NULL, 1);
	uint64_t n = 7;
	ck_assert_double_eq(ms_series_value(NULL, &n), 0);
	ck_assert_uint_eq(n, 0);
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_metrics_render(NULL, &b), MS_OK);
	ck_assert_uint_eq(b.len, 0);
	ms_metrics_free(NULL);
	ms_metrics *m = ms_metrics_new();
	ms_metrics_counter(m, "empty_total", "no series yet", MS_LABELS("x"));
	char *t = render(m);
	ck_assert_str_eq(t, ""); /* a family without series is not shown */
	free(t);
	ms_metrics_free(&m);
	ms_metrics_free(&m);
}
END_TEST

START_TEST(test_overflow_and_long_values)
{
	ms_metrics *m = ms_metrics_new();
	ms_metric *f = ms_metrics_counter(m, "many_total", "", MS_LABELS("v"));
	char v[32];
	for (int i = 0; i < MS_METRICS_MAX_SERIES + 50; i++) {
		snprintf(v, sizeof v, "v%d", i);
		ms_series_inc(ms_metric_get(f, MS_LABELS(v)));
	}
	ms_series *other = ms_metric_get(f, MS_LABELS("_other"));
	snprintf(v, sizeof v, "v%d", MS_METRICS_MAX_SERIES + 1000);
	ck_assert_ptr_eq(ms_metric_get(f, MS_LABELS(v)), other);
	ck_assert_double_eq(ms_series_value(other, NULL), 51);
	ck_assert_double_eq(
		ms_series_value(ms_metric_get(f, MS_LABELS("v0")), NULL), 1);
	char *t = render(m);
	size_t lines = 0;
	for (const char *p = t; *p; p++)
		lines += *p == '\n';
	ck_assert_uint_eq(lines, 2 + MS_METRICS_MAX_SERIES);
	ck_assert_ptr_nonnull(strstr(t, "many_total{v=\"_other\"} 51\n"));
	free(t);
	/* values longer than 255 bytes are cut; the cut value is the key */
	char longv[400];
	memset(longv, 'x', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	ms_metric *g = ms_metrics_gauge(m, "long", "", MS_LABELS("v"));
	ms_series *a = ms_metric_get(g, MS_LABELS(longv));
	longv[300] = '\0';
	ck_assert_ptr_eq(ms_metric_get(g, MS_LABELS(longv)), a);
	longv[200] = '\0';
	ck_assert_ptr_ne(ms_metric_get(g, MS_LABELS(longv)), a);
	ms_metrics_free(&m);
}
END_TEST

static ms_series *cb_series;
static int cb_calls;

static void on_scrape(void *arg)
{
	cb_calls++;
	ms_series_set(cb_series, *(double *)arg);
}

static void noop(void *arg)
{
	(void)arg;
}

START_TEST(test_scrape_callback)
{
	ms_metrics *m = ms_metrics_new();
	double level = 7;
	cb_calls = 0;
	cb_series = ms_metric_get(ms_metrics_gauge(m, "lvl", "L.", NULL), NULL);
	ck_assert_int_eq(ms_metrics_on_scrape(m, on_scrape, &level), MS_OK);
	char *t = render(m);
	ck_assert_str_eq(t, "# HELP lvl L.\n# TYPE lvl gauge\nlvl 7\n");
	free(t);
	level = 8;
	t = render(m);
	ck_assert_str_eq(t, "# HELP lvl L.\n# TYPE lvl gauge\nlvl 8\n");
	free(t);
	ck_assert_int_eq(cb_calls, 2);
	for (int i = 1; i < MS_METRICS_MAX_CALLBACKS; i++)
		ck_assert_int_eq(ms_metrics_on_scrape(m, noop, NULL), MS_OK);
	ck_assert_int_eq(ms_metrics_on_scrape(m, noop, NULL), MS_ERR_LIMIT);
	ck_assert_int_eq(ms_metrics_on_scrape(m, NULL, NULL), MS_ERR_INVALID);
	ck_assert_int_eq(ms_metrics_on_scrape(NULL, noop, NULL),
			 MS_ERR_INVALID);
	ms_metrics_free(&m);
}
END_TEST

#define THREADS 8
#define PER	20000

static ms_metric *th_counter, *th_hist;

static void *hammer(void *arg)
{
	const char *kinds[] = { "a", "b", "c", "d" };
	long k = (long)arg;
	char mine[16];
	snprintf(mine, sizeof mine, "t%ld", k);
	for (int i = 0; i < PER; i++) {
		ms_series_inc(
			ms_metric_get(th_counter, MS_LABELS(kinds[i % 4])));
		ms_series_inc(ms_metric_get(th_counter, MS_LABELS(mine)));
		ms_series_observe(ms_metric_get(th_hist, NULL), 0.5);
	}
	return NULL;
}

START_TEST(test_threads)
{
	ms_metrics *m = ms_metrics_new();
	const double b[] = { 1 };
	th_counter = ms_metrics_counter(m, "hits_total", "", MS_LABELS("k"));
	th_hist = ms_metrics_histogram(m, "lat_seconds", "", NULL, b, 1);
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)i);
	for (int i = 0; i < 50; i++) { /* scrapes racing the updates */
		char *s = render(m);
		free(s);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (const char *k = "abcd"; *k; k++) {
		char v[2] = { *k, 0 };
		ck_assert_double_eq(
			ms_series_value(ms_metric_get(th_counter, MS_LABELS(v)),
					NULL),
			THREADS * PER / 4);
	}
	ck_assert_double_eq(
		ms_series_value(ms_metric_get(th_counter, MS_LABELS("t3")),
				NULL),
		PER);
	uint64_t n = 0;
	double sum = ms_series_value(ms_metric_get(th_hist, NULL), &n);
	ck_assert_uint_eq(n, THREADS * PER);
	ck_assert_double_eq(sum, THREADS * PER * 0.5);
	ms_metrics_free(&m);
}
END_TEST

static const struct {
	const char *s;
	int ok;
	int family;
} addr_cases[] = {
	{ "127.0.0.1:9101", 1, AF_INET },
	{ "0.0.0.0:1", 1, AF_INET },
	{ "[::1]:65535", 1, AF_INET6 },
	{ "[fe80::1]:80", 1, AF_INET6 },
	{ "127.0.0.1:0", 0, 0 },
	{ "127.0.0.1:65536", 0, 0 },
	{ "127.0.0.1:", 0, 0 },
	{ "127.0.0.1:80x", 0, 0 },
	{ "127.0.0.1:-80", 0, 0 },
	{ "127.0.0.1", 0, 0 },
	{ ":9101", 0, 0 },
	{ "localhost:9101", 0, 0 },
	{ "::1:9101", 0, 0 },
	{ "[::1:9101", 0, 0 },
	{ "[]:9101", 0, 0 },
	{ "1.2.3.4.5:80", 0, 0 },
	{ "", 0, 0 },
};

START_TEST(test_addr)
{
	struct sockaddr_storage ss;
	int rc = ms_addr_parse(addr_cases[_i].s, &ss);
	ck_assert_msg((rc == 0) == addr_cases[_i].ok, "%s", addr_cases[_i].s);
	if (rc == 0)
		ck_assert_int_eq(ss.ss_family, addr_cases[_i].family);
	ms_buf why = MS_BUF_INIT;
	ms_status_t st = ms_addr_check_optional(addr_cases[_i].s, &why);
	int want_ok = addr_cases[_i].ok || !*addr_cases[_i].s;
	ck_assert_int_eq(st, want_ok ? MS_OK : MS_ERR_CONFIG);
	ck_assert(want_ok ? why.len == 0
			  : strstr(why.data, "HOST:PORT") != NULL);
	ms_buf_free(&why);
}
END_TEST

/* A TCP port on 127.0.0.1 that was free a moment ago. */
static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t n = sizeof a;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &n), 0);
	close(s);
	return ntohs(a.sin_port);
}

/* Sends request to 127.0.0.1:port and returns the whole answer. */
static char *http(int port, const char *request)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(write(s, request, strlen(request)),
			 (ssize_t)strlen(request));
	ms_buf b = MS_BUF_INIT;
	char chunk[4096];
	ssize_t k;
	while ((k = read(s, chunk, sizeof chunk)) > 0)
		ms_buf_append(&b, chunk, (size_t)k);
	close(s);
	return ms_buf_steal(&b);
}

START_TEST(test_http)
{
	ms_metrics *m = ms_metrics_new();
	ms_series_add(ms_metric_get(ms_metrics_counter(m, "x_total", "X.",
						       MS_LABELS("a")),
				    MS_LABELS("q\"")),
		      5);
	char addr[64], *err = NULL;
	snprintf(addr, sizeof addr, "127.0.0.1:%d", free_port());
	int port = atoi(strrchr(addr, ':') + 1);
	ms_metrics_server *srv = NULL, *again = NULL;
	ck_assert_int_eq(ms_metrics_serve(m, addr, &srv, &err), MS_OK);
	ck_assert_ptr_null(err);
	char *r = http(port, "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(r, "HTTP/1.0 200", 12) == 0 ||
			      strncmp(r, "HTTP/1.1 200", 12) == 0,
		      "%s", r);
	ck_assert_ptr_nonnull(
		strstr(r, "Content-Type: text/plain; version=0.0.4"));
	ck_assert_ptr_nonnull(strstr(r, "\r\n\r\n# HELP x_total X.\n"
					"# TYPE x_total counter\n"
					"x_total{a=\"q\\\"\"} 5\n"));
	free(r);
	r = http(port, "GET /other HTTP/1.0\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(r, " 404 "));
	free(r);
	r = http(port,
		 "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
	ck_assert_ptr_nonnull(strstr(r, " 405 "));
	free(r);
	/* the port is taken: one line naming the address */
	ck_assert_int_eq(ms_metrics_serve(m, addr, &again, &err), MS_ERR_IO);
	ck_assert_ptr_null(again);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, addr));
	ck_assert_ptr_null(strchr(err, '\n'));
	free(err);
	ck_assert_int_eq(ms_metrics_serve(m, "nowhere", &again, &err),
			 MS_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "nowhere"));
	free(err);
	ms_metrics_server_stop(&srv);
	ck_assert_ptr_null(srv);
	ms_metrics_server_stop(&srv);
	ms_metrics_free(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("all");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_counter_gauge_text);
	tcase_add_test(tc, test_histogram_text);
	tcase_add_test(tc, test_histogram_unlabelled);
	tcase_add_test(tc, test_gauge_values);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_null_noops);
	tcase_add_test(tc, test_overflow_and_long_values);
	tcase_add_test(tc, test_scrape_callback);
	tcase_add_test(tc, test_threads);
	tcase_add_loop_test(tc, test_addr, 0,
			    sizeof addr_cases / sizeof addr_cases[0]);
	tcase_add_test(tc, test_http);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
