/* test_xapian.c - Check tests for the Xapian shim, through its C API only
 * (ms_xapian.h).
 *
 * Builds a small database in a mkdtemp directory, then runs a table of
 * hand-built query trees (every node type: words, phrases, free text,
 * wildcards, exact ids and Message-IDs, ranges, AND/OR/NOT) checking the
 * hits in newest-first order and the exact count; paging; replace/delete;
 * term clipping; several databases read as one; and every status that can
 * be provoked: LOCKED, MODIFIED, NOTFOUND, CORRUPT, IO, INVALID.
 */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_buf.h"
#include "ms_query.h"
#include "ms_schema.h"
#include "ms_xapian.h"
#include "support_util.h"

/* libxapian 1.4.22's Database::check() deletes one of its own objects
 * through a pointer to a base class of a different size (allocation and
 * deletion both inside libxapian), which ASan reports as a
 * new-delete-type-mismatch. That one ASan check is turned off, in this test
 * binary only; it has no effect without ASan. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "new_delete_type_mismatch=0";
}

static char *tmpdir;
static char dbpath[128];

static void setup(void)
{
	tmpdir = ms_test_tmpdir("test_xapian");
	snprintf(dbpath, sizeof dbpath, "%s/db", tmpdir);
}

static void teardown(void)
{
	ms_test_tmpdir_free(&tmpdir);
}

/* ---- building documents ---- */

typedef struct tdoc {
	const char *id, *msgid, *from, *subject, *body, *body2;
	double date, size;
} tdoc;

/* Added in this order: docids 1..4. Newest first: b2, d4, c3, a1
 * (d4 and c3 share a date; the later docid comes first). */
static const tdoc docs[] = {
	{ "a1", "Abc.123@Example.COM", "alice@example.org", "Quarterly report",
	  "The big deal is done.", NULL, 1000, 500 },
	{ "b2", "x2@y", "bob@example.org", "Re: big plans",
	  "A deal that is big", NULL, 3000, 5000 },
	{ "c3", "x3@y", "carol@example.net", "lunch",
	  "Dealer of cards; reporting", NULL, 2000, 50000 },
	{ "d4", "x4@y", "dave@example.net", "misc", "nothing here", "more text",
	  2000, 70 },
};

static ms_xdoc *make_doc(const tdoc *t)
{
	ms_xdoc *d = ms_xdoc_new();
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(ms_xdoc_add_text(d, "", t->body, strlen(t->body)),
			 MS_OK);
	if (t->body2)
		ck_assert_int_eq(
			ms_xdoc_add_text(d, "", t->body2, strlen(t->body2)),
			MS_OK);
	ck_assert_int_eq(
		ms_xdoc_add_text(d, "S", t->subject, strlen(t->subject)),
		MS_OK);
	ck_assert_int_eq(ms_xdoc_add_text(d, "F", t->from, strlen(t->from)),
			 MS_OK);
	ck_assert_int_eq(ms_xdoc_add_term(d, "F", t->from), MS_OK);
	ck_assert_int_eq(ms_xdoc_add_term(d, MS_PREFIX_MSGID, t->msgid), MS_OK);
	ck_assert_int_eq(ms_xdoc_set_value(d, MS_SLOT_DATE, t->date), MS_OK);
	ck_assert_int_eq(ms_xdoc_set_value(d, MS_SLOT_SIZE, t->size), MS_OK);
	ck_assert_int_eq(ms_xdoc_set_data(d, t->id, strlen(t->id)), MS_OK);
	return d;
}

static void add_doc(ms_xdb *db, const tdoc *t)
{
	char idterm[64];
	snprintf(idterm, sizeof idterm, "%s%s", MS_PREFIX_ID, t->id);
	ms_xdoc *d = make_doc(t);
	ck_assert_int_eq(ms_xdb_replace(db, idterm, d), MS_OK);
	ms_xdoc_free(&d);
	ck_assert_ptr_null(d);
}

static ms_xdb *open_writer(const char *path)
{
	ms_xdb *db = NULL;
	char *err = NULL;
	ms_status_t st = ms_xdb_open_write(path, &db, &err);
	ck_assert_msg(st == MS_OK, "open_write: %s", err ? err : "?");
	ck_assert_ptr_null(err);
	return db;
}

static ms_xdb *open_reader(const char *path)
{
	ms_xdb *db = NULL;
	char *err = NULL;
	ms_status_t st = ms_xdb_open_read(&path, 1, &db, &err);
	ck_assert_msg(st == MS_OK, "open_read: %s", err ? err : "?");
	return db;
}

static void build_db(void)
{
	ms_xdb *db = open_writer(dbpath);
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
		add_doc(db, &docs[i]);
	ck_assert_int_eq(ms_xdb_commit(db), MS_OK);
	ms_xdb_close(&db);
	ck_assert_ptr_null(db);
}

/* ---- building query trees by hand ---- */

static ms_qnode *node(ms_qtype type, const char *field)
{
	ms_qnode *q = calloc(1, sizeof *q);
	ck_assert_ptr_nonnull(q);
	q->type = type;
	if (field) {
		q->field = ms_schema_field(field);
		ck_assert_ptr_nonnull(q->field);
	}
	return q;
}

/* WORDS (or PREFIX) node over NULL-terminated terms. */
static ms_qnode *terms_node(ms_qtype type, const char *field, va_list ap)
{
	ms_qnode *q = node(type, field);
	q->terms = calloc(8, sizeof *q->terms);
	for (const char *t; (t = va_arg(ap, const char *));)
		q->terms[q->n_terms++] = strdup(t);
	return q;
}

static ms_qnode *W(const char *field, ...)
{
	va_list ap;
	va_start(ap, field);
	ms_qnode *q = terms_node(MS_Q_WORDS, field, ap);
	va_end(ap);
	return q;
}

static ms_qnode *P(const char *field, ...)
{
	va_list ap;
	va_start(ap, field);
	ms_qnode *q = terms_node(MS_Q_PREFIX, field, ap);
	va_end(ap);
	return q;
}

static ms_qnode *E(const char *field, const char *value)
{
	ms_qnode *q = node(MS_Q_EXACT, field);
	q->value = strdup(value);
	return q;
}

static ms_qnode *R(const char *field, int64_t lo, int64_t hi)
{
	ms_qnode *q = node(MS_Q_RANGE, field);
	q->lo = lo;
	q->hi = hi;
	return q;
}

/* AND / OR / NOT node over NULL-terminated kids. */
static ms_qnode *OP(ms_qtype type, ...)
{
	va_list ap;
	ms_qnode *q = node(type, NULL);
	q->kids = calloc(8, sizeof *q->kids);
	va_start(ap, type);
	for (ms_qnode *k; (k = va_arg(ap, ms_qnode *));)
		q->kids[q->n_kids++] = k;
	va_end(ap);
	return q;
}

static void qfree(ms_qnode *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n_terms; i++)
		free(q->terms[i]);
	for (size_t i = 0; i < q->n_kids; i++)
		qfree(q->kids[i]);
	free(q->terms);
	free(q->kids);
	free(q->value);
	free(q);
}

#define MIN INT64_MIN
#define MAX INT64_MAX

/* Runs q; returns the hits' data joined by "," (static buffer). */
static const char *hits(ms_xdb *db, const ms_qnode *q, size_t off, size_t lim)
{
	static char out[256];
	ms_xresults *res = NULL;
	ms_status_t st = ms_xdb_search(db, q, off, lim, &res);
	ck_assert_msg(st == MS_OK, "search: %s: %s", ms_status_str(st),
		      ms_xdb_error(db));
	out[0] = '\0';
	for (size_t i = 0; i < ms_xresults_size(res); i++) {
		size_t len;
		const char *d = ms_xresults_data(res, i, &len);
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%.*s",
			 i ? "," : "", (int)len, d);
	}
	ms_xresults_free(&res);
	ck_assert_ptr_null(res);
	return out;
}

static uint64_t n_hits(const char *s)
{
	uint64_t n = *s != '\0';
	for (; *s; s++)
		n += *s == ',';
	return n;
}

typedef struct qcase {
	const char *name;
	ms_qnode *q;
	const char *want;
} qcase;

START_TEST(test_queries)
{
	build_db();
	ms_xdb *db = open_reader(dbpath);
	qcase cases[] = {
		{ "all", node(MS_Q_ALL, NULL), "b2,d4,c3,a1" },
		{ "word", W("body", "deal", NULL), "b2,a1" },
		{ "word folded at index", W("body", "the", NULL), "a1" },
		{ "phrase", W("body", "big", "deal", NULL), "a1" },
		{ "phrase reversed", W("body", "deal", "big", NULL), "" },
		{ "and of words",
		  OP(MS_Q_AND, W("body", "big", NULL), W("body", "deal", NULL),
		     NULL),
		  "b2,a1" },
		{ "phrase in 2nd text", W("body", "more", "text", NULL), "d4" },
		{ "no phrase across texts", W("body", "here", "more", NULL),
		  "" },
		{ "subject field", W("subject", "big", NULL), "b2" },
		{ "field kept apart", W("subject", "deal", NULL), "" },
		{ "free text body+subject", W(NULL, "big", NULL), "b2,a1" },
		{ "free text subject", W(NULL, "lunch", NULL), "c3" },
		{ "free text from", W(NULL, "alice", NULL), "a1" },
		{ "free text phrase", W(NULL, "big", "plans", NULL), "b2" },
		{ "free text not bcc", W(NULL, "x2", NULL), "" },
		{ "wildcard", P("body", "deal", NULL), "b2,c3,a1" },
		{ "wildcard free text", P(NULL, "rep", NULL), "c3,a1" },
		{ "wildcard field", P("from", "ca", NULL), "c3" },
		{ "wildcard none", P("body", "zzz", NULL), "" },
		{ "exact address", E("from", "Alice@Example.ORG"), "a1" },
		{ "exact address whole", E("from", "alice@example"), "" },
		{ "exact id", E("id", "A1"), "a1" },
		{ "exact message-id", E("id", "<Abc.123@Example.COM>"), "a1" },
		{ "message-id bare", E("id", "Abc.123@Example.COM"), "a1" },
		{ "message-id case kept", E("id", "abc.123@example.com"), "" },
		{ "range closed", R("date", 1500, 2500), "d4,c3" },
		{ "range inclusive", R("date", 1000, 2000), "d4,c3,a1" },
		{ "range open low", R("date", MIN, 2000), "d4,c3,a1" },
		{ "range open high", R("date", 2000, MAX), "b2,d4,c3" },
		{ "range open both", R("date", MIN, MAX), "b2,d4,c3,a1" },
		{ "range empty", R("date", 3, 2), "" },
		{ "range size", R("size", 1000, 10000), "b2" },
		{ "range size >", R("size", 1000, MAX), "b2,c3" },
		{ "not alone", OP(MS_Q_NOT, W("body", "deal", NULL), NULL),
		  "d4,c3" },
		{ "not not",
		  OP(MS_Q_NOT, OP(MS_Q_NOT, W("body", "deal", NULL), NULL),
		     NULL),
		  "b2,a1" },
		{ "and not",
		  OP(MS_Q_AND, W(NULL, "big", NULL),
		     OP(MS_Q_NOT, W("subject", "plans", NULL), NULL), NULL),
		  "a1" },
		{ "and of nots only",
		  OP(MS_Q_AND, OP(MS_Q_NOT, E("id", "a1"), NULL),
		     OP(MS_Q_NOT, E("id", "b2"), NULL), NULL),
		  "d4,c3" },
		{ "or", OP(MS_Q_OR, E("id", "a1"), E("id", "c3"), NULL),
		  "c3,a1" },
		{ "or with not",
		  OP(MS_Q_OR, E("id", "a1"),
		     OP(MS_Q_NOT, R("date", 1500, MAX), NULL), NULL),
		  "a1" },
		{ "nested",
		  OP(MS_Q_AND, R("date", 1500, MAX),
		     OP(MS_Q_OR, W("body", "deal", NULL),
			W("subject", "misc", NULL), NULL),
		     NULL),
		  "b2,d4" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = hits(db, cases[i].q, 0, 0);
		ck_assert_msg(strcmp(got, cases[i].want) == 0,
			      "%s: got \"%s\", want \"%s\"", cases[i].name, got,
			      cases[i].want);
		uint64_t n = 99;
		ck_assert_int_eq(ms_xdb_count(db, cases[i].q, &n), MS_OK);
		ck_assert_msg(n == n_hits(cases[i].want), "%s: count %llu",
			      cases[i].name, (unsigned long long)n);
		qfree(cases[i].q);
	}
	ms_xdb_close(&db);
}
END_TEST

START_TEST(test_paging)
{
	static const struct {
		size_t off, lim;
		const char *want;
	} pages[] = {
		{ 0, 0, "b2,d4,c3,a1" }, { 0, 1, "b2" }, { 1, 2, "d4,c3" },
		{ 3, 5, "a1" },		 { 4, 0, "" },	 { 100, 1, "" },
	};
	build_db();
	ms_xdb *db = open_reader(dbpath);
	ms_qnode *all = node(MS_Q_ALL, NULL);
	for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
		ck_assert_str_eq(hits(db, all, pages[i].off, pages[i].lim),
				 pages[i].want);
	uint64_t n = 0;
	ck_assert_int_eq(ms_xdb_count(db, all, &n), MS_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(ms_xdb_doccount(db, &n), MS_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_ptr_null(ms_xresults_data(NULL, 0, NULL));
	ck_assert_uint_eq(ms_xresults_size(NULL), 0);
	qfree(all);
	ms_xdb_close(&db);
}
END_TEST

START_TEST(test_replace_delete)
{
	build_db();
	ms_xdb *db = open_writer(dbpath);
	tdoc t = docs[0];
	t.subject = "Changed subject";
	add_doc(db, &t); /* same id term: replaced, not added */
	add_doc(db, &t);
	uint64_t n = 0;
	ck_assert_int_eq(ms_xdb_doccount(db, &n), MS_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(ms_xdb_commit(db), MS_OK);
	int yes = 0;
	ck_assert_int_eq(ms_xdb_has_term(db, "Schanged", &yes), MS_OK);
	ck_assert_int_eq(yes, 1);
	ck_assert_int_eq(ms_xdb_has_term(db, "Squarterly", &yes), MS_OK);
	ck_assert_int_eq(yes, 0);
	ck_assert_int_eq(ms_xdb_delete(db, "Qb2"), MS_OK);
	ck_assert_int_eq(ms_xdb_delete(db, "Qnone"), MS_OK);
	ck_assert_int_eq(ms_xdb_has_term(db, "Qb2", &yes), MS_OK);
	ck_assert_int_eq(yes, 0);
	ms_xdb_close(&db); /* commits */
	db = open_reader(dbpath);
	ck_assert_int_eq(ms_xdb_doccount(db, &n), MS_OK);
	ck_assert_uint_eq(n, 3);
	ms_qnode *q = W("subject", "changed", NULL);
	ck_assert_str_eq(hits(db, q, 0, 0), "a1");
	qfree(q);
	ms_xdb_close(&db);
}
END_TEST

START_TEST(test_idterm_added)
{
	/* the id term need not be in the document: replace adds it */
	ms_xdb *db = open_writer(dbpath);
	for (int i = 0; i < 3; i++) {
		ms_xdoc *d = ms_xdoc_new();
		ck_assert_int_eq(ms_xdoc_set_data(d, NULL, 0), MS_OK);
		ck_assert_int_eq(ms_xdb_replace(db, "Qsame", d), MS_OK);
		ms_xdoc_free(&d);
	}
	uint64_t n = 0;
	ck_assert_int_eq(ms_xdb_doccount(db, &n), MS_OK);
	ck_assert_uint_eq(n, 1);
	ms_xdb_close(&db);
	ms_xdoc_free(NULL);
	ms_xdb_close(NULL);
}
END_TEST

START_TEST(test_long_terms)
{
	char big[400], prefix[250];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memset(prefix, 'X', sizeof prefix - 1);
	prefix[sizeof prefix - 1] = '\0';
	/* a UTF-8 character straddling the limit is dropped whole */
	memcpy(big + 243, "\xc3\xa9\xc3\xa9", 4);
	ms_xdb *db = open_writer(dbpath);
	ms_xdoc *d = ms_xdoc_new();
	ck_assert_int_eq(ms_xdoc_add_term(d, "XM", big), MS_OK);
	ck_assert_int_eq(ms_xdoc_add_text(d, prefix, "some words", 10), MS_OK);
	ck_assert_int_eq(ms_xdoc_add_text(d, "", "", 0), MS_OK);
	char idterm[420];
	snprintf(idterm, sizeof idterm, "Q%s", big);
	ck_assert_int_eq(ms_xdb_replace(db, idterm, d), MS_OK);
	ck_assert_int_eq(ms_xdb_replace(db, idterm, d), MS_OK);
	ms_xdoc_free(&d);
	ck_assert_int_eq(ms_xdb_commit(db), MS_OK);
	int yes = 0;
	ck_assert_int_eq(ms_xdb_has_term(db, idterm, &yes), MS_OK);
	ck_assert_int_eq(yes, 1);
	uint64_t n = 0;
	ck_assert_int_eq(ms_xdb_doccount(db, &n), MS_OK);
	ck_assert_uint_eq(n, 1);
	ms_xdb_close(&db);
}
END_TEST

START_TEST(test_many_readers)
{
	char p2[160], p3[160];
	build_db();
	snprintf(p2, sizeof p2, "%s/db2", tmpdir);
	snprintf(p3, sizeof p3, "%s/db3", tmpdir);
	ms_xdb *db = open_writer(p2);
	tdoc t = { "e5", "e5@y", "eve@example.com", "newest", "deal", NULL,
		   9000, 1 };
	add_doc(db, &t);
	tdoc u = { "f6", "f6@y", "fred@example.com", "oldest", "deal", NULL,
		   10,	 1 };
	add_doc(db, &u);
	ms_xdb_close(&db);
	const char *paths[] = { dbpath, p2 };
	char *err = NULL;
	ck_assert_int_eq(ms_xdb_open_read(paths, 2, &db, &err), MS_OK);
	ms_qnode *q = W("body", "deal", NULL);
	ck_assert_str_eq(hits(db, q, 0, 0), "e5,b2,a1,f6");
	ms_xdb_close(&db);
	/* no databases: an empty one */
	ck_assert_int_eq(ms_xdb_open_read(NULL, 0, &db, &err), MS_OK);
	ck_assert_str_eq(hits(db, q, 0, 0), "");
	uint64_t n = 1;
	ck_assert_int_eq(ms_xdb_count(db, q, &n), MS_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ms_xdb_reopen(db), MS_OK);
	ms_xdb_close(&db);
	/* one missing path fails the whole open */
	paths[1] = p3;
	db = (ms_xdb *)1;
	ck_assert_int_eq(ms_xdb_open_read(paths, 2, &db, &err),
			 MS_ERR_NOTFOUND);
	ck_assert_ptr_null(db);
	ck_assert_ptr_nonnull(err);
	free(err);
	qfree(q);
}
END_TEST

/* ---- statuses ---- */

START_TEST(test_locked)
{
	ms_xdb *w1 = open_writer(dbpath), *w2 = (ms_xdb *)1;
	char *err = NULL;
	ck_assert_int_eq(ms_xdb_open_write(dbpath, &w2, &err), MS_ERR_LOCKED);
	ck_assert_ptr_null(w2);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "lock"));
	free(err);
	ms_xdb_close(&w1);
	/* released: can be opened again */
	w2 = open_writer(dbpath);
	ms_xdb_close(&w2);
}
END_TEST

/* Writes big documents and commits; returns the reader's status. */
static ms_status_t churn(ms_xdb *w, ms_xdb *r, int round)
{
	char text[2048];
	for (int i = 0; i < 30; i++) {
		tdoc t = { NULL, "m@y", "x@y", "s", text, NULL, round, i };
		char id[32];
		snprintf(id, sizeof id, "d%d", i);
		t.id = id;
		int n = 0;
		for (int k = 0; k < 200; k++)
			n += snprintf(text + n, sizeof text - (size_t)n,
				      "w%dr%d ", k, round + i);
		add_doc(w, &t);
	}
	ck_assert_int_eq(ms_xdb_commit(w), MS_OK);
	ms_qnode *q = P("body", "w1", NULL);
	ms_xresults *res = NULL;
	ms_status_t st = ms_xdb_search(r, q, 0, 0, &res);
	ms_xresults_free(&res);
	qfree(q);
	return st;
}

START_TEST(test_modified)
{
	ms_xdb *w = open_writer(dbpath);
	ck_assert_int_eq(churn(w, w, 0), MS_OK);
	ms_xdb *r = open_reader(dbpath);
	ms_status_t st = MS_OK;
	for (int round = 1; round < 50 && st == MS_OK; round++)
		st = churn(w, r, round);
	ck_assert_int_eq(st, MS_ERR_MODIFIED);
	ck_assert_ptr_nonnull(strstr(ms_xdb_error(r), "Modified"));
	ck_assert_int_eq(ms_xdb_reopen(r), MS_OK);
	ms_qnode *all = node(MS_Q_ALL, NULL);
	ms_xresults *res = NULL;
	ck_assert_int_eq(ms_xdb_search(r, all, 0, 0, &res), MS_OK);
	ck_assert_uint_eq(ms_xresults_size(res), 30);
	ck_assert_str_eq(ms_xdb_error(r), "");
	ms_xresults_free(&res);
	qfree(all);
	ms_xdb_close(&r);
	ms_xdb_close(&w);
}
END_TEST

START_TEST(test_notfound)
{
	char path[160];
	snprintf(path, sizeof path, "%s/nothing", tmpdir);
	const char *p = path;
	ms_xdb *db = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_xdb_open_read(&p, 1, &db, &err), MS_ERR_NOTFOUND);
	ck_assert_ptr_null(db);
	ck_assert_ptr_nonnull(err);
	free(err);
	ck_assert_int_eq(ms_xdb_open_read(&p, 1, &db, NULL), MS_ERR_NOTFOUND);
	char *report = NULL;
	/* Xapian: DatabaseOpeningError "Couldn't find Xapian database" */
	ck_assert_int_eq(ms_xdb_check(path, &report), MS_ERR_IO);
	ck_assert_ptr_nonnull(report);
	free(report);
}
END_TEST

/* Overwrites bytes of file name in the database with garbage. */
static void damage(const char *name, off_t off, size_t n)
{
	char path[200], junk[8192];
	snprintf(path, sizeof path, "%s/%s", dbpath, name);
	memset(junk, 0x5a, sizeof junk);
	int fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, junk, n, off), (ssize_t)n);
	close(fd);
}

START_TEST(test_corrupt)
{
	char *report = NULL;
	build_db();
	ck_assert_int_eq(ms_xdb_check(dbpath, &report), MS_OK);
	ck_assert_ptr_null(report);
	damage("postlist.glass", 0, 8192);
	damage("termlist.glass", 0, 8192);
	ck_assert_int_eq(ms_xdb_check(dbpath, &report), MS_ERR_CORRUPT);
	ck_assert_ptr_nonnull(report);
	ck_assert_int_gt(strlen(report), 0);
	free(report);
	/* a reader meets it too */
	ms_xdb *db = NULL;
	const char *p = dbpath;
	char *err = NULL;
	ms_status_t st = ms_xdb_open_read(&p, 1, &db, &err);
	if (st == MS_OK) {
		ms_qnode *q = W("body", "deal", NULL);
		ms_xresults *res = NULL;
		st = ms_xdb_search(db, q, 0, 0, &res);
		ms_xresults_free(&res);
		qfree(q);
		ms_xdb_close(&db);
	}
	free(err);
	ck_assert_int_eq(st, MS_ERR_CORRUPT);
}
END_TEST

START_TEST(test_corrupt_version_file)
{
	build_db();
	damage("iamglass", 0, 16);
	ms_xdb *db = NULL;
	const char *p = dbpath;
	char *err = NULL;
	ck_assert_int_eq(ms_xdb_open_read(&p, 1, &db, &err), MS_ERR_CORRUPT);
	ck_assert_ptr_null(db);
	free(err);
	char *report = NULL;
	ck_assert_int_eq(ms_xdb_check(dbpath, &report), MS_ERR_CORRUPT);
	ck_assert_ptr_nonnull(report);
	free(report);
}
END_TEST

START_TEST(test_not_a_directory)
{
	char path[160];
	snprintf(path, sizeof path, "%s/file", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a database\n", f);
	fclose(f);
	ms_xdb *db = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_xdb_open_write(path, &db, &err), MS_ERR_IO);
	ck_assert_ptr_null(db);
	ck_assert_ptr_nonnull(err);
	free(err);
	/* (Xapian reads a file as a stub database file: bad line) */
	const char *p = path;
	ck_assert_int_eq(ms_xdb_open_read(&p, 1, &db, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, path));
	free(err);
	/* below a file: cannot be created */
	snprintf(path, sizeof path, "%s/file/db", tmpdir);
	ck_assert_int_eq(ms_xdb_open_write(path, &db, &err), MS_ERR_IO);
	free(err);
}
END_TEST

START_TEST(test_invalid)
{
	build_db();
	ms_xdb *db = open_reader(dbpath);
	ms_xdoc *d = ms_xdoc_new();
	ck_assert_int_eq(ms_xdb_replace(db, "Qx", d), MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(ms_xdb_error(db), "read-only"));
	ck_assert_int_eq(ms_xdb_delete(db, "Qa1"), MS_ERR_INVALID);
	ck_assert_int_eq(ms_xdb_commit(db), MS_ERR_INVALID);
	ms_xdoc_free(&d);
	ms_qnode *bad[] = {
		W("date", "x", NULL),	  /* range field has no terms */
		R("subject", 1, 2),	  /* no value slot */
		E("date", "x"),		  /* no terms */
		node(MS_Q_EXACT, NULL),	  /* no field */
		node(MS_Q_WORDS, "body"), /* no terms */
		OP(MS_Q_NOT, NULL),	  /* no operand */
		OP(MS_Q_AND, OP(MS_Q_NOT, NULL), NULL),
		NULL, /* no query */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ms_xresults *res = (ms_xresults *)1;
		uint64_t n;
		ck_assert_int_eq(ms_xdb_search(db, bad[i], 0, 0, &res),
				 MS_ERR_INVALID);
		ck_assert_ptr_null(res);
		ck_assert_int_eq(ms_xdb_count(db, bad[i], &n), MS_ERR_INVALID);
		ck_assert_str_ne(ms_xdb_error(db), "");
		qfree(bad[i]);
	}
	ms_xdb_close(&db);
}
END_TEST

static Suite *xapian_suite(void)
{
	Suite *s = suite_create("xapian");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_queries);
	tcase_add_test(tc, test_paging);
	tcase_add_test(tc, test_replace_delete);
	tcase_add_test(tc, test_idterm_added);
	tcase_add_test(tc, test_long_terms);
	tcase_add_test(tc, test_many_readers);
	tcase_add_test(tc, test_locked);
	tcase_add_test(tc, test_modified);
	tcase_add_test(tc, test_notfound);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_corrupt_version_file);
	tcase_add_test(tc, test_not_a_directory);
	tcase_add_test(tc, test_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(xapian_suite());
}
