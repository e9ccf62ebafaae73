/* milter_policy.c - the attachment policy: blocked file name extensions and
 * a SHA-256 blocklist of part contents (see milter_policy.h).
 *
 * Functions: ms_policy_new, ms_policy_free, ms_policy_check,
 * ms_policy_extension, ms_policy_blocklist_count.
 *
 * The policy holds a sorted array of lower-case extensions and a sorted
 * array of binary SHA-256 hashes; both are looked up with bsearch and never
 * change after ms_policy_new, so checks need no locks. A check parses the
 * message through a GMimeStreamFs on a dup() of the caller's fd with the
 * parser's persist mode, so part contents stay substreams of the file and
 * are read (and decoded) in CHUNK-sized pieces: memory does not grow with
 * the size of an attachment.
 */
#include "milter_policy.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_gmime.h"
#include "ms_hash.h"
#include "ms_mime.h"

#define HASH_LEN  32
#define CHUNK	  (64 * 1024) /* bytes of decoded content per read */
#define EXT_MAX	  64	      /* longest extension looked up */
#define SHOWN_MAX 80	      /* bytes of a bad blocklist line in a message */
#define FROM_PEEK 4096	      /* bytes read to find a leading "From " line */

struct ms_policy {
	char **ext; /* sorted, lower case, no dot */
	size_t n_ext;
	uint8_t (*hash)[HASH_LEN]; /* sorted, distinct */
	size_t n_hash, cap_hash;
};

/* ---- small helpers ---- */

/* Value of hex digit c, or -1. */
static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses exactly 64 hex digits at s into out; 0 on success, -1 if not. */
static int hex_to_bin(const char *s, uint8_t out[HASH_LEN])
{
	for (int i = 0; i < HASH_LEN; i++) {
		int hi = hexval((unsigned char)s[2 * i]);
		int lo = hi < 0 ? -1 : hexval((unsigned char)s[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* 1 for the ASCII whitespace bytes we trim. */
static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/* Copies src to dst[0..size) as printable ASCII ('?' for anything else
 * and for '%'), truncating; dst is always terminated. */
static void copy_clean(char *dst, size_t size, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c >= 0x7f || c == '%') ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* qsort/bsearch order of char * elements. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort/bsearch order of binary hashes. */
static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, HASH_LEN);
}

/* ---- building: extensions ---- */

/* Copies the config's extension list, lower-cased, without leading dots,
 * skipping empty entries, sorted. */
static ms_status_t ext_load(ms_policy *p, char *const *list)
{
	size_t n = 0;
	while (list && list[n])
		n++;
	p->ext = calloc(n + 1, sizeof(*p->ext));
	if (!p->ext)
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *e = list[i];
		while (*e == '.')
			e++;
		if (!*e)
			continue;
		char *c = strdup(e);
		if (!c)
			return MS_ERR_NOMEM;
		for (char *q = c; *q; q++)
			*q = g_ascii_tolower(*q);
		p->ext[p->n_ext++] = c;
	}
	qsort(p->ext, p->n_ext, sizeof(*p->ext), cmp_str);
	return MS_OK;
}

/* 1 if lower-case extension ext is blocked. */
static int ext_blocked(const ms_policy *p, const char *ext)
{
	return p->n_ext &&
	       bsearch(&ext, p->ext, p->n_ext, sizeof(*p->ext), cmp_str);
}

/* ---- building: the blocklist file ---- */

/* Appends one hash to p's (not yet sorted) array. */
static ms_status_t hash_push(ms_policy *p, const uint8_t h[HASH_LEN])
{
	if (p->n_hash == p->cap_hash) {
		size_t cap = p->cap_hash ? 2 * p->cap_hash : 64;
		void *v = reallocarray(p->hash, cap, HASH_LEN);
		if (!v)
			return MS_ERR_NOMEM;
		p->hash = v;
		p->cap_hash = cap;
	}
	memcpy(p->hash[p->n_hash++], h, HASH_LEN);
	return MS_OK;
}

/* Sorts the hashes and drops duplicates. */
static void hash_sort(ms_policy *p)
{
	if (p->n_hash == 0)
		return;
	qsort(p->hash, p->n_hash, HASH_LEN, cmp_hash);
	size_t k = 1;
	for (size_t i = 1; i < p->n_hash; i++)
		if (memcmp(p->hash[i], p->hash[k - 1], HASH_LEN) != 0)
			memcpy(p->hash[k++], p->hash[i], HASH_LEN);
	p->n_hash = k;
}

/* Trims line[0..n) in place; returns its start (NUL-terminated). */
static char *trim(char *line, size_t n)
{
	while (n > 0 && is_ws((unsigned char)line[n - 1]))
		n--;
	line[n] = '\0';
	while (is_ws((unsigned char)*line))
		line++;
	return line;
}

/* Parses trimmed line s: 1 blank or comment, 0 a hash (in out), -1 bad. */
static int bl_line(const char *s, uint8_t out[HASH_LEN])
{
	if (!*s || *s == '#')
		return 1;
	if (hex_to_bin(s, out) != 0)
		return -1;
	const char *t = s + 2 * HASH_LEN;
	if (*t && !is_ws((unsigned char)*t))
		return -1;
	while (is_ws((unsigned char)*t))
		t++;
	return (*t == '\0' || *t == '#') ? 0 : -1;
}

/* Sets *err_r to "path:lineno: bad SHA-256 'shown'"; MS_ERR_CONFIG. */
static ms_status_t bl_bad(const char *path, size_t lineno, const char *s,
			  char **err_r)
{
	char shown[SHOWN_MAX + 4];
	copy_clean(shown, SHOWN_MAX + 1, s);
	if (strlen(s) > SHOWN_MAX)
		strcat(shown, "...");
	if (err_r && asprintf(err_r, "%s:%zu: bad SHA-256 '%s'", path, lineno,
			      shown) < 0) {
		*err_r = NULL;
		return MS_ERR_NOMEM;
	}
	return MS_ERR_CONFIG;
}

/* Sets *err_r to "path: strerror(e)"; MS_ERR_IO. */
static ms_status_t bl_io(const char *path, int e, char **err_r)
{
	if (err_r && asprintf(err_r, "%s: %s", path, strerror(e)) < 0) {
		*err_r = NULL;
		return MS_ERR_NOMEM;
	}
	return MS_ERR_IO;
}

/* Reads every line of f (named path) into p's hash array. */
static ms_status_t bl_read(ms_policy *p, FILE *f, const char *path,
			   char **err_r)
{
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	ms_status_t st = MS_OK;
	while (st == MS_OK && (n = getline(&line, &cap, f)) >= 0) {
		char *s = line;
		if (++lineno == 1 && n >= 3 &&
		    memcmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3, n -= 3;
		uint8_t h[HASH_LEN];
		int k = memchr(s, '\0', (size_t)n) ? -1 : 0;
		s = trim(s, (size_t)n);
		k = k < 0 ? -1 : bl_line(s, h);
		if (k < 0)
			st = bl_bad(path, lineno, s, err_r);
		else if (k == 0)
			st = hash_push(p, h);
	}
	if (st == MS_OK && ferror(f))
		st = bl_io(path, errno ? errno : EIO, err_r);
	free(line);
	return st;
}

/* Loads the blocklist file at path ("" = none). */
static ms_status_t bl_load(ms_policy *p, const char *path, char **err_r)
{
	if (!path || !*path)
		return MS_OK;
	FILE *f = fopen(path, "re");
	if (!f)
		return bl_io(path, errno, err_r);
	errno = 0;
	ms_status_t st = bl_read(p, f, path, err_r);
	fclose(f);
	if (st == MS_OK)
		hash_sort(p);
	return st;
}

/* ---- public: building ---- */

ms_status_t ms_policy_new(const ms_config *cfg, ms_policy **p_r, char **err_r)
{
	*p_r = NULL;
	if (err_r)
		*err_r = NULL;
	ms_mime_init();
	ms_policy *p = calloc(1, sizeof(*p));
	if (!p)
		return MS_ERR_NOMEM;
	ms_status_t st = ext_load(p, cfg->policy_blocked_extensions);
	if (st == MS_OK)
		st = bl_load(p, cfg->policy_blocklist_file, err_r);
	if (st != MS_OK) {
		ms_policy_free(&p);
		return st;
	}
	*p_r = p;
	return MS_OK;
}

void ms_policy_free(ms_policy **pp)
{
	if (!pp || !*pp)
		return;
	ms_policy *p = *pp;
	for (size_t i = 0; p->ext && p->ext[i]; i++)
		free(p->ext[i]);
	free(p->ext);
	free(p->hash);
	free(p);
	*pp = NULL;
}

size_t ms_policy_blocklist_count(const ms_policy *p)
{
	return p ? p->n_hash : 0;
}

const char *ms_policy_extension(const char *name, char *buf, size_t size)
{
	if (!name || !buf || size == 0)
		return NULL;
	size_t n = strlen(name);
	while (n > 0 &&
	       (name[n - 1] == '.' || is_ws((unsigned char)name[n - 1])))
		n--;
	const char *dot = memrchr(name, '.', n);
	if (!dot)
		return NULL;
	size_t k = n - (size_t)(dot + 1 - name);
	if (k == 0 || k + 1 > size)
		return NULL;
	for (size_t i = 0; i < k; i++)
		buf[i] = g_ascii_tolower(dot[1 + i]);
	buf[k] = '\0';
	return buf;
}

/* ---- checking: the walk ---- */

typedef struct walk {
	const ms_policy *p;
	ms_policy_result *r;
	char *buf;	   /* CHUNK bytes, allocated on first use */
	unsigned parts;	   /* MIME objects seen */
	unsigned max_zero; /* bound on empty reads in a row */
	ms_status_t st;	   /* first error */
	int done;	   /* blocked or failed: stop */
} walk;

/* Marks the message blocked with a printf-formatted reason. */
static void block(walk *w, const char *fmt, ...)
{
	char tmp[sizeof(w->r->reason)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	copy_clean(w->r->reason, sizeof(w->r->reason), tmp);
	w->r->blocked = 1;
	w->done = 1;
}

/* Records an error and stops the walk. */
static void fail(walk *w, ms_status_t st)
{
	w->st = st;
	w->done = 1;
}

/* 1 if obj's Content-Type is a Windows executable type. */
static int exe_type(GMimeObject *obj)
{
	static const char *const subs[] = { "x-msdownload",
					    "x-dosexec",
					    "x-msdos-program",
					    "x-ms-dos-executable",
					    "vnd.microsoft.portable-executable",
					    NULL };
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *t = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	const char *s = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
	if (!t || !s || g_ascii_strcasecmp(t, "application") != 0)
		return 0;
	for (int i = 0; subs[i]; i++)
		if (g_ascii_strcasecmp(s, subs[i]) == 0)
			return 1;
	return 0;
}

/* Blocks if file name name has a blocked extension. */
static void check_name(walk *w, const char *name)
{
	char ext[EXT_MAX];
	if (ms_policy_extension(name, ext, sizeof(ext)) &&
	    ext_blocked(w->p, ext))
		block(w, "blocked attachment type .%s: %s", ext, name);
}

/* Checks obj's file names (disposition filename and type name) and its
 * executable content type. */
static void check_names(walk *w, GMimeObject *obj)
{
	const char *fn = g_mime_object_get_content_disposition_parameter(
		obj, "filename");
	const char *nm = g_mime_object_get_content_type_parameter(obj, "name");
	if (fn)
		check_name(w, fn);
	if (!w->done && nm && (!fn || strcmp(fn, nm) != 0))
		check_name(w, nm);
	if (!w->done && exe_type(obj) && ext_blocked(w->p, "exe")) {
		char *ct = g_mime_content_type_get_mime_type(
			g_mime_object_get_content_type(obj));
		block(w, "blocked attachment type .exe: %s (%s)",
		      fn   ? fn
		      : nm ? nm
			   : "unnamed",
		      ct ? ct : "?");
		g_free(ct);
	}
}

/* Feeds stream in to h in CHUNK pieces until its end. A read that yields
 * nothing (a filter swallowed its input) is retried a bounded number of
 * times in a row, so a stream that never reports its end cannot hang. */
static ms_status_t pump(walk *w, GMimeStream *in, ms_sha256 *h)
{
	unsigned zero = 0;
	while (!g_mime_stream_eos(in)) {
		ssize_t n = g_mime_stream_read(in, w->buf, CHUNK);
		if (n < 0)
			return g_mime_stream_eos(in) ? MS_OK : MS_ERR_IO;
		if (n == 0 && ++zero > w->max_zero)
			return MS_OK;
		if (n > 0) {
			zero = 0;
			ms_status_t st = ms_sha256_update(h, w->buf, (size_t)n);
			if (st != MS_OK)
				return st;
		}
	}
	return MS_OK;
}

/* Writes the hex SHA-256 of part's decoded content to hex. */
static ms_status_t hash_part(walk *w, GMimePart *part, char hex[MS_SHA256_HEX])
{
	if (!w->buf && !(w->buf = malloc(CHUNK)))
		return MS_ERR_NOMEM;
	ms_sha256 *h = ms_sha256_new();
	if (!h)
		return MS_ERR_NOMEM;
	GMimeStream *in = ms_gmime_decoded_stream(part);
	ms_status_t st = in ? pump(w, in, h) : MS_OK;
	if (in)
		g_object_unref(in);
	ms_status_t st2 = ms_sha256_final(&h, hex);
	return st != MS_OK ? st : st2;
}

/* Blocks if the decoded content of leaf part is blocklisted. */
static void check_content(walk *w, GMimePart *part)
{
	char hex[MS_SHA256_HEX];
	uint8_t bin[HASH_LEN];
	if (w->p->n_hash == 0)
		return;
	ms_status_t st = hash_part(w, part, hex);
	if (st != MS_OK) {
		fail(w, st);
		return;
	}
	if (hex_to_bin(hex, bin) != 0 ||
	    !bsearch(bin, w->p->hash, w->p->n_hash, HASH_LEN, cmp_hash))
		return;
	const char *name = g_mime_part_get_filename(part);
	char *ct = name ? NULL
			: g_mime_content_type_get_mime_type(
				  g_mime_object_get_content_type(
					  GMIME_OBJECT(part)));
	block(w, "blocklisted attachment %s: %s%s%s", hex, name ? "" : "(",
	      name ? name
	      : ct ? ct
		   : "?",
	      name ? "" : ")");
	g_free(ct);
}

static void walk_obj(walk *w, GMimeObject *obj, unsigned depth);

/* Visits every child of multipart mp. */
static void walk_multipart(walk *w, GMimeMultipart *mp, unsigned depth)
{
	int n = g_mime_multipart_get_count(mp);
	for (int i = 0; i < n && !w->done; i++)
		walk_obj(w, g_mime_multipart_get_part(mp, i), depth + 1);
}

/* Visits the body of the message inside message/rfc822 part mp. */
static void walk_message_part(walk *w, GMimeMessagePart *mp, unsigned depth)
{
	GMimeMessage *m = g_mime_message_part_get_message(mp);
	GMimeObject *body = m ? g_mime_message_get_mime_part(m) : NULL;
	if (body)
		walk_obj(w, body, depth + 1);
}

/* Checks obj and everything below it, within the depth/part limits. */
static void walk_obj(walk *w, GMimeObject *obj, unsigned depth)
{
	if (w->done || !obj)
		return;
	if (++w->parts > MS_POLICY_MAX_PARTS) {
		block(w, "too many MIME parts (over %d)", MS_POLICY_MAX_PARTS);
		return;
	}
	if (depth > MS_POLICY_MAX_DEPTH) {
		block(w, "MIME structure too deep (over %d levels)",
		      MS_POLICY_MAX_DEPTH);
		return;
	}
	check_names(w, obj);
	if (w->done)
		return;
	if (GMIME_IS_MULTIPART(obj))
		walk_multipart(w, GMIME_MULTIPART(obj), depth);
	else if (GMIME_IS_MESSAGE_PART(obj))
		walk_message_part(w, GMIME_MESSAGE_PART(obj), depth);
	else if (GMIME_IS_PART(obj))
		check_content(w, GMIME_PART(obj));
}

/* ---- checking: entry ---- */

/* Length of a leading mbox "From " line in fd, -1 on a read error. */
static ssize_t from_skip(int fd, uint64_t len)
{
	char head[FROM_PEEK];
	size_t want = len < sizeof(head) ? (size_t)len : sizeof(head);
	ssize_t n;
	do
		n = pread(fd, head, want, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	size_t k = ms_mime_from_line_len(head, (size_t)n);
	return k == (size_t)n && k == sizeof(head) ? 0 : (ssize_t)k;
}

/* Parses fd[0..len) (fd is a dup the stream takes over) and walks it. */
static ms_status_t check_dup(const ms_policy *p, int fd, uint64_t len,
			     ms_policy_result *r)
{
	ssize_t skip = from_skip(fd, len);
	if (skip < 0) {
		close(fd);
		return MS_ERR_IO;
	}
	GMimeStream *s =
		g_mime_stream_fs_new_with_bounds(fd, skip, (gint64)len);
	GMimeParser *ps = g_mime_parser_new_with_stream(s);
	g_mime_parser_set_persist_stream(ps, TRUE);
	g_mime_parser_set_format(ps, GMIME_FORMAT_MESSAGE);
	GMimeMessage *m = g_mime_parser_construct_message(ps, NULL);
	walk w = { .p = p, .r = r, .st = MS_OK };
	w.max_zero =
		16 + (unsigned)(len / 512 > 1u << 24 ? 1u << 24 : len / 512);
	if (m)
		walk_obj(&w, g_mime_message_get_mime_part(m), 0);
	free(w.buf);
	if (m)
		g_object_unref(m);
	g_object_unref(ps);
	g_object_unref(s);
	return w.st;
}

ms_status_t ms_policy_check(const ms_policy *p, int fd, uint64_t len,
			    ms_policy_result *r)
{
	r->blocked = 0;
	r->reason[0] = '\0';
	struct stat sb;
	if (!p || fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size < len || len > INT64_MAX)
		return MS_ERR_IO;
	if (len == 0)
		return MS_OK;
	off_t saved = lseek(fd, 0, SEEK_CUR);
	int dfd = saved < 0 ? -1 : dup(fd);
	if (dfd < 0)
		return MS_ERR_IO;
	ms_status_t st = check_dup(p, dfd, len, r);
	if (lseek(fd, saved, SEEK_SET) < 0 && st == MS_OK)
		st = MS_ERR_IO;
	if (st != MS_OK) {
		r->blocked = 0;
		r->reason[0] = '\0';
	}
	return st;
}
