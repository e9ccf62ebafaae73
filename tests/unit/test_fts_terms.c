/* test_fts_terms.c - unit tests for the IMAP backend's text <-> terms
 * layer (imap-ext/fts-mailsift-terms.c, Dovecot-free): header field names,
 * runs of text (ASCII and not, lower-casing, character bits), windows of
 * over-long runs (every MSF_OVERLAP bytes of a run inside one window),
 * the "L" mark of forced cuts, key runs and exactness, their order by
 * cost (repeats removed), safe cuts; text already in dtc form (lower-case
 * letters left by native's decoding are no run bytes, 0xFF in values),
 * whether text has a run and characters collected without terms. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fts-mailsift-terms.h"
#include "support_util.h"

#define MAXT 64

struct terms {
	char *t[MAXT * 8];
	size_t n;
};

static int collect(const char *term, size_t len, void *ctx)
{
	struct terms *ts = ctx;
	ck_assert_uint_lt(ts->n, MAXT * 8);
	ck_assert_uint_eq(strlen(term), len);
	ts->t[ts->n++] = strndup(term, len);
	return 0;
}

static int has(const struct terms *ts, const char *t)
{
	for (size_t i = 0; i < ts->n; i++) {
		if (strcmp(ts->t[i], t) == 0)
			return 1;
	}
	return 0;
}

static void terms_free(struct terms *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		free(ts->t[i]);
	ts->n = 0;
}

/* A stand-in for Dovecot's titlecase: ASCII upper case, 'é' -> "E" +
 * U+0301 (enough to show non-ASCII text goes through it). */
static int fake_dtc(const char *in, size_t len, ms_buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)in[i] == 0xC3 && i + 1 < len &&
		    (unsigned char)in[i + 1] == 0xA9) {
			if (ms_buf_puts(out, "E\xCC\x81") != MS_OK)
				return -1;
			i++;
			continue;
		}
		char c = in[i] >= 'a' && in[i] <= 'z' ? in[i] - 32 : in[i];
		if (ms_buf_putc(out, c) != MS_OK)
			return -1;
	}
	return 0;
}

START_TEST(test_header_field)
{
	char buf[MSF_FIELD_MAX];
	msf_header_field('H', "Subject", buf, sizeof(buf));
	ck_assert_str_eq(buf, "Hsubject:");
	msf_header_field('A', "FROM", buf, sizeof(buf));
	ck_assert_str_eq(buf, "Afrom:");
	char longname[200];
	memset(longname, 'X', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	msf_header_field('H', longname, buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), MSF_HDR_MAX + 2);
	ck_assert_int_eq(buf[MSF_HDR_MAX + 1], ':');
}
END_TEST

START_TEST(test_runs)
{
	struct terms ts = { { 0 }, 0 };
	struct msf_field f;
	const char *text =
		"Hello, wOrld! foo_bar x\r\ncaf\xC3\xA9 don\xE2\x80\x99t 42";

	msf_field_init(&f, "B", true);
	ck_assert_int_eq(msf_add_text(&f, text, strlen(text), false, false,
				      fake_dtc, collect, &ts),
			 0);
	ck_assert(has(&ts, "Bhello"));
	ck_assert(has(&ts, "Bworld"));
	ck_assert(has(&ts, "Bfoo")); /* "_" separates */
	ck_assert(has(&ts, "Bbar"));
	ck_assert(has(&ts, "Bx"));
	ck_assert(has(&ts, "Bcafe\xCC\x81"));	  /* normalised, ASCII lower */
	ck_assert(has(&ts, "Bdon\xE2\x80\x99t")); /* non-ASCII joins a run */
	ck_assert(has(&ts, "B42"));
	ck_assert(!has(&ts, "LB"));
	ck_assert_uint_eq(ts.n, 8);
	/* bits of letters and digits seen */
	ck_assert(f.bits & (1ull << msf_char_index('h')));
	ck_assert(f.bits & (1ull << msf_char_index('4')));
	ck_assert(!(f.bits & (1ull << msf_char_index('q'))));
	terms_free(&ts);
	ck_assert_int_eq(msf_emit_chars(&f, collect, &ts), 0);
	ck_assert(has(&ts, "#Bh"));
	ck_assert(has(&ts, "#B2"));
	ck_assert(!has(&ts, "#Bq"));
	terms_free(&ts);
}
END_TEST

START_TEST(test_cut_marks)
{
	struct terms ts = { { 0 }, 0 };
	struct msf_field f;

	msf_field_init(&f, "Hsubject:", false);
	ck_assert_int_eq(
		msf_add_text(&f, "abc", 3, false, true, fake_dtc, collect, &ts),
		0);
	ck_assert(has(&ts, "Hsubject:abc"));
	ck_assert(has(&ts, "LHsubject:"));
	ck_assert_uint_eq(f.bits, 0); /* chars off */
	terms_free(&ts);
}
END_TEST

/* Every MSF_OVERLAP-byte piece of a long run lies in some window. */
START_TEST(test_windows)
{
	struct terms ts = { { 0 }, 0 };
	struct msf_field f;
	char run[1500];

	for (size_t i = 0; i < sizeof(run); i++)
		run[i] = (char)('a' + (i * 7 + i / 26) % 26);
	msf_field_init(&f, "B", false);
	ck_assert_int_eq(msf_add_text(&f, run, sizeof(run), false, false,
				      fake_dtc, collect, &ts),
			 0);
	ck_assert_uint_gt(ts.n, 6);
	for (size_t i = 0; i < ts.n; i++)
		ck_assert_uint_le(strlen(ts.t[i]), MSF_TERM_MAX);
	for (size_t at = 0; at + MSF_OVERLAP <= sizeof(run); at++) {
		int found = 0;
		for (size_t i = 0; i < ts.n && !found; i++)
			found = memmem(ts.t[i] + 1, strlen(ts.t[i]) - 1,
				       run + at, MSF_OVERLAP) != NULL;
		ck_assert_msg(found, "piece at %zu in no window", at);
	}
	terms_free(&ts);
}
END_TEST

static const struct key_case {
	const char *key;
	int n;
	bool exact;
	const char *first;
} keys[] = {
	/* keys are in dtc form: a lower-case letter is no run byte */
	{ "ell", 0, false, NULL },
	{ "ELL", 1, true, "ell" },
	{ "fiNANCE", 1, false, "nance" }, /* dtc of U+FB01 "nance" */
	{ "CLICK HERE", 2, false, "click" },
	{ "E.G.", 2, false, "e" },
	{ "@", 0, false, NULL },
	{ "   ", 0, false, NULL },
	{ " ELL", 1, false, "ell" },
	{ "CAF\xC3\xA9", 1, true, "caf\xC3\xA9" },
	{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	  "AAAAAAAA",
	  1, false,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
};

START_TEST(test_key_runs)
{
	const struct key_case *k = &keys[_i];
	char **runs;
	bool exact;
	int n = msf_key_runs(k->key, &runs, &exact);

	ck_assert_int_eq(n, k->n);
	ck_assert_int_eq(exact, k->exact);
	if (k->first != NULL)
		ck_assert_str_eq(runs[0], k->first);
	ck_assert_ptr_null(runs[n]);
	msf_runs_free(&runs);
	ck_assert_ptr_null(runs);
}
END_TEST

/* Runs ordered by cost, then longer first, repeats freed. */
START_TEST(test_runs_order)
{
	char **runs;
	bool exact;
	int n = msf_key_runs("THE CAT THE ZEBRA CAT A THE", &runs, &exact);
	uint64_t cost[7] = { 9, 5, 9, 1, 5, 100, 9 };

	ck_assert_int_eq(n, 7);
	ck_assert_int_eq(msf_runs_order(runs, cost, n), 4);
	ck_assert_str_eq(runs[0], "zebra");
	ck_assert_str_eq(runs[1], "cat");
	ck_assert_str_eq(runs[2], "the");
	ck_assert_str_eq(runs[3], "a");
	ck_assert_uint_eq(cost[0], 1);
	ck_assert_uint_eq(cost[3], 100);
	for (int i = 4; i <= n; i++)
		ck_assert_ptr_null(runs[i]);
	msf_runs_free(&runs);

	/* equal costs: the longer run first, then byte order */
	n = msf_key_runs("BB A CCC AA", &runs, &exact);
	uint64_t same[4] = { 0, 0, 0, 0 };
	ck_assert_int_eq(msf_runs_order(runs, same, n), 4);
	ck_assert_str_eq(runs[0], "ccc");
	ck_assert_str_eq(runs[1], "aa");
	ck_assert_str_eq(runs[2], "bb");
	ck_assert_str_eq(runs[3], "a");
	msf_runs_free(&runs);
}
END_TEST

/* Text in dtc form already (native's decoded header): a lower-case letter
 * is what native left untitlecased (an unknown charset), no run byte; in
 * values it is 0xFF, and keys with lower-case letters are not answered
 * from values. */
START_TEST(test_dtc_text)
{
	struct terms ts = { { 0 }, 0 };
	struct msf_field f;
	const char *text = "setting MORE w\xC3\xA9ird 42";
	char *v;

	msf_field_init(&f, "Hsubject:", true);
	ck_assert_int_eq(msf_add_text(&f, text, strlen(text), false, false,
				      NULL, collect, &ts),
			 0);
	ck_assert(has(&ts, "Hsubject:more"));
	ck_assert(has(&ts, "Hsubject:\xC3\xA9"));
	ck_assert(has(&ts, "Hsubject:42"));
	ck_assert_uint_eq(ts.n, 3);
	ck_assert(!(f.bits & (1ull << msf_char_index('s'))));
	ck_assert(f.bits & (1ull << msf_char_index('m')));
	terms_free(&ts);
	ck_assert_int_eq(msf_add_value(&f, "set MORE", 8, NULL, collect, &ts),
			 0);
	ck_assert(has(&ts, "=Hsubject:\xff\xff\xff more"));
	terms_free(&ts);
	/* not yet normalised ASCII: lower case is letters, as before */
	ck_assert_int_eq(
		msf_add_value(&f, "set MORE", 8, fake_dtc, collect, &ts), 0);
	ck_assert(has(&ts, "=Hsubject:set more"));
	terms_free(&ts);
	ck_assert_ptr_null(msf_key_value("fiNANCE"));
	ck_assert_ptr_null(msf_key_value("A\xff"));
	ck_assert_str_eq(v = msf_key_value("SET MORE"), "set more");
	free(v);
}
END_TEST

/* Names of headers: whether a value has a run, and a name's characters
 * collected without terms (dtc text: lower case is no run byte). */
START_TEST(test_has_run_chars)
{
	struct msf_field f;

	ck_assert(msf_has_run("-- X --", 7));
	ck_assert(!msf_has_run("-- : --", 7));
	ck_assert(!msf_has_run("abc", 3)); /* not letters in dtc */
	ck_assert(msf_has_run("\xC3\xA9", 2));
	ck_assert(!msf_has_run("", 0));
	msf_field_init(&f, "N", true);
	msf_add_chars(&f, "X-MAILER9q", 10);
	ck_assert(f.bits & (1ull << msf_char_index('x')));
	ck_assert(f.bits & (1ull << msf_char_index('9')));
	ck_assert(!(f.bits & (1ull << msf_char_index('q'))));
	ck_assert(!(f.bits & (1ull << msf_char_index('b'))));
	msf_field_init(&f, "N", false);
	msf_add_chars(&f, "ABC", 3);
	ck_assert_uint_eq(f.bits, 0);
}
END_TEST

START_TEST(test_safe_cut)
{
	ck_assert_uint_eq(msf_safe_cut("ab cd", 5), 3);
	ck_assert_uint_eq(msf_safe_cut("abcd", 4), 0);
	ck_assert_uint_eq(msf_safe_cut("ab\n", 3), 3);
	ck_assert_int_eq(msf_char_index('Z'), 25);
	ck_assert_int_eq(msf_char_index('-'), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fts_terms");
	TCase *tc = tcase_create("all");
	tcase_add_test(tc, test_header_field);
	tcase_add_test(tc, test_runs);
	tcase_add_test(tc, test_cut_marks);
	tcase_add_test(tc, test_windows);
	tcase_add_loop_test(tc, test_key_runs, 0, sizeof keys / sizeof keys[0]);
	tcase_add_test(tc, test_runs_order);
	tcase_add_test(tc, test_dtc_text);
	tcase_add_test(tc, test_has_run_chars);
	tcase_add_test(tc, test_safe_cut);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
