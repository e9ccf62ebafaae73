/* ms_audit.c - the audit log on disk: locked, repaired, chained appends;
 * verification of the chain against the head; reading the lines back.
 *
 * Functions: ms_audit_path, ms_audit_append, ms_audit_append_batch,
 * ms_audit_verify, ms_audit_each. The line
 * format is in ms_audit_line.c, the rules in ms_audit.h. Error messages
 * name the file and the failed step ("PATH: fdatasync: No space left").
 */
#include "ms_audit.h"

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

#define HEAD_MAGIC "mailsift-audit-head 1"

typedef struct head {
	uint64_t lines, bytes;
	char last[MS_SHA256_HEX];
} head;

/* Sets *err_r to "path: what: strerror(errno)" and returns MS_ERR_IO. */
static ms_status_t io_fail(char **err_r, const char *path, const char *what)
{
	int e = errno;
	if (err_r && asprintf(err_r, "%s: %s: %s", path, what, strerror(e)) < 0)
		*err_r = NULL;
	return MS_ERR_IO;
}

static char *head_path(const char *path, const char *suffix)
{
	char *p = NULL;
	return asprintf(&p, "%s%s", path, suffix) < 0 ? NULL : p;
}

static void line_hash(const char *line, size_t len, char hex[MS_SHA256_HEX])
{
	if (ms_sha256_hex(line, len, hex) != MS_OK)
		memset(hex, 0, MS_SHA256_HEX); /* never matches a chain */
}

/* ---- the head file ---- */

/* 0 read, 1 missing, -1 unreadable or malformed (errno 0 = malformed). */
static int head_read(const char *hpath, head *h)
{
	*h = (head){ 0, 0, MS_AUDIT_GENESIS };
	FILE *f = fopen(hpath, "re");
	if (!f)
		return errno == ENOENT ? 1 : -1;
	char magic[32] = "", last[MS_SHA256_HEX + 1] = "";
	int n = fscanf(f,
		       "%31[^\n]\nlines %" SCNu64 "\nbytes %" SCNu64
		       "\nlast %65s\n",
		       magic, &h->lines, &h->bytes, last);
	int err = ferror(f);
	fclose(f);
	if (n != 4 || strcmp(magic, HEAD_MAGIC) || strlen(last) != 64) {
		errno = err ? EIO : 0;
		*h = (head){ 0, 0, MS_AUDIT_GENESIS };
		return -1;
	}
	memcpy(h->last, last, MS_SHA256_HEX);
	return 0;
}

static int write_all(int fd, const char *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Replaces the head atomically (ms_file_replace: tmp + fsync + rename +
 * directory fsync). */
static ms_status_t head_write(const char *path, const head *h, char **err_r)
{
	char *hp = head_path(path, ".head");
	char text[160];
	int n = snprintf(text, sizeof text,
			 HEAD_MAGIC "\nlines %" PRIu64 "\nbytes %" PRIu64
				    "\nlast %s\n",
			 h->lines, h->bytes, h->last);
	ms_status_t st = hp ? ms_file_replace(hp, text, (size_t)n, 0600, err_r)
			    : MS_ERR_NOMEM;
	free(hp);
	return st;
}

/* ---- appending ---- */

char *ms_audit_path(const ms_config *cfg)
{
	if (*cfg->audit_file)
		return strdup(cfg->audit_file);
	char *p = NULL;
	return asprintf(&p, "%s/audit.log", cfg->archive_dir) < 0 ? NULL : p;
}

/* Reads fd[off, off + n) into b. */
static int read_range(int fd, off_t off, size_t n, ms_buf *b)
{
	if (ms_buf_reserve(b, n) != MS_OK)
		return errno = ENOMEM, -1;
	while (b->len < n) {
		ssize_t r = pread(fd, b->data + b->len, n - b->len,
				  off + (off_t)b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return errno = r ? errno : EIO, -1;
		b->len += (size_t)r;
	}
	b->data[b->len] = '\0';
	return 0;
}

/* Takes complete lines of tail that continue h's chain into h; returns
 * how many bytes of tail were taken. */
static size_t fold(const char *tail, size_t n, head *h)
{
	size_t used = 0;
	const char *nl;
	while (used < n && (nl = memchr(tail + used, '\n', n - used))) {
		size_t len = (size_t)(nl - (tail + used)) + 1;
		ms_audit_rec rec;
		if (ms_audit_line_parse(tail + used, len - 1, &rec) != MS_OK)
			break;
		int follows =
			rec.seq == h->lines + 1 && !strcmp(rec.prev, h->last);
		ms_audit_rec_free(&rec);
		if (!follows)
			break;
		line_hash(tail + used, len, h->last);
		h->lines++;
		h->bytes += len;
		used += len;
	}
	return used;
}

static void note(ms_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends one "; "-separated note on a repair to b. */
static void note(ms_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (b->len)
		ms_buf_puts(b, "; ");
	ms_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Decides where the next line goes (*off_r) and whether it needs a
 * newline first (*sep_r) after repairing a crash-cut tail; what was
 * repaired or found goes to repair (head_state: head_read's result). */
static ms_status_t place(int fd, const char *path, head *h, int head_state,
			 off_t *off_r, int *sep_r, ms_buf *repair, char **err_r)
{
	struct stat sb;
	if (fstat(fd, &sb))
		return io_fail(err_r, path, "fstat");
	uint64_t size = (uint64_t)sb.st_size, known = h->lines;
	ms_buf tail = MS_BUF_INIT;
	if (size >= h->bytes &&
	    read_range(fd, (off_t)h->bytes, size - h->bytes, &tail))
		return ms_buf_free(&tail), io_fail(err_r, path, "read");
	size_t used = size >= h->bytes ? fold(tail.data, tail.len, h) : 0;
	if (head_state && size)
		note(repair, "head %s: rebuilt from %" PRIu64 " lines",
		     head_state > 0 ? "missing" : "unreadable", h->lines);
	else if (h->lines > known)
		note(repair, "head was %" PRIu64 " line(s) behind",
		     h->lines - known);
	int rest_has_nl = tail.len > used &&
			  memchr(tail.data + used, '\n', tail.len - used);
	char last = 0;
	if (size < h->bytes && size > 0) {
		ms_buf_reset(&tail);
		if (read_range(fd, (off_t)size - 1, 1, &tail))
			return ms_buf_free(&tail), io_fail(err_r, path, "read");
		last = tail.data[0];
	} else if (tail.len) {
		last = tail.data[tail.len - 1];
	}
	ms_buf_free(&tail);
	if (size >= h->bytes && !rest_has_nl) { /* clean, or crash-cut */
		if (size > h->bytes && ftruncate(fd, (off_t)h->bytes))
			return io_fail(err_r, path, "ftruncate");
		if (size > h->bytes)
			note(repair,
			     "removed a partial last line (%" PRIu64 " bytes)",
			     size - h->bytes);
		*off_r = (off_t)h->bytes;
		*sep_r = 0;
		return MS_OK;
	}
	if (size < h->bytes) /* a cut log or foreign bytes: keep them */
		note(repair,
		     "the log has %" PRIu64 " bytes, the head says %" PRIu64,
		     size, h->bytes);
	else
		note(repair,
		     "kept %" PRIu64 " bytes after line %" PRIu64 " that do "
		     "not continue the chain",
		     size - h->bytes, h->lines);
	*off_r = (off_t)size;
	*sep_r = size > 0 && last != '\n';
	return MS_OK;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Formats es[0..n) into line after what it holds, each stamped with the
 * next seq and the previous line's hash; advances h->lines and h->last
 * (h->bytes is the caller's). The repair note goes on the first line. */
static ms_status_t format_all(ms_buf *line, head *h,
			      const ms_audit_entry *const *es, size_t n,
			      const char *repair)
{
	char host[256] = "?";
	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "?");
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < n && !st; i++) {
		ms_audit_entry e = *es[i];
		e.host = e.host ? e.host : host;
		ms_audit_stamp stamp = {
			h->lines + 1,	    now_us(), (uint64_t)getpid(),
			(uint64_t)getuid(), h->last,  i ? NULL : repair
		};
		size_t start = line->len;
		st = ms_audit_line_format(line, &e, &stamp);
		if (!st) {
			line_hash(line->data + start, line->len - start,
				  h->last);
			h->lines++;
		}
	}
	return st;
}

/* Under the lock: place, format every line, one write, one sync, one
 * new head. */
static ms_status_t append_locked(int fd, const char *path,
				 const ms_audit_entry *const *es, size_t n,
				 char **err_r)
{
	char *hp = head_path(path, ".head");
	if (!hp)
		return MS_ERR_NOMEM;
	head h;
	int head_state = head_read(hp, &h); /* missing: rebuilt from the log */
	free(hp);
	off_t off;
	int sep;
	ms_buf line = MS_BUF_INIT, repair = MS_BUF_INIT;
	ms_status_t st =
		place(fd, path, &h, head_state, &off, &sep, &repair, err_r);
	if (!st && sep)
		st = ms_buf_putc(&line, '\n');
	if (!st)
		st = format_all(&line, &h, es, n,
				repair.len ? repair.data : NULL);
	if (!st && write_all(fd, line.data, line.len, off))
		st = io_fail(err_r, path, "write");
	else if (!st && fdatasync(fd))
		st = io_fail(err_r, path, "fdatasync");
	if (!st) {
		h.bytes = (uint64_t)off + line.len;
		st = head_write(path, &h, err_r);
	}
	ms_buf_free(&line);
	ms_buf_free(&repair);
	return st;
}

static int lock_fd(int fd, int how)
{
	int rc;
	while ((rc = flock(fd, how)) != 0 && errno == EINTR)
		;
	return rc;
}

ms_status_t ms_audit_append_batch(const char *path,
				  const ms_audit_entry *const *es, size_t n,
				  char **err_r)
{
	if (err_r)
		*err_r = NULL;
	for (size_t i = 0; i < n; i++) {
		const ms_audit_entry *e = es[i];
		if (!e->user || !*e->user || !e->action || !*e->action) {
			if (err_r)
				*err_r = strdup("audit entry without operator "
						"or action");
			return MS_ERR_INVALID;
		}
	}
	if (n > MS_AUDIT_BATCH_MAX) {
		if (err_r)
			*err_r = strdup("audit batch too large");
		return MS_ERR_INVALID;
	}
	if (n == 0)
		return MS_OK;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_fail(err_r, path, "open");
	ms_status_t st = lock_fd(fd, LOCK_EX)
				 ? io_fail(err_r, path, "flock")
				 : append_locked(fd, path, es, n, err_r);
	close(fd); /* releases the lock */
	return st;
}

ms_status_t ms_audit_append(const char *path, const ms_audit_entry *e,
			    char **err_r)
{
	return ms_audit_append_batch(path, &e, 1, err_r);
}

/* ---- reading lines ---- */

typedef struct walk {
	FILE *f;
	char *line;
	size_t cap;
	size_t len;  /* without the newline */
	int partial; /* the last read was a line without newline */
	int err;     /* errno of a read error */
} walk;

/* 1 = a complete line in w->line, 0 = end (w->partial if a fragment was
 * left), -1 = read error. */
static int walk_next(walk *w)
{
	errno = 0;
	ssize_t n = getline(&w->line, &w->cap, w->f);
	if (n < 0)
		return ferror(w->f) ? (w->err = errno ? errno : EIO, -1) : 0;
	if (w->line[n - 1] != '\n') {
		w->partial = 1;
		return 0;
	}
	w->len = (size_t)n - 1;
	return 1;
}

/* Opens path for reading under a shared lock; *w->f NULL if missing. */
static ms_status_t walk_open(const char *path, walk *w, char **err_r)
{
	memset(w, 0, sizeof *w);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? MS_OK : io_fail(err_r, path, "open");
	if (lock_fd(fd, LOCK_SH)) {
		ms_status_t st = io_fail(err_r, path, "flock");
		close(fd);
		return st;
	}
	w->f = fdopen(fd, "r");
	if (!w->f) {
		close(fd);
		return MS_ERR_NOMEM;
	}
	return MS_OK;
}

static void walk_close(walk *w)
{
	if (w->f)
		fclose(w->f);
	free(w->line);
	memset(w, 0, sizeof *w);
}

ms_status_t ms_audit_each(const char *path,
			  int (*fn)(const char *line, size_t len,
				    const ms_audit_rec *rec, void *ctx),
			  void *ctx, char **err_r)
{
	if (err_r)
		*err_r = NULL;
	walk w;
	ms_status_t st = walk_open(path, &w, err_r);
	int rc = 0;
	while (!st && w.f && (rc = walk_next(&w)) == 1) {
		ms_audit_rec rec;
		ms_status_t pst = ms_audit_line_parse(w.line, w.len, &rec);
		if (pst == MS_ERR_NOMEM)
			st = MS_ERR_NOMEM;
		else if (fn(w.line, w.len, pst ? NULL : &rec, ctx))
			st = MS_ERR_INVALID;
		ms_audit_rec_free(&rec);
	}
	if (!st && rc < 0) {
		errno = w.err;
		st = io_fail(err_r, path, "read");
	}
	walk_close(&w);
	return st;
}

/* ---- verifying ---- */

typedef struct verifier {
	walk w;
	head h;
	int head_state; /* head_read's result */
	ms_audit_report *r;
	uint64_t bytes;		     /* offset after the last line */
	char prev[MS_SHA256_HEX];    /* hash of the last line */
	char at_head[MS_SHA256_HEX]; /* hash of line h.lines */
	uint64_t bytes_at_head;
} verifier;

static void damaged(verifier *v, uint64_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void damaged(verifier *v, uint64_t line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	v->r->state = MS_AUDIT_DAMAGED;
	v->r->bad_line = line;
	vsnprintf(v->r->message, sizeof v->r->message, fmt, ap);
	va_end(ap);
}

/* Line n's prev does not match line n-1: which of the two is bad? Line n
 * is good if what follows it (the next line's prev, or the head) agrees
 * with its hash. */
static void chain_break(verifier *v, uint64_t n, const char *hash)
{
	if (n == 1) {
		damaged(v, 1,
			"line 1: prev is not the start of the chain "
			"(changed, or lines removed before it)");
		return;
	}
	int follows = 0;
	if (walk_next(&v->w) == 1) {
		ms_audit_rec next;
		if (ms_audit_line_parse(v->w.line, v->w.len, &next) == MS_OK)
			follows = !strcmp(next.prev, hash);
		ms_audit_rec_free(&next);
	} else {
		follows = v->head_state == 0 && v->h.lines == n &&
			  !strcmp(v->h.last, hash);
	}
	if (follows)
		damaged(v, n - 1,
			"line %" PRIu64 ": changed (its hash does not match "
			"the prev of line %" PRIu64 ")",
			n - 1, n);
	else
		damaged(v, n,
			"line %" PRIu64 ": does not follow line %" PRIu64
			" (changed or inserted)",
			n, n - 1);
}

/* Checks line n (in v->w). 0 = fine, -1 = damaged (reported). */
static int check_line(verifier *v, uint64_t n)
{
	char hash[MS_SHA256_HEX];
	v->w.line[v->w.len] = '\n';
	line_hash(v->w.line, v->w.len + 1, hash);
	ms_audit_rec rec;
	if (ms_audit_line_parse(v->w.line, v->w.len, &rec) != MS_OK) {
		damaged(v, n,
			"line %" PRIu64 ": not a valid audit entry (changed)",
			n);
		return -1;
	}
	uint64_t seq = rec.seq;
	int linked = !strcmp(rec.prev, v->prev);
	ms_audit_rec_free(&rec);
	if (seq != n)
		damaged(v, n,
			"line %" PRIu64 ": seq %" PRIu64 ", expected %" PRIu64
			" (%s)",
			n, seq, n,
			seq > n ? "lines removed or moved"
				: "inserted or moved");
	else if (!linked)
		chain_break(v, n, hash);
	if (v->r->state == MS_AUDIT_DAMAGED)
		return -1;
	memcpy(v->prev, hash, MS_SHA256_HEX);
	v->bytes += v->w.len + 1;
	if (n == v->h.lines) {
		memcpy(v->at_head, hash, MS_SHA256_HEX);
		v->bytes_at_head = v->bytes;
	}
	return 0;
}

/* After every line checked: compare what was read with the head. */
static void against_head(verifier *v)
{
	ms_audit_report *r = v->r;
	uint64_t n = r->lines, hn = v->h.lines;
	if (v->head_state < 0)
		damaged(v, 0, "the head file is unreadable or malformed");
	else if (v->head_state == 1 && n > 1)
		damaged(v, 0, "the head file is missing (%" PRIu64 " lines)",
			n);
	else if (n < hn)
		damaged(v, n + 1,
			"line %" PRIu64 ": missing: truncated (%" PRIu64
			" complete lines, the head says %" PRIu64 ")",
			n + 1, n, hn);
	else if (strcmp(v->at_head, v->h.last))
		damaged(v, hn,
			"line %" PRIu64 ": does not match the head (changed)",
			hn);
	else if (v->bytes_at_head != v->h.bytes)
		damaged(v, hn,
			"the head says %" PRIu64 " bytes up to line %" PRIu64
			", the log has %" PRIu64 " (changed)",
			v->h.bytes, hn, v->bytes_at_head);
	else if (n > hn + MS_AUDIT_BATCH_MAX)
		damaged(v, hn + 1,
			"line %" PRIu64 ": %" PRIu64 " lines after the head's "
			"last line (inserted)",
			hn + 1, n - hn);
	else if (n > hn) /* at most one batch: a crash before its head */
		r->state = MS_AUDIT_HEAD_BEHIND;
	if (r->state == MS_AUDIT_DAMAGED)
		return;
	if (v->w.partial) {
		r->state = MS_AUDIT_CRASH_CUT;
		snprintf(r->message, sizeof r->message,
			 "line %" PRIu64 ": last line incomplete (crash "
			 "during append?); the next append repairs it",
			 n + 1);
	} else if (r->state == MS_AUDIT_HEAD_BEHIND && n == hn + 1) {
		snprintf(r->message, sizeof r->message,
			 "line %" PRIu64 ": not yet in the head (crash after "
			 "append?); the next append repairs it",
			 n);
	} else if (r->state == MS_AUDIT_HEAD_BEHIND) {
		snprintf(r->message, sizeof r->message,
			 "lines %" PRIu64 "-%" PRIu64 ": not yet in the head "
			 "(crash after a batch append?); the next append "
			 "repairs it",
			 hn + 1, n);
	}
}

ms_status_t ms_audit_verify(const char *path, ms_audit_report *r, char **err_r)
{
	if (err_r)
		*err_r = NULL;
	memset(r, 0, sizeof *r);
	verifier v = { .r = r };
	char *hp = head_path(path, ".head");
	if (!hp)
		return MS_ERR_NOMEM;
	ms_status_t st = walk_open(path, &v.w, err_r);
	/* read the head only under the log's lock: appends write it */
	v.head_state = head_read(hp, &v.h);
	free(hp);
	memcpy(v.prev, MS_AUDIT_GENESIS, MS_SHA256_HEX);
	memcpy(v.at_head, MS_AUDIT_GENESIS, MS_SHA256_HEX);
	int rc = 0;
	while (!st && v.w.f && (rc = walk_next(&v.w)) == 1)
		if (check_line(&v, ++r->lines) != 0)
			break;
	if (!st && rc < 0) {
		errno = v.w.err;
		st = io_fail(err_r, path, "read");
	}
	r->head_lines = v.h.lines;
	memcpy(r->last, v.prev, MS_SHA256_HEX);
	if (!st && r->state != MS_AUDIT_DAMAGED)
		against_head(&v);
	walk_close(&v.w);
	return st;
}
