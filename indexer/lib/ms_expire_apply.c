/* ms_expire_apply.c - carrying out an expire plan restartably: the intent
 * journal, the deletions shard by shard, the store clean-up (see
 * ms_expire.h for the steps and why a crash at any point is safe).
 *
 * Functions: ms_expire_pending, ms_expire_apply. The journal
 * (DIR/expire.journal) is ms_record lines: "format 1", "now T", then per
 * message "i ID", "s SHA", "h SHARD", "r RULE", and last "end N" (the
 * number of messages); it is written with ms_file_replace, so it is
 * either whole or absent.
 */
#include "ms_expire_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_file.h"
#include "ms_record.h"
#include "ms_schema.h"

#define JOURNAL	       "expire.journal"
#define JOURNAL_FORMAT "1"
#define JOURNAL_MAX    (1u << 30)

static char *journal_path(const ms_expire *ex)
{
	char *p = NULL;
	return asprintf(&p, "%s/%s", ex->dir, JOURNAL) < 0 ? NULL : p;
}

/* ---- the journal ---- */

static ms_status_t write_journal(ms_expire *ex, const ms_expire_plan *p)
{
	ms_buf b = MS_BUF_INIT;
	char num[24], *err = NULL, *path = journal_path(ex);
	ms_status_t st = path ? ms_record_put(&b, "format", JOURNAL_FORMAT)
			      : MS_ERR_NOMEM;
	snprintf(num, sizeof num, "%" PRId64, p->now);
	st = st ? st : ms_record_put(&b, "now", num);
	for (size_t i = 0; i < p->n_items && !st; i++) {
		const ms_expire_item *it = &p->items[i];
		snprintf(num, sizeof num, "%ld", it->rule);
		st = ms_record_put(&b, "i", it->id);
		st = st ? st : ms_record_put(&b, "s", it->sha);
		st = st ? st : ms_record_put(&b, "h", it->shard);
		st = st ? st : ms_record_put(&b, "r", num);
	}
	snprintf(num, sizeof num, "%zu", p->n_items);
	st = st ? st : ms_record_put(&b, "end", num);
	if (!st)
		st = ms_file_replace(path, b.data, b.len, 0640, &err);
	if (st)
		ms_expire_fail(ex, st, "writing the journal: %s",
			       err ? err : ms_status_str(st));
	ms_buf_free(&b);
	free(err);
	free(path);
	return st;
}

/* Reading a journal back. */
typedef struct jread {
	ms_expire_plan *p;
	size_t cap;
	int format_ok, bad;
	long long end;
	long max_rule;
} jread;

static void set_field(char *dst, size_t n, const char *v, int *bad)
{
	if (strlen(v) >= n)
		*bad = 1;
	snprintf(dst, n, "%s", v);
}

static void journal_field(const char *key, const char *value, void *ctx)
{
	jread *j = ctx;
	ms_expire_plan *p = j->p;
	ms_expire_item *it = p->n_items ? &p->items[p->n_items - 1] : NULL;
	if (strcmp(key, "format") == 0) {
		j->format_ok = strcmp(value, JOURNAL_FORMAT) == 0;
	} else if (strcmp(key, "now") == 0) {
		p->now = strtoll(value, NULL, 10);
	} else if (strcmp(key, "end") == 0) {
		j->end = strtoll(value, NULL, 10);
	} else if (strcmp(key, "i") == 0) {
		if (p->n_items == j->cap) {
			size_t nc = j->cap ? 2 * j->cap : 256;
			ms_expire_item *nv = realloc(p->items, nc * sizeof *nv);
			if (!nv) {
				j->bad = -1;
				return;
			}
			p->items = nv;
			j->cap = nc;
		}
		it = &p->items[p->n_items++];
		memset(it, 0, sizeof *it);
		it->rule = -1;
		set_field(it->id, sizeof it->id, value, &j->bad);
	} else if (!it) {
		j->bad = 1;
	} else if (strcmp(key, "s") == 0) {
		set_field(it->sha, sizeof it->sha, value, &j->bad);
	} else if (strcmp(key, "h") == 0) {
		set_field(it->shard, sizeof it->shard, value, &j->bad);
	} else if (strcmp(key, "r") == 0) {
		it->rule = strtol(value, NULL, 10);
		j->max_rule = it->rule > j->max_rule ? it->rule : j->max_rule;
	}
}

/* Fills the per-rule counts of a journal's plan. */
static ms_status_t count_rules(ms_expire_plan *p, long max_rule)
{
	p->n_rules = max_rule >= 0 ? (size_t)max_rule + 1 : 0;
	if (!(p->by_rule = calloc(p->n_rules + 1, sizeof *p->by_rule)))
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < p->n_items; i++) {
		long r = p->items[i].rule;
		p->by_rule[r < 0 ? p->n_rules : (size_t)r]++;
	}
	return MS_OK;
}

/* Checks that a journal read back is whole and sane. */
static int journal_ok(const jread *j)
{
	if (j->bad || !j->format_ok || j->end != (long long)j->p->n_items)
		return 0;
	for (size_t i = 0; i < j->p->n_items; i++) {
		const ms_expire_item *it = &j->p->items[i];
		if (!*it->id || strlen(it->sha) != 64 || !*it->shard ||
		    strchr(it->shard, '/') || it->shard[0] == '.')
			return 0;
	}
	return 1;
}

/* Items by shard, then id (the order apply works in). */
static int cmp_item(const void *a, const void *b)
{
	const ms_expire_item *x = a, *y = b;
	int c = strcmp(x->shard, y->shard);
	return c ? c : strcmp(x->id, y->id);
}

static ms_status_t parse_journal(ms_expire *ex, ms_buf *text,
				 ms_expire_plan **plan_r)
{
	jread j = { .max_rule = -1, .end = -1 };
	if (!(j.p = calloc(1, sizeof *j.p)))
		return ms_expire_fail(ex, MS_ERR_NOMEM, "out of memory");
	j.p->from_journal = 1;
	ms_record_parse(text->data, text->len, journal_field, &j);
	ms_status_t st = j.bad < 0 ? MS_ERR_NOMEM : MS_OK;
	if (!st && !journal_ok(&j))
		st = ms_expire_fail(ex, MS_ERR_CORRUPT,
				    "%s/%s: damaged journal of an interrupted "
				    "expire run",
				    ex->dir, JOURNAL);
	if (!st && j.p->n_items)
		qsort(j.p->items, j.p->n_items, sizeof *j.p->items, cmp_item);
	if (!st && (st = count_rules(j.p, j.max_rule)))
		ms_expire_fail(ex, st, "out of memory");
	if (st)
		ms_expire_plan_free(&j.p);
	*plan_r = j.p;
	return st;
}

ms_status_t ms_expire_pending(ms_expire *ex, ms_expire_plan **plan_r)
{
	char *path = journal_path(ex), *err = NULL;
	ms_buf text = MS_BUF_INIT;
	*plan_r = NULL;
	if (!path)
		return ms_expire_fail(ex, MS_ERR_NOMEM, "out of memory");
	ms_status_t st = ms_file_read(path, JOURNAL_MAX, &text, &err);
	if (st == MS_ERR_NOTFOUND)
		st = MS_OK;
	else if (st)
		ms_expire_fail(ex, st, "%s", err ? err : ms_status_str(st));
	else
		st = parse_journal(ex, &text, plan_r);
	ms_buf_free(&text);
	free(err);
	free(path);
	return st;
}

static ms_status_t remove_journal(ms_expire *ex)
{
	char *path = journal_path(ex), *err = NULL;
	if (!path)
		return ms_expire_fail(ex, MS_ERR_NOMEM, "out of memory");
	ms_status_t st = MS_OK;
	if (unlink(path) != 0 && errno != ENOENT)
		st = ms_expire_fail(ex, MS_ERR_IO, "%s: %s", path,
				    strerror(errno));
	else if ((st = ms_file_sync_dir(path, &err)))
		ms_expire_fail(ex, st, "%s", err ? err : ms_status_str(st));
	free(err);
	free(path);
	return st;
}

/* ---- deleting documents ---- */

/* Whether an active hold covers id (sets from ms_expire_hold_sets). */
static int held(const ms_expire *ex, const ms_idset *sets, const char *id)
{
	for (size_t j = 0; j < ex->n_active; j++)
		if (ms_idset_has(&sets[j], id))
			return 1;
	return 0;
}

/* One shard being expired: its items, the holds' matches in it. */
typedef struct shard_run {
	ms_expire *ex;
	ms_xdb *db;
	const ms_expire_item *items;
	size_t n;
	ms_idset *sets;
	int *keep;   /* per item: held now (1), gone already (2), or 0 */
	size_t held; /* items held now */
} shard_run;

/* Marks which items are held now or already gone; *live_r counts the
 * rest (the documents to delete). */
static ms_status_t sort_out(shard_run *s, uint64_t *live_r,
			    ms_expire_result *res)
{
	ms_status_t st = ms_expire_hold_sets(s->ex, s->db, &s->sets);
	*live_r = 0;
	for (size_t i = 0; i < s->n && !st; i++) {
		char term[MS_ARCHIVE_ID_MAX + 8];
		int there = 0;
		snprintf(term, sizeof term, "%s%s", MS_PREFIX_ID,
			 s->items[i].id);
		if (held(s->ex, s->sets, s->items[i].id)) {
			s->keep[i] = 1;
			s->held++;
			res->held_now++;
		} else if (!(st = ms_xdb_has_term(s->db, term, &there))) {
			s->keep[i] = there ? 0 : 2;
			*live_r += there != 0;
		}
	}
	return st;
}

/* Deletes the live items' documents and commits. */
static ms_status_t delete_docs(shard_run *s, ms_expire_result *res)
{
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < s->n && !st; i++) {
		char term[MS_ARCHIVE_ID_MAX + 8];
		snprintf(term, sizeof term, "%s%s", MS_PREFIX_ID,
			 s->items[i].id);
		if (!s->keep[i] && !(st = ms_xdb_delete(s->db, term)))
			res->deleted++;
	}
	return st ? st : ms_xdb_commit(s->db);
}

/* Drops the shard (closed): its documents are all gone or going. */
static ms_status_t drop(shard_run *s, ms_expire_result *res)
{
	ms_status_t st = ms_archive_drop_shard(s->ex->ar, s->items[0].shard);
	if (st)
		return ms_expire_fail(s->ex, st, "%s",
				      ms_archive_error(s->ex->ar));
	res->shards_dropped++;
	return MS_OK;
}

/* One shard's items: when they are all of its documents (and none is
 * held), the shard is dropped whole; else they are deleted one by one
 * and the shard is dropped if that left it empty. */
static ms_status_t expire_shard(ms_expire *ex, const ms_expire_item *items,
				size_t n, ms_expire_result *res)
{
	shard_run s = {
		ex, NULL, items, n, NULL, calloc(n + 1, sizeof(int)), 0
	};
	if (!s.keep)
		return ms_expire_fail(ex, MS_ERR_NOMEM, "out of memory");
	ms_status_t st = ms_expire_open_shard(ex, items[0].shard, 1, &s.db);
	uint64_t live = 0, docs = 1;
	if (!st)
		st = sort_out(&s, &live, res);
	if (!st)
		st = ms_xdb_doccount(s.db, &docs);
	int whole = !st && live == docs && s.held == 0;
	if (!st && !whole && !(st = delete_docs(&s, res)))
		st = ms_xdb_doccount(s.db, &docs);
	if (st && st != MS_ERR_NOTFOUND && *ms_xdb_error(s.db))
		ms_expire_fail(ex, st, "shard %s: %s", items[0].shard,
			       ms_xdb_error(s.db));
	ms_xdb_close(&s.db);
	ms_expire_sets_free(&s.sets, ex->n_active);
	free(s.keep);
	if (st == MS_ERR_NOTFOUND)
		return MS_OK; /* dropped by the interrupted run */
	if (!st && whole) {
		res->deleted += live;
		docs = 0;
	}
	return st || docs ? st : drop(&s, res);
}

/* ---- the store ---- */

/* The plan's digests, sorted and unique, with a "still named" flag. */
typedef struct sharef {
	char **sha;
	unsigned char *named;
	size_t n;
	ms_expire *ex;
} sharef;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static ms_status_t sharef_init(sharef *s, const ms_expire_plan *p)
{
	s->sha = calloc(p->n_items + 1, sizeof *s->sha);
	s->named = calloc(p->n_items + 1, 1);
	if (!s->sha || !s->named)
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < p->n_items; i++)
		s->sha[i] = (char *)p->items[i].sha;
	qsort(s->sha, p->n_items, sizeof *s->sha, cmp_str);
	for (size_t i = 0; i < p->n_items; i++)
		if (!s->n || strcmp(s->sha[s->n - 1], s->sha[i]) != 0)
			s->sha[s->n++] = s->sha[i];
	return MS_OK;
}

static ms_status_t mark_named(const char *data, size_t len, void *ctx)
{
	sharef *s = ctx;
	ms_docref d;
	ms_status_t st = ms_expire_docref(s->ex, data, len, &d);
	char **hit = st || !s->n ? NULL
				 : bsearch(&d.sha, s->sha, s->n, sizeof *s->sha,
					   cmp_str);
	if (hit)
		s->named[hit - s->sha] = 1;
	return st;
}

/* Marks the digests some remaining document names (every shard). */
static ms_status_t scan_names(ms_expire *ex, sharef *s)
{
	char **names = NULL;
	size_t n = 0;
	if (ms_shard_list(ms_archive_shards_dir(ex->ar), &names, &n))
		return ms_expire_fail(ex, MS_ERR_IO, "cannot list shards");
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < n && !st; i++) {
		ms_xdb *db = NULL;
		if ((st = ms_expire_open_shard(ex, names[i], 0, &db)))
			break;
		if ((st = ms_xdb_each(db, mark_named, s)) && *ms_xdb_error(db))
			ms_expire_fail(ex, st, "shard %s: %s", names[i],
				       ms_xdb_error(db));
		ms_xdb_close(&db);
	}
	ms_shard_list_free(&names);
	return st;
}

/* Removes the plan's stored messages no document names, then syncs. */
static ms_status_t clean_store(ms_expire *ex, const ms_expire_plan *p,
			       ms_expire_result *res)
{
	sharef s = { .ex = ex };
	ms_status_t st = sharef_init(&s, p) ? ms_expire_fail(ex, MS_ERR_NOMEM,
							     "out of memory")
					    : scan_names(ex, &s);
	for (size_t i = 0; i < s.n && !st; i++) {
		int there = 0;
		if (s.named[i])
			res->store_kept++;
		else if (!(st = ms_store_has(ex->store, s.sha[i], &there)) &&
			 there && !(st = ms_store_remove(ex->store, s.sha[i])))
			res->store_removed++;
		if (st)
			ms_expire_fail(ex, st, "%s", ms_store_error(ex->store));
	}
	if (!st && (st = ms_store_sync(ex->store)))
		ms_expire_fail(ex, st, "%s", ms_store_error(ex->store));
	free(s.sha);
	free(s.named);
	return st;
}

ms_status_t ms_expire_apply(ms_expire *ex, const ms_expire_plan *p,
			    ms_expire_result *res)
{
	memset(res, 0, sizeof *res);
	if (!p->n_items)
		return p->from_journal ? remove_journal(ex) : MS_OK;
	ms_status_t st = p->from_journal ? MS_OK : write_journal(ex, p);
	for (size_t i = 0; i < p->n_items && !st;) {
		size_t k = i + 1;
		while (k < p->n_items &&
		       strcmp(p->items[k].shard, p->items[i].shard) == 0)
			k++;
		st = expire_shard(ex, &p->items[i], k - i, res);
		i = k;
	}
	if (!st)
		st = clean_store(ex, p, res);
	return st ? st : remove_journal(ex);
}
