/* test_mime.c - unit tests for ms_mime (MIME -> ms_doc) and ms_doc.
 *
 * Tables: body decoding (transfer encodings, charsets, lying charsets,
 * HTML), the mbox From_ line. Single tests: RFC 2047 headers, addresses,
 * dates, RFC 2231 file names, attachments, multipart/alternative, nested
 * message/rfc822, limits (text cap, parts, depth), damaged and hostile
 * input (empty, garbage, truncated, unclosed boundary, 10,000 nested
 * parts, 100,000 header lines, NUL bytes, 50 MB parts) and parsing from
 * several threads. Every document is checked to be valid UTF-8.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ms_mime.h"
#include "support_util.h"

#define M(lit) lit, sizeof(lit) - 1

/* Every string in a document is valid UTF-8 without NUL bytes. */
static void check_doc(const ms_doc *d)
{
	const char *bad = ms_test_doc_bad(d, ms_test_utf8_ok);
	ck_assert_msg(!bad, "%s is not valid UTF-8 / has NUL", bad);
}

static ms_doc *parse_opts(const char *msg, size_t n, const ms_mime_opts *o)
{
	ms_doc *d = NULL;
	char *err = NULL;
	ms_status_t st = ms_mime_parse(msg, n, o, &d, &err);
	ck_assert_msg(st == MS_OK, "parse failed: %s", err ? err : "?");
	ck_assert_ptr_null(err);
	ck_assert_ptr_nonnull(d);
	check_doc(d);
	return d;
}

static ms_doc *parse(const char *msg, size_t n)
{
	return parse_opts(msg, n, NULL);
}

static const char *body(const ms_doc *d)
{
	return d->body.data ? d->body.data : "";
}

#define HAS(d, s)                                                              \
	ck_assert_msg(strstr(body(d), s) != NULL, "body lacks [%s]: [%s]", s,  \
		      body(d))
#define LACKS(d, s)                                                            \
	ck_assert_msg(strstr(body(d), s) == NULL, "body has [%s]: [%s]", s,    \
		      body(d))

/* ---- body decoding table ---- */

static const struct {
	const char *name;
	const char *msg;
	size_t len;
	const char *want, *want2, *notwant;
} bodies[] = {
	{ "base64",
	  M("Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "SGVsbG8gYmFzZTY0IHdvcmxkLCBjYWbDqQo=\n"),
	  "Hello base64 world, caf\xc3\xa9", NULL, NULL },
	{ "quoted-printable",
	  M("Content-Type: text/plain; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "soft=\nbreak caf=E9 =3D equals\n"),
	  "softbreak caf\xc3\xa9 = equals", NULL, "=E9" },
	{ "x-uuencode",
	  M("Content-Type: text/plain\n"
	    "Content-Transfer-Encoding: x-uuencode\n\n"
	    "begin 644 f.txt\n5=74@9&5C;V1E9\"!T97AT(&AE<F4*\n`\nend\n"),
	  "uu decoded text here", NULL, "begin" },
	{ "8bit utf-8",
	  M("Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n\nna\xc3\xafve \xe2\x82\xac\n"),
	  "na\xc3\xafve \xe2\x82\xac", NULL, NULL },
	{ "koi8-r",
	  M("Content-Type: text/plain; charset=koi8-r\n\n"
	    "\xf0\xd2\xc9\xd7\xc5\xd4 mir\n"),
	  "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 mir", NULL, NULL },
	{ "gb2312 8bit",
	  M("Content-Type: text/plain; charset=gb2312\n\n\xd6\xd0\xce\xc4\n"),
	  "\xe4\xb8\xad\xe6\x96\x87", NULL, NULL },
	{ "gb2312 base64",
	  M("Content-Type: text/plain; charset=\"GB2312\"\n"
	    "Content-Transfer-Encoding: base64\n\n1tDOxA==\n"),
	  "\xe4\xb8\xad\xe6\x96\x87", NULL, NULL },
	{ "big5",
	  M("Content-Type: text/plain; charset=big5\n\n\xa4\xa4\xa4\xe5\n"),
	  "\xe4\xb8\xad\xe6\x96\x87", NULL, NULL },
	{ "iso-2022-jp",
	  M("Content-Type: text/plain; charset=iso-2022-jp\n\n"
	    "\x1b$BF|K\\\x1b(B nihon\n"),
	  "\xe6\x97\xa5\xe6\x9c\xac nihon", NULL, NULL },
	{ "ks_c_5601-1987",
	  M("Content-Type: text/plain; charset=ks_c_5601-1987\n\n"
	    "\xc7\xd1\xb1\xb9\n"),
	  "\xed\x95\x9c\xea\xb5\xad", NULL, NULL },
	{ "windows-1252",
	  M("Content-Type: text/plain; charset=windows-1252\n\n"
	    "\x93q\x94 \x80 5\n"),
	  "\xe2\x80\x9cq\xe2\x80\x9d \xe2\x82\xac 5", NULL, NULL },
	{ "iso-8859-1",
	  M("Content-Type: text/plain; charset=ISO-8859-1\n\n\xe9t\xe9\n"),
	  "\xc3\xa9t\xc3\xa9", NULL, NULL },
	{ "iso-8859-15 via iconv",
	  M("Content-Type: text/plain; charset=iso-8859-15\n\nprice \xa4\n"),
	  "price \xe2\x82\xac", NULL, NULL },
	{ "us-ascii lying, latin1 bytes",
	  M("Content-Type: text/plain; charset=us-ascii\n\ncaf\xe9 ok\n"),
	  "caf\xc3\xa9 ok", NULL, NULL },
	{ "us-ascii lying, utf-8 bytes",
	  M("Content-Type: text/plain; charset=us-ascii\n\ncaf\xc3\xa9 ok\n"),
	  "caf\xc3\xa9 ok", NULL, NULL },
	{ "utf-8 lying, invalid bytes",
	  M("Content-Type: text/plain; charset=utf-8\n\n"
	    "start \xff\xfe caf\xe9 end \xc3\n"),
	  "caf\xc3\xa9 end", "start", NULL },
	{ "gb2312 lying, invalid bytes",
	  M("Content-Type: text/plain; charset=gb2312\n\n"
	    "\xd6\xd0 x\xff y \xce\xc4\n"),
	  "\xe4\xb8\xad x", "y \xe6\x96\x87", NULL },
	{ "charset x-unknown",
	  M("Content-Type: text/plain; charset=x-unknown\n\ncaf\xe9\n"),
	  "caf\xc3\xa9", NULL, NULL },
	{ "charset with NUL",
	  M("Content-Type: text/plain; charset=\"foo\0bar\"\n\n"
	    "still here \xc3\xa9\n"),
	  "still here \xc3\xa9", NULL, NULL },
	{ "charset unknown to iconv",
	  M("Content-Type: text/plain; charset=x-no-such-charset\n\n"
	    "caf\xe9\n"),
	  "caf\xc3\xa9", NULL, NULL },
	{ "html only",
	  M("Content-Type: text/html; charset=utf-8\n\n"
	    "<html><head><title>TT</title><style>.x{}</style></head><body>"
	    "<p>Hello&nbsp;<b>HTML</b> &amp; co</p><script>evil()</script>"
	    "<div>next</div></body></html>\n"),
	  "Hello HTML & co", "co\nnext", "evil" },
	{ "html base64",
	  M("Content-Type: text/html\nContent-Transfer-Encoding: base64\n\n"
	    "PGh0bWw+PGJvZHk+PHA+QjY0IGh0bWwgJmFtcDsgbW9yZTwvcD48L2JvZHk+PC9o"
	    "dG1sPg==\n"),
	  "B64 html & more", NULL, "<p>" },
	{ "html meta charset",
	  M("Content-Type: text/html\n\n<meta http-equiv=Content-Type "
	    "content=\"text/html; charset=koi8-r\"><p>\xf0\xd2\xc9\xd7\xc5"
	    "\xd4</p>\n"),
	  "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", NULL, NULL },
	{ "html qp latin1",
	  M("Content-Type: text/html; charset=iso-8859-1\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "<p>Gr=FC=DFe</p>=\n<p>&eacute;t=E9</p>\n"),
	  "Gr\xc3\xbc\xc3\x9f"
	  "e\n\xc3\xa9t\xc3\xa9",
	  NULL, NULL },
	{ "CRLF",
	  M("Subject: x\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n"),
	  "line1\nline2", NULL, "\r" },
	{ "NUL in body", M("Subject: x\n\nab\0cd\n"), "ab cd", NULL, NULL },
	{ "no content-type", M("Subject: s\n\nplain body\n"), "plain body",
	  NULL, NULL },
	{ "text/enriched and text/csv are text",
	  M("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: text/csv\n\na,b,c\n--b\n"
	    "Content-Type: text/enriched\n\n<bold>rich</bold>\n--b--\n"),
	  "a,b,c", "rich", NULL },
};

START_TEST(test_bodies)
{
	ms_doc *d = parse(bodies[_i].msg, bodies[_i].len);
	ck_assert_msg(strstr(body(d), bodies[_i].want) != NULL,
		      "%s: body [%s] lacks [%s]", bodies[_i].name, body(d),
		      bodies[_i].want);
	if (bodies[_i].want2)
		HAS(d, bodies[_i].want2);
	if (bodies[_i].notwant)
		LACKS(d, bodies[_i].notwant);
	ck_assert_uint_eq(d->truncated, 0);
	ms_doc_free(&d);
	ck_assert_ptr_null(d);
}
END_TEST

/* ---- mbox From_ line ---- */

static const struct {
	const char *in;
	size_t len, want;
} from_lines[] = {
	{ M("From x@y Mon Jan  1 00:00:00 2024\nFrom: a\n"), 34 },
	{ M("From x\r\nrest"), 8 },
	{ M("From x"), 6 },
	{ M("From: a@b\n"), 0 },
	{ M("from x\n"), 0 },
	{ M(">From x\n"), 0 },
	{ M("Fro"), 0 },
	{ M(""), 0 },
};

START_TEST(test_from_line_len)
{
	ck_assert_uint_eq(
		ms_mime_from_line_len(from_lines[_i].in, from_lines[_i].len),
		from_lines[_i].want);
}
END_TEST

START_TEST(test_from_line_message)
{
	ms_doc *d = parse(M("From sender@example.org Mon Jan  1 00:00:00 "
			    "2024\nFrom: real@example.org\nSubject: mbox\n\n"
			    "the body\n"));
	ck_assert_uint_eq(d->addr[MS_ADDR_FROM].n, 1);
	ck_assert_str_eq(d->addr[MS_ADDR_FROM].v[0].addr, "real@example.org");
	ck_assert_str_eq(d->subject, "mbox");
	HAS(d, "the body");
	LACKS(d, "sender@");
	ms_doc_free(&d);
}
END_TEST

/* ---- headers ---- */

START_TEST(test_headers)
{
	ms_doc *d = parse(
		M("Message-ID: <abc.123@host.example>\n"
		  "Date: Tue, 15 Nov 1994 08:12:31 GMT\n"
		  "Subject: =?utf-8?B?w6l0w6k=?= and =?iso-8859-1?Q?caf=E9?=\n"
		  " =?iso-8859-1?Q?_au_lait?=\n"
		  "From: =?iso-8859-1?Q?Andr=E9?= <andre@example.org>\n"
		  "To: a@x.org, \"Bob B\" <bob@x.org>, undisclosed: c@x.org,"
		  " d@x.org;\n"
		  "Cc: =?utf-8?B?Wm/DqyDDnG5hbA==?= <zoe@x.org>\n"
		  "Bcc: hidden@x.org\n\nbody\n"));
	ck_assert_str_eq(d->message_id, "abc.123@host.example");
	ck_assert_int_eq(d->date, 784887151);
	ck_assert_str_eq(d->subject,
			 "\xc3\xa9t\xc3\xa9 and caf\xc3\xa9 au lait");
	ck_assert_uint_eq(d->addr[MS_ADDR_FROM].n, 1);
	ck_assert_str_eq(d->addr[MS_ADDR_FROM].v[0].name, "Andr\xc3\xa9");
	ck_assert_str_eq(d->addr[MS_ADDR_FROM].v[0].addr, "andre@example.org");
	ck_assert_uint_eq(d->addr[MS_ADDR_TO].n, 4);
	ck_assert_ptr_null(d->addr[MS_ADDR_TO].v[0].name);
	ck_assert_str_eq(d->addr[MS_ADDR_TO].v[1].name, "Bob B");
	ck_assert_str_eq(d->addr[MS_ADDR_TO].v[3].addr, "d@x.org");
	ck_assert_str_eq(d->addr[MS_ADDR_CC].v[0].name,
			 "Zo\xc3\xab \xc3\x9cnal");
	ck_assert_str_eq(d->addr[MS_ADDR_BCC].v[0].addr, "hidden@x.org");
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_addrlist_format(&d->addr[MS_ADDR_TO], &b), MS_OK);
	ck_assert_str_eq(b.data,
			 "a@x.org, Bob B <bob@x.org>, c@x.org, d@x.org");
	ms_buf_free(&b);
	ms_doc_free(&d);
}
END_TEST

START_TEST(test_headers_raw_8bit_and_bad_date)
{
	ms_doc *d = parse(M("Subject: caf\xe9 \xff\n"
			    "From: J\xc3\xbcrgen <j@x.org>\n"
			    "Date: not a date at all\n\nb\n"));
	ck_assert_ptr_nonnull(strstr(d->subject, "caf\xc3\xa9"));
	ck_assert_str_eq(d->addr[MS_ADDR_FROM].v[0].name, "J\xc3\xbcrgen");
	ck_assert_int_eq(d->date, 0);
	ck_assert_ptr_null(d->message_id);
	ms_doc_free(&d);
	d = parse(M("Subject: no date\n\nb\n"));
	ck_assert_int_eq(d->date, 0);
	ck_assert_uint_eq(d->addr[MS_ADDR_FROM].n, 0);
	ms_doc_free(&d);
}
END_TEST

START_TEST(test_nul_in_headers)
{
	ms_doc *d = parse(M("Subject: before\0after\nFrom: a@b.org\n"
			    "X-Junk: \0\0\0\n\nbody text\n"));
	ck_assert_ptr_nonnull(d->subject);
	ck_assert(strncmp(d->subject, "before", 6) == 0);
	ck_assert_uint_eq(d->addr[MS_ADDR_FROM].n, 1);
	ck_assert_str_eq(d->addr[MS_ADDR_FROM].v[0].addr, "a@b.org");
	HAS(d, "body text");
	ms_doc_free(&d);
}
END_TEST

/* ---- attachments ---- */

START_TEST(test_rfc2231_filename)
{
	ms_doc *d = parse(M(
		"Subject: att\nContent-Type: multipart/mixed; boundary=\"b\"\n"
		"\n--b\nContent-Type: text/plain\n\nthe body\n"
		"--b\nContent-Type: Application/PDF\n"
		"Content-Disposition: attachment;\n"
		" filename*0*=utf-8''r%C3%A9sum;\n"
		" filename*1*=%C3%A9%20final.pdf\n"
		"Content-Transfer-Encoding: base64\n\nJVBERi0=\n"
		"--b\nContent-Type: application/octet-stream;"
		" name=\"=?utf-8?B?csOpc3Vtw6k=?=.doc\"\n\nx\n"
		"--b\nContent-Type: application/zip;\n"
		" name*=iso-8859-1''d%E9j%E0.zip\n\nx\n"
		"--b--\n"));
	ck_assert_uint_eq(d->n_att, 3);
	ck_assert_str_eq(d->att[0].name, "r\xc3\xa9sum\xc3\xa9 final.pdf");
	ck_assert_str_eq(d->att[0].type, "application/pdf");
	ck_assert_str_eq(d->att[1].name, "r\xc3\xa9sum\xc3\xa9.doc");
	ck_assert_str_eq(d->att[1].type, "application/octet-stream");
	ck_assert_str_eq(d->att[2].name, "d\xc3\xa9j\xc3\xa0.zip");
	ck_assert_uint_eq(d->n_parts, 4);
	ck_assert_str_eq(body(d), "the body");
	ms_doc_free(&d);
}
END_TEST

START_TEST(test_attachment_rules)
{
	ms_doc *d = parse(
		M("Content-Type: multipart/mixed; boundary=b\n\n"
		  "--b\nContent-Type: text/plain\n\ninline text\n"
		  "--b\nContent-Type: text/plain\n"
		  "Content-Disposition: attachment; filename=notes.txt\n\n"
		  "notes content\n"
		  "--b\nContent-Type: image/png\n"
		  "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
		  "--b\nContent-Type: text/plain\n"
		  "Content-Disposition: attachment\n\nunnamed attached text\n"
		  "--b--\n"));
	ck_assert_uint_eq(d->n_parts, 4);
	ck_assert_uint_eq(d->n_att, 3);
	ck_assert_str_eq(d->att[0].name, "notes.txt");
	ck_assert_str_eq(d->att[0].type, "text/plain");
	ck_assert_ptr_null(d->att[1].name);
	ck_assert_str_eq(d->att[1].type, "image/png");
	ck_assert_ptr_null(d->att[2].name);
	ck_assert_str_eq(d->att[2].type, "text/plain");
	ck_assert_str_eq(body(d), "inline text\n\nnotes content\n\n"
				  "unnamed attached text");
	LACKS(d, "iVBOR");
	ms_doc_free(&d);
}
END_TEST

START_TEST(test_alternative_all_indexed)
{
	ms_doc *d =
		parse(M("Content-Type: multipart/alternative; boundary=a\n\n"
			"--a\nContent-Type: text/plain; charset=utf-8\n\n"
			"plain alternative\n"
			"--a\nContent-Type: text/html; charset=utf-8\n\n"
			"<p>html <i>alternative</i></p>\n--a--\n"));
	HAS(d, "plain alternative");
	HAS(d, "html alternative");
	HAS(d, "\n\n");
	ck_assert_uint_eq(d->n_att, 0);
	ck_assert_uint_eq(d->n_parts, 2);
	ms_doc_free(&d);
}
END_TEST

START_TEST(test_nested_rfc822)
{
	ms_doc *d = parse(
		M("Subject: outer\nContent-Type: multipart/mixed; boundary=o\n"
		  "\n--o\nContent-Type: text/plain\n\nouter text\n"
		  "--o\nContent-Type: message/rfc822\n\n"
		  "Subject: =?utf-8?Q?inner_subj=C3=A9ct?=\n"
		  "From: Inner Person <inner@x.org>\n"
		  "Content-Type: multipart/alternative; boundary=i\n\n"
		  "--i\nContent-Type: text/plain\n\ninner body text\n"
		  "--i\nContent-Type: application/pdf; name=in.pdf\n\nx\n"
		  "--i--\n--o--\n"));
	ck_assert_str_eq(d->subject, "outer");
	HAS(d, "outer text");
	HAS(d, "inner subj\xc3\xa9"
	       "ct");
	HAS(d, "inner@x.org");
	HAS(d, "inner body text");
	ck_assert_uint_eq(d->n_att, 1);
	ck_assert_str_eq(d->att[0].name, "in.pdf");
	ms_doc_free(&d);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_text_cap)
{
	ms_mime_opts o = { .max_text_per_part = 10 };
	ms_doc *d = parse_opts(M("Subject: c\n\n0123456789abcdef\n"), &o);
	ck_assert_str_eq(body(d), "0123456789");
	ck_assert_uint_eq(d->truncated, 1);
	ms_doc_free(&d);
	o.max_text_per_part = 5; /* 2-byte characters: keep 2 of them */
	d = parse_opts(M("Content-Type: text/plain; charset=utf-8\n\n"
			 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n"),
		       &o);
	ck_assert_str_eq(body(d), "\xc3\xa9\xc3\xa9");
	ms_doc_free(&d);
	d = parse_opts(M("Content-Type: multipart/mixed; boundary=b\n\n"
			 "--b\nContent-Type: text/html\n\n<p>abc defghijk</p>\n"
			 "--b\nContent-Type: text/plain\n\nshort\n--b--\n"),
		       &o);
	ck_assert_str_eq(body(d), "abc d\n\nshort");
	ck_assert_uint_eq(d->truncated, 1);
	ms_doc_free(&d);
}
END_TEST

/* A filter that swallows whole blocks (junk before base64 data, a long
 * preamble before a uuencode "begin") must not end the part early. */
START_TEST(test_filter_swallows_blocks)
{
	ms_buf m = MS_BUF_INIT;
	ms_buf_puts(&m, "Content-Type: multipart/mixed; boundary=b\n\n"
			"--b\nContent-Transfer-Encoding: base64\n\n");
	for (int i = 0; i < 300; i++)
		ms_buf_puts(&m, "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
	ms_buf_puts(&m, "SGVsbG8gYmFzZTY0IHdvcmxkLCBjYWbDqQo=\n--b\n"
			"Content-Transfer-Encoding: x-uuencode\n\n");
	for (int i = 0; i < 300; i++)
		ms_buf_puts(&m, "preamble line preamble line preamble\n");
	ms_buf_puts(&m, "begin 644 f.txt\n5=74@9&5C;V1E9\"!T97AT(&AE<F4*\n`\n"
			"end\n--b--\n");
	ms_doc *d = parse(m.data, m.len);
	HAS(d, "Hello base64 world");
	HAS(d, "uu decoded text here");
	ms_doc_free(&d);
	ms_buf_free(&m);
}
END_TEST

/* Cap reached inside a large read, for both converters. */
START_TEST(test_text_cap_large_parts)
{
	static const char *const heads[] = {
		"Content-Type: text/plain; charset=koi8-r\n\n",
		"Content-Type: text/plain; charset=utf-8\n\n",
		"Content-Type: text/html; charset=koi8-r\n\n",
	};
	for (size_t h = 0; h < sizeof(heads) / sizeof(*heads); h++) {
		ms_buf m = MS_BUF_INIT;
		ms_buf_puts(&m, heads[h]);
		for (int i = 0; i < 20000; i++)
			ms_buf_puts(&m, h == 1 ? "\xc3\xa9 " : "\xf0\xd2 ");
		ms_mime_opts o = { .max_text_per_part = 100 };
		ms_doc *d = parse_opts(m.data, m.len, &o);
		ck_assert_uint_eq(d->truncated, 1);
		ck_assert(d->body.len <= 100 && d->body.len >= 97);
		ms_doc_free(&d);
		ms_buf_free(&m);
	}
}
END_TEST

START_TEST(test_max_parts_and_depth)
{
	ms_buf m = MS_BUF_INIT;
	ms_buf_puts(&m, "Content-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 10; i++)
		ms_buf_printf(&m, "--b\n\npart%d\n", i);
	ms_buf_puts(&m, "--b--\n");
	ms_mime_opts o = { .max_parts = 3 };
	ms_doc *d = parse_opts(m.data, m.len, &o);
	ck_assert_uint_eq(d->n_parts, 3);
	HAS(d, "part2");
	LACKS(d, "part3");
	ms_doc_free(&d);
	ms_buf_free(&m);
	const char deep[] = "Content-Type: multipart/mixed; boundary=a\n\n"
			    "--a\n\nlevel1\n--a\n"
			    "Content-Type: multipart/mixed; boundary=b\n\n"
			    "--b\n\nlevel2\n--b\n"
			    "Content-Type: multipart/mixed; boundary=c\n\n"
			    "--c\n\nlevel3\n--c--\n--b--\n--a--\n";
	o = (ms_mime_opts){ .max_depth = 2 };
	d = parse_opts(deep, sizeof(deep) - 1, &o);
	HAS(d, "level1");
	HAS(d, "level2");
	LACKS(d, "level3");
	ms_doc_free(&d);
	d = parse(deep, sizeof(deep) - 1);
	HAS(d, "level3");
	ms_doc_free(&d);
}
END_TEST

/* ---- damaged and hostile input ---- */

START_TEST(test_empty_and_not_a_message)
{
	static const struct {
		const char *in;
		size_t len;
	} bad[] = {
		{ M("") },
		{ M(" \r\n\n\t") },
		{ M("From x@y Mon Jan  1 00:00:00 2024\n") },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ms_doc *d = (ms_doc *)1;
		char *err = NULL;
		ck_assert_int_eq(
			ms_mime_parse(bad[i].in, bad[i].len, NULL, &d, &err),
			MS_ERR_PARSE);
		ck_assert_ptr_null(d);
		ck_assert_ptr_nonnull(err);
		ck_assert(strlen(err) > 0);
		free(err);
	}
	ms_doc *d = NULL;
	ck_assert_int_eq(ms_mime_parse("", 0, NULL, &d, NULL), MS_ERR_PARSE);
	ck_assert_ptr_null(d);
}
END_TEST

/* Deterministic pseudo-random bytes. */
static void garbage(ms_buf *b, size_t n, unsigned seed)
{
	ms_buf_reserve(b, n);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b->data[b->len++] = (char)(seed >> 16);
	}
	b->data[b->len] = '\0';
}

START_TEST(test_binary_garbage)
{
	ms_buf m = MS_BUF_INIT;
	garbage(&m, 65536, 42);
	ms_doc *d = NULL;
	char *err = NULL;
	ms_status_t st = ms_mime_parse(m.data, m.len, NULL, &d, &err);
	ck_assert(st == MS_OK || st == MS_ERR_PARSE);
	if (st == MS_OK)
		check_doc(d);
	else
		ck_assert_ptr_nonnull(err);
	ms_doc_free(&d);
	free(err);
	/* Garbage after a valid header: the header survives, the body
	 * becomes valid UTF-8 text. */
	ms_buf_reset(&m);
	ms_buf_puts(&m, "Subject: garbage follows\n"
			"Content-Type: text/plain; charset=utf-8\n\n");
	garbage(&m, 65536, 7);
	d = parse(m.data, m.len);
	ck_assert_str_eq(d->subject, "garbage follows");
	ck_assert(d->body.len > 65536);
	ms_doc_free(&d);
	ms_buf_free(&m);
}
END_TEST

START_TEST(test_truncated_multipart)
{
	ms_doc *d = parse(
		M("Subject: cut\nContent-Type: multipart/mixed; boundary=b\n\n"
		  "--b\nContent-Type: text/plain\n\nfirst part text\n"
		  "--b\nContent-Type: text/plain\n"
		  "Content-Transfer-Encoding: base64\n\nSGVsbG8gYmFz"));
	HAS(d, "first part text");
	HAS(d, "Hello ba");
	ms_doc_free(&d);
	d = parse(M("Subject: cut in header\n"
		    "Content-Type: multipart/mixed; boundary=b\n\n"
		    "--b\nContent-Type: text/plain\n\nbefore damage\n"
		    "--b\nContent-Type: text/pla"));
	HAS(d, "before damage");
	ms_doc_free(&d);
}
END_TEST

START_TEST(test_unclosed_boundary)
{
	ms_doc *d = parse(
		M("Content-Type: multipart/mixed; boundary=never\n\n"
		  "--never\nContent-Type: text/plain\n\nfirst\n"
		  "--never\nContent-Type: text/html\n\n<p>second <b>part\n"
		  "and more text without end\n"));
	HAS(d, "first");
	HAS(d, "second part and more text without end");
	ms_doc_free(&d);
	d = parse(M("Content-Type: multipart/mixed; boundary=x\n\n"
		    "preamble only, no boundary ever appears\n"));
	ck_assert_uint_eq(d->n_parts, 0);
	ms_doc_free(&d);
}
END_TEST

START_TEST(test_deep_nesting)
{
	ms_buf m = MS_BUF_INIT;
	ms_buf_puts(&m, "Subject: deep\n"
			"Content-Type: multipart/mixed; boundary=\"b0\"\n\n");
	ms_buf_puts(&m, "--b0\nContent-Type: text/plain\n\nouter text\n");
	for (int i = 1; i < 10000; i++)
		ms_buf_printf(&m,
			      "--b%d\nContent-Type: multipart/mixed; "
			      "boundary=\"b%d\"\n\n",
			      i - 1, i);
	ms_buf_puts(&m, "--b9999\n\ninnermost text\n--b9999--\n");
	for (int i = 9998; i >= 0; i--)
		ms_buf_printf(&m, "--b%d--\n", i);
	ms_doc *d = parse(m.data, m.len);
	ck_assert_str_eq(d->subject, "deep");
	HAS(d, "outer text");
	LACKS(d, "innermost"); /* beyond max_depth (64) */
	ms_doc_free(&d);
	ms_buf_free(&m);
}
END_TEST

START_TEST(test_many_headers)
{
	ms_buf m = MS_BUF_INIT;
	ms_buf_puts(&m, "From: first@x.org\nSubject: many headers\n");
	for (int i = 0; i < 100000; i++)
		ms_buf_printf(&m, "X-Header-%d: value %d\n", i, i);
	ms_buf_puts(&m, "\nbody after the headers\n");
	ms_doc *d = parse(m.data, m.len);
	ck_assert_str_eq(d->subject, "many headers");
	ck_assert_str_eq(d->addr[MS_ADDR_FROM].v[0].addr, "first@x.org");
	HAS(d, "body after the headers");
	ms_doc_free(&d);
	ms_buf_free(&m);
}
END_TEST

/* Hostile structure beyond the budget: the start is still indexed. */
START_TEST(test_structure_budget)
{
	ms_buf m = MS_BUF_INIT;
	ms_buf_puts(&m, "Subject: tiny parts\n"
			"Content-Type: multipart/mixed; boundary=b\n\n"
			"--b\n\nfirst tiny part\n");
	for (int i = 0; i < 200000; i++)
		ms_buf_puts(&m, "--b\n\nx\n");
	ms_buf_puts(&m, "--b\n\nlast tiny part\n--b--\n");
	ms_doc *d = parse(m.data, m.len);
	ck_assert_str_eq(d->subject, "tiny parts");
	HAS(d, "first tiny part");
	ck_assert_uint_eq(d->n_parts, 2000);
	ms_doc_free(&d);
	ms_buf_free(&m);
}
END_TEST

/* Appends a base64 body of about n bytes ("AAAA..." lines). */
static void big_base64(ms_buf *m, size_t n)
{
	char line[78];
	memset(line, 'Q', 76);
	line[76] = '\n';
	ms_buf_reserve(m, n + n / 76 + 1);
	for (size_t i = 0; i < n; i += 76)
		ms_buf_append(m, line, 77);
}

START_TEST(test_50mb_attachment)
{
	ms_buf m = MS_BUF_INIT;
	ms_buf_puts(&m, "Subject: big\nContent-Type: multipart/mixed; "
			"boundary=zz\n\n--zz\nContent-Type: text/plain\n\n"
			"before the attachment\n--zz\n"
			"Content-Type: application/octet-stream\n"
			"Content-Disposition: attachment; filename=big.bin\n"
			"Content-Transfer-Encoding: base64\n\n");
	big_base64(&m, 50u << 20);
	ms_buf_puts(&m, "--zz\nContent-Type: text/plain\n\nafter it\n--zz--\n");
	ms_doc *d = parse(m.data, m.len);
	ck_assert_uint_eq(d->n_att, 1);
	ck_assert_str_eq(d->att[0].name, "big.bin");
	ck_assert_str_eq(d->att[0].type, "application/octet-stream");
	HAS(d, "before the attachment");
	HAS(d, "after it");
	ck_assert(d->body.len < 100);
	ms_doc_free(&d);
	ms_buf_free(&m);
}
END_TEST

START_TEST(test_50mb_text_capped)
{
	ms_buf m = MS_BUF_INIT;
	ms_buf_puts(&m, "Subject: big text\nContent-Transfer-Encoding: base64"
			"\n\n");
	big_base64(&m, 50u << 20);
	ms_doc *d = parse(m.data, m.len);
	ck_assert_uint_eq(d->truncated, 1);
	ck_assert_uint_eq(d->body.len, 1u << 20); /* default cap: 1 MiB */
	ms_doc_free(&d);
	ms_buf_reset(&m);
	ms_buf_puts(&m, "Subject: big html\nContent-Type: text/html\n\n");
	for (size_t i = 0; i < (50u << 20) / 32; i++)
		ms_buf_puts(&m, "<span class=\"xx\">w</span>     \n");
	d = parse(m.data, m.len);
	ck_assert_uint_eq(d->truncated, 1);
	ck_assert(d->body.len <= 1u << 20);
	ms_doc_free(&d);
	ms_buf_free(&m);
}
END_TEST

/* ---- threads ---- */

static void *thread_main(void *arg)
{
	const char **want = arg;
	for (int round = 0; round < 20; round++)
		for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
			ms_doc *d = NULL;
			if (ms_mime_parse(bodies[i].msg, bodies[i].len, NULL,
					  &d, NULL) != MS_OK ||
			    strcmp(body(d), want[i]) != 0) {
				ms_doc_free(&d);
				return (void *)1;
			}
			ms_doc_free(&d);
		}
	return NULL;
}

START_TEST(test_threads)
{
	enum { NB = sizeof(bodies) / sizeof(*bodies), NT = 4 };
	const char *want[NB];
	ms_doc *docs[NB];
	for (size_t i = 0; i < NB; i++) {
		docs[i] = parse(bodies[i].msg, bodies[i].len);
		want[i] = body(docs[i]);
	}
	pthread_t t[NT];
	for (int i = 0; i < NT; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, want),
				 0);
	for (int i = 0; i < NT; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		ck_assert_ptr_null(ret);
	}
	for (size_t i = 0; i < NB; i++)
		ms_doc_free(&docs[i]);
}
END_TEST

START_TEST(test_doc_free_null)
{
	ms_doc *d = NULL;
	ms_doc_free(&d);
	ms_doc_free(NULL);
	d = ms_doc_new();
	ck_assert_ptr_nonnull(d);
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_addrlist_format(&d->addr[MS_ADDR_TO], &b), MS_OK);
	ck_assert_uint_eq(b.len, 0);
	ms_doc_free(&d);
	ck_assert_ptr_null(d);
}
END_TEST

int main(void)
{
	ms_mime_init();
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_bodies, 0,
			    sizeof(bodies) / sizeof(*bodies));
	tcase_add_loop_test(tc, test_from_line_len, 0,
			    sizeof(from_lines) / sizeof(*from_lines));
	tcase_add_test(tc, test_from_line_message);
	tcase_add_test(tc, test_headers);
	tcase_add_test(tc, test_headers_raw_8bit_and_bad_date);
	tcase_add_test(tc, test_nul_in_headers);
	tcase_add_test(tc, test_rfc2231_filename);
	tcase_add_test(tc, test_attachment_rules);
	tcase_add_test(tc, test_alternative_all_indexed);
	tcase_add_test(tc, test_nested_rfc822);
	tcase_add_test(tc, test_text_cap);
	tcase_add_test(tc, test_filter_swallows_blocks);
	tcase_add_test(tc, test_text_cap_large_parts);
	tcase_add_test(tc, test_max_parts_and_depth);
	tcase_add_test(tc, test_empty_and_not_a_message);
	tcase_add_test(tc, test_binary_garbage);
	tcase_add_test(tc, test_truncated_multipart);
	tcase_add_test(tc, test_unclosed_boundary);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_many_headers);
	tcase_add_test(tc, test_structure_budget);
	tcase_add_test(tc, test_50mb_attachment);
	tcase_add_test(tc, test_50mb_text_capped);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_doc_free_null);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
