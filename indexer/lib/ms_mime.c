/* ms_mime.c - MIME -> ms_doc extraction with GMime 3 (see ms_mime.h).
 *
 * Functions: ms_mime_init, ms_mime_from_line_len, ms_mime_parse.
 * File-local parts: UTF-8 repair (utf8_fix, str_clean), charset
 * conversion (conv_*), the per-part text sink (sink_*), part text
 * extraction (part_text, pump), the MIME tree walk (walk_*), header
 * fields (doc_headers) and the structure budget (struct_cut).
 *
 * What is indexed: the text of every text/ part, all alternatives of a
 * multipart/alternative (search must find words whichever one the
 * reader sees), HTML as visible text, and for each nested message its
 * Subject and From followed by its parts. Parts with a file name, a
 * non-text type or disposition "attachment" are listed in doc->att
 * (text ones are indexed as well).
 *
 * Memory: GMime reads the caller's buffer through a GMimeStreamMem whose
 * GByteArray wraps data without copying (the stream does not own it and
 * nothing ever writes to it); the parser persists the stream, so part
 * contents stay substreams of that buffer. Text parts are decoded in
 * IN_SZ-byte chunks through GMime's transfer-encoding filters and
 * converted here, and decoding stops once the part's text reaches the
 * cap (for HTML also once HTML_IN_FACTOR times the cap was read), so a
 * 50 MB part costs no more memory than a small one.
 *
 * Charsets: a part whose charset is absent, ASCII, UTF-8, Latin-1,
 * windows-1252, or unknown to iconv is read as UTF-8 where valid, each
 * invalid byte taken as windows-1252. Other charsets go through iconv
 * (supersets: GB18030 for GB2312/GBK, CP949 for EUC-KR, CP950 for Big5,
 * CP932 for Shift_JIS); bytes invalid there are also taken as
 * windows-1252. HTML without a MIME charset uses its <meta> charset.
 * Output is always valid UTF-8 without NUL bytes.
 */
#include "ms_gmime.h"
#include "ms_mime.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ms_html.h"
#include "ms_mime_att.h"

#define IN_SZ	       16384 /* decoded bytes read per step */
#define CARRY_MAX      64    /* max incomplete multibyte tail kept */
#define OUT_SZ	       16384 /* UTF-8 output staging */
#define HTML_IN_FACTOR 16    /* HTML input read per byte of text cap */

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
	size_t sep_at; /* out->len before the part separator */
	size_t start;  /* out->len where this part's text starts */
	size_t cap;    /* text bytes kept for this part */
	ms_html *html; /* non-NULL for text/html */
	int full;      /* cap reached: stop decoding */
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
	if (s->html) {
		ms_status_t st = ms_html_flush(s->html);
		s->full |= ms_html_full(s->html);
		ms_html_end(&s->html); /* returns st again */
		if (st != MS_OK && s->st == MS_OK)
			s->st = st;
	}
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
	"ansi_x3.4-1968",
	"ascii",
	"cp1252",
	"default",
	"iso-8859-1",
	"iso8859-1",
	"iso_8859-1",
	"iso-ir-100",
	"l1",
	"latin1",
	"unknown",
	"unknown-8bit",
	"us",
	"us-ascii",
	"utf-8",
	"utf8",
	"windows-1252",
	"x-unknown",
	"x-user-defined",
};

/* Declared charset -> a superset iconv knows better. */
static const char *const supersets[][2] = {
	{ "big5", "CP950" },	  { "euc-cn", "GB18030" },
	{ "euc-kr", "CP949" },	  { "gb2312", "GB18030" },
	{ "gbk", "GB18030" },	  { "ks_c_5601-1987", "CP949" },
	{ "shift-jis", "CP932" }, { "shift_jis", "CP932" },
	{ "sjis", "CP932" },	  { "x-gbk", "GB18030" },
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
	const ms_extract_opts *ext; /* NULL: no extraction */
	unsigned n_extracted;	    /* attachments handed to the extractor */
	double ext_started;	    /* monotonic seconds of the first one */
} walk;

/* Finds a charset=NAME declaration (an HTML <meta>) in p[0..n) and
 * copies NAME into out; returns out, or NULL if there is none. */
static const char *meta_charset(const char *p, size_t n, char *out,
				size_t outsz)
{
	static const char key[] = "charset";
	for (size_t i = 0; i + sizeof(key) <= n; i++) {
		if (g_ascii_strncasecmp(p + i, key, sizeof(key) - 1) != 0)
			continue;
		size_t j = i + sizeof(key) - 1, k = 0;
		while (j < n && (p[j] == ' ' || p[j] == '='))
			j++;
		if (j < n && (p[j] == '"' || p[j] == '\''))
			j++;
		while (j < n && k + 1 < outsz &&
		       (g_ascii_isalnum(p[j]) ||
			(p[j] && strchr("-_:.", p[j]))))
			out[k++] = p[j++];
		out[k] = '\0';
		if (k > 0)
			return out;
	}
	return NULL;
}

/* g_mime_stream_read(), but a filter that swallowed a whole block (no
 * output, not at EOS) is read again rather than taken for EOF. Ends:
 * every read consumes source bytes, and at the source's end the filter
 * flushes and reports EOS. */
static ssize_t read_some(GMimeStream *in_s, char *buf, size_t n)
{
	ssize_t r;
	do
		r = g_mime_stream_read(in_s, buf, n);
	while (r == 0 && !g_mime_stream_eos(in_s));
	return r;
}

/* Reads the decoded stream in IN_SZ chunks through a converter for
 * charset cs into the sink until EOF, the text cap, or (HTML) the input
 * cap. HTML without a MIME charset uses its <meta> charset. */
static void pump(GMimeStream *in_s, const char *cs, sink *s, size_t in_cap)
{
	char in[IN_SZ + CARRY_MAX], meta[48];
	conv c;
	size_t keep = 0, total = 0;
	ssize_t n = read_some(in_s, in, IN_SZ);
	if (n > 0 && s->html && !cs)
		cs = meta_charset(in, (size_t)n, meta, sizeof(meta));
	conv_open(&c, cs);
	while (n > 0) {
		size_t avail = keep + (size_t)n;
		keep = avail - conv_run(&c, in, avail, 0, s);
		if (s->full || s->st != MS_OK || keep > CARRY_MAX)
			break; /* (the last never happens: conv_run keeps
				* at most CARRY_MAX unless full) */
		memmove(in, in + avail - keep, keep);
		total += (size_t)n;
		if (total >= in_cap && !g_mime_stream_eos(in_s)) {
			s->full = 1;
			break;
		}
		n = read_some(in_s, in + keep, IN_SZ);
	}
	if (!s->full && s->st == MS_OK && keep <= CARRY_MAX)
		conv_run(&c, in, keep, 1, s);
	conv_close(&c);
}

/* Appends the text of a text/ part (HTML as visible text) to the body. */
static void part_text(walk *w, GMimePart *part, int html)
{
	GMimeStream *in_s = ms_gmime_decoded_stream(part);
	if (!in_s)
		return;
	const char *cs = g_mime_object_get_content_type_parameter(
		GMIME_OBJECT(part), "charset");
	size_t in_cap = w->cap > SIZE_MAX / HTML_IN_FACTOR
				? SIZE_MAX
				: w->cap * HTML_IN_FACTOR;
	sink s;
	ms_status_t st = sink_begin(&s, &w->doc->body, w->cap, html);
	if (st == MS_OK) {
		pump(in_s, cs, &s, html ? in_cap : SIZE_MAX);
		st = sink_end(&s);
		w->doc->truncated += s.full != 0;
	}
	if (st != MS_OK)
		w->st = st;
	g_object_unref(in_s);
}

/* ---- the MIME tree ---- */

/* Grows *v (elements of size sz, n in use) when n is 0 or a power of
 * two, so capacity is implied. Returns 0 or -1 on ENOMEM. */
static int grow(void **v, size_t n, size_t sz)
{
	if (n & (n - 1))
		return 0;
	size_t cap = n ? 2 * n : 1;
	if (cap > SIZE_MAX / sz)
		return -1;
	void *p = realloc(*v, cap * sz);
	if (!p)
		return -1;
	*v = p;
	return 0;
}

/* Appends s repaired to valid UTF-8 to out. MS_OK or MS_ERR_NOMEM. */
static ms_status_t buf_put_clean(ms_buf *out, const char *s)
{
	size_t n = strlen(s), olen;
	if (n > (SIZE_MAX - 8) / 3 || ms_buf_reserve(out, 3 * n + 4) != MS_OK)
		return MS_ERR_NOMEM;
	utf8_fix(s, n, 1, out->data + out->len, out->cap - out->len, &olen);
	out->len += olen;
	out->data[out->len] = '\0';
	return MS_OK;
}

/* Records an attachment: cleaned name (may be NULL), lower-case type.
 * Returns it, or NULL on ENOMEM (w->st set). */
static ms_attachment *att_add(walk *w, const char *name, GMimeContentType *ct)
{
	ms_doc *d = w->doc;
	ms_buf t = MS_BUF_INIT;
	const char *ty = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
	ms_status_t st = buf_put_clean(&t, ty ? ty : "application");
	if (st == MS_OK)
		st = ms_buf_putc(&t, '/');
	if (st == MS_OK)
		st = buf_put_clean(&t, sub ? sub : "octet-stream");
	for (size_t i = 0; i < t.len; i++)
		t.data[i] = g_ascii_tolower(t.data[i]);
	if (st == MS_OK && grow((void **)&d->att, d->n_att, sizeof(*d->att)))
		st = MS_ERR_NOMEM;
	ms_attachment *a = NULL;
	if (st == MS_OK) {
		a = &d->att[d->n_att++];
		memset(a, 0, sizeof *a);
		a->name = str_clean(name, &st);
		a->type = ms_buf_steal(&t);
	}
	ms_buf_free(&t);
	if (st != MS_OK)
		w->st = st;
	return st == MS_OK ? a : NULL;
}

/* ---- attachment text ---- */

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The extraction options for the next attachment, or NULL (size only)
 * when extraction is off or this message's share is spent (then *why_r
 * says so). */
static const ms_extract_opts *ext_for_next(walk *w, const char **why_r)
{
	const ms_extract_opts *o = w->ext;
	*why_r = NULL;
	if (!o || !o->enabled)
		return NULL;
	if (w->n_extracted == 0)
		w->ext_started = mono_now();
	if (w->n_extracted >= MS_MIME_MAX_EXTRACT ||
	    mono_now() - w->ext_started >
		    (double)o->timeout * MS_MIME_EXTRACT_BUDGET) {
		*why_r = "the message's extraction budget is spent";
		return NULL;
	}
	return o;
}

/* Keeps n bytes of text made valid UTF-8 as a's text. */
static void att_keep_text(walk *w, ms_attachment *a, const char *p, size_t n)
{
	ms_buf b = MS_BUF_INIT;
	size_t olen;
	if (n > (SIZE_MAX - 8) / 3 || ms_buf_reserve(&b, 3 * n + 4) != MS_OK) {
		w->st = MS_ERR_NOMEM;
		return;
	}
	utf8_fix(p, n, 1, b.data, b.cap, &olen);
	b.len = olen;
	b.data[olen] = '\0';
	a->text_len = b.len;
	a->text = ms_buf_steal(&b);
}

/* A non-text attachment: its size and, if extracted, its text. */
static void att_extract(walk *w, GMimePart *part, ms_attachment *a)
{
	const char *why;
	const ms_extract_opts *o = ext_for_next(w, &why);
	ms_buf raw = MS_BUF_INIT;
	ms_status_t st = ms_mime_att_content(part, a, o, &raw);
	if (st == MS_OK && a->extracted != MS_EXTRACT_NONE)
		w->n_extracted++;
	if (st == MS_OK && why && a->extracted == MS_EXTRACT_NONE &&
	    !a->reason && !(a->reason = strdup(why)))
		st = MS_ERR_NOMEM;
	if (st == MS_OK && raw.len)
		att_keep_text(w, a, raw.data, raw.len);
	ms_buf_free(&raw);
	if (st != MS_OK)
		w->st = st;
}

/* A text attachment (already in the body from body_at on): its size, and
 * with extraction on a copy of its text as the attachment's text. */
static void att_text(walk *w, GMimePart *part, ms_attachment *a, size_t body_at)
{
	ms_buf none = MS_BUF_INIT;
	ms_status_t st = ms_mime_att_content(part, a, NULL, &none);
	ms_buf_free(&none);
	if (st != MS_OK) {
		w->st = st;
		return;
	}
	const ms_buf *body = &w->doc->body;
	if (!w->ext || !w->ext->enabled || body->len <= body_at)
		return;
	const char *p = body->data + body_at;
	size_t n = body->len - body_at;
	if (n >= 2 && p[0] == '\n' && p[1] == '\n' && body_at) {
		p += 2;
		n -= 2;
	}
	if (n > w->ext->max_text)
		n = w->ext->max_text;
	a->extracted = MS_EXTRACT_YES;
	att_keep_text(w, a, p, n);
}

static int is_attachment_disp(GMimeObject *obj)
{
	const char *disp = g_mime_object_get_disposition(obj);
	return disp && g_ascii_strcasecmp(disp, "attachment") == 0;
}

static void walk_leaf(walk *w, GMimePart *part)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	const char *ty = ct ? g_mime_content_type_get_media_type(ct) : NULL;
	const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
	const char *name = g_mime_part_get_filename(part);
	int is_text = !ty || g_ascii_strcasecmp(ty, "text") == 0;
	ms_attachment *a = NULL;
	size_t body_at = w->doc->body.len;
	w->doc->n_parts++;
	if (name || !is_text || is_attachment_disp(obj))
		a = att_add(w, name, ct);
	if (is_text && w->st == MS_OK)
		part_text(w, part, sub && g_ascii_strcasecmp(sub, "html") == 0);
	if (a && w->st == MS_OK && is_text)
		att_text(w, part, a, body_at);
	else if (a && w->st == MS_OK)
		att_extract(w, part, a);
}

static void walk_obj(walk *w, GMimeObject *obj, unsigned depth);

/* Puts a nested message's subject and From into the body as a block. */
static void nested_headers(walk *w, GMimeMessage *msg)
{
	ms_buf *b = &w->doc->body;
	const char *subj = g_mime_message_get_subject(msg);
	InternetAddressList *from = g_mime_message_get_from(msg);
	char *fs = from ? internet_address_list_to_string(from, NULL, FALSE)
			: NULL;
	if ((subj && *subj) || (fs && *fs)) {
		ms_status_t st = b->len ? ms_buf_puts(b, "\n\n") : MS_OK;
		if (st == MS_OK)
			st = buf_put_clean(b, subj ? subj : "");
		if (st == MS_OK)
			st = ms_buf_putc(b, '\n');
		if (st == MS_OK)
			st = buf_put_clean(b, fs ? fs : "");
		if (st != MS_OK)
			w->st = st;
	}
	g_free(fs);
}

static void walk_message_part(walk *w, GMimeMessagePart *mp, unsigned depth)
{
	GMimeObject *obj = GMIME_OBJECT(mp);
	const char *name = g_mime_object_get_content_disposition_parameter(
		obj, "filename");
	if (name || is_attachment_disp(obj))
		att_add(w, name, g_mime_object_get_content_type(obj));
	GMimeMessage *msg = g_mime_message_part_get_message(mp);
	if (!msg || w->st != MS_OK)
		return;
	nested_headers(w, msg);
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	if (body)
		walk_obj(w, body, depth + 1);
}

/* Visits obj at nesting depth; containers deeper than max_depth and
 * leaves beyond max_parts are skipped. */
static void walk_obj(walk *w, GMimeObject *obj, unsigned depth)
{
	if (w->st != MS_OK || w->doc->n_parts >= w->max_parts)
		return;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int n = depth < w->max_depth ? g_mime_multipart_get_count(mp)
					     : 0;
		for (int i = 0; i < n; i++)
			walk_obj(w, g_mime_multipart_get_part(mp, i),
				 depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		if (depth < w->max_depth)
			walk_message_part(w, GMIME_MESSAGE_PART(obj), depth);
	} else if (GMIME_IS_PART(obj)) {
		walk_leaf(w, GMIME_PART(obj));
	}
}

/* ---- header fields ---- */

/* Appends the mailboxes of list (group members flattened) to l. */
static void addrs_add(walk *w, ms_addrlist *l, InternetAddressList *list,
		      int depth)
{
	int n = list ? internet_address_list_length(list) : 0;
	for (int i = 0; i < n && w->st == MS_OK; i++) {
		InternetAddress *ia =
			internet_address_list_get_address(list, i);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			if (depth < 4)
				addrs_add(w, l,
					  internet_address_group_get_members(
						  INTERNET_ADDRESS_GROUP(ia)),
					  depth + 1);
			continue;
		}
		if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
			continue;
		if (grow((void **)&l->v, l->n, sizeof(*l->v))) {
			w->st = MS_ERR_NOMEM;
			return;
		}
		ms_addr *a = &l->v[l->n++];
		const char *name = internet_address_get_name(ia);
		a->name = name && *name ? str_clean(name, &w->st) : NULL;
		a->addr = str_clean(internet_address_mailbox_get_addr(
					    INTERNET_ADDRESS_MAILBOX(ia)),
				    &w->st);
	}
}

static void doc_headers(walk *w, GMimeMessage *msg)
{
	static const GMimeAddressType types[MS_ADDR_N] = {
		[MS_ADDR_FROM] = GMIME_ADDRESS_TYPE_FROM,
		[MS_ADDR_TO] = GMIME_ADDRESS_TYPE_TO,
		[MS_ADDR_CC] = GMIME_ADDRESS_TYPE_CC,
		[MS_ADDR_BCC] = GMIME_ADDRESS_TYPE_BCC,
	};
	ms_doc *d = w->doc;
	d->subject = str_clean(g_mime_message_get_subject(msg), &w->st);
	d->message_id = str_clean(g_mime_message_get_message_id(msg), &w->st);
	GDateTime *dt = g_mime_message_get_date(msg);
	d->date = dt ? g_date_time_to_unix(dt) : 0;
	for (int i = 0; i < MS_ADDR_N; i++)
		addrs_add(w, &d->addr[i],
			  g_mime_message_get_addresses(msg, types[i]), 0);
}

/* ---- entry points ---- */

static void init_once(void)
{
	static const char *fallback[] = { "utf-8", "windows-1252", NULL };
	g_mime_init();
	parser_opts = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(
		parser_opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(
		parser_opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(
		parser_opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_fallback_charsets(parser_opts, fallback);
}

void ms_mime_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_once);
}

size_t ms_mime_from_line_len(const char *data, size_t len)
{
	if (!data || len < 5 || memcmp(data, "From ", 5) != 0)
		return 0;
	const char *nl = memchr(data, '\n', len);
	return nl ? (size_t)(nl - data) + 1 : len;
}

static ms_status_t fail(ms_status_t st, const char *why, char **err_r)
{
	if (err_r)
		*err_r = strdup(why);
	return st;
}

static int all_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

/* GMime's memory grows with header fields (~0.5 KB each) and parts
 * (~1.5 KB each), not with bytes: 1 MB of tiny parts costs 200 MB. So a
 * pre-scan counts header lines (1) and "--" lines (3: possible
 * boundaries, i.e. parts) and GMime gets the message only up to the line
 * where this budget runs out; the rest is dropped. */
#define STRUCT_BUDGET 150000

/* Returns how many bytes of data[0..len) to hand to GMime. */
static size_t struct_cut(const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	size_t cost = 0;
	int hdr = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		if (n >= 2 && p[0] == '-' && p[1] == '-') {
			cost += 3;
			hdr = 1;
		} else if (hdr && (n == 0 || (n == 1 && p[0] == '\r'))) {
			hdr = 0;
		} else if (hdr && p[0] != ' ' && p[0] != '\t') {
			cost++;
		}
		if (cost > STRUCT_BUDGET)
			return (size_t)(p - data);
		if (!nl)
			break;
		p = nl + 1;
	}
	return len;
}

/* Parses data[0..len) into a GMimeMessage (NULL if GMime finds none).
 * *ba_r wraps data without copying; free it with g_byte_array_free(ba,
 * FALSE) after the message, which never writes to it. */
static GMimeMessage *gmime_parse(const char *data, size_t len,
				 GByteArray **ba_r)
{
	GByteArray *ba = g_byte_array_new_take((guint8 *)data, len);
	GMimeStream *st = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	g_mime_parser_set_persist_stream(p, TRUE);
	g_mime_parser_set_format(p, GMIME_FORMAT_MESSAGE);
	GMimeMessage *msg = g_mime_parser_construct_message(p, parser_opts);
	g_object_unref(p);
	g_object_unref(st);
	*ba_r = ba;
	return msg;
}

/* Fills doc from msg; returns MS_OK or MS_ERR_NOMEM. */
static ms_status_t doc_fill(ms_doc *doc, GMimeMessage *msg,
			    const ms_mime_opts *opts)
{
	walk w = { doc, 1u << 20, 64, 2000, MS_OK, NULL, 0, 0 };
	if (opts && opts->max_text_per_part)
		w.cap = opts->max_text_per_part;
	if (opts && opts->max_depth)
		w.max_depth = opts->max_depth;
	if (opts && opts->max_parts)
		w.max_parts = opts->max_parts;
	if (opts)
		w.ext = opts->extract;
	doc_headers(&w, msg);
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	if (body)
		walk_obj(&w, body, 0);
	return w.st;
}

ms_status_t ms_mime_parse(const char *data, size_t len,
			  const ms_mime_opts *opts, ms_doc **doc_r,
			  char **err_r)
{
	*doc_r = NULL;
	if (err_r)
		*err_r = NULL;
	size_t skip = ms_mime_from_line_len(data, len);
	if (!data || all_blank(data + skip, len - skip))
		return fail(MS_ERR_PARSE, "empty message", err_r);
	if (len - skip > G_MAXUINT)
		return fail(MS_ERR_NOMEM, "message too large", err_r);
	ms_mime_init();
	GByteArray *ba;
	data += skip;
	GMimeMessage *msg =
		gmime_parse(data, struct_cut(data, len - skip), &ba);
	ms_doc *doc = msg ? ms_doc_new() : NULL;
	ms_status_t st = !msg ? MS_ERR_PARSE : !doc ? MS_ERR_NOMEM : MS_OK;
	if (st == MS_OK)
		st = doc_fill(doc, msg, opts);
	if (msg)
		g_object_unref(msg);
	g_byte_array_free(ba, FALSE);
	if (st != MS_OK) {
		ms_doc_free(&doc);
		return fail(st,
			    st == MS_ERR_PARSE
				    ? "not a message: no header found"
				    : "out of memory",
			    err_r);
	}
	*doc_r = doc;
	return MS_OK;
}
