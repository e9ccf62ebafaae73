/* ms_export.c - writing an export (see ms_export.h).
 *
 * Functions: ms_export_format_parse, ms_export_begin, ms_export_add,
 * ms_export_finish, ms_export_abort, ms_export_error, ms_export_count,
 * ms_export_bytes, ms_export_add_hits. The manifest and the mbox are written
 * through a buffered file (wfile) that hashes what it writes; an eml is
 * one write() of the message. Memory: one message and two write buffers.
 */
#include "ms_export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ms_csv.h"
#include "ms_hash.h"
#include "ms_mbox.h"

#define WBUF_FLUSH (256 * 1024) /* write out a buffer beyond this */
#define SUM_TMP	   ".manifest.sha256.tmp"

/* A file written through a buffer, hashed and counted as it goes. */
typedef struct wfile {
	int fd;
	ms_buf buf;
	ms_sha256 *sha;
	uint64_t off; /* bytes handed to the file so far (incl. buffered) */
	char hex[MS_SHA256_HEX];
} wfile;

struct ms_export {
	char *dir;
	int dirfd;
	int created; /* the directory is ours: remove it on abort */
	ms_export_format fmt;
	wfile manifest, mbox;
	ms_buf made; /* names of the files created, each NUL-terminated */
	uint64_t n, bytes;
	ms_buf err;
};

ms_status_t ms_export_format_parse(const char *name, ms_export_format *fmt_r)
{
	if (strcmp(name, "mbox") == 0)
		return *fmt_r = MS_EXPORT_MBOX, MS_OK;
	if (strcmp(name, "eml") == 0)
		return *fmt_r = MS_EXPORT_EML, MS_OK;
	return MS_ERR_INVALID;
}

static ms_status_t fail(ms_export *ex, ms_status_t st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static ms_status_t fail(ms_export *ex, ms_status_t st, const char *fmt, ...)
{
	va_list ap;
	ms_buf_reset(&ex->err);
	va_start(ap, fmt);
	ms_buf_vprintf(&ex->err, fmt, ap);
	va_end(ap);
	return st;
}

/* Writes all of p[0..n) to fd; 0 or -1 (errno). */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w;
	}
	return 0;
}

/* Records that the export created dir/name (abort removes it). */
static ms_status_t made(ms_export *ex, const char *name)
{
	if (ms_buf_append(&ex->made, name, strlen(name) + 1))
		return fail(ex, MS_ERR_NOMEM, "out of memory");
	return MS_OK;
}

static ms_status_t wfile_open(ms_export *ex, wfile *f, const char *name)
{
	f->fd = openat(ex->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		       0600);
	if (f->fd < 0)
		return fail(ex, MS_ERR_IO, "%s/%s: %s", ex->dir, name,
			    strerror(errno));
	if (made(ex, name))
		return MS_ERR_NOMEM;
	if (!(f->sha = ms_sha256_new()))
		return fail(ex, MS_ERR_NOMEM, "out of memory");
	return MS_OK;
}

/* Hands the buffered bytes to the file (and the hash). */
static ms_status_t wfile_flush(ms_export *ex, wfile *f, const char *name)
{
	if (!f->buf.len)
		return MS_OK;
	if (ms_sha256_update(f->sha, f->buf.data, f->buf.len))
		return fail(ex, MS_ERR_CRYPTO, "SHA-256 failed");
	if (write_all(f->fd, f->buf.data, f->buf.len))
		return fail(ex, MS_ERR_IO, "%s/%s: %s", ex->dir, name,
			    strerror(errno));
	ms_buf_reset(&f->buf);
	return MS_OK;
}

/* Flushes when enough is buffered; accounts for what was appended. */
static ms_status_t wfile_advance(ms_export *ex, wfile *f, const char *name,
				 size_t before)
{
	f->off += f->buf.len - before;
	return f->buf.len >= WBUF_FLUSH ? wfile_flush(ex, f, name) : MS_OK;
}

/* Flushes, closes and finalises the hash (f->hex). */
static ms_status_t wfile_close(ms_export *ex, wfile *f, const char *name)
{
	ms_status_t st = wfile_flush(ex, f, name);
	if (!st && ms_sha256_final(&f->sha, f->hex))
		st = fail(ex, MS_ERR_CRYPTO, "SHA-256 failed");
	if (close(f->fd) && !st)
		st = fail(ex, MS_ERR_IO, "%s/%s: %s", ex->dir, name,
			  strerror(errno));
	f->fd = -1;
	return st;
}

static void wfile_free(wfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->sha)
		ms_sha256_final(&f->sha, f->hex);
	ms_buf_free(&f->buf);
}

/* Takes dir: creates it, or opens an existing empty directory. */
static ms_status_t claim_dir(ms_export *ex)
{
	if (mkdir(ex->dir, 0700) == 0)
		ex->created = 1;
	else if (errno != EEXIST)
		return fail(ex, MS_ERR_IO, "%s: %s", ex->dir, strerror(errno));
	ex->dirfd = open(ex->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ex->dirfd < 0)
		return fail(ex, errno == ENOTDIR ? MS_ERR_INVALID : MS_ERR_IO,
			    "%s: %s", ex->dir,
			    errno == ENOTDIR ? "exists and is not a directory; "
					       "refusing to overwrite"
					     : strerror(errno));
	if (ex->created)
		return MS_OK;
	DIR *d = fdopendir(dup(ex->dirfd));
	if (!d)
		return fail(ex, MS_ERR_IO, "%s: %s", ex->dir, strerror(errno));
	int empty = 1;
	for (struct dirent *e; empty && (e = readdir(d));)
		empty = strcmp(e->d_name, ".") == 0 ||
			strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty ? MS_OK
		     : fail(ex, MS_ERR_INVALID,
			    "%s: directory is not empty; refusing to overwrite",
			    ex->dir);
}

static ms_status_t start_files(ms_export *ex)
{
	ms_status_t st = wfile_open(ex, &ex->manifest, MS_EXPORT_MANIFEST);
	if (!st && ex->fmt == MS_EXPORT_MBOX)
		st = wfile_open(ex, &ex->mbox, MS_EXPORT_MBOX_FILE);
	if (!st && (ms_buf_puts(&ex->manifest.buf, MS_EXPORT_COLUMNS) ||
		    ms_csv_end(&ex->manifest.buf)))
		st = fail(ex, MS_ERR_NOMEM, "out of memory");
	ex->manifest.off = ex->manifest.buf.len;
	return st;
}

static void set_err(char **err_r, const char *msg)
{
	if (err_r)
		*err_r = strdup(msg && *msg ? msg : "out of memory");
}

ms_status_t ms_export_begin(const char *dir, ms_export_format fmt,
			    ms_export **ex_r, char **err_r)
{
	*ex_r = NULL;
	if (err_r)
		*err_r = NULL;
	ms_export *ex = calloc(1, sizeof *ex);
	if (!ex || !(ex->dir = strdup(dir))) {
		free(ex);
		return set_err(err_r, NULL), MS_ERR_NOMEM;
	}
	ex->fmt = fmt;
	ex->dirfd = ex->manifest.fd = ex->mbox.fd = -1;
	ms_status_t st = claim_dir(ex);
	if (!st)
		st = start_files(ex);
	if (st) {
		set_err(err_r, ex->err.data);
		ms_export_abort(&ex);
		return st;
	}
	*ex_r = ex;
	return MS_OK;
}

/* Whether id can be a file name: [A-Za-z0-9._@+=-]+, not starting '.'. */
static int id_ok(const char *id)
{
	static const char extra[] = "._@+=-";
	if (!*id || *id == '.')
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(extra, *p)))
			return 0;
	return 1;
}

static void iso_date(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "%s", "");
}

/* Appends the manifest row of one message. */
static ms_status_t put_row(ms_export *ex, const ms_hit *h, const char *sha,
			   size_t len, const char *file, const char *off)
{
	char date[32], size[24];
	iso_date(h->date, date, sizeof date);
	snprintf(size, sizeof size, "%zu", len);
	const char *v[] = { h->id,	h->message_id, date, h->from, h->to,
			    h->subject, size,	       sha,  file,    off };
	size_t before = ex->manifest.buf.len;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (ms_csv_field(&ex->manifest.buf, v[i], i == 0))
			return fail(ex, MS_ERR_NOMEM, "out of memory");
	if (ms_csv_end(&ex->manifest.buf))
		return fail(ex, MS_ERR_NOMEM, "out of memory");
	return wfile_advance(ex, &ex->manifest, MS_EXPORT_MANIFEST, before);
}

/* The mbox "From " line: the envelope sender (if it is one word) and the
 * date in asctime form, UTC. */
static ms_status_t put_from_line(ms_buf *b, const ms_hit *h)
{
	const char *s =
		h->sender && *h->sender && !strpbrk(h->sender, " \t\r\n")
			? h->sender
			: "MAILER-DAEMON";
	char date[40];
	time_t tt = (time_t)h->date;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) ||
	    !strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm))
		snprintf(date, sizeof date, "Thu Jan  1 00:00:00 1970");
	return ms_buf_printf(b, "From %s %s\n", s, date);
}

static ms_status_t add_mbox(ms_export *ex, const ms_hit *h, const char *raw,
			    size_t len, const char *sha)
{
	char off[24];
	snprintf(off, sizeof off, "%" PRIu64, ex->mbox.off);
	size_t before = ex->mbox.buf.len;
	ms_buf *b = &ex->mbox.buf;
	if (put_from_line(b, h) || ms_mbox_quote(b, raw, len) ||
	    ms_buf_putc(b, '\n'))
		return fail(ex, MS_ERR_NOMEM, "out of memory");
	ms_status_t st =
		wfile_advance(ex, &ex->mbox, MS_EXPORT_MBOX_FILE, before);
	return st ? st : put_row(ex, h, sha, len, MS_EXPORT_MBOX_FILE, off);
}

static ms_status_t add_eml(ms_export *ex, const ms_hit *h, const char *raw,
			   size_t len, const char *sha)
{
	char name[MS_ARCHIVE_ID_MAX + 8];
	snprintf(name, sizeof name, "%s.eml", h->id);
	int fd = openat(ex->dirfd, name,
			O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(ex, errno == EEXIST ? MS_ERR_INVALID : MS_ERR_IO,
			    "%s/%s: %s", ex->dir, name,
			    errno == EEXIST ? "two messages with this id"
					    : strerror(errno));
	if (made(ex, name)) {
		close(fd);
		return MS_ERR_NOMEM;
	}
	int bad = write_all(fd, raw, len);
	int e = errno;
	if (close(fd) && !bad)
		bad = -1, e = errno;
	if (bad)
		return fail(ex, MS_ERR_IO, "%s/%s: %s", ex->dir, name,
			    strerror(e));
	return put_row(ex, h, sha, len, name, "");
}

ms_status_t ms_export_add(ms_export *ex, const ms_hit *h, const char *raw,
			  size_t len)
{
	char sha[MS_SHA256_HEX];
	if (!id_ok(h->id))
		return fail(ex, MS_ERR_INVALID,
			    "id '%s' cannot be exported: not a file name",
			    h->id);
	if (ms_sha256_hex(raw, len, sha))
		return fail(ex, MS_ERR_CRYPTO, "SHA-256 failed");
	if (h->sha256 && *h->sha256 && strcmp(sha, h->sha256) != 0)
		return fail(ex, MS_ERR_CORRUPT,
			    "id %s: stored message damaged (SHA-256 %s, "
			    "archived as %s)",
			    h->id, sha, h->sha256);
	ms_status_t st = ex->fmt == MS_EXPORT_MBOX
				 ? add_mbox(ex, h, raw, len, sha)
				 : add_eml(ex, h, raw, len, sha);
	if (!st)
		ex->n++, ex->bytes += len;
	return st;
}

/* Writes manifest.sha256 durably: temporary file, fsync, rename. */
static ms_status_t write_sums(ms_export *ex)
{
	ms_buf b = MS_BUF_INIT;
	ms_buf_printf(&b, "%s  %s\n", ex->manifest.hex, MS_EXPORT_MANIFEST);
	if (ex->fmt == MS_EXPORT_MBOX)
		ms_buf_printf(&b, "%s  %s\n", ex->mbox.hex,
			      MS_EXPORT_MBOX_FILE);
	if (made(ex, SUM_TMP) || made(ex, MS_EXPORT_MANIFEST_SUM)) {
		ms_buf_free(&b);
		return MS_ERR_NOMEM;
	}
	int fd = openat(ex->dirfd, SUM_TMP,
			O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int bad =
		fd < 0 || !b.data || write_all(fd, b.data, b.len) || fsync(fd);
	int e = errno;
	if (fd >= 0 && close(fd) && !bad)
		bad = 1, e = errno;
	ms_buf_free(&b);
	if (!bad &&
	    renameat(ex->dirfd, SUM_TMP, ex->dirfd, MS_EXPORT_MANIFEST_SUM))
		bad = 1, e = errno;
	if (!bad && fsync(ex->dirfd))
		bad = 1, e = errno;
	return bad ? fail(ex, MS_ERR_IO, "%s/%s: %s", ex->dir,
			  MS_EXPORT_MANIFEST_SUM, strerror(e))
		   : MS_OK;
}

/* fsyncs the parent of a directory we created (its new entry). */
static int sync_parent(const char *dir)
{
	char *p = strdup(dir);
	if (!p)
		return -1;
	char *slash = strrchr(p, '/');
	const char *parent = !slash ? "." : slash == p ? "/" : (*slash = 0, p);
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 || fsync(fd) ? -1 : 0;
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

/* Removes the files the export created (and nothing else: another
 * process may have taken the same empty directory). */
static void remove_files(ms_export *ex)
{
	for (size_t i = 0; i < ex->made.len; i += strlen(ex->made.data + i) + 1)
		unlinkat(ex->dirfd, ex->made.data + i, 0);
}

/* Frees ex; with remove, also every file it wrote (and its directory if
 * it created it). */
static void export_free(ms_export *ex, int remove)
{
	wfile_free(&ex->manifest);
	wfile_free(&ex->mbox);
	if (ex->dirfd >= 0 && remove)
		remove_files(ex);
	if (ex->dirfd >= 0)
		close(ex->dirfd);
	if (ex->created && remove)
		rmdir(ex->dir); /* fails, as it should, if others' files are in
				   it */
	ms_buf_free(&ex->made);
	ms_buf_free(&ex->err);
	free(ex->dir);
	free(ex);
}

void ms_export_abort(ms_export **exp)
{
	if (*exp)
		export_free(*exp, 1);
	*exp = NULL;
}

ms_status_t ms_export_finish(ms_export **exp, char **err_r)
{
	ms_export *ex = *exp;
	if (err_r)
		*err_r = NULL;
	ms_status_t st = wfile_close(ex, &ex->manifest, MS_EXPORT_MANIFEST);
	if (!st && ex->fmt == MS_EXPORT_MBOX)
		st = wfile_close(ex, &ex->mbox, MS_EXPORT_MBOX_FILE);
	if (!st && syncfs(ex->dirfd))
		st = fail(ex, MS_ERR_IO, "%s: sync: %s", ex->dir,
			  strerror(errno));
	if (!st)
		st = write_sums(ex);
	if (!st && ex->created && sync_parent(ex->dir))
		st = fail(ex, MS_ERR_IO, "%s: syncing its parent: %s", ex->dir,
			  strerror(errno));
	if (st) {
		set_err(err_r, ex->err.data);
		ms_export_abort(exp);
		return st;
	}
	export_free(ex, 0);
	*exp = NULL;
	return MS_OK;
}

const char *ms_export_error(const ms_export *ex)
{
	return ex->err.data ? ex->err.data : "";
}

uint64_t ms_export_count(const ms_export *ex)
{
	return ex->n;
}

uint64_t ms_export_bytes(const ms_export *ex)
{
	return ex->bytes;
}

ms_status_t ms_export_add_hits(ms_export *ex, ms_archive *ar,
			       const ms_hits *hits,
			       ms_export_progress_fn progress, void *ctx)
{
	ms_buf raw = MS_BUF_INIT;
	ms_status_t st = MS_OK;
	for (size_t i = 0; !st && i < ms_hits_size(hits); i++) {
		const ms_hit *h = ms_hits_get(hits, i);
		ms_buf_reset(&raw);
		if ((st = ms_archive_raw(ar, h, &raw))) /* local or remote */
			fail(ex, st, "%s", ms_archive_error(ar));
		else
			st = ms_export_add(ex, h, raw.data ? raw.data : "",
					   raw.len);
		if (!st && progress)
			progress(i + 1, ctx);
	}
	ms_buf_free(&raw);
	return st;
}
