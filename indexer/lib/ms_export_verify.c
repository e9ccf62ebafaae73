/* ms_export_verify.c - re-checking an export against its manifest (see
 * ms_export.h).
 *
 * Functions: ms_export_verify. Order: manifest.sha256 (each file it
 * lists is re-hashed), then manifest.csv row by row (an eml row: the
 * file's size and SHA-256; an mbox row: the message between its offset
 * and the next row's, unquoted), then the directory for files nobody
 * listed. Files are read through mmap, and pages already read are
 * handed back as it goes (release_below), so memory is one unquoted
 * message plus the names of the files the rows list, whatever the size
 * of the export.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_csv.h"
#include "ms_hash.h"
#include "ms_mbox.h"

#define SUM_MAX	     (1 << 20)	/* manifest.sha256 is two lines */
#define RELEASE_STEP (8u << 20) /* hand back read pages in 8 MB steps */
#define N_COLUMNS    10
enum {
	C_ID,
	C_MID,
	C_DATE,
	C_FROM,
	C_TO,
	C_SUBJ,
	C_SIZE,
	C_SHA,
	C_FILE,
	C_OFF
};

typedef struct fmap {
	const char *data;
	size_t len;
	int mapped;	 /* data came from mmap */
	size_t released; /* pages below this were handed back */
} fmap;

/* An mbox row waiting for the next row's offset (its end). */
typedef struct mrow {
	int have;
	uint64_t off, size, row;
	char sha[MS_SHA256_HEX];
	char id[MS_ARCHIVE_ID_MAX];
} mrow;

typedef struct vctx {
	const char *dir;
	int dirfd;
	const ms_export_verify_ops *ops;
	ms_export_check *res;
	char **listed; /* files named by manifest.sha256 and eml rows */
	size_t n_listed, cap_listed, n_sum;
	fmap mbox;
	int mbox_state; /* 0 not opened, 1 mapped, -1 missing */
	mrow prev;
	ms_buf unq, line;
} vctx;

static void problem(vctx *vc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(vctx *vc, const char *fmt, ...)
{
	va_list ap;
	ms_buf_reset(&vc->line);
	va_start(ap, fmt);
	ms_buf_vprintf(&vc->line, fmt, ap);
	va_end(ap);
	vc->res->problems++;
	if (vc->ops && vc->ops->problem)
		vc->ops->problem(vc->line.data ? vc->line.data : "",
				 vc->ops->ctx);
}

/* Maps dir/name read-only; 0, or -1 with errno (ENOENT: missing). */
static int map_file(vctx *vc, const char *name, fmap *m)
{
	*m = (fmap){ "", 0, 0, 0 };
	int fd = openat(vc->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		int e = S_ISREG(sb.st_mode) ? errno : EINVAL;
		close(fd);
		return errno = e, -1;
	}
	if (sb.st_size > 0) {
		void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE,
			       fd, 0);
		if (p == MAP_FAILED) {
			int e = errno;
			close(fd);
			return errno = e, -1;
		}
		madvise(p, (size_t)sb.st_size, MADV_SEQUENTIAL);
		*m = (fmap){ p, (size_t)sb.st_size, 1, 0 };
	}
	close(fd);
	return 0;
}

static void unmap_file(fmap *m)
{
	if (m->mapped)
		munmap((void *)m->data, m->len);
	*m = (fmap){ "", 0, 0, 0 };
}

/* Hands the mapped pages below upto back (they were read and are not
 * needed again), so that a big file does not stay in the resident set. */
static void release_below(fmap *m, size_t upto)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	upto -= upto % page;
	if (!m->mapped || upto < m->released + RELEASE_STEP)
		return;
	madvise((char *)m->data + m->released, upto - m->released,
		MADV_DONTNEED);
	m->released = upto;
}

/* A plain file name: no '/', not empty, not starting with '.'. */
static int name_ok(const char *name)
{
	return *name && *name != '.' && !strchr(name, '/');
}

static int add_listed(vctx *vc, const char *name)
{
	if (vc->n_listed == vc->cap_listed) {
		size_t nc = vc->cap_listed ? vc->cap_listed * 2 : 256;
		char **nv = realloc(vc->listed, nc * sizeof *nv);
		if (!nv)
			return -1;
		vc->listed = nv, vc->cap_listed = nc;
	}
	if (!(vc->listed[vc->n_listed] = strdup(name)))
		return -1;
	vc->n_listed++;
	return 0;
}

/* Hashes dir/name into hex; 0, or -1 (errno; problem not reported). */
static int hash_file(vctx *vc, const char *name, char hex[MS_SHA256_HEX],
		     size_t *len_r)
{
	fmap m;
	if (map_file(vc, name, &m))
		return -1;
	ms_sha256 *h = ms_sha256_new();
	ms_status_t st = h ? MS_OK : MS_ERR_NOMEM;
	for (size_t off = 0; !st && off < m.len; off += RELEASE_STEP) {
		size_t n =
			m.len - off < RELEASE_STEP ? m.len - off : RELEASE_STEP;
		st = ms_sha256_update(h, m.data + off, n);
		release_below(&m, off + n);
	}
	if (h && ms_sha256_final(&h, hex) && !st)
		st = MS_ERR_CRYPTO;
	*len_r = m.len;
	unmap_file(&m);
	vc->res->files++;
	return st ? (errno = EIO, -1) : 0;
}

/* One "HEX  NAME" line of manifest.sha256. */
static ms_status_t check_sum_line(vctx *vc, char *line, size_t lineno)
{
	size_t n = strlen(line);
	char hex[MS_SHA256_HEX];
	size_t len;
	if (n < 67 || strspn(line, "0123456789abcdef") != 64 ||
	    line[64] != ' ' || (line[65] != ' ' && line[65] != '*') ||
	    !name_ok(line + 66))
		return problem(vc, "%s: line %zu: malformed",
			       MS_EXPORT_MANIFEST_SUM, lineno),
		       MS_OK;
	const char *name = line + 66;
	if (add_listed(vc, name))
		return MS_ERR_NOMEM;
	if (hash_file(vc, name, hex, &len))
		problem(vc, "%s: %s", name,
			errno == ENOENT ? "missing" : strerror(errno));
	else if (memcmp(hex, line, 64) != 0)
		problem(vc, "%s: SHA-256 does not match %s", name,
			MS_EXPORT_MANIFEST_SUM);
	return MS_OK;
}

/* Checks manifest.sha256 and every file it lists. */
static ms_status_t check_sums(vctx *vc)
{
	fmap m;
	if (map_file(vc, MS_EXPORT_MANIFEST_SUM, &m))
		return problem(vc, "%s: %s", MS_EXPORT_MANIFEST_SUM,
			       errno == ENOENT ? "missing (the export is "
						 "incomplete or not an export)"
					       : strerror(errno)),
		       MS_OK;
	ms_status_t st = MS_OK;
	char *copy = m.len <= SUM_MAX ? strndup(m.data, m.len) : NULL;
	if (!copy && m.len <= SUM_MAX)
		st = MS_ERR_NOMEM;
	else if (!copy)
		problem(vc, "%s: too large", MS_EXPORT_MANIFEST_SUM);
	size_t lineno = 0;
	for (char *sv = NULL, *l = copy ? strtok_r(copy, "\n", &sv) : NULL;
	     l && !st; l = strtok_r(NULL, "\n", &sv))
		st = check_sum_line(vc, l, ++lineno);
	vc->n_sum = vc->n_listed;
	int has_manifest = 0;
	for (size_t i = 0; i < vc->n_sum; i++)
		has_manifest |= strcmp(vc->listed[i], MS_EXPORT_MANIFEST) == 0;
	if (!st && copy && !has_manifest)
		problem(vc, "%s: does not list %s", MS_EXPORT_MANIFEST_SUM,
			MS_EXPORT_MANIFEST);
	free(copy);
	unmap_file(&m);
	return st;
}

/* Parses a decimal field; 0 if it is not one. */
static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !*end && !errno;
}

/* An eml row: the whole file is the message. */
static ms_status_t check_file_row(vctx *vc, const ms_csv_row *r, uint64_t size)
{
	const char *name = r->f[C_FILE];
	char hex[MS_SHA256_HEX];
	size_t len;
	if (add_listed(vc, name))
		return MS_ERR_NOMEM;
	if (hash_file(vc, name, hex, &len))
		problem(vc, "%s: %s (id %s)", name,
			errno == ENOENT ? "missing" : strerror(errno),
			r->f[C_ID]);
	else if (len != size)
		problem(vc, "%s: id %s: size %zu, the manifest says %" PRIu64,
			name, r->f[C_ID], len, size);
	else if (strcmp(hex, r->f[C_SHA]) != 0)
		problem(vc, "%s: id %s: SHA-256 mismatch", name, r->f[C_ID]);
	return MS_OK;
}

/* Whether the unquoted text u is the message (size bytes, hash sha)
 * plus the newline the writer adds to a message without one. */
static const char *message_mismatch(const ms_buf *u, const mrow *p)
{
	char hex[MS_SHA256_HEX];
	const char *d = u->data ? u->data : "";
	if (u->len < p->size)
		return "shorter than the manifest's size";
	size_t rest = u->len - (size_t)p->size;
	if (rest > 1 || (rest == 1 && (d[u->len - 1] != '\n' ||
				       (p->size && d[p->size - 1] == '\n'))))
		return "longer than the manifest's size";
	if (ms_sha256_hex(d, (size_t)p->size, hex) || strcmp(hex, p->sha))
		return "SHA-256 mismatch";
	return NULL;
}

/* Checks the pending mbox row p, whose message ends at end. */
static ms_status_t check_segment(vctx *vc, const mrow *p, uint64_t end)
{
	const char *why = NULL;
	if (end > vc->mbox.len || p->off >= end)
		why = "offset beyond the end of the file";
	const char *s = why ? NULL : vc->mbox.data + p->off;
	size_t n = why ? 0 : (size_t)(end - p->off);
	const char *nl = s ? memchr(s, '\n', n) : NULL;
	if (!why && (n < 5 || memcmp(s, "From ", 5) || !nl))
		why = "no \"From \" line at its offset";
	else if (!why && s[n - 1] != '\n')
		why = "no empty line after the message";
	if (!why) {
		size_t hl = (size_t)(nl + 1 - s);
		ms_buf_reset(&vc->unq);
		if (ms_mbox_unquote(&vc->unq, s + hl, n - hl - 1))
			return MS_ERR_NOMEM;
		why = message_mismatch(&vc->unq, p);
	}
	if (why)
		problem(vc, "%s: id %s at offset %" PRIu64 ": %s",
			MS_EXPORT_MBOX_FILE, p->id, p->off, why);
	return MS_OK;
}

/* Whether manifest.sha256 lists name (then it reported it if missing). */
static int listed_in_sums(const vctx *vc, const char *name)
{
	for (size_t i = 0; i < vc->n_sum; i++)
		if (strcmp(vc->listed[i], name) == 0)
			return 1;
	return 0;
}

/* An mbox row: checks the previous one, now that its end is known. */
static ms_status_t check_mbox_row(vctx *vc, const ms_csv_row *r, uint64_t size,
				  uint64_t rowno)
{
	uint64_t off;
	if (!parse_u64(r->f[C_OFF], &off))
		return problem(vc, "%s: row %" PRIu64 ": bad offset '%s'",
			       MS_EXPORT_MANIFEST, rowno, r->f[C_OFF]),
		       MS_OK;
	if (!vc->mbox_state) {
		vc->mbox_state =
			map_file(vc, MS_EXPORT_MBOX_FILE, &vc->mbox) ? -1 : 1;
		if (vc->mbox_state < 0 &&
		    (errno != ENOENT ||
		     !listed_in_sums(vc, MS_EXPORT_MBOX_FILE)))
			problem(vc, "%s: %s", MS_EXPORT_MBOX_FILE,
				errno == ENOENT ? "missing" : strerror(errno));
	}
	if (vc->mbox_state < 0)
		return MS_OK; /* reported once */
	if (!vc->prev.have && off != 0)
		problem(vc, "%s: %" PRIu64 " bytes before the first message",
			MS_EXPORT_MBOX_FILE, off);
	ms_status_t st = MS_OK;
	if (vc->prev.have && off <= vc->prev.off)
		problem(vc, "%s: row %" PRIu64 ": offset out of order",
			MS_EXPORT_MANIFEST, rowno);
	else if (vc->prev.have) {
		st = check_segment(vc, &vc->prev, off);
		release_below(&vc->mbox, (size_t)vc->prev.off);
	}
	vc->prev = (mrow){ 1, off, size, rowno, "", "" };
	snprintf(vc->prev.sha, sizeof vc->prev.sha, "%s", r->f[C_SHA]);
	snprintf(vc->prev.id, sizeof vc->prev.id, "%s", r->f[C_ID]);
	return st;
}

static ms_status_t check_row(vctx *vc, const ms_csv_row *r, uint64_t rowno)
{
	uint64_t size;
	vc->res->messages++;
	if (r->n != N_COLUMNS)
		return problem(vc, "%s: row %" PRIu64 ": %zu fields, not %d",
			       MS_EXPORT_MANIFEST, rowno, r->n, N_COLUMNS),
		       MS_OK;
	if (!parse_u64(r->f[C_SIZE], &size) || strlen(r->f[C_SHA]) != 64 ||
	    !name_ok(r->f[C_FILE]))
		return problem(vc,
			       "%s: row %" PRIu64 ": bad size, SHA-256 or "
			       "file name",
			       MS_EXPORT_MANIFEST, rowno),
		       MS_OK;
	if (!*r->f[C_OFF])
		return check_file_row(vc, r, size);
	if (strcmp(r->f[C_FILE], MS_EXPORT_MBOX_FILE) != 0)
		return problem(vc, "%s: row %" PRIu64 ": an offset into %s",
			       MS_EXPORT_MANIFEST, rowno, r->f[C_FILE]),
		       MS_OK;
	return check_mbox_row(vc, r, size, rowno);
}

static void progress(vctx *vc, size_t off, size_t len, uint64_t rows)
{
	if (vc->ops && vc->ops->progress)
		vc->ops->progress(len ? (double)off / (double)len : 1, rows,
				  vc->ops->ctx);
}

/* Checks every row of manifest.csv. */
static ms_status_t check_manifest(vctx *vc)
{
	fmap m;
	if (map_file(vc, MS_EXPORT_MANIFEST, &m))
		return problem(vc, "%s: %s", MS_EXPORT_MANIFEST,
			       errno == ENOENT ? "missing" : strerror(errno)),
		       MS_OK;
	ms_csv_row r = { 0 };
	size_t off = 0;
	uint64_t rowno = 1;
	ms_status_t st = ms_csv_next(m.data, m.len, &off, &r);
	ms_buf cols = MS_BUF_INIT;
	for (size_t i = 0; !st && i < r.n; i++)
		st = ms_buf_printf(&cols, "%s%s", i ? "," : "", r.f[i]);
	if (st == MS_ERR_NOMEM)
		goto out;
	if (st || !cols.data || strcmp(cols.data, MS_EXPORT_COLUMNS) != 0) {
		problem(vc, "%s: row 1: not the manifest's header",
			MS_EXPORT_MANIFEST);
		st = MS_OK;
		goto out;
	}
	while ((st = ms_csv_next(m.data, m.len, &off, &r)) == MS_OK) {
		if ((st = check_row(vc, &r, ++rowno)))
			break;
		progress(vc, off, m.len, rowno - 1);
		release_below(&m, off);
	}
	if (st == MS_ERR_PARSE)
		problem(vc, "%s: row %" PRIu64 ": malformed CSV",
			MS_EXPORT_MANIFEST, rowno + 1);
	st = st == MS_ERR_NOMEM ? st : MS_OK;
	if (!st && vc->prev.have)
		st = check_segment(vc, &vc->prev, vc->mbox.len);
out:
	ms_buf_free(&cols);
	ms_csv_row_free(&r);
	unmap_file(&m);
	return st;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reports names listed twice, and files in dir that nobody listed. */
static ms_status_t check_extra(vctx *vc)
{
	qsort(vc->listed + vc->n_sum, vc->n_listed - vc->n_sum,
	      sizeof *vc->listed, cmp_name);
	for (size_t i = vc->n_sum + 1; i < vc->n_listed; i++)
		if (strcmp(vc->listed[i], vc->listed[i - 1]) == 0)
			problem(vc, "%s: listed more than once in %s",
				vc->listed[i], MS_EXPORT_MANIFEST);
	DIR *d = fdopendir(dup(vc->dirfd));
	if (!d)
		return MS_ERR_IO;
	for (struct dirent *e; (e = readdir(d));) {
		const char *n = e->d_name;
		const char *key = n;
		if (!strcmp(n, ".") || !strcmp(n, "..") ||
		    !strcmp(n, MS_EXPORT_MANIFEST) ||
		    !strcmp(n, MS_EXPORT_MANIFEST_SUM) ||
		    (vc->mbox_state && !strcmp(n, MS_EXPORT_MBOX_FILE)) ||
		    listed_in_sums(vc, n) ||
		    bsearch(&key, vc->listed + vc->n_sum,
			    vc->n_listed - vc->n_sum, sizeof *vc->listed,
			    cmp_name))
			continue;
		problem(vc, "%s: extra file (not in the manifest)", n);
	}
	closedir(d);
	return MS_OK;
}

static void vctx_free(vctx *vc)
{
	for (size_t i = 0; i < vc->n_listed; i++)
		free(vc->listed[i]);
	free(vc->listed);
	unmap_file(&vc->mbox);
	ms_buf_free(&vc->unq);
	ms_buf_free(&vc->line);
	if (vc->dirfd >= 0)
		close(vc->dirfd);
}

ms_status_t ms_export_verify(const char *dir, const ms_export_verify_ops *ops,
			     ms_export_check *res_r, char **err_r)
{
	*res_r = (ms_export_check){ 0 };
	if (err_r)
		*err_r = NULL;
	vctx vc = { .dir = dir, .ops = ops, .res = res_r };
	vc.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vc.dirfd < 0) {
		ms_status_t st = errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO;
		if (err_r &&
		    asprintf(err_r, "%s: %s", dir, strerror(errno)) < 0)
			*err_r = NULL;
		return st;
	}
	ms_status_t st = check_sums(&vc);
	if (!st)
		st = check_manifest(&vc);
	if (!st && (st = check_extra(&vc)) == MS_ERR_IO && err_r &&
	    asprintf(err_r, "%s: %s", dir, strerror(errno)) < 0)
		*err_r = NULL;
	if (st == MS_ERR_NOMEM && err_r)
		*err_r = strdup("out of memory");
	vctx_free(&vc);
	return st;
}
