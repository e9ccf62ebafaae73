/* ms_pool.c - ordered thread pool (see ms_pool.h).
 *
 * Functions: ms_pool_new, ms_pool_full, ms_pool_submit, ms_pool_collect,
 * ms_pool_free. A ring of depth slots: head is the oldest uncollected job,
 * next the first not yet taken by a worker, tail the first free slot
 * (counts used and pending tell a full ring from an empty one).
 */
#include "ms_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct slot {
	void *job;
	int done;
} slot;

struct ms_pool {
	ms_pool_ops ops;
	pthread_mutex_t mu;
	pthread_cond_t work, finished;
	slot *ring;
	size_t depth, head, next, tail;
	size_t used;	/* submitted, not yet collected */
	size_t pending; /* submitted, not yet taken by a worker */
	int stopping;
	pthread_t *threads;
	unsigned n_threads;
};

static void *worker_main(void *arg)
{
	ms_pool *p = arg;
	void *ctx = p->ops.ctx_new ? p->ops.ctx_new(p->ops.arg) : NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->pending && !p->stopping)
			pthread_cond_wait(&p->work, &p->mu);
		if (!p->pending)
			break;
		slot *s = &p->ring[p->next];
		p->next = (p->next + 1) % p->depth;
		p->pending--;
		pthread_mutex_unlock(&p->mu);
		p->ops.run(s->job, ctx);
		pthread_mutex_lock(&p->mu);
		s->done = 1;
		pthread_cond_broadcast(&p->finished);
	}
	pthread_mutex_unlock(&p->mu);
	if (p->ops.ctx_free)
		p->ops.ctx_free(ctx);
	return NULL;
}

ms_pool *ms_pool_new(unsigned threads, size_t depth, const ms_pool_ops *ops)
{
	ms_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	threads = threads ? threads : 1;
	p->ops = *ops;
	p->depth = depth > threads ? depth : threads;
	p->ring = calloc(p->depth, sizeof *p->ring);
	p->threads = calloc(threads, sizeof *p->threads);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->finished, NULL);
	if (!p->ring || !p->threads) {
		ms_pool_free(&p);
		return NULL;
	}
	for (; p->n_threads < threads; p->n_threads++)
		if (pthread_create(&p->threads[p->n_threads], NULL, worker_main,
				   p) != 0)
			break;
	if (!p->n_threads)
		ms_pool_free(&p);
	return p;
}

int ms_pool_full(const ms_pool *p)
{
	return p->used == p->depth;
}

void ms_pool_submit(ms_pool *p, void *job)
{
	pthread_mutex_lock(&p->mu);
	p->ring[p->tail] = (slot){ job, 0 };
	p->tail = (p->tail + 1) % p->depth;
	p->used++;
	p->pending++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

void *ms_pool_collect(ms_pool *p)
{
	if (!p->used)
		return NULL;
	pthread_mutex_lock(&p->mu);
	slot *s = &p->ring[p->head];
	while (!s->done)
		pthread_cond_wait(&p->finished, &p->mu);
	void *job = s->job;
	p->head = (p->head + 1) % p->depth;
	p->used--;
	pthread_mutex_unlock(&p->mu);
	return job;
}

void ms_pool_free(ms_pool **pp)
{
	ms_pool *p = *pp;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->finished);
	free(p->threads);
	free(p->ring);
	free(p);
	*pp = NULL;
}
