/* ms_mime.c - MIME -> ms_doc extraction with GMime 3 (see ms_mime.h).
 *
 * Functions: ms_mime_init, ms_mime_from_line_len, ms_mime_parse.
 * File-local parts: UTF-8 repair (utf8_fix, str_clean), charset
 * conversion (conv_*), the per-part text sink (sink_*), part text
 * extraction (part_text), the MIME tree walk (walk_*) and header fields
 * (doc_headers).
 *
 * Memory: GMime reads the caller's buffer through a GMimeStreamMem whose
 * GByteArray wraps data without copying (the stream does not own it and
 * nothing ever writes to it); the parser persists the stream, so part
 * contents stay substreams of that buffer. Text parts are decoded in
 * IN_SZ-byte chunks through GMime's transfer-encoding filters and
 * converted here, and decoding stops once the part's text reaches the
 * cap, so a 50 MB part costs no more memory than a small one.
 *
 * Charsets: a part whose charset is absent, ASCII, UTF-8, Latin-1,
 * windows-1252, or unknown to iconv is read as UTF-8 where valid, each
 * invalid byte taken as windows-1252. Other charsets go through iconv
 * (supersets: GB18030 for GB2312/GBK, CP949 for EUC-KR, CP950 for Big5,
 * CP932 for Shift_JIS); bytes invalid there are also taken as
 * windows-1252. Output is always valid UTF-8 without NUL bytes.
 */
#include "ms_mime.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ms_html.h"

#define IN_SZ	  16384 /* decoded bytes read per step */
#define CARRY_MAX 64	/* max incomplete multibyte tail kept */
#define OUT_SZ	  16384 /* UTF-8 output staging */
#define HTML_IN_FACTOR 16 /* HTML input read per byte of text cap */

static GMimeParserOptions *parser_opts;

/* ---- UTF-8 repair ---- */

/* windows-1252 0x80-0x9F; the five holes map to their C1 code points. */
static const unsigned short cp1252_hi[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* Writes byte b taken as windows-1252 to o (at most 3 bytes). */
static size_t put_cp1252(char *o, unsigned char b)
{
	unsigned cp = b >= 0x80 && b < 0xA0 ? cp1252_hi[b - 0x80] : b;
	if (cp == 0) {
		o[0] = ' ';
		return 1;
	}
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	o[0] = (char)(0xE0 | (cp >> 12));
	o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[2] = (char)(0x80 | (cp & 0x3F));
	return 3;
}

/* Length of the valid UTF-8 sequence at p (1-4), 0 if invalid, -1 if
 * p..end is a valid but incomplete prefix. */
static int utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	int n;
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0) {
		n = 2;
	} else if (c < 0xF0) {
		n = 3;
		lo = c == 0xE0 ? 0xA0 : 0x80;
		hi = c == 0xED ? 0x9F : 0xBF;
	} else if (c < 0xF5) {
		n = 4;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if (p + i >= end)
			return -1;
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			return 0;
	}
	return n;
}

/* Copies in[0..n) to out as valid UTF-8: valid sequences as they are,
 * each invalid byte as its windows-1252 character, NUL as a space. Stops
 * when out has fewer than 4 bytes left, or (unless final) before an
 * incomplete sequence at the end. Returns the input bytes consumed and
 * sets *olen to the bytes written. */
static size_t utf8_fix(const char *in, size_t n, int final, char *out,
		       size_t ocap, size_t *olen)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + n;
	size_t o = 0;
	while (p < end && ocap - o >= 4) {
		if (*p && *p < 0x80) {
			out[o++] = (char)*p++;
			continue;
		}
		int l = *p ? utf8_len(p, end) : 0;
		if (l < 0 && !final)
			break;
		if (l <= 0) {
			o += put_cp1252(out + o, *p++);
			continue;
		}
		memcpy(out + o, p, (size_t)l);
		o += (size_t)l;
		p += l;
	}
	*olen = o;
	return (size_t)(p - (const unsigned char *)in);
}

/* Returns a malloc'ed valid UTF-8 copy of s (NULL if s is NULL or on
 * ENOMEM; sets *st to MS_ERR_NOMEM then). */
static char *str_clean(const char *s, ms_status_t *st)
{
	if (!s)
		return NULL;
	size_t n = strlen(s), olen;
	ms_buf b = MS_BUF_INIT;
	if (n > (SIZE_MAX - 8) / 3 || ms_buf_reserve(&b, 3 * n + 4) != MS_OK) {
		*st = MS_ERR_NOMEM;
		return NULL;
	}
	utf8_fix(s, n, 1, b.data, b.cap, &olen);
	b.len = olen;
	b.data[olen] = '\0';
	return ms_buf_steal(&b);
}

/* ---- the per-part text sink: plain text or HTML, with the cap ---- */

typedef struct sink {
	ms_buf *out;
	size_t sep_at;	/* out->len before the part separator */
	size_t start;	/* out->len where this part's text starts */
	size_t cap;	/* text bytes kept for this part */
	ms_html *html;	/* non-NULL for text/html */
	int full;	/* cap reached: stop decoding */
	ms_status_t st;
} sink;

static ms_status_t sink_begin(sink *s, ms_buf *out, size_t cap, int html)
{
	memset(s, 0, sizeof(*s));
	s->out = out;
	s->cap = cap;
	s->sep_at = out->len;
	if (out->len && ms_buf_append(out, "\n\n", 2) != MS_OK)
		return MS_ERR_NOMEM;
	s->start = out->len;
	if (html && !(s->html = ms_html_begin(out, cap)))
		return MS_ERR_NOMEM;
	return MS_OK;
}

/* Folds CR LF to LF and a lone CR to a space in place; returns new n. */
static size_t crlf_fold(char *p, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\r')
			p[w++] = p[i];
		else if (i + 1 == n || p[i + 1] != '\n')
			p[w++] = ' ';
	}
	return w;
}

/* Plain text: appends p[0..n), keeping at most cap bytes for the part
 * (cut at a character boundary). */
static void sink_plain(sink *s, char *p, size_t n)
{
	size_t used = s->out->len - s->start;
	n = crlf_fold(p, n);
	if (used + n > s->cap) {
		n = s->cap - used;
		while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
			n--;
		s->full = 1;
	}
	if (n && ms_buf_append(s->out, p, n) != MS_OK)
		s->st = MS_ERR_NOMEM;
}

/* Takes n bytes of valid UTF-8 (modifiable scratch). */
static void sink_put(sink *s, char *p, size_t n)
{
	if (s->full || s->st != MS_OK || n == 0)
		return;
	if (!s->html) {
		sink_plain(s, p, n);
		return;
	}
	if (ms_html_feed(s->html, p, n) != MS_OK)
		s->st = MS_ERR_NOMEM;
	if (ms_html_full(s->html))
		s->full = 1;
}

/* Finishes the part: drops the separator if no text came. */
static ms_status_t sink_end(sink *s)
{
	if (s->html && ms_html_end(&s->html) != MS_OK && s->st == MS_OK)
		s->st = MS_ERR_NOMEM;
	if (s->out->len == s->start)
		ms_buf_truncate(s->out, s->sep_at);
	return s->st;
}

/* ---- charset conversion into a sink ---- */

typedef struct conv {
	GIConv cd; /* (GIConv)-1: UTF-8 with windows-1252 fallback */
	char out[OUT_SZ];
} conv;

/* Charsets read as UTF-8 with the windows-1252 fallback. */
static const char *const utf8ish[] = {
	"ansi_x3.4-1968", "ascii",	    "cp1252",	  "default",
	"iso-8859-1",	  "iso8859-1",	    "iso_8859-1", "iso-ir-100",
	"l1",		  "latin1",	    "unknown",	  "unknown-8bit",
	"us",		  "us-ascii",	    "utf-8",	  "utf8",
	"windows-1252",	  "x-unknown",	    "x-user-defined",
};

/* Declared charset -> a superset iconv knows better. */
static const char *const supersets[][2] = {
	{ "big5", "CP950" },	     { "euc-cn", "GB18030" },
	{ "euc-kr", "CP949" },	     { "gb2312", "GB18030" },
	{ "gbk", "GB18030" },	     { "ks_c_5601-1987", "CP949" },
	{ "shift-jis", "CP932" },    { "shift_jis", "CP932" },
	{ "sjis", "CP932" },	     { "x-gbk", "GB18030" },
	{ "x-sjis", "CP932" },
};

static void conv_open(conv *c, const char *cs)
{
	c->cd = (GIConv)-1;
	if (!cs || !*cs || strlen(cs) > 40)
		return;
	for (size_t i = 0; i < sizeof(utf8ish) / sizeof(*utf8ish); i++)
		if (strcasecmp(cs, utf8ish[i]) == 0)
			return;
	for (size_t i = 0; i < sizeof(supersets) / sizeof(*supersets); i++)
		if (strcasecmp(cs, supersets[i][0]) == 0)
			cs = supersets[i][1];
	c->cd = g_mime_iconv_open("UTF-8", cs);
}

static void conv_close(conv *c)
{
	if (c->cd == (GIConv)-1)
		return;
	g_iconv(c->cd, NULL, NULL, NULL, NULL); /* reset shift state */
	g_mime_iconv_close(c->cd);
}

/* UTF-8 mode: repairs in[0..n) into the sink; returns bytes consumed. */
static size_t conv_utf8(conv *c, const char *in, size_t n, int final, sink *s)
{
	size_t done = 0, olen;
	while (done < n && !s->full) {
		size_t used = utf8_fix(in + done, n - done, final, c->out,
				       OUT_SZ, &olen);
		sink_put(s, c->out, olen);
		done += used;
		if (used == 0)
			break;
	}
	return done;
}

/* Passes out[0..o) to the sink, replacing NUL bytes by spaces. */
static void conv_flush(conv *c, size_t o, sink *s)
{
	char *z = c->out, *end = c->out + o;
	while ((z = memchr(z, 0, (size_t)(end - z))))
		*z++ = ' ';
	sink_put(s, c->out, o);
}

/* iconv mode: converts in[0..n) into the sink; returns bytes consumed
 * (an incomplete tail of at most CARRY_MAX bytes is left unless final). */
static size_t conv_iconv(conv *c, const char *in, size_t n, int final, sink *s)
{
	char *ip = (char *)in, *op = c->out;
	size_t il = n, ol = OUT_SZ;
	while (il > 0 && !s->full) {
		size_t r = g_iconv(c->cd, &ip, &il, &op, &ol);
		int e = errno;
		if (r != (size_t)-1)
			break;
		if (e == E2BIG || ol < 4) {
			conv_flush(c, OUT_SZ - ol, s);
			op = c->out;
			ol = OUT_SZ;
			if (e == E2BIG)
				continue;
		}
		if (e == EINVAL && !final && il <= CARRY_MAX)
			break;
		size_t k = put_cp1252(op, (unsigned char)*ip++);
		op += k;
		ol -= k;
		il--;
	}
	if (final && !s->full)
		g_iconv(c->cd, NULL, NULL, &op, &ol);
	conv_flush(c, OUT_SZ - ol, s);
	return n - il;
}

static size_t conv_run(conv *c, const char *in, size_t n, int final, sink *s)
{
	if (c->cd == (GIConv)-1)
		return conv_utf8(c, in, n, final, s);
	return conv_iconv(c, in, n, final, s);
}

/* ---- text of one leaf part ---- */

typedef struct walk {
	ms_doc *doc;
	size_t cap;
	unsigned max_depth, max_parts;
	ms_status_t st;
} walk;

/* The part's content as a decoded stream (new reference), or NULL. */
static GMimeStream *part_stream(GMimePart *part)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *raw = dw ? g_mime_data_wrapper_get_stream(dw) : NULL;
	if (!raw)
		return NULL;
	g_mime_stream_reset(raw);
	GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(dw);
	if (enc != GMIME_CONTENT_ENCODING_BASE64 &&
	    enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
	    enc != GMIME_CONTENT_ENCODING_UUENCODE)
		return g_object_ref(raw);
	GMimeStream *fs = g_mime_stream_filter_new(raw);
	GMimeFilter *f = g_mime_filter_basic_new(enc, FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
	g_object_unref(f);
	return fs;
}

/* Reads the decoded stream in IN_SZ chunks through the converter into
 * the sink until EOF, the text cap, or (HTML) the input cap. */
static void pump(GMimeStream *in_s, conv *c, sink *s, size_t in_cap)
{
	char in[IN_SZ + CARRY_MAX];
	size_t keep = 0, total = 0;
	while (!s->full && s->st == MS_OK) {
		ssize_t n = g_mime_stream_read(in_s, in + keep, IN_SZ);
		if (n <= 0)
			break;
		size_t avail = keep + (size_t)n;
		size_t used = conv_run(c, in, avail, 0, s);
		keep = avail - used;
		memmove(in, in + used, keep);
		total += (size_t)n;
		if (total >= in_cap && !g_mime_stream_eos(in_s))
			s->full = 1;
	}
	if (!s->full && s->st == MS_OK)
		conv_run(c, in, keep, 1, s);
}

/* Appends the text of a text/ part (HTML as visible text) to the body. */
static void part_text(walk *w, GMimePart *part, int html)
{
	GMimeStream *in_s = part_stream(part);
	if (!in_s)
		return;
	const char *cs = g_mime_object_get_content_type_parameter(
		GMIME_OBJECT(part), "charset");
	size_t in_cap = w->cap > SIZE_MAX / HTML_IN_FACTOR
				? SIZE_MAX
				: w->cap * HTML_IN_FACTOR;
	conv c;
	sink s;
	ms_status_t st = sink_begin(&s, &w->doc->body, w->cap, html);
	if (st == MS_OK) {
		conv_open(&c, cs);
		pump(in_s, &c, &s, html ? in_cap : SIZE_MAX);
		conv_close(&c);
		w->doc->truncated += s.full != 0;
		st = sink_end(&s);
	}
	if (st != MS_OK)
		w->st = st;
	g_object_unref(in_s);
}
