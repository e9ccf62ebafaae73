/* test_archive_reader.c - the kept reader of a keep_reader handle
 * (ms_archive_opts.keep_reader): after each change a writer makes (a
 * message into an existing shard, a new shard, a shard dropped, a shard
 * dropped and made again) the next search sees exactly the archive as it
 * now is, without an error, and the reader is reused only when no shard
 * came or went. The same again from a settled check (the files' times over
 * a second old), where a search that finds the files as they were skips
 * the listing and the reopen: the change must still be seen by the next
 * search, and with nothing changed no full check runs. Searches bounded by
 * date use the shards they may touch and count as over all of them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_archive_int.h" /* reader, reader_opens: kept or reopened */
#include "support_util.h"

static char *tmpl, dir[128];
static ms_archive *w, *rd; /* writer; keep_reader handle */

typedef enum change {
	NOTHING,
	ADD_SAME_SHARD,
	ADD_NEW_SHARD,
	DROP_SHARD,
	DROP_AND_REMAKE
} change;

static const struct {
	const char *name;
	change what;
	const char *q; /* then counted */
	uint64_t n;
	int reused; /* the same reader object serves */
} cases[] = {
	{ "nothing changed", NOTHING, "*", 1, 1 },
	{ "added to its shard", ADD_SAME_SHARD, "subject:m2", 1, 1 },
	{ "added to its shard, all", ADD_SAME_SHARD, "*", 2, 1 },
	{ "new shard", ADD_NEW_SHARD, "subject:m3", 1, 0 },
	{ "new shard, all", ADD_NEW_SHARD, "*", 2, 0 },
	{ "shard dropped", DROP_SHARD, "*", 0, 0 },
	{ "shard dropped and made again", DROP_AND_REMAKE, "subject:m4", 1, 0 },
	{ "shard dropped and made again, old gone", DROP_AND_REMAKE,
	  "subject:m1", 0, 0 },
};

/* Adds message number i dated day (RFC 5322 date) and commits. */
static void add(int i, const char *day)
{
	char msg[256], id[MS_ARCHIVE_ID_MAX];
	snprintf(msg, sizeof msg,
		 "From: a@example.org\nTo: b@example.org\nSubject: m%d\n"
		 "Date: %s 10:00:00 +0000\nMessage-ID: <m%d@example.org>\n\n"
		 "body %d\n",
		 i, day, i, i);
	ms_add_result res;
	ck_assert_int_eq(ms_archive_add(w, msg, strlen(msg), NULL, &res, id),
			 MS_OK);
	ck_assert_int_eq(ms_archive_commit(w), MS_OK);
}

static void open_writer(void)
{
	ms_archive_opts o = { .dir = dir,
			      .compression_level = 1,
			      .writable = 1 };
	ck_assert_int_eq(ms_archive_open(&o, &w, NULL), MS_OK);
}

static void setup(void)
{
	tmpl = ms_test_tmpdir("test_archive_reader");
	snprintf(dir, sizeof dir, "%s/a", tmpl);
	open_writer();
	add(1, "Fri, 23 Aug 2002");
	ms_archive_opts o = { .dir = dir,
			      .compression_level = 1,
			      .keep_reader = 1 };
	ck_assert_int_eq(ms_archive_open(&o, &rd, NULL), MS_OK);
}

static void teardown(void)
{
	ms_archive_close(&rd);
	ms_archive_close(&w);
	ck_assert_int_eq(ms_test_tmpdir_free(&tmpl), 0);
}

static uint64_t count(const char *query)
{
	ms_qnode *q = NULL;
	ck_assert_int_eq(ms_query_parse(query, &q, NULL), MS_OK);
	uint64_t n = 99;
	ck_assert_msg(ms_archive_count(rd, q, &n) == MS_OK, "%s: %s", query,
		      ms_archive_error(rd));
	ms_query_free(&q);
	return n;
}

/* Drops shard 2002-08 as expire does (the writer reopened to lock all). */
static void drop(void)
{
	ms_archive_close(&w);
	open_writer();
	ck_assert_int_eq(ms_archive_lock_all(w), MS_OK);
	ck_assert_int_eq(ms_archive_drop_shard(w, "2002-08"), MS_OK);
	ms_archive_unlock_all(w);
}

static void make_change(change what)
{
	if (what == ADD_SAME_SHARD)
		add(2, "Sat, 24 Aug 2002");
	else if (what == ADD_NEW_SHARD)
		add(3, "Tue, 15 Oct 2002");
	else if (what == DROP_SHARD || what == DROP_AND_REMAKE)
		drop();
	if (what == DROP_AND_REMAKE)
		add(4, "Sun, 25 Aug 2002");
}

/* Makes case i's change, then checks the next search's count and whether
 * the reader was reused (opens: reader_opens before the change). */
static void change_and_check(int i, unsigned opens, const char *how)
{
	make_change(cases[i].what);
	uint64_t n = count(cases[i].q);
	ck_assert_msg(n == cases[i].n, "%s%s: %llu hits, want %llu",
		      cases[i].name, how, (unsigned long long)n,
		      (unsigned long long)cases[i].n);
	ck_assert_msg((rd->reader_opens == opens) == cases[i].reused,
		      "%s%s: reader %s", cases[i].name, how,
		      cases[i].reused ? "reopened" : "kept");
}

START_TEST(test_change)
{
	ck_assert_uint_eq(count("*"), 1);
	ck_assert_ptr_nonnull(rd->reader);
	change_and_check(_i, rd->reader_opens, "");
}
END_TEST

/* As test_change, from a settled check of an unchanged archive. */
START_TEST(test_change_settled)
{
	ck_assert_uint_eq(count("*"), 1);
	usleep(1200 * 1000); /* the files' times are now over a second old */
	ck_assert_uint_eq(count("*"), 1); /* the full check: now settled */
	unsigned checks = rd->reader_checks;
	ck_assert_uint_eq(count("*"), 1);
	ck_assert_msg(rd->reader_checks == checks,
		      "a settled, unchanged archive was checked again");
	change_and_check(_i, rd->reader_opens, " (settled)");
	ck_assert_msg((rd->reader_checks == checks) ==
			      (cases[_i].what == NOTHING),
		      "%s (settled): %u full checks", cases[_i].name,
		      rd->reader_checks - checks);
}
END_TEST

/* Searches bounded by date run on a subset of the kept reader (the shards
 * the range may touch): the same counts as over all shards, no reader
 * opened for them, and a commit seen by the next bounded search. */
START_TEST(test_date_subset)
{
	static const struct {
		const char *q;
		uint64_t n;
	} bounded[] = {
		{ "date:2002-10-01..2002-10-31", 1 },
		{ "date:2002-08-01..2002-08-31", 1 },
		{ "subject:m3 date:2002-08-01..2002-08-31", 0 },
		{ "subject:m3 date:2002-10-01..2002-10-31", 1 },
		{ "date:2002-08-01..2002-10-31", 2 },
		{ "date:2003-01-01..2003-12-31", 0 }, /* no shard at all */
	};
	add(3, "Tue, 15 Oct 2002");
	ck_assert_uint_eq(count("*"), 2);
	unsigned opens = rd->reader_opens;
	for (size_t i = 0; i < sizeof bounded / sizeof bounded[0]; i++)
		ck_assert_msg(count(bounded[i].q) == bounded[i].n, "%s",
			      bounded[i].q);
	add(5, "Sun, 20 Oct 2002");
	ck_assert_uint_eq(count("date:2002-10-01..2002-10-31"), 2);
	ck_assert_uint_eq(rd->reader_opens, opens);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("archive_reader");
	TCase *tc = tcase_create("all");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_change, 0, sizeof cases / sizeof cases[0]);
	tcase_add_loop_test(tc, test_change_settled, 0,
			    sizeof cases / sizeof cases[0]);
	tcase_add_test(tc, test_date_subset);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
