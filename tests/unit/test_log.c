/* test_log.c - Check tests for the logging facade (ms_log.h).
 *
 * Table-driven: ms_log_escape on every kind of byte (plain text, UTF-8,
 * backslash, LF, CR, TAB, other control bytes, DEL) and on output buffers
 * too small for the input (only whole escape sequences are written); every
 * byte value alone; and the stderr sink itself: a value with line feeds
 * and carriage returns logged through each level is still exactly one
 * line, so a sender cannot forge a log line.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_log.h"
#include "support_util.h"

typedef struct esc_case {
	const char *in;
	size_t n; /* output buffer size; 0: big enough */
	const char *want;
} esc_case;

static const esc_case esc_cases[] = {
	{ "", 0, "" },
	{ "plain text <a@example.net>", 0, "plain text <a@example.net>" },
	{ "caf\xc3\xa9 \xe2\x82\xac", 0, "caf\xc3\xa9 \xe2\x82\xac" },
	{ "a\nb", 0, "a\\nb" },
	{ "a\r\nb", 0, "a\\r\\nb" },
	{ "\tx\t", 0, "\\tx\\t" },
	{ "back\\slash", 0, "back\\\\slash" },
	{ "\\n is not a line feed", 0, "\\\\n is not a line feed" },
	{ "\x01\x1b[31m\x1f", 0, "\\x01\\x1b[31m\\x1f" },
	{ "del\x7f", 0, "del\\x7f" },
	{ "\x80\xff", 0, "\x80\xff" },
	{ "Q1\nmailsift-milter: FAKE: action=accept", 0,
	  "Q1\\nmailsift-milter: FAKE: action=accept" },
	/* truncation: never half an escape sequence */
	{ "abc", 1, "" },
	{ "abc", 3, "ab" },
	{ "abc", 4, "abc" },
	{ "a\nb", 2, "a" },
	{ "a\nb", 3, "a" },
	{ "a\nb", 4, "a\\n" },
	{ "a\x01", 4, "a" },
	{ "a\x01", 5, "a" },
	{ "a\x01", 6, "a\\x01" },
	{ "\\\\", 4, "\\\\" },
};

START_TEST(test_escape)
{
	const esc_case *c = &esc_cases[_i];
	char out[256];
	size_t n = c->n ? c->n : sizeof out;
	memset(out, '#', sizeof out);
	size_t len = ms_log_escape(c->in, out, n);
	ck_assert_msg(!strcmp(out, c->want), "case %d: got <%s>, want <%s>", _i,
		      out, c->want);
	ck_assert_uint_eq(len, strlen(c->want));
	ck_assert_uint_lt(len, n);
	if (n < sizeof out)
		ck_assert_int_eq(out[n], '#'); /* nothing written past n */
}
END_TEST

/* Every byte value alone: printable ones are kept, every other one becomes
 * a sequence of printable bytes. */
START_TEST(test_every_byte)
{
	for (int b = 1; b < 256; b++) {
		char in[2] = { (char)b, 0 }, out[16];
		size_t len = ms_log_escape(in, out, sizeof out);
		int keep = (b >= 0x20 && b != 0x7f && b != '\\');
		ck_assert_msg(keep ? len == 1 && out[0] == (char)b
				   : len == 2 || len == 4,
			      "byte 0x%02x: <%s>", b, out);
		for (size_t i = 0; i < len; i++)
			ck_assert_msg(
				(unsigned char)out[i] >= 0x20 && out[i] != 0x7f,
				"byte 0x%02x escaped to a control byte", b);
	}
}
END_TEST

/* Runs fn with stderr sent to a temporary file; returns what it wrote
 * (caller frees). */
static char *capture_stderr(void (*fn)(const char *), const char *arg)
{
	char path[] = "/tmp/ms-test-log.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	fn(arg);
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	off_t size = lseek(fd, 0, SEEK_END);
	char *text = calloc(1, (size_t)size + 1);
	ck_assert_int_eq(pread(fd, text, (size_t)size, 0), size);
	close(fd);
	return text;
}

static void log_all_levels(const char *value)
{
	ms_log_open_stderr("prog");
	ms_log_set_verbose(1);
	ms_log_info("QID: from=<%s> action=reject", value);
	ms_log_warn("QID: from=<%s>", value);
	ms_log_error("QID: from=<%s>", value);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_stderr_one_line_per_call)
{
	const char *forged = "a@example.net>\nprog: QID: from=<x> "
			     "action=accept\r\nprog: \x1b[2K";
	char *got = capture_stderr(log_all_levels, forged);
	ck_assert_uint_eq(count_lines(got), 3);
	ck_assert_ptr_null(strchr(got, '\r'));
	ck_assert_ptr_null(strchr(got, '\x1b'));
	const char *want =
		"prog: QID: from=<a@example.net>\\nprog: QID: from=<x> "
		"action=accept\\r\\nprog: \\x1b[2K> action=reject\n"
		"prog: warning: QID: from=<a@example.net>\\nprog: QID: "
		"from=<x> action=accept\\r\\nprog: \\x1b[2K>\n"
		"prog: error: QID: from=<a@example.net>\\nprog: QID: "
		"from=<x> action=accept\\r\\nprog: \\x1b[2K>\n";
	ck_assert_str_eq(got, want);
	free(got);
}
END_TEST

/* A value longer than the line buffer, half of it line feeds, is cut at
 * the buffer's end, never split into lines. */
START_TEST(test_stderr_long_value)
{
	char *v = malloc(5000);
	for (int i = 0; i < 4999; i++)
		v[i] = i % 2 ? '\n' : 'x';
	v[4999] = '\0';
	char *got = capture_stderr(log_all_levels, v);
	ck_assert_uint_eq(count_lines(got), 3);
	free(got);
	free(v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("all");
	tcase_add_loop_test(tc, test_escape, 0,
			    sizeof esc_cases / sizeof esc_cases[0]);
	tcase_add_test(tc, test_every_byte);
	tcase_add_test(tc, test_stderr_one_line_per_call);
	tcase_add_test(tc, test_stderr_long_value);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
