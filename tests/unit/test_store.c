/* test_store.c - Check tests for the raw-message store (ms_store.h).
 *
 * Round trips (empty, 1 byte, text, 5 MB incompressible), idempotent puts,
 * missing files, damaged files (table of corruptions), I/O errors with
 * messages, invalid arguments, byte accounting, no temporary files left.
 * Encryption (method 1): round trips, no plaintext on disk (compressible
 * and incompressible input), wrong key, no key, tampered nonce/ciphertext/
 * tag/header (table), mixed method 0 and 1 files, key files (table), and
 * ms_store_each.
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
	ms_status_t want;   /* 0: MS_ERR_CORRUPT */
} damage;

static const damage damages[] = {
	{ "bad magic", 0, 0x20, -1, 0, 0 },
	{ "magic version", 3, 0x01, -1, 0, 0 },
	{ "unknown method", 4, 0x80, -1, 0, 0 },
	{ "plain file marked encrypted", 4, 0x01, -1, 0, MS_ERR_CRYPTO },
	{ "length too long", 12, 0x01, -1, 0, 0 },
	{ "length huge", 5, 0x7f, -1, 0, 0 },
	{ "zlib header", 13, 0xff, -1, 0, 0 },
	{ "flipped payload", 40, 0xa5, -1, 0, 0 },
	{ "flipped checksum", -1, 0x01, -1, 0, 0 },
	{ "truncated header", 0, 0, 7, 0, 0 },
	{ "empty file", 0, 0, 0, 0, 0 },
	{ "header only", 0, 0, 13, 0, 0 },
	{ "chopped tail", 0, 0, -1, 9, 0 },
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
	ck_assert_msg(s == (d->want ? d->want : MS_ERR_CORRUPT), "%s: got %s",
		      d->name, ms_status_str(s));
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

/* ---- encryption ---- */

static const unsigned char key_a[MS_STORE_KEY_LEN] =
	"0123456789abcdef0123456789abcd\xfe\xaf";
static const unsigned char key_b[MS_STORE_KEY_LEN] =
	"0123456789abcdef0123456789abcdeX";

static ms_store *open_keyed(const unsigned char *key)
{
	ms_store *st = open_store();
	ck_assert_int_eq(ms_store_set_key(st, key), MS_OK);
	return st;
}

/* Reads the whole file for hex into a malloc'ed buffer. */
static unsigned char *slurp(const char *hex, size_t *len_r)
{
	char path[256];
	struct stat sb;
	file_path(path, sizeof path, hex);
	ck_assert_int_eq(stat(path, &sb), 0);
	unsigned char *p = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(p);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, p, (size_t)sb.st_size), sb.st_size);
	close(fd);
	*len_r = (size_t)sb.st_size;
	return p;
}

/* Expects get of hex to fail with want, out unchanged, msg in the error. */
static void expect_get_fails(ms_store *st, const char *hex, ms_status_t want,
			     const char *msg)
{
	ms_buf out = MS_BUF_INIT;
	ms_buf_puts(&out, "keep");
	ms_status_t s = ms_store_get(st, hex, &out);
	ck_assert_msg(s == want, "got %s, want %s (%s)", ms_status_str(s),
		      ms_status_str(want), ms_store_error(st));
	ck_assert_str_eq(out.data, "keep");
	if (msg)
		ck_assert_ptr_nonnull(strstr(ms_store_error(st), msg));
	ck_assert_ptr_nonnull(strstr(ms_store_error(st), hex));
	ms_buf_free(&out);
}

START_TEST(test_enc_roundtrip)
{
	size_t len, flen;
	unsigned char *in = make_input(_i, &len);
	char hex[MS_SHA256_HEX];
	ms_sha256_hex(in, len, hex);
	ms_store *st = open_keyed(key_a);
	ck_assert_int_eq(ms_store_put(st, hex, in, len, _i & 1), MS_OK);
	ms_buf out = MS_BUF_INIT;
	ck_assert_int_eq(ms_store_get(st, hex, &out), MS_OK);
	ck_assert_uint_eq(out.len, len);
	ck_assert(len == 0 || memcmp(out.data, in, len) == 0);
	ms_store_close(&st);
	unsigned char *file = slurp(hex, &flen);
	ck_assert_uint_ge(flen, 13 + 12 + 16 + 8);
	ck_assert_int_eq(file[4], 1); /* method byte */
	free(file);
	st = open_keyed(key_a); /* a new handle with the same key */
	ms_buf_reset(&out);
	ck_assert_int_eq(ms_store_get(st, hex, &out), MS_OK);
	ck_assert_uint_eq(out.len, len);
	ck_assert(len == 0 || memcmp(out.data, in, len) == 0);
	ms_store_close(&st);
	st = open_keyed(key_b);
	expect_get_fails(st, hex, MS_ERR_CRYPTO, "wrong key or damaged file");
	ms_store_close(&st);
	st = open_store();
	expect_get_fails(st, hex, MS_ERR_CRYPTO,
			 "message is encrypted; set [archive] encrypt_key");
	ms_store_close(&st);
	ms_buf_free(&out);
	free(in);
}
END_TEST

static const char marker[] = "Subject: top secret merger plans";

/* _i = 0: compressible text with marker; 1: random bytes with marker in
 * the middle (zlib stores those blocks as they are). Method 0 files show
 * the marker (so the search works); method 1 files do not. */
START_TEST(test_enc_no_plaintext)
{
	size_t len, flen;
	unsigned char *in = make_input(_i ? K_RANDOM : K_TEXT, &len);
	size_t at = len / 2;
	memcpy(in + at, marker, sizeof marker - 1);
	char hex[MS_SHA256_HEX];
	ms_sha256_hex(in, len, hex);
	ms_store *st = open_keyed(key_a);
	ck_assert_int_eq(ms_store_put(st, hex, in, len, 0), MS_OK);
	ms_store_close(&st);
	unsigned char *file = slurp(hex, &flen);
	ck_assert_ptr_null(memmem(file, flen, marker, sizeof marker - 1));
	ck_assert_ptr_null(memmem(file, flen, "Subject", 7));
	free(file);
	if (_i) { /* control: the plain codec leaves it readable */
		char path[256];
		file_path(path, sizeof path, hex);
		ck_assert_int_eq(unlink(path), 0);
		st = open_store();
		ck_assert_int_eq(ms_store_put(st, hex, in, len, 0), MS_OK);
		ms_store_close(&st);
		file = slurp(hex, &flen);
		ck_assert_ptr_nonnull(
			memmem(file, flen, marker, sizeof marker - 1));
		free(file);
	}
	free(in);
}
END_TEST

/* File: 13 header, 12 nonce, ciphertext, 16 tag. */
static const damage tampers[] = {
	{ "nonce byte", 13, 0x01, -1, 0, MS_ERR_CRYPTO },
	{ "last nonce byte", 24, 0x80, -1, 0, MS_ERR_CRYPTO },
	{ "ciphertext byte", 30, 0x10, -1, 0, MS_ERR_CRYPTO },
	{ "tag byte", -1, 0x01, -1, 0, MS_ERR_CRYPTO },
	{ "first tag byte", -16, 0x40, -1, 0, MS_ERR_CRYPTO },
	{ "header length (AAD)", 12, 0x01, -1, 0, MS_ERR_CRYPTO },
	{ "header length high", 5, 0x01, -1, 0, MS_ERR_CRYPTO },
	{ "method byte to zlib", 4, 0x01, -1, 0, MS_ERR_CORRUPT },
	{ "magic", 1, 0x01, -1, 0, MS_ERR_CORRUPT },
	{ "tag chopped", 0, 0, -1, 16, MS_ERR_CRYPTO },
	{ "one byte chopped", 0, 0, -1, 1, MS_ERR_CRYPTO },
	{ "header and nonce only", 0, 0, 25, 0, MS_ERR_CORRUPT },
	{ "header only", 0, 0, 13, 0, MS_ERR_CORRUPT },
};

START_TEST(test_enc_tamper)
{
	const damage *d = &tampers[_i];
	size_t len;
	unsigned char *in = make_input(K_TEXT, &len);
	char hex[MS_SHA256_HEX], path[256];
	ms_sha256_hex(in, len, hex);
	ms_store *st = open_keyed(key_a);
	ck_assert_int_eq(ms_store_put(st, hex, in, len, 0), MS_OK);
	file_path(path, sizeof path, hex);
	apply_damage(path, d);
	ms_buf out = MS_BUF_INIT;
	ms_buf_puts(&out, "keep");
	ms_status_t s = ms_store_get(st, hex, &out);
	ck_assert_msg(s == d->want, "%s: got %s (%s)", d->name,
		      ms_status_str(s), ms_store_error(st));
	ck_assert_str_eq(out.data, "keep");
	ck_assert_ptr_nonnull(strstr(ms_store_error(st), hex));
	ms_buf_free(&out);
	ms_store_close(&st);
	free(in);
}
END_TEST

START_TEST(test_enc_mixed)
{
	const char *a = "stored before encryption", *b = "stored after it";
	char ha[MS_SHA256_HEX], hb[MS_SHA256_HEX];
	ms_sha256_hex(a, strlen(a), ha);
	ms_sha256_hex(b, strlen(b), hb);
	ms_store *st = open_store();
	ck_assert_int_eq(ms_store_put(st, ha, a, strlen(a), 1), MS_OK);
	ms_store_close(&st);
	st = open_keyed(key_a);
	ck_assert_int_eq(ms_store_put(st, hb, b, strlen(b), 1), MS_OK);
	ms_buf out = MS_BUF_INIT;
	ck_assert_int_eq(ms_store_get(st, ha, &out), MS_OK);
	ck_assert_str_eq(out.data, a);
	ms_buf_reset(&out);
	ck_assert_int_eq(ms_store_get(st, hb, &out), MS_OK);
	ck_assert_str_eq(out.data, b);
	/* dropping the key: plain files still read, encrypted ones do not,
	 * and new files are plain again */
	ck_assert_int_eq(ms_store_set_key(st, NULL), MS_OK);
	ms_buf_reset(&out);
	ck_assert_int_eq(ms_store_get(st, ha, &out), MS_OK);
	ck_assert_str_eq(out.data, a);
	expect_get_fails(st, hb, MS_ERR_CRYPTO, "encrypt_key");
	const char *c = "after the key was dropped";
	char hc[MS_SHA256_HEX];
	ms_sha256_hex(c, strlen(c), hc);
	ck_assert_int_eq(ms_store_put(st, hc, c, strlen(c), 0), MS_OK);
	ms_store_close(&st);
	size_t flen;
	unsigned char *file = slurp(hc, &flen);
	ck_assert_int_eq(file[4], 0);
	free(file);
	ms_buf_free(&out);
}
END_TEST

/* ---- key files ---- */

typedef struct key_case {
	const char *name;
	const char *content; /* NULL: 32 raw bytes of key_a */
	size_t len;	     /* 0: strlen(content) */
	int mode;
	ms_status_t want;
	const char *msg;
} key_case;

#define HEX_A "303132333435363738396162636465663031323334353637383961626364feaf"

static const key_case key_files[] = {
	{ "raw 32 bytes", NULL, 0, 0600, MS_OK, NULL },
	{ "hex", HEX_A, 0, 0600, MS_OK, NULL },
	{ "hex and newline", HEX_A "\n", 0, 0640, MS_OK, NULL },
	{ "hex and CRLF", HEX_A "\r\n", 0, 0400, MS_OK, NULL },
	{ "upper-case hex",
	  "303132333435363738396162636465663031323334353637383961626364FEAF", 0,
	  0600, MS_OK, NULL },
	{ "31 bytes", "0123456789abcdef0123456789abcde", 0, 0600, MS_ERR_CONFIG,
	  "32 raw bytes or 64 hex digits" },
	{ "33 bytes", "0123456789abcdef0123456789abcdef\n", 0, 0600,
	  MS_ERR_CONFIG, "32 raw bytes or 64 hex digits" },
	{ "63 hex", HEX_A "\n", 63, 0600, MS_ERR_CONFIG, "64 hex digits" },
	{ "not hex",
	  "30313233343536373839616263646566303132333435363738396162636465zz", 0,
	  0600, MS_ERR_CONFIG, "64 hex digits" },
	{ "two newlines", HEX_A "\n\n", 0, 0600, MS_ERR_CONFIG, "hex" },
	{ "empty", "", 0, 0600, MS_ERR_CONFIG, "32 raw bytes" },
	{ "world-readable", HEX_A, 0, 0644, MS_ERR_CONFIG, "chmod o-rwx" },
	{ "world-writable", HEX_A, 0, 0602, MS_ERR_CONFIG, "mode 0602" },
};

START_TEST(test_key_file)
{
	const key_case *k = &key_files[_i];
	char path[256];
	snprintf(path, sizeof path, "%s/key", tmpdir);
	const void *data = k->content ? (const void *)k->content : key_a;
	size_t n = k->content ? (k->len ? k->len : strlen(k->content))
			      : MS_STORE_KEY_LEN;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	ck_assert_int_eq(fchmod(fd, (mode_t)k->mode), 0);
	close(fd);
	unsigned char key[MS_STORE_KEY_LEN] = { 0 };
	char *err = NULL;
	ms_status_t s = ms_store_load_key(path, key, &err);
	ck_assert_msg(s == k->want, "%s: got %s (%s)", k->name,
		      ms_status_str(s), err ? err : "");
	if (s == MS_OK) {
		ck_assert_ptr_null(err);
		ck_assert(memcmp(key, key_a, sizeof key) == 0);
	} else {
		ck_assert_ptr_nonnull(err);
		ck_assert_ptr_nonnull(strstr(err, path));
		ck_assert_msg(strstr(err, k->msg) != NULL, "%s: %s", k->name,
			      err);
		ck_assert_ptr_null(strchr(err, '\n'));
	}
	free(err);
}
END_TEST

START_TEST(test_key_file_errors)
{
	char path[256], *err = NULL;
	unsigned char key[MS_STORE_KEY_LEN];
	snprintf(path, sizeof path, "%s/no-such-key", tmpdir);
	ck_assert_int_eq(ms_store_load_key(path, key, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
	free(err);
	/* a directory cannot be read as a key */
	ck_assert_int_eq(ms_store_load_key(tmpdir, key, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, strerror(EISDIR)));
	free(err);
	ck_assert_int_eq(ms_store_load_key(path, key, NULL), MS_ERR_IO);
}
END_TEST

/* ---- each ---- */

typedef struct seen {
	char hex[60][MS_SHA256_HEX];
	int n, stop_at;
} seen;

static ms_status_t see(const char *hex, long long mtime, void *ctx)
{
	seen *s = ctx;
	ck_assert_int_gt(mtime, 0);
	ck_assert_int_lt(s->n, 60);
	snprintf(s->hex[s->n++], MS_SHA256_HEX, "%s", hex);
	return s->n == s->stop_at ? MS_ERR_LIMIT : MS_OK;
}

static int cmp_hex(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(test_each)
{
	static seen s, want;
	memset(&s, 0, sizeof s);
	memset(&want, 0, sizeof want);
	ms_store *st = open_store();
	ck_assert_int_eq(ms_store_each(st, see, &s), MS_OK); /* empty */
	ck_assert_int_eq(s.n, 0);
	char msg[32];
	for (int i = 0; i < 50; i++) {
		int n = snprintf(msg, sizeof msg, "each %d", i);
		ms_sha256_hex(msg, (size_t)n, want.hex[i]);
		ck_assert_int_eq(
			ms_store_put(st, want.hex[i], msg, (size_t)n, 0),
			MS_OK);
	}
	/* junk the walk must skip */
	char path[256];
	snprintf(path, sizeof path, "%s/%.2s/not-a-hash", storedir,
		 want.hex[0]);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof path, "%s/zz", storedir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(ms_store_each(st, see, &s), MS_OK);
	ck_assert_int_eq(s.n, 50);
	qsort(s.hex, 50, sizeof s.hex[0], cmp_hex);
	qsort(want.hex, 50, sizeof want.hex[0], cmp_hex);
	for (int i = 0; i < 50; i++)
		ck_assert_str_eq(s.hex[i], want.hex[i]);
	memset(&s, 0, sizeof s);
	s.stop_at = 7; /* the callback's status stops the walk */
	ck_assert_int_eq(ms_store_each(st, see, &s), MS_ERR_LIMIT);
	ck_assert_int_eq(s.n, 7);
	ms_store_close(&st);
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
	tc = tcase_create("crypto");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_enc_roundtrip, K_EMPTY, K_RANDOM + 1);
	tcase_add_loop_test(tc, test_enc_no_plaintext, 0, 2);
	tcase_add_loop_test(tc, test_enc_tamper, 0,
			    sizeof tampers / sizeof tampers[0]);
	tcase_add_test(tc, test_enc_mixed);
	tcase_add_loop_test(tc, test_key_file, 0,
			    sizeof key_files / sizeof key_files[0]);
	tcase_add_test(tc, test_key_file_errors);
	tcase_add_test(tc, test_each);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(store_suite());
}
