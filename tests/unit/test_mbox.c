/* test_mbox.c - unit tests for mbox splitting (ms_mbox_next) and mboxrd
 * quoting (ms_mbox_quote, ms_mbox_unquote). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_mbox.h"
#include "support_util.h"

static const char *const FROM1 =
	"From alice@example.org Fri Aug 23 10:00:00 2002\n";

/* Splits input and renders the pieces as "[piece][piece]". */
static char *split(const char *in)
{
	size_t len = strlen(in), off = 0, start, n, cap = len * 2 + 64,
	       used = 0;
	char *out = calloc(1, cap);
	while (ms_mbox_next(in, len, &off, &start, &n)) {
		ck_assert_uint_le(start + n, len);
		used += (size_t)snprintf(out + used, cap - used, "[%.*s]",
					 (int)n, in + start);
	}
	return out;
}

static const struct {
	const char *in, *want;
} cases[] = {
	{ "", "" },
	{ "Subject: x\n\nbody\n", "[Subject: x\n\nbody\n]" },
	/* a single message with a From_ line is one message */
	{ "From a Fri Aug 23 10:00:00 2002\nSubject: x\n\nb\n",
	  "[From a Fri Aug 23 10:00:00 2002\nSubject: x\n\nb\n]" },
	/* two messages: the separating blank line belongs to neither */
	{ "From a Fri Aug 23 10:00:00 2002\nS: 1\n\nb1\n\n"
	  "From b Fri Aug 23 11:00:00 2002\nS: 2\n\nb2\n",
	  "[From a Fri Aug 23 10:00:00 2002\nS: 1\n\nb1\n]"
	  "[From b Fri Aug 23 11:00:00 2002\nS: 2\n\nb2\n]" },
	/* the last of several loses the mbox writer's final empty line */
	{ "From a Fri Aug 23 10:00:00 2002\nS: 1\n\nb1\n\n"
	  "From b Fri Aug 23 11:00:00 2002\nS: 2\n\nb2\n\n",
	  "[From a Fri Aug 23 10:00:00 2002\nS: 1\n\nb1\n]"
	  "[From b Fri Aug 23 11:00:00 2002\nS: 2\n\nb2\n]" },
	/* a single message keeps every byte */
	{ "From a Fri Aug 23 10:00:00 2002\nS: 1\n\nb1\n\n",
	  "[From a Fri Aug 23 10:00:00 2002\nS: 1\n\nb1\n\n]" },
	/* CRLF separator */
	{ "From a Fri Aug 23 10:00:00 2002\r\nS: 1\r\n\r\nb1\r\n\r\n"
	  "From b Fri Aug 23 11:00:00 2002\r\nS: 2\r\n",
	  "[From a Fri Aug 23 10:00:00 2002\r\nS: 1\r\n\r\nb1\r\n]"
	  "[From b Fri Aug 23 11:00:00 2002\r\nS: 2\r\n]" },
	/* "From " in a body without a time, or not after a blank line */
	{ "From a Fri Aug 23 10:00:00 2002\nS: 1\n\nFrom here on\nx\n"
	  "From b Fri Aug 23 11:00:00 2002\n",
	  "[From a Fri Aug 23 10:00:00 2002\nS: 1\n\nFrom here on\nx\n"
	  "From b Fri Aug 23 11:00:00 2002\n]" },
	/* escaped >From stays */
	{ "From a Fri Aug 23 10:00:00 2002\nS: 1\n\n>From b 10:00\n",
	  "[From a Fri Aug 23 10:00:00 2002\nS: 1\n\n>From b 10:00\n]" },
	/* file ending right after the separator line */
	{ "From a Fri Aug 23 10:00:00 2002\n\n",
	  "[From a Fri Aug 23 10:00:00 2002\n\n]" },
};

START_TEST(test_split_table)
{
	char *got = split(cases[_i].in);
	ck_assert_str_eq(got, cases[_i].want);
	free(got);
}
END_TEST

START_TEST(test_many_messages)
{
	size_t n_msgs = 1000, cap = n_msgs * 128, used = 0;
	char *in = malloc(cap);
	for (size_t i = 0; i < n_msgs; i++)
		used += (size_t)snprintf(in + used, cap - used,
					 "%sSubject: %zu\n\nbody\n\n", FROM1,
					 i);
	size_t off = 0, start, n, count = 0;
	while (ms_mbox_next(in, used, &off, &start, &n)) {
		ck_assert(strncmp(in + start, "From ", 5) == 0);
		count++;
	}
	ck_assert_uint_eq(count, n_msgs);
	free(in);
}
END_TEST

START_TEST(test_from_line_without_newline)
{
	const char *in = "From a Fri Aug 23 10:00:00 2002";
	size_t off = 0, start, n;
	ck_assert_int_eq(ms_mbox_next(in, strlen(in), &off, &start, &n), 1);
	ck_assert_uint_eq(n, strlen(in));
	ck_assert_int_eq(ms_mbox_next(in, strlen(in), &off, &start, &n), 0);
}
END_TEST

/* mboxrd: in -> quoted; unquote(quoted) must give in back (plus the
 * newline quoting adds to text without a final one). */
static const struct {
	const char *in, *quoted;
} quote_cases[] = {
	{ "", "" },
	{ "a\n", "a\n" },
	{ "no newline", "no newline\n" },
	{ "From x\n", ">From x\n" },
	{ "S: 1\n\nFrom here\n>From there\n>>From far\n",
	  "S: 1\n\n>From here\n>>From there\n>>>From far\n" },
	/* not quoted: no space, not at a line start, other words */
	{ "From\nFromage\n xFrom y\n>Fro m\n> From z\nfrom a\n",
	  "From\nFromage\n xFrom y\n>Fro m\n> From z\nfrom a\n" },
	{ "CRLF\r\nFrom a\r\n", "CRLF\r\n>From a\r\n" },
	{ "end\nFrom ", "end\n>From \n" },
	{ ">>>>From ", ">>>>>From \n" },
	{ "\n\n", "\n\n" },
};

START_TEST(test_quote_table)
{
	const char *in = quote_cases[_i].in, *want = quote_cases[_i].quoted;
	ms_buf q = MS_BUF_INIT, u = MS_BUF_INIT;
	ck_assert_int_eq(ms_mbox_quote(&q, in, strlen(in)), MS_OK);
	ck_assert_str_eq(q.data ? q.data : "", want);
	ck_assert_int_eq(ms_mbox_unquote(&u, q.data ? q.data : "", q.len),
			 MS_OK);
	size_t n = strlen(in);
	ck_assert_uint_eq(u.len, n + (n && in[n - 1] != '\n'));
	ck_assert(memcmp(u.data ? u.data : "", in, n) == 0);
	ms_buf_free(&q);
	ms_buf_free(&u);
}
END_TEST

/* Unquoting removes exactly one '>' and only from ^>+From  lines. */
START_TEST(test_unquote)
{
	const char *in = ">From a\n>>From b\nFrom c\n>x\n>From";
	ms_buf u = MS_BUF_INIT;
	ck_assert_int_eq(ms_mbox_unquote(&u, in, strlen(in)), MS_OK);
	ck_assert_str_eq(u.data, "From a\n>From b\nFrom c\n>x\n>From");
	ms_buf_free(&u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mbox");
	TCase *tc = tcase_create("split");
	tcase_add_loop_test(tc, test_split_table, 0,
			    sizeof cases / sizeof cases[0]);
	tcase_add_test(tc, test_many_messages);
	tcase_add_test(tc, test_from_line_without_newline);
	suite_add_tcase(s, tc);
	TCase *tq = tcase_create("quote");
	tcase_add_loop_test(tq, test_quote_table, 0,
			    sizeof quote_cases / sizeof quote_cases[0]);
	tcase_add_test(tq, test_unquote);
	suite_add_tcase(s, tq);
	return ms_test_run(s);
}
