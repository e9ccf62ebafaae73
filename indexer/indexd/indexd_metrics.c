/* indexd_metrics.c - mailsift-indexd's Prometheus metrics (indexd.h).
 *
 * Functions: ixd_metrics_start, ixd_metrics_config, ixd_metrics_stop,
 * ixd_metrics_bad, ixd_metrics_retry, ixd_metrics_commit; file-local
 * on_scrape, shard_count.
 *
 * Series:
 *   mailsift_indexd_spool_entries             entries waiting in new/
 *   mailsift_indexd_spool_oldest_age_seconds  age of the oldest (0: none)
 *   mailsift_indexd_archive_shards            shard directories
 *     (these three are read at each scrape, in the server's thread)
 *   mailsift_indexd_messages_indexed_total    messages in a commit
 *   mailsift_indexd_parse_failures_total      entries moved to bad/
 *   mailsift_indexd_retries_total             entries kept for a retry
 *   mailsift_indexd_commit_duration_seconds   archive commits (histogram)
 *   mailsift_indexd_commit_failures_total     commits that failed
 * The main thread updates the counters; the scrape reads the spool (its
 * handle is thread-safe) and the configuration snapshot last given to
 * ixd_metrics_config() (a reference, under a mutex).
 */
#include "indexd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ms_log.h"
#include "ms_metrics.h"
#include "ms_shard.h"

static const double commit_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1,
					0.25,  0.5,  1,	    2.5,  5,
					10,    30,   60 };

static ms_metrics *reg;
static ms_metrics_server *srv;
static ms_spool *spool; /* borrowed from the daemon */
static pthread_mutex_t cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static ms_config *cfg; /* for the archive directory */
static ms_series *s_entries, *s_oldest, *s_shards, *s_indexed, *s_bad,
	*s_retries, *s_commit, *s_commit_fail;

/* The shards in cfg's archive (-1 when they cannot be listed). */
static long shard_count(void)
{
	pthread_mutex_lock(&cfg_mu);
	ms_config *c = ms_config_ref(cfg);
	pthread_mutex_unlock(&cfg_mu);
	char *dir = NULL, **names = NULL;
	size_t n = 0;
	long r = -1;
	/* the live shards directory of ms_archive_open() */
	if (c && asprintf(&dir, "%s/shards", c->archive_dir) >= 0 &&
	    ms_shard_list(dir, &names, &n) == MS_OK)
		r = (long)n;
	ms_shard_list_free(&names);
	free(dir);
	ms_config_unref(&c);
	return r;
}

static void on_scrape(void *arg)
{
	(void)arg;
	uint64_t n = 0;
	int64_t oldest = 0;
	char *err = NULL;
	if (ms_spool_backlog(spool, &n, &oldest, &err) != MS_OK)
		ms_log_warn("metrics: %s", err ? err : "spool unreadable");
	free(err);
	int64_t now = (int64_t)time(NULL);
	ms_series_set(s_entries, (double)n);
	ms_series_set(s_oldest, n && now > oldest ? (double)(now - oldest) : 0);
	long shards = shard_count();
	if (shards >= 0)
		ms_series_set(s_shards, (double)shards);
}

static ms_series *one(ms_metric *f)
{
	return ms_metric_get(f, NULL);
}

/* The families, all without labels. */
static void make_registry(void)
{
	size_t nb = sizeof commit_bounds / sizeof commit_bounds[0];
	s_entries = one(ms_metrics_gauge(
		reg, "mailsift_indexd_spool_entries",
		"Spool entries waiting in new/ to be archived.", NULL));
	s_oldest = one(ms_metrics_gauge(
		reg, "mailsift_indexd_spool_oldest_age_seconds",
		"Age of the oldest entry waiting in new/ (0: none).", NULL));
	s_shards = one(ms_metrics_gauge(reg, "mailsift_indexd_archive_shards",
					"Shards in the archive.", NULL));
	s_indexed = one(ms_metrics_counter(
		reg, "mailsift_indexd_messages_indexed_total",
		"Messages made searchable (committed to the archive).", NULL));
	s_bad = one(ms_metrics_counter(
		reg, "mailsift_indexd_parse_failures_total",
		"Spool entries that could not be parsed, moved to bad/.",
		NULL));
	s_retries = one(ms_metrics_counter(
		reg, "mailsift_indexd_retries_total",
		"Spool entries kept in new/ for a later retry.", NULL));
	s_commit = one(ms_metrics_histogram(
		reg, "mailsift_indexd_commit_duration_seconds",
		"Time an archive commit took.", NULL, commit_bounds, nb));
	s_commit_fail = one(ms_metrics_counter(
		reg, "mailsift_indexd_commit_failures_total",
		"Archive commits that failed (their entries are retried).",
		NULL));
}

void ixd_metrics_start(ixd *d)
{
	if (reg || !(reg = ms_metrics_new()))
		return;
	make_registry();
	spool = d->spool;
	ixd_metrics_config(d->cfg);
	ms_metrics_on_scrape(reg, on_scrape, NULL);
	const char *addr = d->cfg->indexd_metrics;
	char *err = NULL;
	if (!*addr)
		return;
	if (ms_metrics_serve(reg, addr, &srv, &err) == MS_OK)
		ms_log_info("metrics on http://%s/metrics", addr);
	else
		ms_log_error("%s; going on without metrics",
			     err ? err : "metrics: out of memory");
	free(err);
}

void ixd_metrics_config(ms_config *c)
{
	pthread_mutex_lock(&cfg_mu);
	ms_config *old = cfg;
	cfg = ms_config_ref(c);
	pthread_mutex_unlock(&cfg_mu);
	ms_config_unref(&old);
}

void ixd_metrics_stop(void)
{
	ms_metrics_server_stop(&srv);
	ms_metrics_free(&reg);
	s_entries = s_oldest = s_shards = s_indexed = s_bad = s_retries =
		s_commit = s_commit_fail = NULL;
	ixd_metrics_config(NULL);
	spool = NULL;
}

void ixd_metrics_bad(void)
{
	ms_series_inc(s_bad);
}

void ixd_metrics_retry(void)
{
	ms_series_inc(s_retries);
}

void ixd_metrics_commit(double t0, size_t n, int ok)
{
	ms_series_observe(s_commit, ms_metrics_now() - t0);
	if (ok)
		ms_series_add(s_indexed, n);
	else
		ms_series_inc(s_commit_fail);
}
