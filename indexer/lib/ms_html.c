/* ms_html.c - HTML to visible text with libxml2's HTML push parser (SAX).
 *
 * Functions: ms_html_begin, ms_html_feed, ms_html_full, ms_html_flush,
 * ms_html_end, ms_html_to_text.
 *
 * No tree is built: SAX callbacks append text nodes to the output buffer,
 * collapsing white space; block elements turn into one "\n"; the content
 * of script, style, head, title and template is dropped; comments are
 * ignored. libxml2 decodes entities. Its error reports go to a no-op
 * structured-error handler, so nothing is ever printed.
 *
 * Chunking invariance: input is handed to libxml2 in fixed BLK-byte
 * blocks counted from the start of the document (staged in pend[] when
 * the caller's chunks do not line up), so libxml2 sees the same chunk
 * sequence however the caller splits the input, and the output is
 * byte-identical.
 */
#include "ms_html.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BLK 4096

enum { WS_NONE, WS_SPACE, WS_LINE };

struct ms_html {
	htmlParserCtxtPtr ctxt;
	ms_buf *out;	 /* borrowed */
	size_t start;	 /* out->len when we began */
	size_t cap;	 /* max text bytes, 0 = unlimited */
	unsigned skip;	 /* depth inside dropped elements */
	int ws;		 /* white space pending before the next word */
	int full;	 /* cap reached: ignore the rest */
	int flushed;	 /* end of input given to libxml2 */
	ms_status_t err; /* first output error */
	size_t npend;	 /* bytes staged in pend */
	char pend[BLK];
};

/* Elements whose start and end are line breaks (sorted for bsearch). */
static const char *const block_tags[] = {
	"address", "article",  "aside",	     "blockquote", "body",   "br",
	"caption", "center",   "dd",	     "dir",	   "div",    "dl",
	"dt",	   "fieldset", "figcaption", "figure",	   "footer", "form",
	"frame",   "h1",       "h2",	     "h3",	   "h4",     "h5",
	"h6",	   "header",   "hr",	     "html",	   "iframe", "legend",
	"li",	   "main",     "menu",	     "nav",	   "ol",     "option",
	"p",	   "pre",      "section",    "table",	   "tbody",  "td",
	"tfoot",   "th",       "thead",	     "tr",	   "ul",
};

/* Elements whose content is not visible text (sorted for bsearch). */
static const char *const skip_tags[] = {
	"head", "noembed", "script", "style", "template", "title",
};

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static int in_set(const char *const *set, size_t n, const xmlChar *name)
{
	return name && bsearch(name, set, n, sizeof(*set), cmp_name) != NULL;
}

#define IS_BLOCK(n) in_set(block_tags, sizeof(block_tags) / sizeof(char *), n)
#define IS_SKIP(n)  in_set(skip_tags, sizeof(skip_tags) / sizeof(char *), n)

/* Appends n bytes of one word run, honouring the cap (cut at a UTF-8
 * character boundary). */
static void emit(ms_html *h, const char *p, size_t n)
{
	size_t used = h->out->len - h->start;
	if (h->cap && used + n > h->cap) {
		n = h->cap > used ? h->cap - used : 0;
		while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
			n--;
		h->full = 1;
	}
	if (n && ms_buf_append(h->out, p, n) != MS_OK && h->err == MS_OK)
		h->err = MS_ERR_NOMEM;
}

/* Emits the pending separator before a word (none at the very start). */
static void emit_sep(ms_html *h)
{
	if (h->ws != WS_NONE && h->out->len > h->start)
		emit(h, h->ws == WS_LINE ? "\n" : " ", 1);
	h->ws = WS_NONE;
}

/* Length of the white space at p (ASCII space or U+00A0), 0 if none. */
static size_t ws_len(const unsigned char *p, const unsigned char *end)
{
	if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
	    *p == '\v' || *p == 0)
		return 1;
	if (*p == 0xC2 && p + 1 < end && p[1] == 0xA0)
		return 2;
	return 0;
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
	ms_html *h = ctx;
	const unsigned char *p = ch, *end = ch + (len > 0 ? len : 0);
	if (h->skip || h->full)
		return;
	while (p < end && !h->full) {
		size_t w = ws_len(p, end);
		if (w) {
			if (h->ws == WS_NONE)
				h->ws = WS_SPACE;
			p += w;
			continue;
		}
		const unsigned char *s = p;
		while (p < end && !ws_len(p, end))
			p++;
		emit_sep(h);
		emit(h, (const char *)s, (size_t)(p - s));
	}
}

static void on_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
	ms_html *h = ctx;
	(void)atts;
	if (IS_SKIP(name))
		h->skip++;
	else if (IS_BLOCK(name))
		h->ws = WS_LINE;
}

static void on_end(void *ctx, const xmlChar *name)
{
	ms_html *h = ctx;
	if (IS_SKIP(name)) {
		if (h->skip)
			h->skip--;
	} else if (IS_BLOCK(name)) {
		h->ws = WS_LINE;
	}
}

static void on_error(void *ctx, xmlErrorPtr err)
{
	(void)ctx;
	(void)err;
}

static void html_global_init(void)
{
	xmlInitParser();
}

ms_html *ms_html_begin(ms_buf *out, size_t cap)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, html_global_init);
	ms_html *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->out = out;
	h->start = out->len;
	h->cap = cap;
	htmlSAXHandler sax;
	memset(&sax, 0, sizeof(sax));
	sax.startElement = on_start;
	sax.endElement = on_end;
	sax.characters = on_text;
	sax.ignorableWhitespace = on_text;
	sax.cdataBlock = on_text;
	sax.serror = on_error;
	sax.initialized = XML_SAX2_MAGIC;
	h->ctxt = htmlCreatePushParserCtxt(&sax, h, NULL, 0, NULL,
					   XML_CHAR_ENCODING_UTF8);
	if (!h->ctxt) {
		free(h);
		return NULL;
	}
	htmlCtxtUseOptions(h->ctxt,
			   HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
				   HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
				   HTML_PARSE_IGNORE_ENC | XML_PARSE_HUGE);
	return h;
}

/* Hands one block (or the final remainder) to libxml2. */
static void parse_block(ms_html *h, const char *p, size_t n, int terminate)
{
	if (!h->full || terminate)
		htmlParseChunk(h->ctxt, p, (int)n, terminate);
}

ms_status_t ms_html_feed(ms_html *h, const char *p, size_t n)
{
	while (n > 0 && !h->full && !h->flushed && h->err == MS_OK) {
		if (h->npend == 0 && n >= BLK) {
			parse_block(h, p, BLK, 0);
			p += BLK;
			n -= BLK;
			continue;
		}
		size_t take = BLK - h->npend < n ? BLK - h->npend : n;
		memcpy(h->pend + h->npend, p, take);
		h->npend += take;
		p += take;
		n -= take;
		if (h->npend == BLK) {
			parse_block(h, h->pend, BLK, 0);
			h->npend = 0;
		}
	}
	return h->err;
}

int ms_html_full(const ms_html *h)
{
	return h->full;
}

ms_status_t ms_html_flush(ms_html *h)
{
	if (!h->flushed)
		parse_block(h, h->pend, h->npend, 1);
	h->flushed = 1;
	return h->err;
}

ms_status_t ms_html_end(ms_html **hp)
{
	if (!hp || !*hp)
		return MS_OK;
	ms_html *h = *hp;
	ms_status_t st = ms_html_flush(h);
	if (h->ctxt->myDoc)
		xmlFreeDoc(h->ctxt->myDoc);
	htmlFreeParserCtxt(h->ctxt);
	free(h);
	*hp = NULL;
	return st;
}

ms_status_t ms_html_to_text(const char *html, size_t n, size_t cap, ms_buf *out)
{
	ms_html *h = ms_html_begin(out, cap);
	if (!h)
		return MS_ERR_NOMEM;
	ms_status_t st = ms_html_feed(h, html, n);
	ms_status_t st2 = ms_html_end(&h);
	return st != MS_OK ? st : st2;
}
