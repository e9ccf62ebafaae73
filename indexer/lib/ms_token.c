/* ms_token.c - the word tokenizer and case folder (see ms_token.h).
 *
 * Functions: ms_tokenize, ms_token_fold.
 *
 * One pass over the bytes. ASCII goes through a 128-entry table (folded
 * byte, or 0 for a separator) straight into a stack buffer. Other
 * characters are decoded with glib and classified (separator, word, mark,
 * CJK). A word character whose fold is one simple lower-case character
 * (no compatibility mapping, NFC-stable, no special case folding) is folded
 * in place; a word with any other character (or a combining mark) is
 * folded as a whole by fold_slow() = NFKC(casefold(NFKC(word))) and the
 * result is split again in "already folded" mode, since compatibility
 * mappings may produce separators ("¼" -> "1⁄4"). CJK runs become
 * overlapping bigrams of units (a base character plus its marks).
 */
#include "ms_token.h"

#include <glib.h>
#include <string.h>

#include "ms_buf.h"

/* Raw bytes of a word longer than this cannot fold to MS_TOKEN_MAX bytes
 * (no character folds to less than a quarter of its UTF-8 length). */
#define RAW_MAX (4 * MS_TOKEN_MAX)
/* Folded bytes of one CJK unit, and raw bytes of marks kept on one. */
#define UNIT_MAX 24

enum { RUN_NONE, RUN_WORD, RUN_CJK };
enum { CL_SEP, CL_WORD, CL_MARK, CL_CJK };

typedef struct tk {
	ms_token_fn fn;
	void *ctx;
	unsigned pos;
	int stop;
	int folded; /* input is already folded: copy characters as they are */
	int run;
	/* word run */
	const char *ws; /* raw start */
	size_t wl;
	int wlong, wslow;
	char w[MS_TOKEN_MAX + 8];
	/* CJK run */
	const char *us, *ue; /* pending unit, raw */
	unsigned nunits;
	size_t prevl;
	char prev[UNIT_MAX];
	char bi[2 * UNIT_MAX + 1];
} tk;

/* ASCII: folded byte for letters and digits, 0 for separators. */
static const unsigned char afold[128] = {
	/* clang-format off */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 0, 0, 0, 0, 0, 0,
	0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0, 0, 0, 0, 0,
	0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0, 0, 0, 0, 0,
	/* clang-format on */
};

/* NFKC(casefold(NFKC(s[0..n)))); s must be valid UTF-8. Free with g_free. */
static char *fold_slow(const char *s, size_t n)
{
	char *a = g_utf8_normalize(s, (gssize)n, G_NORMALIZE_NFKC);
	if (!a)
		return NULL;
	char *b = g_utf8_casefold(a, -1);
	g_free(a);
	char *c = g_utf8_normalize(b, -1, G_NORMALIZE_NFKC);
	g_free(b);
	return c;
}

/* Characters whose full case folding is not their simple lower case
 * (ß, İ, final sigma, Cherokee small letters, old Cyrillic, Greek with
 * iota). Cherokee capitals are kept as they are (Unicode folds Cherokee to
 * upper case; glib's casefold lower-cases the capitals, so tokens use
 * char_info(), not glib, for them). */
static int special_fold(gunichar c)
{
	return c == 0xDF || c == 0x130 || c == 0x3C2 || c == 0x1E9E ||
	       (c >= 0x13F8 && c <= 0x13FD) || (c >= 0x1C80 && c <= 0x1C88) ||
	       (c >= 0x1F80 && c <= 0x1FFF) || (c >= 0xAB70 && c <= 0xABBF);
}

/* True if fold_slow(c) == g_unichar_tolower(c) for a non-mark c. */
static int simple_fold(gunichar c)
{
	gunichar k[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];
	gunichar d[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];
	gunichar a, b, x;

	if (special_fold(c))
		return 0;
	gsize nk = g_unichar_fully_decompose(c, TRUE, k, G_N_ELEMENTS(k));
	if (!g_unichar_decompose(c, &a, &b))
		return nk == 1 && k[0] == c; /* no compatibility mapping */
	if (b == 0 || !g_unichar_compose(a, b, &x) || x != c)
		return 0; /* singleton or excluded from composition */
	gsize nd = g_unichar_fully_decompose(c, FALSE, d, G_N_ELEMENTS(d));
	return nk == nd && memcmp(k, d, nk * sizeof(gunichar)) == 0;
}

static int is_cjk(gunichar c)
{
	if (c < 0x1100)
		return 0;
	if (c == 0x30FC || (c >= 0xFF70 && c <= 0xFF9F))
		return 1;
	switch (g_unichar_get_script(c)) {
	case G_UNICODE_SCRIPT_HAN:
	case G_UNICODE_SCRIPT_HIRAGANA:
	case G_UNICODE_SCRIPT_KATAKANA:
	case G_UNICODE_SCRIPT_HANGUL:
		return 1;
	default:
		return 0;
	}
}

static int classify(gunichar c)
{
	if (c == 0xFF9E || c == 0xFF9F) /* halfwidth (semi-)voiced marks */
		return CL_MARK;
	switch (g_unichar_type(c)) {
	case G_UNICODE_NON_SPACING_MARK:
	case G_UNICODE_SPACING_MARK:
	case G_UNICODE_ENCLOSING_MARK:
		return CL_MARK;
	case G_UNICODE_LOWERCASE_LETTER:
	case G_UNICODE_MODIFIER_LETTER:
	case G_UNICODE_OTHER_LETTER:
	case G_UNICODE_TITLECASE_LETTER:
	case G_UNICODE_UPPERCASE_LETTER:
	case G_UNICODE_DECIMAL_NUMBER:
	case G_UNICODE_LETTER_NUMBER:
	case G_UNICODE_OTHER_NUMBER:
		return is_cjk(c) ? CL_CJK : CL_WORD;
	default:
		return CL_SEP;
	}
}

/* What classify() and simple_fold() say about a character, cached per
 * thread (direct-mapped; the key 0 never occurs as c is non-ASCII). */
typedef struct cinfo {
	gunichar c, lower;
	unsigned char cl, simple;
} cinfo;

#define CACHE_SIZE 1024
static _Thread_local cinfo cache[CACHE_SIZE];

static const cinfo *char_info(gunichar c)
{
	cinfo *e = &cache[(c ^ (c >> 10)) & (CACHE_SIZE - 1)];
	if (e->c != c) {
		e->c = c;
		e->cl = (unsigned char)classify(c);
		e->simple =
			e->cl != CL_SEP && e->cl != CL_MARK && simple_fold(c);
		e->lower = g_unichar_tolower(c);
		if (c >= 0x13A0 && c <= 0x13F5) /* Cherokee folds to upper */
			e->lower = c;
	}
	return e;
}

static void emit(tk *t, char *term, size_t len)
{
	term[len] = '\0';
	if (t->fn(term, len, t->pos++, t->ctx))
		t->stop = 1;
}

static void scan(tk *t, const char *text, size_t len);

/* Folds a word containing hard characters and splits the result again. */
static void word_slow(tk *t, const char *s, size_t n)
{
	char *f = n > RAW_MAX ? NULL : fold_slow(s, n);
	if (!f) {
		t->pos++;
		return;
	}
	tk sub = { .fn = t->fn, .ctx = t->ctx, .pos = t->pos, .folded = 1 };
	scan(&sub, f, strlen(f));
	g_free(f);
	t->pos = sub.pos;
	t->stop = sub.stop;
}

static void word_end(tk *t, const char *end)
{
	if (t->wslow)
		word_slow(t, t->ws, (size_t)(end - t->ws));
	else if (t->wlong)
		t->pos++;
	else
		emit(t, t->w, t->wl);
}

static void word_start(tk *t, const char *p)
{
	t->run = RUN_WORD;
	t->ws = p;
	t->wl = 0;
	t->wlong = t->wslow = 0;
}

/* Appends folded bytes to the word buffer, or marks the word too long. */
static void word_put(tk *t, const char *s, size_t n)
{
	if (t->wl + n > MS_TOKEN_MAX) {
		t->wlong = 1;
		return;
	}
	memcpy(t->w + t->wl, s, n);
	t->wl += n;
}

/* Folds the pending CJK unit into cur; returns its length. */
static size_t unit_fold(tk *t, char *cur)
{
	size_t n = (size_t)(t->ue - t->us);
	size_t cl = (size_t)g_utf8_skip[*(const unsigned char *)t->us];
	if (t->folded) {
		memcpy(cur, t->us, n);
		return n;
	}
	const cinfo *ci = char_info(g_utf8_get_char(t->us));
	if (n == cl && ci->simple)
		return (size_t)g_unichar_to_utf8(ci->lower, cur);
	char *f = fold_slow(t->us, n);
	size_t fl = f ? strlen(f) : 0;
	if (!f || fl == 0 || fl > UNIT_MAX) {
		fl = cl; /* keep the base character as it is */
		memcpy(cur, t->us, cl);
	} else {
		memcpy(cur, f, fl);
	}
	g_free(f);
	return fl;
}

/* Finishes the pending CJK unit: emits the bigram it closes. */
static void unit_end(tk *t)
{
	char cur[UNIT_MAX];
	size_t cl = unit_fold(t, cur);
	if (t->nunits++ > 0) {
		memcpy(t->bi, t->prev, t->prevl);
		memcpy(t->bi + t->prevl, cur, cl);
		emit(t, t->bi, t->prevl + cl);
	}
	memcpy(t->prev, cur, cl);
	t->prevl = cl;
}

static void cjk_end(tk *t)
{
	unit_end(t);
	if (t->nunits == 1 && !t->stop) {
		memcpy(t->bi, t->prev, t->prevl);
		emit(t, t->bi, t->prevl);
	}
}

/* Ends the current run (if any) and emits what it holds. */
static void run_end(tk *t, const char *p)
{
	if (t->run == RUN_WORD)
		word_end(t, p);
	else if (t->run == RUN_CJK)
		cjk_end(t);
	t->run = RUN_NONE;
}

static void on_cjk(tk *t, const char *p, size_t n)
{
	if (t->run == RUN_CJK) {
		unit_end(t);
	} else {
		run_end(t, p);
		t->run = RUN_CJK;
		t->nunits = 0;
	}
	t->us = p;
	t->ue = p + n;
}

/* A mark continues the run before it; with no run it is a separator. */
static void on_mark(tk *t, const char *p, size_t n)
{
	if (t->run == RUN_CJK) {
		if ((size_t)(t->ue - t->us) + n <= UNIT_MAX / 2)
			t->ue = p + n;
	} else if (t->run == RUN_WORD) {
		if (t->folded)
			word_put(t, p, n);
		else
			t->wslow = 1;
	}
}

static void on_word(tk *t, const char *p, size_t n, const cinfo *ci)
{
	if (t->run != RUN_WORD) {
		run_end(t, p);
		word_start(t, p);
	}
	if (t->folded) {
		word_put(t, p, n);
	} else if (!ci->simple) {
		t->wslow = 1;
	} else {
		char u[8];
		word_put(t, u, (size_t)g_unichar_to_utf8(ci->lower, u));
	}
}

/* Handles the non-ASCII character at p; returns the bytes it took. */
static size_t on_multi(tk *t, const char *p, const char *end)
{
	gunichar c = g_utf8_get_char_validated(p, end - p);
	if (c == (gunichar)-1 || c == (gunichar)-2) {
		run_end(t, p);
		return 1;
	}
	size_t n = (size_t)g_utf8_skip[*(const unsigned char *)p];
	const cinfo *ci = char_info(c);
	if (ci->cl == CL_SEP)
		run_end(t, p);
	else if (ci->cl == CL_CJK)
		on_cjk(t, p, n);
	else if (ci->cl == CL_MARK)
		on_mark(t, p, n);
	else
		on_word(t, p, n, ci);
	return n;
}

static void scan(tk *t, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end && !t->stop) {
		unsigned char b = (unsigned char)*p;
		if (b >= 0x80) {
			p += on_multi(t, p, end);
			continue;
		}
		unsigned char f = afold[b];
		if (!f) {
			if (t->run != RUN_NONE)
				run_end(t, p);
		} else if (t->run == RUN_WORD) {
			if (t->wl < MS_TOKEN_MAX)
				t->w[t->wl++] = (char)f;
			else
				t->wlong = 1;
		} else {
			run_end(t, p);
			word_start(t, p);
			t->w[t->wl++] = (char)f;
		}
		p++;
	}
	if (!t->stop)
		run_end(t, end);
}

int ms_tokenize(const char *text, size_t len, unsigned *pos_io, ms_token_fn fn,
		void *ctx)
{
	tk t = { .fn = fn, .ctx = ctx, .pos = pos_io ? *pos_io : 0 };
	if (text && len)
		scan(&t, text, len);
	if (pos_io)
		*pos_io = t.pos;
	return t.stop;
}

/* Appends the fold of valid UTF-8 s[0..n) (no NUL bytes). */
static int fold_valid(const char *s, size_t n, struct ms_buf *out)
{
	size_t i;
	for (i = 0; i < n && (unsigned char)s[i] < 0x80; i++)
		;
	if (i == n) {
		if (ms_buf_reserve(out, n) != MS_OK)
			return -1;
		for (i = 0; i < n; i++) {
			unsigned char b = (unsigned char)s[i];
			out->data[out->len++] =
				afold[b] ? (char)afold[b] : s[i];
		}
		out->data[out->len] = '\0';
		return 0;
	}
	char *f = fold_slow(s, n);
	int rc = f && ms_buf_puts(out, f) == MS_OK ? 0 : -1;
	g_free(f);
	return rc;
}

int ms_token_fold(const char *text, size_t len, struct ms_buf *out)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *bad = p;
		g_utf8_validate_len(p, (gsize)(end - p), &bad);
		if (fold_valid(p, (size_t)(bad - p), out) != 0)
			return -1;
		if (bad < end && ms_buf_putc(out, *bad) != MS_OK)
			return -1;
		p = bad < end ? bad + 1 : end;
	}
	return 0;
}
