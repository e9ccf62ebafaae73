/* ms_expire.c - an expire run's locks and holds, and the plan of what
 * expires (see ms_expire.h).
 *
 * Functions: ms_expire_begin, ms_expire_end, ms_expire_error,
 * ms_expire_decide, ms_expire_plan_free, ms_expire_plan_ids, and for
 * ms_expire_apply.c: ms_expire_fail, ms_expire_open_shard,
 * ms_expire_docref, ms_expire_hold_sets, ms_expire_sets_free,
 * ms_idset_has, ms_expire_add_holds. The plan goes shard by shard
 * (only shards that can hold mail older than the latest cutoff): each
 * rule's and each active hold's query is run on the shard alone (the ids
 * it matches), then every document is decided from its record (id, sha, date).
 */
#include "ms_expire_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_record.h"

ms_status_t ms_expire_fail(ms_expire *ex, ms_status_t st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms_buf_reset(&ex->err);
	ms_buf_vprintf(&ex->err, fmt, ap);
	va_end(ap);
	return st;
}

const char *ms_expire_error(const ms_expire *ex)
{
	return ex->err.data ? ex->err.data : "";
}

/* ---- id sets ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static ms_status_t idset_add(ms_idset *s, const char *id)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 64;
		char **nv = realloc(s->v, nc * sizeof *nv);
		if (!nv)
			return MS_ERR_NOMEM;
		s->v = nv;
		s->cap = nc;
	}
	return (s->v[s->n] = strdup(id)) ? (s->n++, MS_OK) : MS_ERR_NOMEM;
}

int ms_idset_has(const ms_idset *s, const char *id)
{
	return s->n && bsearch(&id, s->v, s->n, sizeof *s->v, cmp_str);
}

static void idset_free(ms_idset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

void ms_expire_sets_free(ms_idset **sets, size_t n)
{
	for (size_t i = 0; *sets && i < n; i++)
		idset_free(&(*sets)[i]);
	free(*sets);
	*sets = NULL;
}

/* ---- records and shards ---- */

static void ref_field(const char *key, const char *value, void *ctx)
{
	ms_docref *d = ctx;
	if (strcmp(key, "id") == 0)
		d->id = value;
	else if (strcmp(key, "sha") == 0)
		d->sha = value;
	else if (strcmp(key, "date") == 0)
		d->date = strtoll(value, NULL, 10);
}

ms_status_t ms_expire_docref(ms_expire *ex, const char *data, size_t len,
			     ms_docref *d)
{
	*d = (ms_docref){ "", "", 0 };
	ms_buf_reset(&ex->rec);
	if (ms_buf_append(&ex->rec, data, len) || ms_buf_putc(&ex->rec, 0))
		return ms_expire_fail(ex, MS_ERR_NOMEM, "out of memory");
	ms_record_parse(ex->rec.data, len, ref_field, d);
	return MS_OK;
}

ms_status_t ms_expire_open_shard(ms_expire *ex, const char *name, int writable,
				 ms_xdb **db_r)
{
	char *path = NULL, *err = NULL;
	*db_r = NULL;
	if (asprintf(&path, "%s/%s", ms_archive_shards_dir(ex->ar), name) < 0)
		return ms_expire_fail(ex, MS_ERR_NOMEM, "out of memory");
	const char *const paths[1] = { path };
	ms_status_t st = access(path, F_OK) != 0 ? MS_ERR_NOTFOUND
			 : writable ? ms_xdb_open_write(path, db_r, &err)
				    : ms_xdb_open_read(paths, 1, db_r, &err);
	if (st)
		ms_expire_fail(ex, st, "shard %s: %s", name,
			       err ? err : ms_status_str(st));
	free(err);
	free(path);
	return st;
}

/* The ids of the documents of db matching q, sorted. */
static ms_status_t query_ids(ms_expire *ex, ms_xdb *db, const ms_qnode *q,
			     ms_idset *set)
{
	ms_xresults *res = NULL;
	ms_status_t st = ms_xdb_search(db, q, 0, 0, &res);
	if (st)
		return ms_expire_fail(ex, st, "%s", ms_xdb_error(db));
	for (size_t i = 0; i < ms_xresults_size(res) && !st; i++) {
		size_t len;
		const char *data = ms_xresults_data(res, i, &len);
		ms_docref d;
		if (!(st = ms_expire_docref(ex, data, len, &d)) &&
		    (st = idset_add(set, d.id)))
			ms_expire_fail(ex, st, "out of memory");
	}
	ms_xresults_free(&res);
	if (!st && set->n)
		qsort(set->v, set->n, sizeof *set->v, cmp_str);
	return st;
}

/* One set per query of q[0..n) on db. */
static ms_status_t query_sets(ms_expire *ex, ms_xdb *db, ms_qnode *const *q,
			      size_t n, ms_idset **sets_r)
{
	ms_idset *sets = calloc(n + 1, sizeof *sets);
	ms_status_t st = sets ? MS_OK : MS_ERR_NOMEM;
	for (size_t i = 0; i < n && !st; i++)
		st = query_ids(ex, db, q[i], &sets[i]);
	if (st)
		ms_expire_sets_free(&sets, n);
	*sets_r = sets;
	return st;
}

ms_status_t ms_expire_hold_sets(ms_expire *ex, ms_xdb *db, ms_idset **sets_r)
{
	return query_sets(ex, db, ex->hold_q, ex->n_active, sets_r);
}

/* ---- begin / end ---- */

/* Makes room for n more active holds. */
static ms_status_t grow_holds(ms_expire *ex, size_t n)
{
	size_t want = ex->n_active + n + 1;
	ms_qnode **q = realloc(ex->hold_q, want * sizeof *q);
	if (q)
		ex->hold_q = q;
	const char **names =
		q ? realloc(ex->hold_names, want * sizeof *names) : NULL;
	if (names)
		ex->hold_names = names;
	return names ? MS_OK
		     : ms_expire_fail(ex, MS_ERR_NOMEM, "out of memory");
}

/* The name a hold is reported by: its own, or "SRC/NAME" (owned by the
 * run) for holds added from src. NULL when out of memory. */
static const char *hold_name(ms_expire *ex, const ms_hold *h, const char *src)
{
	char *nm = NULL, **v;
	if (!src)
		return h->name;
	v = realloc(ex->more_names, (ex->n_more_names + 1) * sizeof *v);
	if (!v)
		return NULL;
	ex->more_names = v;
	if (asprintf(&nm, "%s/%s", src, h->name) < 0)
		return NULL;
	return v[ex->n_more_names++] = nm;
}

/* Parses the queries of hs's active holds into the run (src: where they
 * come from, NULL for this archive's). A hold whose query no longer parses
 * stops the run: it must not silently hold nothing. */
static ms_status_t parse_holds(ms_expire *ex, const ms_holds *hs,
			       const char *src)
{
	ms_status_t st = grow_holds(ex, hs->n);
	for (size_t i = 0; i < hs->n && !st; i++) {
		const ms_hold *h = &hs->v[i];
		char *qerr = NULL;
		if (!ms_hold_active(h))
			continue;
		const char *nm = hold_name(ex, h, src);
		if (!nm)
			return ms_expire_fail(ex, MS_ERR_NOMEM,
					      "out of memory");
		st = ms_query_parse(h->query, &ex->hold_q[ex->n_active], &qerr);
		if (st)
			ms_expire_fail(ex, MS_ERR_CORRUPT,
				       "hold %s: its query does not parse: %s",
				       nm, qerr ? qerr : ms_status_str(st));
		free(qerr);
		if (st)
			return MS_ERR_CORRUPT;
		ex->hold_names[ex->n_active++] = nm;
	}
	return st;
}

ms_status_t ms_expire_add_holds(ms_expire *ex, const char *src,
				const char *text, size_t len)
{
	ms_holds *hs = NULL,
		 **v = realloc(ex->more, (ex->n_more + 1) * sizeof *v);
	char *err = NULL, *copy = malloc(len + 1), *where = NULL;
	ms_status_t st = v && copy && asprintf(&where, "holds of %s", src) >= 0
				 ? MS_OK
				 : MS_ERR_NOMEM;
	if (v)
		ex->more = v;
	if (!st) {
		memcpy(copy, text, len);
		copy[len] = '\0';
		st = ms_holds_parse(copy, len, where, &hs, &err);
	}
	if (st)
		ms_expire_fail(ex, st, "%s", err ? err : ms_status_str(st));
	else
		ex->more[ex->n_more++] = hs;
	st = st ? st : parse_holds(ex, hs, src);
	free(err);
	free(copy);
	free(where);
	return st;
}

/* The locks, the holds, the clean-up; errors on the handle. */
static ms_status_t begin(ms_expire *ex)
{
	char *err = NULL;
	ms_status_t st = ms_holds_lock(ex->dir, &ex->holds_fd, &err);
	if (!st && (st = ms_archive_lock_all(ex->ar)))
		ms_expire_fail(ex, st, "%s", ms_archive_error(ex->ar));
	else if (!st && (st = ms_holds_load(ex->dir, &ex->holds, &err)))
		ms_expire_fail(ex, st, "%s", err ? err : ms_status_str(st));
	else if (!st && !(st = parse_holds(ex, ex->holds, NULL)) &&
		 (st = ms_archive_clean_dropped(ex->ar)))
		ms_expire_fail(ex, st, "%s", ms_archive_error(ex->ar));
	else if (err)
		ms_expire_fail(ex, st, "%s", err);
	free(err);
	return st;
}

ms_status_t ms_expire_begin(ms_archive *ar, const char *dir, ms_expire **ex_r,
			    char **err_r)
{
	ms_expire *ex = calloc(1, sizeof *ex);
	*ex_r = NULL;
	if (err_r)
		*err_r = NULL;
	if (!ex)
		return MS_ERR_NOMEM;
	ex->ar = ar;
	ex->holds_fd = -1;
	ex->store = ms_archive_store(ar);
	ms_status_t st = (ex->dir = strdup(dir)) ? begin(ex) : MS_ERR_NOMEM;
	if (st) {
		if (err_r)
			*err_r = strdup(ex->err.data ? ex->err.data
						     : ms_status_str(st));
		ms_expire_end(&ex);
		return st;
	}
	*ex_r = ex;
	return MS_OK;
}

void ms_expire_end(ms_expire **exp)
{
	ms_expire *ex = *exp;
	if (!ex)
		return;
	ms_archive_unlock_all(ex->ar);
	if (ex->holds_fd >= 0)
		close(ex->holds_fd);
	for (size_t i = 0; ex->hold_q && i < ex->n_active; i++)
		ms_query_free(&ex->hold_q[i]);
	free(ex->hold_q);
	free(ex->hold_names);
	ms_holds_free(&ex->holds);
	for (size_t i = 0; i < ex->n_more; i++)
		ms_holds_free(&ex->more[i]);
	for (size_t i = 0; i < ex->n_more_names; i++)
		free(ex->more_names[i]);
	free(ex->more);
	free(ex->more_names);
	ms_buf_free(&ex->err);
	ms_buf_free(&ex->rec);
	free(ex->dir);
	free(ex);
	*exp = NULL;
}

/* ---- plans ---- */

void ms_expire_plan_free(ms_expire_plan **pp)
{
	ms_expire_plan *p = *pp;
	if (!p)
		return;
	for (size_t i = 0; p->hold_names && i < p->n_holds; i++)
		free(p->hold_names[i]);
	free(p->hold_names);
	free(p->held);
	free(p->by_rule);
	free(p->items);
	free(p);
	*pp = NULL;
}

const char **ms_expire_plan_ids(const ms_expire_plan *p)
{
	const char **ids = calloc(p->n_items + 1, sizeof *ids);
	for (size_t i = 0; ids && i < p->n_items; i++)
		ids[i] = p->items[i].id;
	return ids;
}

/* A new, empty plan for n_rules rules and the run's active holds. */
static ms_expire_plan *plan_new(ms_expire *ex, size_t n_rules, int64_t now)
{
	ms_expire_plan *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->now = now;
	p->n_rules = n_rules;
	p->n_holds = ex->n_active;
	p->by_rule = calloc(n_rules + 1, sizeof *p->by_rule);
	p->held = calloc(ex->n_active + 1, sizeof *p->held);
	p->hold_names = calloc(ex->n_active + 1, sizeof *p->hold_names);
	int ok = p->by_rule && p->held && p->hold_names;
	for (size_t i = 0; ok && i < ex->n_active; i++)
		ok = (p->hold_names[i] = strdup(ex->hold_names[i])) != NULL;
	if (!ok)
		ms_expire_plan_free(&p);
	return p;
}

/* Planning one shard. */
typedef struct plan_ctx {
	ms_expire *ex;
	const ms_retention *r;
	ms_expire_plan *p;
	const char *shard;
	ms_idset *rules, *holds;
	unsigned char *matched;
	size_t cap;
} plan_ctx;

static ms_status_t push_item(plan_ctx *pc, const ms_docref *d, long rule)
{
	ms_expire_plan *p = pc->p;
	if (p->n_items == pc->cap) {
		size_t nc = pc->cap ? 2 * pc->cap : 256;
		ms_expire_item *nv = realloc(p->items, nc * sizeof *nv);
		if (!nv)
			return ms_expire_fail(pc->ex, MS_ERR_NOMEM,
					      "out of memory");
		p->items = nv;
		pc->cap = nc;
	}
	ms_expire_item *it = &p->items[p->n_items++];
	snprintf(it->id, sizeof it->id, "%s", d->id);
	snprintf(it->sha, sizeof it->sha, "%s", d->sha);
	snprintf(it->shard, sizeof it->shard, "%s", pc->shard);
	it->rule = rule;
	p->by_rule[rule < 0 ? p->n_rules : (size_t)rule]++;
	return MS_OK;
}

/* Decides one document of the shard. */
static ms_status_t plan_doc(const char *data, size_t len, void *ctx)
{
	plan_ctx *pc = ctx;
	ms_expire_plan *p = pc->p;
	ms_docref d;
	ms_status_t st = ms_expire_docref(pc->ex, data, len, &d);
	char when[MS_SHARD_NAME_MAX];
	if (st)
		return st;
	p->examined++;
	ms_shard_name(d.date, MS_SHARD_BY_MONTH, when);
	if (strcmp(when, "undated") == 0 || !*d.id) {
		p->undated++;
		return MS_OK;
	}
	for (size_t i = 0; i < pc->r->n_rules; i++)
		pc->matched[i] =
			(unsigned char)ms_idset_has(&pc->rules[i], d.id);
	int64_t cut;
	long rule = ms_retention_pick(pc->r, pc->matched, p->now, &cut);
	if (!(d.date < cut))
		return MS_OK;
	int held = 0;
	for (size_t j = 0; j < p->n_holds; j++) {
		if (ms_idset_has(&pc->holds[j], d.id)) {
			p->held[j]++;
			held = 1;
		}
	}
	if (held) {
		p->held_total++;
		return MS_OK;
	}
	return push_item(pc, &d, rule);
}

static int cmp_item_id(const void *a, const void *b)
{
	return strcmp(((const ms_expire_item *)a)->id,
		      ((const ms_expire_item *)b)->id);
}

/* Plans shard name (db open on it alone). */
static ms_status_t plan_shard(plan_ctx *pc, ms_xdb *db)
{
	ms_expire *ex = pc->ex;
	ms_qnode **rq = calloc(pc->r->n_rules + 1, sizeof *rq);
	if (!rq)
		return ms_expire_fail(ex, MS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < pc->r->n_rules; i++)
		rq[i] = pc->r->rules[i].query;
	size_t first = pc->p->n_items;
	ms_status_t st = query_sets(ex, db, rq, pc->r->n_rules, &pc->rules);
	if (!st)
		st = ms_expire_hold_sets(ex, db, &pc->holds);
	if (!st && (st = ms_xdb_each(db, plan_doc, pc)) && *ms_xdb_error(db))
		ms_expire_fail(ex, st, "shard %s: %s", pc->shard,
			       ms_xdb_error(db));
	if (!st && pc->p->n_items > first)
		qsort(pc->p->items + first, pc->p->n_items - first,
		      sizeof *pc->p->items, cmp_item_id);
	ms_expire_sets_free(&pc->rules, pc->r->n_rules);
	ms_expire_sets_free(&pc->holds, ex->n_active);
	free(rq);
	return st;
}

/* The latest cutoff of any period: nothing dated from it on expires. */
static int64_t latest_cutoff(const ms_retention *r, int64_t now)
{
	int64_t c = ms_period_cutoff(&r->def, now);
	for (size_t i = 0; i < r->n_rules; i++) {
		int64_t k = ms_period_cutoff(&r->rules[i].period, now);
		c = k > c ? k : c;
	}
	return c;
}

/* Plans one shard, or just counts it when nothing in it can expire. */
static ms_status_t plan_one(plan_ctx *pc, int64_t latest)
{
	ms_xdb *db = NULL;
	ms_status_t st = ms_expire_open_shard(pc->ex, pc->shard, 0, &db);
	if (st)
		return st;
	uint64_t docs = 0;
	if (latest == MS_PERIOD_FOREVER ||
	    !ms_shard_overlaps(pc->shard, INT64_MIN, latest - 1)) {
		if ((st = ms_xdb_doccount(db, &docs)))
			ms_expire_fail(pc->ex, st, "shard %s: %s", pc->shard,
				       ms_xdb_error(db));
		pc->p->examined += docs;
	} else {
		st = plan_shard(pc, db);
	}
	ms_xdb_close(&db);
	return st;
}

ms_status_t ms_expire_decide(ms_expire *ex, const ms_retention *r, int64_t now,
			     ms_expire_plan **plan_r)
{
	char **names = NULL;
	size_t n = 0;
	plan_ctx pc = { .ex = ex, .r = r };
	*plan_r = NULL;
	if (ms_shard_list(ms_archive_shards_dir(ex->ar), &names, &n))
		return ms_expire_fail(ex, MS_ERR_IO, "%s: cannot list shards",
				      ms_archive_shards_dir(ex->ar));
	pc.p = plan_new(ex, r->n_rules, now);
	pc.matched = calloc(r->n_rules + 1, 1);
	ms_status_t st = pc.p && pc.matched ? MS_OK
					    : ms_expire_fail(ex, MS_ERR_NOMEM,
							     "out of memory");
	int64_t latest = latest_cutoff(r, now);
	for (size_t i = 0; i < n && !st; i++) {
		pc.shard = names[i];
		st = plan_one(&pc, latest);
	}
	free(pc.matched);
	ms_shard_list_free(&names);
	if (st)
		ms_expire_plan_free(&pc.p);
	*plan_r = pc.p;
	return st;
}
