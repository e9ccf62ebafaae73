/* indexd_batch.c - spool entries into the archive, in batches.
 *
 * Functions: ixd_work, ixd_batch_due, ixd_batch_deadline, ixd_commit,
 * ixd_archive_release.
 *
 * Ready entries go through the parse pipeline (indexd_pipe.c: read,
 * SHA-256 check and ms_archive_prepare on worker threads) and come back
 * here, on the main thread, in the order they were taken: each is inserted
 * with its envelope (the archive uses the envelope id as the document key,
 * so adding it again after a crash replaces, never duplicates). After
 * batch_size insertions, or commit_interval after the first uncommitted
 * one, the archive commits and only then are the batch's entries removed
 * from new/. The mapped message stays alive until its insertion.
 *
 * Outcomes per entry: indexed (into the batch); not an entry or not a
 * message -> moved to bad/ with the reason (never dropped); anything else
 * (archive locked by an import, I/O, memory) -> kept in new/ and retried
 * with exponential backoff. When the archive fails, it is paused: entries
 * already prepared are held in new/ until the archive's retry time.
 * Diagnostics: one line per entry, starting with the Postfix queue id (or
 * NOQUEUE) and naming the spool id.
 */
#include "indexd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_log.h"
#include "ms_metrics.h"
#include "ms_shard.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000

static int64_t backoff(unsigned tries)
{
	int64_t ms = BACKOFF_MIN_MS;
	for (unsigned i = 1; i < tries && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

static const char *qid_of(const ms_spool_entry *e)
{
	return e && e->env.queue_id ? e->env.queue_id : "NOQUEUE";
}

/* Opens the archive from the current configuration unless open or in its
 * retry pause. Returns 0 when open. */
static int open_archive(ixd *d)
{
	int64_t now = ms_clock_ms();
	if (now < d->ar_retry)
		return -1;
	if (d->ar)
		return 0;
	const ms_config *c = d->cfg;
	ms_archive_opts o = ms_archive_opts_from(c, 1);
	char *err = NULL;
	ms_status_t st = ms_archive_open(&o, &d->ar, &err);
	if (st == MS_OK && ixd_pipe_start(d) < 0) {
		ms_archive_close(&d->ar);
		st = MS_ERR_NOMEM;
	}
	if (st) {
		d->ar_retry = now + backoff(++d->ar_fails);
		ms_log_error("cannot open archive %s (retry in %lld s): %s",
			     c->archive_dir,
			     (long long)(d->ar_retry - now) / 1000,
			     err ? err : ms_status_str(st));
	} else {
		d->ar_fails = 0;
	}
	free(err);
	return st ? -1 : 0;
}

/* Keeps the entry in new/ and schedules a retry. */
static void defer(ixd *d, ixd_item *it, const ms_spool_entry *e,
		  const char *why)
{
	int64_t ms = backoff(++it->tries);
	ixd_metrics_retry();
	ms_log_warn("%s: spool entry %s kept for retry in %lld s (attempt "
		    "%u): %s",
		    qid_of(e), it->name, (long long)ms / 1000, it->tries, why);
	ixd_queue_defer(d->q, it, ms_clock_ms(), ms);
}

/* Moves the entry to bad/ with why; if even that fails, retries later. */
static void quarantine(ixd *d, ixd_item *it, const ms_spool_entry *e,
		       const char *why)
{
	ms_status_t st = ms_spool_quarantine(d->spool, it->name, why);
	if (st == MS_OK || st == MS_ERR_NOTFOUND) {
		if (st == MS_OK) {
			d->n_bad++;
			ixd_metrics_bad();
		}
		ms_log_error("%s: spool entry %s moved to %s/bad: %s",
			     qid_of(e), it->name, d->spool_dir, why);
		ixd_queue_done(d->q, it);
		return;
	}
	char msg[600];
	snprintf(msg, sizeof msg, "cannot move to bad/ (%s) a bad entry: %s",
		 ms_status_str(st), why);
	defer(d, it, e, msg);
}

static void log_indexed(const ixd *d, const ms_spool_entry *e, const char *id)
{
	char shard[MS_SHARD_NAME_MAX] = "by-date";
	if (e->env.time)
		ms_shard_name(e->env.time, d->cfg->archive_shard_by, shard);
	ms_log_info("%s: indexed id=%s shard=%s size=%zu rcpts=%zu "
		    "verdict=%s",
		    qid_of(e), id, shard, e->msg_len, e->env.n_rcpts,
		    e->env.verdict ? e->env.verdict : "-");
}

/* One line per attachment whose text could not be extracted (the
 * message is indexed without it; extract:failed or extract:encrypted
 * finds it). */
static void log_unextracted(const ms_spool_entry *e, const char *id,
			    const ms_prep *prep)
{
	for (const char *l = ms_prep_unextracted(prep), *nl; *l; l = nl + 1) {
		nl = strchr(l, '\n'); /* every line ends in one */
		ms_log_warn("%s: id=%s %.*s", qid_of(e), id, (int)(nl - l), l);
	}
}

static int add_to_batch(ixd *d, ixd_item *it)
{
	if (d->n_batch == d->cap_batch) {
		size_t cap = d->cap_batch ? 2 * d->cap_batch : 64;
		ixd_item **nb = reallocarray(d->batch, cap, sizeof *nb);
		if (!nb)
			return -1;
		d->batch = nb;
		d->cap_batch = cap;
	}
	if (d->n_batch == 0)
		d->batch_first = ms_clock_ms();
	d->batch[d->n_batch++] = it;
	return 0;
}

/* Inserts the prepared entry into the archive and adds it to the batch. */
static void insert_entry(ixd *d, ixd_item *it, const ms_spool_entry *e,
			 ms_prep *prep)
{
	ms_add_result res;
	char id[MS_ARCHIVE_ID_MAX];
	ms_status_t st = ms_archive_insert(d->ar, prep, &res, id);
	if (st == MS_ERR_PARSE) {
		char why[600];
		snprintf(why, sizeof why, "not a message: %s",
			 ms_archive_error(d->ar));
		quarantine(d, it, e, why);
	} else if (st) {
		char why[600];
		snprintf(why, sizeof why, "archive: %s (%s)",
			 ms_archive_error(d->ar), ms_status_str(st));
		defer(d, it, e, why);
		/* the archive is the problem (a shard locked by an import,
		 * I/O): pause all entries, not just this one */
		d->ar_retry = it->not_before;
	} else if (add_to_batch(d, it) < 0) {
		defer(d, it, e, "out of memory");
	} else {
		d->n_indexed++;
		log_indexed(d, e, id);
		log_unextracted(e, id, prep);
	}
}

/* A prepared entry while the archive is paused: kept in new/ until the
 * archive's retry time, without counting an attempt. */
static void hold(ixd *d, ixd_item *it, const ms_spool_entry *e)
{
	int64_t now = ms_clock_ms();
	int64_t ms = d->ar_retry > now ? d->ar_retry - now : 0;
	ms_log_info("%s: spool entry %s waits for the archive (retry in "
		    "%lld s)",
		    qid_of(e), it->name, (long long)ms / 1000);
	ixd_queue_defer(d->q, it, now, ms);
}

/* One job back from the pipeline, in order: dispose of its entry. */
static void finish(ixd *d, ixd_job *j)
{
	ixd_item *it = j->it;
	const char *why = j->err ? j->err : ms_status_str(j->st);
	if (j->st == MS_ERR_NOTFOUND)
		ixd_queue_done(d->q, it); /* removed by someone else */
	else if (j->st == MS_ERR_PARSE || j->st == MS_ERR_INVALID)
		quarantine(d, it, NULL, why);
	else if (j->st)
		defer(d, it, NULL, why);
	else if (j->corrupt)
		quarantine(d, it, j->e,
			   "message bytes do not match the recorded sha256 "
			   "(corrupt entry)");
	else if (!d->ar || ms_clock_ms() < d->ar_retry)
		hold(d, it, j->e);
	else if (!j->prep)
		defer(d, it, j->e, "out of memory");
	else
		insert_entry(d, it, j->e, j->prep);
	ixd_job_free(&j); /* unmaps the message, after the insert */
}

int64_t ixd_batch_deadline(const ixd *d)
{
	if (!d->n_batch)
		return INT64_MAX;
	return d->batch_first + (int64_t)d->cfg->indexd_commit_interval * 1000;
}

int ixd_batch_due(const ixd *d, int64_t now)
{
	return d->n_batch && (d->n_batch >= d->cfg->indexd_batch_size ||
			      now >= ixd_batch_deadline(d));
}

/* Hands ready entries to the workers while there is room. */
static void fill(ixd *d)
{
	while (ixd_queue_ready(d->q) && open_archive(d) == 0 &&
	       !ixd_pipe_full(d)) {
		ixd_item *it = ixd_queue_take(d->q);
		if (ixd_pipe_submit(d, it) < 0) {
			defer(d, it, NULL, "out of memory");
			break;
		}
	}
}

size_t ixd_work(ixd *d, size_t max)
{
	size_t done = 0;
	for (;;) {
		fill(d);
		if (!d->n_flight)
			break;
		/* keep the workers busy across loop turns while more is
		 * ready; finish everything otherwise */
		if (done >= max && ixd_queue_ready(d->q) &&
		    ms_clock_ms() >= d->ar_retry)
			break;
		finish(d, ixd_pipe_collect(d));
		done++;
		if (ixd_batch_due(d, ms_clock_ms()))
			ixd_commit(d);
	}
	return done;
}

/* Holds the jobs still in flight (the archive is paused), stops the
 * pipeline and closes the archive. */
static void shut_archive(ixd *d)
{
	ixd_job *j;
	while ((j = ixd_pipe_collect(d)))
		finish(d, j);
	ixd_pipe_stop(d);
	ms_archive_close(&d->ar);
}

/* Commit failed: the entries stay in new/; retry them all later. */
static void commit_failed(ixd *d, const char *why)
{
	ms_log_error("commit of %zu messages failed, keeping them in the "
		     "spool for a retry: %s",
		     d->n_batch, why);
	d->ar_retry = ms_clock_ms() + backoff(++d->ar_fails);
	for (size_t i = 0; i < d->n_batch; i++) {
		ixd_item *it = d->batch[i];
		it->tries++;
		ixd_queue_defer(d->q, it, ms_clock_ms(), backoff(it->tries));
	}
	d->n_batch = 0;
	shut_archive(d);
}

/* Removes the committed entries from new/, syncing the directory once. */
static void remove_batch(ixd *d)
{
	for (size_t i = 0; i < d->n_batch; i++) {
		ixd_item *it = d->batch[i];
		ms_status_t st = ms_spool_remove(d->spool, it->name,
						 i + 1 == d->n_batch);
		if (st && st != MS_ERR_NOTFOUND)
			ms_log_warn("spool entry %s is archived but could not "
				    "be removed (%s): %s",
				    it->name, ms_status_str(st),
				    strerror(errno));
		ixd_queue_done(d->q, it);
	}
	d->n_batch = 0;
}

int ixd_commit(ixd *d)
{
	if (!d->n_batch)
		return 0;
	int64_t t0 = ms_clock_ms();
	double mt0 = ms_metrics_now();
	ms_status_t st = ms_archive_commit(d->ar);
	ixd_metrics_commit(mt0, d->n_batch, st == MS_OK);
	if (st) {
		char why[600];
		snprintf(why, sizeof why, "%s (%s)", ms_archive_error(d->ar),
			 ms_status_str(st));
		commit_failed(d, why);
		return -1;
	}
	size_t n = d->n_batch;
	d->n_commits++;
	remove_batch(d);
	ms_log_info("committed %zu messages in %lld ms; %zu waiting", n,
		    (long long)(ms_clock_ms() - t0), ixd_queue_known(d->q));
	return 0;
}

int ixd_archive_release(ixd *d)
{
	if (!d->ar)
		return 0;
	ixd_job *j;
	int rc = 0;
	while ((j = ixd_pipe_collect(d))) {
		finish(d, j);
		if (ixd_batch_due(d, ms_clock_ms()) && ixd_commit(d) < 0)
			rc = -1;
	}
	if (ixd_commit(d) < 0)
		rc = -1;
	if (d->ar) {
		ixd_pipe_stop(d);
		if (ms_archive_close(&d->ar) != MS_OK && rc == 0) {
			ms_log_error("closing the archive failed");
			rc = -1;
		}
	}
	return rc;
}
