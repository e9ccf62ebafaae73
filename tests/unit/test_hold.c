/* test_hold.c - Check tests for legal holds (ms_hold.h) and the durable
 * file helpers under them (ms_file.h): names good and bad, the file
 * format round trip (escapes included) and its damage cases, placing,
 * duplicates (released ones too), bad queries, releasing (reason required,
 * history kept, twice refused), the before-change hook (a refusal leaves
 * the file byte for byte as it was), and a writer waiting for an expire
 * run's shared lock.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms_file.h"
#include "ms_hold.h"
#include "support_util.h"

static char *dir;

static void setup(void)
{
	dir = ms_test_tmpdir("test_hold");
}

static void teardown(void)
{
	ms_test_tmpdir_free(&dir);
}

/* ---- names ---- */

typedef struct name_case {
	const char *name;
	int ok;
} name_case;

static const name_case name_cases[] = {
	{ "case-1", 1 },
	{ "A.b_c-9", 1 },
	{ "x", 1 },
	{ "1234567890123456789012345678901234567890123456789012345678901234",
	  1 },
	{ "12345678901234567890123456789012345678901234567890123456789012345",
	  0 },
	{ "", 0 },
	{ ".hidden", 0 },
	{ "-flag", 0 },
	{ "with space", 0 },
	{ "a/b", 0 },
	{ "caf\xc3\xa9", 0 },
	{ "tab\there", 0 },
	{ "new\nline", 0 },
	{ "semi;colon", 0 },
};

START_TEST(test_names)
{
	const name_case *c = &name_cases[_i];
	ms_buf why = MS_BUF_INIT;
	ms_status_t st = ms_hold_name_check(c->name, &why);
	ck_assert_msg((st == MS_OK) == c->ok, "<%s>: %s", c->name,
		      ms_status_str(st));
	if (!c->ok)
		ck_assert_uint_gt(why.len, 0);
	ms_buf_free(&why);
}
END_TEST

/* ---- the file format ---- */

static ms_hold make(const char *name, const char *query, const char *reason)
{
	ms_hold h = { .name = (char *)name,
		      .query = (char *)query,
		      .reason = (char *)reason,
		      .by = "alice",
		      .at = 1700000000 };
	return h;
}

START_TEST(test_format_round_trip)
{
	ms_hold v[2] = { make("a", "from:x@y", "tab\there\nnew line \\ end"),
			 make("b", "subject:\"q r\"", "") };
	v[1].released_by = "bob";
	v[1].released_at = 1700000100;
	v[1].release_reason = "matter closed";
	ms_holds h = { v, 2 };
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_holds_format(&h, &b), MS_OK);
	ms_holds *back = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_holds_parse(b.data, b.len, "f", &back, &err),
			 MS_OK);
	ck_assert_uint_eq(back->n, 2);
	ck_assert_str_eq(back->v[0].reason, "tab\there\nnew line \\ end");
	ck_assert_str_eq(back->v[0].by, "alice");
	ck_assert_int_eq(back->v[0].at, 1700000000);
	ck_assert(ms_hold_active(&back->v[0]));
	ck_assert_str_eq(back->v[0].released_by, "");
	ck_assert_str_eq(back->v[1].query, "subject:\"q r\"");
	ck_assert(!ms_hold_active(&back->v[1]));
	ck_assert_str_eq(back->v[1].release_reason, "matter closed");
	ck_assert_ptr_eq(ms_holds_find(back, "b"), &back->v[1]);
	ck_assert_ptr_null(ms_holds_find(back, "c"));
	ms_holds_free(&back);
	ck_assert_ptr_null(back);
	ms_buf_free(&b);
}
END_TEST

typedef struct bad_file {
	const char *text;
	const char *want;
} bad_file;

static const bad_file bad_files[] = {
	{ "format\t2\n", "f: not a holds file of format 1" },
	{ "name\tx\nquery\ty\n", "f: not a holds file of format 1" },
	{ "format\t1\n\nquery\tx\n", "f: hold 1 has no name or no query" },
	{ "format\t1\n\nname\tx\n", "f: hold 1 has no name or no query" },
	{ "format\t1\n\nname\tx\nquery\ta\n\nname\tx\nquery\tb\n",
	  "f: two holds named x" },
};

START_TEST(test_parse_errors)
{
	const bad_file *c = &bad_files[_i];
	char *text = strdup(c->text), *err = NULL;
	ms_holds *h = (ms_holds *)&h;
	ck_assert_int_eq(ms_holds_parse(text, strlen(text), "f", &h, &err),
			 MS_ERR_CORRUPT);
	ck_assert_ptr_null(h);
	ck_assert_str_eq(err, c->want);
	free(err);
	free(text);
}
END_TEST

/* ---- changes ---- */

static ms_holds *load_ok(void)
{
	ms_holds *h = NULL;
	char *err = NULL;
	ck_assert_int_eq(ms_holds_load(dir, &h, &err), MS_OK);
	ck_assert_ptr_null(err);
	return h;
}

static char *file_text(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/holds", dir);
	ms_buf b = MS_BUF_INIT;
	ms_status_t st = ms_file_read(path, 1 << 20, &b, NULL);
	if (st == MS_ERR_NOTFOUND)
		return strdup("(none)");
	ck_assert_int_eq(st, MS_OK);
	return ms_buf_steal(&b);
}

static int calls;
static int count_calls(const ms_hold *h, void *ctx)
{
	(void)h;
	calls++;
	return ctx != NULL; /* ctx set: refuse */
}

static void add_expect(const char *name, const char *query, ms_status_t want,
		       const char *msg)
{
	ms_hold h = make(name, query, "why");
	char *err = NULL;
	ms_status_t st = ms_hold_add(dir, &h, count_calls, NULL, &err);
	ck_assert_msg(st == want, "add %s: %s (%s)", name, ms_status_str(st),
		      err ? err : "");
	if (msg)
		ck_assert_str_eq(err, msg);
	else
		ck_assert_ptr_null(err);
	free(err);
}

START_TEST(test_add_release)
{
	ms_holds *h = load_ok(); /* no file yet: no holds */
	ck_assert_uint_eq(h->n, 0);
	ms_holds_free(&h);
	calls = 0;
	add_expect("case-1", "from:cfo@example.org date:2024-01..2025-06",
		   MS_OK, NULL);
	add_expect("case-2", "verdict:infected", MS_OK, NULL);
	ck_assert_int_eq(calls, 2);
	add_expect("case-1", "x", MS_ERR_INVALID,
		   "a hold named case-1 already exists");
	add_expect("bad name", "x", MS_ERR_INVALID,
		   "bad hold name 'bad name': use only letters, digits, '.', "
		   "'_' and '-'");
	add_expect("case-3", "nosuch:x", MS_ERR_QUERY,
		   "bad query: unknown field 'nosuch' at column 1");
	add_expect("case-3", "", MS_ERR_QUERY, "bad query: empty query");
	ck_assert_int_eq(calls, 2); /* refusals never reach the hook */
	char *err = NULL;
	ck_assert_int_eq(ms_hold_release(dir, "case-1", "bob", 1700000500, "",
					 NULL, NULL, &err),
			 MS_ERR_INVALID);
	free(err);
	ck_assert_int_eq(ms_hold_release(dir, "nope", "bob", 1700000500, "r",
					 NULL, NULL, &err),
			 MS_ERR_NOTFOUND);
	ck_assert_str_eq(err, "no hold named nope");
	free(err);
	ck_assert_int_eq(ms_hold_release(dir, "case-1", "bob", 1700000500,
					 "settled", count_calls, NULL, &err),
			 MS_OK);
	ck_assert_int_eq(ms_hold_release(dir, "case-1", "bob", 1700000600,
					 "again", NULL, NULL, &err),
			 MS_ERR_INVALID);
	ck_assert_str_eq(err, "hold case-1 was already released");
	free(err);
	add_expect("case-1", "x", MS_ERR_INVALID,
		   "a hold named case-1 already exists (released)");
	h = load_ok();
	ck_assert_uint_eq(h->n, 2);
	ck_assert_str_eq(h->v[0].name, "case-1");
	ck_assert(!ms_hold_active(&h->v[0]));
	ck_assert_str_eq(h->v[0].query,
			 "from:cfo@example.org date:2024-01..2025-06");
	ck_assert_str_eq(h->v[0].released_by, "bob");
	ck_assert_int_eq(h->v[0].released_at, 1700000500);
	ck_assert_str_eq(h->v[0].release_reason, "settled");
	ck_assert(ms_hold_active(&h->v[1]));
	ms_holds_free(&h);
}
END_TEST

START_TEST(test_hook_refuses)
{
	add_expect("keep", "a", MS_OK, NULL);
	char *before = file_text(), *err = NULL;
	ms_hold h = make("new", "b", "");
	ck_assert_int_eq(ms_hold_add(dir, &h, count_calls, "refuse", &err),
			 MS_ERR_LIMIT);
	free(err);
	ck_assert_int_eq(ms_hold_release(dir, "keep", "bob", 1, "r",
					 count_calls, "refuse", &err),
			 MS_ERR_LIMIT);
	free(err);
	char *after = file_text();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

/* A writer waits while another process holds the shared (expire) lock. */
START_TEST(test_waits_for_expire)
{
	int fd = -1;
	char *err = NULL;
	add_expect("first", "a", MS_OK, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (ms_holds_lock(dir, &fd, NULL) != MS_OK)
			_exit(1);
		sleep(1);
		_exit(0);
	}
	usleep(300000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ms_hold h = make("second", "b", "");
	ck_assert_int_eq(ms_hold_add(dir, &h, NULL, NULL, &err), MS_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double waited = (double)(t1.tv_sec - t0.tv_sec) +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(waited > 0.4, "did not wait: %.2f s", waited);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ms_holds *hs = load_ok();
	ck_assert_uint_eq(hs->n, 2);
	ms_holds_free(&hs);
	/* a shared lock beside another shared lock does not wait */
	ck_assert_int_eq(ms_holds_lock(dir, &fd, &err), MS_OK);
	int fd2 = -1;
	ck_assert_int_eq(ms_holds_lock(dir, &fd2, &err), MS_OK);
	close(fd);
	close(fd2);
}
END_TEST

/* ---- ms_file ---- */

START_TEST(test_file_replace)
{
	char path[4096], *err = NULL;
	snprintf(path, sizeof path, "%s/f", dir);
	ck_assert_int_eq(ms_file_replace(path, "one", 3, 0600, &err), MS_OK);
	ck_assert_int_eq(ms_file_replace(path, "two!", 4, 0600, &err), MS_OK);
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_file_read(path, 100, &b, &err), MS_OK);
	ck_assert_str_eq(b.data, "two!");
	ck_assert_int_eq(ms_file_read(path, 3, &b, &err), MS_ERR_LIMIT);
	ck_assert_str_eq(b.data, "two!"); /* out as it was */
	free(err);
	err = NULL;
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	strcat(path, ".tmp");
	ck_assert_int_ne(access(path, F_OK), 0); /* renamed away */
	snprintf(path, sizeof path, "%s/no/such/f", dir);
	ck_assert_int_eq(ms_file_replace(path, "x", 1, 0600, &err), MS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, "open"));
	free(err);
	ck_assert_int_eq(ms_file_read(path, 10, &b, &err), MS_ERR_NOTFOUND);
	ck_assert_ptr_null(err);
	ms_buf_free(&b);
}
END_TEST

static Suite *hold_suite(void)
{
	Suite *s = suite_create("hold");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_names, 0,
			    sizeof name_cases / sizeof name_cases[0]);
	tcase_add_test(tc, test_format_round_trip);
	tcase_add_loop_test(tc, test_parse_errors, 0,
			    sizeof bad_files / sizeof bad_files[0]);
	tcase_add_test(tc, test_add_release);
	tcase_add_test(tc, test_hook_refuses);
	tcase_add_test(tc, test_waits_for_expire);
	tcase_add_test(tc, test_file_replace);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(hold_suite());
}
