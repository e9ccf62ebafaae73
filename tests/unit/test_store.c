/* test_store.c - Check tests for the raw-message store (ms_store.h).
 *
 * Round trips (empty, 1 byte, text, 5 MB incompressible), idempotent puts,
 * missing files, damaged files (table of corruptions), I/O errors with
 * messages, invalid arguments, byte accounting, no temporary files left.
 * Every test works in its own mkdtemp directory and removes it.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_buf.h"
#include "ms_hash.h"
#include "ms_store.h"
#include "support_util.h"

static char *tmpdir;
static char storedir[128];

static void setup(void)
{
	tmpdir = ms_test_tmpdir("test_store");
	snprintf(storedir, sizeof storedir, "%s/store", tmpdir);
}

static void teardown(void)
{
	ms_test_tmpdir_free(&tmpdir);
}

static ms_store *open_store(void)
{
	ms_store *st = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_store_open(storedir, 1, &st, &err), MS_OK);
	ck_assert_ptr_null(err);
	return st;
}

/* Path of the stored file for hex. */
static void file_path(char *out, size_t n, const char *hex)
{
	snprintf(out, n, "%s/%.2s/%s", storedir, hex, hex);
}

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

enum { K_EMPTY, K_ONE, K_TEXT, K_RANDOM };
static const size_t rt_sizes[] = { 0, 1, 200000, 5 * 1024 * 1024 };

static unsigned char *make_input(int kind, size_t *len_r)
{
	size_t n = rt_sizes[kind];
	unsigned char *p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	if (kind == K_ONE)
		p[0] = 'x';
	if (kind == K_TEXT)
		for (size_t i = 0; i < n; i++)
			p[i] = "Subject: hello\r\nSome body text, line.\r\n"
				[i % 40];
	if (kind == K_RANDOM)
		fill_random(p, n, 42);
	*len_r = n;
	return p;
}

START_TEST(test_roundtrip)
{
	size_t len;
	unsigned char *in = make_input(_i, &len);
	char hex[MS_SHA256_HEX];
	ck_assert_int_eq(ms_sha256_hex(in, len, hex), MS_OK);
	ms_store *st = open_store();
	int yes = 1;
	ck_assert_int_eq(ms_store_has(st, hex, &yes), MS_OK);
	ck_assert_int_eq(yes, 0);
	ck_assert_int_eq(ms_store_put(st, hex, in, len, _i & 1), MS_OK);
	ck_assert_int_eq(ms_store_has(st, hex, &yes), MS_OK);
	ck_assert_int_eq(yes, 1);
	ms_buf out = MS_BUF_INIT;
	ms_buf_puts(&out, "prefix:");
	ck_assert_int_eq(ms_store_get(st, hex, &out), MS_OK);
	ck_assert_uint_eq(out.len, len + 7);
	ck_assert(memcmp(out.data, "prefix:", 7) == 0);
	ck_assert(len == 0 || memcmp(out.data + 7, in, len) == 0);
	ck_assert_int_eq(ms_store_sync(st), MS_OK);
	ms_store_close(&st);
	ck_assert_ptr_null(st);
	/* a new handle reads it too */
	st = open_store();
	ms_buf_reset(&out);
	ck_assert_int_eq(ms_store_get(st, hex, &out), MS_OK);
	ck_assert_uint_eq(out.len, len);
	ms_buf_free(&out);
	ms_store_close(&st);
	free(in);
}
END_TEST

START_TEST(test_compresses_text)
{
	size_t len;
	unsigned char *in = make_input(K_TEXT, &len);
	char hex[MS_SHA256_HEX];
	ms_sha256_hex(in, len, hex);
	ms_store *st = open_store();
	ck_assert_int_eq(ms_store_put(st, hex, in, len, 0), MS_OK);
	unsigned long long bytes, files;
	ck_assert_int_eq(ms_store_bytes(st, &bytes, &files), MS_OK);
	ck_assert_uint_eq(files, 1);
	ck_assert_uint_lt(bytes, len / 10);
	char path[256];
	struct stat sb;
	file_path(path, sizeof path, hex);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(bytes, (unsigned long long)sb.st_size);
	ms_store_close(&st);
	free(in);
}
END_TEST

/* Number of entries (excluding . and ..) in dir. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	ck_assert_ptr_nonnull(d);
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

START_TEST(test_idempotent)
{
	const char *a = "first content", *b = "other content";
	char hex[MS_SHA256_HEX], leaf[256];
	ms_sha256_hex(a, strlen(a), hex);
	ms_store *st = open_store();
	ck_assert_int_eq(ms_store_put(st, hex, a, strlen(a), 0), MS_OK);
	/* present: a no-op, even with other bytes (not re-checked) */
	ck_assert_int_eq(ms_store_put(st, hex, b, strlen(b), 0), MS_OK);
	ck_assert_int_eq(ms_store_put(st, hex, b, strlen(b), 1), MS_OK);
	ms_buf out = MS_BUF_INIT;
	ck_assert_int_eq(ms_store_get(st, hex, &out), MS_OK);
	ck_assert_str_eq(out.data, a);
	unsigned long long bytes, files;
	ck_assert_int_eq(ms_store_bytes(st, &bytes, &files), MS_OK);
	ck_assert_uint_eq(files, 1);
	snprintf(leaf, sizeof leaf, "%s/%.2s", storedir, hex);
	ck_assert_int_eq(count_entries(leaf), 1); /* no temp files left */
	ms_buf_free(&out);
	ms_store_close(&st);
}
END_TEST

START_TEST(test_short_file_rewritten)
{
	/* a zero-length file left by a crash before sync is not "present" */
	const char *a = "some message";
	char hex[MS_SHA256_HEX], path[256];
	ms_sha256_hex(a, strlen(a), hex);
	ms_store *st = open_store();
	ck_assert_int_eq(ms_store_put(st, hex, a, strlen(a), 0), MS_OK);
	file_path(path, sizeof path, hex);
	ck_assert_int_eq(truncate(path, 0), 0);
	int yes = 1;
	ck_assert_int_eq(ms_store_has(st, hex, &yes), MS_OK);
	ck_assert_int_eq(yes, 0);
	ck_assert_int_eq(ms_store_put(st, hex, a, strlen(a), 1), MS_OK);
	ms_buf out = MS_BUF_INIT;
	ck_assert_int_eq(ms_store_get(st, hex, &out), MS_OK);
	ck_assert_str_eq(out.data, a);
	ms_buf_free(&out);
	ms_store_close(&st);
}
END_TEST

START_TEST(test_many)
{
	ms_store *st = open_store();
	char hex[MS_SHA256_HEX], msg[64];
	for (int i = 0; i < 300; i++) {
		int n = snprintf(msg, sizeof msg, "message %d", i);
		ms_sha256_hex(msg, (size_t)n, hex);
		ck_assert_int_eq(
			ms_store_put(st, hex, msg, (size_t)n, i % 7 == 0),
			MS_OK);
	}
	ck_assert_int_eq(ms_store_sync(st), MS_OK);
	unsigned long long bytes, files;
	ck_assert_int_eq(ms_store_bytes(st, &bytes, &files), MS_OK);
	ck_assert_uint_eq(files, 300);
	ck_assert_uint_gt(bytes, 300 * 13);
	ms_buf out = MS_BUF_INIT;
	for (int i = 0; i < 300; i++) {
		int n = snprintf(msg, sizeof msg, "message %d", i);
		ms_sha256_hex(msg, (size_t)n, hex);
		ms_buf_reset(&out);
		ck_assert_int_eq(ms_store_get(st, hex, &out), MS_OK);
		ck_assert_str_eq(out.data, msg);
	}
	ms_buf_free(&out);
	ms_store_close(&st);
}
END_TEST

START_TEST(test_missing)
{
	ms_store *st = open_store();
	char hex[MS_SHA256_HEX];
	ms_sha256_hex("nothing", 7, hex);
	ms_buf out = MS_BUF_INIT;
	ck_assert_int_eq(ms_store_get(st, hex, &out), MS_ERR_NOTFOUND);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_ptr_nonnull(strstr(ms_store_error(st), hex));
	int yes = 1;
	ck_assert_int_eq(ms_store_has(st, hex, &yes), MS_OK);
	ck_assert_int_eq(yes, 0);
	unsigned long long bytes = 1, files = 1;
	ck_assert_int_eq(ms_store_bytes(st, &bytes, &files), MS_OK);
	ck_assert_uint_eq(bytes + files, 0);
	ms_buf_free(&out);
	ms_store_close(&st);
}
END_TEST

/* ---- corruption table ---- */

typedef struct damage {
	const char *name;
	long off;	    /* byte to change (negative: from the end) */
	unsigned char xor ; /* xor mask applied there */
	long truncate;	    /* >= 0: truncate the file to this length */
	long chop;	    /* > 0: remove this many bytes from the end */
} damage;

static const damage damages[] = {
	{ "bad magic", 0, 0x20, -1, 0 },
	{ "magic version", 3, 0x01, -1, 0 },
	{ "unknown method", 4, 0x80, -1, 0 },
	{ "encrypted method (not yet)", 4, 0x01, -1, 0 },
	{ "length too long", 12, 0x01, -1, 0 },
	{ "length huge", 5, 0x7f, -1, 0 },
	{ "zlib header", 13, 0xff, -1, 0 },
	{ "flipped payload", 40, 0xa5, -1, 0 },
	{ "flipped checksum", -1, 0x01, -1, 0 },
	{ "truncated header", 0, 0, 7, 0 },
	{ "empty file", 0, 0, 0, 0 },
	{ "header only", 0, 0, 13, 0 },
	{ "chopped tail", 0, 0, -1, 9 },
};

static void apply_damage(const char *path, const damage *d)
{
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	struct stat sb;
	ck_assert_int_eq(fstat(fd, &sb), 0);
	if (d->truncate >= 0) {
		ck_assert_int_eq(ftruncate(fd, d->truncate), 0);
	} else if (d->chop > 0) {
		ck_assert_int_eq(ftruncate(fd, sb.st_size - d->chop), 0);
	} else {
		off_t off = d->off >= 0 ? d->off : sb.st_size + d->off;
		unsigned char c;
		ck_assert_int_eq(pread(fd, &c, 1, off), 1);
		c ^= d->xor ;
		ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
	}
	close(fd);
}

START_TEST(test_corrupt)
{
	const damage *d = &damages[_i];
	size_t len;
	unsigned char *in = make_input(K_TEXT, &len);
	char hex[MS_SHA256_HEX], path[256];
	ms_sha256_hex(in, len, hex);
	ms_store *st = open_store();
	ck_assert_msg(ms_store_put(st, hex, in, len, 0) == MS_OK, "%s",
		      ms_store_error(st));
	file_path(path, sizeof path, hex);
	apply_damage(path, d);
	ms_buf out = MS_BUF_INIT;
	ms_buf_puts(&out, "keep");
	ms_status_t s = ms_store_get(st, hex, &out);
	ck_assert_msg(s == MS_ERR_CORRUPT, "%s: got %s", d->name,
		      ms_status_str(s));
	ck_assert_str_eq(out.data, "keep"); /* unchanged on error */
	ck_assert_ptr_nonnull(strstr(ms_store_error(st), hex));
	ms_buf_free(&out);
	ms_store_close(&st);
	free(in);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_open_errors)
{
	ms_store *st = (ms_store *)1;
	char *err = NULL, path[256];
	snprintf(path, sizeof path, "%s/no/such/dir", tmpdir);
	ck_assert_int_eq(ms_store_open(path, 1, &st, &err), MS_ERR_IO);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
	free(err);
	/* a regular file where the directory should be */
	snprintf(path, sizeof path, "%s/file", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(ms_store_open(path, 1, &st, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOTDIR)));
	free(err);
	ck_assert_int_eq(ms_store_open(storedir, 0, &st, &err), MS_ERR_INVALID);
	ck_assert_ptr_null(st);
	free(err);
	ck_assert_int_eq(ms_store_open(storedir, 10, &st, NULL),
			 MS_ERR_INVALID);
}
END_TEST

START_TEST(test_unwritable)
{
	ms_store *st = open_store();
	char hex[MS_SHA256_HEX], path[256];
	ms_sha256_hex("x", 1, hex);
	/* "ab" is a regular file, so "ab/<hex>" cannot be made (works as root,
	 * where permission bits would not stop us) */
	snprintf(path, sizeof path, "%s/%.2s", storedir, hex);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(ms_store_put(st, hex, "x", 1, 1), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(ms_store_error(st), storedir));
	ck_assert_ptr_nonnull(strstr(ms_store_error(st), strerror(ENOTDIR)));
	ms_buf out = MS_BUF_INIT;
	ck_assert_int_eq(ms_store_get(st, hex, &out), MS_ERR_IO);
	int yes;
	ck_assert_int_eq(ms_store_has(st, hex, &yes), MS_ERR_IO);
	ms_store_close(&st);
	if (geteuid() != 0) { /* permission bits only matter to non-root */
		unlink(path);
		ck_assert_int_eq(chmod(storedir, 0500), 0);
		st = open_store();
		ck_assert_int_eq(ms_store_put(st, hex, "x", 1, 0), MS_ERR_IO);
		ck_assert_ptr_nonnull(
			strstr(ms_store_error(st), strerror(EACCES)));
		ms_store_close(&st);
		chmod(storedir, 0700);
	}
}
END_TEST

START_TEST(test_bad_hex)
{
	static const char *const bad[] = {
		"",
		"abc",
		"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B8"
		"55",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"5",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
		"555",
		"../"
		"0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	};
	ms_store *st = open_store();
	ms_buf out = MS_BUF_INIT;
	int yes;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(ms_store_put(st, bad[i], "x", 1, 0),
				 MS_ERR_INVALID);
		ck_assert_int_eq(ms_store_get(st, bad[i], &out),
				 MS_ERR_INVALID);
		ck_assert_int_eq(ms_store_has(st, bad[i], &yes),
				 MS_ERR_INVALID);
	}
	ck_assert_uint_eq(out.len, 0);
	ms_store_close(&st);
	ms_store_close(&st); /* NULL-safe */
	ms_store_close(NULL);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_roundtrip, K_EMPTY, K_RANDOM + 1);
	tcase_add_test(tc, test_compresses_text);
	tcase_add_test(tc, test_idempotent);
	tcase_add_test(tc, test_short_file_rewritten);
	tcase_add_test(tc, test_many);
	tcase_add_test(tc, test_missing);
	tcase_add_loop_test(tc, test_corrupt, 0,
			    sizeof damages / sizeof damages[0]);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_unwritable);
	tcase_add_test(tc, test_bad_hex);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(store_suite());
}
