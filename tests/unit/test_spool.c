/* test_spool.c - unit tests for the milter -> indexd spool (ms_spool):
 * round trips through segments (recipients, every envelope key, empty,
 * binary, 5 MB in small chunks with bounded memory), id validation, abort,
 * commit failures (seg/ not a directory, disk full on a tiny tmpfs when
 * root), legacy entry files in new/ (truncated and corrupted entries,
 * listing order, remove and quarantine), and segments: group commit from
 * many threads, entries no commit covers (dropped in the boot that wrote
 * them, kept after a reboot), torn tails, corrupt entries, NAME.done and
 * the backlog, retiring finished segments, polling.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_record.h"
#include "ms_spool_int.h"
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

/* Writes msg in pieces of chunk bytes and commits it as id with env;
 * returns the name the entry is listed under (static buffer). */
static const char *put_entry(const char *id, const char *msg, size_t len,
			     size_t chunk, const ms_envelope *env)
{
	static char name[128];
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
	char **names = NULL;
	size_t n = 0;
	ck_assert_int_eq(ms_spool_poll(g_sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 1);
	snprintf(name, sizeof name, "%s", names[0]);
	ms_spool_names_free(&names);
	return name;
}

/* Writes a legacy entry file new/<id> (message, record, footer). */
static void put_file(const char *id, const char *msg, size_t len,
		     const ms_envelope *env)
{
	ms_buf b = MS_BUF_INIT;
	char hex[MS_SHA256_HEX], num[32], foot[40];
	ck_assert_int_eq(ms_sha256_hex(msg, len, hex), MS_OK);
	snprintf(num, sizeof num, "%zu", len);
	ck_assert_int_eq(ms_buf_append(&b, msg, len), MS_OK);
	size_t ml = b.len;
	ck_assert_int_eq(ms_record_put(&b, "id", id), MS_OK);
	for (size_t i = 0; env && i < env->n_rcpts; i++)
		ck_assert_int_eq(ms_record_put(&b, "rcpt", env->rcpts[i]),
				 MS_OK);
	ck_assert_int_eq(ms_record_put(&b, "size", num), MS_OK);
	ck_assert_int_eq(ms_record_put(&b, "sha256", hex), MS_OK);
	snprintf(foot, sizeof foot, "MSSPOOL1%012zu%012zu", ml, b.len - ml);
	ck_assert_int_eq(ms_buf_append(&b, foot, 32), MS_OK);
	FILE *f = fopen(sub_path("new", id), "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	ms_buf_free(&b);
}

/* Reads name back; checks id, message bytes, size and sha256. */
static ms_spool_entry *read_entry(const char *name, const char *id,
				  const char *msg, size_t len)
{
	ms_spool_entry *e = NULL;
	char *err = NULL;
	ms_status_t st = ms_spool_read(g_sp, name, &e, &err);
	ck_assert_msg(st == MS_OK, "read %s: %s", name, err ? err : "?");
	ck_assert_str_eq(e->name, name);
	ck_assert_str_eq(e->env.id, id);
	ck_assert_uint_eq(e->msg_len, len);
	ck_assert(len == 0 || memcmp(e->msg, msg, len) == 0);
	char hex[MS_SHA256_HEX];
	ck_assert_int_eq(ms_sha256_hex(msg, len, hex), MS_OK);
	ck_assert_str_eq(e->sha256, hex);
	return e;
}

/* A legacy file read back. */
static ms_spool_entry *get_entry(const char *id, const char *msg, size_t len)
{
	return read_entry(id, id, msg, len);
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
	const char *name = put_entry("E1-abc_9", msg, sizeof msg - 1, 7, &env);
	ms_spool_entry *e = read_entry(name, "E1-abc_9", msg, sizeof msg - 1);
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
	const char *name = put_entry("empty", "", 0, 1, NULL);
	ms_spool_entry *e = read_entry(name, "empty", "", 0);
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
	const char *name = put_entry("bin", msg, sizeof msg - 1, 1, &env);
	ms_spool_entry *e = read_entry(name, "bin", msg, sizeof msg - 1);
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
	char **names = NULL;
	size_t n = 0;
	ck_assert_int_eq(ms_spool_list(g_sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 1);
	ms_spool_entry *e = read_entry(names[0], "big", msg, len);
	ms_spool_entry_free(&e);
	ms_spool_names_free(&names);
	free(msg);
}
END_TEST

/* A descriptor asked for early (the message still in memory), then the
 * message grows past the buffer: the descriptor and the entry hold it
 * all. */
START_TEST(test_fd_then_grow)
{
	const size_t len = 200 * 1024;
	char *msg = malloc(len);
	for (size_t i = 0; i < len; i++)
		msg[i] = (char)('a' + i % 23);
	ms_spool_writer *w = NULL;
	ck_assert_int_eq(ms_spool_begin(g_sp, "grow", &w, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_write(w, msg, 100), MS_OK);
	int fd = ms_spool_fd(w);
	char probe[100];
	ck_assert_int_eq(pread(fd, probe, 100, 0), 100);
	ck_assert(memcmp(probe, msg, 100) == 0);
	ck_assert_int_eq(ms_spool_write(w, msg + 100, len - 100), MS_OK);
	fd = ms_spool_fd(w);
	ck_assert_int_eq(pread(fd, probe, 100, len - 100), 100);
	ck_assert(memcmp(probe, msg + len - 100, 100) == 0);
	ck_assert_int_eq(ms_spool_commit(&w, NULL, NULL), MS_OK);
	char **names = NULL;
	size_t n = 0;
	ck_assert_int_eq(ms_spool_list(g_sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 1);
	ms_spool_entry *e = read_entry(names[0], "grow", msg, len);
	ms_spool_entry_free(&e);
	ms_spool_names_free(&names);
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

/* Entries in the directory path (not counting . and ..). */
static int dir_count(const char *path)
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", path);
	FILE *p = popen(cmd, "r");
	int n = -1;
	ck_assert_int_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

START_TEST(test_abort)
{
	ms_spool_writer *w = NULL, *w2 = NULL;
	ck_assert_int_eq(ms_spool_begin(g_sp, "ab", &w, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_write(w, "hello", 5), MS_OK);
	ck_assert_int_eq(ms_spool_begin(g_sp, "ab", &w2, NULL), MS_OK);
	ck_assert_int_eq(dir_count(sub_path("tmp", NULL)), 0); /* unnamed */
	ms_spool_abort(&w);
	ms_spool_abort(&w2);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(dir_count(sub_path("tmp", NULL)), 0);
	ck_assert_int_eq(dir_count(sub_path("seg", NULL)), 0);
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
	ck_assert_int_eq(dir_count(sub_path("seg", NULL)), 0);
}
END_TEST

START_TEST(test_commit_seg_not_dir)
{
	ck_assert_int_eq(rmdir(sub_path("seg", NULL)), 0);
	FILE *f = fopen(sub_path("seg", NULL), "w");
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
	ck_assert_int_eq(dir_count(sub_path("tmp", NULL)), 0);
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
	ck_assert_msg(err && strstr(err, "/tmp: No space left on device"), "%s",
		      err ? err : "(null)");
	free(err);
	char p[600];
	snprintf(p, sizeof p, "%s/tmp", mnt);
	ck_assert_int_eq(dir_count(p), 0);
	/* the space comes back; a message that does not fit the segment
	 * fails alone, the next one is kept */
	ck_assert_int_eq(ms_spool_begin(sp, "fits", &w, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_write(w, chunk, 100), MS_OK);
	ck_assert_int_eq(ms_spool_commit(&w, NULL, &err), MS_OK);
	ck_assert_int_eq(ms_spool_begin(sp, "big", &w, NULL), MS_OK);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(ms_spool_write(w, chunk, sizeof chunk), MS_OK);
	ms_spool_writer *w2 = NULL;
	ck_assert_int_eq(ms_spool_begin(sp, "filler", &w2, NULL), MS_OK);
	st = MS_OK;
	for (int i = 0; i < 1000 && st != MS_ERR_IO; i++)
		st = ms_spool_write(w2, chunk, sizeof chunk);
	ck_assert_int_eq(ms_spool_commit(&w, NULL, &err), MS_ERR_IO);
	ck_assert_msg(err && strstr(err, "No space left"), "%s", err);
	free(err);
	ms_spool_abort(&w2);
	ck_assert_int_eq(ms_spool_begin(sp, "after", &w, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_write(w, chunk, 100), MS_OK);
	ck_assert_int_eq(ms_spool_commit(&w, NULL, &err), MS_OK);
	char **names = NULL;
	size_t n = 0;
	ck_assert_int_eq(ms_spool_list(sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 2);
	ms_spool_entry *e = NULL;
	ck_assert_int_eq(ms_spool_read(sp, names[1], &e, NULL), MS_OK);
	ck_assert_str_eq(e->env.id, "after");
	ms_spool_entry_free(&e);
	ms_spool_names_free(&names);
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
	put_file("t", "Subject: t\r\n\r\nbody\r\n", 20, &env);
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
	put_file("orig", "m", 1, NULL);
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
	put_file("rm1", "abc", 3, NULL);
	put_file("rm2", "abc", 3, NULL);
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

/* ---- segments ---- */

static const char *const MSGS[] = { "Subject: one\r\n\r\n1\r\n",
				    "Subject: two\r\n\r\n22\r\n",
				    "Subject: three\r\n\r\n333\r\n" };

/* Appends a message entry for id/msg to b (as the writer does). */
static void seg_add_msg(ms_buf *b, const char *id, const char *msg)
{
	ms_buf rec = MS_BUF_INIT;
	char hex[MS_SHA256_HEX], num[32];
	size_t n = strlen(msg);
	ck_assert_int_eq(ms_sha256_hex(msg, n, hex), MS_OK);
	snprintf(num, sizeof num, "%zu", n);
	ck_assert_int_eq(ms_record_put(&rec, "id", id), MS_OK);
	ck_assert_int_eq(ms_record_put(&rec, "size", num), MS_OK);
	ck_assert_int_eq(ms_record_put(&rec, "sha256", hex), MS_OK);
	ms_seg_ehdr h = { MS_SEG_T_MSG, n, (uint32_t)rec.len,
			  ms_seg_crc(ms_seg_crc(0, msg, n), rec.data,
				     rec.len) };
	unsigned char hb[MS_SEG_EHDR];
	ms_seg_put_ehdr(hb, &h);
	ck_assert_int_eq(ms_buf_append(b, hb, sizeof hb), MS_OK);
	ck_assert_int_eq(ms_buf_append(b, msg, n), MS_OK);
	ck_assert_int_eq(ms_buf_append(b, rec.data, rec.len), MS_OK);
	ms_buf_free(&rec);
}

/* Appends a commit entry covering everything before it. */
static void seg_add_commit(ms_buf *b)
{
	unsigned char c[MS_SEG_COMMIT];
	for (int i = 0; i < 8; i++)
		c[MS_SEG_EHDR + i] = (unsigned char)(b->len >> (8 * i));
	ms_seg_ehdr h = { MS_SEG_T_COMMIT, 0, 8,
			  ms_seg_crc(0, c + MS_SEG_EHDR, 8) };
	ms_seg_put_ehdr(c, &h);
	ck_assert_int_eq(ms_buf_append(b, c, sizeof c), MS_OK);
}

/* A segment written by a writer that is gone: messages 0 and 1 covered by
 * a commit, message 2 after it (written, never flushed); boot is this
 * boot's id or another. */
static void seg_make(const char *name, const char *boot, ms_buf *b)
{
	unsigned char h[MS_SEG_HDR];
	ms_seg_put_header(h, boot, 1700000000);
	ck_assert_int_eq(ms_buf_append(b, h, sizeof h), MS_OK);
	seg_add_msg(b, "m0", MSGS[0]);
	seg_add_msg(b, "m1", MSGS[1]);
	seg_add_commit(b);
	seg_add_msg(b, "m2", MSGS[2]);
	spit(sub_path("seg", name), b->data, b->len);
}

static void this_boot(char out[MS_SEG_BOOT + 1])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(out, MS_SEG_BOOT + 1, f));
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* The ids listed, in order, joined by ','. */
static void listed_ids(char *out, size_t n_out, char ***names_r, size_t *n_r)
{
	ck_assert_int_eq(ms_spool_list(g_sp, names_r, n_r), MS_OK);
	out[0] = '\0';
	for (size_t i = 0; i < *n_r; i++) {
		ms_spool_entry *e = NULL;
		ck_assert_int_eq(ms_spool_read(g_sp, (*names_r)[i], &e, NULL),
				 MS_OK);
		snprintf(out + strlen(out), n_out - strlen(out), "%s%s",
			 i ? "," : "", e->env.id);
		ms_spool_entry_free(&e);
	}
}

START_TEST(test_seg_unflushed_dropped)
{
	char boot[MS_SEG_BOOT + 1], ids[64];
	this_boot(boot);
	ms_buf b = MS_BUF_INIT;
	seg_make("0000000001-1-aa", boot, &b);
	char **names = NULL;
	size_t n = 0;
	listed_ids(ids, sizeof ids, &names, &n);
	ck_assert_str_eq(ids, "m0,m1"); /* m2 was never flushed */
	uint64_t bl = 0;
	int64_t oldest = 0;
	ck_assert_int_eq(ms_spool_backlog(g_sp, &bl, &oldest, NULL), MS_OK);
	ck_assert_uint_eq(bl, 2);
	ck_assert_int_eq(oldest, 1700000000);
	ck_assert_int_eq(ms_spool_remove(g_sp, names[0], 0), MS_OK);
	ck_assert_int_eq(ms_spool_remove(g_sp, names[0], 0), MS_ERR_NOTFOUND);
	ck_assert(exists(sub_path("seg", "0000000001-1-aa")));
	ck_assert_int_eq(ms_spool_remove(g_sp, names[1], 1), MS_OK);
	ck_assert(!exists(sub_path("seg", "0000000001-1-aa")));
	ck_assert(!exists(sub_path("seg", "0000000001-1-aa.done")));
	ms_spool_names_free(&names);
	ck_assert_int_eq(ms_spool_backlog(g_sp, &bl, &oldest, NULL), MS_OK);
	ck_assert_uint_eq(bl, 0);
	ms_buf_free(&b);
}
END_TEST

/* After a reboot the last commit entry may be lost: every intact entry
 * counts, a torn one at the end does not. */
START_TEST(test_seg_other_boot)
{
	char ids[64];
	ms_buf b = MS_BUF_INIT;
	seg_make("0000000002-1-bb", "another-boot", &b);
	char **names = NULL;
	size_t n = 0;
	listed_ids(ids, sizeof ids, &names, &n);
	ck_assert_str_eq(ids, "m0,m1,m2");
	ms_spool_names_free(&names);
	ms_spool_close(&g_sp);
	for (size_t cut = 1; cut < strlen(MSGS[2]) + 40; cut += 7) {
		spit(sub_path("seg", "0000000002-1-bb"), b.data, b.len - cut);
		ck_assert_int_eq(ms_spool_open(g_dir, &g_sp, NULL), MS_OK);
		listed_ids(ids, sizeof ids, &names, &n);
		ck_assert_str_eq(ids, "m0,m1");
		ms_spool_names_free(&names);
		ms_spool_close(&g_sp);
	}
	ck_assert_int_eq(ms_spool_open(g_dir, &g_sp, NULL), MS_OK);
	ms_buf_free(&b);
}
END_TEST

/* A covered entry whose bytes changed fails its checksum: a parse error,
 * quarantined as a copy in bad/; nothing after bad bytes is read. */
START_TEST(test_seg_corrupt)
{
	char boot[MS_SEG_BOOT + 1], ids[64];
	this_boot(boot);
	ms_buf b = MS_BUF_INIT;
	unsigned char h[MS_SEG_HDR];
	ms_seg_put_header(h, boot, 5);
	ck_assert_int_eq(ms_buf_append(&b, h, sizeof h), MS_OK);
	seg_add_msg(&b, "m0", MSGS[0]);
	seg_add_commit(&b);
	b.data[MS_SEG_HDR + MS_SEG_EHDR + 3] ^= 1;
	spit(sub_path("seg", "0000000003-1-cc"), b.data, b.len);
	char **names = NULL;
	size_t n = 0;
	ck_assert_int_eq(ms_spool_list(g_sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 1);
	expect_parse_error(names[0]);
	ck_assert_int_eq(ms_spool_quarantine(g_sp, names[0], "bad sum"), MS_OK);
	ck_assert(exists(sub_path("bad", "0000000003-1-cc-64")));
	ck_assert(exists(sub_path("bad", "0000000003-1-cc-64.why")));
	ck_assert(!exists(sub_path("seg", "0000000003-1-cc")));
	ms_spool_names_free(&names);
	/* a bad entry header: the walk stops there */
	ms_buf_free(&b);
	ck_assert_int_eq(ms_buf_append(&b, h, sizeof h), MS_OK);
	seg_add_msg(&b, "m0", MSGS[0]);
	size_t second = b.len;
	seg_add_msg(&b, "m1", MSGS[1]);
	seg_add_commit(&b);
	b.data[second + 9] ^= 0x40;
	spit(sub_path("seg", "0000000004-1-dd"), b.data, b.len);
	listed_ids(ids, sizeof ids, &names, &n);
	ck_assert_str_eq(ids, ""); /* no commit entry reached */
	ms_spool_names_free(&names);
	ms_buf_free(&b);
}
END_TEST

#define N_THREADS 8
#define N_EACH	  40

static void *commit_many(void *arg)
{
	int t = (int)(intptr_t)arg;
	for (int i = 0; i < N_EACH; i++) {
		char id[32], msg[128];
		snprintf(id, sizeof id, "t%d-%d", t, i);
		snprintf(msg, sizeof msg, "Subject: %s\r\n\r\n%s\r\n", id, id);
		ms_spool_writer *w = NULL;
		if (ms_spool_begin(g_sp, id, &w, NULL) ||
		    ms_spool_write(w, msg, strlen(msg)) ||
		    ms_spool_commit(&w, NULL, NULL))
			return (void *)1;
	}
	return NULL;
}

static long rd_mem(void *src, uint64_t off, void *buf, size_t n)
{
	const ms_buf *b = src;
	if (off >= b->len)
		return 0;
	size_t k = b->len - off < n ? (size_t)(b->len - off) : n;
	memcpy(buf, b->data + off, k);
	return (long)k;
}

static void count_msg(void *ctx, uint64_t off, uint64_t len)
{
	(void)off;
	(void)len;
	(*(int *)ctx)++;
}

/* Many threads committing at once: every commit comes back MS_OK, every
 * entry is listed once and reads back, the segment walks cleanly with
 * every entry covered, and no commit entry was written for nothing. */
START_TEST(test_seg_group_commit)
{
	pthread_t th[N_THREADS];
	for (int t = 0; t < N_THREADS; t++)
		pthread_create(&th[t], NULL, commit_many, (void *)(intptr_t)t);
	for (int t = 0; t < N_THREADS; t++) {
		void *r;
		pthread_join(th[t], &r);
		ck_assert_ptr_null(r);
	}
	char **names = NULL;
	size_t n = 0;
	ck_assert_int_eq(ms_spool_list(g_sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, N_THREADS * N_EACH);
	static char seen[N_THREADS][N_EACH];
	memset(seen, 0, sizeof seen);
	for (size_t i = 0; i < n; i++) {
		ms_spool_entry *e = NULL;
		ck_assert_int_eq(ms_spool_read(g_sp, names[i], &e, NULL),
				 MS_OK);
		int t, k;
		ck_assert_int_eq(sscanf(e->env.id, "t%d-%d", &t, &k), 2);
		ck_assert(!seen[t][k]++);
		ms_spool_entry_free(&e);
	}
	char seg[MS_SEG_NAME_MAX];
	uint64_t off;
	ck_assert(ms_seg_name_parse(names[0], seg, &off));
	ms_spool_names_free(&names);
	ck_assert_int_eq(ms_spool_poll(g_sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 0); /* all handed out already */
	ms_spool_names_free(&names);
	size_t len;
	FILE *f = fopen(sub_path("seg", seg), "rb");
	ms_buf b = MS_BUF_INIT;
	char buf[4096];
	while ((len = fread(buf, 1, sizeof buf, f)) > 0)
		ck_assert_int_eq(ms_buf_append(&b, buf, len), MS_OK);
	fclose(f);
	int msgs = 0;
	ms_seg_walk w = { .strict = 1, .on_msg = count_msg, .ctx = &msgs };
	ms_seg_walk_run(&w, rd_mem, &b, b.len);
	ck_assert_uint_eq(w.off, b.len);
	ck_assert(!w.stuck);
	ck_assert_int_eq(msgs, N_THREADS * N_EACH);
	ck_assert_uint_ge(w.proven, b.len - MS_SEG_COMMIT);
	printf("test_spool: %d commits from %d threads in one segment of %zu "
	       "bytes\n",
	       msgs, N_THREADS, b.len);
	ms_buf_free(&b);
}
END_TEST

/* A live segment's archived entries: NAME.done, then a new handle does
 * not count them; closing the writer lets the segment go. */
START_TEST(test_seg_done_and_retire)
{
	const char *a = put_entry("a1", MSGS[0], strlen(MSGS[0]), 5, NULL);
	char first[128];
	snprintf(first, sizeof first, "%s", a);
	const char *b2 = put_entry("a2", MSGS[1], strlen(MSGS[1]), 5, NULL);
	char second[128];
	snprintf(second, sizeof second, "%s", b2);
	ck_assert_int_eq(ms_spool_remove(g_sp, first, 1), MS_OK);
	char seg[MS_SEG_NAME_MAX], done[MS_SEG_NAME_MAX + 8];
	uint64_t off;
	ck_assert(ms_seg_name_parse(first, seg, &off));
	snprintf(done, sizeof done, "%s.done", seg);
	ck_assert(exists(sub_path("seg", done)));
	ms_spool *other = NULL;
	ck_assert_int_eq(ms_spool_open(g_dir, &other, NULL), MS_OK);
	uint64_t n = 0;
	ck_assert_int_eq(ms_spool_backlog(other, &n, NULL, NULL), MS_OK);
	ck_assert_uint_eq(n, 1);
	char **names = NULL;
	size_t k = 0;
	ck_assert_int_eq(ms_spool_list(other, &names, &k), MS_OK);
	ck_assert_uint_eq(k, 1);
	ck_assert_str_eq(names[0], second);
	ms_spool_names_free(&names);
	/* the writer (g_sp) still has it open: not removed */
	ck_assert_int_eq(ms_spool_remove(other, second, 1), MS_OK);
	ck_assert(exists(sub_path("seg", seg)));
	ms_spool_close(&g_sp);
	ck_assert_int_eq(ms_spool_list(other, &names, &k), MS_OK);
	ck_assert_uint_eq(k, 0);
	ms_spool_names_free(&names);
	ck_assert(!exists(sub_path("seg", seg)));
	ck_assert(!exists(sub_path("seg", done)));
	ms_spool_close(&other);
	ck_assert_int_eq(ms_spool_open(g_dir, &g_sp, NULL), MS_OK);
}
END_TEST

/* Archived entries at the start of a live segment are punched out; a new
 * reader starts at NAME.done's mark and finds exactly the rest. */
START_TEST(test_seg_punched_restart)
{
	char **names = NULL, body[300];
	size_t n = 0;
	memset(body, 'b', sizeof body - 1);
	body[sizeof body - 1] = '\0';
	for (int i = 0; i < 100; i++) {
		char id[16];
		snprintf(id, sizeof id, "p%d", i);
		put_entry(id, body, strlen(body), 100, NULL);
	}
	ck_assert_int_eq(ms_spool_list(g_sp, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 100);
	for (size_t i = 0; i < 60; i++)
		ck_assert_int_eq(ms_spool_remove(g_sp, names[i], i == 59),
				 MS_OK);
	char want[128];
	snprintf(want, sizeof want, "%s", names[60]);
	ms_spool_names_free(&names);
	ms_spool *other = NULL;
	ck_assert_int_eq(ms_spool_open(g_dir, &other, NULL), MS_OK);
	ck_assert_int_eq(ms_spool_list(other, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 40);
	ck_assert_str_eq(names[0], want);
	ms_spool_entry *e = NULL;
	ck_assert_int_eq(ms_spool_read(other, names[39], &e, NULL), MS_OK);
	ck_assert_str_eq(e->env.id, "p99");
	ms_spool_entry_free(&e);
	ms_spool_names_free(&names);
	ms_spool_close(&other);
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
	tcase_add_test(tc, test_fd_then_grow);
	tcase_add_loop_test(tc, test_id_validation, 0,
			    sizeof id_cases / sizeof id_cases[0]);
	tcase_add_test(tc, test_id_length);
	tcase_add_test(tc, test_abort);
	tcase_add_test(tc, test_commit_id_mismatch);
	tcase_add_test(tc, test_commit_seg_not_dir);
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
	tcase_add_test(tc, test_seg_unflushed_dropped);
	tcase_add_test(tc, test_seg_other_boot);
	tcase_add_test(tc, test_seg_corrupt);
	tcase_add_test(tc, test_seg_group_commit);
	tcase_add_test(tc, test_seg_done_and_retire);
	tcase_add_test(tc, test_seg_punched_restart);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(spool_suite());
}
