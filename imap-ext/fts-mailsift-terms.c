/* fts-mailsift-terms.c - text <-> index terms (see fts-mailsift-terms.h).
 *
 * Functions: msf_field_init, msf_header_field, msf_add_text, msf_add_value,
 * msf_key_value, msf_has_run, msf_add_chars, msf_emit_chars, msf_safe_cut,
 * msf_key_runs, msf_runs_free, msf_runs_order, msf_char_index.
 */
#include "fts-mailsift-terms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void msf_field_init(struct msf_field *f, const char *name, bool chars)
{
	size_t n = strlen(name);

	memset(f, 0, sizeof(*f));
	if (n >= sizeof(f->name))
		n = sizeof(f->name) - 1;
	memcpy(f->name, name, n);
	f->chars = chars;
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

void msf_header_field(char kind, const char *hdr, char *buf, size_t size)
{
	size_t i, n = strlen(hdr);

	if (n > MSF_HDR_MAX)
		n = MSF_HDR_MAX;
	if (n + 3 > size)
		n = size - 3;
	buf[0] = kind;
	for (i = 0; i < n; i++)
		buf[i + 1] = ascii_lower(hdr[i]);
	buf[n + 1] = ':';
	buf[n + 2] = '\0';
}

int msf_char_index(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '0' && c <= '9')
		return 26 + c - '0';
	return -1;
}

static bool ascii_lc(char c)
{
	return c >= 'a' && c <= 'z';
}

/* In dtc text (dtc set) an ASCII lower-case letter is no run byte (see
 * msf_add_text). */
static bool run_byte(unsigned char c, bool dtc)
{
	return c >= 0x80 ||
	       (msf_char_index((char)c) >= 0 && !(dtc && ascii_lc((char)c)));
}

static bool has_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return true;
	}
	return false;
}

/* ---- building ---- */

struct emit {
	struct msf_field *f;
	ms_buf term; /* the field name, then the run */
	size_t plen;
	msf_term_fn *fn;
	void *ctx;
	bool dtc; /* the text is in dtc form */
};

/* One term: the field + s[0..n) with ASCII letters lower-cased. A NUL
 * (a value's: terms are read back as C strings) and, in dtc text, a
 * lower-case letter (never a run byte) become 0xFF, which no key has. */
static int put(struct emit *e, const char *s, size_t n)
{
	ms_buf_truncate(&e->term, e->plen);
	if (ms_buf_reserve(&e->term, n + 1) != MS_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool odd = s[i] == '\0' || (e->dtc && ascii_lc(s[i]));
		char c = odd ? '\xff' : ascii_lower(s[i]);
		int k = msf_char_index(c);
		if (k >= 0 && e->f->chars)
			e->f->bits |= (uint64_t)1 << k;
		e->term.data[e->term.len++] = c;
	}
	e->term.data[e->term.len] = '\0';
	return e->fn(e->term.data, e->term.len, e->ctx);
}

static size_t char_start(const char *s, size_t i, size_t min)
{
	while (i > min && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

/* A run; too long for one term: windows, each starting at most
 * MSF_OVERLAP bytes (rounded to characters) before the last one ends. */
static int put_run(struct emit *e, const char *s, size_t n)
{
	size_t max = MSF_TERM_MAX - e->plen, start = 0, end, next;

	if (n <= max)
		return put(e, s, n);
	for (;;) {
		end = start + max >= n ? n : char_start(s, start + max, start);
		if (put(e, s + start, end - start) < 0)
			return -1;
		if (end == n)
			return 0;
		next = char_start(s, end - MSF_OVERLAP, start);
		start = next > start ? next : end;
	}
}

/* The next run of s[0..len) at or after *at: s[*start_r..*end_r); *at
 * moves past it. FALSE if there is none. Text and keys are cut alike. */
static bool next_run(const char *s, size_t len, bool dtc, size_t *at,
		     size_t *start_r, size_t *end_r)
{
	size_t i = *at, j;

	while (i < len && !run_byte((unsigned char)s[i], dtc))
		i++;
	if (i == len)
		return false;
	for (j = i; j < len && run_byte((unsigned char)s[j], dtc); j++)
		;
	*start_r = i;
	*end_r = *at = j;
	return true;
}

static int put_runs(struct emit *e, const char *s, size_t len)
{
	size_t at = 0, i, j;

	while (next_run(s, len, e->dtc, &at, &i, &j)) {
		if (put_run(e, s + i, j - i) < 0)
			return -1;
	}
	return 0;
}

/* Starts e on field f (terms: kind, if not '\0', then f's name) and turns
 * *text into dtc (kept in dtc) if it has non-ASCII bytes. 0 or -1. */
static int emit_begin(struct emit *e, char kind, const char **text, size_t *len,
		      msf_norm_fn *norm, ms_buf *dtc)
{
	if ((kind != '\0' && ms_buf_putc(&e->term, kind) != MS_OK) ||
	    ms_buf_puts(&e->term, e->f->name) != MS_OK)
		return -1;
	e->plen = e->term.len;
	e->dtc = norm == NULL;
	if (norm == NULL || !has_8bit(*text, *len))
		return 0;
	e->dtc = true;
	if (norm(*text, *len, dtc) < 0)
		return -1;
	*text = dtc->data;
	*len = dtc->len;
	return 0;
}

int msf_add_text(struct msf_field *f, const char *text, size_t len,
		 bool cut_before, bool cut_after, msf_norm_fn *norm,
		 msf_term_fn *fn, void *ctx)
{
	struct emit e = { f, MS_BUF_INIT, 0, fn, ctx, false };
	ms_buf dtc = MS_BUF_INIT;
	int ret = -1;

	if (emit_begin(&e, '\0', &text, &len, norm, &dtc) < 0 ||
	    put_runs(&e, text, len) < 0)
		goto out;
	if (cut_before || cut_after) {
		ms_buf_reset(&e.term);
		if (ms_buf_putc(&e.term, 'L') != MS_OK ||
		    ms_buf_puts(&e.term, f->name) != MS_OK ||
		    fn(e.term.data, e.term.len, ctx) < 0)
			goto out;
	}
	ret = 0;
out:
	ms_buf_free(&e.term);
	ms_buf_free(&dtc);
	return ret;
}

int msf_add_value(const struct msf_field *f, const char *value, size_t len,
		  msf_norm_fn *norm, msf_term_fn *fn, void *ctx)
{
	struct msf_field vf = *f; /* no character bits for values */
	struct emit e = { &vf, MS_BUF_INIT, 0, fn, ctx, false };
	ms_buf dtc = MS_BUF_INIT;
	int ret = -1;

	vf.chars = false;
	if (len == 0)
		return 0;
	if (emit_begin(&e, '=', &value, &len, norm, &dtc) == 0)
		ret = put_run(&e, value, len);
	ms_buf_free(&e.term);
	ms_buf_free(&dtc);
	return ret;
}

/* s[0..n) with ASCII letters lower-cased, malloc'ed (NULL: no memory). */
static char *lower_dup(const char *s, size_t n)
{
	char *r = malloc(n + 1);

	if (r == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		r[i] = ascii_lower(s[i]);
	r[n] = '\0';
	return r;
}

char *msf_key_value(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > MSF_OVERLAP ||
	    strpbrk(key, "\r\nabcdefghijklmnopqrstuvwxyz\xff") != NULL)
		return NULL;
	return lower_dup(key, n);
}

int msf_emit_chars(const struct msf_field *f, msf_term_fn *fn, void *ctx)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char term[MSF_FIELD_MAX + 3];

	for (int k = 0; k < 36; k++) {
		if ((f->bits & ((uint64_t)1 << k)) == 0)
			continue;
		int n = snprintf(term, sizeof(term), "#%s%c", f->name, set[k]);
		if (fn(term, (size_t)n, ctx) < 0)
			return -1;
	}
	return 0;
}

bool msf_has_run(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (run_byte((unsigned char)text[i], true))
			return true;
	}
	return false;
}

void msf_add_chars(struct msf_field *f, const char *text, size_t len)
{
	for (size_t i = 0; i < len && f->chars; i++) {
		int k = msf_char_index(text[i]);
		if (k >= 0 && run_byte((unsigned char)text[i], true))
			f->bits |= (uint64_t)1 << k;
	}
}

size_t msf_safe_cut(const char *text, size_t len)
{
	while (len > 0) {
		char c = text[len - 1];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			return len;
		len--;
	}
	return 0;
}

/* ---- search keys ---- */

/* A key run, cut to MSF_OVERLAP bytes (windows share that much). */
static char *run_dup(const char *s, size_t n)
{
	return lower_dup(s,
			 n > MSF_OVERLAP ? char_start(s, MSF_OVERLAP, 0) : n);
}

int msf_key_runs(const char *key, char ***runs_r, bool *exact_r)
{
	size_t len = strlen(key), at = 0, i, j, n = 0;
	char **runs = calloc(len / 2 + 2, sizeof(*runs));

	*runs_r = runs;
	if (runs == NULL)
		return -1;
	while (next_run(key, len, true, &at, &i, &j)) {
		runs[n] = run_dup(key + i, j - i);
		if (runs[n++] == NULL) {
			msf_runs_free(runs_r);
			return -1;
		}
	}
	/* one run that is the whole key and fits in a window */
	*exact_r = n == 1 && strlen(runs[0]) == len;
	return (int)n;
}

void msf_runs_free(char ***runs)
{
	if (*runs == NULL)
		return;
	for (char **r = *runs; *r != NULL; r++)
		free(*r);
	free(*runs);
	*runs = NULL;
}

struct costed_run {
	char *run;
	size_t len;
	uint64_t cost;
};

static int costed_cmp(const void *va, const void *vb)
{
	const struct costed_run *a = va, *b = vb;

	if (a->cost != b->cost)
		return a->cost < b->cost ? -1 : 1;
	if (a->len != b->len)
		return a->len > b->len ? -1 : 1;
	return strcmp(a->run, b->run);
}

int msf_runs_order(char **runs, uint64_t *cost, int n)
{
	struct costed_run *c = calloc(n > 0 ? (size_t)n : 1, sizeof(*c));
	int i, d = 0;

	if (c == NULL)
		return -1;
	for (i = 0; i < n; i++)
		c[i] = (struct costed_run){ runs[i], strlen(runs[i]), cost[i] };
	qsort(c, (size_t)n, sizeof(*c), costed_cmp);
	/* equal runs have equal costs and lengths: they are neighbours */
	for (i = 0; i < n; i++) {
		runs[i] = NULL;
		if (d > 0 && strcmp(c[i].run, runs[d - 1]) == 0) {
			free(c[i].run);
			continue;
		}
		runs[d] = c[i].run;
		cost[d++] = c[i].cost;
	}
	free(c);
	return d;
}
