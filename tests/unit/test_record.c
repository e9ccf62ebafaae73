/* test_record.c - unit tests for records (ms_record), JSON strings
 * (ms_json), shard names (ms_shard) and the byte buffer (ms_buf). */
#include <check.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_buf.h"
#include "ms_json.h"
#include "ms_record.h"
#include "ms_shard.h"
#include "support_util.h"

typedef struct kv_seen {
	char out[512];
} kv_seen;

static void collect(const char *k, const char *v, void *ctx)
{
	kv_seen *s = ctx;
	size_t l = strlen(s->out);
	snprintf(s->out + l, sizeof s->out - l, "<%s=%s>", k, v);
}

START_TEST(test_record_roundtrip)
{
	static const char *const vals[] = {
		"",	      "plain",	       "tab\there",
		"new\nline",  "back\\slash\\", "cr\r\n",
		"\\t literal"
	};
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		ms_buf b = MS_BUF_INIT;
		ck_assert_int_eq(ms_record_put(&b, "k", vals[i]), MS_OK);
		ck_assert_int_eq(ms_record_put(&b, "z", "end"), MS_OK);
		kv_seen s = { "" };
		ck_assert_uint_eq(ms_record_parse(b.data, b.len, collect, &s),
				  2);
		char want[256];
		snprintf(want, sizeof want, "<k=%s><z=end>", vals[i]);
		ck_assert_str_eq(s.out, want);
		ms_buf_free(&b);
	}
}
END_TEST

START_TEST(test_record_malformed)
{
	char rec[] = "no tab here\nk\tv\n\n\tempty key\ntrailing\\";
	kv_seen s = { "" };
	ck_assert_uint_eq(ms_record_parse(rec, strlen(rec), collect, &s), 2);
	ck_assert_str_eq(s.out, "<k=v><=empty key>");
}
END_TEST

START_TEST(test_record_nul_dropped)
{
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_record_putn(&b, "k", "a\0b", 3), MS_OK);
	ck_assert_str_eq(b.data, "k\tab\n");
	ms_buf_free(&b);
}
END_TEST

static const struct {
	const char *in, *want;
} json_cases[] = {
	{ "", "\"\"" },
	{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
	{ "l1\nl2\t\x01", "\"l1\\nl2\\t\\u0001\"" },
	{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },
	{ "bad\xff\xfe!", "\"bad\\ufffd\\ufffd!\"" },
	{ "\xe6\x9d\xb1", "\"\xe6\x9d\xb1\"" },
	{ "cut\xe6\x9d", "\"cut\\ufffd\\ufffd\"" },
};

START_TEST(test_json_string)
{
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_json_string(&b, json_cases[_i].in), MS_OK);
	ck_assert_str_eq(b.data, json_cases[_i].want);
	ms_buf_free(&b);
}
END_TEST

static const struct {
	int64_t t;
	ms_shard_by by;
	const char *want;
} shard_cases[] = {
	{ 1030096800, MS_SHARD_BY_MONTH, "2002-08" }, /* 2002-08-23 */
	{ 1030096800, MS_SHARD_BY_YEAR, "2002" },
	{ 1030096800, MS_SHARD_BY_NONE, "all" },
	{ 0, MS_SHARD_BY_MONTH, "undated" },
	{ -5, MS_SHARD_BY_YEAR, "undated" },
	{ 4102444800LL, MS_SHARD_BY_MONTH, "undated" }, /* 2100 */
	{ 951782400, MS_SHARD_BY_MONTH, "2000-02" },	/* 2000-02-29 */
	{ 1009843199, MS_SHARD_BY_MONTH, "2001-12" },	/* last second */
	{ 1009843200, MS_SHARD_BY_MONTH, "2002-01" },
};

START_TEST(test_shard_name)
{
	char name[MS_SHARD_NAME_MAX];
	ms_shard_name(shard_cases[_i].t, shard_cases[_i].by, name);
	ck_assert_str_eq(name, shard_cases[_i].want);
}
END_TEST

START_TEST(test_shard_overlaps)
{
	/* 2002-08 is [1028160000, 1030838399] */
	ck_assert(ms_shard_overlaps("2002-08", 1028160000, 1028160000));
	ck_assert(ms_shard_overlaps("2002-08", 1030838399, INT64_MAX));
	ck_assert(!ms_shard_overlaps("2002-08", 1030838400, INT64_MAX));
	ck_assert(!ms_shard_overlaps("2002-08", INT64_MIN, 1028159999));
	ck_assert(ms_shard_overlaps("2002", 1009843200, 1009843200));
	ck_assert(!ms_shard_overlaps("2002", 1041379200, INT64_MAX));
	ck_assert(ms_shard_overlaps("all", 5, 6));
	ck_assert(!ms_shard_overlaps("undated", 1028160000, 1030838399));
	ck_assert(ms_shard_overlaps("undated", INT64_MIN, INT64_MAX));
}
END_TEST

/* Host labels (scale-out): "mx1.2002-08" is the period 2002-08. */
START_TEST(test_shard_label)
{
	char name[MS_SHARD_NAME_MAX], host[MS_SHARD_HOST_MAX];
	ms_shard_label("mx1", "2002-08", name);
	ck_assert_str_eq(name, "mx1.2002-08");
	ck_assert_str_eq(ms_shard_period(name), "2002-08");
	ms_shard_label("", "2002-08", name);
	ck_assert_str_eq(name, "2002-08");
	ms_shard_label(NULL, "undated", name);
	ck_assert_str_eq(ms_shard_period(name), "undated");
	ck_assert(ms_shard_overlaps("mx1.2002-08", 1028160000, 1028160000));
	ck_assert(!ms_shard_overlaps("mx1.2002-08", 1030838400, INT64_MAX));
	ck_assert(!ms_shard_overlaps("mx1.undated", 1028160000, 1030838399));
	ck_assert(ms_shard_host_ok("mx-1_a"));
	ck_assert(!ms_shard_host_ok(""));
	ck_assert(!ms_shard_host_ok("mx1.example"));
	ck_assert(!ms_shard_host_ok("a/b"));
	char big[MS_SHARD_HOST_MAX + 1];
	memset(big, 'a', sizeof big);
	big[MS_SHARD_HOST_MAX - 1] = '\0'; /* 63 bytes: the longest */
	ck_assert(ms_shard_host_ok(big));
	big[MS_SHARD_HOST_MAX - 1] = 'a';
	big[MS_SHARD_HOST_MAX] = '\0'; /* 64: one too many */
	ck_assert(!ms_shard_host_ok(big));
	ms_shard_default_host(host);
	ck_assert(ms_shard_host_ok(host));
}
END_TEST

START_TEST(test_buf_growth)
{
	ms_buf b = MS_BUF_INIT;
	for (int i = 0; i < 10000; i++)
		ck_assert_int_eq(ms_buf_printf(&b, "%d,", i % 10), MS_OK);
	ck_assert_uint_eq(b.len, 20000);
	ck_assert_uint_eq(strlen(b.data), 20000);
	ck_assert_int_eq(ms_buf_reserve(&b, SIZE_MAX - 5), MS_ERR_NOMEM);
	ck_assert_uint_eq(b.len, 20000);
	ms_buf_truncate(&b, 3);
	ck_assert_str_eq(b.data, "0,1");
	char *s = ms_buf_steal(&b);
	ck_assert_str_eq(s, "0,1");
	ck_assert_ptr_null(b.data);
	free(s);
	s = ms_buf_steal(&b);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("all");
	tcase_add_test(tc, test_record_roundtrip);
	tcase_add_test(tc, test_record_malformed);
	tcase_add_test(tc, test_record_nul_dropped);
	tcase_add_loop_test(tc, test_json_string, 0,
			    sizeof json_cases / sizeof json_cases[0]);
	tcase_add_loop_test(tc, test_shard_name, 0,
			    sizeof shard_cases / sizeof shard_cases[0]);
	tcase_add_test(tc, test_shard_overlaps);
	tcase_add_test(tc, test_shard_label);
	tcase_add_test(tc, test_buf_growth);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
