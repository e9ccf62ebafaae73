/* test_web_auditq.c - Check tests for the console's audit group commit
 * (web/web_auditq.h).
 *
 * Table-driven over thread counts: THREADS threads append EACH lines each
 * at once through web_auditq_append; every call returns MS_OK, the log
 * verifies intact with every line, and each thread's lines appear in the
 * order it appended them. Threads alternating between two logs (a config
 * reload) fill both, each intact. A log that cannot be opened fails every
 * waiting request with MS_ERR_IO and a message naming the path.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_audit.h"
#include "support_util.h"
#include "web_auditq.h"

#define EACH 30

static char *tmpdir;
static char log_a[256], log_b[256];

static void setup(void)
{
	tmpdir = ms_test_tmpdir("test_web_auditq");
	snprintf(log_a, sizeof log_a, "%s/a.log", tmpdir);
	snprintf(log_b, sizeof log_b, "%s/b.log", tmpdir);
}

static void teardown(void)
{
	ms_test_tmpdir_free(&tmpdir);
}

typedef struct worker {
	pthread_t t;
	char user[16];
	const char *paths[2];  /* alternated; both the same for one log */
	int ok, io_err, named; /* results counted by the thread */
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	for (int i = 0; i < EACH; i++) {
		char q[16];
		snprintf(q, sizeof q, "%d", i);
		ms_audit_entry e = { .user = w->user,
				     .client = "127.0.0.1",
				     .action = "search",
				     .query = q };
		char *err = NULL;
		const char *path = w->paths[i % 2];
		ms_status_t st = web_auditq_append(path, &e, &err);
		w->ok += st == MS_OK && !err;
		w->io_err += st == MS_ERR_IO;
		w->named += err && strstr(err, path) && !strchr(err, '\n');
		free(err);
	}
	return NULL;
}

/* Runs n workers on paths; returns the array (caller frees). */
static worker *run(int n, const char *p0, const char *p1)
{
	worker *ws = calloc((size_t)n, sizeof *ws);
	ck_assert_ptr_nonnull(ws);
	for (int k = 0; k < n; k++) {
		snprintf(ws[k].user, sizeof ws[k].user, "u%d", k);
		ws[k].paths[0] = p0;
		ws[k].paths[1] = p1;
		ck_assert_int_eq(pthread_create(&ws[k].t, NULL, work, &ws[k]),
				 0);
	}
	for (int k = 0; k < n; k++)
		ck_assert_int_eq(pthread_join(ws[k].t, NULL), 0);
	return ws;
}

typedef struct order_ctx {
	int next[64]; /* per user: the query expected next */
	int step;     /* 1: one log; 2: every other line */
	int lines, bad;
} order_ctx;

static int order_fn(const char *line, size_t len, const ms_audit_rec *rec,
		    void *ctx)
{
	order_ctx *c = ctx;
	(void)line;
	(void)len;
	c->lines++;
	int u = rec ? atoi(rec->user + 1) : -1;
	if (!rec || u < 0 || u >= 64 || atoi(rec->query) != c->next[u])
		c->bad++;
	else
		c->next[u] += c->step;
	return 0;
}

static void log_ok(const char *path, int lines, int first, int step)
{
	ms_audit_report r;
	char *err = NULL;
	ck_assert_int_eq(ms_audit_verify(path, &r, &err), MS_OK);
	ck_assert_msg(r.state == MS_AUDIT_INTACT, "%s", r.message);
	ck_assert_int_eq(r.lines, lines);
	order_ctx c = { .step = step };
	for (int u = 0; u < 64; u++)
		c.next[u] = first;
	ck_assert_int_eq(ms_audit_each(path, order_fn, &c, NULL), MS_OK);
	ck_assert_int_eq(c.lines, lines);
	ck_assert_int_eq(c.bad, 0);
}

static const int thread_counts[] = { 1, 2, 8, 40 };

START_TEST(test_one_log)
{
	int n = thread_counts[_i];
	worker *ws = run(n, log_a, log_a);
	for (int k = 0; k < n; k++)
		ck_assert_int_eq(ws[k].ok, EACH);
	log_ok(log_a, n * EACH, 0, 1);
	free(ws);
}
END_TEST

START_TEST(test_two_logs)
{
	worker *ws = run(8, log_a, log_b);
	for (int k = 0; k < 8; k++)
		ck_assert_int_eq(ws[k].ok, EACH);
	log_ok(log_a, 8 * EACH / 2, 0, 2);
	log_ok(log_b, 8 * EACH / 2, 1, 2);
	free(ws);
}
END_TEST

START_TEST(test_errors_fail_all)
{
	char bad[300];
	snprintf(bad, sizeof bad, "%s/no/such/dir/audit.log", tmpdir);
	worker *ws = run(8, bad, bad);
	for (int k = 0; k < 8; k++) {
		ck_assert_int_eq(ws[k].ok, 0);
		ck_assert_int_eq(ws[k].io_err, EACH);
		ck_assert_int_eq(ws[k].named, EACH);
	}
	free(ws);
	ws = run(2, log_a, log_a); /* the queue still works afterwards */
	ck_assert_int_eq(ws[0].ok + ws[1].ok, 2 * EACH);
	free(ws);
}
END_TEST

static Suite *auditq_suite(void)
{
	Suite *s = suite_create("web_auditq");
	TCase *tc = tcase_create("group commit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_one_log, 0,
			    sizeof thread_counts / sizeof thread_counts[0]);
	tcase_add_test(tc, test_two_logs);
	tcase_add_test(tc, test_errors_fail_all);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(auditq_suite());
}
