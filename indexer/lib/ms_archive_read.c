/* ms_archive_read.c - reading the archive: search, count, show, stats.
 *
 * Functions: ms_archive_open_reader, ms_archive_search, ms_archive_count,
 * ms_archive_show, ms_archive_stats_get, ms_hits_size, ms_hits_total,
 * ms_hits_get, ms_hits_free. A search opens the shards its date range can touch
 * as one Xapian database, and reopens and retries when a writer commits under
 * it (MS_ERR_MODIFIED). A keep_reader handle instead keeps one reader over all
 * shards, checked before each search (kept_reader, ms_archive_sig.c): kept
 * while a stat of the shards shows no change, moved to the latest commit or
 * reopened when it does. Searches (not the workers' "already archived"
 * check) also cover the [archive] remotes (ms_archive_remote.c): each
 * search's reader gets them after its local shards, and a hit knows which
 * part, so which host, it came from.
 */
#include "ms_archive_int.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_record.h"

#define MODIFIED_RETRIES 5

struct ms_hits {
	ms_hit *v;
	char **blobs;
	size_t n;
	uint64_t total; /* every match of the query */
};

/* Narrows [lo, hi] by date ranges that every match must satisfy. */
static void date_bounds(const ms_qnode *q, int64_t *lo, int64_t *hi)
{
	if (q->type == MS_Q_RANGE && q->field->slot == MS_SLOT_DATE) {
		if (q->lo > *lo)
			*lo = q->lo;
		if (q->hi < *hi)
			*hi = q->hi;
	} else if (q->type == MS_Q_AND) {
		for (size_t i = 0; i < q->n_kids; i++)
			date_bounds(q->kids[i], lo, hi);
	}
}

/* Opens the shards names[0..n) that may hold dates in [lo, hi] as one
 * reader, in that order (*k_r of them, if k_r); on failure the reason
 * goes to err. */
static ms_status_t open_names(const ms_archive *ar, const char *const *names,
			      size_t n, int64_t lo, int64_t hi, ms_xdb **db_r,
			      size_t *k_r, ms_buf *err)
{
	size_t k = 0;
	char **paths = calloc(n + 1, sizeof *paths);
	ms_status_t st = paths ? MS_OK : MS_ERR_NOMEM;
	for (size_t i = 0; i < n && !st; i++) {
		if (!ms_shard_overlaps(names[i], lo, hi))
			continue;
		if (asprintf(&paths[k++], "%s/%s", ar->shards_dir, names[i]) <
		    0)
			st = MS_ERR_NOMEM, paths[--k] = NULL;
	}
	char *msg = NULL;
	if (k_r)
		*k_r = k;
	if (!st &&
	    (st = ms_xdb_open_read((const char *const *)paths, k, db_r, &msg)))
		ms_buf_puts(err, msg ? msg : ms_status_str(st));
	free(msg);
	for (size_t i = 0; paths && i < k; i++)
		free(paths[i]);
	free(paths);
	return st;
}

ms_status_t ms_archive_open_reader(const ms_archive *ar, int64_t lo, int64_t hi,
				   ms_xdb **db_r, ms_buf *err)
{
	char **names = NULL;
	size_t n = 0;
	if (ms_shard_list(ar->shards_dir, &names, &n)) {
		ms_buf_printf(err, "%s: cannot list shards", ar->shards_dir);
		return MS_ERR_IO;
	}
	ms_status_t st = open_names(ar, (const char *const *)names, n, lo, hi,
				    db_r, NULL, err);
	ms_shard_list_free(&names);
	return st;
}

/* Copies one hit's record and points the hit's fields into it. */
static void hit_field(const char *key, const char *value, void *ctx)
{
	ms_hit *h = ctx;
	static const struct {
		const char *key;
		size_t off;
	} map[] = {
		{ "id", offsetof(ms_hit, id) },
		{ "mid", offsetof(ms_hit, message_id) },
		{ "from", offsetof(ms_hit, from) },
		{ "to", offsetof(ms_hit, to) },
		{ "cc", offsetof(ms_hit, cc) },
		{ "subj", offsetof(ms_hit, subject) },
		{ "sha", offsetof(ms_hit, sha256) },
		{ "verdict", offsetof(ms_hit, verdict) },
		{ "virus", offsetof(ms_hit, virus) },
		{ "sender", offsetof(ms_hit, sender) },
		{ "rcpts", offsetof(ms_hit, rcpts) },
		{ "qid", offsetof(ms_hit, queue_id) },
		{ "client", offsetof(ms_hit, client) },
		{ "atts", offsetof(ms_hit, attachments) },
	};
	if (strcmp(key, "date") == 0)
		h->date = strtoll(value, NULL, 10);
	else if (strcmp(key, "size") == 0)
		h->size = strtoull(value, NULL, 10);
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(key, map[i].key) == 0)
			*(const char **)((char *)h + map[i].off) = value;
}

/* Where part (of the reader last opened) lives: "" or a remote. */
static const char *origin_of(const ms_archive *ar, size_t part)
{
	if (part < ar->n_local || part - ar->n_local >= ar->n_part_remote)
		return "";
	return ar->opts.remotes[ar->part_remote[part - ar->n_local]];
}

static ms_status_t decode_hits(const ms_archive *ar, const ms_xresults *res,
			       ms_hits **hits_r)
{
	size_t n = ms_xresults_size(res);
	ms_hits *h = calloc(1, sizeof *h);
	if (!h || !(h->v = calloc(n + 1, sizeof *h->v)) ||
	    !(h->blobs = calloc(n + 1, sizeof *h->blobs))) {
		ms_hits_free(&h);
		return MS_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++, h->n++) {
		size_t len;
		const char *data = ms_xresults_data(res, i, &len);
		if (!(h->blobs[i] = malloc(len + 1))) {
			ms_hits_free(&h);
			return MS_ERR_NOMEM;
		}
		memcpy(h->blobs[i], data, len);
		h->blobs[i][len] = '\0';
		ms_hit *hit = &h->v[i];
		hit->id = hit->message_id = hit->from = hit->to = hit->cc = "";
		hit->subject = hit->sha256 = hit->verdict = hit->virus = "";
		hit->sender = hit->rcpts = hit->queue_id = hit->client = "";
		hit->attachments = "";
		hit->origin = origin_of(ar, ms_xresults_part(res, i));
		ms_record_parse(h->blobs[i], len, hit_field, hit);
	}
	h->total = ms_xresults_total(res);
	*hits_r = h;
	return MS_OK;
}

static void drop_reader(ms_archive *ar)
{
	ms_xdb_close(&ar->reader);
	free(ar->reader_sig);
	ar->reader_sig = NULL;
}

static ms_status_t kept_reader(ms_archive *ar, ms_xdb **db_r);

/* A kept reader with remotes: moved to the latest commit of every part
 * (a round trip to each remote) while its local shards are the same and
 * no remote was left out, else opened again. */
static ms_status_t kept_remote(ms_archive *ar, ms_xdb **db_r)
{
	ms_reader_sig *sig = NULL;
	ms_status_t st = ms_archive_sig_take(ar, &sig);
	int same = !st && !ar->partial.len &&
		   ms_archive_sig_same_shards(sig, ar->reader_sig);
	free(sig);
	if (same && ms_xdb_reopen(ar->reader) == MS_OK)
		return MS_OK;
	drop_reader(ar);
	ar->reader_checks++;
	return kept_reader(ar, db_r);
}

/* The kept reader of a keep_reader handle, brought up to date: kept as
 * it is when a stat of the shards shows nothing changed since the last
 * check (ms_archive_sig_unchanged), else (the full check) moved to the
 * latest commit when the same shards are there, else opened again over
 * all shards. On error none is kept (the next search opens afresh). */
static ms_status_t kept_reader(ms_archive *ar, ms_xdb **db_r)
{
	*db_r = ar->reader;
	if (ar->reader && ar->n_remotes)
		return kept_remote(ar, db_r);
	if (ar->reader && ms_archive_sig_unchanged(ar, ar->reader_sig))
		return MS_OK;
	ms_reader_sig *sig = NULL;
	ms_status_t st = ms_archive_sig_take(ar, &sig);
	ar->reader_checks++;
	if (!st && ar->reader &&
	    ms_archive_sig_same_shards(sig, ar->reader_sig) &&
	    ms_xdb_reopen(ar->reader) == MS_OK) {
		free(ar->reader_sig);
		ar->reader_sig = sig;
		return MS_OK;
	}
	drop_reader(ar);
	size_t n = 0;
	const char *const *names = sig ? ms_archive_sig_names(sig, &n) : NULL;
	size_t k = 0;
	if (!st &&
	    !(st = open_names(ar, names, n, INT64_MIN, INT64_MAX, &ar->reader,
			      &k, &ar->err)) &&
	    (st = ms_archive_add_remotes(ar, ar->reader, k)))
		drop_reader(ar);
	if (!st)
		ar->reader_sig = sig, sig = NULL, ar->reader_opens++;
	free(sig);
	*db_r = ar->reader;
	return st;
}

/* The kept reader, or for a search bounded to [lo, hi] that not every
 * shard may match, a subset of it over the shards that may (as a fresh
 * reader would open: the other shards' terms are not even looked up),
 * sharing its open files. */
static ms_status_t kept_for(ms_archive *ar, int64_t lo, int64_t hi,
			    ms_xdb **db_r)
{
	ms_status_t st = kept_reader(ar, db_r);
	size_t n = 0, k = 0, *idx = NULL;
	const char *const *names =
		st ? NULL : ms_archive_sig_names(ar->reader_sig, &n);
	if (st || ar->n_remotes || (lo == INT64_MIN && hi == INT64_MAX))
		return st; /* a subset would lose the remotes' part order */
	if (!(idx = malloc((n + 1) * sizeof *idx)))
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (ms_shard_overlaps(names[i], lo, hi))
			idx[k++] = i;
	if (k < n && (st = ms_xdb_subset(ar->reader, idx, k, db_r)))
		ms_archive_fail(ar, st, "%s", ms_xdb_error(ar->reader));
	free(idx);
	return st;
}

/* A reader over the local shards that may hold dates in [lo, hi] and
 * every remote. */
static ms_status_t fresh_reader(ms_archive *ar, int64_t lo, int64_t hi,
				ms_xdb **db_r)
{
	char **names = NULL;
	size_t n = 0, k = 0;
	if (ms_shard_list(ar->shards_dir, &names, &n))
		return ms_archive_fail(ar, MS_ERR_IO, "%s: cannot list shards",
				       ar->shards_dir);
	ms_status_t st = open_names(ar, (const char *const *)names, n, lo, hi,
				    db_r, &k, &ar->err);
	ms_shard_list_free(&names);
	if (!st && (st = ms_archive_add_remotes(ar, *db_r, k)))
		ms_xdb_close(db_r);
	return st;
}

/* Runs fn on a fresh reader for q's date range (or the kept one),
 * reopening on MODIFIED. */
typedef ms_status_t (*reader_fn)(ms_xdb *db, const ms_qnode *q, void *ctx);

static ms_status_t with_reader(ms_archive *ar, const ms_qnode *q, reader_fn fn,
			       void *ctx)
{
	int64_t lo = INT64_MIN, hi = INT64_MAX;
	date_bounds(q, &lo, &hi);
	ms_xdb *db = NULL;
	ms_buf_reset(&ar->err);
	ms_status_t st = ar->opts.keep_reader ? kept_for(ar, lo, hi, &db)
					      : fresh_reader(ar, lo, hi, &db);
	for (int i = 0; !st && i < MODIFIED_RETRIES; i++) {
		st = fn(db, q, ctx);
		if (st != MS_ERR_MODIFIED || ms_xdb_reopen(db) != MS_OK)
			break;
	}
	if (st == MS_ERR_REMOTE && db)
		ms_archive_remote_failed(ar, db);
	else if (st && db)
		ms_archive_fail(ar, st, "%s", ms_xdb_error(db));
	if (db != ar->reader)
		ms_xdb_close(&db); /* a fresh reader, or a subset of the kept */
	if (st && ar->opts.keep_reader)
		drop_reader(ar);
	return st;
}

typedef struct search_ctx {
	const ms_archive *ar;
	size_t limit;
	ms_hits *hits;
} search_ctx;

static ms_status_t search_fn(ms_xdb *db, const ms_qnode *q, void *ctx)
{
	search_ctx *sc = ctx;
	ms_xresults *res = NULL;
	ms_status_t st = ms_xdb_search(db, q, 0, sc->limit, &res);
	if (!st)
		st = decode_hits(sc->ar, res, &sc->hits);
	ms_xresults_free(&res);
	return st;
}

ms_status_t ms_archive_search(ms_archive *ar, const ms_qnode *q, size_t limit,
			      ms_hits **hits_r)
{
	search_ctx sc = { ar, limit, NULL };
	ms_status_t st = with_reader(ar, q, search_fn, &sc);
	*hits_r = sc.hits;
	return st;
}

static ms_status_t count_fn(ms_xdb *db, const ms_qnode *q, void *ctx)
{
	return ms_xdb_count(db, q, ctx);
}

ms_status_t ms_archive_count(ms_archive *ar, const ms_qnode *q, uint64_t *n_r)
{
	*n_r = 0;
	return with_reader(ar, q, count_fn, n_r);
}

size_t ms_hits_size(const ms_hits *h)
{
	return h ? h->n : 0;
}

uint64_t ms_hits_total(const ms_hits *h)
{
	return h ? h->total : 0;
}

const ms_hit *ms_hits_get(const ms_hits *h, size_t i)
{
	return i < h->n ? &h->v[i] : NULL;
}

void ms_hits_free(ms_hits **hp)
{
	ms_hits *h = *hp;
	if (!h)
		return;
	for (size_t i = 0; h->blobs && i < h->n; i++)
		free(h->blobs[i]);
	free(h->blobs);
	free(h->v);
	free(h);
	*hp = NULL;
}

ms_status_t ms_archive_show(ms_archive *ar, const char *key, ms_buf *out)
{
	ms_qnode q = { .type = MS_Q_EXACT, .field = ms_schema_field("id") };
	q.value = (char *)key;
	ms_hits *hits = NULL;
	ms_status_t st = ms_archive_search(ar, &q, 2, &hits);
	if (st)
		return st;
	size_t n = ms_hits_size(hits);
	if (n != 1)
		st = ms_archive_fail(ar, n ? MS_ERR_INVALID : MS_ERR_NOTFOUND,
				     n ? "%s: several messages match"
				       : "%s: no such message",
				     key);
	else
		st = ms_archive_raw(ar, &hits->v[0], out);
	ms_hits_free(&hits);
	return st;
}

/* Adds the sizes of the regular files below path. */
static unsigned long long dir_bytes(const char *path)
{
	unsigned long long sum = 0;
	DIR *d = opendir(path);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char *p = NULL;
		struct stat sb;
		if (asprintf(&p, "%s/%s", path, e->d_name) >= 0 &&
		    lstat(p, &sb) == 0)
			sum += S_ISDIR(sb.st_mode)
				       ? dir_bytes(p)
				       : (unsigned long long)sb.st_size;
		free(p);
	}
	if (d)
		closedir(d);
	return sum;
}

ms_status_t ms_archive_stats_get(ms_archive *ar, ms_archive_stats *s)
{
	memset(s, 0, sizeof *s);
	char **names = NULL;
	size_t n = 0;
	if (ms_shard_list(ar->shards_dir, &names, &n))
		return ms_archive_fail(ar, MS_ERR_IO, "cannot list shards");
	s->shards = (unsigned)n;
	ms_shard_list_free(&names);
	s->index_bytes = dir_bytes(ar->shards_dir);
	ms_status_t st =
		ms_store_bytes(ar->store, &s->store_bytes, &s->store_files);
	ms_qnode all = { .type = MS_Q_ALL };
	if (!st)
		st = ms_archive_count(ar, &all, &s->messages);
	return st;
}
