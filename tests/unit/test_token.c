/* test_token.c - unit tests for ms_token (ms_tokenize, ms_token_fold).
 *
 * Table-driven: each case is an input (with explicit length, so NUL bytes
 * work) and the expected terms rendered as "term term ..." (positions are
 * checked to be consecutive) or as "pos:term ..." for position cases.
 * Also: the stop callback, start positions, huge inputs, chunking, and a
 * sweep over every code point checking that a character tokenizes the same
 * as its own fold (the fast per-character path agrees with full folding).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_buf.h"
#include "ms_token.h"
#include "support_util.h"

typedef struct collect {
	ms_buf out;
	unsigned n, first, last;
	int with_pos, gap; /* gap: positions were not consecutive */
	unsigned stop_after;
} collect;

static int collect_fn(const char *term, size_t len, unsigned pos, void *ctx)
{
	collect *c = ctx;
	ck_assert_uint_eq(strlen(term), len);
	ck_assert_uint_le(len, MS_TOKEN_MAX);
	if (c->n && pos != c->last + 1)
		c->gap = 1;
	if (!c->n)
		c->first = pos;
	c->last = pos;
	if (c->out.len)
		ms_buf_putc(&c->out, ' ');
	if (c->with_pos)
		ms_buf_printf(&c->out, "%u:", pos);
	ms_buf_append(&c->out, term, len);
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

/* Tokenizes s[0..len) from position 0; caller frees the result. */
static char *toks(const char *s, size_t len, int with_pos)
{
	collect c = { .with_pos = with_pos };
	unsigned pos = 0;
	ck_assert_int_eq(ms_tokenize(s, len, &pos, collect_fn, &c), 0);
	if (!with_pos)
		ck_assert_msg(!c.gap, "positions not consecutive for '%s'", s);
	return ms_buf_steal(&c.out);
}

typedef struct tcase_tok {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *want;
} tcase_tok;

static const tcase_tok words[] = {
	{ "Hello world", 0, "hello world" },
	{ "MiXeD CaSe WORDS", 0, "mixed case words" },
	{ "abc123 456 1.5 3,14", 0, "abc123 456 1 5 3 14" },
	{ "foo,bar;baz!(qux) [a]{b}<c>", 0, "foo bar baz qux a b c" },
	{ "snake_case-word", 0, "snake case word" },
	{ "alice@example.org", 0, "alice example org" },
	{ "<Bob.Smith@Mail.Example.COM>", 0, "bob smith mail example com" },
	{ "https://www.example.com/path?q=1&x=Y#frag", 0,
	  "https www example com path q 1 x y frag" },
	{ "don't it\xe2\x80\x99s", 0, "don t it s" },
	{ "", 0, "" },
	{ "  ...  --- !!! \t\r\n", 0, "" },
	{ "a", 0, "a" },
	{ "ab\0cd", 5, "ab cd" },
	{ "\0\0x\0", 4, "x" },
	/* accented Latin, precomposed and decomposed */
	{ "\xc3\x89"
	  "clair caf\xc3\xa9 NA\xc3\x8f"
	  "VE",
	  0,
	  "\xc3\xa9"
	  "clair caf\xc3\xa9 na\xc3\xaf"
	  "ve" },
	{ "cafe\xcc\x81 CAFE\xcc\x81", 0, "caf\xc3\xa9 caf\xc3\xa9" },
	{ "\xc3\x85ngstr\xc3\xb6m", 0, "\xc3\xa5ngstr\xc3\xb6m" },
	/* German sharp s */
	{ "Stra\xc3\x9f"
	  "e STRASSE",
	  0, "strasse strasse" },
	{ "GRO\xe1\xba\x9e", 0, "gross" },
	/* Cyrillic, Greek */
	{ "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "
	  "\xd0\x9c\xd0\x98\xd0\xa0",
	  0,
	  "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 "
	  "\xd0\xbc\xd0\xb8\xd1\x80" },
	{ "\xce\x95\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1 "
	  "\xce\xa3\xce\x9f\xce\xa6"
	  "\xce\x9f\xce\xa3",
	  0,
	  "\xce\xb5\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1 "
	  "\xcf\x83\xce\xbf\xcf\x86"
	  "\xce\xbf\xcf\x83" },
	/* compatibility forms */
	{ "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3\xef\xbc\x91\xef\xbc\x92", 0,
	  "abc12" },
	{ "\xef\xac\x81ne", 0, "fine" },
	{ "x\xc2\xb2 \xc2\xbc", 0, "x2 1 4" },
	{ "\xe2\x85\xab", 0, "xii" },
	/* Chinese: bigrams, lone character, punctuation splits runs */
	{ "\xe4\xb8\x9c\xe4\xba\xac\xe9\x83\xbd", 0,
	  "\xe4\xb8\x9c\xe4\xba\xac \xe4\xba\xac\xe9\x83\xbd" },
	{ "\xe4\xb8\xad", 0, "\xe4\xb8\xad" },
	{ "\xe4\xb8\xad \xe6\x96\x87", 0, "\xe4\xb8\xad \xe6\x96\x87" },
	{ "\xe4\xb8\xad\xe3\x80\x82\xe6\x96\x87", 0,
	  "\xe4\xb8\xad \xe6\x96\x87" },
	/* Japanese kana (hiragana, katakana with ー, halfwidth katakana) */
	{ "\xe3\x81\xb2\xe3\x82\x89\xe3\x81\x8c\xe3\x81\xaa", 0,
	  "\xe3\x81\xb2\xe3\x82\x89 \xe3\x82\x89\xe3\x81\x8c "
	  "\xe3\x81\x8c\xe3\x81\xaa" },
	{ "\xe3\x82\xb3\xe3\x83\xbc\xe3\x83\x92", 0,
	  "\xe3\x82\xb3\xe3\x83\xbc \xe3\x83\xbc\xe3\x83\x92" },
	{ "\xef\xbd\xb6\xef\xbe\x80\xef\xbd\xb6\xef\xbe\x85", 0,
	  "\xe3\x82\xab\xe3\x82\xbf \xe3\x82\xbf\xe3\x82\xab "
	  "\xe3\x82\xab\xe3\x83\x8a" },
	{ "\xef\xbd\xb6\xef\xbe\x9e", 0, "\xe3\x82\xac" },
	/* Korean */
	{ "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4", 0,
	  "\xed\x95\x9c\xea\xb5\xad \xea\xb5\xad\xec\x96\xb4" },
	/* mixed CJK / Latin / digits */
	{ "abc\xe4\xb8\x9c\xe4\xba\xac"
	  "def",
	  0, "abc \xe4\xb8\x9c\xe4\xba\xac def" },
	{ "2002\xe5\xb9\xb4"
	  "8\xe6\x9c\x88",
	  0, "2002 \xe5\xb9\xb4 8 \xe6\x9c\x88" },
	/* invalid UTF-8 is a separator */
	{ "a\xff"
	  "b\xc3",
	  0, "a b" },
	{ "\xc0\xafx", 0, "x" },
	{ "\xed\xa0\x80y", 0, "y" },
	{ "\xe4\xb8", 0, "" },
	{ "caf\xc3", 0, "caf" },
};

START_TEST(test_words)
{
	const tcase_tok *tc = &words[_i];
	size_t len = tc->len ? tc->len : strlen(tc->in);
	char *got = toks(tc->in, len, 0);
	ck_assert_msg(strcmp(got, tc->want) == 0, "case %d: got '%s' want '%s'",
		      _i, got, tc->want);
	free(got);
}
END_TEST

/* 64 'a' + suffix; "a"*65 is one byte too long. */
static char *rep(const char *unit, size_t n, const char *tail)
{
	ms_buf b = MS_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		ms_buf_puts(&b, unit);
	ms_buf_puts(&b, tail);
	return ms_buf_steal(&b);
}

START_TEST(test_overlong)
{
	char *s = rep("a", MS_TOKEN_MAX, " x");
	char *got = toks(s, strlen(s), 1);
	ck_assert_uint_eq(strlen(got), 2 + MS_TOKEN_MAX + 4);
	ck_assert_str_eq(got + 2 + MS_TOKEN_MAX, " 1:x");
	free(got);
	free(s);

	s = rep("A", MS_TOKEN_MAX + 1, " x y");
	got = toks(s, strlen(s), 1);
	ck_assert_str_eq(got, "1:x 2:y");
	free(got);
	free(s);

	s = rep("\xc3\x89", MS_TOKEN_MAX / 2 + 1, " x"); /* 66 bytes */
	got = toks(s, strlen(s), 1);
	ck_assert_str_eq(got, "1:x");
	free(got);
	free(s);

	s = rep("\xc3\xa9", MS_TOKEN_MAX / 2, ""); /* exactly 64 bytes */
	got = toks(s, strlen(s), 0);
	ck_assert_str_eq(got, s);
	free(got);
	free(s);

	s = rep("\xc3\x9f", 40, " x"); /* ß*40 folds to 80 bytes */
	got = toks(s, strlen(s), 1);
	ck_assert_str_eq(got, "1:x");
	free(got);
	free(s);
}
END_TEST

START_TEST(test_positions)
{
	collect c = { .with_pos = 1 };
	unsigned pos = 10;
	const char *s = "one \xe4\xb8\x9c\xe4\xba\xac\xe9\x83\xbd two";
	ck_assert_int_eq(ms_tokenize(s, strlen(s), &pos, collect_fn, &c), 0);
	ck_assert_uint_eq(pos, 14);
	ck_assert_str_eq(c.out.data, "10:one 11:\xe4\xb8\x9c\xe4\xba\xac "
				     "12:\xe4\xba\xac\xe9\x83\xbd 13:two");
	/* a second call continues */
	ck_assert_int_eq(ms_tokenize("more", 4, &pos, collect_fn, &c), 0);
	ck_assert_uint_eq(pos, 15);
	ck_assert_uint_eq(c.last, 14);
	ms_buf_free(&c.out);
	/* NULL pos_io starts at 0; empty text emits nothing */
	c = (collect){ 0 };
	ck_assert_int_eq(ms_tokenize("a b", 3, NULL, collect_fn, &c), 0);
	ck_assert_uint_eq(c.first, 0);
	ck_assert_int_eq(ms_tokenize(NULL, 0, &pos, collect_fn, &c), 0);
	ck_assert_uint_eq(pos, 15);
	ms_buf_free(&c.out);
}
END_TEST

START_TEST(test_stop)
{
	static const char *const in[] = {
		"a b c d e",
		"\xe4\xb8\x9c\xe4\xba\xac\xe9\x83\xbd\xe5\xb8\x82 x",
		"Stra\xc3\x9f"
		"e x\xc2\xbc y z w",
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		collect c = { .stop_after = 2 };
		unsigned pos = 0;
		ck_assert_int_ne(
			ms_tokenize(in[i], strlen(in[i]), &pos, collect_fn, &c),
			0);
		ck_assert_uint_eq(c.n, 2);
		ck_assert_uint_eq(pos, 2);
		ms_buf_free(&c.out);
	}
}
END_TEST

static int count_fn(const char *term, size_t len, unsigned pos, void *ctx)
{
	(void)term;
	(void)len;
	(void)pos;
	(*(unsigned *)ctx)++;
	return 0;
}

START_TEST(test_huge)
{
	size_t n = 2000000;
	char *s = rep("word ", n, "");
	unsigned cnt = 0, pos = 0;
	ms_tokenize(s, strlen(s), &pos, count_fn, &cnt);
	ck_assert_uint_eq(cnt, n);
	ck_assert_uint_eq(pos, n);
	/* one 10 MB word: skipped, one position */
	memset(s, 'x', strlen(s));
	cnt = pos = 0;
	ms_tokenize(s, strlen(s), &pos, count_fn, &cnt);
	ck_assert_uint_eq(cnt, 0);
	ck_assert_uint_eq(pos, 1);
	free(s);
	/* one huge accented word (slow path) and a huge CJK run */
	s = rep("\xc3\x9f", 1000000, "");
	cnt = pos = 0;
	ms_tokenize(s, strlen(s), &pos, count_fn, &cnt);
	ck_assert_uint_eq(cnt, 0);
	ck_assert_uint_eq(pos, 1);
	free(s);
	s = rep("\xe4\xb8\x9c", 1000000, "");
	cnt = pos = 0;
	ms_tokenize(s, strlen(s), &pos, count_fn, &cnt);
	ck_assert_uint_eq(cnt, 999999);
	free(s);
}
END_TEST

/* Tokenizing the whole text equals tokenizing it in pieces cut at spaces. */
START_TEST(test_chunks)
{
	const char *s =
		"Hello W\xc3\xb6rld caf\xc3\xa9 \xe4\xb8\x9c\xe4\xba\xac "
		"x\xc2\xbc Stra\xc3\x9f"
		"e end";
	char *whole = toks(s, strlen(s), 1);
	collect c = { .with_pos = 1 };
	unsigned pos = 0;
	const char *p = s;
	while (*p) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) + 1 : strlen(p);
		ms_tokenize(p, n, &pos, collect_fn, &c);
		p += n;
	}
	ck_assert_str_eq(c.out.data, whole);
	ms_buf_free(&c.out);
	free(whole);
}
END_TEST

typedef struct tcase_fold {
	const char *in;
	size_t len;
	const char *want;
	size_t want_len;
} tcase_fold;

static const tcase_fold folds[] = {
	{ "Hello, World!", 0, "hello, world!", 0 },
	{ "", 0, "", 0 },
	{ "Stra\xc3\x9f"
	  "e W\xc3\x96RLD",
	  0, "strasse w\xc3\xb6rld", 0 },
	{ "\xef\xbc\xa1\xef\xbc\xa2 <X@Y.ORG>", 0, "ab <x@y.org>", 0 },
	{ "cafe\xcc\x81!", 0, "caf\xc3\xa9!", 0 },
	{ "A\xff"
	  "B",
	  0,
	  "a\xff"
	  "b",
	  0 },
	{ "A\0B", 3, "a\0b", 3 },
	{ "\xd0\x9c\xd0\x98\xd0\xa0 \xe4\xb8\x9c", 0,
	  "\xd0\xbc\xd0\xb8\xd1\x80 \xe4\xb8\x9c", 0 },
};

START_TEST(test_fold)
{
	const tcase_fold *tc = &folds[_i];
	size_t len = tc->len ? tc->len : strlen(tc->in);
	size_t wl = tc->want_len ? tc->want_len : strlen(tc->want);
	ms_buf b = MS_BUF_INIT;
	ms_buf_puts(&b, "pre:");
	ck_assert_int_eq(ms_token_fold(tc->in, len, &b), 0);
	ck_assert_uint_eq(b.len, 4 + wl);
	ck_assert_msg(memcmp(b.data + 4, tc->want, wl) == 0, "case %d: '%s'",
		      _i, b.data);
	ms_buf_free(&b);
}
END_TEST

/* Every letter/digit tokenizes the same as its fold: the per-character
 * fast path agrees with full NFKC + case folding, and the tokenizer is
 * idempotent on folded text. (Symbols such as "™" are separators even
 * though they fold to letters, so only characters giving terms count.) */
START_TEST(test_all_codepoints)
{
	ms_buf f = MS_BUF_INIT;
	unsigned bad = 0;
	for (unsigned c = 0x80; c < 0x32000; c++) {
		char s[8];
		if (c >= 0xD800 && c < 0xE000)
			continue;
		if (c >= 0x13A0 && c <= 0x13F5)
			continue; /* Cherokee: see ms_token.c special_fold() */
		size_t l;
		if (c < 0x800) {
			s[0] = (char)(0xC0 | (c >> 6));
			s[1] = (char)(0x80 | (c & 0x3F));
			l = 2;
		} else if (c < 0x10000) {
			s[0] = (char)(0xE0 | (c >> 12));
			s[1] = (char)(0x80 | ((c >> 6) & 0x3F));
			s[2] = (char)(0x80 | (c & 0x3F));
			l = 3;
		} else {
			s[0] = (char)(0xF0 | (c >> 18));
			s[1] = (char)(0x80 | ((c >> 12) & 0x3F));
			s[2] = (char)(0x80 | ((c >> 6) & 0x3F));
			s[3] = (char)(0x80 | (c & 0x3F));
			l = 4;
		}
		char *a = toks(s, l, 1);
		ms_buf_reset(&f);
		ck_assert_int_eq(ms_token_fold(s, l, &f), 0);
		char *b = toks(f.data, f.len, 1);
		if (*a && strcmp(a, b) != 0 && bad++ < 10)
			fprintf(stderr, "U+%04X: '%s' vs '%s'\n", c, a, b);
		free(a);
		free(b);
	}
	ms_buf_free(&f);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

static Suite *token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_words, 0,
			    sizeof(words) / sizeof(words[0]));
	tcase_add_test(tc, test_overlong);
	tcase_add_test(tc, test_positions);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_huge);
	tcase_add_test(tc, test_chunks);
	tcase_add_loop_test(tc, test_fold, 0, sizeof(folds) / sizeof(folds[0]));
	tcase_add_test(tc, test_all_codepoints);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(token_suite());
}
