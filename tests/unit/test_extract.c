/* test_extract.c - unit tests for ms_extract (formats, and the extractor
 * process as the caller sees it).
 *
 * The format table (by name, by type, by magic bytes, legacy formats,
 * the extract_types check); the real mailsift-extract (found beside the
 * test's build directory) on JSON, on a PDF shipped by Debian
 * (libtasn1-doc) and on random bytes; and stand-in helpers (shell
 * scripts) for every way a helper can end: encrypted, failed with a
 * reason, crashed, flooding its output, hanging past the wall time, not
 * there at all; the real helper's seccomp filter. Through ms_mime_parse:
 * each attachment's size, state, reason and text, with extraction on and
 * off, and the per-message limit on attachments extracted.
 */
#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_extract.h"
#include "ms_mime.h"
#include "support_util.h"

#define DEBIAN_PDF "/usr/share/doc/libtasn1-doc/libtasn1.pdf"

static char helper[PATH_MAX];

/* mailsift-extract: BUILD/unit/test_extract or BUILD/asan/unit/... */
static void find_helper(void)
{
	char exe[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(helper, sizeof helper, "%s/../mailsift-extract", exe);
	if (access(helper, X_OK) != 0)
		snprintf(helper, sizeof helper, "%s/../../mailsift-extract",
			 exe);
	ck_assert_msg(access(helper, X_OK) == 0, "no %s", helper);
}

static ms_extract_opts opts(const char *h)
{
	ms_extract_opts o = { .enabled = 1,
			      .helper = h,
			      .max_size = 1 << 24,
			      .max_text = 1 << 20,
			      .memory = 1ull << 30,
			      .zip_max = 1 << 26,
			      .cpu = 10,
			      .timeout = 20,
			      .zip_depth = 2,
			      .zip_ratio = 100 };
	return o;
}

static int memfd_with(const void *p, size_t n)
{
	int fd = ms_extract_memfd();
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	return fd;
}

static ms_extract_state run(const ms_extract_opts *o, const char *fmt, int fd,
			    ms_buf *text, char *reason)
{
	ms_extract_state s = MS_EXTRACT_NONE;
	ck_assert_int_eq(ms_extract_run(o, fmt, fd, text, &s, reason, 200),
			 MS_OK);
	close(fd);
	return s;
}

START_TEST(test_formats)
{
	int legacy;
	ck_assert_str_eq(ms_extract_format("application/octet-stream",
					   "Report.PDF", NULL, 0, &legacy),
			 "pdf");
	ck_assert_str_eq(ms_extract_format("application/vnd.oasis."
					   "opendocument.text",
					   NULL, NULL, 0, &legacy),
			 "odt");
	ck_assert_str_eq(ms_extract_format("application/octet-stream", "x",
					   "%PDF-1.4", 8, &legacy),
			 "pdf");
	ck_assert_str_eq(ms_extract_format("application/octet-stream", NULL,
					   "PK\3\4xx", 6, &legacy),
			 "zip");
	ck_assert_ptr_null(ms_extract_format("application/msword", "a.doc",
					     NULL, 0, &legacy));
	ck_assert_int_eq(legacy, 1);
	ck_assert_ptr_null(
		ms_extract_format("image/png", "a.png", "\x89PNG", 4, &legacy));
	ck_assert_int_eq(legacy, 0);
	ck_assert_ptr_null(ms_extract_types_check("XLSX"));
	ck_assert_ptr_nonnull(ms_extract_types_check("exe"));
	char *types[] = { "pdf", NULL };
	ms_extract_opts o = opts(NULL);
	o.types = types;
	ck_assert(ms_extract_wanted(&o, "pdf"));
	ck_assert(!ms_extract_wanted(&o, "docx"));
	o.enabled = 0;
	ck_assert(!ms_extract_wanted(&o, "pdf"));
}
END_TEST

START_TEST(test_real_helper)
{
	find_helper();
	ms_extract_opts o = opts(helper);
	ms_buf text = MS_BUF_INIT;
	char reason[200];
	const char json[] = "{\"word\": \"quillwort\"}";
	int fd = memfd_with(json, sizeof json - 1);
	ck_assert_int_eq(run(&o, "json", fd, &text, reason), MS_EXTRACT_YES);
	ck_assert_str_eq(text.data, json);
	ck_assert_str_eq(reason, "");
	ms_buf_reset(&text);

	char junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 7919 % 251);
	fd = memfd_with(junk, sizeof junk);
	ck_assert_int_eq(run(&o, "pdf", fd, &text, reason), MS_EXTRACT_FAILED);
	ck_assert_ptr_nonnull(strstr(reason, "PDF"));
	ck_assert_uint_eq(text.len, 0);
	fd = memfd_with(junk, sizeof junk);
	ck_assert_int_eq(run(&o, "docx", fd, &text, reason), MS_EXTRACT_FAILED);
	ck_assert_ptr_nonnull(strstr(reason, "ZIP"));
	ms_buf_free(&text);
}
END_TEST

/* The real helper's sandbox: after its seccomp filter a file does not
 * open and a socket kills it (SIGSYS). */
START_TEST(test_sandbox)
{
	find_helper();
	ms_extract_opts o = opts(helper);
	ms_buf text = MS_BUF_INIT;
	char reason[200];
	int fd = memfd_with("x", 1);
	ck_assert_int_eq(run(&o, "sandbox-test", fd, &text, reason),
			 MS_EXTRACT_FAILED);
	ck_assert_msg(strstr(reason, "seccomp"), "reason '%s'", reason);
	ms_buf_free(&text);
}
END_TEST

/* One message gets at most MS_MIME_MAX_EXTRACT attachments extracted. */
START_TEST(test_mime_budget)
{
	find_helper();
	ms_buf m = MS_BUF_INIT;
	ms_buf_puts(&m, "From: a@example.org\nMIME-Version: 1.0\n"
			"Content-Type: multipart/mixed; boundary=B\n\n");
	for (int i = 0; i <= MS_MIME_MAX_EXTRACT; i++)
		ms_buf_printf(&m,
			      "--B\nContent-Type: application/json; "
			      "name=%d.json\n\n{\"n\": %d}\n",
			      i, i);
	ms_buf_puts(&m, "--B--\n");
	ms_extract_opts o = opts(helper);
	ms_mime_opts mo = { .extract = &o };
	ms_doc *doc = NULL;
	ck_assert_int_eq(ms_mime_parse(m.data, m.len, &mo, &doc, NULL), MS_OK);
	ck_assert_uint_eq(doc->n_att, MS_MIME_MAX_EXTRACT + 1);
	for (int i = 0; i < MS_MIME_MAX_EXTRACT; i++)
		ck_assert_int_eq(doc->att[i].extracted, MS_EXTRACT_YES);
	const ms_attachment *last = &doc->att[MS_MIME_MAX_EXTRACT];
	ck_assert_int_eq(last->extracted, MS_EXTRACT_NONE);
	ck_assert_ptr_nonnull(strstr(last->reason, "budget"));
	ms_doc_free(&doc);
	ms_buf_free(&m);
}
END_TEST

START_TEST(test_debian_pdf)
{
	find_helper();
	FILE *f = fopen(DEBIAN_PDF, "rb");
	ck_assert_msg(f != NULL, "%s missing (make deps)", DEBIAN_PDF);
	ms_buf pdf = MS_BUF_INIT, text = MS_BUF_INIT;
	char chunk[65536], reason[200];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ms_buf_append(&pdf, chunk, n);
	fclose(f);
	ms_extract_opts o = opts(helper);
	int fd = memfd_with(pdf.data, pdf.len);
	ck_assert_int_eq(run(&o, "pdf", fd, &text, reason), MS_EXTRACT_YES);
	ck_assert_ptr_nonnull(strstr(text.data, "Abstract Syntax Notation"));
	/* the cap holds */
	o.max_text = 1000;
	ms_buf_reset(&text);
	fd = memfd_with(pdf.data, pdf.len);
	ck_assert_int_eq(run(&o, "pdf", fd, &text, reason), MS_EXTRACT_YES);
	ck_assert_uint_le(text.len, 1000);
	ck_assert_uint_gt(text.len, 900);
	ms_buf_free(&pdf);
	ms_buf_free(&text);
}
END_TEST

/* A stand-in helper: a shell script with body. */
static void script(const char *dir, const char *name, const char *body,
		   char *path)
{
	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
}

static const struct {
	const char *body;
	ms_extract_state want;
	const char *reason; /* a part of it */
} ends[] = {
	{ "cat >/dev/null; echo 'owner password' >&2; exit 3",
	  MS_EXTRACT_ENCRYPTED, "owner password" },
	{ "cat >/dev/null; echo 'bad xref' >&2; echo 'more' >&2; exit 4",
	  MS_EXTRACT_FAILED, "bad xref" },
	{ "exit 4", MS_EXTRACT_FAILED, "extractor failed" },
	{ "exit 5", MS_EXTRACT_FAILED, "not a format" },
	{ "kill -SEGV $$", MS_EXTRACT_FAILED, "crashed" },
	{ "kill -XCPU $$", MS_EXTRACT_FAILED, "CPU time" },
	{ "exec yes", MS_EXTRACT_FAILED, "text over" },
	{ "exec sleep 60", MS_EXTRACT_FAILED, "timed out" },
	{ "echo partial; sleep 60", MS_EXTRACT_FAILED, "timed out" },
	{ "cat", MS_EXTRACT_YES, "" },
};

START_TEST(test_ends)
{
	char *dir = ms_test_tmpdir("extract");
	char path[PATH_MAX], reason[200];
	script(dir, "h", ends[_i].body, path);
	ms_extract_opts o = opts(path);
	o.timeout = 1;
	o.max_text = 4096;
	ms_buf text = MS_BUF_INIT;
	ms_buf_puts(&text, "before:");
	int fd = memfd_with("input", 5);
	ms_extract_state s = run(&o, "pdf", fd, &text, reason);
	ck_assert_int_eq(s, ends[_i].want);
	ck_assert_msg(strstr(reason, ends[_i].reason), "reason '%s'", reason);
	/* failures leave no partial text; success appends */
	ck_assert_str_eq(text.data,
			 s == MS_EXTRACT_YES ? "before:input" : "before:");
	ms_buf_free(&text);
	ms_test_tmpdir_free(&dir);
}
END_TEST

START_TEST(test_no_helper)
{
	ms_extract_opts o = opts("/nonexistent/mailsift-extract");
	ms_buf text = MS_BUF_INIT;
	char reason[200];
	int fd = memfd_with("x", 1);
	ck_assert_int_eq(run(&o, "pdf", fd, &text, reason), MS_EXTRACT_FAILED);
	ck_assert_ptr_nonnull(strstr(reason, "cannot start"));
	ck_assert_str_eq(ms_extract_state_name(MS_EXTRACT_ENCRYPTED),
			 "encrypted");
	ms_buf_free(&text);
}
END_TEST

static const char mime_msg[] =
	"From: a@example.org\nSubject: s\nMIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=B\n\n"
	"--B\nContent-Type: text/plain\n\nbody text\n"
	"--B\nContent-Type: application/json; name=d.json\n"
	"Content-Transfer-Encoding: base64\n\n"
	"eyJrIjogInF1aWxsd29ydCJ9\n" /* {"k": "quillwort"} */
	"--B\nContent-Type: application/msword; name=old.doc\n\nxx\n"
	"--B\nContent-Type: image/png; name=p.png\n\n\x89PNG\n"
	"--B\nContent-Type: text/csv; name=l.csv\n\na,b\n1,aardwolf\n"
	"--B--\n";

static ms_doc *parse_with(const ms_extract_opts *o)
{
	ms_mime_opts mo = { .extract = o };
	ms_doc *doc = NULL;
	ck_assert_int_eq(
		ms_mime_parse(mime_msg, sizeof mime_msg - 1, &mo, &doc, NULL),
		MS_OK);
	ck_assert_uint_eq(doc->n_att, 4);
	return doc;
}

START_TEST(test_mime_states)
{
	find_helper();
	ms_extract_opts o = opts(helper);
	ms_doc *doc = parse_with(&o);
	const ms_attachment *a = doc->att;
	ck_assert_int_eq(a[0].extracted, MS_EXTRACT_YES);
	ck_assert_uint_eq(a[0].size, 18);
	ck_assert_str_eq(a[0].text, "{\"k\": \"quillwort\"}");
	ck_assert_int_eq(a[1].extracted, MS_EXTRACT_NONE);
	ck_assert_ptr_nonnull(strstr(a[1].reason, "legacy"));
	ck_assert_int_eq(a[2].extracted, MS_EXTRACT_NONE);
	ck_assert_ptr_null(a[2].text);
	ck_assert_int_eq(a[3].extracted, MS_EXTRACT_YES);
	ck_assert_ptr_nonnull(strstr(a[3].text, "aardwolf"));
	ck_assert_ptr_nonnull(strstr(doc->body.data, "aardwolf"));
	ms_doc_free(&doc);
	o.enabled = 0;
	doc = parse_with(&o);
	for (size_t i = 0; i < doc->n_att; i++) {
		ck_assert_int_eq(doc->att[i].extracted, MS_EXTRACT_NONE);
		ck_assert_ptr_null(doc->att[i].text);
	}
	ck_assert_uint_eq(doc->att[0].size, 18);
	ms_doc_free(&doc);
	/* over max_size: counted, not extracted */
	o = opts(helper);
	o.max_size = 10;
	doc = parse_with(&o);
	ck_assert_int_eq(doc->att[0].extracted, MS_EXTRACT_FAILED);
	ck_assert_ptr_nonnull(strstr(doc->att[0].reason, "over 10 bytes"));
	ck_assert_uint_eq(doc->att[0].size, 18);
	ms_doc_free(&doc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("extract");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_formats);
	tcase_add_test(tc, test_real_helper);
	tcase_add_test(tc, test_debian_pdf);
	tcase_add_loop_test(tc, test_ends, 0, sizeof ends / sizeof *ends);
	tcase_add_test(tc, test_no_helper);
	tcase_add_test(tc, test_mime_states);
	tcase_add_test(tc, test_sandbox);
	tcase_add_test(tc, test_mime_budget);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
