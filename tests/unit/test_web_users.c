/* test_web_users.c - Check tests for the console's accounts file
 * (web/web_users.h).
 *
 * Table-driven: web_users_load on files with good lines (comments, blank
 * lines, CRLF, scopes, every role) and hostile ones (missing fields, bad
 * roles, names with '/', '..', spaces or a leading '-', scopes with
 * spaces-only items, ':' or a trailing ',', duplicate accounts, a line
 * longer than the limit, a NUL byte, binary junk), each refused with the
 * right "path:line:" message and nothing loaded; a missing file (with and
 * without missing_ok); save then load gives the same accounts, mode 0640;
 * name and scope checks; hash and verify (right, wrong and malformed
 * hashes).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support_util.h"
#include "web_users.h"

#define H "$y$j9T$abc$def"

typedef struct load_case {
	const char *text;
	size_t len; /* 0: strlen(text) */
	int want_rc;
	size_t want_n;
	const char *err; /* substring of the message, after "path" */
} load_case;

static const load_case load_cases[] = {
	{ "", 0, 0, 0, NULL },
	{ "# accounts\n\n", 0, 0, 0, NULL },
	{ "alice:" H ":auditor:\n", 0, 0, 1, NULL },
	{ "alice:" H ":officer:\r\nbob:" H ":security:example.org\r\n", 0, 0, 2,
	  NULL },
	{ "carol:" H ":auditor:Example.ORG, bob@x.example\n", 0, 0, 1, NULL },
	{ "dave:" H ":auditor:", 0, 0, 1, NULL }, /* no final newline */
	{ "alice:" H ":auditor\n", 0, -1, 0, ":1: bad account line" },
	{ "alice\n", 0, -1, 0, ":1: bad account line" },
	{ "# ok\nalice:" H ":root:\n", 0, -1, 0, ":2: bad account line" },
	{ "../etc:" H ":auditor:\n", 0, -1, 0, ":1: bad account line" },
	{ "a/b:" H ":auditor:\n", 0, -1, 0, ":1: bad account line" },
	{ "-x:" H ":auditor:\n", 0, -1, 0, ":1: bad account line" },
	{ "a b:" H ":auditor:\n", 0, -1, 0, ":1: bad account line" },
	{ ":" H ":auditor:\n", 0, -1, 0, ":1: bad account line" },
	{ "alice:" H ":auditor:not a domain\n", 0, -1, 0,
	  ":1: bad account line" },
	{ "alice:" H ":auditor:example.org,\n", 0, -1, 0,
	  ":1: bad account line" },
	{ "alice:" H ":auditor:a:b.example\n", 0, -1, 0,
	  ":1: bad account line" },
	{ "alice:" H ":auditor:@example.org\n", 0, -1, 0,
	  ":1: bad account line" },
	{ "alice:" H ":auditor:\nalice:" H ":officer:\n", 0, -1, 0,
	  ":2: duplicate account" },
	{ "alice:" H ":auditor:\n\x01\xff\xfe junk\n", 0, -1, 0,
	  ":2: bad account line" },
	{ "al\0ce:" H ":auditor:\n", sizeof("al\0ce:" H ":auditor:\n") - 1, -1,
	  0, ":1: NUL byte" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:" H ":auditor:\n", 0, -1, 0,
	  ":1: bad account line" },
};

static char *dir;

static char *write_file(const char *text, size_t len)
{
	char *path = NULL;
	ck_assert_int_ge(asprintf(&path, "%s/users", dir), 0);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	return path;
}

START_TEST(test_load)
{
	const load_case *c = &load_cases[_i];
	dir = ms_test_tmpdir("ms-web-users");
	char *path = write_file(c->text, c->len ? c->len : strlen(c->text)),
	     *err = NULL;
	web_accounts a;
	int rc = web_users_load(path, 0, &a, &err);
	ck_assert_msg(rc == c->want_rc, "case %d: rc %d (%s)", _i, rc,
		      err ? err : "");
	ck_assert_uint_eq(a.n, c->want_n);
	if (c->err) {
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
				      strstr(err, c->err),
			      "case %d: <%s>", _i, err);
		ck_assert_ptr_null(a.v);
	}
	web_users_free(&a);
	free(err);
	free(path);
	ms_test_tmpdir_free(&dir);
}
END_TEST

/* A line longer than the limit is refused, not split into two. */
START_TEST(test_long_line)
{
	dir = ms_test_tmpdir("ms-web-users");
	size_t n = 8192;
	char *text = malloc(n + 64);
	snprintf(text, 64, "alice:" H ":auditor:");
	size_t o = strlen(text);
	memset(text + o, 'a', n);
	memcpy(text + o + n, ".example\nbob:x:auditor:\n", 25);
	char *path = write_file(text, strlen(text)), *err = NULL;
	web_accounts a;
	ck_assert_int_eq(web_users_load(path, 0, &a, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, ":1: line too long"));
	ck_assert_uint_eq(a.n, 0);
	free(err);
	free(path);
	free(text);
	ms_test_tmpdir_free(&dir);
}
END_TEST

START_TEST(test_missing)
{
	web_accounts a;
	char *err = NULL;
	ck_assert_int_eq(web_users_load("/nonexistent/users", 1, &a, &err), 0);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_int_eq(web_users_load("/nonexistent/users", 0, &a, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/users: "));
	free(err);
}
END_TEST

START_TEST(test_save_load)
{
	dir = ms_test_tmpdir("ms-web-users");
	char *path = NULL, *err = NULL;
	ck_assert_int_ge(asprintf(&path, "%s/users", dir), 0);
	web_accounts a = { 0 }, b;
	web_account acc = { .role = WEB_ROLE_OFFICER };
	strcpy(acc.name, "off");
	strcpy(acc.hash, H);
	ck_assert_int_eq(web_users_add(&a, &acc), 0);
	strcpy(acc.name, "sc");
	acc.role = WEB_ROLE_AUDITOR;
	strcpy(acc.scope, "example.org,bob@x.example");
	ck_assert_int_eq(web_users_add(&a, &acc), 0);
	ck_assert_int_eq(web_users_save(path, &a, &err), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(web_users_load(path, 0, &b, &err), 0);
	ck_assert_uint_eq(b.n, 2);
	web_account *s = web_users_find(&b, "sc");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->role, WEB_ROLE_AUDITOR);
	ck_assert_str_eq(s->scope, "example.org,bob@x.example");
	ck_assert_int_eq(web_users_del(&b, "off"), 1);
	ck_assert_int_eq(web_users_del(&b, "off"), 0);
	ck_assert_ptr_null(web_users_find(&b, "off"));
	web_users_free(&a);
	web_users_free(&b);
	free(path);
	ms_test_tmpdir_free(&dir);
}
END_TEST

typedef struct scope_case {
	const char *in;
	int ok;
	const char *norm;
} scope_case;

static const scope_case scope_cases[] = {
	{ "", 1, "" },
	{ "Example.ORG", 1, "example.org" },
	{ "a.example, bob@b.example", 1, "a.example,bob@b.example" },
	{ "b_o+b=1@b.example", 1, "b_o+b=1@b.example" },
	{ "localhost", 0, NULL },
	{ ".example.org", 0, NULL },
	{ "example.org.", 0, NULL },
	{ "@example.org", 0, NULL },
	{ "x@", 0, NULL },
	{ "a.example,", 0, NULL },
	{ "a.example,,b.example", 0, NULL },
	{ "a\"b.example", 0, NULL },
	{ "a)b.example", 0, NULL },
	{ "a_b.example", 0, NULL },
};

START_TEST(test_scope)
{
	const scope_case *c = &scope_cases[_i];
	char buf[128];
	snprintf(buf, sizeof buf, "%s", c->in);
	ck_assert_msg(web_users_check_scope(buf) == c->ok, "case %d <%s>", _i,
		      c->in);
	if (c->norm)
		ck_assert_str_eq(buf, c->norm);
}
END_TEST

START_TEST(test_names_roles)
{
	ck_assert(web_users_check_name("alice.b-c_1"));
	ck_assert(!web_users_check_name(""));
	ck_assert(!web_users_check_name(".alice"));
	ck_assert(!web_users_check_name("al:ce"));
	ck_assert(!web_users_check_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	ck_assert(web_users_check_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	ck_assert_int_eq(web_role_parse("officer"), WEB_ROLE_OFFICER);
	ck_assert_int_eq(web_role_parse("Officer"), -1);
	ck_assert_str_eq(web_role_name(WEB_ROLE_SECURITY), "security");
	ck_assert_str_eq(web_role_name(WEB_ROLE_N), "?");
}
END_TEST

START_TEST(test_hash_verify)
{
	char h[WEB_HASH_MAX];
	ck_assert_int_eq(web_users_hash("s3cret", h, sizeof h), 0);
	ck_assert(strncmp(h, "$y$", 3) == 0);
	ck_assert(web_users_verify(h, "s3cret"));
	ck_assert(!web_users_verify(h, "s3cret "));
	ck_assert(!web_users_verify(h, ""));
	ck_assert(!web_users_verify(NULL, "s3cret"));
	ck_assert(!web_users_verify("", "s3cret"));
	ck_assert(!web_users_verify("$1$md5$salt", "s3cret"));
	ck_assert(!web_users_verify("$y$garbage", "s3cret"));
	ck_assert_int_eq(web_users_hash("x", h, 8), -1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("web_users");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_load, 0,
			    (int)(sizeof load_cases / sizeof load_cases[0]));
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_save_load);
	tcase_add_loop_test(tc, test_scope, 0,
			    (int)(sizeof scope_cases / sizeof scope_cases[0]));
	tcase_add_test(tc, test_names_roles);
	tcase_add_test(tc, test_hash_verify);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(suite());
}
