/* test_export.c - unit tests for CSV records (ms_csv) and exports
 * (ms_export: the writer and the verifier) in a temporary directory. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_csv.h"
#include "ms_export.h"
#include "ms_hash.h"
#include "support_util.h"

/* ---- CSV ---- */

static const struct {
	const char *in, *written, *read_back;
} csv_cases[] = {
	{ "", "", "" },
	{ "plain", "plain", "plain" },
	{ "a,b", "\"a,b\"", "a,b" },
	{ "say \"hi\"", "\"say \"\"hi\"\"\"", "say \"hi\"" },
	{ "two\nlines", "\"two\nlines\"", "two\nlines" },
	{ "cr\rlf\r\n", "\"cr\rlf\r\n\"", "cr\rlf\r\n" },
	{ " spaced ", " spaced ", " spaced " },
	{ "caf\xc3\xa9 \xe6\x9d\xb1", "caf\xc3\xa9 \xe6\x9d\xb1",
	  "caf\xc3\xa9 \xe6\x9d\xb1" },
	{ "bad\xff,", "\"bad\xef\xbf\xbd,\"", "bad\xef\xbf\xbd," },
	{ "\"", "\"\"\"\"", "\"" },
};

/* Each value written as the middle of three fields reads back. */
START_TEST(test_csv_table)
{
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_csv_field(&b, "x", 1), MS_OK);
	ck_assert_int_eq(ms_csv_field(&b, csv_cases[_i].in, 0), MS_OK);
	ck_assert_int_eq(ms_csv_field(&b, NULL, 0), MS_OK);
	ck_assert_int_eq(ms_csv_end(&b), MS_OK);
	char want[128];
	snprintf(want, sizeof want, "x,%s,\r\n", csv_cases[_i].written);
	ck_assert_str_eq(b.data, want);
	ms_csv_row r = { 0 };
	size_t off = 0;
	ck_assert_int_eq(ms_csv_next(b.data, b.len, &off, &r), MS_OK);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_str_eq(r.f[0], "x");
	ck_assert_str_eq(r.f[1], csv_cases[_i].read_back);
	ck_assert_str_eq(r.f[2], "");
	ck_assert_uint_eq(off, b.len);
	ck_assert_int_eq(ms_csv_next(b.data, b.len, &off, &r), MS_ERR_NOTFOUND);
	ms_csv_row_free(&r);
	ms_buf_free(&b);
}
END_TEST

static const struct {
	const char *in;
	ms_status_t st;
	size_t n;
} csv_read_cases[] = {
	{ "a,b\nc", MS_OK, 2 }, /* LF ends a record too */
	{ "a", MS_OK, 1 },	/* no final line break */
	{ "\"open", MS_ERR_PARSE, 0 },
	{ "\"a\"b,c\r\n", MS_ERR_PARSE, 0 },
	{ ",,\r\n", MS_OK, 3 },
	{ "a\rb\r\n", MS_OK, 1 },
	{ ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\r\n", MS_ERR_PARSE, 0 }, /* 33 */
};

START_TEST(test_csv_read_table)
{
	ms_csv_row r = { 0 };
	size_t off = 0, len = strlen(csv_read_cases[_i].in);
	ms_status_t st = ms_csv_next(csv_read_cases[_i].in, len, &off, &r);
	ck_assert_int_eq(st, csv_read_cases[_i].st);
	if (!st)
		ck_assert_uint_eq(r.n, csv_read_cases[_i].n);
	else
		ck_assert_uint_eq(off, 0);
	ms_csv_row_free(&r);
}
END_TEST

/* Every prefix of a tricky file parses or fails cleanly, never reads
 * past its end (ASan), and the whole parses to the same rows. */
START_TEST(test_csv_prefixes)
{
	const char *in = "id,\"a \"\"q\"\",\r\nb\",x\r\n\"\",\"\"\"\"\r\nlast";
	size_t len = strlen(in);
	for (size_t n = 0; n <= len; n++) {
		char *p = malloc(n ? n : 1);
		memcpy(p, in, n);
		ms_csv_row r = { 0 };
		size_t off = 0, rows = 0;
		ms_status_t st;
		while ((st = ms_csv_next(p, n, &off, &r)) == MS_OK)
			rows++;
		ck_assert(st == MS_ERR_NOTFOUND || st == MS_ERR_PARSE);
		if (n == len) {
			ck_assert_int_eq(st, MS_ERR_NOTFOUND);
			ck_assert_uint_eq(rows, 3);
		}
		ms_csv_row_free(&r);
		free(p);
	}
}
END_TEST

/* ---- exports ---- */

typedef struct probs {
	char lines[4096];
	unsigned n;
} probs;

static void on_problem(const char *line, void *ctx)
{
	probs *p = ctx;
	size_t l = strlen(p->lines);
	snprintf(p->lines + l, sizeof p->lines - l, "%s\n", line);
	p->n++;
}

static const char *const MSGS[] = {
	"Subject: one\n\nFrom the start\n>From quoted\n",
	"Subject: two, \"quoted\"\n\nno final newline",
	"Subject: three\r\n\r\nCRLF\r\nFrom x\r\n",
	"",
	"Subject: five\n\nends with a blank line\n\n",
};
#define N_MSGS (sizeof MSGS / sizeof MSGS[0])

static void hit_for(size_t i, ms_hit *h, char id[32], char sha[65])
{
	snprintf(id, 32, "id%zu", i);
	ms_sha256_hex(MSGS[i], strlen(MSGS[i]), sha);
	*h = (ms_hit){ .id = id,
		       .message_id = "m@x",
		       .from = "A, B <a@x>",
		       .to = "t@x",
		       .subject = "s\nt",
		       .sha256 = sha,
		       .sender = i == 0 ? "env@x" : "",
		       .date = 1030000000 };
}

static char *make_export(ms_export_format fmt, char **tmp)
{
	*tmp = ms_test_tmpdir("export");
	char *dir = NULL;
	ck_assert_int_ge(asprintf(&dir, "%s/out", *tmp), 0);
	ms_export *ex = NULL;
	ck_assert_int_eq(ms_export_begin(dir, fmt, &ex, NULL), MS_OK);
	for (size_t i = 0; i < N_MSGS; i++) {
		ms_hit h;
		char id[32], sha[65];
		hit_for(i, &h, id, sha);
		ck_assert_int_eq(
			ms_export_add(ex, &h, MSGS[i], strlen(MSGS[i])), MS_OK);
	}
	ck_assert_uint_eq(ms_export_count(ex), N_MSGS);
	ck_assert_int_eq(ms_export_finish(&ex, NULL), MS_OK);
	ck_assert_ptr_null(ex);
	return dir;
}

static unsigned verify(const char *dir, probs *p)
{
	memset(p, 0, sizeof *p);
	ms_export_verify_ops ops = { on_problem, NULL, p };
	ms_export_check res;
	ck_assert_int_eq(ms_export_verify(dir, &ops, &res, NULL), MS_OK);
	ck_assert_uint_eq(res.problems, p->n);
	return p->n;
}

static void write_file(const char *dir, const char *name, const char *data)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fputs(data, f);
	fclose(f);
}

/* Flips one byte at offset off of dir/name. */
static void flip(const char *dir, const char *name, long off)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR);
	unsigned char c;
	ck_assert_int_eq(pread(fd, &c, 1, off), 1);
	c ^= 0x20;
	ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

START_TEST(test_export_mbox_clean_then_damaged)
{
	char *tmp, *dir = make_export(MS_EXPORT_MBOX, &tmp);
	probs p;
	ck_assert_uint_eq(verify(dir, &p), 0);
	/* "no final newline": one newline was added, then the separator */
	flip(dir, MS_EXPORT_MBOX_FILE, 60);
	ck_assert_uint_eq(verify(dir, &p), 2);
	ck_assert_ptr_nonnull(
		strstr(p.lines, "messages.mbox: SHA-256 does not match"));
	ck_assert_ptr_nonnull(
		strstr(p.lines, "messages.mbox: id id0 at offset 0: SHA-256"));
	flip(dir, MS_EXPORT_MBOX_FILE, 60);
	ck_assert_uint_eq(verify(dir, &p), 0);
	write_file(dir, "stray.txt", "x");
	ck_assert_uint_eq(verify(dir, &p), 1);
	ck_assert_str_eq(p.lines,
			 "stray.txt: extra file (not in the manifest)\n");
	free(dir);
	ms_test_tmpdir_free(&tmp);
}
END_TEST

START_TEST(test_export_eml_problems)
{
	char *tmp, *dir = make_export(MS_EXPORT_EML, &tmp);
	probs p;
	ck_assert_uint_eq(verify(dir, &p), 0);
	flip(dir, "id0.eml", 3);
	ck_assert_uint_eq(verify(dir, &p), 1);
	ck_assert_str_eq(p.lines, "id0.eml: id id0: SHA-256 mismatch\n");
	flip(dir, "id0.eml", 3);
	char path[512];
	snprintf(path, sizeof path, "%s/id1.eml", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_uint_eq(verify(dir, &p), 1);
	ck_assert_str_eq(p.lines, "id1.eml: missing (id id1)\n");
	write_file(dir, "id1.eml", MSGS[2]);
	ck_assert_uint_eq(verify(dir, &p), 1);
	ck_assert_ptr_nonnull(strstr(p.lines, "id1.eml: id id1: size"));
	flip(dir, "manifest.csv", 70);
	ck_assert_uint_ge(verify(dir, &p), 2);
	ck_assert_ptr_nonnull(
		strstr(p.lines, "manifest.csv: SHA-256 does not match"));
	snprintf(path, sizeof path, "%s/manifest.sha256", dir);
	ck_assert_int_eq(unlink(path), 0);
	verify(dir, &p);
	ck_assert_ptr_nonnull(strstr(p.lines, "manifest.sha256: missing"));
	free(dir);
	ms_test_tmpdir_free(&tmp);
}
END_TEST

START_TEST(test_export_refusals)
{
	char *tmp = ms_test_tmpdir("export");
	ms_export *ex = NULL;
	char *err = NULL;
	write_file(tmp, "keep", "mine");
	ck_assert_int_eq(ms_export_begin(tmp, MS_EXPORT_EML, &ex, &err),
			 MS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(err, "refusing to overwrite"));
	free(err);
	char path[512];
	snprintf(path, sizeof path, "%s/keep", tmp);
	ck_assert_int_eq(access(path, F_OK), 0); /* untouched */
	ck_assert_int_eq(ms_export_begin(path, MS_EXPORT_EML, &ex, &err),
			 MS_ERR_INVALID);
	free(err);
	/* a damaged message or a bad id stops it; abort removes everything */
	snprintf(path, sizeof path, "%s/new", tmp);
	ck_assert_int_eq(ms_export_begin(path, MS_EXPORT_MBOX, &ex, NULL),
			 MS_OK);
	ms_hit h;
	char id[32], sha[65];
	hit_for(0, &h, id, sha);
	ck_assert_int_eq(ms_export_add(ex, &h, "tampered", 8), MS_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(ms_export_error(ex), "damaged"));
	h.id = "../x";
	ck_assert_int_eq(ms_export_add(ex, &h, MSGS[0], strlen(MSGS[0])),
			 MS_ERR_INVALID);
	ms_export_abort(&ex);
	ck_assert_int_eq(access(path, F_OK), -1);
	ms_export_format fmt;
	ck_assert_int_eq(ms_export_format_parse("maildir", &fmt),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_export_format_parse("eml", &fmt), MS_OK);
	ck_assert_int_eq(fmt, MS_EXPORT_EML);
	ms_test_tmpdir_free(&tmp);
}
END_TEST

/* Abort removes only what the export wrote; a second export into the
 * same directory is refused and leaves the first alone. */
START_TEST(test_export_abort_scope)
{
	char *tmp = ms_test_tmpdir("export");
	ms_export *ex = NULL, *ex2 = NULL;
	ck_assert_int_eq(ms_export_begin(tmp, MS_EXPORT_EML, &ex, NULL), MS_OK);
	ms_hit h;
	char id[32], sha[65], path[512];
	hit_for(0, &h, id, sha);
	ck_assert_int_eq(ms_export_add(ex, &h, MSGS[0], strlen(MSGS[0])),
			 MS_OK);
	ck_assert_int_eq(ms_export_begin(tmp, MS_EXPORT_EML, &ex2, NULL),
			 MS_ERR_INVALID);
	write_file(tmp, "foreign", "not ours");
	ms_export_abort(&ex);
	snprintf(path, sizeof path, "%s/foreign", tmp);
	ck_assert_int_eq(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/id0.eml", tmp);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof path, "%s/manifest.csv", tmp);
	ck_assert_int_eq(access(path, F_OK), -1);
	ms_test_tmpdir_free(&tmp);
}
END_TEST

/* An empty existing directory is taken and kept; an export of nothing
 * is valid. */
START_TEST(test_export_empty)
{
	char *tmp = ms_test_tmpdir("export");
	ms_export *ex = NULL;
	ck_assert_int_eq(ms_export_begin(tmp, MS_EXPORT_MBOX, &ex, NULL),
			 MS_OK);
	ck_assert_int_eq(ms_export_finish(&ex, NULL), MS_OK);
	probs p;
	ck_assert_uint_eq(verify(tmp, &p), 0);
	struct stat sb;
	char path[512];
	snprintf(path, sizeof path, "%s/%s", tmp, MS_EXPORT_MBOX_FILE);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ms_test_tmpdir_free(&tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("export");
	TCase *tc = tcase_create("csv");
	tcase_add_loop_test(tc, test_csv_table, 0,
			    sizeof csv_cases / sizeof csv_cases[0]);
	tcase_add_loop_test(tc, test_csv_read_table, 0,
			    sizeof csv_read_cases / sizeof csv_read_cases[0]);
	tcase_add_test(tc, test_csv_prefixes);
	suite_add_tcase(s, tc);
	TCase *te = tcase_create("export");
	tcase_add_test(te, test_export_mbox_clean_then_damaged);
	tcase_add_test(te, test_export_eml_problems);
	tcase_add_test(te, test_export_refusals);
	tcase_add_test(te, test_export_empty);
	tcase_add_test(te, test_export_abort_scope);
	suite_add_tcase(s, te);
	return ms_test_run(s);
}
