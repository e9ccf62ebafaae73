/* test_spool.c - unit tests for the milter -> indexd spool (ms_spool):
 * round trips (recipients, every envelope key, empty, binary, 5 MB in small
 * chunks with bounded memory), id validation, abort, commit failures
 * (new/ not a directory, disk full on a tiny tmpfs when root), truncated
 * and corrupted entries, listing order, remove and quarantine.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_spool.h"
#include "support_util.h"

static char *g_dir;
static ms_spool *g_sp;

static void setup(void)
{
	g_dir = ms_test_tmpdir("test_spool");
	char *err = NULL;
	ck_assert_int_eq(ms_spool_open(g_dir, &g_sp, &err), MS_OK);
	ck_assert_ptr_null(err);
}

static void teardown(void)
{
	ms_spool_close(&g_sp);
	ms_test_rmtree(g_dir);
	free(g_dir);
}

/* Returns "<g_dir>/<sub>/<name>" in a static buffer. */
static const char *sub_path(const char *sub, const char *name)
{
	static char p[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s%s%s", g_dir, sub, name ? "/" : "",
		 name ? name : "");
	return p[k];
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Writes msg in pieces of chunk bytes and commits it as id with env. */
static void put_entry(const char *id, const char *msg, size_t len, size_t chunk,
		      const ms_envelope *env)
{
	ms_spool_writer *w = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_spool_begin(g_sp, id, &w, &err), MS_OK);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		ck_assert_int_eq(ms_spool_write(w, msg + off, n), MS_OK);
	}
	ck_assert_uint_eq(ms_spool_size(w), len);
	ck_assert_int_eq(ms_spool_commit(&w, env, &err), MS_OK);
	ck_assert_ptr_null(w);
	ck_assert_ptr_null(err);
	ck_assert(!exists(sub_path("tmp", id)));
	ck_assert(exists(sub_path("new", id)));
}

/* Reads id back; checks message bytes, size and sha256. */
static ms_spool_entry *get_entry(const char *id, const char *msg, size_t len)
{
	ms_spool_entry *e = NULL;
	char *err = NULL;
	ms_status_t st = ms_spool_read(g_sp, id, &e, &err);
	ck_assert_msg(st == MS_OK, "read %s: %s", id, err ? err : "?");
	ck_assert_str_eq(e->name, id);
	ck_assert_str_eq(e->env.id, id);
	ck_assert_uint_eq(e->msg_len, len);
	ck_assert(len == 0 || memcmp(e->msg, msg, len) == 0);
	char hex[MS_SHA256_HEX];
	ck_assert_int_eq(ms_sha256_hex(msg, len, hex), MS_OK);
	ck_assert_str_eq(e->sha256, hex);
	return e;
}

START_TEST(test_roundtrip_envelope)
{
	static const char msg[] = "From: a@example.org\r\nSubject: hi\r\n"
				  "\r\nbody line\r\n";
	const char *rcpts[] = { "b@example.org", "c@example.org",
				"tab\there@example.org" };
	ms_envelope env = { .id = "E1-abc_9",
			    .sender = "a@example.org",
			    .rcpts = rcpts,
			    .n_rcpts = 3,
			    .queue_id = "4XyZ12",
			    .client = "[192.0.2.1] mx.example.org",
			    .helo = "mx.example.org",
			    .auth_user = "alice\\smith",
			    .verdict = "infected",
			    .virus = "Eicar-Test-Signature",
			    .time = 1700000000 };
	put_entry("E1-abc_9", msg, sizeof msg - 1, 7, &env);
	ms_spool_entry *e = get_entry("E1-abc_9", msg, sizeof msg - 1);
	ck_assert_str_eq(e->env.sender, env.sender);
	ck_assert_uint_eq(e->env.n_rcpts, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(e->env.rcpts[i], rcpts[i]);
	ck_assert_str_eq(e->env.queue_id, env.queue_id);
	ck_assert_str_eq(e->env.client, env.client);
	ck_assert_str_eq(e->env.helo, env.helo);
	ck_assert_str_eq(e->env.auth_user, env.auth_user);
	ck_assert_str_eq(e->env.verdict, env.verdict);
	ck_assert_str_eq(e->env.virus, env.virus);
	ck_assert_int_eq(e->env.time, 1700000000);
	ms_spool_entry_free(&e);
	ck_assert_ptr_null(e);
}
END_TEST

START_TEST(test_roundtrip_empty_and_null_env)
{
	put_entry("empty", "", 0, 1, NULL);
	ms_spool_entry *e = get_entry("empty", "", 0);
	ck_assert_ptr_null(e->env.sender);
	ck_assert_ptr_null(e->env.virus);
	ck_assert_uint_eq(e->env.n_rcpts, 0);
	ck_assert_int_eq(e->env.time, 0);
	ms_spool_entry_free(&e);
}
END_TEST

START_TEST(test_roundtrip_binary)
{
	static const char msg[] = "Subject: x\r\n\r\n\0\0bin\0\r\n\r\n.\r\n"
				  "MSSPOOL1000000000000000000000000\n";
	ms_envelope env = { .id = NULL, .sender = "", .time = -5 };
	put_entry("bin", msg, sizeof msg - 1, 1, &env);
	ms_spool_entry *e = get_entry("bin", msg, sizeof msg - 1);
	ck_assert_ptr_null(e->env.sender); /* empty = absent */
	ck_assert_int_eq(e->env.time, -5);
	ms_spool_entry_free(&e);
}
END_TEST

/* A 5 MB message in 100-byte chunks: the heap does not grow with it, the
 * descriptor serves the bytes with pread, the hash matches. */
START_TEST(test_big_message_bounded)
{
	const size_t len = 5 * 1024 * 1024, chunk = 100;
	char *msg = malloc(len);
	ck_assert_ptr_nonnull(msg);
	for (size_t i = 0; i < len; i++)
		msg[i] = (char)(i * 7 + i / 4096);
	ms_spool_writer *w = NULL;
	ck_assert_int_eq(ms_spool_begin(g_sp, "big", &w, NULL), MS_OK);
	size_t before = mallinfo2().uordblks;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		ck_assert_int_eq(ms_spool_write(w, msg + off, n), MS_OK);
	}
	size_t after = mallinfo2().uordblks;
	ck_assert_msg(after < before + 256 * 1024, "heap grew %zu -> %zu",
		      before, after);
	int fd = ms_spool_fd(w);
	ck_assert_int_ge(fd, 0);
	char probe[64];
	ck_assert_int_eq(pread(fd, probe, sizeof probe, 4000000), 64);
	ck_assert(memcmp(probe, msg + 4000000, 64) == 0);
	char hex[MS_SHA256_HEX], want[MS_SHA256_HEX];
	ck_assert_int_eq(ms_spool_sha256(w, hex), MS_OK);
	ck_assert_int_eq(ms_sha256_hex(msg, len, want), MS_OK);
	ck_assert_str_eq(hex, want);
	ck_assert_int_eq(ms_spool_write(w, "x", 1), MS_ERR_INVALID);
	ck_assert_int_eq(ms_spool_commit(&w, NULL, NULL), MS_OK);
	ms_spool_entry *e = get_entry("big", msg, len);
	ms_spool_entry_free(&e);
	free(msg);
}
END_TEST

static const struct {
	const char *id;
	ms_status_t want;
} id_cases[] = {
	{ "../x", MS_ERR_INVALID },
	{ "", MS_ERR_INVALID },
	{ "a/b", MS_ERR_INVALID },
	{ ".hidden", MS_ERR_INVALID },
	{ "a b", MS_ERR_INVALID },
	{ "a\nb", MS_ERR_INVALID },
	{ "é", MS_ERR_INVALID },
	{ "abc.def", MS_ERR_INVALID },
	{ NULL, MS_ERR_INVALID },
	{ "Az09-_", MS_OK },
	{ "x", MS_OK },
};

START_TEST(test_id_validation)
{
	ms_spool_writer *w = NULL;
	char *err = NULL;
	ms_status_t st = ms_spool_begin(g_sp, id_cases[_i].id, &w, &err);
	ck_assert_int_eq(st, id_cases[_i].want);
	if (st) {
		ck_assert_ptr_null(w);
		ck_assert_ptr_nonnull(err);
		free(err);
	}
	ms_spool_abort(&w);
}
END_TEST

START_TEST(test_id_length)
{
	char id[MS_SPOOL_ID_MAX + 2];
	memset(id, 'a', sizeof id - 1);
	id[sizeof id - 1] = '\0';
	ms_spool_writer *w = NULL;
	ck_assert_int_eq(ms_spool_begin(g_sp, id, &w, NULL), MS_ERR_INVALID);
	id[MS_SPOOL_ID_MAX] = '\0';
	ck_assert_int_eq(ms_spool_begin(g_sp, id, &w, NULL), MS_OK);
	ms_spool_abort(&w);
}
END_TEST

START_TEST(test_abort_and_duplicate)
{
	ms_spool_writer *w = NULL, *w2 = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_spool_begin(g_sp, "ab", &w, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_write(w, "hello", 5), MS_OK);
	ck_assert(exists(sub_path("tmp", "ab")));
	ck_assert_int_eq(ms_spool_begin(g_sp, "ab", &w2, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, "File exists"));
	free(err);
	ms_spool_abort(&w);
	ck_assert_ptr_null(w);
	ck_assert(!exists(sub_path("tmp", "ab")));
	ck_assert(!exists(sub_path("new", "ab")));
	ms_spool_abort(&w);
	ms_spool_abort(NULL);
}
END_TEST

START_TEST(test_commit_id_mismatch)
{
	ms_spool_writer *w = NULL;
	char *err = NULL;
	ms_envelope env = { .id = "other" };
	ck_assert_int_eq(ms_spool_begin(g_sp, "mine", &w, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_commit(&w, &env, &err), MS_ERR_INVALID);
	ck_assert_ptr_null(w);
	ck_assert_ptr_nonnull(err);
	free(err);
	ck_assert(!exists(sub_path("tmp", "mine")));
	ck_assert(!exists(sub_path("new", "mine")));
}
END_TEST

START_TEST(test_commit_new_not_dir)
{
	ck_assert_int_eq(rmdir(sub_path("new", NULL)), 0);
	FILE *f = fopen(sub_path("new", NULL), "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ms_spool_writer *w = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_spool_begin(g_sp, "nd", &w, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_write(w, "data", 4), MS_OK);
	ck_assert_int_eq(ms_spool_commit(&w, NULL, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "Not a directory") && !strchr(err, '\n'),
		      "%s", err);
	free(err);
	ck_assert(!exists(sub_path("tmp", "nd")));
	char **names = NULL;
	size_t n = 9;
	ck_assert_int_eq(ms_spool_list(g_sp, &names, &n), MS_ERR_IO);
	ck_assert_ptr_null(names);
}
END_TEST

START_TEST(test_open_errors)
{
	ms_spool *sp = NULL;
	char *err = NULL;
	char path[600];
	snprintf(path, sizeof path, "%s/deep/er/spool", g_dir);
	ck_assert_int_eq(ms_spool_open(path, &sp, NULL), MS_OK);
	ms_spool_close(&sp);
	ck_assert_ptr_null(sp);
	snprintf(path, sizeof path, "%s/new/x/spool", g_dir);
	FILE *f = fopen(sub_path("new", "x"), "w");
	fclose(f);
	ck_assert_int_eq(ms_spool_open(path, &sp, &err), MS_ERR_IO);
	ck_assert_ptr_null(sp);
	ck_assert_ptr_nonnull(strstr(err, "Not a directory"));
	free(err);
	ms_spool_close(NULL);
}
END_TEST

/* Disk full: a 64 KiB tmpfs (root only; skipped with a note otherwise). */
START_TEST(test_disk_full)
{
	char *mnt = ms_test_tmpdir("test_spool_full");
	if (geteuid() != 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") != 0) {
		printf("test_spool: disk-full test SKIPPED (%s)\n",
		       geteuid() ? "not root" : strerror(errno));
		rmdir(mnt);
		free(mnt);
		return;
	}
	ms_spool *sp = NULL;
	ms_spool_writer *w = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_spool_open(mnt, &sp, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_begin(sp, "full", &w, NULL), MS_OK);
	static char chunk[1000];
	memset(chunk, 'x', sizeof chunk);
	ms_status_t st = MS_OK;
	for (int i = 0; i < 1000 && st == MS_OK; i++)
		st = ms_spool_write(w, chunk, sizeof chunk);
	ck_assert_int_eq(st, MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(ms_spool_error(w), "No space left"));
	ck_assert_int_eq(ms_spool_write(w, chunk, 1), MS_ERR_IO);
	ck_assert_int_eq(ms_spool_fd(w), -1);
	ck_assert_int_eq(ms_spool_commit(&w, NULL, &err), MS_ERR_IO);
	ck_assert_msg(err && strstr(err, "tmp/full: No space left on device"),
		      "%s", err ? err : "(null)");
	free(err);
	char p[600];
	snprintf(p, sizeof p, "%s/tmp/full", mnt);
	ck_assert(!exists(p));
	snprintf(p, sizeof p, "%s/new/full", mnt);
	ck_assert(!exists(p));
	ms_spool_close(&sp);
	ck_assert_int_eq(umount(mnt), 0);
	rmdir(mnt);
	free(mnt);
}
END_TEST

/* Reads the whole file path; caller frees. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	char *buf = malloc(1 << 16);
	*n = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static void spit(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

static void expect_parse_error(const char *name)
{
	ms_spool_entry *e = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_spool_read(g_sp, name, &e, &err), MS_ERR_PARSE);
	ck_assert_ptr_null(e);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(strchr(err, '\n'));
	free(err);
}

START_TEST(test_truncated_entries)
{
	const char *rcpts[] = { "r@example.org" };
	ms_envelope env = { .sender = "s@x", .rcpts = rcpts, .n_rcpts = 1 };
	put_entry("t", "Subject: t\r\n\r\nbody\r\n", 20, 3, &env);
	size_t n;
	char *full = slurp(sub_path("new", "t"), &n);
	for (size_t len = 0; len < n; len++) {
		spit(sub_path("new", "t"), full, len);
		expect_parse_error("t");
	}
	spit(sub_path("new", "t"), full, n);
	ms_spool_entry *e = get_entry("t", "Subject: t\r\n\r\nbody\r\n", 20);
	ms_spool_entry_free(&e);
	/* one byte appended, or any footer byte changed: not an entry */
	full[n] = 'x';
	spit(sub_path("new", "t"), full, n + 1);
	expect_parse_error("t");
	for (size_t i = n - MS_SPOOL_FOOTER; i < n; i++) {
		char c = full[i];
		full[i] = c == '0' ? '9' : c == '9' ? '0' : (char)(c ^ 0x20);
		spit(sub_path("new", "t"), full, n);
		expect_parse_error("t");
		full[i] = c;
	}
	free(full);
}
END_TEST

/* Hand-made entries: message "MSG" (3 bytes) + record + footer. */
static const struct {
	const char *record, *footer, *why;
} bad_entries[] = {
	{ "id\tf\nsize\t3\nsha256\t", "MSSPOOL1000000000004000000000020",
	  "lengths" },
	{ "id\tf\n", "MSSPOOL1000000000003000000000099", "lengths" },
	{ "id\tf\n", "MSSPOOL1000000000003-00000000005", "malformed" },
	{ "id\tf\n", "MSSPOOL2000000000003000000000005", "footer" },
	{ "id\tf\n", "MSSPOOL1999999999999999999999999", "lengths" },
	{ "id\tg\nsize\t3\n", "MSSPOOL1000000000003000000000012", "id" },
	{ "id\tf\nsize\t4\n", "MSSPOOL1000000000003000000000012", "size" },
	{ "id\tf\nsize\t3\n", "MSSPOOL1000000000003000000000012", "sha256" },
	{ "id\tf\nsize\t3\nsha256\tzz\n", "MSSPOOL1000000000003000000000022",
	  "sha256" },
};

START_TEST(test_bad_footer_and_record)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "MSG%s%s", bad_entries[_i].record,
			 bad_entries[_i].footer);
	spit(sub_path("new", "f"), buf, (size_t)n);
	ms_spool_entry *e = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_spool_read(g_sp, "f", &e, &err), MS_ERR_PARSE);
	ck_assert_msg(strstr(err, bad_entries[_i].why), "%s", err);
	free(err);
}
END_TEST

START_TEST(test_read_odd_names)
{
	ms_spool_entry *e = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_spool_read(g_sp, "gone", &e, &err),
			 MS_ERR_NOTFOUND);
	free(err);
	ck_assert_int_eq(ms_spool_read(g_sp, "../tmp/x", &e, NULL),
			 MS_ERR_INVALID);
	ck_assert_int_eq(ms_spool_read(g_sp, ".x", &e, NULL), MS_ERR_INVALID);
	ck_assert_int_eq(ms_spool_read(g_sp, "", &e, NULL), MS_ERR_INVALID);
	/* an entry renamed by hand no longer matches its record */
	put_entry("orig", "m", 1, 1, NULL);
	ck_assert_int_eq(rename(sub_path("new", "orig"), sub_path("new", "cp")),
			 0);
	expect_parse_error("cp");
	ck_assert_int_eq(mkdir(sub_path("new", "dir"), 0700), 0);
	expect_parse_error("dir");
}
END_TEST

static void set_mtime(const char *name, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, sub_path("new", name), ts, 0), 0);
}

START_TEST(test_list_order)
{
	static const struct {
		const char *name;
		time_t mtime;
	} files[] = { { "c", 300 },
		      { "a", 200 },
		      { "b", 200 },
		      { "z", 100 },
		      { ".hidden", 50 } };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		spit(sub_path("new", files[i].name), "x", 1);
		set_mtime(files[i].name, files[i].mtime);
	}
	ck_assert_int_eq(mkdir(sub_path("new", "subdir"), 0700), 0);
	spit(sub_path("tmp", "inprogress"), "x", 1);
	char **names = NULL;
	size_t n = 0;
	ck_assert_int_eq(ms_spool_list(g_sp, &names, &n), MS_OK);
	static const char *const want[] = { "z", "a", "b", "c" };
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(names[i], want[i]);
	ck_assert_ptr_null(names[n]);
	ms_spool_names_free(&names);
	ck_assert_ptr_null(names);
	ms_spool_names_free(&names);
}
END_TEST

START_TEST(test_list_empty)
{
	char **names = NULL;
	size_t n = 1;
	ck_assert_int_eq(ms_spool_list(g_sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(names);
	ck_assert_ptr_null(names[0]);
	ms_spool_names_free(&names);
}
END_TEST

/* The backlog counts what ms_spool_list lists and finds the oldest. */
START_TEST(test_backlog)
{
	uint64_t n = 7;
	int64_t oldest = 7;
	char *err = NULL;
	ck_assert_int_eq(ms_spool_backlog(g_sp, &n, &oldest, &err), MS_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(oldest, 0);
	static const struct {
		const char *name;
		time_t mtime;
	} files[] = { { "c", 300 }, { "a", 200 }, { ".hidden", 50 } };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		spit(sub_path("new", files[i].name), "x", 1);
		set_mtime(files[i].name, files[i].mtime);
	}
	ck_assert_int_eq(mkdir(sub_path("new", "subdir"), 0700), 0);
	spit(sub_path("tmp", "inprogress"), "x", 1);
	ck_assert_int_eq(ms_spool_backlog(g_sp, &n, &oldest, NULL), MS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(oldest, 200);
	ck_assert_int_eq(ms_spool_backlog(g_sp, &n, NULL, NULL), MS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(rmdir(sub_path("new", "subdir")), 0);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		ck_assert_int_eq(unlink(sub_path("new", files[i].name)), 0);
	ck_assert_int_eq(rmdir(sub_path("new", NULL)), 0);
	ck_assert_int_eq(ms_spool_backlog(g_sp, &n, &oldest, &err), MS_ERR_IO);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(strstr(err, "/new: No such file"));
	free(err);
}
END_TEST

START_TEST(test_remove)
{
	put_entry("rm1", "abc", 3, 3, NULL);
	put_entry("rm2", "abc", 3, 3, NULL);
	ck_assert_int_eq(ms_spool_remove(g_sp, "rm1", 1), MS_OK);
	ck_assert_int_eq(ms_spool_remove(g_sp, "rm2", 0), MS_OK);
	ck_assert(!exists(sub_path("new", "rm1")));
	ck_assert_int_eq(ms_spool_remove(g_sp, "rm1", 1), MS_ERR_NOTFOUND);
	ck_assert_int_eq(ms_spool_remove(g_sp, "../new", 1), MS_ERR_INVALID);
	ck_assert(exists(sub_path("new", NULL)));
}
END_TEST

START_TEST(test_quarantine)
{
	spit(sub_path("new", "junk"), "not an entry", 12);
	expect_parse_error("junk");
	ck_assert_int_eq(ms_spool_quarantine(g_sp, "junk", "no footer"), MS_OK);
	ck_assert(!exists(sub_path("new", "junk")));
	size_t n;
	char *data = slurp(sub_path("bad", "junk"), &n);
	ck_assert_uint_eq(n, 12);
	ck_assert(memcmp(data, "not an entry", 12) == 0);
	free(data);
	data = slurp(sub_path("bad", "junk.why"), &n);
	ck_assert_uint_eq(n, 10);
	ck_assert(memcmp(data, "no footer\n", 10) == 0);
	free(data);
	ck_assert_int_eq(ms_spool_quarantine(g_sp, "junk", "again"),
			 MS_ERR_NOTFOUND);
	ck_assert(exists(sub_path("bad", "junk.why")));
	ck_assert_int_eq(ms_spool_quarantine(g_sp, "nothere", "x"),
			 MS_ERR_NOTFOUND);
	ck_assert(!exists(sub_path("bad", "nothere.why")));
	ck_assert_int_eq(ms_spool_quarantine(g_sp, "a/b", "x"), MS_ERR_INVALID);
}
END_TEST

static Suite *spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip_envelope);
	tcase_add_test(tc, test_roundtrip_empty_and_null_env);
	tcase_add_test(tc, test_roundtrip_binary);
	tcase_add_test(tc, test_big_message_bounded);
	tcase_add_loop_test(tc, test_id_validation, 0,
			    sizeof id_cases / sizeof id_cases[0]);
	tcase_add_test(tc, test_id_length);
	tcase_add_test(tc, test_abort_and_duplicate);
	tcase_add_test(tc, test_commit_id_mismatch);
	tcase_add_test(tc, test_commit_new_not_dir);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_truncated_entries);
	tcase_add_loop_test(tc, test_bad_footer_and_record, 0,
			    sizeof bad_entries / sizeof bad_entries[0]);
	tcase_add_test(tc, test_read_odd_names);
	tcase_add_test(tc, test_list_order);
	tcase_add_test(tc, test_list_empty);
	tcase_add_test(tc, test_backlog);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_quarantine);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(spool_suite());
}
