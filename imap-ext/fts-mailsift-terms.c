/* fts-mailsift-terms.c - words <-> index terms (see fts-mailsift-terms.h).
 *
 * Functions: msf_header_prefix, msf_add_text, msf_safe_cut,
 * msf_query_words, msf_words_free, msf_term_contains.
 */
#include "fts-mailsift-terms.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "ms_buf.h"
#include "ms_token.h"

void msf_header_prefix(const char *name, char *buf, size_t size)
{
	size_t i, n = strlen(name);

	if (n > MSF_HDR_MAX)
		n = MSF_HDR_MAX;
	if (n + 3 > size)
		n = size - 3;
	buf[0] = 'H';
	for (i = 0; i < n; i++) {
		char c = name[i];
		buf[i + 1] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	buf[n + 1] = ':';
	buf[n + 2] = '\0';
}

struct add_ctx {
	ms_buf term; /* prefix + current word */
	size_t plen;
	unsigned next_pos; /* expected position of the next word */
	bool skipped;	   /* a position was skipped: an over-long word */
	msf_term_fn *fn;
	void *ctx;
	int ret;
};

static int add_word(const char *w, size_t len, unsigned pos, void *vctx)
{
	struct add_ctx *a = vctx;

	if (pos != a->next_pos)
		a->skipped = true;
	a->next_pos = pos + 1;
	ms_buf_truncate(&a->term, a->plen);
	if (ms_buf_append(&a->term, w, len) != MS_OK ||
	    a->fn(a->term.data, a->term.len, a->ctx) < 0) {
		a->ret = -1;
		return 1;
	}
	return 0;
}

int msf_add_text(const char *prefix, const char *text, size_t len,
		 msf_term_fn *fn, void *ctx)
{
	struct add_ctx a = {
		MS_BUF_INIT, strlen(prefix), 0, false, fn, ctx, 0
	};
	unsigned pos = 0;

	if (ms_buf_puts(&a.term, prefix) != MS_OK)
		return -1;
	ms_tokenize(text, len, &pos, add_word, &a);
	if (a.ret == 0 && pos != a.next_pos) /* over-long last word(s) */
		a.skipped = true;
	if (a.ret == 0 && a.skipped) {
		ms_buf_reset(&a.term);
		if (ms_buf_putc(&a.term, 'L') != MS_OK ||
		    ms_buf_puts(&a.term, prefix) != MS_OK ||
		    fn(a.term.data, a.term.len, ctx) < 0)
			a.ret = -1;
	}
	ms_buf_free(&a.term);
	return a.ret;
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

static bool is_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return false;
	}
	return true;
}

/* The loose form of s[0..len) (NFKD, combining marks dropped), malloc'ed;
 * NULL if s is not valid UTF-8 (then the caller uses s itself). */
static char *loose_dup(const char *s, size_t len)
{
	gchar *d = g_utf8_normalize(s, (gssize)len, G_NORMALIZE_NFKD);
	if (d == NULL)
		return NULL;
	char *out = malloc(strlen(d) + 1), *o = out;
	if (out == NULL) {
		g_free(d);
		return NULL;
	}
	for (const char *p = d; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		const char *next = g_utf8_next_char(p);
		if (!g_unichar_ismark(c)) {
			memcpy(o, p, (size_t)(next - p));
			o += next - p;
		}
	}
	*o = '\0';
	g_free(d);
	return out;
}

struct words_ctx {
	char **w;
	size_t n, cap;
	int ret;
};

static int add_query_word(const char *w, size_t len, unsigned pos, void *vctx)
{
	struct words_ctx *q = vctx;
	char *s;

	(void)pos;
	if (q->n + 2 > q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		char **nw = realloc(q->w, cap * sizeof(*nw));
		if (nw == NULL)
			goto nomem;
		q->w = nw;
		q->cap = cap;
	}
	s = is_ascii(w, len) ? NULL : loose_dup(w, len);
	if (s == NULL)
		s = strndup(w, len);
	if (s == NULL)
		goto nomem;
	q->w[q->n++] = s;
	q->w[q->n] = NULL;
	return 0;
nomem:
	q->ret = -1;
	return 1;
}

int msf_query_words(const char *s, size_t len, char ***words_r, size_t *n_r)
{
	struct words_ctx q = { NULL, 0, 0, 0 };

	ms_tokenize(s, len, NULL, add_query_word, &q);
	if (q.ret < 0) {
		msf_words_free(&q.w);
		*words_r = NULL;
		*n_r = 0;
		return -1;
	}
	*words_r = q.w;
	*n_r = q.n;
	return 0;
}

void msf_words_free(char ***words)
{
	if (*words == NULL)
		return;
	for (char **w = *words; *w != NULL; w++)
		free(*w);
	free(*words);
	*words = NULL;
}

bool msf_term_contains(const char *term, size_t len, const char *w)
{
	size_t wlen = strlen(w);
	bool yes;
	char *l;

	if (is_ascii(term, len))
		return memmem(term, len, w, wlen) != NULL;
	l = loose_dup(term, len);
	if (l == NULL) /* out of memory or bad UTF-8: widen, never hide */
		return true;
	yes = strstr(l, w) != NULL;
	free(l);
	return yes;
}
