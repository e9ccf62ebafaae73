/* test_retention.c - Check tests for retention periods and rules
 * (ms_retention.h): period syntax good and bad, formatting, calendar
 * cutoffs (days, weeks, months and years back, month ends, leap days,
 * "0" for ever), rule parsing (period, query, errors), loading a policy,
 * and which rule decides for a message (longest period wins, "0" beats
 * all, ties go to the first rule, no match means the default).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_retention.h"
#include "support_util.h"

/* ---- periods ---- */

typedef struct period_case {
	const char *text;
	int ok;
	unsigned n;
	char unit;
} period_case;

static const period_case period_cases[] = {
	{ "0", 1, 0, 0 },	 { "00", 1, 0, 0 },
	{ "1d", 1, 1, 'd' },	 { "90d", 1, 90, 'd' },
	{ "2w", 1, 2, 'w' },	 { "6m", 1, 6, 'm' },
	{ "7y", 1, 7, 'y' },	 { "9999y", 1, 9999, 'y' },
	{ "007d", 1, 7, 'd' },	 { "", 0, 0, 0 },
	{ "d", 0, 0, 0 },	 { "7", 0, 0, 0 },
	{ "0d", 0, 0, 0 },	 { "7Y", 0, 0, 0 },
	{ "7x", 0, 0, 0 },	 { "7yy", 0, 0, 0 },
	{ "10000d", 0, 0, 0 },	 { "-1d", 0, 0, 0 },
	{ " 7y", 0, 0, 0 },	 { "7y ", 0, 0, 0 },
	{ "1234567d", 0, 0, 0 }, { "99999999999y", 0, 0, 0 },
};

START_TEST(test_period_parse)
{
	const period_case *c = &period_cases[_i];
	ms_period p = { 77, 'q' };
	ms_buf why = MS_BUF_INIT;
	ms_status_t st = ms_period_parse(c->text, &p, &why);
	if (!c->ok) {
		ck_assert_msg(st == MS_ERR_CONFIG, "<%s> accepted", c->text);
		ck_assert_ptr_nonnull(strstr(why.data, "want 0 or a count"));
		ck_assert_uint_eq(p.n, 77); /* untouched on error */
		ms_buf_free(&why);
		return;
	}
	ck_assert_msg(st == MS_OK, "<%s>: %s", c->text, why.data);
	ck_assert_uint_eq(p.n, c->n);
	ck_assert_int_eq(p.unit, c->unit);
	char buf[16], want[16];
	ms_period_format(&p, buf);
	if (c->n)
		snprintf(want, sizeof want, "%u%c", c->n, c->unit);
	else
		snprintf(want, sizeof want, "0");
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(ms_period_check(c->text, NULL), MS_OK);
	ms_buf_free(&why);
}
END_TEST

/* ---- cutoffs ---- */

typedef struct cutoff_case {
	const char *period;
	int64_t now;
	int64_t want;
} cutoff_case;

#define DAY 86400
static const cutoff_case cutoff_cases[] = {
	/* 2026-01-15 12:00:00 UTC = 1768478400 */
	{ "1d", 1768478400, 1768478400 - DAY },
	{ "90d", 1768478400, 1768478400 - 90 * DAY },
	{ "2w", 1768478400, 1768478400 - 14 * DAY },
	{ "1m", 1768478400, 1765800000 },  /* 2025-12-15 12:00 */
	{ "13m", 1768478400, 1734264000 }, /* 2024-12-15 12:00 */
	{ "1y", 1768478400, 1736942400 },  /* 2025-01-15 12:00 */
	{ "20y", 1768478400, 1137326400 }, /* 2006-01-15 12:00 */
	{ "23y", 1768478400, 1042632000 }, /* 2003-01-15 12:00 */
	/* month ends: 2026-03-31 00:00 back 1m = 2026-02-28 00:00 */
	{ "1m", 1774915200, 1772236800 },
	/* leap day: 2024-02-29 00:00 back 1y = 2023-02-28, 4y = 2020-02-29 */
	{ "1y", 1709164800, 1677542400 },
	{ "4y", 1709164800, 1582934400 },
	/* 12m is 1y */
	{ "12m", 1768478400, 1736942400 },
	/* back over the epoch */
	{ "60y", 1768478400, -124977600 }, /* 1966-01-15 12:00 */
	{ "0", 1768478400, MS_PERIOD_FOREVER },
};

START_TEST(test_cutoff)
{
	const cutoff_case *c = &cutoff_cases[_i];
	ms_period p;
	ck_assert_int_eq(ms_period_parse(c->period, &p, NULL), MS_OK);
	int64_t got = ms_period_cutoff(&p, c->now);
	ck_assert_msg(got == c->want, "%s at %lld: got %lld, want %lld",
		      c->period, (long long)c->now, (long long)got,
		      (long long)c->want);
}
END_TEST

/* ---- rules ---- */

typedef struct rule_case {
	const char *text;
	const char *want; /* "PERIOD|QUERY" or the error text */
} rule_case;

static const rule_case rule_cases[] = {
	{ "90d verdict:infected", "90d|verdict:infected" },
	{ "0 from:ceo@example.org", "0|from:ceo@example.org" },
	{ "7y\t  subject:\"a b\" OR x", "7y|subject:\"a b\" OR x" },
	{ "90d", "want PERIOD QUERY, e.g. 90d verdict:infected" },
	{ "90d   ", "want PERIOD QUERY, e.g. 90d verdict:infected" },
	{ "", "period: want 0 or a count with d, w, m or y, e.g. 90d or 7y" },
	{ "x verdict:a",
	  "period: want 0 or a count with d, w, m or y, e.g. 90d or 7y" },
	{ "1y nosuch:field", "query: unknown field 'nosuch' at column 1" },
	{ "1y (a", "query: missing ')' for this '(' at column 1" },
};

START_TEST(test_rule_parse)
{
	const rule_case *c = &rule_cases[_i];
	ms_retention_rule r;
	ms_buf why = MS_BUF_INIT;
	ms_status_t st = ms_retention_rule_parse(c->text, &r, &why);
	const char *bar = strchr(c->want, '|');
	if (!bar) {
		ck_assert_int_eq(st, MS_ERR_CONFIG);
		ck_assert_str_eq(why.data, c->want);
		ck_assert_ptr_null(r.text);
		ck_assert_ptr_null(r.query);
		ck_assert_int_eq(ms_retention_rule_check(c->text, NULL),
				 MS_ERR_CONFIG);
		ms_buf_free(&why);
		return;
	}
	ck_assert_msg(st == MS_OK, "<%s>: %s", c->text, why.data);
	char p[16];
	ms_period_format(&r.period, p);
	ck_assert_int_eq(strncmp(p, c->want, (size_t)(bar - c->want)), 0);
	ck_assert_str_eq(r.query_text, bar + 1);
	ck_assert_str_eq(r.text, c->text);
	ck_assert_ptr_nonnull(r.query);
	ms_retention_rule_free(&r);
	ck_assert_ptr_null(r.text);
	ck_assert_int_eq(ms_retention_rule_check(c->text, NULL), MS_OK);
}
END_TEST

/* ---- the policy and the deciding rule ---- */

static ms_retention *load_ok(const char *def, char *const *rules)
{
	ms_retention *r = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_retention_load(def, rules, &r, &err), MS_OK);
	ck_assert_ptr_null(err);
	return r;
}

START_TEST(test_load_errors)
{
	char *bad_rule[] = { "1y a", "2y b", "3z c", NULL };
	ms_retention *r = (ms_retention *)&r;
	char *err = NULL;
	ck_assert_int_eq(ms_retention_load("7y", bad_rule, &r, &err),
			 MS_ERR_CONFIG);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(err, "rule 3: period: want 0 or a count with d, w, m "
			      "or y, e.g. 90d or 7y");
	free(err);
	char *none[] = { NULL };
	ck_assert_int_eq(ms_retention_load("7", none, &r, &err), MS_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "default: period"));
	free(err);
	r = load_ok("0", NULL);
	ck_assert_uint_eq(r->n_rules, 0);
	ms_retention_free(&r);
	ck_assert_ptr_null(r);
}
END_TEST

typedef struct pick_case {
	const char *def;
	const char *m;	 /* matched flags, one char per rule: '1' or '0' */
	long want;	 /* rule index, -1 = default */
	const char *cut; /* the period whose cutoff is expected */
} pick_case;

/* rules: 0: 90d  1: 7y  2: 0  3: 84m (= 7y)  4: 2w */
static const pick_case pick_cases[] = {
	{ "1y", "00000", -1, "1y" }, { "0", "00000", -1, "0" },
	{ "1y", "10000", 0, "90d" }, { "1y", "11000", 1, "7y" },
	{ "1y", "11100", 2, "0" },   { "1y", "00110", 2, "0" },
	{ "1y", "01010", 1, "7y" },  { "1y", "00011", 3, "84m" },
	{ "1y", "10001", 0, "90d" }, { "0", "00001", 4, "2w" },
};

START_TEST(test_pick)
{
	const pick_case *c = &pick_cases[_i];
	char *rules[] = { "90d a", "7y b", "0 c", "84m d", "2w e", NULL };
	ms_retention *r = load_ok(c->def, rules);
	ck_assert_uint_eq(r->n_rules, 5);
	unsigned char m[5];
	for (int i = 0; i < 5; i++)
		m[i] = c->m[i] == '1';
	int64_t now = 1768478400, cut = 0;
	long got = ms_retention_pick(r, m, now, &cut);
	ck_assert_msg(got == c->want, "%s: rule %ld, want %ld", c->m, got,
		      c->want);
	ms_period p;
	ck_assert_int_eq(ms_period_parse(c->cut, &p, NULL), MS_OK);
	ck_assert_int_eq(cut, ms_period_cutoff(&p, now));
	ms_retention_free(&r);
}
END_TEST

static Suite *retention_suite(void)
{
	Suite *s = suite_create("retention");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_period_parse, 0,
			    sizeof period_cases / sizeof period_cases[0]);
	tcase_add_loop_test(tc, test_cutoff, 0,
			    sizeof cutoff_cases / sizeof cutoff_cases[0]);
	tcase_add_loop_test(tc, test_rule_parse, 0,
			    sizeof rule_cases / sizeof rule_cases[0]);
	tcase_add_test(tc, test_load_errors);
	tcase_add_loop_test(tc, test_pick, 0,
			    sizeof pick_cases / sizeof pick_cases[0]);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(retention_suite());
}
