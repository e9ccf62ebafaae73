/* test_web_form.c - Check tests for the console's request parsers
 * (web/web_form.h).
 *
 * Table-driven: web_form_get on forms and query strings (decoding, '+',
 * first occurrence, absent names, names that are prefixes of others,
 * empty values, bad %-escapes, NUL bytes, values one byte too long);
 * web_cookie_get on Cookie headers (spacing, quoting, bad bytes, length);
 * web_form_ident and web_form_path_ok on traversal attempts. Every form is
 * also fed one byte at a time: each prefix from an exact-size heap copy
 * (so ASan sees any read past the length) must give the answer a complete
 * form of that prefix gives, never a crash, and the output always stays
 * NUL-terminated within its capacity.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support_util.h"
#include "web_form.h"

typedef struct form_case {
	const char *data;
	const char *name;
	size_t cap; /* 0: 64 */
	int want;
	const char *value;
} form_case;

static const form_case form_cases[] = {
	{ "a=1&b=x%20y", "a", 0, 1, "1" },
	{ "a=1&b=x%20y", "b", 0, 1, "x y" },
	{ "q=from%3Abob+AND+x", "q", 0, 1, "from:bob AND x" },
	{ "a=1&a=2", "a", 0, 1, "1" },
	{ "ab=1&a=2", "a", 0, 1, "2" },
	{ "a=1", "ab", 0, 0, "" },
	{ "", "a", 0, 0, "" },
	{ "a", "a", 0, 1, "" },
	{ "a=", "a", 0, 1, "" },
	{ "&&a=3&", "a", 0, 1, "3" },
	{ "=5&a=4", "a", 0, 1, "4" },
	{ "a=%", "a", 0, -1, "" },
	{ "a=%4", "a", 0, -1, "" },
	{ "a=%zz", "a", 0, -1, "" },
	{ "a=%00x", "a", 0, -1, "" },
	{ "a=%2e%2E%2f", "a", 0, 1, "../" },
	{ "a=%C3%A9", "a", 0, 1, "\xc3\xa9" },
	{ "a=12345", "a", 6, 1, "12345" },
	{ "a=123456", "a", 6, -1, "" },
	{ "a=%41%41%41%41%41", "a", 6, 1, "AAAAA" },
	{ "a=%41%41%41%41%41%41", "a", 6, -1, "" },
	{ "csrf=<script>&x=1", "csrf", 0, 1, "<script>" },
	{ "a=1;b=2", "b", 0, 0, "" },
};

START_TEST(test_form_get)
{
	const form_case *c = &form_cases[_i];
	char out[64];
	size_t cap = c->cap ? c->cap : sizeof out;
	memset(out, '#', sizeof out);
	int rc = web_form_get(c->data, strlen(c->data), c->name, out, cap);
	ck_assert_msg(rc == c->want, "case %d: rc %d, want %d", _i, rc,
		      c->want);
	ck_assert_msg(!strcmp(out, c->value), "case %d: <%s>, want <%s>", _i,
		      out, c->value);
	if (cap < sizeof out)
		ck_assert_int_eq(out[cap], '#');
}
END_TEST

/* Each prefix of each form, from an exact-size copy, answers as the same
 * bytes do given whole (NUL-terminated copy): no read past len. */
START_TEST(test_form_bytewise)
{
	const form_case *c = &form_cases[_i];
	size_t len = strlen(c->data);
	for (size_t k = 0; k <= len; k++) {
		char *exact = malloc(k ? k : 1), *whole = strndup(c->data, k);
		char a[64], b[64];
		memcpy(exact, c->data, k);
		int ra = web_form_get(exact, k, c->name, a, sizeof a);
		int rb = web_form_get(whole, strlen(whole), c->name, b,
				      sizeof b);
		ck_assert_msg(ra == rb && !strcmp(a, b),
			      "case %d prefix %zu: %d <%s> vs %d <%s>", _i, k,
			      ra, a, rb, b);
		ck_assert_uint_lt(strlen(a), sizeof a);
		free(exact);
		free(whole);
	}
}
END_TEST

/* A form with an embedded NUL byte: the value stops being found at the
 * NUL's length, never read past len. */
START_TEST(test_form_nul_and_null)
{
	const char data[] = { 'a', '=', 'x', '\0', 'y', '&', 'b', '=', '1' };
	char out[16];
	ck_assert_int_eq(web_form_get(data, sizeof data, "b", out, sizeof out),
			 1);
	ck_assert_str_eq(out, "1");
	ck_assert_int_eq(web_form_get(NULL, 0, "a", out, sizeof out), 0);
	ck_assert_int_eq(web_form_get("a=1", 3, "a", out, 0), -1);
	ck_assert_int_eq(web_form_get("a=1", 3, "a", out, 1), -1);
	ck_assert_str_eq(out, "");
}
END_TEST

typedef struct cookie_case {
	const char *header;
	const char *name;
	size_t cap;
	int want;
	const char *value;
} cookie_case;

static const cookie_case cookie_cases[] = {
	{ "msid=abc", "msid", 0, 1, "abc" },
	{ "a=1; msid=abc; b=2", "msid", 0, 1, "abc" },
	{ "a=1;msid=abc", "msid", 0, 1, "abc" },
	{ "  msid=abc  ", "msid", 0, 1, "abc" },
	{ "msid=\"abc\"", "msid", 0, 1, "abc" },
	{ "xmsid=abc", "msid", 0, 0, "" },
	{ "msidx=abc", "msid", 0, 0, "" },
	{ "msid", "msid", 0, 0, "" },
	{ "msid=", "msid", 0, 1, "" },
	{ "msid=a b", "msid", 0, -1, "" },
	{ "msid=a,b", "msid", 0, -1, "" },
	{ "msid=a\\b", "msid", 0, -1, "" },
	{ "msid=\x01", "msid", 0, -1, "" },
	{ "msid=\xc3\xa9", "msid", 0, -1, "" },
	{ "msid=12345", "msid", 6, 1, "12345" },
	{ "msid=123456", "msid", 6, -1, "" },
	{ "", "msid", 0, 0, "" },
	{ ";;;", "msid", 0, 0, "" },
	{ "msid=1; msid=2", "msid", 0, 1, "1" },
};

START_TEST(test_cookie_get)
{
	const cookie_case *c = &cookie_cases[_i];
	char out[64];
	size_t cap = c->cap ? c->cap : sizeof out;
	int rc = web_cookie_get(c->header, c->name, out, cap);
	ck_assert_msg(rc == c->want, "case %d: rc %d, want %d", _i, rc,
		      c->want);
	ck_assert_msg(rc != 1 || !strcmp(out, c->value),
		      "case %d: <%s>, want <%s>", _i, out, c->value);
	if (rc != 1)
		ck_assert_str_eq(out, "");
}
END_TEST

/* Every prefix of every header (a fresh heap copy each) parses without
 * reading past its NUL and leaves out terminated. */
START_TEST(test_cookie_bytewise)
{
	const cookie_case *c = &cookie_cases[_i];
	size_t len = strlen(c->header);
	for (size_t k = 0; k <= len; k++) {
		char *h = strndup(c->header, k), out[8];
		int rc = web_cookie_get(h, c->name, out, sizeof out);
		ck_assert(rc >= -1 && rc <= 1);
		ck_assert_uint_lt(strlen(out), sizeof out);
		free(h);
	}
}
END_TEST

typedef struct check_case {
	const char *s;
	int ident; /* web_form_ident(s, 24) */
	int path;  /* web_form_path_ok(s) */
} check_case;

static const check_case check_cases[] = {
	{ "abc_DEF-123", 1, 0 },
	{ "", 0, 0 },
	{ "a.b", 0, 0 },
	{ "../etc", 0, 0 },
	{ "a/b", 0, 0 },
	{ "a\\b", 0, 0 },
	{ "a\nb", 0, 0 },
	{ "123456789012345678901234", 1, 0 },
	{ "1234567890123456789012345", 0, 0 },
	{ "/search", 0, 1 },
	{ "/message/abc/part/1", 0, 1 },
	{ "/", 0, 1 },
	{ "/message/../x", 0, 0 },
	{ "/message/..", 0, 0 },
	{ "//etc/passwd", 0, 0 },
	{ "/a\\b", 0, 0 },
	{ "/a\x01", 0, 0 },
	{ "/a\x7f", 0, 0 },
	{ "search", 1, 0 },
	{ "/a.b", 0, 1 },
};

START_TEST(test_checks)
{
	const check_case *c = &check_cases[_i];
	ck_assert_msg(web_form_ident(c->s, 24) == c->ident, "ident case %d",
		      _i);
	ck_assert_msg(web_form_path_ok(c->s) == c->path, "path case %d", _i);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("web_form");
	TCase *tc = tcase_create("core");
	size_t nf = sizeof form_cases / sizeof form_cases[0];
	size_t nc = sizeof cookie_cases / sizeof cookie_cases[0];
	tcase_add_loop_test(tc, test_form_get, 0, (int)nf);
	tcase_add_loop_test(tc, test_form_bytewise, 0, (int)nf);
	tcase_add_test(tc, test_form_nul_and_null);
	tcase_add_loop_test(tc, test_cookie_get, 0, (int)nc);
	tcase_add_loop_test(tc, test_cookie_bytewise, 0, (int)nc);
	tcase_add_loop_test(tc, test_checks, 0,
			    (int)(sizeof check_cases / sizeof check_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(suite());
}
