/* ms_pool.h - a small ordered thread pool: jobs run on worker threads and
 * are collected back in the order they were submitted.
 *
 * Each worker thread gets its own context from ctx_new (called on the
 * worker's thread) and releases it with ctx_free. The pool never holds
 * more than depth jobs that have not been collected, so memory stays
 * bounded. Jobs are the caller's: the pool only passes pointers along.
 */
#ifndef MS_POOL_H
#define MS_POOL_H

#include <stddef.h>

typedef struct ms_pool ms_pool;

typedef struct ms_pool_ops {
	void *(*ctx_new)(void *arg); /* per-thread context, may return NULL */
	void (*ctx_free)(void *ctx);
	void (*run)(void *job, void *ctx); /* does the job's work */
	void *arg;
} ms_pool_ops;

/* Starts threads workers (at least 1) with room for depth outstanding
 * jobs (at least threads). Returns NULL on failure. */
ms_pool *ms_pool_new(unsigned threads, size_t depth, const ms_pool_ops *ops);
/* Whether submit would block until a job is collected. */
int ms_pool_full(const ms_pool *p);
/* Queues job; the caller must collect first when ms_pool_full(). */
void ms_pool_submit(ms_pool *p, void *job);
/* Waits for and returns the oldest uncollected job; NULL if none. */
void *ms_pool_collect(ms_pool *p);
/* Stops the workers (uncollected jobs are finished first and dropped) and
 * frees the pool; NULLs *p. */
void ms_pool_free(ms_pool **p);

#endif
