/* ms_spool.c - the durable spool between the milter and indexd (see
 * ms_spool.h for the layout, ms_spool_int.h for the segment format).
 *
 * Functions: ms_spool_open, ms_spool_close; writing: ms_spool_begin,
 * ms_spool_write, ms_spool_error, ms_spool_size, ms_spool_fd,
 * ms_spool_sha256, ms_spool_commit, ms_spool_abort; reading:
 * ms_spool_list, ms_spool_poll, ms_spool_names_free, ms_spool_read,
 * ms_spool_remove, ms_spool_quarantine, ms_spool_clean_tmp; the
 * backlog: ms_spool_backlog.
 *
 * A message being written is kept in the writer's buffer while it fits
 * (64 KB; a memfd when a descriptor is asked for), else in an unnamed file
 * in tmp/ (O_TMPFILE: a crash leaves nothing behind); the commit appends it to
 * a segment (ms_spool_seg.c: group commit). Reading handles segment entries
 * (names "SEGMENT/OFFSET", ms_spool_scan.c) and legacy entry files in new/
 * (from earlier versions or tests), which are read, removed and quarantined
 * here as before. Every call works on paths (an admin may recreate a
 * subdirectory under a running daemon). Diagnostics are one line, "path:
 * strerror" or "path: what is wrong".
 */
#include "ms_spool_int.h"

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

struct ms_spool_writer {
	ms_spool *sp;
	char *tmp_path; /* tmp/ (the file has no name) */
	char id[MS_SPOOL_ID_MAX + 1];
	int fd;
	uint64_t size;	 /* message bytes accepted */
	ms_sha256 *hash; /* NULL once final */
	uint32_t crc;	 /* CRC-32 of the message */
	char hex[MS_SHA256_HEX];
	char *buf;	  /* WBUF_SIZE bytes: the last blen of the message */
	size_t blen;	  /* (all of it while blen == size) */
	size_t wrote;	  /* of buf, bytes already in the file */
	int memfd;	  /* the file is in memory (and buf holds all of it) */
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

#define path_join ms_spool_path
#define sync_dir  ms_spool_sync_dir
#define id_ok	  ms_spool_id_ok
#define name_ok	  ms_spool_name_ok

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

/* This boot's id (segments written in it trust only commit entries), or
 * "" when unknown. */
static void read_boot_id(char out[MS_SEG_BOOT + 1])
{
	out[0] = '\0';
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t k = read(fd, out, MS_SEG_BOOT);
	close(fd);
	out[k > 0 ? k : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

ms_status_t ms_spool_open(const char *dir, ms_spool **sp_r, char **err_r)
{
	static const char *const subs[] = { "", "/tmp", "/new", "/bad",
					    "/seg" };
	*sp_r = NULL;
	if (err_r)
		*err_r = NULL;
	ms_spool *sp = calloc(1, sizeof *sp);
	if (!sp || !(sp->dir = strdup(dir))) {
		free(sp);
		return MS_ERR_NOMEM;
	}
	pthread_mutex_init(&sp->mu, NULL);
	pthread_mutex_init(&sp->rmu, NULL);
	pthread_cond_init(&sp->cv, NULL);
	read_boot_id(sp->boot);
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
	ms_seg_close_writer(*sp);
	ms_seg_close_readers(*sp);
	pthread_mutex_destroy(&(*sp)->mu);
	pthread_mutex_destroy(&(*sp)->rmu);
	pthread_cond_destroy(&(*sp)->cv);
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

/* An unnamed file in dir (a named one, unlinked at once, where the file
 * system has no O_TMPFILE); -1 with errno. */
static int open_tmp(const char *dir)
{
	int fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0660);
	if (fd >= 0 ||
	    (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	char *p = NULL;
	if (asprintf(&p, "%s/.msgXXXXXX", dir) < 0)
		return errno = ENOMEM, -1;
	fd = mkostemp(p, O_CLOEXEC);
	if (fd >= 0)
		unlink(p);
	free(p);
	return fd;
}

/* Gives the message its file: in memory (memfd) when it is all in the
 * buffer and only wanted for reading back (a scan), else on disk in
 * tmp/. MS_OK or the sticky MS_ERR_IO. */
static ms_status_t w_file(ms_spool_writer *w, int in_memory)
{
	if (w->fd >= 0 || w->fail)
		return w->fail;
	w->fd = in_memory ? memfd_create("mailsift-msg", MFD_CLOEXEC)
			  : open_tmp(w->tmp_path);
	w->memfd = in_memory;
	return w->fd < 0 ? w_fail(w, MS_ERR_IO, errno) : MS_OK;
}

/* Writes p[0..n) to the file, all of it. */
static ms_status_t w_raw(ms_spool_writer *w, const char *p, size_t n)
{
	if (w_file(w, 0))
		return w->fail;
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

/* Writes the buffered bytes not yet in the file; the buffer keeps them. */
static ms_status_t w_flush(ms_spool_writer *w)
{
	if (w->fail)
		return w->fail;
	ms_status_t st = w_raw(w, w->buf + w->wrote, w->blen - w->wrote);
	w->wrote = w->blen;
	return st;
}

/* Buffered append of message bytes. */
static ms_status_t w_put(ms_spool_writer *w, const void *p, size_t n)
{
	if (w->fail)
		return w->fail;
	if (w->blen + n > WBUF_SIZE) {
		if (w->memfd) { /* it grows: to disk, from the buffer */
			close(w->fd);
			w->fd = -1;
			w->memfd = 0;
			w->wrote = 0;
		}
		if (w_flush(w))
			return w->fail;
		w->blen = w->wrote = 0;
	}
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
	w->tmp_path = path_join(sp->dir, "tmp", NULL);
	w->buf = malloc(WBUF_SIZE);
	w->hash = ms_sha256_new();
	if (!w->tmp_path || !w->buf || !w->hash) {
		ms_status_t st =
			!w->tmp_path || !w->buf ? MS_ERR_NOMEM : MS_ERR_CRYPTO;
		writer_free(w);
		return st;
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
	w->crc = ms_seg_crc(w->crc, p, n);
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
	if (w_file(w, w->blen == w->size) || w_flush(w))
		return -1;
	return w->fd;
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

/* Appends the entry (message and record) to a segment and waits until
 * it is flushed (group commit). */
static ms_status_t append(ms_spool_writer *w, const ms_envelope *env,
			  char **err_r)
{
	ms_buf rec = MS_BUF_INIT;
	ms_status_t st = build_record(w, env, &rec);
	if (!st && rec.len > MS_SEG_REC_MAX)
		st = MS_ERR_LIMIT;
	int in_mem = w->blen == w->size;
	if (!st && !in_mem && w_flush(w))
		st = w->fail;
	if (!st)
		st = ms_seg_append(w->sp, w->fd, in_mem ? w->buf : NULL,
				   w->size, w->crc, rec.data, rec.len, err_r);
	else if (w->fail && err_r)
		*err_r = strdup(w->err);
	ms_buf_free(&rec);
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
	} else if ((st = ms_spool_sha256(w, hex)) == MS_OK) {
		st = append(w, env, err_r);
	} else if (w->fail && err_r) {
		*err_r = strdup(w->err);
	}
	writer_free(w);
	return st;
}

void ms_spool_abort(ms_spool_writer **wp)
{
	if (!wp || !*wp)
		return;
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

/* The legacy entry files of new/, oldest first. */
static ms_status_t list_files(ms_spool *sp, char ***names_r, size_t *n_r)
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

ms_status_t ms_spool_list(ms_spool *sp, char ***names_r, size_t *n_r)
{
	ms_status_t st = list_files(sp, names_r, n_r);
	size_t cap = *n_r + 1;
	if (!st)
		st = ms_seg_list(sp, 0, names_r, n_r, &cap);
	if (st) {
		ms_spool_names_free(names_r);
		*n_r = 0;
	}
	return st;
}

ms_status_t ms_spool_poll(ms_spool *sp, char ***names_r, size_t *n_r)
{
	size_t cap = 0;
	*names_r = NULL;
	*n_r = 0;
	ms_status_t st = ms_seg_list(sp, 1, names_r, n_r, &cap);
	if (!st && !*names_r && !(*names_r = calloc(1, sizeof **names_r)))
		st = MS_ERR_NOMEM;
	if (st) {
		ms_spool_names_free(names_r);
		*n_r = 0;
	}
	return st;
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
	ms_seg_backlog(sp, &n, &oldest);
	*n_r = n;
	if (oldest_r)
		*oldest_r = oldest;
	return MS_OK;
}

/* ---- reading legacy entry files ---- */

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

/* Validates the footer of the mapped file; sets *ml and *rl. */
static const char *check_footer(const char *map, size_t len, uint64_t *ml,
				uint64_t *rl)
{
	const char *f = map + len - MS_SPOOL_FOOTER;
	if (memcmp(f, MAGIC, MAGIC_LEN) != 0)
		return "no spool footer (incomplete entry)";
	if (!parse_digits(f + MAGIC_LEN, LEN_DIGITS, ml) ||
	    !parse_digits(f + MAGIC_LEN + LEN_DIGITS, LEN_DIGITS, rl))
		return "malformed spool footer";
	if (*ml + *rl + MS_SPOOL_FOOTER != len)
		return "footer lengths do not match the file size";
	return NULL;
}

/* Maps the file, validates it and makes the entry. Returns NULL or a
 * static reason; *st_r is the status. */
static const char *load_entry(const char *name, int fd, ms_spool_entry **e_r,
			      ms_status_t *st_r)
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
	size_t len = (size_t)st.st_size;
	char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		*st_r = MS_ERR_IO;
		return strerror(errno);
	}
	uint64_t ml, rl;
	const char *why = check_footer(map, len, &ml, &rl);
	if (why) {
		munmap(map, len);
		return why;
	}
	*st_r = ms_spool_entry_make(name, map, (size_t)ml, map + ml, (size_t)rl,
				    1, map, len, e_r, &why);
	return *st_r ? why : NULL;
}

static ms_status_t read_file(ms_spool *sp, const char *name,
			     ms_spool_entry **e_r, char **err_r)
{
	if (!name_ok(name))
		return MS_ERR_INVALID;
	char *path = path_join(sp->dir, "new", name);
	if (!path)
		return MS_ERR_NOMEM;
	ms_status_t st;
	const char *why = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		st = errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO;
		why = strerror(errno);
	} else {
		why = load_entry(name, fd, e_r, &st);
		close(fd);
	}
	if (st && err_r && asprintf(err_r, "%s: %s", path, why) < 0)
		*err_r = NULL;
	free(path);
	return st;
}

ms_status_t ms_spool_read(ms_spool *sp, const char *name, ms_spool_entry **e_r,
			  char **err_r)
{
	*e_r = NULL;
	if (err_r)
		*err_r = NULL;
	char seg[MS_SEG_NAME_MAX];
	uint64_t off;
	if (ms_seg_name_parse(name, seg, &off))
		return ms_seg_read(sp, name, e_r, err_r);
	return read_file(sp, name, e_r, err_r);
}

/* ---- removing ---- */

ms_status_t ms_spool_remove(ms_spool *sp, const char *name, int sync)
{
	char seg[MS_SEG_NAME_MAX];
	uint64_t off;
	if (ms_seg_name_parse(name, seg, &off))
		return ms_seg_remove(sp, name, sync);
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
	char seg[MS_SEG_NAME_MAX];
	uint64_t off;
	if (ms_seg_name_parse(name, seg, &off))
		return ms_seg_quarantine(sp, name, reason);
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
