/* ms_spool.c - the durable spool between the milter and indexd (see
 * ms_spool.h for the layout and the entry format).
 *
 * Functions: ms_spool_open, ms_spool_close; writing: ms_spool_begin,
 * ms_spool_write, ms_spool_error, ms_spool_size, ms_spool_fd,
 * ms_spool_sha256, ms_spool_commit, ms_spool_abort; reading:
 * ms_spool_list, ms_spool_names_free, ms_spool_read, ms_spool_entry_free,
 * ms_spool_remove, ms_spool_quarantine, ms_spool_clean_tmp; the
 * backlog: ms_spool_backlog.
 *
 * The handle holds only the directory path, so it is thread-safe; every
 * call works on paths (an admin may recreate a subdirectory under a
 * running daemon). Diagnostics are one line, "path: strerror" or
 * "path: what is wrong".
 */
#include "ms_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ms_record.h"

#define WBUF_SIZE  (64 * 1024)
#define MAGIC	   "MSSPOOL1"
#define MAGIC_LEN  8
#define LEN_DIGITS 12
#define LEN_MAX	   999999999999ULL /* 12 decimal digits */

struct ms_spool {
	char *dir;
};

struct ms_spool_writer {
	ms_spool *sp;
	char *tmp_path;
	char id[MS_SPOOL_ID_MAX + 1];
	int fd;
	uint64_t size;	 /* message bytes accepted */
	ms_sha256 *hash; /* NULL once final */
	char hex[MS_SHA256_HEX];
	char *buf; /* WBUF_SIZE bytes */
	size_t blen;
	ms_status_t fail; /* sticky error */
	char err[512];
};

/* ---- small helpers ---- */

/* Sets *err_r (if err_r) to "path: strerror(e)". */
static void set_err(char **err_r, const char *path, int e)
{
	if (err_r && asprintf(err_r, "%s: %s", path, strerror(e)) < 0)
		*err_r = NULL;
}

static char *path_join(const char *a, const char *b, const char *c)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "") < 0)
		return NULL;
	return p;
}

/* Entry ids: 1..MS_SPOOL_ID_MAX of [A-Za-z0-9_-]. */
static int id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > MS_SPOOL_ID_MAX)
		return 0;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789-_") == n;
}

/* Names a reader accepts (anything a writer or an admin may have put in
 * new/): not empty, no '/', not a dot file, fits a file name. */
static int name_ok(const char *name)
{
	return name && name[0] && name[0] != '.' && !strchr(name, '/') &&
	       strlen(name) < 240;
}

/* fsyncs directory path; 0 or an errno. */
static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int e = fsync(fd) < 0 ? errno : 0;
	close(fd);
	return e;
}

/* mkdir -p path (mode 0770, umask applies); 0 or an errno. */
static int mkdirs(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		int e = mkdir(path, 0770) < 0 && errno != EEXIST ? errno : 0;
		*p = c;
		if (e)
			return e;
		if (!c)
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* ---- open / close ---- */

ms_status_t ms_spool_open(const char *dir, ms_spool **sp_r, char **err_r)
{
	static const char *const subs[] = { "", "/tmp", "/new", "/bad" };
	*sp_r = NULL;
	if (err_r)
		*err_r = NULL;
	ms_spool *sp = calloc(1, sizeof *sp);
	if (!sp || !(sp->dir = strdup(dir))) {
		free(sp);
		return MS_ERR_NOMEM;
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		char *p = NULL;
		if (asprintf(&p, "%s%s", dir, subs[i]) < 0) {
			ms_spool_close(&sp);
			return MS_ERR_NOMEM;
		}
		int e = mkdirs(p);
		if (e)
			set_err(err_r, p, e);
		free(p);
		if (e) {
			ms_spool_close(&sp);
			return MS_ERR_IO;
		}
	}
	*sp_r = sp;
	return MS_OK;
}

void ms_spool_close(ms_spool **sp)
{
	if (!sp || !*sp)
		return;
	free((*sp)->dir);
	free(*sp);
	*sp = NULL;
}

/* ---- writing ---- */

/* Records the first error: "path: strerror(e)". Returns st. */
static ms_status_t w_fail(ms_spool_writer *w, ms_status_t st, int e)
{
	if (!w->fail) {
		w->fail = st;
		snprintf(w->err, sizeof w->err, "%s: %s", w->tmp_path,
			 strerror(e));
	}
	return st;
}

/* Writes p[0..n) to the file, all of it. */
static ms_status_t w_raw(ms_spool_writer *w, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return w_fail(w, MS_ERR_IO, errno);
		if (k == 0)
			return w_fail(w, MS_ERR_IO, ENOSPC);
		p += k;
		n -= (size_t)k;
	}
	return MS_OK;
}

static ms_status_t w_flush(ms_spool_writer *w)
{
	if (w->fail)
		return w->fail;
	ms_status_t st = w_raw(w, w->buf, w->blen);
	w->blen = 0;
	return st;
}

/* Buffered append of bytes (message, record or footer). */
static ms_status_t w_put(ms_spool_writer *w, const void *p, size_t n)
{
	if (w->fail)
		return w->fail;
	if (w->blen + n > WBUF_SIZE && w_flush(w))
		return w->fail;
	if (n >= WBUF_SIZE)
		return w_raw(w, p, n);
	memcpy(w->buf + w->blen, p, n);
	w->blen += n;
	return MS_OK;
}

static void writer_free(ms_spool_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->hash) {
		char hex[MS_SHA256_HEX];
		ms_sha256_final(&w->hash, hex);
	}
	free(w->buf);
	free(w->tmp_path);
	free(w);
}

ms_status_t ms_spool_begin(ms_spool *sp, const char *id, ms_spool_writer **w_r,
			   char **err_r)
{
	*w_r = NULL;
	if (err_r)
		*err_r = NULL;
	if (!id_ok(id)) {
		if (err_r && asprintf(err_r, "invalid spool entry id \"%.*s\"",
				      64, id ? id : "") < 0)
			*err_r = NULL;
		return MS_ERR_INVALID;
	}
	ms_spool_writer *w = calloc(1, sizeof *w);
	if (!w)
		return MS_ERR_NOMEM;
	w->fd = -1;
	w->sp = sp;
	strcpy(w->id, id);
	w->tmp_path = path_join(sp->dir, "tmp", id);
	w->buf = malloc(WBUF_SIZE);
	w->hash = ms_sha256_new();
	if (!w->tmp_path || !w->buf || !w->hash) {
		ms_status_t st =
			!w->tmp_path || !w->buf ? MS_ERR_NOMEM : MS_ERR_CRYPTO;
		writer_free(w);
		return st;
	}
	w->fd = open(w->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (w->fd < 0) {
		set_err(err_r, w->tmp_path, errno);
		writer_free(w);
		return MS_ERR_IO;
	}
	*w_r = w;
	return MS_OK;
}

ms_status_t ms_spool_write(ms_spool_writer *w, const void *p, size_t n)
{
	if (w->fail)
		return w->fail;
	if (!w->hash)
		return MS_ERR_INVALID;
	if (n > LEN_MAX - w->size) {
		w->fail = MS_ERR_LIMIT;
		snprintf(w->err, sizeof w->err, "%s: message too large",
			 w->tmp_path);
		return MS_ERR_LIMIT;
	}
	if (ms_sha256_update(w->hash, p, n))
		return MS_ERR_CRYPTO;
	w->size += n;
	return w_put(w, p, n);
}

const char *ms_spool_error(const ms_spool_writer *w)
{
	return w->err;
}

uint64_t ms_spool_size(const ms_spool_writer *w)
{
	return w->size;
}

int ms_spool_fd(ms_spool_writer *w)
{
	return w_flush(w) ? -1 : w->fd;
}

ms_status_t ms_spool_sha256(ms_spool_writer *w, char hex[MS_SHA256_HEX])
{
	if (w->fail)
		return w->fail;
	if (w->hash && ms_sha256_final(&w->hash, w->hex))
		return MS_ERR_CRYPTO;
	memcpy(hex, w->hex, MS_SHA256_HEX);
	return MS_OK;
}

/* Builds the envelope record of w into b. */
static ms_status_t build_record(ms_spool_writer *w, const ms_envelope *env,
				ms_buf *b)
{
	static const ms_envelope none = { 0 };
	if (!env)
		env = &none;
	char num[2][24];
	snprintf(num[0], sizeof num[0], "%" PRId64, env->time);
	snprintf(num[1], sizeof num[1], "%" PRIu64, w->size);
	if (ms_record_put(b, "id", w->id) ||
	    ms_record_put(b, "sender", env->sender))
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < env->n_rcpts; i++)
		if (ms_record_put(b, "rcpt", env->rcpts[i]))
			return MS_ERR_NOMEM;
	if (ms_record_put(b, "qid", env->queue_id) ||
	    ms_record_put(b, "client", env->client) ||
	    ms_record_put(b, "helo", env->helo) ||
	    ms_record_put(b, "auth", env->auth_user) ||
	    ms_record_put(b, "verdict", env->verdict) ||
	    ms_record_put(b, "virus", env->virus) ||
	    ms_record_put(b, "time", num[0]) ||
	    ms_record_put(b, "size", num[1]) ||
	    ms_record_put(b, "sha256", w->hex))
		return MS_ERR_NOMEM;
	return MS_OK;
}

/* Appends record and footer, flushes, fsyncs and closes the file. */
static ms_status_t write_tail(ms_spool_writer *w, const ms_envelope *env)
{
	ms_buf rec = MS_BUF_INIT;
	ms_status_t st = build_record(w, env, &rec);
	char foot[MS_SPOOL_FOOTER + 1];
	if (!st && rec.len > LEN_MAX)
		st = MS_ERR_LIMIT;
	if (!st) {
		snprintf(foot, sizeof foot, "%s%012" PRIu64 "%012zu", MAGIC,
			 w->size, rec.len);
		if (w_put(w, rec.data, rec.len) ||
		    w_put(w, foot, MS_SPOOL_FOOTER) || w_flush(w))
			st = w->fail;
	}
	ms_buf_free(&rec);
	if (st)
		return st;
	if (fsync(w->fd) < 0)
		return w_fail(w, MS_ERR_IO, errno);
	int fd = w->fd;
	w->fd = -1;
	if (close(fd) < 0)
		return w_fail(w, MS_ERR_IO, errno);
	return MS_OK;
}

/* Renames tmp/<id> to new/<id> and fsyncs new/; on a failed directory
 * sync the entry is taken back out of new/. */
static ms_status_t publish(ms_spool_writer *w, char **err_r)
{
	char *new_dir = path_join(w->sp->dir, "new", NULL);
	char *new_path = path_join(w->sp->dir, "new", w->id);
	ms_status_t st = MS_OK;
	int e;
	if (!new_dir || !new_path) {
		st = MS_ERR_NOMEM;
	} else if (rename(w->tmp_path, new_path) < 0) {
		set_err(err_r, new_path, errno);
		st = MS_ERR_IO;
	} else if ((e = sync_dir(new_dir)) != 0) {
		set_err(err_r, new_dir, e);
		unlink(new_path);
		st = MS_ERR_IO;
	}
	free(new_dir);
	free(new_path);
	return st;
}

ms_status_t ms_spool_commit(ms_spool_writer **wp, const ms_envelope *env,
			    char **err_r)
{
	ms_spool_writer *w = *wp;
	*wp = NULL;
	if (err_r)
		*err_r = NULL;
	ms_status_t st = MS_OK;
	char hex[MS_SHA256_HEX];
	if (env && env->id && strcmp(env->id, w->id) != 0) {
		st = MS_ERR_INVALID;
		if (err_r && asprintf(err_r, "%s: envelope id %.64s differs",
				      w->tmp_path, env->id) < 0)
			*err_r = NULL;
	} else if ((st = ms_spool_sha256(w, hex)) == MS_OK &&
		   (st = write_tail(w, env)) == MS_OK) {
		st = publish(w, err_r);
	} else if (w->fail && err_r) {
		*err_r = strdup(w->err);
	}
	if (st)
		unlink(w->tmp_path);
	writer_free(w);
	return st;
}

void ms_spool_abort(ms_spool_writer **wp)
{
	if (!wp || !*wp)
		return;
	unlink((*wp)->tmp_path);
	writer_free(*wp);
	*wp = NULL;
}

/* ---- listing ---- */

typedef struct named_time {
	char *name;
	struct timespec mtime;
} named_time;

static int cmp_named_time(const void *a, const void *b)
{
	const named_time *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* 1 if de (in d) is an entry: a regular file not starting with '.';
 * *st gets its status. */
static int is_entry(DIR *d, const struct dirent *de, struct stat *st)
{
	return de->d_name[0] != '.' &&
	       fstatat(dirfd(d), de->d_name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st->st_mode);
}

/* Collects the regular, non-dot files of d into *v (grown as needed). */
static ms_status_t scan_dir(DIR *d, named_time **v, size_t *n)
{
	size_t cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (!is_entry(d, de, &st))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			named_time *nv = reallocarray(*v, cap, sizeof **v);
			if (!nv)
				return MS_ERR_NOMEM;
			*v = nv;
		}
		if (!((*v)[*n].name = strdup(de->d_name)))
			return MS_ERR_NOMEM;
		(*v)[(*n)++].mtime = st.st_mtim;
		errno = 0;
	}
	return errno ? MS_ERR_IO : MS_OK;
}

ms_status_t ms_spool_list(ms_spool *sp, char ***names_r, size_t *n_r)
{
	*names_r = NULL;
	*n_r = 0;
	char *dir = path_join(sp->dir, "new", NULL);
	DIR *d = dir ? opendir(dir) : NULL;
	free(dir);
	if (!d)
		return errno == ENOMEM || !dir ? MS_ERR_NOMEM : MS_ERR_IO;
	named_time *v = NULL;
	size_t n = 0;
	ms_status_t st = scan_dir(d, &v, &n);
	closedir(d);
	char **names = st ? NULL : calloc(n + 1, sizeof *names);
	if (!st && !names)
		st = MS_ERR_NOMEM;
	if (!st && n > 1)
		qsort(v, n, sizeof *v, cmp_named_time);
	for (size_t i = 0; i < n; i++) {
		if (st)
			free(v[i].name);
		else
			names[i] = v[i].name;
	}
	free(v);
	if (st)
		return st;
	*names_r = names;
	*n_r = n;
	return MS_OK;
}

void ms_spool_names_free(char ***names)
{
	if (!names || !*names)
		return;
	for (char **p = *names; *p; p++)
		free(*p);
	free(*names);
	*names = NULL;
}

/* ---- the backlog ---- */

/* Counts the entries of d and finds the oldest mtime (0 when none). */
static ms_status_t count_dir(DIR *d, uint64_t *n_r, int64_t *oldest_r)
{
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (!is_entry(d, de, &st)) {
			errno = 0;
			continue;
		}
		if (*n_r == 0 || (int64_t)st.st_mtime < *oldest_r)
			*oldest_r = (int64_t)st.st_mtime;
		(*n_r)++;
		errno = 0;
	}
	return errno ? MS_ERR_IO : MS_OK;
}

ms_status_t ms_spool_backlog(ms_spool *sp, uint64_t *n_r, int64_t *oldest_r,
			     char **err_r)
{
	uint64_t n = 0;
	int64_t oldest = 0;
	*n_r = 0;
	if (oldest_r)
		*oldest_r = 0;
	if (err_r)
		*err_r = NULL;
	char *dir = path_join(sp->dir, "new", NULL);
	if (!dir)
		return MS_ERR_NOMEM;
	DIR *d = opendir(dir);
	ms_status_t st = d ? count_dir(d, &n, &oldest) : MS_ERR_IO;
	if (st == MS_ERR_IO)
		set_err(err_r, dir, errno);
	if (d)
		closedir(d);
	free(dir);
	if (st)
		return st;
	*n_r = n;
	if (oldest_r)
		*oldest_r = oldest;
	return MS_OK;
}

/* ---- reading ---- */

typedef struct entry_priv {
	ms_spool_entry e;
	void *map;
	size_t map_len;
	char *rec;	    /* private copy of the record; env points here */
	const char **rcpts; /* env.rcpts */
	size_t rcpt_cap;
	const char *size; /* "size" as recorded */
	int nomem;
} entry_priv;

/* Parses n decimal digits (exactly) at p into *v; 0 if not digits. */
static int parse_digits(const char *p, size_t n, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		*v = *v * 10 + (uint64_t)(p[i] - '0');
	}
	return 1;
}

static void add_rcpt(entry_priv *p, const char *v)
{
	ms_envelope *env = &p->e.env;
	if (env->n_rcpts == p->rcpt_cap) {
		size_t cap = p->rcpt_cap ? 2 * p->rcpt_cap : 8;
		const char **nv = reallocarray(p->rcpts, cap, sizeof *nv);
		if (!nv) {
			p->nomem = 1;
			return;
		}
		p->rcpts = nv;
		p->rcpt_cap = cap;
		env->rcpts = nv;
	}
	p->rcpts[env->n_rcpts++] = v;
}

/* ms_record_fn: one envelope line. Empty values stay NULL. */
static void on_field(const char *k, const char *v, void *ctx)
{
	entry_priv *p = ctx;
	ms_envelope *env = &p->e.env;
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
		{ "id", offsetof(ms_envelope, id) },
		{ "sender", offsetof(ms_envelope, sender) },
		{ "qid", offsetof(ms_envelope, queue_id) },
		{ "client", offsetof(ms_envelope, client) },
		{ "helo", offsetof(ms_envelope, helo) },
		{ "auth", offsetof(ms_envelope, auth_user) },
		{ "verdict", offsetof(ms_envelope, verdict) },
		{ "virus", offsetof(ms_envelope, virus) },
	};
	if (strcmp(k, "rcpt") == 0) {
		add_rcpt(p, v);
	} else if (strcmp(k, "time") == 0) {
		env->time = strtoll(v, NULL, 10);
	} else if (strcmp(k, "size") == 0) {
		p->size = v;
	} else if (strcmp(k, "sha256") == 0) {
		p->e.sha256 = v;
	} else {
		for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
			if (strcmp(k, strs[i].key) == 0 && v[0])
				*(const char **)((char *)env + strs[i].off) = v;
	}
}

/* Validates the footer of the mapped file; sets msg_len and *rec_len. */
static const char *check_footer(entry_priv *p, size_t *rec_len)
{
	const char *f = (const char *)p->map + p->map_len - MS_SPOOL_FOOTER;
	uint64_t ml, rl;
	if (memcmp(f, MAGIC, MAGIC_LEN) != 0)
		return "no spool footer (incomplete entry)";
	if (!parse_digits(f + MAGIC_LEN, LEN_DIGITS, &ml) ||
	    !parse_digits(f + MAGIC_LEN + LEN_DIGITS, LEN_DIGITS, &rl))
		return "malformed spool footer";
	if (ml + rl + MS_SPOOL_FOOTER != p->map_len)
		return "footer lengths do not match the file size";
	p->e.msg = p->map;
	p->e.msg_len = (size_t)ml;
	*rec_len = (size_t)rl;
	return NULL;
}

/* Checks what the record must say about the entry. */
static const char *check_record(entry_priv *p)
{
	char want[24];
	snprintf(want, sizeof want, "%zu", p->e.msg_len);
	if (!p->e.env.id || strcmp(p->e.env.id, p->e.name) != 0)
		return "envelope id does not match the entry name";
	if (!p->size || strcmp(p->size, want) != 0)
		return "envelope size does not match the message";
	if (!p->e.sha256 || strlen(p->e.sha256) != MS_SHA256_HEX - 1 ||
	    strspn(p->e.sha256, "0123456789abcdef") != MS_SHA256_HEX - 1)
		return "envelope has no valid sha256";
	return NULL;
}

/* Maps the file, validates it and parses the record. Returns NULL or a
 * static reason; *st_r is the status. */
static const char *load_entry(entry_priv *p, int fd, ms_status_t *st_r)
{
	struct stat st;
	*st_r = MS_ERR_PARSE;
	if (fstat(fd, &st) < 0) {
		*st_r = MS_ERR_IO;
		return strerror(errno);
	}
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if ((uint64_t)st.st_size < MS_SPOOL_FOOTER)
		return "too short for a spool footer (incomplete entry)";
	p->map_len = (size_t)st.st_size;
	p->map = mmap(NULL, p->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		*st_r = MS_ERR_IO;
		return strerror(errno);
	}
	size_t rec_len;
	const char *why = check_footer(p, &rec_len);
	if (why)
		return why;
	if (!(p->rec = malloc(rec_len + 1))) {
		*st_r = MS_ERR_NOMEM;
		return "out of memory";
	}
	memcpy(p->rec, p->e.msg + p->e.msg_len, rec_len);
	p->rec[rec_len] = '\0';
	ms_record_parse(p->rec, rec_len, on_field, p);
	if (p->nomem) {
		*st_r = MS_ERR_NOMEM;
		return "out of memory";
	}
	if ((why = check_record(p)) == NULL)
		*st_r = MS_OK;
	return why;
}

ms_status_t ms_spool_read(ms_spool *sp, const char *name, ms_spool_entry **e_r,
			  char **err_r)
{
	*e_r = NULL;
	if (err_r)
		*err_r = NULL;
	if (!name_ok(name))
		return MS_ERR_INVALID;
	entry_priv *p = calloc(1, sizeof *p);
	char *path = path_join(sp->dir, "new", name);
	if (p)
		p->e.priv = p;
	if (!p || !path || !(p->e.name = strdup(name))) {
		ms_spool_entry *e = p ? &p->e : NULL;
		ms_spool_entry_free(&e);
		free(path);
		return MS_ERR_NOMEM;
	}
	ms_status_t st;
	const char *why = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		st = errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO;
		why = strerror(errno);
	} else {
		why = load_entry(p, fd, &st);
		close(fd);
	}
	if (st && err_r && asprintf(err_r, "%s: %s", path, why) < 0)
		*err_r = NULL;
	free(path);
	if (st) {
		ms_spool_entry *e = &p->e;
		ms_spool_entry_free(&e);
		return st;
	}
	*e_r = &p->e;
	return MS_OK;
}

void ms_spool_entry_free(ms_spool_entry **e)
{
	if (!e || !*e)
		return;
	entry_priv *p = (*e)->priv;
	if (p->map)
		munmap(p->map, p->map_len);
	free(p->rec);
	free(p->rcpts);
	free(p->e.name);
	free(p);
	*e = NULL;
}

/* ---- removing ---- */

ms_status_t ms_spool_remove(ms_spool *sp, const char *name, int sync)
{
	if (!name_ok(name))
		return MS_ERR_INVALID;
	char *dir = path_join(sp->dir, "new", NULL);
	char *path = path_join(sp->dir, "new", name);
	ms_status_t st = MS_OK;
	if (!dir || !path)
		st = MS_ERR_NOMEM;
	else if (unlink(path) < 0)
		st = errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO;
	else if (sync && sync_dir(dir))
		st = MS_ERR_IO;
	free(dir);
	free(path);
	return st;
}

/* Writes reason and a newline to path (created or truncated), fsynced. */
static ms_status_t write_why(const char *path, const char *reason)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
	if (fd < 0)
		return MS_ERR_IO;
	size_t n = strlen(reason ? reason : "");
	int ok = (n == 0 || write(fd, reason, n) == (ssize_t)n) &&
		 write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	return ok ? MS_OK : MS_ERR_IO;
}

ms_status_t ms_spool_quarantine(ms_spool *sp, const char *name,
				const char *reason)
{
	if (!name_ok(name))
		return MS_ERR_INVALID;
	char *from = path_join(sp->dir, "new", name);
	char *to = path_join(sp->dir, "bad", name);
	char *bad_dir = path_join(sp->dir, "bad", NULL);
	char *why_path = NULL;
	ms_status_t st = MS_OK;
	struct stat sb;
	if (!from || !to || !bad_dir || asprintf(&why_path, "%s.why", to) < 0) {
		why_path = NULL;
		st = MS_ERR_NOMEM;
	} else if (lstat(from, &sb) < 0) {
		st = errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO;
	} else if ((st = write_why(why_path, reason)) != MS_OK) {
		unlink(why_path);
	} else if (rename(from, to) < 0) {
		st = errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO;
		unlink(why_path);
	} else {
		*strrchr(from, '/') = '\0';
		int e = sync_dir(bad_dir);
		st = e || sync_dir(from) ? MS_ERR_IO : MS_OK;
	}
	free(from);
	free(to);
	free(bad_dir);
	free(why_path);
	return st;
}

/* ---- stale tmp/ files ---- */

ms_status_t ms_spool_clean_tmp(ms_spool *sp, unsigned max_age, unsigned *n_r)
{
	if (n_r)
		*n_r = 0;
	char *dir = path_join(sp->dir, "tmp", NULL);
	DIR *d = dir ? opendir(dir) : NULL;
	free(dir);
	if (!d)
		return !dir || errno == ENOMEM ? MS_ERR_NOMEM : MS_ERR_IO;
	time_t limit = time(NULL) - (time_t)max_age;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= limit)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0 && n_r)
			(*n_r)++;
	}
	closedir(d);
	return MS_OK;
}
