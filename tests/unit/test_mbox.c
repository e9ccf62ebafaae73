/* test_mbox.c - unit tests for mbox splitting (ms_mbox_next). */
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

int main(void)
{
	Suite *s = suite_create("mbox");
	TCase *tc = tcase_create("split");
	tcase_add_loop_test(tc, test_split_table, 0,
			    sizeof cases / sizeof cases[0]);
	tcase_add_test(tc, test_many_messages);
	tcase_add_test(tc, test_from_line_without_newline);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
