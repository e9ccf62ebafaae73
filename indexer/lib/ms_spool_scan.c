/* ms_spool_scan.c - the reader side of spool segments: which entries are
 * ready, reading one, marking entries archived, retiring segments.
 *
 * Functions: ms_seg_name_parse, ms_seg_list, ms_seg_read, ms_seg_remove,
 * ms_seg_quarantine, ms_seg_backlog, ms_seg_close_readers.
 *
 * The handle keeps a table of the segments in seg/ (under rmu): how far
 * each was walked, its entries and whether each was handed out or is
 * done. An entry is ready once a commit entry covers it (in the boot that
 * wrote it; after a reboot every intact entry is). A segment whose flock
 * we can take has no writer left: walked to its end, the entries no
 * commit covers are dropped (never answered) and, once every other one is
 * done, the segment and its NAME.done file are removed. NAME.done holds
 * the offset before which every entry is archived (written on each synced
 * remove, not flushed: losing it only means archiving again, which is
 * idempotent); the space before it is given back (hole punching) while
 * the writer still appends. Entry names are "SEGMENT/OFFSET".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_spool_int.h"

#define E_NEW  0 /* ready or not, never handed out */
#define E_OUT  1 /* handed out by a listing */
#define E_DONE 2 /* archived (or dropped) */
#define PAGE   4096

typedef struct seg_ent {
	uint64_t off, len;
	int state;
} seg_ent;

struct ms_seg_r {
	char name[MS_SEG_NAME_MAX];
	int fd;
	int bad; /* no valid segment header */
	int sealed;
	time_t created;
	ms_seg_walk w;
	seg_ent *e;
	size_t n, cap, first; /* first: the first entry not done */
	uint64_t done_mark, punched;
	int dirty, seen;
	ms_seg_r *next;
};

int ms_seg_name_parse(const char *name, char seg_r[MS_SEG_NAME_MAX],
		      uint64_t *off_r)
{
	const char *sl = name ? strchr(name, '/') : NULL;
	size_t n = sl ? (size_t)(sl - name) : 0;
	if (!sl || n == 0 || n >= MS_SEG_NAME_MAX || name[0] == '.' ||
	    strspn(name, "0123456789abcdef-") != n || !sl[1] ||
	    strspn(sl + 1, "0123456789") != strlen(sl + 1) ||
	    strlen(sl + 1) > 15)
		return 0;
	memcpy(seg_r, name, n);
	seg_r[n] = '\0';
	*off_r = strtoull(sl + 1, NULL, 10);
	return 1;
}

static int seg_file_name_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < MS_SEG_NAME_MAX && s[0] != '.' &&
	       strspn(s, "0123456789abcdef-") == n;
}

static long rd_fd(void *src, uint64_t off, void *buf, size_t n)
{
	ssize_t k;
	do
		k = pread(*(int *)src, buf, n, (off_t)off);
	while (k < 0 && errno == EINTR);
	return (long)k;
}

static void on_msg(void *ctx, uint64_t off, uint64_t len)
{
	ms_seg_r *r = ctx;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		seg_ent *v = reallocarray(r->e, cap, sizeof *v);
		if (!v) {
			r->w.stuck = 1; /* walked again later */
			return;
		}
		r->e = v;
		r->cap = cap;
	}
	r->e[r->n++] =
		(seg_ent){ off, len, off < r->done_mark ? E_DONE : E_NEW };
}

/* ---- the table ---- */

static void seg_free(ms_seg_r *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->e);
	free(r);
}

/* NAME.done's offset, or 0. */
static uint64_t read_done(ms_spool *sp, const char *name)
{
	char *p = NULL, buf[32];
	if (asprintf(&p, "%s/seg/%s.done", sp->dir, name) < 0)
		return 0;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return 0;
	ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[k > 0 ? k : 0] = '\0';
	return strtoull(buf, NULL, 10);
}

static ms_seg_r *seg_open(ms_spool *sp, const char *name)
{
	ms_seg_r *r = calloc(1, sizeof *r);
	char *p = ms_spool_path(sp->dir, "seg", name);
	if (!r || !p) {
		free(r);
		free(p);
		return NULL;
	}
	snprintf(r->name, sizeof r->name, "%s", name);
	r->fd = open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd < 0 && errno == EACCES)
		r->fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(p);
	unsigned char h[MS_SEG_HDR];
	char boot[MS_SEG_BOOT + 1];
	uint64_t created = 0;
	if (r->fd < 0) {
		free(r);
		return NULL;
	}
	if (pread(r->fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
	    ms_seg_get_header(h, sizeof h, boot, &created) < 0)
		r->bad = 1;
	else
		r->w.strict = sp->boot[0] && strcmp(boot, sp->boot) == 0;
	r->created = (time_t)created;
	/* the mark is an entry boundary; the space before it may be a hole */
	r->done_mark = read_done(sp, name);
	r->w.off = r->done_mark > MS_SEG_HDR ? r->done_mark : MS_SEG_HDR;
	r->w.on_msg = on_msg;
	r->w.ctx = r;
	return r;
}

/* The table's entry for name (opened and put in name order if new). */
static ms_seg_r *seg_get(ms_spool *sp, const char *name)
{
	ms_seg_r **pp = &sp->segs;
	while (*pp && strcmp((*pp)->name, name) < 0)
		pp = &(*pp)->next;
	if (*pp && strcmp((*pp)->name, name) == 0)
		return *pp;
	ms_seg_r *r = seg_open(sp, name);
	if (r) {
		r->next = *pp;
		*pp = r;
	}
	return r;
}

static void seg_drop(ms_spool *sp, ms_seg_r *r)
{
	for (ms_seg_r **pp = &sp->segs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			seg_free(r);
			return;
		}
	}
}

static int ent_ready(const ms_seg_r *r, const seg_ent *x)
{
	return !r->w.strict || x->off + x->len <= r->w.proven;
}

static void advance_first(ms_seg_r *r)
{
	while (r->first < r->n && r->e[r->first].state == E_DONE)
		r->first++;
	uint64_t mark = r->first < r->n ? r->e[r->first].off : r->w.off;
	if (mark > r->done_mark) {
		r->done_mark = mark;
		r->dirty = 1;
	}
}

/* Walks r further; a segment without writer is walked to its end and its
 * entries no commit covers are dropped. */
static void seg_scan(ms_seg_r *r)
{
	if (r->bad)
		return;
	if (!r->sealed && flock(r->fd, LOCK_EX | LOCK_NB) == 0)
		r->sealed = 1;
	struct stat st;
	if (fstat(r->fd, &st) < 0)
		return;
	ms_seg_walk_run(&r->w, rd_fd, &r->fd, (uint64_t)st.st_size);
	if (!r->sealed)
		return;
	for (size_t i = r->first; i < r->n; i++)
		if (!ent_ready(r, &r->e[i]))
			r->e[i].state = E_DONE;
	advance_first(r);
}

/* Whether r is finished (no writer, every entry done). */
static int seg_finished(const ms_seg_r *r)
{
	return r->sealed && !r->bad && r->first == r->n;
}

/* Removes a finished segment and its .done file; 1 if removed. */
static int seg_retire(ms_spool *sp, ms_seg_r *r)
{
	char *p = ms_spool_path(sp->dir, "seg", r->name), *d = NULL;
	if (!p || asprintf(&d, "%s.done", p) < 0) {
		free(p);
		return 0;
	}
	int ok = unlink(p) == 0 || errno == ENOENT;
	if (ok)
		unlink(d);
	free(p);
	free(d);
	if (ok)
		seg_drop(sp, r);
	return ok;
}

/* Records the done mark in NAME.done and gives back the space before it:
 * readers start walking at the mark, so it is flushed before the hole is
 * made (a hole before a mark that a crash lost would hide entries). */
static void seg_write_done(ms_spool *sp, ms_seg_r *r)
{
	char *p = NULL, buf[32];
	r->dirty = 0;
	if (asprintf(&p, "%s/seg/%s.done", sp->dir, r->name) < 0)
		return;
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0660);
	free(p);
	int n = snprintf(buf, sizeof buf, "%020" PRIu64 "\n", r->done_mark);
	int ok = fd >= 0 && pwrite(fd, buf, (size_t)n, 0) == n &&
		 fdatasync(fd) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok) {
		r->dirty = 1;
		return;
	}
	uint64_t upto = r->done_mark / PAGE * PAGE;
	if (upto > PAGE && upto > r->punched &&
	    fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE,
		      (off_t)(upto - PAGE)) == 0)
		r->punched = upto;
}

/* ---- listing ---- */

typedef struct names {
	char ***v;
	size_t *n, *cap;
} names;

static int push_name(names *nm, const ms_seg_r *r, uint64_t off)
{
	if (*nm->n + 1 >= *nm->cap) {
		size_t cap = *nm->cap ? 2 * *nm->cap : 64;
		char **v = reallocarray(*nm->v, cap, sizeof *v);
		if (!v)
			return -1;
		*nm->v = v;
		*nm->cap = cap;
	}
	char *s = NULL;
	if (asprintf(&s, "%s/%" PRIu64, r->name, off) < 0)
		return -1;
	(*nm->v)[(*nm->n)++] = s;
	(*nm->v)[*nm->n] = NULL;
	return 0;
}

/* Moves a segment that is not one (bad header, no writer) to bad/. */
static void seg_quarantine_file(ms_spool *sp, ms_seg_r *r)
{
	if (flock(r->fd, LOCK_EX | LOCK_NB) != 0)
		return;
	char *from = ms_spool_path(sp->dir, "seg", r->name);
	char *to = ms_spool_path(sp->dir, "bad", r->name);
	char *why = NULL;
	if (from && to && asprintf(&why, "%s.why", to) >= 0) {
		FILE *f = fopen(why, "w");
		if (f) {
			fputs("not a spool segment (bad header)\n", f);
			fclose(f);
		}
		if (rename(from, to) == 0)
			seg_drop(sp, r);
	}
	free(from);
	free(to);
	free(why);
}

/* Walks r and hands out its ready entries (only new ones if only_new). */
static int seg_list_one(ms_spool *sp, ms_seg_r *r, int only_new, names *nm)
{
	seg_scan(r);
	if (r->bad) {
		seg_quarantine_file(sp, r);
		return 0;
	}
	for (size_t i = r->first; i < r->n; i++) {
		seg_ent *x = &r->e[i];
		if (x->state == E_DONE || !ent_ready(r, x) ||
		    (only_new && x->state == E_OUT))
			continue;
		if (push_name(nm, r, x->off) < 0)
			return -1;
		x->state = E_OUT;
	}
	if (seg_finished(r) && seg_retire(sp, r)) {
		char *d = ms_spool_path(sp->dir, "seg", NULL);
		if (d)
			ms_spool_sync_dir(d);
		free(d);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment file names in seg/, sorted (oldest first). */
static ms_status_t seg_names(ms_spool *sp, char ***v_r, size_t *n_r)
{
	char *dir = ms_spool_path(sp->dir, "seg", NULL);
	DIR *d = dir ? opendir(dir) : NULL;
	free(dir);
	*v_r = NULL;
	*n_r = 0;
	if (!d)
		return errno == ENOENT ? MS_OK : MS_ERR_IO;
	struct dirent *de;
	size_t n = 0, cap = 0;
	char **v = NULL;
	ms_status_t st = MS_OK;
	while (!st && (de = readdir(d)) != NULL) {
		if (!seg_file_name_ok(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **nv = reallocarray(v, cap, sizeof *nv);
			if (!nv) {
				st = MS_ERR_NOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name)))
			st = MS_ERR_NOMEM;
		else
			n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_str);
	*v_r = v;
	*n_r = n;
	return st;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Forgets table entries whose file is gone (r->seen not set). */
static void drop_unseen(ms_spool *sp)
{
	for (ms_seg_r *r = sp->segs, *nx; r; r = nx) {
		nx = r->next;
		if (!r->seen)
			seg_drop(sp, r);
		else
			r->seen = 0;
	}
}

ms_status_t ms_seg_list(ms_spool *sp, int only_new, char ***v, size_t *n,
			size_t *cap)
{
	char **segs;
	size_t n_segs;
	ms_status_t st = seg_names(sp, &segs, &n_segs);
	names nm = { v, n, cap };
	pthread_mutex_lock(&sp->rmu);
	for (size_t i = 0; !st && i < n_segs; i++) {
		ms_seg_r *r = seg_get(sp, segs[i]);
		if (r)
			r->seen = 1;
		if (r && seg_list_one(sp, r, only_new, &nm) < 0)
			st = MS_ERR_NOMEM;
	}
	if (!st)
		drop_unseen(sp);
	pthread_mutex_unlock(&sp->rmu);
	free_strv(segs, n_segs);
	return st;
}

/* ---- reading one entry ---- */

/* Maps the entry at off of the open segment fd and decodes it. */
static ms_status_t read_at(int fd, const char *name, uint64_t off,
			   ms_spool_entry **e_r, const char **why)
{
	struct stat st;
	unsigned char hb[MS_SEG_EHDR];
	ms_seg_ehdr h;
	*why = strerror(errno);
	if (fstat(fd, &st) < 0)
		return MS_ERR_IO;
	*why = "not a spool segment entry";
	if ((uint64_t)st.st_size < off + MS_SEG_EHDR || off < MS_SEG_HDR ||
	    pread(fd, hb, sizeof hb, (off_t)off) != (ssize_t)sizeof hb ||
	    ms_seg_get_ehdr(hb, sizeof hb, (uint64_t)st.st_size - off, &h) <
		    0 ||
	    h.type != MS_SEG_T_MSG)
		return MS_ERR_PARSE;
	uint64_t start = off + MS_SEG_EHDR, base = start / PAGE * PAGE;
	size_t len = (size_t)(start - base + h.msg_len + h.rec_len);
	void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, (off_t)base);
	if (map == MAP_FAILED) {
		*why = strerror(errno);
		return MS_ERR_IO;
	}
	return ms_seg_decode(name, &h, (const char *)map + (start - base), map,
			     len, e_r, why);
}

ms_status_t ms_seg_read(ms_spool *sp, const char *name, ms_spool_entry **e_r,
			char **err_r)
{
	char seg[MS_SEG_NAME_MAX];
	uint64_t off;
	*e_r = NULL;
	if (!ms_seg_name_parse(name, seg, &off))
		return MS_ERR_INVALID;
	char *path = ms_spool_path(sp->dir, "seg", seg);
	if (!path)
		return MS_ERR_NOMEM;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ms_status_t st;
	const char *why;
	if (fd < 0) {
		st = errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO;
		why = strerror(errno);
	} else {
		st = read_at(fd, name, off, e_r, &why);
		close(fd);
	}
	if (st && err_r &&
	    asprintf(err_r, "%s@%" PRIu64 ": %s", path, off, why) < 0)
		*err_r = NULL;
	free(path);
	return st;
}

/* ---- done ---- */

static seg_ent *find_ent(ms_seg_r *r, uint64_t off)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->e[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n && r->e[lo].off == off ? &r->e[lo] : NULL;
}

/* Writes the done marks and retires what is finished (rmu held). */
static void sync_all(ms_spool *sp)
{
	int retired = 0;
	for (ms_seg_r *r = sp->segs, *nx; r; r = nx) {
		nx = r->next;
		if (seg_finished(r))
			retired |= seg_retire(sp, r);
		else if (r->dirty)
			seg_write_done(sp, r);
	}
	char *d = retired ? ms_spool_path(sp->dir, "seg", NULL) : NULL;
	if (d)
		ms_spool_sync_dir(d);
	free(d);
}

ms_status_t ms_seg_remove(ms_spool *sp, const char *name, int sync)
{
	char seg[MS_SEG_NAME_MAX];
	uint64_t off;
	if (!ms_seg_name_parse(name, seg, &off))
		return MS_ERR_INVALID;
	pthread_mutex_lock(&sp->rmu);
	ms_seg_r *r = seg_get(sp, seg);
	if (r && !find_ent(r, off))
		seg_scan(r);
	seg_ent *x = r ? find_ent(r, off) : NULL;
	ms_status_t st = x && x->state != E_DONE ? MS_OK : MS_ERR_NOTFOUND;
	if (x) {
		x->state = E_DONE;
		advance_first(r);
	}
	if (sync)
		sync_all(sp);
	pthread_mutex_unlock(&sp->rmu);
	return st;
}

/* Copies the entry's bytes (as far as they go) to path; 0 or -1. */
static int copy_out(int fd, uint64_t off, const char *path)
{
	struct stat st;
	unsigned char hb[MS_SEG_EHDR];
	ms_seg_ehdr h;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < off)
		return -1;
	uint64_t len = (uint64_t)st.st_size - off;
	if (pread(fd, hb, sizeof hb, (off_t)off) == (ssize_t)sizeof hb &&
	    ms_seg_get_ehdr(hb, sizeof hb, len, &h) == 0)
		len = ms_seg_entry_len(&h);
	else
		len = len < MS_SEG_EHDR ? len : MS_SEG_EHDR;
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (out < 0)
		return -1;
	char buf[64 * 1024];
	int ok = 1;
	for (uint64_t at = 0; ok && at < len;) {
		size_t k =
			len - at < sizeof buf ? (size_t)(len - at) : sizeof buf;
		ok = pread(fd, buf, k, (off_t)(off + at)) == (ssize_t)k &&
		     write(out, buf, k) == (ssize_t)k;
		at += k;
	}
	ok = fsync(out) == 0 && ok;
	return close(out) == 0 && ok ? 0 : -1;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0)
		return -1;
	size_t n = strlen(text);
	int ok = write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
		 fsync(fd) == 0;
	return close(fd) == 0 && ok ? 0 : -1;
}

ms_status_t ms_seg_quarantine(ms_spool *sp, const char *name,
			      const char *reason)
{
	char seg[MS_SEG_NAME_MAX], bad_name[MS_SEG_NAME_MAX + 24];
	uint64_t off;
	if (!ms_seg_name_parse(name, seg, &off))
		return MS_ERR_INVALID;
	snprintf(bad_name, sizeof bad_name, "%s-%" PRIu64, seg, off);
	char *src = ms_spool_path(sp->dir, "seg", seg);
	char *dst = ms_spool_path(sp->dir, "bad", bad_name);
	char *bad = ms_spool_path(sp->dir, "bad", NULL), *why = NULL;
	ms_status_t st = MS_ERR_NOMEM;
	if (src && dst && bad && asprintf(&why, "%s.why", dst) >= 0) {
		int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		st = fd < 0 ? (errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO)
		     : write_text(why, reason ? reason : "") < 0 ||
				     copy_out(fd, off, dst) < 0 ||
				     ms_spool_sync_dir(bad)
			     ? MS_ERR_IO
			     : MS_OK;
		if (fd >= 0)
			close(fd);
	} else {
		why = NULL;
	}
	if (st == MS_OK)
		ms_seg_remove(sp, name, 1);
	free(src);
	free(dst);
	free(bad);
	free(why);
	return st;
}

/* ---- backlog ---- */

void ms_seg_backlog(ms_spool *sp, uint64_t *n, int64_t *oldest)
{
	char **segs;
	size_t n_segs;
	if (seg_names(sp, &segs, &n_segs) != MS_OK && !segs)
		return;
	pthread_mutex_lock(&sp->rmu);
	for (size_t i = 0; i < n_segs; i++) {
		ms_seg_r *r = seg_get(sp, segs[i]);
		if (!r)
			continue;
		seg_scan(r);
		for (size_t k = r->first; k < r->n; k++) {
			if (r->e[k].state == E_DONE || !ent_ready(r, &r->e[k]))
				continue;
			(*n)++;
			if (*oldest == 0 || (int64_t)r->created < *oldest)
				*oldest = (int64_t)r->created;
		}
	}
	pthread_mutex_unlock(&sp->rmu);
	free_strv(segs, n_segs);
}

void ms_seg_close_readers(ms_spool *sp)
{
	pthread_mutex_lock(&sp->rmu);
	while (sp->segs)
		seg_drop(sp, sp->segs);
	pthread_mutex_unlock(&sp->rmu);
}
