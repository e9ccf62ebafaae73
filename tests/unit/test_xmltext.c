/* test_xmltext.c - unit tests for ms_xmltext (the OOXML/ODF text walker).
 *
 * Table-driven: each case is walked from memory and through the read
 * callback in 1-, 7- and 4096-byte reads, and all must give the expected
 * text. Also: the cap (cut at a character boundary, *cut_r), malformed
 * XML (MS_ERR_PARSE with a reason, text before the damage kept), a
 * failing reader (MS_ERR_IO), entities never expanded past XML's own, no
 * network or file access for a DTD, and no output on stderr.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_xmltext.h"
#include "support_util.h"

#define W                                                                      \
	"xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/"   \
	"main\""
#define T "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\""

static const struct {
	ms_xmltext_mode mode;
	const char *xml;
	const char *want;
} cases[] = {
	{ MS_XMLTEXT_DOCX,
	  "<w:document " W "><w:body><w:p><w:r><w:t>Hello</w:t></w:r>"
	  "<w:r><w:tab/><w:t xml:space=\"preserve\"> world</w:t></w:r></w:p>"
	  "<w:p><w:r><w:instrText>PAGE</w:instrText><w:t>two</w:t></w:r>"
	  "</w:p></w:body></w:document>",
	  "Hello  world\ntwo\n" },
	{ MS_XMLTEXT_DOCX,
	  "<w:document " W "><w:p><w:del><w:r><w:delText>gone</w:delText>"
	  "</w:r></w:del></w:p><w:p/></w:document>",
	  "gone\n\n" },
	{ MS_XMLTEXT_XLSX,
	  "<sheetData><row><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\">"
	  "<v>42</v></c><c t=\"inlineStr\"><is><t>inline</t></is></c></row>"
	  "</sheetData>",
	  " 42 inline \n" },
	{ MS_XMLTEXT_XLSX,
	  "<sst><si><t>first</t></si><si><r><t>se</t></r>"
	  "<r><t>cond</t></r></si></sst>",
	  "first\nsecond\n" },
	{ MS_XMLTEXT_PPTX,
	  "<p:sld xmlns:p=\"p\" xmlns:a=\"a\"><a:p><a:r><a:t>Slide</a:t></a:r>"
	  "<a:br/><a:r><a:t>text</a:t></a:r></a:p><p:x>noise</p:x></p:sld>",
	  "Slide text\n" },
	{ MS_XMLTEXT_ODF,
	  "<office:document-content xmlns:office=\"o\" " T ">"
	  "<text:h>Title</text:h><text:p>a<text:s/>b<text:tab/>c"
	  "<text:span>d</text:span><text:line-break/>e &amp; f</text:p>"
	  "</office:document-content>",
	  "Title\na b cd e & f\n" },
	{ MS_XMLTEXT_ODF, "<x><![CDATA[raw <text>]]></x>", "raw <text>" },
	{ MS_XMLTEXT_ODF, "<x>caf\xc3\xa9 \xe2\x82\xac</x>",
	  "caf\xc3\xa9 \xe2\x82\xac" },
	{ MS_XMLTEXT_ODF, "", "" },
};

typedef struct feed {
	const char *p;
	size_t n, step;
	int fail_at; /* read call number that fails; 0 = none */
	int calls;
} feed;

static int feed_read(void *ctx, char *buf, int len)
{
	feed *f = ctx;
	if (f->fail_at && ++f->calls >= f->fail_at)
		return -1;
	size_t k = f->n < f->step ? f->n : f->step;
	if (k > (size_t)len)
		k = (size_t)len;
	memcpy(buf, f->p, k);
	f->p += k;
	f->n -= k;
	return (int)k;
}

static char *walk_step(ms_xmltext_mode m, const char *xml, size_t step,
		       ms_status_t want_st)
{
	ms_buf out = MS_BUF_INIT;
	char *err = NULL;
	ms_status_t st;
	if (step == 0) {
		st = ms_xmltext_walk_mem(xml, strlen(xml), m, &out, 0, NULL,
					 &err);
	} else {
		feed f = { xml, strlen(xml), step, 0, 0 };
		st = ms_xmltext_walk(feed_read, &f, m, &out, 0, NULL, &err);
	}
	ck_assert_int_eq(st, want_st);
	ck_assert(st == MS_OK ? err == NULL : err != NULL);
	free(err);
	return ms_buf_steal(&out);
}

START_TEST(test_cases)
{
	static const size_t steps[] = { 0, 1, 7, 4096 };
	/* an empty document is not XML: no text, a parse error */
	ms_status_t want = *cases[_i].xml ? MS_OK : MS_ERR_PARSE;
	for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
		char *got = walk_step(cases[_i].mode, cases[_i].xml, steps[s],
				      want);
		ck_assert_str_eq(got, cases[_i].want);
		free(got);
	}
}
END_TEST

START_TEST(test_cap)
{
	const char xml[] = "<x>\xc3\xa9\xc3\xa9\xc3\xa9 more</x>";
	ms_buf out = MS_BUF_INIT;
	ms_buf_puts(&out, "kept:");
	int cut = 0;
	ck_assert_int_eq(ms_xmltext_walk_mem(xml, sizeof xml - 1,
					     MS_XMLTEXT_ODF, &out, 5, &cut,
					     NULL),
			 MS_OK);
	ck_assert_int_eq(cut, 1);
	ck_assert_str_eq(out.data, "kept:\xc3\xa9\xc3\xa9");
	ms_buf_free(&out);
}
END_TEST

START_TEST(test_malformed)
{
	const char *bad[] = { "<x><p>before</p><y></x>", "<x><p>before</p>",
			      "not xml", "<x><p>before</p>\x01</x>" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		/* read in small steps, the text before the damage is kept */
		char *got = walk_step(MS_XMLTEXT_ODF, bad[i], 1, MS_ERR_PARSE);
		if (i != 2)
			ck_assert_ptr_nonnull(strstr(got, "before"));
		free(got);
		free(walk_step(MS_XMLTEXT_ODF, bad[i], 0, MS_ERR_PARSE));
	}
}
END_TEST

START_TEST(test_reader_fails)
{
	const char xml[] = "<x>some text that is long enough</x>";
	feed f = { xml, sizeof xml - 1, 4, 3, 0 };
	ms_buf out = MS_BUF_INIT;
	char *err = NULL;
	ck_assert_int_eq(ms_xmltext_walk(feed_read, &f, MS_XMLTEXT_ODF, &out, 0,
					 NULL, &err),
			 MS_ERR_IO);
	ck_assert_ptr_nonnull(err);
	free(err);
	ms_buf_free(&out);
}
END_TEST

/* Entities: a billion laughs stays unexpanded, an external entity or DTD
 * is never fetched (the file it names would be read into the text). */
START_TEST(test_entities)
{
	const char laughs[] = "<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\">"
			      "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
			      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
			      "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>"
			      "<x>&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;</x>";
	ms_buf out = MS_BUF_INIT;
	ms_xmltext_walk_mem(laughs, sizeof laughs - 1, MS_XMLTEXT_ODF, &out, 0,
			    NULL, NULL);
	ck_assert_uint_lt(out.len, 100);
	ms_buf_reset(&out);
	const char ext[] = "<!DOCTYPE x SYSTEM \"file:///etc/passwd\" ["
			   "<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
			   "<x>&e;</x>";
	ms_xmltext_walk_mem(ext, sizeof ext - 1, MS_XMLTEXT_ODF, &out, 0, NULL,
			    NULL);
	ck_assert_ptr_null(out.data ? strstr(out.data, "root") : NULL);
	ms_buf_free(&out);
}
END_TEST

START_TEST(test_no_stderr)
{
	ms_test_stderr c;
	ms_test_stderr_begin(&c);
	free(walk_step(MS_XMLTEXT_DOCX, "<a><b></a>&x;<<", 0, MS_ERR_PARSE));
	free(walk_step(MS_XMLTEXT_DOCX, "<a><b></a>&x;<<", 1, MS_ERR_PARSE));
	ck_assert_int_eq(ms_test_stderr_end(&c), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("xmltext");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_cases, 0, sizeof cases / sizeof *cases);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_reader_fails);
	tcase_add_test(tc, test_entities);
	tcase_add_test(tc, test_no_stderr);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
