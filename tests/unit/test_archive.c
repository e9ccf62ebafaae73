/* test_archive.c - the archive end to end through its C API: add (with and
 * without an envelope), idempotent re-add, shards by month, search by every
 * field kind, count, show byte for byte, stats. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_archive.h"
#include "ms_schema.h"
#include "ms_xapian.h"
#include "support_util.h"

static char *tmpl;
static ms_archive *ar;

static const char *const MSG1 =
	"From alice@example.org Fri Aug 23 10:00:00 2002\n"
	"From: Alice Example <alice@example.org>\n"
	"To: Bob <bob@example.net>, carol@example.com\n"
	"Subject: Quarterly report for =?iso-8859-1?q?Z=FCrich?=\n"
	"Date: Fri, 23 Aug 2002 10:00:00 +0000\n"
	"Message-ID: <m1@example.org>\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"\n"
	"The budget forecast looks fine.\n";

static const char *const MSG2 =
	"From: Mallory <mallory@evil.example>\n"
	"To: alice@example.org\n"
	"Subject: invoice\n"
	"Date: Tue, 15 Oct 2002 08:00:00 +0000\n"
	"Message-ID: <m2@evil.example>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=b\n"
	"\n"
	"--b\n"
	"Content-Type: text/html\n"
	"\n"
	"<p>Please pay the <b>invoice</b> &amp; smile</p>\n"
	"--b\n"
	"Content-Type: application/x-msdownload; name=\"invoice.pdf.exe\"\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"TVqQAAMAAAAEAAAA\n"
	"--b--\n";

static void setup(void)
{
	tmpl = ms_test_tmpdir("test_archive");
	char dir[128];
	snprintf(dir, sizeof dir, "%s/a", tmpl);
	ms_archive_opts o = { .dir = dir,
			      .compression_level = 1,
			      .writable = 1 };
	char *err = NULL;
	ck_assert_int_eq(ms_archive_open(&o, &ar, &err), MS_OK);
	ck_assert_ptr_null(err);
}

static void teardown(void)
{
	ms_archive_close(&ar);
	ck_assert_int_eq(ms_test_tmpdir_free(&tmpl), 0);
}

static void add(const char *msg, const ms_envelope *env, ms_add_result want)
{
	ms_add_result res;
	char id[MS_ARCHIVE_ID_MAX];
	ck_assert_int_eq(ms_archive_add(ar, msg, strlen(msg), env, &res, id),
			 MS_OK);
	ck_assert_int_eq(res, want);
}

static uint64_t count(const char *query)
{
	ms_qnode *q = NULL;
	char *err = NULL;
	ck_assert_msg(ms_query_parse(query, &q, &err) == MS_OK, "%s: %s", query,
		      err);
	uint64_t n = 99;
	ck_assert_int_eq(ms_archive_count(ar, q, &n), MS_OK);
	ms_query_free(&q);
	return n;
}

static void add_both(void)
{
	static const char *const rcpts[] = { "alice@example.org",
					     "audit@example.org" };
	ms_envelope env = { .id = "0123456789abcdef01234567",
			    .sender = "mallory@evil.example",
			    .rcpts = rcpts,
			    .n_rcpts = 2,
			    .queue_id = "4XyZq1",
			    .client = "203.0.113.9 mx.evil.example",
			    .verdict = "infected",
			    .virus = "Eicar-Signature",
			    .time = 1034668800 /* 2002-10-15 */ };
	add(MSG1, NULL, MS_ADD_NEW);
	add(MSG2, &env, MS_ADD_NEW);
	ck_assert_int_eq(ms_archive_commit(ar), MS_OK);
}

static const struct {
	const char *q;
	uint64_t n;
} queries[] = {
	{ "*", 2 },
	{ "budget", 1 },
	{ "BUDGET forecast", 1 },
	{ "\"budget forecast\"", 1 },
	{ "\"forecast budget\"", 0 },
	{ "zürich", 1 },
	{ "subject:zurich", 0 },
	{ "subject:report", 1 },
	{ "body:report", 0 },
	{ "from:alice", 1 },
	{ "from:alice@example.org", 1 },
	{ "to:alice@example.org", 1 },
	{ "to:carol@example.com", 1 },
	{ "to:example.com", 1 },
	{ "invoice", 1 },
	{ "body:smile", 1 },
	{ "body:amp", 0 },
	{ "body:p", 0 },
	{ "attachment:exe", 1 },
	{ "attachment:msdownload", 1 },
	{ "budg*", 1 },
	{ "id:m1@example.org", 1 },
	{ "id:<m2@evil.example>", 1 },
	{ "id:0123456789abcdef01234567", 1 },
	{ "rcpt:audit@example.org", 1 },
	{ "sender:mallory@evil.example", 1 },
	{ "verdict:infected", 1 },
	{ "virus:eicar", 1 },
	{ "client:203.0.113.9", 1 },
	{ "queueid:4XyZq1", 1 },
	{ "date:2002-08", 1 },
	{ "date:2002-08-23", 1 },
	{ "date:2002-08-24..", 1 },
	{ "date:..2002-08-22", 0 },
	{ "date:2002", 2 },
	{ "size:>100000", 0 },
	{ "size:<10k", 2 },
	{ "NOT invoice", 1 },
	{ "invoice OR budget", 2 },
	{ "-invoice budget", 1 },
};

START_TEST(test_queries)
{
	add_both();
	uint64_t n = count(queries[_i].q);
	ck_assert_msg(n == queries[_i].n, "%s: %llu hits, want %llu",
		      queries[_i].q, (unsigned long long)n,
		      (unsigned long long)queries[_i].n);
}
END_TEST

START_TEST(test_idempotent_and_shards)
{
	add_both();
	add(MSG1, NULL, MS_ADD_PRESENT);
	ms_envelope env = { .id = "0123456789abcdef01234567",
			    .time = 1034668800 };
	add(MSG2, &env, MS_ADD_NEW); /* milter id: replaced, not added */
	ck_assert_int_eq(ms_archive_commit(ar), MS_OK);
	ck_assert_uint_eq(count("*"), 2);
	ms_archive_stats st;
	ck_assert_int_eq(ms_archive_stats_get(ar, &st), MS_OK);
	ck_assert_uint_eq(st.messages, 2);
	ck_assert_uint_eq(st.shards, 2); /* 2002-08 and 2002-10 */
	ck_assert_uint_eq(st.store_files, 2);
	ck_assert(st.index_bytes > 0 && st.store_bytes > 0);
	char path[160];
	struct stat sb;
	snprintf(path, sizeof path, "%s/a/shards/2002-08", tmpl);
	ck_assert_int_eq(stat(path, &sb), 0);
}
END_TEST

START_TEST(test_show_and_search)
{
	add_both();
	ms_buf out = MS_BUF_INIT;
	ck_assert_int_eq(ms_archive_show(ar, "m1@example.org", &out), MS_OK);
	const char *body = strchr(MSG1, '\n') + 1; /* minus the From_ line */
	ck_assert_uint_eq(out.len, strlen(body));
	ck_assert(memcmp(out.data, body, out.len) == 0);
	ms_buf_free(&out);
	ck_assert_int_eq(ms_archive_show(ar, "nope@x", &out), MS_ERR_NOTFOUND);
	ck_assert_str_ne(ms_archive_error(ar), "");
	ms_buf_free(&out);

	ms_qnode *q = NULL;
	ck_assert_int_eq(ms_query_parse("*", &q, NULL), MS_OK);
	ms_hits *hits = NULL;
	ck_assert_int_eq(ms_archive_search(ar, q, 0, &hits), MS_OK);
	ck_assert_uint_eq(ms_hits_size(hits), 2);
	const ms_hit *h = ms_hits_get(hits, 0); /* newest first */
	ck_assert_str_eq(h->message_id, "m2@evil.example");
	ck_assert_str_eq(h->verdict, "infected");
	ck_assert_str_eq(h->rcpts, "alice@example.org, audit@example.org");
	h = ms_hits_get(hits, 1);
	ck_assert_str_eq(h->subject, "Quarterly report for Z\xc3\xbcrich");
	ck_assert_int_eq(h->date, 1030096800);
	ck_assert(strstr(h->from, "alice@example.org") != NULL);
	ck_assert_str_eq(h->verdict, "");
	ms_hits_free(&hits);
	ck_assert_int_eq(ms_archive_search(ar, q, 1, &hits), MS_OK);
	ck_assert_uint_eq(ms_hits_size(hits), 1);
	ms_hits_free(&hits);
	ms_query_free(&q);
}
END_TEST

/* The IMAP backend reuses a message's archived words only if the archive
 * marked them as exactly its ASCII runs (MS_TRAIT_ASCII_RUNS). */
static const struct {
	const char *body;
	int trait;
} traits[] = {
	{ "plain words only, 42 of them\n", 1 },
	{ "Z\xc3\xbcrich is not ASCII\n", 0 },
	{ "a run longer than the tokenizer keeps: "
	  "x1234567890123456789012345678901234567890123456789012345678901234567"
	  "89\n",
	  0 },
};

START_TEST(test_ascii_runs_trait)
{
	char msg[512], glob_dir[256];
	snprintf(msg, sizeof msg,
		 "From: a@example.org\nSubject: t\nDate: Fri, 23 Aug 2002 "
		 "10:00:00 +0000\n\n%s",
		 traits[_i].body);
	add(msg, NULL, MS_ADD_NEW);
	ck_assert_int_eq(ms_archive_commit(ar), MS_OK);
	snprintf(glob_dir, sizeof glob_dir, "%s/a/shards/2002-08", tmpl);
	const char *paths[] = { glob_dir };
	ms_xdb *db = NULL;
	char *err = NULL;
	int yes = -1;
	ck_assert_int_eq(ms_xdb_open_read(paths, 1, &db, &err), MS_OK);
	ck_assert_int_eq(
		ms_xdb_has_term(db, MS_PREFIX_TRAIT MS_TRAIT_ASCII_RUNS, &yes),
		MS_OK);
	ck_assert_int_eq(yes, traits[_i].trait);
	ms_xdb_close(&db);
}
END_TEST

START_TEST(test_not_a_message)
{
	ms_add_result res;
	ck_assert_int_eq(ms_archive_add(ar, "", 0, NULL, &res, NULL),
			 MS_ERR_PARSE);
	ck_assert_str_ne(ms_archive_error(ar), "");
	ck_assert_int_eq(ms_archive_commit(ar), MS_OK);
	ck_assert_uint_eq(count("*"), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("archive");
	TCase *tc = tcase_create("all");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_queries, 0,
			    sizeof queries / sizeof queries[0]);
	tcase_add_test(tc, test_idempotent_and_shards);
	tcase_add_test(tc, test_show_and_search);
	tcase_add_test(tc, test_not_a_message);
	tcase_add_loop_test(tc, test_ascii_runs_trait, 0,
			    sizeof traits / sizeof traits[0]);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
