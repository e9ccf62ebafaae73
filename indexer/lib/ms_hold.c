/* ms_hold.c - legal holds in DIR/holds (see ms_hold.h).
 *
 * Functions: ms_holds_load, ms_holds_free, ms_holds_find, ms_hold_active,
 * ms_hold_name_check, ms_hold_add, ms_hold_release, ms_holds_lock,
 * ms_holds_format, ms_holds_parse. A change is: lock (LOCK_EX on
 * holds.lock, waiting up to MS_HOLD_WAIT s), read the file, check, call the
 * caller's before() hook, write the whole file anew (ms_file_replace),
 * unlock.
 */
#include "ms_hold.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ms_file.h"
#include "ms_query.h"
#include "ms_record.h"

#define HOLDS_FILE   "holds"
#define HOLDS_LOCK   "holds.lock"
#define HOLDS_FORMAT "1"

/* Sets *err_r (printf-style) and returns st. */
static ms_status_t hold_fail(char **err_r, ms_status_t st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static ms_status_t hold_fail(char **err_r, ms_status_t st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err_r && vasprintf(err_r, fmt, ap) < 0)
		*err_r = NULL;
	va_end(ap);
	return st;
}

/* ---- the list ---- */

static void hold_clear(ms_hold *h)
{
	free(h->name);
	free(h->query);
	free(h->reason);
	free(h->by);
	free(h->released_by);
	free(h->release_reason);
	memset(h, 0, sizeof *h);
}

void ms_holds_free(ms_holds **hp)
{
	ms_holds *h = *hp;
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		hold_clear(&h->v[i]);
	free(h->v);
	free(h);
	*hp = NULL;
}

const ms_hold *ms_holds_find(const ms_holds *h, const char *name)
{
	for (size_t i = 0; h && i < h->n; i++)
		if (strcmp(h->v[i].name, name) == 0)
			return &h->v[i];
	return NULL;
}

int ms_hold_active(const ms_hold *h)
{
	return h->released_at == 0;
}

/* Copies src (NULL = "") into a new hold slot at the end of h. */
static ms_status_t push_hold(ms_holds *h, const ms_hold *src)
{
	ms_hold *nv = realloc(h->v, (h->n + 1) * sizeof *nv);
	if (!nv)
		return MS_ERR_NOMEM;
	h->v = nv;
	ms_hold *d = &h->v[h->n];
	const char *s[6] = { src->name, src->query,	  src->reason,
			     src->by,	src->released_by, src->release_reason };
	char **t[6] = { &d->name, &d->query,	   &d->reason,
			&d->by,	  &d->released_by, &d->release_reason };
	memset(d, 0, sizeof *d);
	for (int i = 0; i < 6; i++)
		if (!(*t[i] = strdup(s[i] ? s[i] : ""))) {
			hold_clear(d);
			return MS_ERR_NOMEM;
		}
	d->at = src->at;
	d->released_at = src->released_at;
	h->n++;
	return MS_OK;
}

ms_status_t ms_hold_name_check(const char *name, ms_buf *why)
{
	size_t n = strlen(name);
	const char *bad = NULL;
	if (n == 0)
		bad = "empty name";
	else if (n > MS_HOLD_NAME_MAX)
		bad = "name longer than 64 bytes";
	else if (name[0] == '.' || name[0] == '-')
		bad = "name starts with '.' or '-'";
	else if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			      "wxyz0123456789._-") != n)
		bad = "use only letters, digits, '.', '_' and '-'";
	if (bad && why)
		ms_buf_puts(why, bad);
	return bad ? MS_ERR_INVALID : MS_OK;
}

/* ---- the file format ---- */

static ms_status_t put_num(ms_buf *b, const char *key, int64_t v)
{
	char num[24];
	snprintf(num, sizeof num, "%" PRId64, v);
	return ms_record_put(b, key, num);
}

ms_status_t ms_holds_format(const ms_holds *h, ms_buf *out)
{
	ms_status_t st = ms_record_put(out, "format", HOLDS_FORMAT);
	for (size_t i = 0; i < h->n && !st; i++) {
		const ms_hold *x = &h->v[i];
		st = ms_buf_putc(out, '\n');
		st = st ? st : ms_record_put(out, "name", x->name);
		st = st ? st : ms_record_put(out, "query", x->query);
		st = st ? st : ms_record_put(out, "reason", x->reason);
		st = st ? st : ms_record_put(out, "by", x->by);
		st = st ? st : put_num(out, "at", x->at);
		if (st || !x->released_at)
			continue;
		st = ms_record_put(out, "released_by", x->released_by);
		st = st ? st : put_num(out, "released_at", x->released_at);
		st = st ? st
			: ms_record_put(out, "release_reason",
					x->release_reason);
	}
	return st;
}

/* One block being parsed: pointers into the text. */
typedef struct block {
	ms_hold h;
	const char *format;
} block;

static void block_field(const char *key, const char *value, void *ctx)
{
	block *b = ctx;
	static const struct {
		const char *key;
		size_t off;
	} map[] = {
		{ "name", offsetof(ms_hold, name) },
		{ "query", offsetof(ms_hold, query) },
		{ "reason", offsetof(ms_hold, reason) },
		{ "by", offsetof(ms_hold, by) },
		{ "released_by", offsetof(ms_hold, released_by) },
		{ "release_reason", offsetof(ms_hold, release_reason) },
	};
	if (strcmp(key, "format") == 0)
		b->format = value;
	else if (strcmp(key, "at") == 0)
		b->h.at = strtoll(value, NULL, 10);
	else if (strcmp(key, "released_at") == 0)
		b->h.released_at = strtoll(value, NULL, 10);
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(key, map[i].key) == 0)
			*(const char **)((char *)&b->h + map[i].off) = value;
}

/* Adds the hold in block b (number k, 1-based) to h after checking it. */
static ms_status_t take_block(ms_holds *h, block *b, size_t k,
			      const char *where, char **err_r)
{
	if (k == 1) {
		if (b->format && strcmp(b->format, HOLDS_FORMAT) == 0)
			return MS_OK;
		return hold_fail(err_r, MS_ERR_CORRUPT,
				 "%s: not a holds file of format %s", where,
				 HOLDS_FORMAT);
	}
	if (!b->h.name || !*b->h.name || !b->h.query)
		return hold_fail(err_r, MS_ERR_CORRUPT,
				 "%s: hold %zu has no name or no query", where,
				 k - 1);
	if (ms_holds_find(h, b->h.name))
		return hold_fail(err_r, MS_ERR_CORRUPT,
				 "%s: two holds named %s", where, b->h.name);
	return push_hold(h, &b->h) ? MS_ERR_NOMEM : MS_OK;
}

ms_status_t ms_holds_parse(char *text, size_t len, const char *where,
			   ms_holds **h_r, char **err_r)
{
	ms_holds *h = calloc(1, sizeof *h);
	ms_status_t st = h ? MS_OK : MS_ERR_NOMEM;
	char *p = text, *end = text + len;
	for (size_t k = 1; !st && p < end; k++) {
		char *sep = strstr(p, "\n\n");
		char *stop = sep ? sep + 1 : end;
		block b = { { 0 }, NULL };
		ms_record_parse(p, (size_t)(stop - p), block_field, &b);
		st = take_block(h, &b, k, where, err_r);
		p = sep ? sep + 2 : end;
	}
	if (!st && len == 0)
		st = MS_OK; /* an empty file: no holds */
	if (st)
		ms_holds_free(&h);
	*h_r = h;
	return st;
}

static char *dir_file(const char *dir, const char *name)
{
	char *p = NULL;
	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

ms_status_t ms_holds_load(const char *dir, ms_holds **h_r, char **err_r)
{
	char *path = dir_file(dir, HOLDS_FILE);
	ms_buf text = MS_BUF_INIT;
	*h_r = NULL;
	if (err_r)
		*err_r = NULL;
	if (!path)
		return MS_ERR_NOMEM;
	ms_status_t st = ms_file_read(path, MS_HOLDS_MAX_FILE, &text, err_r);
	if (st == MS_ERR_NOTFOUND) {
		st = (*h_r = calloc(1, sizeof **h_r)) ? MS_OK : MS_ERR_NOMEM;
	} else if (!st) {
		st = ms_holds_parse(text.data ? text.data : (char[]){ 0 },
				    text.len, path, h_r, err_r);
	}
	ms_buf_free(&text);
	free(path);
	return st;
}

/* ---- locking and writing ---- */

/* Opens DIR/holds.lock (creating DIR if write) and takes flock op,
 * waiting up to MS_HOLD_WAIT seconds. */
static ms_status_t take_lock(const char *dir, int op, int *fd_r, char **err_r)
{
	char *path = dir_file(dir, HOLDS_LOCK);
	*fd_r = -1;
	if (!path)
		return MS_ERR_NOMEM;
	if (op == LOCK_EX && mkdir(dir, 0750) != 0 && errno != EEXIST) {
		free(path);
		return hold_fail(err_r, MS_ERR_IO, "%s: %s", dir,
				 strerror(errno));
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	ms_status_t st = fd < 0 ? hold_fail(err_r, MS_ERR_IO, "%s: %s", path,
					    strerror(errno))
				: MS_OK;
	for (int i = 0; !st && flock(fd, op | LOCK_NB) != 0; i++) {
		if (errno != EWOULDBLOCK)
			st = hold_fail(err_r, MS_ERR_IO, "%s: flock: %s", path,
				       strerror(errno));
		else if (i >= MS_HOLD_WAIT * 10)
			st = hold_fail(err_r, MS_ERR_BUSY,
				       "the holds are in use (by a running "
				       "mailsift expire?); retry when it is "
				       "done");
		else
			nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	}
	if (st && fd >= 0)
		close(fd);
	else
		*fd_r = fd;
	free(path);
	return st;
}

ms_status_t ms_holds_lock(const char *dir, int *fd_r, char **err_r)
{
	if (err_r)
		*err_r = NULL;
	return take_lock(dir, LOCK_SH, fd_r, err_r);
}

static ms_status_t write_holds(const char *dir, const ms_holds *h, char **err_r)
{
	ms_buf text = MS_BUF_INIT;
	char *path = dir_file(dir, HOLDS_FILE);
	ms_status_t st = path ? ms_holds_format(h, &text) : MS_ERR_NOMEM;
	if (!st)
		st = ms_file_replace(path, text.data, text.len, 0640, err_r);
	ms_buf_free(&text);
	free(path);
	return st;
}

/* A change in progress: the lock and the list read under it. */
typedef struct change {
	int fd;
	ms_holds *h;
} change;

static ms_status_t change_begin(const char *dir, change *c, char **err_r)
{
	c->h = NULL;
	ms_status_t st = take_lock(dir, LOCK_EX, &c->fd, err_r);
	if (!st && (st = ms_holds_load(dir, &c->h, err_r)))
		close(c->fd);
	return st;
}

/* Calls before() on h, then writes; ends the change (unlocks). */
static ms_status_t change_end(const char *dir, change *c, const ms_hold *h,
			      ms_hold_before_fn before, void *ctx, char **err_r)
{
	ms_status_t st = MS_OK;
	if (before && before(h, ctx))
		st = hold_fail(err_r, MS_ERR_LIMIT, "hold %s: not changed",
			       h->name);
	if (!st)
		st = write_holds(dir, c->h, err_r);
	ms_holds_free(&c->h);
	close(c->fd);
	return st;
}

static void change_abort(change *c)
{
	ms_holds_free(&c->h);
	close(c->fd);
}

/* Checks a new hold's fields (not its uniqueness). */
static ms_status_t check_new(const ms_hold *h, char **err_r)
{
	ms_buf why = MS_BUF_INIT;
	ms_status_t st = ms_hold_name_check(h->name, &why);
	if (st)
		hold_fail(err_r, st, "bad hold name '%.*s': %s",
			  MS_HOLD_NAME_MAX, h->name, why.data);
	ms_buf_free(&why);
	if (!st && h->reason && strlen(h->reason) > MS_HOLD_REASON_MAX)
		st = hold_fail(err_r, MS_ERR_INVALID,
			       "reason longer than %d bytes",
			       MS_HOLD_REASON_MAX);
	ms_qnode *q = NULL;
	char *qerr = NULL;
	if (!st && (st = ms_query_parse(h->query ? h->query : "", &q, &qerr)))
		hold_fail(err_r, st, "bad query: %s",
			  qerr ? qerr : ms_status_str(st));
	ms_query_free(&q);
	free(qerr);
	return st;
}

ms_status_t ms_hold_add(const char *dir, const ms_hold *h,
			ms_hold_before_fn before, void *ctx, char **err_r)
{
	change c;
	if (err_r)
		*err_r = NULL;
	ms_status_t st = check_new(h, err_r);
	if (st || (st = change_begin(dir, &c, err_r)))
		return st;
	const ms_hold *old = ms_holds_find(c.h, h->name);
	ms_hold add = *h;
	add.released_at = 0;
	add.released_by = add.release_reason = NULL;
	if (old)
		st = hold_fail(err_r, MS_ERR_INVALID,
			       "a hold named %s already exists%s", h->name,
			       ms_hold_active(old) ? "" : " (released)");
	else
		st = push_hold(c.h, &add);
	if (st) {
		change_abort(&c);
		return st;
	}
	return change_end(dir, &c, &c.h->v[c.h->n - 1], before, ctx, err_r);
}

ms_status_t ms_hold_release(const char *dir, const char *name, const char *by,
			    int64_t at, const char *reason,
			    ms_hold_before_fn before, void *ctx, char **err_r)
{
	change c;
	if (err_r)
		*err_r = NULL;
	if (!reason || !*reason)
		return hold_fail(err_r, MS_ERR_INVALID,
				 "a release needs a reason (--reason TEXT)");
	if (strlen(reason) > MS_HOLD_REASON_MAX)
		return hold_fail(err_r, MS_ERR_INVALID,
				 "reason longer than %d bytes",
				 MS_HOLD_REASON_MAX);
	ms_status_t st = change_begin(dir, &c, err_r);
	if (st)
		return st;
	ms_hold *x = (ms_hold *)ms_holds_find(c.h, name);
	if (!x || !ms_hold_active(x)) {
		change_abort(&c);
		return x ? hold_fail(err_r, MS_ERR_INVALID,
				     "hold %s was already released", name)
			 : hold_fail(err_r, MS_ERR_NOTFOUND, "no hold named %s",
				     name);
	}
	char *rb = strdup(by ? by : ""), *rr = strdup(reason);
	if (!rb || !rr) {
		free(rb);
		free(rr);
		change_abort(&c);
		return MS_ERR_NOMEM;
	}
	free(x->released_by);
	free(x->release_reason);
	x->released_by = rb;
	x->release_reason = rr;
	x->released_at = at > 0 ? at : 1;
	return change_end(dir, &c, x, before, ctx, err_r);
}
