/* test_audit.c - Check tests for the audit trail (ms_audit.h).
 *
 * Lines: format -> parse round trips (table: odd text, no query, many
 * ids, web client), the reader's rejects and accepts (table), every
 * prefix of a line rejected one byte at a time. Chain: appends link each
 * line to the one before and keep the head; damages (table: changed byte,
 * deleted, inserted, swapped and cut lines, a damaged or missing head)
 * are DAMAGED with the first bad line named; a crash-cut tail and a head
 * one line behind are told apart and repaired by the next append; a
 * foreign fragment is kept, not removed; appends from several processes
 * at once lose nothing; I/O errors name the path; ms_audit_each.
 * Batches (ms_audit_append_batch): mixed with single appends they make
 * the same chain and head; a crash-cut tail is repaired and noted on the
 * batch's first line only; a head one whole batch behind (a crash before
 * the batch's head) is HEAD_BEHIND and repaired, one more line is
 * damage; a bad entry or too many write nothing.
 * Every test works in its own mkdtemp directory and removes it.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_audit.h"
#include "ms_hash.h"
#include "support_util.h"

static char *tmpdir;
static char logpath[256], headpath[256];

static void setup(void)
{
	tmpdir = ms_test_tmpdir("test_audit");
	snprintf(logpath, sizeof logpath, "%s/audit.log", tmpdir);
	snprintf(headpath, sizeof headpath, "%s/audit.log.head", tmpdir);
}

static void teardown(void)
{
	ms_test_tmpdir_free(&tmpdir);
}

/* ---- files ---- */

static char *slurp(const char *path, size_t *n_r)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ms_buf b = MS_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ck_assert_int_eq(ms_buf_append(&b, chunk, n), MS_OK);
	fclose(f);
	*n_r = b.len;
	return ms_buf_steal(&b);
}

static void spit(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* Offset of the start of line k (1-based) in s, or n past the end. */
static size_t line_start(const char *s, size_t n, int k)
{
	size_t off = 0;
	for (int i = 1; i < k && off < n; i++) {
		const char *nl = memchr(s + off, '\n', n - off);
		off = nl ? (size_t)(nl - s) + 1 : n;
	}
	return off;
}

static void append_n(int n, const char *action)
{
	for (int i = 0; i < n; i++) {
		char q[32];
		snprintf(q, sizeof q, "from:user%d", i);
		const char *ids[] = { "aaaa", "bbbb" };
		ms_audit_entry e = { .user = "alice",
				     .host = "mx1",
				     .action = action,
				     .query = q,
				     .matched = (uint64_t)i,
				     .ids = ids,
				     .n_ids = (size_t)(i % 3) };
		char *err = NULL;
		ck_assert_int_eq(ms_audit_append(logpath, &e, &err), MS_OK);
		ck_assert_ptr_null(err);
	}
}

/* Checks that the last line's "repair" contains want (NULL: has none). */
static void last_repair_is(const char *want)
{
	size_t n;
	char *log = slurp(logpath, &n);
	ck_assert(n > 0 && log[n - 1] == '\n');
	size_t a = n - 1;
	while (a > 0 && log[a - 1] != '\n')
		a--;
	ms_audit_rec rec;
	ck_assert_int_eq(ms_audit_line_parse(log + a, n - 1 - a, &rec), MS_OK);
	if (!want)
		ck_assert_ptr_null(rec.repair);
	else
		ck_assert_msg(rec.repair && strstr(rec.repair, want), "%s",
			      rec.repair ? rec.repair : "(none)");
	ms_audit_rec_free(&rec);
	free(log);
}

static ms_audit_report verify(void)
{
	ms_audit_report r;
	char *err = NULL;
	ck_assert_int_eq(ms_audit_verify(logpath, &r, &err), MS_OK);
	ck_assert_ptr_null(err);
	return r;
}

/* ---- lines ---- */

typedef struct line_case {
	const char *user, *client, *host, *action, *query;
	size_t n_ids;
} line_case;

static const line_case line_cases[] = {
	{ "alice", NULL, "mx1", "search", "from:bob", 0 },
	{ "bob", "", "h", "count", NULL, 0 },
	{ "officer", "192.0.2.7", "web1", "show", "", 1 },
	{ "x", NULL, "h", "export", "quote\" back\\slash \n\t\x01 end", 3 },
	{ "caf\xc3\xa9", NULL, "h\xe6\x9d\xb1", "expire", "\xf0\x9f\x98\x80",
	  200 },
};

START_TEST(test_line_roundtrip)
{
	const line_case *c = &line_cases[_i];
	const char *ids[200];
	char idbuf[200][32];
	for (size_t i = 0; i < c->n_ids; i++) {
		snprintf(idbuf[i], sizeof idbuf[i], "id\"%zu", i);
		ids[i] = idbuf[i];
	}
	ms_audit_entry e = { c->user,  c->client, c->host, c->action,
			     c->query, 42,	  ids,	   c->n_ids };
	ms_buf b = MS_BUF_INIT;
	ms_audit_stamp stamp = {
		7,
		1714564800123456LL,
		99,
		0,
		MS_AUDIT_GENESIS,
		_i == 2 ? "removed a partial last line" : NULL
	};
	ck_assert_int_eq(ms_audit_line_format(&b, &e, &stamp), MS_OK);
	ck_assert(b.len > 2 && b.data[b.len - 1] == '\n');
	ck_assert_ptr_null(memchr(b.data, '\n', b.len - 1)); /* one line */
	ck_assert_ptr_nonnull(strstr(b.data, "2024-05-01T12:00:00.123456Z"));
	ms_audit_rec r;
	ck_assert_int_eq(ms_audit_line_parse(b.data, b.len - 1, &r), MS_OK);
	ck_assert_uint_eq(r.seq, 7);
	ck_assert_uint_eq(r.pid, 99);
	ck_assert_uint_eq(r.matched, 42);
	ck_assert_str_eq(r.time, "2024-05-01T12:00:00.123456Z");
	ck_assert_str_eq(r.user, c->user);
	ck_assert_str_eq(r.client, c->client ? c->client : "");
	ck_assert_str_eq(r.host, c->host);
	ck_assert_str_eq(r.action, c->action);
	if (c->query)
		ck_assert_str_eq(r.query, c->query);
	else
		ck_assert_ptr_null(r.query);
	ck_assert_uint_eq(r.n_ids, c->n_ids);
	for (size_t i = 0; i < c->n_ids; i++)
		ck_assert_str_eq(r.ids[i], ids[i]);
	ck_assert_str_eq(r.prev, MS_AUDIT_GENESIS);
	if (stamp.repair)
		ck_assert_str_eq(r.repair, stamp.repair);
	else
		ck_assert_ptr_null(r.repair);
	ms_audit_rec_free(&r);
	ms_buf_free(&b);
}
END_TEST

START_TEST(test_line_invalid_entry)
{
	ms_buf b = MS_BUF_INIT;
	ms_audit_entry no_user = { .action = "search" };
	ms_audit_entry no_action = { .user = "a", .action = "" };
	ms_audit_stamp s = { 1, 0, 1, 0, MS_AUDIT_GENESIS, NULL };
	ck_assert_int_eq(ms_audit_line_format(&b, &no_user, &s),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_audit_line_format(&b, &no_action, &s),
			 MS_ERR_INVALID);
	ck_assert_uint_eq(b.len, 0);
	ms_buf_free(&b);
}
END_TEST

#define Z64 MS_AUDIT_GENESIS
#define REQ "\"seq\":1,\"time\":\"t\",\"operator\":\"u\",\"action\":\"a\""

typedef struct parse_case {
	const char *line;
	ms_status_t want;
} parse_case;

static const parse_case parse_cases[] = {
	{ "{" REQ ",\"prev\":\"" Z64 "\"}", MS_OK },
	{ " { " REQ " , \"prev\" : \"" Z64 "\" } ", MS_OK },
	{ "{\"prev\":\"" Z64 "\"," REQ ",\"new\":[\"x\"],\"n\":null}", MS_OK },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"query\":\"\\u00e9\\ud83d\\ude00\"}",
	  MS_OK },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"ids\":[]}", MS_OK },
	{ "", MS_ERR_PARSE },
	{ "{}", MS_ERR_PARSE },
	{ "{" REQ "}", MS_ERR_PARSE },			     /* no prev */
	{ "{" REQ ",\"prev\":\"00\"}", MS_ERR_PARSE },	     /* short */
	{ "{" REQ ",\"prev\":\"" Z64 "\"}x", MS_ERR_PARSE }, /* trailing */
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"seq\":2}", MS_ERR_PARSE }, /* dup */
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"x\":{}}",
	  MS_ERR_PARSE }, /* nested */
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"x\":true}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"x\":1.5}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"x\":-1}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"matched\":01}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"matched\":18446744073709551616}",
	  MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"query\":\"\\x\"}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"query\":\"\\ud800\"}",
	  MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"query\":\"\\udc00\"}",
	  MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"query\":\"\\u0000\"}",
	  MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"query\":\"a\tb\"}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"ids\":[1]}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"ids\":\"x\"}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",\"ids\":[\"x\",]}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\",}", MS_ERR_PARSE },
	{ "{" REQ ",\"prev\":\"" Z64 "\"", MS_ERR_PARSE },
};

START_TEST(test_parse_table)
{
	const parse_case *c = &parse_cases[_i];
	ms_audit_rec r;
	ck_assert_msg(ms_audit_line_parse(c->line, strlen(c->line), &r) ==
			      c->want,
		      "%s", c->line);
	if (c->want == MS_OK)
		ck_assert_str_eq(r.user, "u");
	else
		ck_assert_ptr_null(r.user);
	ms_audit_rec_free(&r);
}
END_TEST

/* No proper prefix of a line is a valid line (a cut line is caught). */
START_TEST(test_parse_prefixes)
{
	const char *ids[] = { "a1", "b2" };
	ms_audit_entry e = { "alice",	     "::1", "h", "export",
			     "q \xc3\xa9\"", 2,	    ids, 2 };
	ms_audit_stamp stamp = {
		12, 5, 1, 0, MS_AUDIT_GENESIS, "head was 1 line(s) behind"
	};
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_audit_line_format(&b, &e, &stamp), MS_OK);
	size_t n = b.len - 1;
	for (size_t k = 0; k < n; k++) {
		char *p =
			malloc(k ? k : 1); /* exact size: ASan sees overreads */
		memcpy(p, b.data, k);
		ms_audit_rec r;
		ck_assert_msg(ms_audit_line_parse(p, k, &r) == MS_ERR_PARSE,
			      "prefix %zu", k);
		free(p);
	}
	ms_buf_free(&b);
}
END_TEST

/* ---- the chain ---- */

/* Checks every line's seq, prev and action against the chain and the
 * want list ("b0", "search", ...) and that the head ends the log;
 * the last line's hash goes to last_r. */
static void chain_is(const char *const *want, size_t n_want,
		     char last_r[MS_SHA256_HEX])
{
	size_t n;
	char *log = slurp(logpath, &n);
	char prev[MS_SHA256_HEX] = MS_AUDIT_GENESIS;
	size_t off = 0;
	for (size_t k = 0; k < n_want; k++) {
		const char *nl = memchr(log + off, '\n', n - off);
		ck_assert_ptr_nonnull(nl);
		size_t len = (size_t)(nl - (log + off));
		ms_audit_rec rec;
		ck_assert_int_eq(ms_audit_line_parse(log + off, len, &rec),
				 MS_OK);
		ck_assert_uint_eq(rec.seq, k + 1);
		ck_assert_str_eq(rec.prev, prev);
		ck_assert_str_eq(rec.action, want[k]);
		ms_audit_rec_free(&rec);
		ms_sha256_hex(log + off, len + 1, prev);
		off += len + 1;
	}
	ck_assert_uint_eq(off, n);
	char *head = slurp(headpath, &n), text[200];
	snprintf(text, sizeof text,
		 "mailsift-audit-head 1\nlines %zu\nbytes %zu\nlast %s\n",
		 n_want, off, prev);
	ck_assert_str_eq(head, text);
	memcpy(last_r, prev, MS_SHA256_HEX);
	free(head);
	free(log);
}

START_TEST(test_chain_links)
{
	ms_audit_report r = verify(); /* no log yet: an empty trail */
	ck_assert_int_eq(r.state, MS_AUDIT_INTACT);
	ck_assert_uint_eq(r.lines, 0);
	append_n(5, "search");
	r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_INTACT);
	ck_assert_uint_eq(r.lines, 5);
	ck_assert_uint_eq(r.head_lines, 5);
	last_repair_is(NULL);
	const char *want[] = { "search", "search", "search", "search",
			       "search" };
	char last[MS_SHA256_HEX];
	chain_is(want, 5, last);
	ck_assert_str_eq(r.last, last);
}
END_TEST

typedef enum damage_kind {
	D_FLIP,	      /* change one byte inside line `line` */
	D_DELETE,     /* remove line `line` */
	D_INSERT,     /* insert a copy of line 2 before line `line` */
	D_SWAP,	      /* swap lines `line` and `line` + 1 */
	D_CUT_LINES,  /* keep only lines before `line` */
	D_CUT_MID,    /* cut in the middle of line `line` */
	D_HEAD_GONE,  /* remove the head */
	D_HEAD_HASH,  /* change the head's hash */
	D_HEAD_BYTES, /* change the head's byte count */
	D_FORGE	      /* replace line `line` with a forged, re-linked one */
} damage_kind;

typedef struct damage {
	const char *what;
	damage_kind kind;
	int line;
	uint64_t bad_line;
	const char *says; /* in the message */
} damage;

static const damage damages[] = {
	{ "byte in line 3", D_FLIP, 3, 3, "changed" },
	{ "byte in line 1", D_FLIP, 1, 1, "changed" },
	{ "byte in the last line", D_FLIP, 6, 6, "changed" },
	{ "line 3 deleted", D_DELETE, 3, 3, "removed" },
	{ "line 1 deleted", D_DELETE, 1, 1, "removed" },
	{ "line inserted at 4", D_INSERT, 4, 4, "inserted" },
	{ "lines 3 and 4 swapped", D_SWAP, 3, 3, "removed" },
	{ "last line removed", D_CUT_LINES, 6, 6, "truncated" },
	{ "last 3 lines removed", D_CUT_LINES, 4, 4, "truncated" },
	{ "all lines removed", D_CUT_LINES, 1, 1, "truncated" },
	{ "cut inside line 6", D_CUT_MID, 6, 6, "truncated" },
	{ "cut inside line 4", D_CUT_MID, 4, 4, "truncated" },
	{ "head removed", D_HEAD_GONE, 0, 0, "head" },
	{ "head hash changed", D_HEAD_HASH, 0, 6, "head" },
	{ "head bytes changed", D_HEAD_BYTES, 0, 6, "bytes" },
	{ "line 4 forged and re-linked", D_FORGE, 4, 4, "changed" },
};

static void forge_line(ms_buf *out, const char *log, size_t n, int k)
{
	char prev[MS_SHA256_HEX];
	size_t a = line_start(log, n, k - 1), b = line_start(log, n, k);
	ms_sha256_hex(log + a, b - a, prev);
	ms_audit_stamp stamp = { (uint64_t)k, 0, 1, 0, prev, NULL };
	ms_audit_entry e = { .user = "mallory", .host = "h", .action = "x" };
	ck_assert_int_eq(ms_audit_line_format(out, &e, &stamp), MS_OK);
}

static void apply_damage(const damage *d, char *log, size_t n)
{
	ms_buf out = MS_BUF_INIT;
	size_t a = line_start(log, n, d->line),
	       b = line_start(log, n, d->line + 1);
	size_t c = line_start(log, n, d->line + 2);
	size_t l2 = line_start(log, n, 2), l3 = line_start(log, n, 3);
	switch (d->kind) {
	case D_FLIP:
		log[a + (b - a) / 2] ^= 0x01; /* inside the query or ids */
		ms_buf_append(&out, log, n);
		break;
	case D_DELETE:
		ms_buf_append(&out, log, a);
		ms_buf_append(&out, log + b, n - b);
		break;
	case D_INSERT:
		ms_buf_append(&out, log, a);
		ms_buf_append(&out, log + l2, l3 - l2);
		ms_buf_append(&out, log + a, n - a);
		break;
	case D_SWAP:
		ms_buf_append(&out, log, a);
		ms_buf_append(&out, log + b, c - b);
		ms_buf_append(&out, log + a, b - a);
		ms_buf_append(&out, log + c, n - c);
		break;
	case D_CUT_LINES:
		ms_buf_append(&out, log, a);
		break;
	case D_CUT_MID:
		ms_buf_append(&out, log, a + (b - a) / 2);
		break;
	case D_FORGE:
		ms_buf_append(&out, log, a);
		forge_line(&out, log, n, d->line);
		ms_buf_append(&out, log + b, n - b);
		break;
	default:
		ms_buf_append(&out, log, n);
	}
	spit(logpath, out.data, out.len);
	ms_buf_free(&out);
}

static void damage_head(damage_kind k)
{
	size_t n;
	char *head = slurp(headpath, &n);
	if (k == D_HEAD_GONE)
		ck_assert_int_eq(unlink(headpath), 0);
	if (k == D_HEAD_HASH)
		head[n - 2] = head[n - 2] == '0' ? '1' : '0';
	if (k == D_HEAD_BYTES) {
		char *p = strstr(head, "bytes ") + 6;
		*p = *p == '9' ? '1' : (char)(*p + 1);
	}
	if (k != D_HEAD_GONE)
		spit(headpath, head, n);
	free(head);
}

START_TEST(test_damage)
{
	const damage *d = &damages[_i];
	append_n(6, "show");
	size_t n;
	char *log = slurp(logpath, &n);
	apply_damage(d, log, n);
	damage_head(d->kind);
	ms_audit_report r = verify();
	ck_assert_msg(r.state == MS_AUDIT_DAMAGED, "%s: state %d (%s)", d->what,
		      r.state, r.message);
	ck_assert_msg(r.bad_line == d->bad_line, "%s: bad line %llu: %s",
		      d->what, (unsigned long long)r.bad_line, r.message);
	ck_assert_msg(strstr(r.message, d->says), "%s: %s", d->what, r.message);
	/* an append never hides damage to the log (a lost or miscounted
	 * head is rebuilt from an intact chain) */
	append_n(1, "search");
	if (d->kind == D_HEAD_GONE)
		last_repair_is("head missing: rebuilt from 6 lines");
	r = verify();
	ck_assert_msg(r.state == MS_AUDIT_DAMAGED || d->kind == D_HEAD_GONE ||
			      d->kind == D_HEAD_BYTES,
		      "%s after append: %s", d->what, r.message);
	free(log);
}
END_TEST

/* Half a line without newline: crash-cut, not damage; the next append
 * removes it and the chain goes on. */
START_TEST(test_crash_cut_repair)
{
	append_n(4, "count");
	size_t n0;
	char *before = slurp(logpath, &n0);
	FILE *f = fopen(logpath, "ab"); /* longer than the next line */
	fputs("{\"seq\":5,\"time\":\"2024-", f);
	for (int i = 0; i < 100; i++)
		fputs("query padding ", f);
	fclose(f);
	ms_audit_report r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_CRASH_CUT);
	ck_assert_uint_eq(r.lines, 4);
	ck_assert_ptr_nonnull(strstr(r.message, "incomplete"));
	append_n(1, "search");
	r = verify();
	ck_assert_msg(r.state == MS_AUDIT_INTACT, "%s", r.message);
	ck_assert_uint_eq(r.lines, 5);
	size_t n;
	char *after = slurp(logpath, &n);
	ck_assert(n > n0 && !memcmp(before, after, n0));
	ck_assert_ptr_null(strstr(after, "\"time\":\"2024-\n"));
	last_repair_is("removed a partial last line (1422 bytes)");
	append_n(1, "search");
	last_repair_is(NULL);
	free(before);
	free(after);
}
END_TEST

/* A crash-cut first line (no head yet) is repaired too. */
START_TEST(test_crash_cut_first)
{
	spit(logpath, "{\"seq\":1,", 9);
	ms_audit_report r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_CRASH_CUT);
	append_n(2, "search");
	r = verify();
	ck_assert_msg(r.state == MS_AUDIT_INTACT, "%s", r.message);
	ck_assert_uint_eq(r.lines, 2);
}
END_TEST

/* A crash after the line's fsync but before the head's rename: the head
 * is one line behind; verify says so (not damage); the next append takes
 * the line into the head. */
START_TEST(test_head_behind_repair)
{
	append_n(3, "search");
	size_t n;
	char *head = slurp(headpath, &n);
	append_n(1, "show");
	spit(headpath, head, n); /* the old head */
	ms_audit_report r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_HEAD_BEHIND);
	ck_assert_uint_eq(r.lines, 4);
	ck_assert_uint_eq(r.head_lines, 3);
	append_n(1, "count");
	last_repair_is("head was 1 line(s) behind");
	r = verify();
	ck_assert_msg(r.state == MS_AUDIT_INTACT, "%s", r.message);
	ck_assert_uint_eq(r.lines, 5);
	free(head);
}
END_TEST

/* A head more than one batch behind is no crash (one append or batch at
 * a time): an old head put back, or lines added by hand. */
START_TEST(test_head_rolled_back)
{
	append_n(3, "search");
	size_t n;
	char *head = slurp(headpath, &n);
	append_n(MS_AUDIT_BATCH_MAX + 1, "show");
	spit(headpath, head, n);
	ms_audit_report r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_DAMAGED);
	ck_assert_uint_eq(r.bad_line, 4);
	ck_assert_ptr_nonnull(strstr(r.message, "after the head"));
	free(head);
}
END_TEST

/* A cut in the middle of the log is not crash-cut: the next append keeps
 * the fragment (closed with a newline) and verify still names it. */
START_TEST(test_fragment_kept)
{
	append_n(5, "search");
	size_t n;
	char *log = slurp(logpath, &n);
	size_t a = line_start(log, n, 3), b = line_start(log, n, 4);
	spit(logpath, log, a + (b - a) / 2);
	append_n(1, "search");
	ms_audit_report r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_DAMAGED);
	ck_assert_uint_eq(r.bad_line, 3);
	size_t m;
	char *after = slurp(logpath, &m);
	ck_assert(m > a + (b - a) / 2);
	ck_assert(!memcmp(after, log, a + (b - a) / 2));
	ck_assert_int_eq(after[a + (b - a) / 2], '\n');
	last_repair_is("the head says");
	free(after);
	free(log);
}
END_TEST

/* A complete line after the head's end that does not continue the chain
 * is not taken into the head: verify names it, also after an append. */
START_TEST(test_foreign_line)
{
	append_n(6, "search");
	ms_buf b = MS_BUF_INIT;
	ms_audit_stamp stamp = { 7, 0, 1, 0, MS_AUDIT_GENESIS, NULL };
	ms_audit_entry e = { .user = "mallory", .host = "h", .action = "x" };
	ck_assert_int_eq(ms_audit_line_format(&b, &e, &stamp), MS_OK);
	FILE *f = fopen(logpath, "ab");
	fwrite(b.data, 1, b.len, f);
	fclose(f);
	ms_audit_report r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_DAMAGED);
	ck_assert_uint_eq(r.bad_line, 7);
	append_n(1, "search");
	last_repair_is("do not continue the chain");
	r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_DAMAGED);
	ck_assert_msg(r.bad_line == 7, "%s", r.message);
	ck_assert_uint_eq(r.lines, 7);
	ms_buf_free(&b);
}
END_TEST

#define KIDS 4
#define EACH 40

START_TEST(test_concurrent)
{
	pid_t kids[KIDS];
	for (int k = 0; k < KIDS; k++) {
		kids[k] = fork();
		ck_assert_int_ge(kids[k], 0);
		if (kids[k] == 0) {
			for (int i = 0; i < EACH; i++) {
				ms_audit_entry e = { .user = "k",
						     .action = "search" };
				if (ms_audit_append(logpath, &e, NULL) != MS_OK)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int k = 0; k < KIDS; k++) {
		int status;
		ck_assert_int_eq(waitpid(kids[k], &status, 0), kids[k]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ms_audit_report r = verify();
	ck_assert_msg(r.state == MS_AUDIT_INTACT, "%s", r.message);
	ck_assert_uint_eq(r.lines, KIDS * EACH);
}
END_TEST

START_TEST(test_io_errors)
{
	char bad[300];
	snprintf(bad, sizeof bad, "%s/no/such/dir/audit.log", tmpdir);
	ms_audit_entry e = { .user = "u", .action = "search" };
	char *err = NULL;
	ck_assert_int_eq(ms_audit_append(bad, &e, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, bad));
	ck_assert_ptr_null(strchr(err, '\n'));
	free(err);
	ms_audit_entry no_user = { .action = "search" };
	ck_assert_int_eq(ms_audit_append(logpath, &no_user, &err),
			 MS_ERR_INVALID);
	free(err);
	ck_assert_int_eq(access(logpath, F_OK), -1); /* nothing written */
	/* a directory where the log should be */
	ck_assert_int_eq(mkdir(logpath, 0700), 0);
	ms_audit_report r;
	ck_assert_int_eq(ms_audit_verify(logpath, &r, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(err);
	free(err);
}
END_TEST

typedef struct each_ctx {
	int lines, bad, stop_at;
} each_ctx;

static int each_fn(const char *line, size_t len, const ms_audit_rec *rec,
		   void *ctx)
{
	each_ctx *c = ctx;
	(void)line;
	ck_assert(len > 0);
	c->lines++;
	c->bad += rec == NULL;
	return c->stop_at && c->lines == c->stop_at;
}

START_TEST(test_each)
{
	each_ctx c = { 0, 0, 0 };
	ck_assert_int_eq(ms_audit_each(logpath, each_fn, &c, NULL), MS_OK);
	ck_assert_int_eq(c.lines, 0);
	append_n(3, "search");
	FILE *f = fopen(logpath, "ab");
	fputs("not json\n{\"seq\":", f); /* a bad line and a partial one */
	fclose(f);
	ck_assert_int_eq(ms_audit_each(logpath, each_fn, &c, NULL), MS_OK);
	ck_assert_int_eq(c.lines, 4);
	ck_assert_int_eq(c.bad, 1);
	c = (each_ctx){ 0, 0, 2 };
	ck_assert_int_eq(ms_audit_each(logpath, each_fn, &c, NULL),
			 MS_ERR_INVALID);
	ck_assert_int_eq(c.lines, 2);
}
END_TEST

/* ---- batches ---- */

/* Appends a batch of n entries by user (actions "b0", "b1", ...). */
static ms_status_t batch_n(size_t n, const char *user, char **err_r)
{
	ms_audit_entry e[MS_AUDIT_BATCH_MAX + 1];
	const ms_audit_entry *es[MS_AUDIT_BATCH_MAX + 1];
	char act[MS_AUDIT_BATCH_MAX + 1][8];
	ck_assert_uint_le(n, MS_AUDIT_BATCH_MAX + 1);
	for (size_t i = 0; i < n; i++) {
		snprintf(act[i], sizeof act[i], "b%zu", i);
		e[i] = (ms_audit_entry){ .user = user,
					 .client = "10.0.0.1",
					 .action = act[i],
					 .query = "q",
					 .matched = i };
		es[i] = &e[i];
	}
	return ms_audit_append_batch(logpath, es, n, err_r);
}

START_TEST(test_batch_chain)
{
	char *err = NULL;
	ck_assert_int_eq(batch_n(3, "web", &err), MS_OK);
	ck_assert_ptr_null(err);
	append_n(1, "search");
	ck_assert_int_eq(batch_n(1, "web", &err), MS_OK);
	ck_assert_int_eq(batch_n(MS_AUDIT_BATCH_MAX, "web", &err), MS_OK);
	append_n(1, "count");
	const char *want[3 + 1 + 1 + MS_AUDIT_BATCH_MAX + 1];
	char acts[MS_AUDIT_BATCH_MAX][8];
	size_t k = 0;
	want[k++] = "b0", want[k++] = "b1", want[k++] = "b2";
	want[k++] = "search", want[k++] = "b0";
	for (size_t i = 0; i < MS_AUDIT_BATCH_MAX; i++) {
		snprintf(acts[i], sizeof acts[i], "b%zu", i);
		want[k++] = acts[i];
	}
	want[k++] = "count";
	char last[MS_SHA256_HEX];
	chain_is(want, k, last);
	ms_audit_report r = verify();
	ck_assert_msg(r.state == MS_AUDIT_INTACT, "%s", r.message);
	ck_assert_uint_eq(r.lines, k);
	last_repair_is(NULL);
}
END_TEST

/* A crash-cut tail before a batch: removed, noted on the batch's first
 * line and on no other. */
START_TEST(test_batch_crash_cut)
{
	append_n(2, "search");
	FILE *f = fopen(logpath, "ab");
	fputs("{\"seq\":3,\"time\":", f);
	fclose(f);
	ck_assert_int_eq(verify().state, MS_AUDIT_CRASH_CUT);
	ck_assert_int_eq(batch_n(4, "web", NULL), MS_OK);
	ms_audit_report r = verify();
	ck_assert_msg(r.state == MS_AUDIT_INTACT, "%s", r.message);
	ck_assert_uint_eq(r.lines, 6);
	last_repair_is(NULL);
	size_t n;
	char *log = slurp(logpath, &n);
	size_t a = line_start(log, n, 3), b = line_start(log, n, 4);
	ms_audit_rec rec;
	ck_assert_int_eq(ms_audit_line_parse(log + a, b - a - 1, &rec), MS_OK);
	ck_assert_ptr_nonnull(rec.repair);
	ck_assert_ptr_nonnull(strstr(rec.repair, "removed a partial last"));
	ms_audit_rec_free(&rec);
	ck_assert_ptr_null(strstr(log + b, "repair"));
	free(log);
}
END_TEST

/* A crash after a whole batch's fsync, before its head: the head is the
 * batch's size behind; verify says so, the next append repairs it. */
START_TEST(test_batch_head_behind)
{
	append_n(3, "search");
	size_t n;
	char *head = slurp(headpath, &n);
	ck_assert_int_eq(batch_n(MS_AUDIT_BATCH_MAX, "web", NULL), MS_OK);
	spit(headpath, head, n);
	ms_audit_report r = verify();
	ck_assert_int_eq(r.state, MS_AUDIT_HEAD_BEHIND);
	ck_assert_uint_eq(r.head_lines, 3);
	ck_assert_ptr_nonnull(strstr(r.message, "lines 4-"));
	ck_assert_int_eq(batch_n(2, "web", NULL), MS_OK);
	r = verify();
	ck_assert_msg(r.state == MS_AUDIT_INTACT, "%s", r.message);
	ck_assert_uint_eq(r.lines, 3 + MS_AUDIT_BATCH_MAX + 2);
	append_n(1, "count");
	free(head);
	char want[64];
	snprintf(want, sizeof want, "head was %d line(s) behind",
		 MS_AUDIT_BATCH_MAX);
	head = slurp(logpath, &n);
	ck_assert_ptr_nonnull(strstr(head, want));
	free(head);
}
END_TEST

/* A bad entry anywhere, or more than MS_AUDIT_BATCH_MAX: nothing
 * written; n = 0: nothing to do. */
START_TEST(test_batch_invalid)
{
	char *err = NULL;
	ck_assert_int_eq(ms_audit_append_batch(logpath, NULL, 0, &err), MS_OK);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(access(logpath, F_OK), -1);
	ms_audit_entry good = { .user = "u", .action = "search" };
	ms_audit_entry bad = { .user = "u", .action = "" };
	const ms_audit_entry *es[] = { &good, &good, &bad };
	ck_assert_int_eq(ms_audit_append_batch(logpath, es, 3, &err),
			 MS_ERR_INVALID);
	ck_assert_ptr_nonnull(err);
	free(err);
	ck_assert_int_eq(batch_n(MS_AUDIT_BATCH_MAX + 1, "web", &err),
			 MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	free(err);
	ck_assert_int_eq(access(logpath, F_OK), -1);
	ck_assert_int_eq(ms_audit_append_batch(logpath, es, 2, NULL), MS_OK);
	ck_assert_uint_eq(verify().lines, 2);
}
END_TEST

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("lines");
	tcase_add_loop_test(tc, test_line_roundtrip, 0,
			    sizeof line_cases / sizeof line_cases[0]);
	tcase_add_test(tc, test_line_invalid_entry);
	tcase_add_loop_test(tc, test_parse_table, 0,
			    sizeof parse_cases / sizeof parse_cases[0]);
	tcase_add_test(tc, test_parse_prefixes);
	suite_add_tcase(s, tc);
	tc = tcase_create("chain");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chain_links);
	tcase_add_loop_test(tc, test_damage, 0,
			    sizeof damages / sizeof damages[0]);
	tcase_add_test(tc, test_crash_cut_repair);
	tcase_add_test(tc, test_crash_cut_first);
	tcase_add_test(tc, test_head_behind_repair);
	tcase_add_test(tc, test_head_rolled_back);
	tcase_add_test(tc, test_fragment_kept);
	tcase_add_test(tc, test_foreign_line);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_io_errors);
	tcase_add_test(tc, test_each);
	tcase_add_test(tc, test_batch_chain);
	tcase_add_test(tc, test_batch_crash_cut);
	tcase_add_test(tc, test_batch_head_behind);
	tcase_add_test(tc, test_batch_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(audit_suite());
}
