/* indexd_pipe.c - the parse pipeline of mailsift-indexd.
 *
 * Functions: ixd_pipe_start, ixd_pipe_stop, ixd_pipe_full, ixd_pipe_submit,
 * ixd_pipe_collect, ixd_job_free.
 *
 * An ordered pool (ms_pool.h) of one thread per CPU (at most MAX_THREADS),
 * each with its own archive worker (ms_archive_worker_new, made on the main
 * thread while the archive is open). A job reads (maps) one spool entry,
 * checks its bytes against the recorded SHA-256 and prepares it for the
 * archive (MIME parsing, document, raw bytes into the store: the slow
 * part). Jobs come back in submission order, so the main thread inserts,
 * commits and removes entries exactly as a single thread would. Workers
 * never log nor touch the queue: outcomes are left in the job.
 */
#include "indexd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_hash.h"
#include "ms_log.h"
#include "ms_pool.h"

#define MAX_THREADS	8
#define JOBS_PER_THREAD 8 /* in flight at most: bounds mappings and memory */

struct ixd_pipe {
	ms_pool *pool;
	ms_archive_worker **w; /* one per thread */
	unsigned n_w;
	atomic_uint next_w; /* handed to the threads as they start */
};

void ixd_job_free(ixd_job **jp)
{
	ixd_job *j = *jp;
	if (!j)
		return;
	ms_prep_free(&j->prep);
	ms_spool_entry_free(&j->e);
	free(j->err);
	free(j);
	*jp = NULL;
}

static void *thread_ctx(void *arg)
{
	ixd_pipe *p = arg;
	return p->w[atomic_fetch_add(&p->next_w, 1) % p->n_w];
}

/* Whether the mapped message has the recorded SHA-256. */
static int sha_matches(const ms_spool_entry *e)
{
	char hex[MS_SHA256_HEX];
	return ms_sha256_hex(e->msg, e->msg_len, hex) == MS_OK &&
	       strcmp(hex, e->sha256) == 0;
}

/* On a worker thread: read, check, prepare. */
static void run_job(void *job, void *ctx)
{
	ixd_job *j = job;
	j->st = ms_spool_read(j->spool, j->it->name, &j->e, &j->err);
	if (j->st)
		return;
	if (!sha_matches(j->e)) {
		j->corrupt = 1;
		return;
	}
	if (ms_archive_prepare(ctx, j->e->msg, j->e->msg_len, &j->e->env,
			       &j->prep) != MS_OK)
		ms_prep_free(&j->prep); /* NULL prep: out of memory */
}

static unsigned thread_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (unsigned)cpus;
}

/* Frees the workers of a pipeline whose pool is gone. */
static void free_pipe(ixd_pipe **pp)
{
	ixd_pipe *p = *pp;
	for (unsigned i = 0; p->w && i < p->n_w; i++)
		ms_archive_worker_free(&p->w[i]);
	free(p->w);
	free(p);
	*pp = NULL;
}

int ixd_pipe_start(ixd *d)
{
	ixd_pipe *p = calloc(1, sizeof *p);
	if (!p)
		return ms_log_error("out of memory starting workers"), -1;
	p->n_w = thread_count();
	atomic_init(&p->next_w, 0);
	if (!(p->w = calloc(p->n_w, sizeof *p->w))) {
		free_pipe(&p);
		return ms_log_error("out of memory starting workers"), -1;
	}
	for (unsigned i = 0; i < p->n_w; i++) {
		if (ms_archive_worker_new(d->ar, &p->w[i]) != MS_OK) {
			ms_log_error("archive worker: %s",
				     ms_archive_error(d->ar));
			free_pipe(&p);
			return -1;
		}
	}
	ms_pool_ops ops = { thread_ctx, NULL, run_job, p };
	if (!(p->pool = ms_pool_new(p->n_w, JOBS_PER_THREAD * p->n_w, &ops))) {
		ms_log_error("cannot start %u worker threads", p->n_w);
		free_pipe(&p);
		return -1;
	}
	d->pipe = p;
	d->n_flight = 0;
	return 0;
}

void ixd_pipe_stop(ixd *d)
{
	if (!d->pipe)
		return;
	ms_pool_free(&d->pipe->pool);
	free_pipe(&d->pipe);
	d->n_flight = 0;
}

int ixd_pipe_full(const ixd *d)
{
	return !d->pipe || ms_pool_full(d->pipe->pool);
}

int ixd_pipe_submit(ixd *d, ixd_item *it)
{
	ixd_job *j = calloc(1, sizeof *j);
	if (!j)
		return -1;
	j->it = it;
	j->spool = d->spool;
	ms_pool_submit(d->pipe->pool, j);
	d->n_flight++;
	return 0;
}

ixd_job *ixd_pipe_collect(ixd *d)
{
	if (!d->pipe || !d->n_flight)
		return NULL;
	ixd_job *j = ms_pool_collect(d->pipe->pool);
	d->n_flight--;
	return j;
}
