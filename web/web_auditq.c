/* web_auditq.c - group commit of the console's audit lines (web_auditq.h).
 *
 * A request thread queues its entry and waits. One waiting thread at a
 * time is the flusher: it takes up to MS_AUDIT_BATCH_MAX queued entries
 * for the first one's log path, appends them with ms_audit_append_batch
 * outside the mutex, marks them done with the batch's status and wakes
 * everyone. Entries queued during a flush make the next batch, flushed by
 * one of their own threads. A thread returns only once its own entry's
 * batch is done, so "no line on disk, no result" holds per request. No
 * thread of its own: nothing to start or stop.
 *
 * Functions: web_auditq_append; file-local take, flush.
 */
#include "web_auditq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct waiter {
	const ms_audit_entry *e; /* the request thread's, borrowed */
	const char *path;
	ms_status_t st;
	char *err;
	int done;
	struct waiter *next;
} waiter;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static waiter *queue, **queue_end = &queue; /* under mu */
static int flushing;			    /* under mu */

/* Under mu, queue not empty: unlinks up to MS_AUDIT_BATCH_MAX waiters
 * for the first one's path into batch, in queue order; returns how many. */
static size_t take(waiter **batch)
{
	const char *path = queue->path;
	size_t n = 0;
	for (waiter **pp = &queue; *pp && n < MS_AUDIT_BATCH_MAX;) {
		waiter *w = *pp;
		if (strcmp(w->path, path) != 0) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if (!*pp)
			queue_end = pp;
		batch[n++] = w;
	}
	return n;
}

/* Under mu (released while writing): appends one batch, marks it done. */
static void flush(void)
{
	waiter *batch[MS_AUDIT_BATCH_MAX];
	const ms_audit_entry *es[MS_AUDIT_BATCH_MAX];
	size_t n = take(batch);
	for (size_t i = 0; i < n; i++)
		es[i] = batch[i]->e;
	pthread_mutex_unlock(&mu);
	char *err = NULL; /* batch[0] waits: its path stays valid */
	ms_status_t st = ms_audit_append_batch(batch[0]->path, es, n, &err);
	for (size_t i = 0; i < n; i++)
		batch[i]->err = err ? strdup(err) : NULL;
	free(err);
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < n; i++) {
		batch[i]->st = st;
		batch[i]->done = 1;
	}
}

ms_status_t web_auditq_append(const char *path, const ms_audit_entry *e,
			      char **err_r)
{
	waiter w = { .e = e, .path = path };
	pthread_mutex_lock(&mu);
	*queue_end = &w;
	queue_end = &w.next;
	while (!w.done) {
		if (flushing) {
			pthread_cond_wait(&cv, &mu);
			continue;
		}
		flushing = 1;
		flush();
		flushing = 0;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
	if (err_r)
		*err_r = w.err;
	else
		free(w.err);
	return w.st;
}
