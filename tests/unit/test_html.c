/* test_html.c - unit tests for ms_html (HTML -> visible text).
 *
 * Table-driven: each case is converted whole, one byte at a time and in
 * odd-sized chunks, and all three outputs must equal the expectation.
 * Also: the text cap (cut at a character boundary), appending after
 * existing buffer content, bad UTF-8 input, chunking invariance on a
 * large generated document, and that libxml2 never writes to stderr.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_html.h"
#include "support_util.h"

/* Converts in with the given chunk size (0 = whole) into a new string. */
static char *convert(const char *in, size_t n, size_t chunk, size_t cap)
{
	ms_buf out = MS_BUF_INIT;
	ms_html *h = ms_html_begin(&out, cap);
	ck_assert_ptr_nonnull(h);
	if (chunk == 0)
		chunk = n ? n : 1;
	for (size_t i = 0; i < n; i += chunk) {
		size_t k = n - i < chunk ? n - i : chunk;
		ck_assert_int_eq(ms_html_feed(h, in + i, k), MS_OK);
	}
	ck_assert_int_eq(ms_html_end(&h), MS_OK);
	ck_assert_ptr_null(h);
	return ms_buf_steal(&out);
}

static const struct {
	const char *in;
	const char *want;
} cases[] = {
	{ "", "" },
	{ "plain words", "plain words" },
	{ "<p>Hello&nbsp;&amp;world &lt;x&gt; caf&eacute; &#x263A;&#65;</p>",
	  "Hello &world <x> caf\xc3\xa9 \xe2\x98\xba"
	  "A" },
	{ "<html><head><title>T</title><style>p{a:b}</style></head>"
	  "<body>visible</body></html>",
	  "visible" },
	{ "a<script>var x = '<p>no</p>';</script>b", "ab" },
	{ "<div>one</div><div>two<br>three</div>", "one\ntwo\nthree" },
	{ "<span>a</span><span>b</span> <b>c</b>", "ab c" },
	{ "x<!-- hidden comment -->y", "xy" },
	{ "<ul><li>1</li><li>2</li></ul><p>p</p>", "1\n2\np" },
	{ "<table><tr><td>x</td><td>y</td></tr></table>", "x\ny" },
	{ "  lots \n\n of\t\twhite   space  ", "lots of white space" },
	{ "<p>unclosed <b><i>tags", "unclosed tags" },
	{ "<h1>Title</h1>text", "Title\ntext" },
	{ "<meta charset=\"koi8-r\"><p>\xd0\x9f\xd1\x80\xd0\xb8</p>",
	  "\xd0\x9f\xd1\x80\xd0\xb8" },
	{ "&bogus; &amp;x &lt", "&bogus; &x &lt" },
	{ "<p>a<p>b</p>", "a\nb" },
	{ "a <<<>>> < p", "a <<<>>> < p" },
};

START_TEST(test_cases)
{
	const char *in = cases[_i].in;
	size_t n = strlen(in);
	static const size_t chunks[] = { 0, 1, 3, 7 };
	for (size_t c = 0; c < sizeof(chunks) / sizeof(*chunks); c++) {
		char *got = convert(in, n, chunks[c], 0);
		ck_assert_msg(strcmp(got, cases[_i].want) == 0,
			      "case %d chunk %zu: got [%s] want [%s]", _i,
			      chunks[c], got, cases[_i].want);
		free(got);
	}
}
END_TEST

/* Deep unclosed nesting (common in spam) must not stop the parser. */
START_TEST(test_deep_nesting)
{
	ms_buf in = MS_BUF_INIT;
	ms_buf_puts(&in, "<p>start");
	for (int i = 0; i < 5000; i++)
		ms_buf_puts(&in, "<font><div>");
	ms_buf_puts(&in, "deep end");
	char *got = convert(in.data, in.len, 0, 0);
	ck_assert_ptr_nonnull(strstr(got, "start"));
	ck_assert_ptr_nonnull(strstr(got, "deep end"));
	free(got);
	ms_buf_free(&in);
}
END_TEST

/* A large document with entities and multibyte text everywhere gives
 * identical output for whole, byte-by-byte and odd chunking. */
START_TEST(test_chunk_invariance_large)
{
	ms_buf in = MS_BUF_INIT;
	for (int i = 0; i < 3000; i++)
		ms_buf_printf(&in,
			      "<p class=\"c%d\">w%d&amp;&eacute;\xc3\xa9"
			      "\xe4\xb8\xad<!-- c --><script>x<y</script></p>",
			      i, i);
	char *whole = convert(in.data, in.len, 0, 0);
	static const size_t chunks[] = { 1, 2, 13, 4095, 4097 };
	for (size_t c = 0; c < sizeof(chunks) / sizeof(*chunks); c++) {
		char *got = convert(in.data, in.len, chunks[c], 0);
		ck_assert_msg(strcmp(got, whole) == 0, "chunk %zu differs",
			      chunks[c]);
		free(got);
	}
	ck_assert_ptr_nonnull(strstr(whole, "w2999&\xc3\xa9\xc3\xa9"));
	ck_assert_ptr_null(strstr(whole, "x<y"));
	free(whole);
	ms_buf_free(&in);
}
END_TEST

START_TEST(test_cap)
{
	const char *in = "<p>hello world</p><p>more</p>";
	char *got = convert(in, strlen(in), 1, 5);
	ck_assert_str_eq(got, "hello");
	free(got);
	/* "é" is 2 bytes: a cap of 4 keeps "aé" (3 bytes), never half. */
	in = "a\xc3\xa9\xc3\xa9\xc3\xa9";
	got = convert(in, strlen(in), 0, 4);
	ck_assert_str_eq(got, "a\xc3\xa9");
	free(got);
	ms_buf out = MS_BUF_INIT;
	ms_html *h = ms_html_begin(&out, 3);
	ck_assert_int_eq(ms_html_full(h), 0);
	ck_assert_int_eq(ms_html_feed(h, "abcdef", 6), MS_OK);
	ck_assert_int_eq(ms_html_end(&h), MS_OK);
	ck_assert_str_eq(out.data, "abc");
	ms_buf_free(&out);
}
END_TEST

/* Output is appended after existing content; the cap counts only new
 * text. */
START_TEST(test_append)
{
	ms_buf out = MS_BUF_INIT;
	ms_buf_puts(&out, "prefix|");
	ck_assert_int_eq(ms_html_to_text("<b>x</b> y", 10, 2, &out), MS_OK);
	ck_assert_str_eq(out.data, "prefix|x ");
	ms_buf_free(&out);
}
END_TEST

START_TEST(test_bad_utf8)
{
	const char in[] = "<p>caf\xe9 \xff\xfe ok \xc3</p>";
	char *got = convert(in, sizeof(in) - 1, 1, 0);
	ck_assert(ms_test_utf8_ok(got, strlen(got)));
	ck_assert_ptr_nonnull(strstr(got, "ok"));
	free(got);
	const char nul[] = "a\0b<p>c</p>";
	got = convert(nul, sizeof(nul) - 1, 0, 0);
	ck_assert_ptr_nonnull(strstr(got, "c"));
	free(got);
}
END_TEST

/* libxml2 must not print its (many) complaints about bad HTML. */
START_TEST(test_no_stderr)
{
	ms_test_stderr c;
	ms_test_stderr_begin(&c);
	const char in[] = "<html><body><p <<a href='x>\xff</bogus><tr></td>"
			  "&#xffffffff; &#0; <!DOCTYPE x><?pi?></html></html>"
			  "<![CDATA[ x ]]>\x01\x02 <a b=c d=>";
	char *got = convert(in, sizeof(in) - 1, 1, 0);
	free(got);
	got = convert(in, sizeof(in) - 1, 0, 0);
	free(got);
	ck_assert_int_eq(ms_test_stderr_end(&c), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("html");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_cases, 0, sizeof(cases) / sizeof(*cases));
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_chunk_invariance_large);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_append);
	tcase_add_test(tc, test_bad_utf8);
	tcase_add_test(tc, test_no_stderr);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
