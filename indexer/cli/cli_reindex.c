/* cli_reindex.c - `mailsift reindex [--force]`: rebuilds the index from
 * the message store.
 *
 * Functions: cli_reindex. With every shard lock and the exclusive archive
 * lock held (refused if indexd or an import is writing), each document of
 * the current shards is re-added from its stored message (decrypted) with
 * the envelope its record kept (id, sender, recipients, queue id, client,
 * verdict, virus, arrival time), into fresh shards under shards.new/;
 * then stored messages no document names get content-hash ids, as import
 * gives them (files newer than the run are skipped: a writer may be
 * adding them). The new shards are compacted and swapped in whole
 * (ms_archive_swap_shards); the old ones are removed. If a message cannot
 * be re-added (missing, damaged, wrong key) nothing is swapped unless
 * --force, which drops those documents. A crash leaves the old shards in
 * place; the next run removes the leftover shards.new/. The audit line
 * (cli_audit) is written once the locks are held, before anything
 * changes; if it cannot be, nothing is done.
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

#define NEW_SHARDS   "shards.new"
#define COMMIT_EVERY 5000
#define MAX_RCPTS    1000
#define ID_HEX_LEN   24 /* a content-hash id: the digest's first digits */

typedef struct reindex_ctx {
	ms_archive *ar;	 /* the live archive (locked) */
	ms_archive *new; /* building shards.new */
	ms_store *store;
	ms_buf raw, rec;
	cli_shaset used; /* digests the old documents name */
	long long start_ns;
	unsigned long long from_index, from_store, failed, since_commit;
	unsigned long long total, done;
	cli_progress pr;
} reindex_ctx;

/* What a document's record says (pointers into reindex_ctx.rec). */
typedef struct old_doc {
	const char *id, *sha, *sender, *rcpts, *qid, *client, *verdict, *virus;
	int64_t date;
	int has_env; /* the record has envelope keys (came via the milter) */
} old_doc;

static long long wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail_line(reindex_ctx *rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail_line(reindex_ctx *rc, const char *fmt, ...)
{
	va_list ap;
	cli_progress_break(&rc->pr);
	va_start(ap, fmt);
	ms_buf b = MS_BUF_INIT;
	ms_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	ms_log_error("%s", b.data ? b.data : "");
	ms_buf_free(&b);
	rc->failed++;
}

static void tick(reindex_ctx *rc)
{
	rc->done++;
	cli_progress_draw(&rc->pr,
			  rc->total ? (double)rc->done / (double)rc->total : 1,
			  rc->done, 0);
}

static void doc_field(const char *key, const char *value, void *ctx)
{
	old_doc *d = ctx;
	static const struct {
		const char *key;
		size_t off;
	} map[] = {
		{ "id", offsetof(old_doc, id) },
		{ "sha", offsetof(old_doc, sha) },
		{ "sender", offsetof(old_doc, sender) },
		{ "rcpts", offsetof(old_doc, rcpts) },
		{ "qid", offsetof(old_doc, qid) },
		{ "client", offsetof(old_doc, client) },
		{ "verdict", offsetof(old_doc, verdict) },
		{ "virus", offsetof(old_doc, virus) },
	};
	if (strcmp(key, "date") == 0)
		d->date = strtoll(value, NULL, 10);
	if (strcmp(key, "sender") == 0)
		d->has_env = 1;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(key, map[i].key) == 0)
			*(const char **)((char *)d + map[i].off) = value;
}

/* Reads the message stored under sha into rc->raw, checking its digest.
 * 0, or -1 after reporting (as "what: reason"). */
static int load_raw(reindex_ctx *rc, const char *sha, const char *what)
{
	char got[MS_SHA256_HEX];
	ms_buf_reset(&rc->raw);
	ms_status_t st = ms_store_get(rc->store, sha, &rc->raw);
	if (st)
		return fail_line(rc, "%s: %s", what, ms_store_error(rc->store)),
		       -1;
	if (ms_sha256_hex(rc->raw.data ? rc->raw.data : "", rc->raw.len, got) ||
	    strcmp(got, sha) != 0)
		return fail_line(rc,
				 "%s: stored message %s: content hash "
				 "mismatch",
				 what, sha),
		       -1;
	return 0;
}

/* Adds rc->raw to the new shards with env (NULL: as import would),
 * counting it in *added. */
static ms_status_t add_raw(reindex_ctx *rc, const ms_envelope *env,
			   const char *what, unsigned long long *added)
{
	ms_add_result res;
	ms_status_t st =
		ms_archive_add(rc->new, rc->raw.data ? rc->raw.data : "",
			       rc->raw.len, env, &res, NULL);
	if (st == MS_ERR_PARSE) {
		fail_line(rc, "%s: %s", what, ms_archive_error(rc->new));
		return MS_OK;
	}
	if (st)
		return st; /* a shard or the store cannot be written */
	(*added)++;
	if (++rc->since_commit >= COMMIT_EVERY) {
		rc->since_commit = 0;
		return ms_archive_commit(rc->new);
	}
	return MS_OK;
}

/* Splits "a, b, c" in place into rcpts[] (at most MAX_RCPTS). */
static size_t split_rcpts(char *s, const char **rcpts)
{
	size_t n = 0;
	while (s && *s && n < MAX_RCPTS) {
		rcpts[n++] = s;
		if ((s = strstr(s, ", ")))
			*s = '\0', s += 2;
	}
	return n;
}

/* Re-adds the message of one old document with the envelope it had. */
static ms_status_t readd_doc(const char *data, size_t len, void *ctx)
{
	reindex_ctx *rc = ctx;
	static const char *rcpts[MAX_RCPTS];
	old_doc d = { "?", "", NULL, NULL, NULL, NULL, NULL, NULL, 0, 0 };
	char what[MS_ARCHIVE_ID_MAX + 8];
	tick(rc);
	ms_buf_reset(&rc->rec);
	if (ms_buf_append(&rc->rec, data, len) || ms_buf_putc(&rc->rec, 0))
		return MS_ERR_NOMEM;
	ms_record_parse(rc->rec.data, len, doc_field, &d);
	snprintf(what, sizeof what, "id %s", d.id);
	if (cli_shaset_add(&rc->used, d.sha, 0) < 0)
		return MS_ERR_NOMEM;
	if (load_raw(rc, d.sha, what))
		return MS_OK;
	ms_envelope env = { .id = d.id, .time = d.date };
	if (d.has_env) {
		env.sender = d.sender;
		env.rcpts = rcpts;
		env.n_rcpts = split_rcpts((char *)d.rcpts, rcpts);
		env.queue_id = d.qid;
		env.client = d.client;
		env.verdict = d.verdict;
		env.virus = d.virus;
	}
	/* an imported message keeps its content-hash id without an env */
	int plain = !d.has_env && strlen(d.id) == ID_HEX_LEN &&
		    strncmp(d.id, d.sha, ID_HEX_LEN) == 0;
	return add_raw(rc, plain ? NULL : &env, what, &rc->from_index);
}

/* Adds a stored message no old document named. */
static ms_status_t readd_orphan(const char *hex, long long mtime, void *ctx)
{
	reindex_ctx *rc = ctx;
	char what[80];
	tick(rc);
	if (mtime >= rc->start_ns || cli_shaset_find(&rc->used, hex))
		return MS_OK;
	snprintf(what, sizeof what, "stored message %.64s", hex);
	if (load_raw(rc, hex, what))
		return MS_OK;
	return add_raw(rc, NULL, what, &rc->from_store);
}

/* Re-adds the documents of every old shard, then the unnamed messages. */
static ms_status_t rebuild(reindex_ctx *rc, char **names, size_t n)
{
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < n && !st; i++) {
		char *path = NULL, *err = NULL;
		ms_xdb *db = NULL;
		if (asprintf(&path, "%s/%s", ms_archive_shards_dir(rc->ar),
			     names[i]) < 0)
			return MS_ERR_NOMEM;
		const char *const paths[1] = { path };
		if ((st = ms_xdb_open_read(paths, 1, &db, &err)))
			ms_log_error("shard %s: %s", names[i],
				     err ? err : ms_status_str(st));
		else if ((st = ms_xdb_each(db, readd_doc, rc)))
			ms_log_error("shard %s: %s", names[i],
				     *ms_xdb_error(db) ? ms_xdb_error(db)
				     : st == MS_ERR_NOMEM
					     ? "out of memory"
					     : ms_archive_error(rc->new));
		ms_xdb_close(&db);
		free(err);
		free(path);
	}
	cli_shaset_sort(&rc->used);
	if (!st && (st = ms_store_each(rc->store, readd_orphan, rc)))
		ms_log_error("store: %s", st == MS_ERR_NOMEM ? "out of memory"
					  : *ms_store_error(rc->store)
						  ? ms_store_error(rc->store)
						  : ms_archive_error(rc->new));
	return st;
}

/* Opens the archive that builds shards.new (writable, same store). */
static ms_archive *open_new(const ms_config *cfg)
{
	ms_archive_opts o = ms_archive_opts_from(cfg, 1);
	o.shards_subdir = NEW_SHARDS;
	ms_archive *ar = NULL;
	char *err = NULL;
	ms_status_t st = ms_archive_open(&o, &ar, &err);
	if (st)
		ms_log_error("cannot open %s/%s: %s", cfg->archive_dir,
			     NEW_SHARDS, err ? err : ms_status_str(st));
	free(err);
	return ar;
}

/* Builds the new shards and swaps them in (all locks held). 0 or -1. */
static int reindex(reindex_ctx *rc, const ms_config *cfg, int force)
{
	char **names = NULL;
	size_t n = 0;
	unsigned long long bytes = 0, files = 0;
	uint64_t docs = 0;
	ms_qnode all = { .type = MS_Q_ALL };
	if (ms_archive_drop_shards(rc->ar, NEW_SHARDS) ||
	    ms_shard_list(ms_archive_shards_dir(rc->ar), &names, &n))
		return ms_log_error("%s", ms_archive_error(rc->ar)), -1;
	if (!(rc->new = open_new(cfg)))
		return ms_shard_list_free(&names), -1;
	ms_store_bytes(rc->store, &bytes, &files);
	ms_archive_count(rc->ar, &all, &docs);
	rc->total = docs + files;
	ms_status_t st = rebuild(rc, names, n);
	ms_shard_list_free(&names);
	if (!st && rc->failed && !force) {
		ms_log_error(
			"%llu messages could not be re-added; the index is "
			"unchanged (mailsift verify shows why; reindex "
			"--force rebuilds without them)",
			rc->failed);
		st = MS_ERR_INVALID;
	}
	if (!st && (st = ms_archive_compact(rc->new, 0)))
		ms_log_error("compacting: %s", ms_archive_error(rc->new));
	ms_status_t cst = ms_archive_close(&rc->new);
	if (!st && cst)
		ms_log_error("closing the new shards: %s", ms_status_str(cst));
	if (!st && !cst && (st = ms_archive_swap_shards(rc->ar, NEW_SHARDS)))
		ms_log_error("%s", ms_archive_error(rc->ar));
	else if (st || cst)
		ms_archive_drop_shards(rc->ar, NEW_SHARDS);
	return st || cst ? -1 : 0;
}

/* The audit line, written with the locks held and before any change:
 * matched is the number of indexed messages. 0 or -1 (reported). */
static int audit_start(reindex_ctx *rc, const ms_config *cfg)
{
	ms_qnode all = { .type = MS_Q_ALL };
	uint64_t docs = 0;
	if (ms_archive_count(rc->ar, &all, &docs) != MS_OK)
		return ms_log_error("%s", ms_archive_error(rc->ar)), -1;
	return cli_audit(cfg, "reindex", NULL, docs, NULL, 0);
}

int cli_reindex(const ms_config *cfg, int argc, char **argv)
{
	int force = argc == 2 && strcmp(argv[1], "--force") == 0;
	if (argc > 2 || (argc == 2 && !force))
		return ms_log_error("usage: mailsift reindex [--force]"), 2;
	reindex_ctx rc = { .start_ns = wall_ns() };
	if (!(rc.ar = cli_open_archive(cfg, 0)))
		return 1;
	rc.store = ms_archive_store(rc.ar);
	ms_status_t st = ms_archive_lock_all(rc.ar);
	if (st) {
		ms_log_error("cannot reindex: %s%s", ms_archive_error(rc.ar),
			     st == MS_ERR_LOCKED ? "; stop it and retry" : "");
		ms_archive_close(&rc.ar);
		return 1;
	}
	if (audit_start(&rc, cfg) != 0) {
		ms_archive_close(&rc.ar);
		return 1;
	}
	cli_progress_start(&rc.pr);
	int bad = reindex(&rc, cfg, force);
	cli_progress_draw(&rc.pr, 1, rc.done, 1);
	double el = cli_now() - rc.pr.start;
	fprintf(stderr,
		"%s %llu messages (%llu from the index, %llu unindexed from "
		"the store), %llu failed, in %.1f s\n",
		bad ? "reindex failed after" : "reindexed",
		rc.from_index + rc.from_store, rc.from_index, rc.from_store,
		rc.failed, el);
	cli_shaset_free(&rc.used);
	ms_buf_free(&rc.raw);
	ms_buf_free(&rc.rec);
	ms_archive_close(&rc.ar);
	return bad || rc.failed ? 1 : 0;
}
