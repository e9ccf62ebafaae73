/* indexd.h - mailsift-indexd internals, shared by the indexd_*.c files.
 *
 * indexd_main.c   options, start-up (lock, pid file, user), signals,
 *                 reload, the event loop
 * indexd_queue.c  the entries known to be in spool/new: a FIFO of ready
 *                 ones, a list of deferred ones (retry with backoff)
 * indexd_watch.c  inotify on spool/new plus full rescans feeding the queue
 * indexd_pipe.c   the parse pipeline: worker threads read an entry, check
 *                 its SHA-256 and prepare it for the archive
 *                 (ms_archive_prepare), handed back in queue order
 * indexd_batch.c  inserting prepared entries into the archive, committing
 *                 batches and only then removing the entries
 * indexd_metrics.c  the Prometheus metrics ([indexd] metrics)
 *
 * The daemon state is one ixd struct, used by the main thread only; the
 * worker threads see nothing but their job (an ixd_job) and the spool and
 * archive-worker handles. Inserts, commits, spool removal, quarantine and
 * the queue stay on the main thread, in the order entries were taken.
 */
#ifndef INDEXD_H
#define INDEXD_H

#include <stddef.h>
#include <stdint.h>

#include "ms_archive.h"
#include "ms_clock.h"
#include "ms_config.h"
#include "ms_spool.h"

/* ---- the queue (indexd_queue.c) ---- */

typedef enum ixd_state {
	IXD_READY,    /* waiting in the FIFO */
	IXD_DEFERRED, /* waiting for its retry time */
	IXD_TAKEN     /* held by the caller (in flight or in the batch) */
} ixd_state;

typedef struct ixd_item {
	char *name; /* entry name in new/ (owned) */
	ixd_state state;
	unsigned tries;		      /* failed attempts so far */
	int64_t not_before;	      /* ms, when deferred */
	struct ixd_item *prev, *next; /* FIFO or deferred list */
	struct ixd_item *hnext;	      /* hash chain */
} ixd_item;

typedef struct ixd_queue ixd_queue;

/* Creates an empty queue (NULL on ENOMEM); free with ixd_queue_free(). */
ixd_queue *ixd_queue_new(void);
void ixd_queue_free(ixd_queue **q);
/* Adds name at the tail of the FIFO unless it is already known (in any
 * state). Returns 1 added, 0 known, -1 out of memory. name is copied. */
int ixd_queue_add(ixd_queue *q, const char *name);
/* Moves deferred items whose time has come (now, ms) to the FIFO tail. */
void ixd_queue_wake(ixd_queue *q, int64_t now);
/* Takes the head of the FIFO (state IXD_TAKEN; it stays known) or NULL. */
ixd_item *ixd_queue_take(ixd_queue *q);
/* Puts a taken item on the deferred list until now + delay ms. */
void ixd_queue_defer(ixd_queue *q, ixd_item *it, int64_t now, int64_t delay);
/* Forgets a taken item and frees it. */
void ixd_queue_done(ixd_queue *q, ixd_item *it);
/* Items in the FIFO; items known in all (ready, deferred, taken). */
size_t ixd_queue_ready(const ixd_queue *q);
size_t ixd_queue_known(const ixd_queue *q);
/* Earliest retry time of a deferred item (ms), or INT64_MAX. */
int64_t ixd_queue_next_due(const ixd_queue *q);

/* ---- the parse pipeline (indexd_pipe.c) ---- */

/* One entry travelling through the worker threads. A worker fills st/err
 * (ms_spool_read), corrupt (SHA-256 mismatch) and prep; the main thread
 * reads them after ixd_pipe_collect(). e (the mapped message) stays alive
 * until the job is freed, that is after prep has been inserted. */
typedef struct ixd_job {
	ixd_item *it;	   /* taken from the queue; not touched by workers
			    * except for reading it->name */
	ms_spool *spool;   /* borrowed */
	ms_status_t st;	   /* of ms_spool_read */
	char *err;	   /* its message, or NULL */
	ms_spool_entry *e; /* on MS_OK */
	int corrupt;	   /* bytes do not match the recorded sha256 */
	ms_prep *prep;	   /* NULL: not prepared (read error, corrupt,
			    * out of memory) */
} ixd_job;

/* Frees the job: prep first, then the entry (unmaps it). NULL-safe. The
 * item is not the job's. */
void ixd_job_free(ixd_job **j);

typedef struct ixd_pipe ixd_pipe;

/* ---- the daemon state ---- */

typedef struct ixd {
	const char *conf_path;
	ms_config *cfg;	 /* current snapshot (one reference) */
	char *spool_dir; /* as at start (a reload cannot move it) */
	ms_spool *spool;
	ixd_queue *q;
	/* archive: open while there is work, closed when idle so that
	 * "mailsift import" can take the shard locks */
	ms_archive *ar;
	ixd_pipe *pipe;	  /* running while ar is open */
	size_t n_flight;  /* jobs submitted, not yet collected */
	int64_t ar_retry; /* ms: no open attempt nor add before */
	unsigned ar_fails;
	/* the batch: entries added but not yet committed */
	ixd_item **batch;
	size_t n_batch, cap_batch;
	int64_t batch_first; /* ms of the first uncommitted add */
	/* watching */
	int ino_fd, ino_wd;
	int64_t next_rescan; /* ms */
	/* counters */
	uint64_t n_indexed, n_bad, n_commits;
} ixd;

/* ---- the parse pipeline, continued (indexd_pipe.c) ---- */

/* Starts the worker threads (one per CPU, at most 8) with one archive
 * worker each; d->ar must be open. Returns 0 or -1 (logged; nothing left
 * running). */
int ixd_pipe_start(ixd *d);
/* Stops the threads and frees the archive workers (before the archive is
 * closed). Jobs still in flight must have been collected. NULL-safe. */
void ixd_pipe_stop(ixd *d);
/* Whether a submit would have to wait for a collect. */
int ixd_pipe_full(const ixd *d);
/* Hands the taken item to a worker. Returns 0, or -1 out of memory (the
 * item stays the caller's). */
int ixd_pipe_submit(ixd *d, ixd_item *it);
/* The oldest job in flight (waiting for it to be done), or NULL if none.
 * The caller frees it with ixd_job_free(). */
ixd_job *ixd_pipe_collect(ixd *d);

/* ---- watching (indexd_watch.c) ---- */

/* Sets up inotify on new/ (ino_fd >= 0 on success; on failure the daemon
 * still works by rescanning). Returns 0 or -1 (logged). */
int ixd_watch_open(ixd *d);
void ixd_watch_close(ixd *d);
/* Lists new/ and queues every entry not yet known; schedules the next
 * periodic rescan. Returns the number of new entries or -1 (logged). */
long ixd_rescan(ixd *d);
/* Reads pending inotify events (ino_fd is non-blocking) and queues the
 * entries they name; an overflow or a lost watch triggers a rescan. */
void ixd_watch_read(ixd *d);

/* ---- the batch loop (indexd_batch.c) ---- */

/* Processes up to max ready entries through the pipeline, committing
 * whenever the batch is full or commit_interval has passed. Jobs may stay
 * in flight on return only while more entries are ready (the caller comes
 * back at once); otherwise everything in flight is finished. Returns the
 * number of entries finished. */
size_t ixd_work(ixd *d, size_t max);
/* Whether the open batch must be committed now. */
int ixd_batch_due(const ixd *d, int64_t now);
/* When the open batch must be committed (ms), or INT64_MAX. */
int64_t ixd_batch_deadline(const ixd *d);
/* Commits the batch, then removes its entries from new/ (one directory
 * sync). On failure the entries stay in new/ and are retried later.
 * Returns 0 or -1. */
int ixd_commit(ixd *d);
/* Finishes the jobs in flight, commits (see ixd_commit), stops the
 * pipeline and closes the archive (releasing the shard locks). Returns 0
 * or -1. */
int ixd_archive_release(ixd *d);

/* ---- metrics (indexd_metrics.c) ---- */

/* Makes the registry (once) and, when [indexd] metrics is set, serves it
 * in a thread of its own (a failure is logged; indexing goes on). Scrapes
 * read d->spool, which must stay open until ixd_metrics_stop(). */
void ixd_metrics_start(ixd *d);
/* The snapshot scrapes take the archive directory from (a reference is
 * taken; NULL drops it). Call after each reload. */
void ixd_metrics_config(ms_config *cfg);
/* Stops serving and frees the registry; the hooks become no-ops. */
void ixd_metrics_stop(void);
/* An entry moved to bad/; an entry deferred for a retry. */
void ixd_metrics_bad(void);
void ixd_metrics_retry(void);
/* A commit of n messages that began at ms_metrics_now() t0 ended; ok
 * says whether it succeeded. */
void ixd_metrics_commit(double t0, size_t n, int ok);

#endif
