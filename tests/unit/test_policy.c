/* test_policy.c - Check tests for the attachment policy (milter_policy.h).
 *
 * Messages are built here and written to temp files. Table-driven: file
 * names (plain, double extension, RFC 2047, RFC 2231 with and without
 * continuations, upper case, trailing dot/space, Content-Type name only,
 * allowed names, executable content types, nested message/rfc822), the
 * extension rule itself, the SHA-256 blocklist (decoded base64 and QP
 * content, same content under another name, unnamed parts), blocklist
 * parse errors (file:line), an empty blocklist, a 20 MB attachment hashed
 * while streaming, truncated and garbage MIME (every prefix of a message),
 * nesting and part-count limits, the caller's file offset, bad arguments
 * and concurrent checks on one policy.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter_policy.h"
#include "ms_buf.h"
#include "ms_config.h"
#include "ms_hash.h"
#include "support_util.h"

#define EXTS	    "exe, .SCR, js, com"
#define PAYLOAD	    "MZ\x90\x00 pretend this is malware \xff\xfe\x01"
#define PAYLOAD_LEN (sizeof(PAYLOAD) - 1)
#define PAYLOAD_B64 "TVqQACBwcmV0ZW5kIHRoaXMgaXMgbWFsd2FyZSD//gE="

static char *tmpdir;

static void setup(void)
{
	tmpdir = ms_test_tmpdir("test_policy");
}

static void teardown(void)
{
	ms_test_rmtree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
}

/* ---- helpers ---- */

/* Writes data[0..len) to the file tmpdir/name; returns its malloc'ed path. */
static char *write_file(const char *name, const void *data, size_t len)
{
	char *path = NULL;
	ck_assert_int_ge(asprintf(&path, "%s/%s", tmpdir, name), 0);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* Returns a read/write fd of a new unlinked temp file holding data. */
static int msg_fd(const char *data, size_t len)
{
	char *path = NULL;
	ck_assert_int_ge(asprintf(&path, "%s/msg.XXXXXX", tmpdir), 0);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	free(path);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	return fd;
}

/* Parses config text (NUL-terminated) and builds its policy; on failure
 * returns the status and leaves the message in *err_r (if not NULL). */
static ms_status_t policy_from(const char *conf, ms_policy **p_r, char **err_r)
{
	ms_config *cfg = NULL;
	char *err = NULL;
	ms_status_t st = ms_config_parse_string(conf, strlen(conf),
						"/etc/test.conf", &cfg, &err);
	ck_assert_msg(st == MS_OK, "config: %s", err ? err : "?");
	st = ms_policy_new(cfg, p_r, err_r);
	ms_config_free(&cfg);
	return st;
}

/* A policy blocking EXTS with the blocklist file text bl (NULL: none). */
static ms_policy *policy_with(const char *bl)
{
	char *path = bl ? write_file("blocklist", bl, strlen(bl)) : NULL;
	char *conf = NULL;
	ck_assert_int_ge(asprintf(&conf,
				  "[policy]\nblocked_extensions = %s\n"
				  "blocklist_file = %s\n",
				  EXTS, path ? path : "\"\""),
			 0);
	ms_policy *p = NULL;
	char *err = NULL;
	ms_status_t st = policy_from(conf, &p, &err);
	ck_assert_msg(st == MS_OK, "policy: %s", err ? err : "?");
	free(conf);
	free(path);
	return p;
}

/* Checks data[0..len) with p; asserts MS_OK and returns the result. */
static ms_policy_result check_len(const ms_policy *p, const char *data,
				  size_t len)
{
	ms_policy_result r;
	int fd = msg_fd(data, len);
	ck_assert_int_eq(ms_policy_check(p, fd, len, &r), MS_OK);
	close(fd);
	ck_assert(r.blocked || r.reason[0] == '\0');
	return r;
}

static ms_policy_result check_str(const ms_policy *p, const char *data)
{
	return check_len(p, data, strlen(data));
}

#define HEAD                                                                   \
	"From: a@example.org\r\nTo: b@example.org\r\nSubject: t\r\n"           \
	"MIME-Version: 1.0\r\n"

/* A multipart/mixed message: a text part, then one part with the given
 * header lines (CRLF-terminated) and body. Caller frees. */
static char *att_msg(const char *part_headers, const char *body)
{
	char *m = NULL;
	ck_assert_int_ge(
		asprintf(&m,
			 HEAD "Content-Type: multipart/mixed; boundary=\"BB\""
			      "\r\n\r\npreamble\r\n--BB\r\n"
			      "Content-Type: text/plain\r\n\r\nhello\r\n"
			      "--BB\r\n%s\r\n%s\r\n--BB--\r\n",
			 part_headers, body),
		0);
	return m;
}

/* ---- file names ---- */

typedef struct name_case {
	const char *headers; /* of the attachment part */
	const char *reason;  /* expected reason, or NULL: not blocked */
} name_case;

static const name_case name_cases[] = {
	{ "Content-Type: application/octet-stream\r\n"
	  "Content-Disposition: attachment; filename=\"x.exe\"\r\n",
	  "blocked attachment type .exe: x.exe" },
	{ "Content-Disposition: attachment; filename=invoice.pdf.exe\r\n",
	  "blocked attachment type .exe: invoice.pdf.exe" },
	{ "Content-Disposition: attachment;\r\n filename=\"=?utf-8?B?"
	  "UmVjaG51bmcgTcOkcnouZXhl?=\"\r\n",
	  "blocked attachment type .exe: Rechnung M??rz.exe" },
	{ "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.scr\r\n",
	  "blocked attachment type .scr: ???.scr" },
	{ "Content-Disposition: attachment;\r\n filename*0*=utf-8''%E2%82%AC;"
	  "\r\n filename*1*=%20x.scr\r\n",
	  "blocked attachment type .scr: ??? x.scr" },
	{ "Content-Disposition: attachment;\r\n filename*0=\"inv\";\r\n"
	  " filename*1=\"oice.js\"\r\n",
	  "blocked attachment type .js: invoice.js" },
	{ "Content-Disposition: attachment; filename=\"X.EXE\"\r\n",
	  "blocked attachment type .exe: X.EXE" },
	{ "Content-Disposition: attachment; filename=\"x.exe.\"\r\n",
	  "blocked attachment type .exe: x.exe." },
	{ "Content-Disposition: attachment; filename=\"report.EXE \"\r\n",
	  "blocked attachment type .exe: report.EXE " },
	{ "Content-Disposition: attachment; filename=\"a.Com. . \"\r\n",
	  "blocked attachment type .com: a.Com. . " },
	{ "Content-Type: application/octet-stream; name=\"y.js\"\r\n",
	  "blocked attachment type .js: y.js" },
	{ "Content-Type: application/octet-stream; name=\"a.exe\"\r\n"
	  "Content-Disposition: attachment; filename=\"a.txt\"\r\n",
	  "blocked attachment type .exe: a.exe" },
	{ "Content-Type: application/x-msdownload\r\n",
	  "blocked attachment type .exe: unnamed (application/x-msdownload)" },
	{ "Content-Type: Application/X-DOSEXEC; name=\"setup.bin\"\r\n",
	  "blocked attachment type .exe: setup.bin (Application/X-DOSEXEC)" },
	{ "Content-Disposition: attachment; filename=\"100%.exe\"\r\n",
	  "blocked attachment type .exe: 100?.exe" },
	{ "Content-Disposition: attachment; filename=\"archive.tar.gz\"\r\n",
	  NULL },
	{ "Content-Disposition: attachment; filename=\"doc.pdf\"\r\n", NULL },
	{ "Content-Disposition: attachment; filename=\"x.exe.txt\"\r\n", NULL },
	{ "Content-Disposition: attachment; filename=\"exe\"\r\n", NULL },
	{ "Content-Disposition: attachment; filename=\".\"\r\n", NULL },
	{ "Content-Disposition: attachment; filename=\"\"\r\n", NULL },
	{ "Content-Disposition: attachment; filename=\"x.exe1\"\r\n", NULL },
	{ "Content-Type: application/pdf; name=\"scr.pdf\"\r\n", NULL },
	{ "Content-Type: application/x-msdownload-not\r\n", NULL },
	{ "Content-Type: text/plain\r\n", NULL },
};

START_TEST(test_names)
{
	const name_case *c = &name_cases[_i];
	ms_policy *p = policy_with(NULL);
	char *m = att_msg(c->headers, "AAAA");
	ms_policy_result r = check_str(p, m);
	ck_assert_msg(r.blocked == (c->reason != NULL), "case %d: %s", _i,
		      r.reason);
	if (c->reason)
		ck_assert_str_eq(r.reason, c->reason);
	else
		ck_assert_str_eq(r.reason, "");
	free(m);
	ms_policy_free(&p);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_plain_and_empty_list)
{
	ms_policy *p = policy_with(NULL);
	ms_policy_result r =
		check_str(p, HEAD "Content-Type: text/plain\r\n\r\nHi.\r\n");
	ck_assert_int_eq(r.blocked, 0);
	r = check_str(p, HEAD "Content-Type: application/octet-stream; "
			      "name=\"top.exe\"\r\n\r\nAAAA\r\n");
	ck_assert_str_eq(r.reason, "blocked attachment type .exe: top.exe");
	ms_policy_free(&p);
	/* no blocked extensions at all: nothing is blocked */
	ck_assert_int_eq(
		policy_from("[policy]\nblocked_extensions =\n", &p, NULL),
		MS_OK);
	char *m = att_msg("Content-Type: application/x-msdownload; "
			  "name=\"x.exe\"\r\n",
			  "AAAA");
	ck_assert_int_eq(check_str(p, m).blocked, 0);
	free(m);
	ms_policy_free(&p);
	ms_policy_free(&p); /* no-op */
	ms_policy_free(NULL);
}
END_TEST

START_TEST(test_nested_rfc822)
{
	ms_policy *p = policy_with(NULL);
	char *inner = att_msg("Content-Type: text/javascript\r\n"
			      "Content-Disposition: attachment; "
			      "filename=\"run.js\"\r\n",
			      "alert(1);");
	char *mid = NULL, *outer = NULL;
	ck_assert_int_ge(asprintf(&mid,
				  HEAD "Content-Type: multipart/mixed; "
				       "boundary=\"CC\"\r\n\r\n--CC\r\n"
				       "Content-Type: message/rfc822\r\n\r\n"
				       "%s\r\n--CC--\r\n",
				  inner),
			 0);
	ck_assert_int_ge(asprintf(&outer,
				  HEAD "Content-Type: message/rfc822\r\n\r\n%s",
				  mid),
			 0);
	ck_assert_str_eq(check_str(p, mid).reason,
			 "blocked attachment type .js: run.js");
	ck_assert_str_eq(check_str(p, outer).reason,
			 "blocked attachment type .js: run.js");
	free(inner);
	free(mid);
	free(outer);
	ms_policy_free(&p);
}
END_TEST

START_TEST(test_from_line_and_offset)
{
	ms_policy *p = policy_with(NULL);
	char *m = att_msg("Content-Disposition: attachment; "
			  "filename=\"x.scr\"\r\n",
			  "AAAA");
	char *fm = NULL;
	ck_assert_int_ge(
		asprintf(&fm, "From a@example.org Mon Jan  1 00:00:00 2024\n%s",
			 m),
		0);
	ck_assert_int_eq(check_str(p, fm).blocked, 1);
	/* the caller's offset is kept; len limits what is read */
	size_t len = strlen(fm);
	int fd = msg_fd(fm, len);
	ck_assert_int_eq(lseek(fd, 17, SEEK_SET), 17);
	ms_policy_result r;
	ck_assert_int_eq(ms_policy_check(p, fd, len, &r), MS_OK);
	ck_assert_int_eq(r.blocked, 1);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 17);
	size_t head = (size_t)(strstr(fm, "--BB") - fm);
	ck_assert_int_eq(ms_policy_check(p, fd, head, &r), MS_OK);
	ck_assert_int_eq(r.blocked, 0);
	/* errors: len beyond the file, bad fd, not a regular file */
	ck_assert_int_eq(ms_policy_check(p, fd, len + 1, &r), MS_ERR_IO);
	ck_assert_int_eq(r.blocked, 0);
	ck_assert_int_eq(ms_policy_check(p, -1, 10, &r), MS_ERR_IO);
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(ms_policy_check(p, pfd[0], 0, &r), MS_ERR_IO);
	close(pfd[0]);
	close(pfd[1]);
	/* a write-only fd cannot be read */
	char *path = write_file("wo", fm, len);
	int wfd = open(path, O_WRONLY);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(ms_policy_check(p, wfd, len, &r), MS_ERR_IO);
	close(wfd);
	free(path);
	close(fd);
	free(m);
	free(fm);
	ms_policy_free(&p);
}
END_TEST

/* ---- the extension rule ---- */

static const char *const ext_cases[][2] = {
	{ "x.exe", "exe" },
	{ "invoice.pdf.exe", "exe" },
	{ "report.EXE ", "exe" },
	{ "x.exe.", "exe" },
	{ "x.ExE. .\t", "exe" },
	{ "archive.tar.gz", "gz" },
	{ ".bashrc", "bashrc" },
	{ "C:\\dir.d\\a.Js", "js" },
	{ "noext", NULL },
	{ "", NULL },
	{ "...", NULL },
	{ "x.", NULL },
	{ "a. ", NULL },
	{ "x.abcdefghijklmnop", NULL }, /* longer than the buffer */
	{ "x.abcdefghijklmno", "abcdefghijklmno" },
};

START_TEST(test_extension)
{
	char buf[16];
	const char *got =
		ms_policy_extension(ext_cases[_i][0], buf, sizeof(buf));
	if (ext_cases[_i][1]) {
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, ext_cases[_i][1]);
	} else {
		ck_assert_ptr_null(got);
	}
}
END_TEST

/* ---- the blocklist ---- */

/* The blocklist text listing the payload's hash, upper-cased. */
static char *payload_list(void)
{
	char hex[MS_SHA256_HEX], *bl = NULL;
	ck_assert_int_eq(ms_sha256_hex(PAYLOAD, PAYLOAD_LEN, hex), MS_OK);
	for (char *q = hex; *q; q++)
		if (*q >= 'a' && *q <= 'f')
			*q = (char)(*q - 'a' + 'A');
	ck_assert_int_ge(asprintf(&bl,
				  "\xef\xbb\xbf# test list\r\n\r\n  %s  # "
				  "payload\r\n%s\n%064d\n",
				  hex, hex, 0),
			 0);
	return bl;
}

START_TEST(test_blocklisted)
{
	char *bl = payload_list();
	ms_policy *p = policy_with(bl);
	ck_assert_uint_eq(ms_policy_blocklist_count(p), 2);
	char hex[MS_SHA256_HEX], *want = NULL;
	ck_assert_int_eq(ms_sha256_hex(PAYLOAD, PAYLOAD_LEN, hex), MS_OK);
	static const char *const names[] = { "x.bin", "other-name.dat" };
	for (int i = 0; i < 2; i++) {
		char *h = NULL, *m;
		ck_assert_int_ge(asprintf(&h,
					  "Content-Type: application/"
					  "octet-stream\r\nContent-Transfer-"
					  "Encoding: base64\r\nContent-"
					  "Disposition: attachment; "
					  "filename=\"%s\"\r\n",
					  names[i]),
				 0);
		m = att_msg(h, PAYLOAD_B64);
		ck_assert_int_ge(asprintf(&want,
					  "blocklisted attachment %s: %s", hex,
					  names[i]),
				 0);
		ck_assert_str_eq(check_str(p, m).reason, want);
		free(want);
		free(h);
		free(m);
	}
	/* the same bytes quoted-printable, unnamed */
	char *m = att_msg("Content-Type: application/octet-stream\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n",
			  "MZ=90=00 pretend this is malware =FF=FE=01");
	ck_assert_int_ge(asprintf(&want,
				  "blocklisted attachment %s: "
				  "(application/octet-stream)",
				  hex),
			 0);
	ck_assert_str_eq(check_str(p, m).reason, want);
	free(want);
	free(m);
	/* other content: not blocked */
	m = att_msg("Content-Transfer-Encoding: base64\r\n"
		    "Content-Disposition: attachment; filename=\"x.bin\"\r\n",
		    "TVqQACBwcmV0ZW5kIHRoaXMgaXMgbWFsd2FyZSD//gI=");
	ck_assert_int_eq(check_str(p, m).blocked, 0);
	free(m);
	ms_policy_free(&p);
	free(bl);
}
END_TEST

START_TEST(test_blocklist_empty)
{
	static const char *const lists[] = { "", "\n\n", "# nothing\n  \n" };
	for (int i = 0; i < 3; i++) {
		ms_policy *p = policy_with(lists[i]);
		ck_assert_uint_eq(ms_policy_blocklist_count(p), 0);
		char *m = att_msg("Content-Transfer-Encoding: base64\r\n",
				  PAYLOAD_B64);
		ck_assert_int_eq(check_str(p, m).blocked, 0);
		free(m);
		ms_policy_free(&p);
	}
	ms_policy *p = NULL;
	ck_assert_int_eq(policy_from("[policy]\n", &p, NULL), MS_OK);
	ck_assert_uint_eq(ms_policy_blocklist_count(p), 0);
	ms_policy_free(&p);
}
END_TEST

#define H64 "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"

static const char *const bad_lists[][2] = {
	{ "xyz\n", "1: bad SHA-256 'xyz'" },
	{ "# c\n\n" H64 "\n  zz  \n", "4: bad SHA-256 'zz'" },
	{ H64 "0\n", "1: bad SHA-256 '" H64 "0'" },
	{ "0123456789abcdef\n", "1: bad SHA-256 '0123456789abcdef'" },
	{ H64 " junk\n", "1: bad SHA-256 '" H64 " junk'" },
	{ H64 "#c\n", "1: bad SHA-256 '" H64 "#c'" },
	{ "\n" H64 "\0\n", "2: bad SHA-256 '" H64 "'" },
	{ "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "1: bad SHA-256 "
	  "'g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  "'" },
	{ "\x01\xff caf\xc3\xa9\n", "1: bad SHA-256 '?? caf?\?'" },
	{ H64 H64 "\n", "1: bad SHA-256 '" H64 "0123456789abcdef...'" },
};

START_TEST(test_blocklist_errors)
{
	const char *text = bad_lists[_i][0];
	size_t len = strlen(text);
	if (_i == 6)
		len = 1 + 64 + 2; /* with its NUL byte */
	char *path = write_file("bad", text, len), *conf = NULL, *want = NULL;
	ck_assert_int_ge(
		asprintf(&conf, "[policy]\nblocklist_file = %s\n", path), 0);
	ck_assert_int_ge(asprintf(&want, "%s:%s", path, bad_lists[_i][1]), 0);
	ms_policy *p = NULL;
	char *err = NULL;
	ck_assert_int_eq(policy_from(conf, &p, &err), MS_ERR_CONFIG);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, want);
	free(err);
	free(want);
	free(conf);
	free(path);
}
END_TEST

START_TEST(test_blocklist_unreadable)
{
	char *conf = NULL, *want = NULL;
	const char *paths[] = { "/nonexistent/list", tmpdir };
	const char *why[] = { "No such file or directory", "Is a directory" };
	for (int i = 0; i < 2; i++) {
		ck_assert_int_ge(asprintf(&conf,
					  "[policy]\nblocklist_file = %s\n",
					  paths[i]),
				 0);
		ck_assert_int_ge(asprintf(&want, "%s: %s", paths[i], why[i]),
				 0);
		ms_policy *p = NULL;
		char *err = NULL;
		ck_assert_int_eq(policy_from(conf, &p, &err), MS_ERR_IO);
		ck_assert_ptr_null(p);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(policy_from(conf, &p, NULL), MS_ERR_IO);
		free(err);
		free(want);
		free(conf);
	}
}
END_TEST

/* ---- a big attachment ---- */

#define BIG (20u * 1024 * 1024)

/* Writes a message with a BIG-byte base64 attachment to fd and the hash
 * of the attachment's bytes to hex; returns the message length. */
static size_t write_big(int fd, char hex[MS_SHA256_HEX])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
				  "opqrstuvwxyz0123456789+/";
	const char *head = HEAD "Content-Type: multipart/mixed; boundary=BB"
				"\r\n\r\n--BB\r\nContent-Transfer-Encoding: "
				"base64\r\nContent-Disposition: attachment; "
				"filename=big.bin\r\n\r\n";
	ms_sha256 *h = ms_sha256_new();
	ms_buf out = MS_BUF_INIT;
	ck_assert_int_eq(ms_buf_append(&out, head, strlen(head)), MS_OK);
	uint32_t x = 12345;
	unsigned char raw[57];
	for (size_t done = 0; done < BIG; done += sizeof(raw)) {
		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)((x = x * 1103515245u +
						      12345u) >>
						 24);
		ms_sha256_update(h, raw, sizeof(raw));
		char line[78];
		for (size_t i = 0, k = 0; i < sizeof(raw); i += 3) {
			uint32_t v = (uint32_t)raw[i] << 16 | raw[i + 1] << 8 |
				     raw[i + 2];
			for (int s = 18; s >= 0; s -= 6)
				line[k++] = b64[(v >> s) & 63];
		}
		line[76] = '\r', line[77] = '\n';
		ck_assert_int_eq(ms_buf_append(&out, line, 78), MS_OK);
		if (out.len > (1 << 20)) {
			ck_assert_int_eq(write(fd, out.data, out.len),
					 (ssize_t)out.len);
			out.len = 0;
		}
	}
	ck_assert_int_eq(ms_buf_append(&out, "--BB--\r\n", 8), MS_OK);
	ck_assert_int_eq(write(fd, out.data, out.len), (ssize_t)out.len);
	ms_buf_free(&out);
	ck_assert_int_eq(ms_sha256_final(&h, hex), MS_OK);
	return (size_t)lseek(fd, 0, SEEK_CUR);
}

START_TEST(test_big_attachment)
{
	char hex[MS_SHA256_HEX], *bl = NULL, *want = NULL;
	int fd = msg_fd("", 0);
	size_t len = write_big(fd, hex);
	ck_assert_uint_gt(len, BIG);
	ck_assert_int_ge(asprintf(&bl, "%s\n", hex), 0);
	ms_policy *p = policy_with(bl);
	ms_policy_result r;
	ck_assert_int_eq(ms_policy_check(p, fd, len, &r), MS_OK);
	ck_assert_int_ge(
		asprintf(&want, "blocklisted attachment %s: big.bin", hex), 0);
	ck_assert_str_eq(r.reason, want);
	ms_policy_free(&p);
	p = policy_with(NULL);
	ck_assert_int_eq(ms_policy_check(p, fd, len, &r), MS_OK);
	ck_assert_int_eq(r.blocked, 0);
	ms_policy_free(&p);
	close(fd);
	free(bl);
	free(want);
}
END_TEST

/* ---- damaged mail and limits ---- */

static const char *const damaged[] = {
	"",
	"x",
	"\r\n\r\n",
	"not a message at all \xff\xfe\x00 garbage",
	HEAD,
	HEAD "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
	HEAD "Content-Type: multipart/mixed\r\n\r\n--BB\r\n\r\nx\r\n",
	HEAD "Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB--\r\n",
	HEAD "Content-Type: message/rfc822\r\n\r\n",
	HEAD "Content-Type: message/rfc822\r\n\r\ngarbage without headers",
	HEAD "Content-Transfer-Encoding: base64\r\n\r\n!!!!====\x01\x02",
	HEAD "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n#",
	HEAD "Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\n"
	     "Content-Disposition: attachment; filename*0*=bogus'';"
	     " filename*2=\"x\"; filename*=''\r\n\r\n",
};

START_TEST(test_damaged)
{
	ms_policy *p = policy_with(H64 "\n");
	size_t len = strlen(damaged[_i]);
	if (_i == 3)
		len += 9; /* past the NUL byte */
	ms_policy_result r = check_len(p, damaged[_i], len);
	ck_assert_int_eq(r.blocked, 0);
	ms_policy_free(&p);
}
END_TEST

/* Every prefix of a message with a blocked attachment checks without
 * error; once the attachment's headers are complete, it is blocked. */
START_TEST(test_truncated)
{
	ms_policy *p = policy_with(H64 "\n");
	char *m = att_msg("Content-Transfer-Encoding: base64\r\n"
			  "Content-Disposition: attachment; "
			  "filename=\"x.exe\"\r\n",
			  PAYLOAD_B64);
	size_t len = strlen(m);
	size_t full = (size_t)(strstr(m, "x.exe\"\r\n") - m) + 8;
	int fd = msg_fd(m, len);
	for (size_t n = 0; n <= len; n++) {
		ms_policy_result r;
		ck_assert_int_eq(ms_policy_check(p, fd, n, &r), MS_OK);
		if (n >= full + 2)
			ck_assert_msg(r.blocked, "prefix %zu", n);
	}
	close(fd);
	free(m);
	ms_policy_free(&p);
}
END_TEST

/* A message nesting n multiparts (rfc822: n messages); caller frees. */
static char *nested(unsigned n, int rfc822)
{
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_buf_append(&b, HEAD, strlen(HEAD)), MS_OK);
	char line[128];
	for (unsigned i = 0; i < n; i++) {
		int k = rfc822 ? snprintf(line, sizeof(line),
					  "Content-Type: message/rfc822\r\n"
					  "\r\nSubject: %u\r\n",
					  i)
			       : snprintf(line, sizeof(line),
					  "Content-Type: multipart/mixed; "
					  "boundary=b%u\r\n\r\n--b%u\r\n",
					  i, i);
		ck_assert_int_eq(ms_buf_append(&b, line, (size_t)k), MS_OK);
	}
	const char *leaf = "Content-Disposition: attachment; filename=a.txt"
			   "\r\n\r\nleaf\r\n";
	ck_assert_int_eq(ms_buf_append(&b, leaf, strlen(leaf)), MS_OK);
	return ms_buf_steal(&b);
}

START_TEST(test_limits)
{
	ms_policy *p = policy_with(NULL);
	for (int rfc822 = 0; rfc822 < 2; rfc822++) {
		char *m = nested(MS_POLICY_MAX_DEPTH - 2, rfc822);
		ck_assert_int_eq(check_str(p, m).blocked, 0);
		free(m);
		m = nested(MS_POLICY_MAX_DEPTH + 5, rfc822);
		ck_assert_str_eq(check_str(p, m).reason,
				 "MIME structure too deep (over 64 levels)");
		free(m);
		m = nested(3000, rfc822);
		ck_assert_int_eq(check_str(p, m).blocked, 1);
		free(m);
	}
	ms_buf b = MS_BUF_INIT;
	const char *h =
		HEAD "Content-Type: multipart/mixed; boundary=BB\r\n\r\n";
	ck_assert_int_eq(ms_buf_append(&b, h, strlen(h)), MS_OK);
	for (int i = 0; i < MS_POLICY_MAX_PARTS + 1; i++)
		ck_assert_int_eq(ms_buf_append(&b, "--BB\r\n\r\nx\r\n", 11),
				 MS_OK);
	ck_assert_str_eq(check_len(p, b.data, b.len).reason,
			 "too many MIME parts (over 5000)");
	ms_buf_free(&b);
	ms_policy_free(&p);
}
END_TEST

/* ---- threads ---- */

typedef struct thr_arg {
	const ms_policy *p;
	int fd;
	size_t len;
	int ok;
} thr_arg;

/* Checks its message 50 times; ok when always blocked. */
static void *thr_main(void *v)
{
	thr_arg *a = v;
	a->ok = 1;
	for (int i = 0; i < 50; i++) {
		ms_policy_result r;
		if (ms_policy_check(a->p, a->fd, a->len, &r) != MS_OK ||
		    !r.blocked)
			a->ok = 0;
	}
	return NULL;
}

START_TEST(test_threads)
{
	char *bl = payload_list();
	ms_policy *p = policy_with(bl);
	char *m = att_msg("Content-Transfer-Encoding: base64\r\n"
			  "Content-Disposition: attachment; filename=a.bin\r\n",
			  PAYLOAD_B64);
	pthread_t t[4];
	thr_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (thr_arg){ p, msg_fd(m, strlen(m)), strlen(m), 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, thr_main, &a[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert(a[i].ok);
		close(a[i].fd);
	}
	free(m);
	free(bl);
	ms_policy_free(&p);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_names, 0,
			    sizeof(name_cases) / sizeof(name_cases[0]));
	tcase_add_test(tc, test_plain_and_empty_list);
	tcase_add_test(tc, test_nested_rfc822);
	tcase_add_test(tc, test_from_line_and_offset);
	tcase_add_loop_test(tc, test_extension, 0,
			    sizeof(ext_cases) / sizeof(ext_cases[0]));
	tcase_add_test(tc, test_blocklisted);
	tcase_add_test(tc, test_blocklist_empty);
	tcase_add_loop_test(tc, test_blocklist_errors, 0,
			    sizeof(bad_lists) / sizeof(bad_lists[0]));
	tcase_add_test(tc, test_blocklist_unreadable);
	tcase_add_test(tc, test_big_attachment);
	tcase_add_loop_test(tc, test_damaged, 0,
			    sizeof(damaged) / sizeof(damaged[0]));
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(policy_suite());
}
