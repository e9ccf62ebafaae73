/* test_query.c - unit tests for ms_query (ms_query_parse, ms_query_dump,
 * ms_query_free).
 *
 * Table-driven: each case is a query and either the expected dump or the
 * expected error (a substring of the message). Also: nesting limits, a
 * long flat query, and a fuzz loop of 10,000 random strings (syntax-heavy
 * fragments and raw bytes) that must each give a well-formed tree or a
 * one-line MS_ERR_QUERY message, with no leaks (run under ASan).
 * ms_query_date: a table of dates and what they span.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_buf.h"
#include "ms_query.h"
#include "ms_token.h"
#include "support_util.h"

typedef struct qcase {
	const char *q;
	const char *dump; /* expected dump, or NULL for an error */
	const char *err;  /* expected error message substring */
} qcase;

static const qcase cases[] = {
	/* free text, operators, precedence */
	{ "hello", "(words * \"hello\")", NULL },
	{ "Hello World", "(and (words * \"hello\") (words * \"world\"))",
	  NULL },
	{ "a b c", "(and (words * \"a\") (words * \"b\") (words * \"c\"))",
	  NULL },
	{ "a OR b c",
	  "(or (words * \"a\") (and (words * \"b\") (words * \"c\")))", NULL },
	{ "a AND b OR NOT c",
	  "(or (and (words * \"a\") (words * \"b\")) (not (words * \"c\")))",
	  NULL },
	{ "NOT a b", "(and (not (words * \"a\")) (words * \"b\"))", NULL },
	{ "NOT NOT a", "(not (not (words * \"a\")))", NULL },
	{ "-spam ham", "(and (not (words * \"spam\")) (words * \"ham\"))",
	  NULL },
	{ "(a OR b) -c",
	  "(and (or (words * \"a\") (words * \"b\")) (not (words * \"c\")))",
	  NULL },
	{ "-(a b)", "(not (and (words * \"a\") (words * \"b\")))", NULL },
	{ "a -\"b c\"", "(and (words * \"a\") (not (words * \"b\" \"c\")))",
	  NULL },
	{ "(a -)", "(words * \"a\")", NULL },
	{ "((a))", "(words * \"a\")", NULL },
	{ "and or not",
	  "(and (words * \"and\") (words * \"or\") (words * "
	  "\"not\"))",
	  NULL },
	{ "NOTE ORder ANDes",
	  "(and (words * \"note\") (words * \"order\") (words * \"andes\"))",
	  NULL },
	{ "*", "(all)", NULL },
	{ "* -spam", "(and (all) (not (words * \"spam\")))", NULL },
	/* words, phrases, prefixes */
	{ "foo-bar", "(words * \"foo\" \"bar\")", NULL },
	{ "\"Big  Deal\"", "(words * \"big\" \"deal\")", NULL },
	{ "foo\"bar baz\"", "(and (words * \"foo\") (words * \"bar\" \"baz\"))",
	  NULL },
	{ "Stra\xc3\x9f"
	  "e",
	  "(words * \"strasse\")", NULL },
	{ "\xe6\x9d\xb1\xe4\xba\xac\xe9\x83\xbd",
	  "(words * \"\xe6\x9d\xb1\xe4\xba\xac\" \"\xe4\xba\xac\xe9\x83\xbd\")",
	  NULL },
	{ "foo*", "(prefix * \"foo\")", NULL },
	{ "FOO* bar", "(and (prefix * \"foo\") (words * \"bar\"))", NULL },
	{ "\"foo*\"", "(words * \"foo\")", NULL },
	{ "foo-bar*", NULL, "prefix 'foo-bar*' must be a single word" },
	{ "!!*", NULL, "must be a single word" },
	{ "a -- !!! b", "(and (words * \"a\") (words * \"b\"))", NULL },
	{ "a -", "(words * \"a\")", NULL },
	{ "a ()", "(words * \"a\")", NULL },
	{ "don't", "(words * \"don\" \"t\")", NULL },
	/* text and address fields */
	{ "from:alice", "(words from \"alice\")", NULL },
	{ "FROM:Bob", "(words from \"bob\")", NULL },
	{ "from:alice@example.org", "(exact from \"alice@example.org\")",
	  NULL },
	{ "to:<Alice@Example.ORG>", "(exact to \"Alice@Example.ORG\")", NULL },
	{ "from:\"Alice Smith\"", "(words from \"alice\" \"smith\")", NULL },
	{ "from:\"alice@x.org\"", "(exact from \"alice@x.org\")", NULL },
	{ "from:\"alice @x.org\"", "(words from \"alice\" \"x\" \"org\")",
	  NULL },
	{ "from:ali*", "(prefix from \"ali\")", NULL },
	{ "subject:\"big deal\" body:money",
	  "(and (words subject \"big\" \"deal\") (words body \"money\"))",
	  NULL },
	{ "subject:AND", "(words subject \"and\")", NULL },
	{ "subject:re:hello", "(words subject \"re\" \"hello\")", NULL },
	{ "from:(alice OR bob)",
	  "(or (words from \"alice\") (words from \"bob\"))", NULL },
	{ "from:(alice -(bob carol@x.org))",
	  "(and (words from \"alice\") (not (and (words from \"bob\") "
	  "(exact from \"carol@x.org\"))))",
	  NULL },
	{ "subject:(a OR to:b)", "(or (words subject \"a\") (words to \"b\"))",
	  NULL },
	{ "-from:spammer", "(not (words from \"spammer\"))", NULL },
	/* exact fields */
	{ "id:<abc@x>", "(exact id \"<abc@x>\")", NULL },
	{ "id:\"<a(b)@x>\"", "(exact id \"<a(b)@x>\")", NULL },
	{ "verdict:Spam", "(exact verdict \"Spam\")", NULL },
	{ "queueid:4Xy7Z", "(exact queueid \"4Xy7Z\")", NULL },
	{ "verdict:\"\"", NULL, "empty value for 'verdict:'" },
	/* dates (UTC epoch seconds, inclusive) */
	{ "date:2002", "(range date 1009843200 1041379199)", NULL },
	{ "date:2002-08", "(range date 1028160000 1030838399)", NULL },
	{ "date:2002-08-01", "(range date 1028160000 1028246399)", NULL },
	{ "date:2002-12", "(range date 1038700800 1041379199)", NULL },
	{ "date:2000-02-29", "(range date 951782400 951868799)", NULL },
	{ "date:2002-08-01..2002-09", "(range date 1028160000 1033430399)",
	  NULL },
	{ "date:..2002", "(range date * 1041379199)", NULL },
	{ "date:2002..", "(range date 1009843200 *)", NULL },
	{ "date:>2002", "(range date 1041379200 *)", NULL },
	{ "date:<=1970", "(range date * 31535999)", NULL },
	{ "date:1969-12-31", "(range date -86400 -1)", NULL },
	{ "date:\"2002..2003\"", "(range date 1009843200 1072915199)", NULL },
	{ "date:(2002 OR 2004-01)",
	  "(or (range date 1009843200 1041379199) (range date 1072915200 "
	  "1075593599))",
	  NULL },
	{ "date:2002-13-01", NULL,
	  "bad date '2002-13-01' (want YYYY, YYYY-MM or YYYY-MM-DD) at column "
	  "6" },
	{ "date:2001-02-29", NULL, "bad date '2001-02-29'" },
	{ "date:1900-02-29", NULL, "bad date '1900-02-29'" },
	{ "date:02-08-01", NULL, "bad date" },
	{ "date:2002-8", NULL, "bad date '2002-8'" },
	{ "date:yesterday", NULL, "bad date 'yesterday'" },
	{ "date:2003..2002", NULL, "empty range '2003..2002'" },
	{ "date:..", NULL, "range '..' needs a start or an end" },
	{ "date:*", NULL, "'*' cannot follow 'date:'" },
	/* sizes (1024-based) */
	{ "size:500", "(range size 500 500)", NULL },
	{ "size:10k..2M", "(range size 10240 2097152)", NULL },
	{ "size:1G", "(range size 1073741824 1073741824)", NULL },
	{ "size:2kb", "(range size 2048 2048)", NULL },
	{ "size:>1M", "(range size 1048577 *)", NULL },
	{ "size:>=1m", "(range size 1048576 *)", NULL },
	{ "size:<500", "(range size * 499)", NULL },
	{ "size:<=1K", "(range size * 1024)", NULL },
	{ "size:5..", "(range size 5 *)", NULL },
	{ "size:1.5M", NULL, "bad size '1.5M' (want N, Nk, NM or NG)" },
	{ "size:10T", NULL, "bad size '10T'" },
	{ "size:>", NULL, "bad size ''" },
	{ "size:99999999999999999999", NULL, "bad size" },
	{ "size:8589934592G", NULL, "bad size" },
	{ "size:2M..1M", NULL, "empty range" },
	/* "name:" that is not a field */
	{ "xyz:foo", NULL, "unknown field 'xyz' at column 1" },
	{ "a mailto:bob", NULL, "unknown field 'mailto' at column 3" },
	{ "http://foo.com/x", "(words * \"http\" \"foo\" \"com\" \"x\")",
	  NULL },
	{ "Re: hello", "(and (words * \"re\") (words * \"hello\"))", NULL },
	{ "12:30", "(words * \"12\" \"30\")", NULL },
	{ "\"xyz:foo\"", "(words * \"xyz\" \"foo\")", NULL },
	{ "from:", NULL, "missing value after 'from:'" },
	{ "from: alice", NULL, "missing value after 'from:'" },
	{ "from:*", NULL, "'*' cannot follow 'from:'" },
	/* syntax errors */
	{ "", NULL, "empty query" },
	{ "   ", NULL, "empty query" },
	{ "-- !!!", NULL, "empty query" },
	{ "()", NULL, "empty query" },
	{ "a AND", NULL, "missing term after 'AND' at column 3" },
	{ "AND a", NULL, "unexpected 'AND' at column 1" },
	{ "a AND AND b", NULL, "missing term after 'AND'" },
	{ "OR a", NULL, "unexpected 'OR' at column 1" },
	{ "a OR", NULL, "missing term after 'OR' at column 3" },
	{ "a OR OR b", NULL, "unexpected 'OR' at column 6" },
	{ "NOT", NULL, "missing term after 'NOT'" },
	{ "a NOT OR b", NULL, "missing term after 'NOT'" },
	{ "(a", NULL, "missing ')' for this '(' at column 1" },
	{ "from:(a", NULL, "missing ')'" },
	{ "a)", NULL, "unbalanced ')' at column 2" },
	{ "a (b OR) c", NULL, "missing term after 'OR' at column 6" },
	{ "\"unterminated", NULL, "unterminated quote at column 1" },
	{ "a from:\"x", NULL, "unterminated quote at column 8" },
};

START_TEST(test_cases)
{
	const qcase *tc = &cases[_i];
	ms_qnode *root = (ms_qnode *)1;
	char *err = (char *)1;
	ms_status_t st = ms_query_parse(tc->q, &root, &err);
	if (tc->dump) {
		ck_assert_msg(st == MS_OK, "'%s': status %d: %s", tc->q, st,
			      err ? err : "");
		ck_assert_ptr_null(err);
		char *d = ms_query_dump(root);
		ck_assert_msg(strcmp(d, tc->dump) == 0,
			      "'%s':\n got  %s\n want %s", tc->q, d, tc->dump);
		free(d);
	} else {
		ck_assert_msg(st == MS_ERR_QUERY, "'%s': status %d", tc->q, st);
		ck_assert_ptr_null(root);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, tc->err) != NULL,
			      "'%s': got '%s' want '%s'", tc->q, err, tc->err);
	}
	ms_query_free(&root);
	ck_assert_ptr_null(root);
	free(err);
}
END_TEST

START_TEST(test_no_err_ptr)
{
	ms_qnode *root = NULL;
	ck_assert_int_eq(ms_query_parse("xyz:1", &root, NULL), MS_ERR_QUERY);
	ck_assert_ptr_null(root);
	ck_assert_int_eq(ms_query_parse(NULL, &root, NULL), MS_ERR_QUERY);
	ms_query_free(&root);
	ms_query_free(NULL);
	char *d = ms_query_dump(NULL);
	ck_assert_str_eq(d, "");
	free(d);
}
END_TEST

/* The tree fields a caller relies on. */
static void check_tree(const ms_qnode *n)
{
	switch (n->type) {
	case MS_Q_AND:
	case MS_Q_OR:
		ck_assert_uint_ge(n->n_kids, 2);
		break;
	case MS_Q_NOT:
		ck_assert_uint_eq(n->n_kids, 1);
		break;
	case MS_Q_WORDS:
	case MS_Q_PREFIX:
		ck_assert_uint_ge(n->n_terms, 1);
		if (n->type == MS_Q_PREFIX)
			ck_assert_uint_eq(n->n_terms, 1);
		for (size_t i = 0; i < n->n_terms; i++)
			ck_assert_uint_le(strlen(n->terms[i]), MS_TOKEN_MAX);
		break;
	case MS_Q_EXACT:
		ck_assert_ptr_nonnull(n->field);
		ck_assert_ptr_nonnull(n->value);
		break;
	case MS_Q_RANGE:
		ck_assert_ptr_nonnull(n->field);
		ck_assert(n->lo <= n->hi);
		break;
	case MS_Q_ALL:
		break;
	}
	for (size_t i = 0; i < n->n_kids; i++)
		check_tree(n->kids[i]);
}

static char *repeat(const char *a, int n, const char *mid, const char *b)
{
	ms_buf s = MS_BUF_INIT;
	for (int i = 0; i < n; i++)
		ms_buf_puts(&s, a);
	ms_buf_puts(&s, mid);
	for (int i = 0; i < n; i++)
		ms_buf_puts(&s, b);
	return ms_buf_steal(&s);
}

static ms_status_t parse_free(const char *q, char **err)
{
	ms_qnode *root = NULL;
	ms_status_t st = ms_query_parse(q, &root, err);
	if (root)
		check_tree(root);
	ms_query_free(&root);
	return st;
}

START_TEST(test_nesting)
{
	static const struct {
		const char *open, *close;
		int n;
		ms_status_t want;
	} t[] = {
		{ "(", ")", 50, MS_OK },
		{ "(", ")", 99, MS_OK },
		{ "(", ")", 100, MS_ERR_QUERY },
		{ "(", ")", 5000, MS_ERR_QUERY },
		{ "NOT ", "", 99, MS_OK },
		{ "NOT ", "", 5000, MS_ERR_QUERY },
		{ "-", "", 5000, MS_ERR_QUERY },
		{ "from:(", ")", 500, MS_ERR_QUERY },
		{ "(a OR ", ")", 3000, MS_ERR_QUERY },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *q = repeat(t[i].open, t[i].n, "x", t[i].close);
		char *err = NULL;
		ck_assert_int_eq(parse_free(q, &err), t[i].want);
		if (t[i].want != MS_OK)
			ck_assert(strstr(err, "query nested too deeply"));
		free(err);
		free(q);
	}
}
END_TEST

START_TEST(test_long_flat)
{
	char *q = repeat("word OR ", 20000, "last", "");
	ms_qnode *root = NULL;
	ck_assert_int_eq(ms_query_parse(q, &root, NULL), MS_OK);
	ck_assert_int_eq(root->type, MS_Q_OR);
	ck_assert_uint_eq(root->n_kids, 20001);
	ms_query_free(&root);
	free(q);
}
END_TEST

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void random_query(ms_buf *b)
{
	static const char *const frag[] = {
		"(",
		")",
		"\"",
		"-",
		"*",
		":",
		" ",
		" ",
		"AND",
		"OR",
		"NOT",
		"from:",
		"to:",
		"date:",
		"size:",
		"id:",
		"verdict:",
		"xyz:",
		"..",
		">",
		"<=",
		"2002",
		"-08",
		"-31",
		"k",
		"M",
		"@",
		"alice",
		"x.org",
		"foo*",
		"\xe6\x9d\xb1\xe4\xba\xac",
		"\xc3\xa9",
		"\xff",
		"\t",
		"<",
		"!!",
	};
	ms_buf_reset(b);
	int raw = rnd() % 10 == 0;
	size_t n = rnd() % 40;
	for (size_t i = 0; i < n; i++) {
		if (raw) {
			char c = (char)(1 + rnd() % 255);
			ms_buf_putc(b, c);
		} else {
			ms_buf_puts(
				b,
				frag[rnd() % (sizeof(frag) / sizeof(frag[0]))]);
		}
	}
}

START_TEST(test_fuzz)
{
	ms_buf b = MS_BUF_INIT;
	unsigned ok = 0;
	for (int i = 0; i < 10000; i++) {
		random_query(&b);
		const char *q = b.data ? b.data : "";
		ms_qnode *root = NULL;
		char *err = NULL;
		ms_status_t st = ms_query_parse(q, &root, &err);
		ck_assert_msg(st == MS_OK || st == MS_ERR_QUERY, "'%s': %d", q,
			      st);
		if (st == MS_OK) {
			ok++;
			ck_assert_ptr_nonnull(root);
			ck_assert_ptr_null(err);
			check_tree(root);
			char *d = ms_query_dump(root);
			ck_assert(d && d[0] == '(');
			free(d);
		} else {
			ck_assert_ptr_null(root);
			ck_assert(err && err[0] && !strchr(err, '\n'));
		}
		ms_query_free(&root);
		free(err);
	}
	ck_assert_uint_gt(ok, 100); /* the generator reaches valid queries */
	ms_buf_free(&b);
}
END_TEST

typedef struct date_case {
	const char *s;
	int64_t start, end; /* end 0: must be refused */
} date_case;

static const date_case date_cases[] = {
	{ "2024", 1704067200, 1735689600 },
	{ "2024-02", 1706745600, 1709251200 },
	{ "2024-02-29", 1709164800, 1709251200 },
	{ "2023-12", 1701388800, 1704067200 },
	{ "1970-01-01", 0, 86400 },
	{ "2023-02-29", 0, 0 },
	{ "2024-13", 0, 0 },
	{ "2024-1-5", 0, 0 },
	{ "24", 0, 0 },
	{ "", 0, 0 },
	{ "2024-01-01x", 0, 0 },
};

START_TEST(test_date)
{
	const date_case *c = &date_cases[_i];
	int64_t start = -1, end = -1;
	ms_status_t st = ms_query_date(c->s, &start, &end);
	if (!c->end) {
		ck_assert_msg(st == MS_ERR_QUERY, "%s", c->s);
		ck_assert(start == -1 && end == -1);
		return;
	}
	ck_assert_msg(st == MS_OK, "%s", c->s);
	ck_assert_int_eq(start, c->start);
	ck_assert_int_eq(end, c->end);
}
END_TEST

static Suite *query_suite(void)
{
	Suite *s = suite_create("query");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_cases, 0,
			    sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_no_err_ptr);
	tcase_add_test(tc, test_nesting);
	tcase_add_test(tc, test_long_flat);
	tcase_add_test(tc, test_fuzz);
	tcase_add_loop_test(tc, test_date, 0,
			    sizeof(date_cases) / sizeof(date_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(query_suite());
}
