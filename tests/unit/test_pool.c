/* test_pool.c - unit tests for the ordered thread pool (ms_pool): jobs come
 * back in submission order, every job runs exactly once, each thread gets
 * its own context, and the pool never holds more than depth jobs. */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "ms_pool.h"
#include "support_util.h"

typedef struct job {
	unsigned seq;
	unsigned runs;
	void *ctx;
} job;

static atomic_uint ctx_made, ctx_freed;

static void *ctx_new(void *arg)
{
	(void)arg;
	atomic_fetch_add(&ctx_made, 1);
	return malloc(1);
}

static void ctx_free(void *ctx)
{
	atomic_fetch_add(&ctx_freed, 1);
	free(ctx);
}

static void run(void *j, void *ctx)
{
	job *jb = j;
	if (jb->seq % 7 == 0)
		usleep(200); /* finish out of order */
	jb->runs++;
	jb->ctx = ctx;
}

static const struct {
	unsigned threads;
	size_t depth;
	unsigned jobs;
} cases[] = {
	{ 1, 1, 100 },
	{ 2, 4, 1000 },
	{ 4, 64, 5000 },
	{ 8, 2, 300 },
};

START_TEST(test_order_and_once)
{
	atomic_store(&ctx_made, 0);
	atomic_store(&ctx_freed, 0);
	ms_pool_ops ops = { ctx_new, ctx_free, run, NULL };
	ms_pool *p = ms_pool_new(cases[_i].threads, cases[_i].depth, &ops);
	ck_assert_ptr_nonnull(p);
	unsigned n = cases[_i].jobs, next = 0;
	job *jobs = calloc(n, sizeof *jobs);
	for (unsigned i = 0; i < n; i++) {
		jobs[i].seq = i;
		if (ms_pool_full(p)) {
			job *j = ms_pool_collect(p);
			ck_assert_uint_eq(j->seq, next++);
			ck_assert_uint_eq(j->runs, 1);
			ck_assert_ptr_nonnull(j->ctx);
		}
		ms_pool_submit(p, &jobs[i]);
	}
	for (job *j; (j = ms_pool_collect(p));) {
		ck_assert_uint_eq(j->seq, next++);
		ck_assert_uint_eq(j->runs, 1);
	}
	ck_assert_uint_eq(next, n);
	ck_assert_ptr_null(ms_pool_collect(p));
	ms_pool_free(&p);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(atomic_load(&ctx_made), cases[_i].threads);
	ck_assert_uint_eq(atomic_load(&ctx_freed), cases[_i].threads);
	free(jobs);
}
END_TEST

START_TEST(test_free_with_jobs_in_flight)
{
	ms_pool_ops ops = { NULL, NULL, run, NULL };
	ms_pool *p = ms_pool_new(2, 8, &ops);
	job jobs[8] = { { 0 } };
	for (unsigned i = 0; i < 8; i++)
		ms_pool_submit(p, &jobs[i]);
	ck_assert(ms_pool_full(p));
	ms_pool_free(&p); /* finishes the queued jobs, then stops */
	for (unsigned i = 0; i < 8; i++)
		ck_assert_uint_eq(jobs[i].runs, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("all");
	tcase_add_loop_test(tc, test_order_and_once, 0,
			    sizeof cases / sizeof cases[0]);
	tcase_add_test(tc, test_free_with_jobs_in_flight);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
