/* test_expire.c - Check tests for expire (ms_expire.h) on a small archive
 * built through the C API: which messages a plan picks (default period,
 * a rule, "0" for ever, the longest matching rule winning, holds, no
 * usable date), per-rule and per-hold counts, what apply deletes (documents,
 * stored messages, an emptied shard and its lock file) and keeps (a stored
 * message another document shares), the journal of an interrupted run
 * (finished, with a hold placed since re-checked; a damaged one refused),
 * and a writer's lock keeping expire out.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ms_expire.h"
#include "ms_hold.h"
#include "support_util.h"

#define NOW 1768478400 /* 2026-01-15 12:00:00 UTC */

static char *tmp;
static char dir[256];

typedef struct msg_spec {
	const char *id;
	int64_t time; /* arrival time; 0 = none (then no Date header) */
	const char *subject, *verdict;
	const char *body; /* the same body and subject make the same bytes */
} msg_spec;

static const msg_spec msgs[] = {
	{ "m1", 1009843200, "alpha", "clean", "one" },	    /* 2002-01-01 */
	{ "m2", 1009929600, "keepme", "clean", "two" },	    /* 2002-01-02 */
	{ "m3", 1764547200, "gamma", "infected", "three" }, /* 2025-12-01 */
	{ "m4", 1768003200, "delta", "infected", "four" },  /* 2026-01-10 */
	{ "m5", 1014940800, "held", "clean", "five" },	    /* 2002-03-01 */
	{ "m6", 1020211200, "twin", "clean", "same" },	    /* 2002-05-01 */
	{ "m7", 1767225600, "twin", "clean", "same" },	    /* 2026-01-01 */
	{ "m8", 0, "nodate", "clean", "eight" },
	{ "m9", 1672531200, "both", "infected", "nine" }, /* 2023-01-01 */
	{ "m10", 1577836800, "both", "infected", "ten" }, /* 2020-01-01 */
};
#define N_MSGS (sizeof msgs / sizeof msgs[0])

static char *rules[] = { "30d verdict:infected", "0 subject:keepme",
			 "5y subject:both", NULL };

static ms_archive *open_ar(int writable)
{
	ms_archive_opts o = { .dir = dir,
			      .compression_level = 1,
			      .writable = writable };
	ms_archive *ar = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_archive_open(&o, &ar, &err), MS_OK);
	return ar;
}

static void setup(void)
{
	tmp = ms_test_tmpdir("test_expire");
	snprintf(dir, sizeof dir, "%s/a", tmp);
	ms_archive *ar = open_ar(1);
	for (size_t i = 0; i < N_MSGS; i++) {
		const msg_spec *m = &msgs[i];
		char raw[512];
		snprintf(raw, sizeof raw,
			 "From: a@example.org\nTo: b@example.org\n"
			 "Subject: %s\n%s\nbody %s\n",
			 m->subject,
			 m->time ? "Date: Tue, 1 Jan 2002 00:00:00 +0000\n"
				 : "",
			 m->body);
		ms_envelope env = { .id = m->id,
				    .sender = "a@example.org",
				    .verdict = m->verdict,
				    .time = m->time };
		ms_add_result res;
		ck_assert_int_eq(
			ms_archive_add(ar, raw, strlen(raw), &env, &res, NULL),
			MS_OK);
	}
	ck_assert_int_eq(ms_archive_close(&ar), MS_OK);
	ms_hold h = { .name = "h1", .query = "subject:held", .at = 1 };
	ck_assert_int_eq(ms_hold_add(dir, &h, NULL, NULL, NULL), MS_OK);
}

static void teardown(void)
{
	ck_assert_int_eq(ms_test_tmpdir_free(&tmp), 0);
}

static ms_retention *policy(const char *def)
{
	ms_retention *r = NULL;
	ck_assert_int_eq(ms_retention_load(def, rules, &r, NULL), MS_OK);
	return r;
}

/* Runs begin + (pending or decide) + optionally apply; returns the ids
 * planned as one string "m1 m3 ...". */
static char *run(const char *def, int apply, int pending, ms_expire_result *res,
		 ms_expire_plan **keep)
{
	ms_archive *ar = open_ar(0);
	ms_expire *ex = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_expire_begin(ar, dir, &ex, &err), MS_OK);
	ms_expire_plan *p = NULL;
	ms_retention *r = policy(def);
	if (pending)
		ck_assert_int_eq(ms_expire_pending(ex, &p), MS_OK);
	else
		ck_assert_int_eq(ms_expire_decide(ex, r, NOW, &p), MS_OK);
	ms_buf ids = MS_BUF_INIT;
	ms_buf_puts(&ids, "");
	for (size_t i = 0; p && i < p->n_items; i++)
		ms_buf_printf(&ids, "%s%s", i ? " " : "", p->items[i].id);
	if (apply && p)
		ck_assert_msg(ms_expire_apply(ex, p, res) == MS_OK, "%s",
			      ms_expire_error(ex));
	if (keep)
		*keep = p;
	else
		ms_expire_plan_free(&p);
	ms_retention_free(&r);
	ms_expire_end(&ex);
	ms_archive_close(&ar);
	return ms_buf_steal(&ids);
}

static uint64_t count(const char *query)
{
	ms_archive *ar = open_ar(0);
	ms_qnode *q = NULL;
	uint64_t n = 0;
	ck_assert_int_eq(ms_query_parse(query, &q, NULL), MS_OK);
	ck_assert_int_eq(ms_archive_count(ar, q, &n), MS_OK);
	ms_query_free(&q);
	ms_archive_close(&ar);
	return n;
}

static int exists(const char *rel)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

/* The store file of a message, relative to dir. */
static void store_rel(const char *id, char *out, size_t n)
{
	ms_archive *ar = open_ar(0);
	ms_qnode q = { .type = MS_Q_EXACT, .field = ms_schema_field("id") };
	q.value = (char *)id;
	ms_hits *hits = NULL;
	ck_assert_int_eq(ms_archive_search(ar, &q, 1, &hits), MS_OK);
	ck_assert_uint_eq(ms_hits_size(hits), 1);
	const char *sha = ms_hits_get(hits, 0)->sha256;
	snprintf(out, n, "store/%.2s/%s", sha, sha);
	ms_hits_free(&hits);
	ms_archive_close(&ar);
}

typedef struct plan_case {
	const char *def;
	const char *want;
} plan_case;

/* Items sort by shard then id: 2002-01, 2002-05, 2020-01, 2025-12. */
static const plan_case plan_cases[] = {
	{ "1y", "m1 m6 m10 m3" },
	{ "0", "m10 m3" }, /* only rules expire */
	{ "30y", "m10 m3" },
	{ "1d", "m1 m6 m10 m3 m7" },
};

START_TEST(test_plan)
{
	const plan_case *c = &plan_cases[_i];
	ms_expire_plan *p = NULL;
	char *ids = run(c->def, 0, 0, NULL, &p);
	ck_assert_str_eq(ids, c->want);
	ck_assert_uint_eq(p->examined, N_MSGS);
	ck_assert_uint_eq(p->undated, 1); /* m8 */
	ck_assert_uint_eq(p->n_holds, 1);
	ck_assert_str_eq(p->hold_names[0], "h1");
	/* m5 is held back whenever the default lets it go */
	ck_assert_uint_eq(
		p->held[0],
		strcmp(c->def, "1y") == 0 || strcmp(c->def, "1d") == 0 ? 1 : 0);
	ck_assert_uint_eq(p->by_rule[0], 1); /* m3: 30d */
	ck_assert_uint_eq(p->by_rule[1], 0); /* "0" never */
	ck_assert_uint_eq(p->by_rule[2], 1); /* m10: 5y beats 30d */
	free(ids);
	ms_expire_plan_free(&p);
}
END_TEST

START_TEST(test_apply)
{
	char m6[128], m7[128], m1[128];
	store_rel("m6", m6, sizeof m6);
	store_rel("m7", m7, sizeof m7);
	store_rel("m1", m1, sizeof m1);
	ck_assert_str_eq(m6, m7); /* one stored file for both */
	ms_expire_result res;
	char *ids = run("1y", 1, 0, &res, NULL);
	ck_assert_str_eq(ids, "m1 m6 m10 m3");
	free(ids);
	ck_assert_uint_eq(res.deleted, 4);
	ck_assert_uint_eq(res.store_removed, 3);
	ck_assert_uint_eq(res.store_kept, 1);	  /* m7 still names it */
	ck_assert_uint_eq(res.shards_dropped, 3); /* 2002-05 2020-01 2025-12 */
	ck_assert_uint_eq(count("*"), N_MSGS - 4);
	ck_assert_uint_eq(count("id:m6 OR id:m1 OR id:m10 OR id:m3"), 0);
	ck_assert_uint_eq(count("id:m5 OR id:m2 OR id:m7 OR id:m8"), 4);
	ck_assert(exists(m7));
	ck_assert(!exists(m1));
	ck_assert(!exists("shards/2002-05") && !exists("locks/2002-05.lock"));
	ck_assert(exists("shards/2002-01") && exists("locks/2002-01.lock"));
	ck_assert(!exists("expire.journal"));
	/* a second run finds nothing */
	ids = run("1y", 1, 0, &res, NULL);
	ck_assert_str_eq(ids, "");
	free(ids);
	ck_assert_uint_eq(res.deleted, 0);
}
END_TEST

static void write_journal(const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/expire.journal", dir);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* An interrupted run: its journal is finished, re-checking the holds. */
START_TEST(test_journal)
{
	char m1[128], m2[128];
	store_rel("m1", m1, sizeof m1);
	store_rel("m2", m2, sizeof m2);
	ms_hold h = { .name = "later", .query = "subject:keepme", .at = 2 };
	ck_assert_int_eq(ms_hold_add(dir, &h, NULL, NULL, NULL), MS_OK);
	char text[1024];
	snprintf(text, sizeof text,
		 "format\t1\nnow\t%d\ni\tm1\ns\t%s\nh\t2002-01\nr\t-1\n"
		 "i\tm2\ns\t%s\nh\t2002-01\nr\t-1\n"
		 "i\tgone\ns\t%s\nh\t1999-01\nr\t0\nend\t3\n",
		 NOW, m1 + 9, m2 + 9, m1 + 9);
	write_journal(text);
	ms_expire_result res;
	ms_expire_plan *p = NULL;
	char *ids = run("1y", 1, 1, &res, &p);
	ck_assert_str_eq(ids, "gone m1 m2"); /* by shard: 1999-01 first */
	ck_assert(p->from_journal);
	ck_assert_uint_eq(p->by_rule[p->n_rules], 2);
	free(ids);
	ms_expire_plan_free(&p);
	ck_assert_uint_eq(res.deleted, 1);  /* m1 */
	ck_assert_uint_eq(res.held_now, 1); /* m2: held since */
	ck_assert_uint_eq(count("id:m2"), 1);
	ck_assert(!exists(m1) && exists(m2));
	ck_assert(!exists("expire.journal"));
	ck_assert(exists("shards/2002-01"));
}
END_TEST

START_TEST(test_journal_damaged)
{
	static const char *const bad[] = {
		"format\t1\nnow\t1\ni\tm1\ns\tabc\nh\t2002-01\nend\t1\n",
		"format\t1\nnow\t1\nend\t0\ni\tm1\n",
		"format\t2\nend\t0\n",
		"format\t1\nnow\t1\ni\tm1\ns\t"
		"00000000000000000000000000000000000000000000000000000000000000"
		"00"
		"\nh\t../x\nend\t1\n",
		"format\t1\nnow\t1\n", /* no end: cut short */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_journal(bad[i]);
		ms_archive *ar = open_ar(0);
		ms_expire *ex = NULL;
		ck_assert_int_eq(ms_expire_begin(ar, dir, &ex, NULL), MS_OK);
		ms_expire_plan *p = NULL;
		ck_assert_int_eq(ms_expire_pending(ex, &p), MS_ERR_CORRUPT);
		ck_assert_ptr_null(p);
		ck_assert_ptr_nonnull(strstr(ms_expire_error(ex), "journal"));
		ms_expire_end(&ex);
		ms_archive_close(&ar);
	}
	ck_assert_uint_eq(count("*"), N_MSGS);
}
END_TEST

/* A writer holding a shard keeps expire out (and nothing changes). */
START_TEST(test_locked)
{
	char p[512];
	snprintf(p, sizeof p, "%s/locks/2002-01.lock", dir);
	int fd = open(p, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	ms_archive *ar = open_ar(0);
	ms_expire *ex = (ms_expire *)&ex;
	char *err = NULL;
	ck_assert_int_eq(ms_expire_begin(ar, dir, &ex, &err), MS_ERR_LOCKED);
	ck_assert_ptr_null(ex);
	ck_assert_ptr_nonnull(strstr(err, "2002-01"));
	free(err);
	ms_archive_close(&ar);
	close(fd);
	ck_assert_uint_eq(count("*"), N_MSGS);
}
END_TEST

/* Holds a search head sent: active ones hold as "FROM/NAME", released
 * ones hold nothing; text that is no holds list, or a hold whose query
 * does not parse, stops the run with a message naming the source. */
START_TEST(test_added_holds)
{
	ms_holds hs = { 0 };
	ms_hold v[2] = { { .name = "case-7",
			   .query = "subject:alpha",
			   .reason = "",
			   .by = "",
			   .at = 1 },
			 { .name = "old",
			   .query = "subject:twin",
			   .reason = "",
			   .by = "",
			   .at = 1,
			   .released_by = "x",
			   .release_reason = "done",
			   .released_at = 2 } };
	hs.v = v;
	hs.n = 2;
	ms_buf text = MS_BUF_INIT;
	ck_assert_int_eq(ms_holds_format(&hs, &text), MS_OK);
	ms_archive *ar = open_ar(0);
	ms_expire *ex = NULL;
	ck_assert_int_eq(ms_expire_begin(ar, dir, &ex, NULL), MS_OK);
	ck_assert_int_eq(
		ms_expire_add_holds(ex, "10.0.0.2:7400", text.data, text.len),
		MS_OK);
	ms_retention *r = policy("1y");
	ms_expire_plan *p = NULL;
	ck_assert_int_eq(ms_expire_decide(ex, r, NOW, &p), MS_OK);
	ck_assert_uint_eq(p->n_holds, 2);
	ck_assert_str_eq(p->hold_names[1], "10.0.0.2:7400/case-7");
	ck_assert_uint_eq(p->held[1], 1); /* m1 */
	for (size_t i = 0; i < p->n_items; i++)
		ck_assert_str_ne(p->items[i].id, "m1");
	ms_expire_plan_free(&p);
	static const char *const bad[] = { "name\tx\n", "format\t9\n",
					   "name\tq\nquery\tsubject:(\n" };
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(
			ms_expire_add_holds(ex, "h:1", bad[i], strlen(bad[i])),
			MS_ERR_CORRUPT);
		ck_assert_ptr_nonnull(strstr(ms_expire_error(ex), "h:1"));
		ck_assert_ptr_null(strchr(ms_expire_error(ex), '\n'));
	}
	ms_expire_end(&ex);
	ms_retention_free(&r);
	ms_archive_close(&ar);
	ms_buf_free(&text);
}
END_TEST

static Suite *expire_suite(void)
{
	Suite *s = suite_create("expire");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_plan, 0,
			    sizeof plan_cases / sizeof plan_cases[0]);
	tcase_add_test(tc, test_apply);
	tcase_add_test(tc, test_journal);
	tcase_add_test(tc, test_journal_damaged);
	tcase_add_test(tc, test_locked);
	tcase_add_test(tc, test_added_holds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(expire_suite());
}
