/* cli_verify.c - `mailsift verify`: checks the whole archive.
 *
 * Functions: cli_verify. Three passes: (1) every stored message is read
 * (decrypted as needed) and re-hashed against its SHA-256 file name;
 * (2) every shard gets Xapian's consistency check; (3) every document's
 * record must name a stored message ("sha"), and every stored message
 * must be named by some document. Each problem is one line on stdout:
 *   store: <hash>: content hash mismatch      (or the store's reason)
 *   store: <hash>: not in the index
 *   index: id <id>: stored message missing     (or: ... damaged)
 *   shard <name>: <first line of Xapian's report>
 * then a summary line. Stored files newer than the start of the run are
 * left alone (a writer may be adding them). Exit status 0 if clean, 1 if
 * not (or if the archive cannot be read).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_progress.h"
#include "cli_shaset.h"
#include "ms_log.h"
#include "ms_record.h"
#include "ms_shard.h"
#include "ms_store.h"
#include "ms_xapian.h"

enum { F_BAD = 1, F_RECENT = 2, F_USED = 4 };

typedef struct verify_ctx {
	ms_archive *ar;
	ms_store *store;
	ms_buf raw, rec;
	cli_shaset set;
	long long start_ns;
	unsigned long long files, docs, shards;
	unsigned long long store_bad, index_bad, shard_bad;
	unsigned long long total, done;
	cli_progress pr;
} verify_ctx;

static long long wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Prints one problem line (stdout) and keeps the bar on its own line. */
static void problem(verify_ctx *vc, unsigned long long *count, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

static void problem(verify_ctx *vc, unsigned long long *count, const char *fmt,
		    ...)
{
	va_list ap;
	cli_progress_break(&vc->pr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	(*count)++;
}

/* The store's message for hex without its "store DIR/ab/HEX: " part. */
static const char *store_reason(ms_store *st, const char *hex)
{
	const char *e = ms_store_error(st), *p = strstr(e, hex);
	return p && p[64] == ':' && p[65] == ' ' ? p + 66 : e;
}

static void tick(verify_ctx *vc)
{
	vc->done++;
	cli_progress_draw(&vc->pr,
			  vc->total ? (double)vc->done / (double)vc->total : 1,
			  vc->done, 0);
}

/* Pass 1: one stored file. */
static ms_status_t check_stored(const char *hex, long long mtime, void *ctx)
{
	verify_ctx *vc = ctx;
	unsigned char flags = 0;
	char sha[MS_SHA256_HEX];
	tick(vc);
	if (mtime >= vc->start_ns) {
		flags = F_RECENT;
	} else {
		vc->files++;
		ms_buf_reset(&vc->raw);
		ms_status_t st = ms_store_get(vc->store, hex, &vc->raw);
		if (st == MS_ERR_NOMEM)
			return st;
		if (st) {
			flags = F_BAD;
			problem(vc, &vc->store_bad, "store: %s: %s", hex,
				store_reason(vc->store, hex));
		} else if (ms_sha256_hex(vc->raw.data ? vc->raw.data : "",
					 vc->raw.len, sha) ||
			   strcmp(sha, hex) != 0) {
			flags = F_BAD;
			problem(vc, &vc->store_bad,
				"store: %s: content hash mismatch", hex);
		}
	}
	return cli_shaset_add(&vc->set, hex, flags) < 0 ? MS_ERR_NOMEM : MS_OK;
}

typedef struct rec_ids {
	const char *id, *sha;
} rec_ids;

static void rec_field(const char *key, const char *value, void *ctx)
{
	rec_ids *r = ctx;
	if (strcmp(key, "id") == 0)
		r->id = value;
	else if (strcmp(key, "sha") == 0)
		r->sha = value;
}

/* Pass 3: one document. */
static ms_status_t check_doc(const char *data, size_t len, void *ctx)
{
	verify_ctx *vc = ctx;
	rec_ids r = { "?", "" };
	tick(vc);
	vc->docs++;
	ms_buf_reset(&vc->rec);
	if (ms_buf_append(&vc->rec, data, len))
		return MS_ERR_NOMEM;
	ms_record_parse(vc->rec.data ? vc->rec.data : (char[]){ 0 }, len,
			rec_field, &r);
	cli_shaent *e = cli_shaset_find(&vc->set, r.sha);
	if (!e)
		problem(vc, &vc->index_bad, "index: id %s: stored message %s",
			r.id, *r.sha ? "missing" : "not recorded");
	else if (e->flags & F_BAD)
		problem(vc, &vc->index_bad,
			"index: id %s: stored message damaged (%s)", r.id,
			r.sha);
	if (e)
		e->flags |= F_USED;
	return MS_OK;
}

/* Pass 2 and 3 for one shard. */
static int check_shard(verify_ctx *vc, const char *name)
{
	char *path = NULL, *report = NULL, *err = NULL;
	if (asprintf(&path, "%s/%s", ms_archive_shards_dir(vc->ar), name) < 0)
		return -1;
	vc->shards++;
	ms_status_t st = ms_xdb_check(path, &report);
	if (st) {
		const char *r = report && *report ? report : ms_status_str(st);
		problem(vc, &vc->shard_bad, "shard %s: %.*s", name,
			(int)strcspn(r, "\n"), r);
	}
	ms_xdb *db = NULL;
	const char *const paths[1] = { path };
	st = ms_xdb_open_read(paths, 1, &db, &err);
	if (!st && (st = ms_xdb_each(db, check_doc, vc)) && st != MS_ERR_NOMEM)
		problem(vc, &vc->shard_bad, "shard %s: reading documents: %s",
			name, ms_xdb_error(db));
	else if (st && st != MS_ERR_NOMEM)
		problem(vc, &vc->shard_bad, "shard %s: %s", name,
			err ? err : ms_status_str(st));
	ms_xdb_close(&db);
	free(err);
	free(report);
	free(path);
	return st == MS_ERR_NOMEM ? -1 : 0;
}

static void report_unindexed(verify_ctx *vc)
{
	char hex[65];
	for (size_t i = 0; i < vc->set.n; i++) {
		cli_shaent *e = &vc->set.v[i];
		if (e->flags & (F_USED | F_RECENT | F_BAD))
			continue;
		cli_shaset_hex(e, hex);
		problem(vc, &vc->store_bad,
			"store: %s: not in the index (mailsift reindex adds "
			"it)",
			hex);
	}
}

/* Runs the three passes; -1 if the archive could not be read at all. */
static int run(verify_ctx *vc)
{
	unsigned long long bytes = 0, files = 0;
	char **names = NULL;
	size_t n = 0;
	uint64_t docs = 0;
	ms_qnode all = { .type = MS_Q_ALL };
	if (ms_shard_list(ms_archive_shards_dir(vc->ar), &names, &n))
		return ms_log_error("%s: cannot list shards",
				    ms_archive_shards_dir(vc->ar)),
		       -1;
	ms_store_bytes(vc->store, &bytes, &files);
	ms_archive_count(vc->ar, &all, &docs);
	vc->total = files + docs;
	ms_status_t st = ms_store_each(vc->store, check_stored, vc);
	if (st)
		ms_log_error("reading the store: %s",
			     st == MS_ERR_NOMEM ? "out of memory"
						: ms_store_error(vc->store));
	cli_shaset_sort(&vc->set);
	int rc = st ? -1 : 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = check_shard(vc, names[i]);
	if (!rc)
		report_unindexed(vc);
	ms_shard_list_free(&names);
	return rc;
}

int cli_verify(const ms_config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return ms_log_error("usage: mailsift verify"), 2;
	verify_ctx vc = { .start_ns = wall_ns() };
	if (!(vc.ar = cli_open_archive(cfg, 0)))
		return 1;
	vc.store = ms_archive_store(vc.ar);
	cli_progress_start(&vc.pr);
	int rc = run(&vc);
	cli_progress_draw(&vc.pr, 1, vc.done, 1);
	unsigned long long bad = vc.store_bad + vc.index_bad + vc.shard_bad;
	printf("verify: %llu stored messages, %llu documents in %llu shards: "
	       "%llu store, %llu index, %llu shard problems%s\n",
	       vc.files, vc.docs, vc.shards, vc.store_bad, vc.index_bad,
	       vc.shard_bad,
	       rc    ? " (incomplete)"
	       : bad ? ""
		     : " (clean)");
	cli_shaset_free(&vc.set);
	ms_buf_free(&vc.raw);
	ms_buf_free(&vc.rec);
	ms_archive_close(&vc.ar);
	return rc || bad ? 1 : 0;
}
