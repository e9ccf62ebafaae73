/* ms_xmltext.c - the text walker over libxml2's xmlTextReader (see
 * ms_xmltext.h).
 *
 * Functions: ms_xmltext_walk, ms_xmltext_walk_mem. File-local: the rules
 * per mode (on_element, on_end), the output with its cap (emit), the
 * reader loop (walk) and the error sink (on_error).
 */
#include "ms_xmltext.h"

#include <libxml/xmlreader.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define READER_FLAGS                                                           \
	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |           \
	 XML_PARSE_COMPACT)

typedef struct walker {
	ms_xmltext_mode mode;
	ms_buf *out;
	size_t start, max_out;
	int take;   /* the current element's text is text */
	int skip_v; /* XLSX: inside a cell whose v is a string index */
	int cut;
	ms_status_t st;
	char *err; /* first libxml2 error, malloc'ed */
} walker;

static int is(const xmlChar *name, const char *s)
{
	return strcmp((const char *)name, s) == 0;
}

/* Appends n bytes of s, stopping at the cap (at a character boundary). */
static void emit(walker *w, const char *s, size_t n)
{
	if (w->cut || w->st != MS_OK)
		return;
	size_t used = w->out->len - w->start;
	if (w->max_out && used + n > w->max_out) {
		n = w->max_out - used;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		w->cut = 1;
	}
	if (n && ms_buf_append(w->out, s, n) != MS_OK)
		w->st = MS_ERR_NOMEM;
}

/* Elements that stand for a space. */
static int is_space_elem(ms_xmltext_mode m, const xmlChar *ln)
{
	if (m == MS_XMLTEXT_ODF)
		return is(ln, "s") || is(ln, "tab") || is(ln, "line-break");
	return is(ln, "tab") || is(ln, "br") || is(ln, "cr");
}

/* Whether text directly inside element ln is document text. */
static int takes_text(walker *w, const xmlChar *ln)
{
	switch (w->mode) {
	case MS_XMLTEXT_ODF:
		return 1;
	case MS_XMLTEXT_DOCX:
		return is(ln, "t") || is(ln, "delText");
	case MS_XMLTEXT_XLSX:
		return is(ln, "t") || (is(ln, "v") && !w->skip_v);
	case MS_XMLTEXT_PPTX:
		return is(ln, "t");
	}
	return 0;
}

static void on_element(walker *w, xmlTextReaderPtr r)
{
	const xmlChar *ln = xmlTextReaderConstLocalName(r);
	if (!ln)
		return;
	if (w->mode == MS_XMLTEXT_XLSX && is(ln, "c")) {
		xmlChar *t = xmlTextReaderGetAttribute(r, BAD_CAST "t");
		w->skip_v = t && is(t, "s");
		xmlFree(t);
	}
	if (is_space_elem(w->mode, ln))
		emit(w, " ", 1);
	w->take = !xmlTextReaderIsEmptyElement(r) && takes_text(w, ln);
}

/* The end of a block adds a newline, of a cell a space. */
static void on_end(walker *w, const xmlChar *ln)
{
	w->take = w->mode == MS_XMLTEXT_ODF;
	if (!ln)
		return;
	if (is(ln, "p") || is(ln, "h") || is(ln, "row") || is(ln, "tr") ||
	    is(ln, "si") || is(ln, "table-row"))
		emit(w, "\n", 1);
	else if (is(ln, "c") || is(ln, "tc") || is(ln, "table-cell"))
		emit(w, " ", 1);
}

static void on_error(void *ctx, xmlErrorPtr e)
{
	walker *w = ctx;
	if (w->err || !e || !e->message)
		return;
	w->err = strdup(e->message);
	char *nl = w->err ? strchr(w->err, '\n') : NULL;
	if (nl)
		*nl = '\0';
}

/* Runs the reader to its end, the cap or an error. */
static int walk(walker *w, xmlTextReaderPtr r)
{
	int ret = 0;
	while (!w->cut && w->st == MS_OK && (ret = xmlTextReaderRead(r)) == 1) {
		switch (xmlTextReaderNodeType(r)) {
		case XML_READER_TYPE_ELEMENT:
			on_element(w, r);
			if (xmlTextReaderIsEmptyElement(r))
				on_end(w, xmlTextReaderConstLocalName(r));
			break;
		case XML_READER_TYPE_END_ELEMENT:
			on_end(w, xmlTextReaderConstLocalName(r));
			break;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
			if (w->take) {
				const xmlChar *v = xmlTextReaderConstValue(r);
				if (v)
					emit(w, (const char *)v,
					     strlen((const char *)v));
			}
			break;
		default:
			break;
		}
	}
	return w->cut || w->st != MS_OK ? 0 : ret;
}

static ms_status_t finish(walker *w, xmlTextReaderPtr r, int ret, int io_err,
			  int *cut_r, char **err_r)
{
	ms_status_t st = w->st;
	if (!r)
		st = MS_ERR_NOMEM;
	else if (st == MS_OK && ret < 0)
		st = io_err ? MS_ERR_IO : MS_ERR_PARSE;
	if (r)
		xmlFreeTextReader(r);
	if (cut_r)
		*cut_r = w->cut;
	if (err_r)
		*err_r = st == MS_OK	      ? NULL
			 : st == MS_ERR_NOMEM ? strdup("out of memory")
			 : st == MS_ERR_IO    ? strdup("read error")
			 : w->err	      ? strdup(w->err)
					      : strdup("malformed XML");
	free(w->err);
	return st;
}

/* The read callback's wrapper: remembers that the reader itself failed. */
typedef struct io_ctx {
	ms_xmltext_read_fn rd;
	void *ctx;
	int failed;
} io_ctx;

static int io_read(void *ctx, char *buf, int len)
{
	io_ctx *io = ctx;
	int n = io->rd(io->ctx, buf, len);
	if (n < 0)
		io->failed = 1;
	return n;
}

static int io_close(void *ctx)
{
	(void)ctx;
	return 0;
}

static void walker_init(walker *w, ms_xmltext_mode mode, ms_buf *out,
			size_t max_out)
{
	memset(w, 0, sizeof *w);
	w->mode = mode;
	w->out = out;
	w->start = out->len;
	w->max_out = max_out;
	w->take = mode == MS_XMLTEXT_ODF;
}

ms_status_t ms_xmltext_walk(ms_xmltext_read_fn rd, void *ctx,
			    ms_xmltext_mode mode, ms_buf *out, size_t max_out,
			    int *cut_r, char **err_r)
{
	walker w;
	io_ctx io = { rd, ctx, 0 };
	walker_init(&w, mode, out, max_out);
	xmlTextReaderPtr r = xmlReaderForIO(io_read, io_close, &io, NULL, NULL,
					    READER_FLAGS);
	int ret = 0;
	if (r) {
		xmlTextReaderSetStructuredErrorHandler(r, on_error, &w);
		ret = walk(&w, r);
	}
	return finish(&w, r, ret, io.failed, cut_r, err_r);
}

ms_status_t ms_xmltext_walk_mem(const char *xml, size_t len,
				ms_xmltext_mode mode, ms_buf *out,
				size_t max_out, int *cut_r, char **err_r)
{
	walker w;
	walker_init(&w, mode, out, max_out);
	xmlTextReaderPtr r =
		xmlReaderForMemory(xml, len > INT_MAX ? INT_MAX : (int)len,
				   NULL, NULL, READER_FLAGS);
	int ret = 0;
	if (r) {
		xmlTextReaderSetStructuredErrorHandler(r, on_error, &w);
		ret = walk(&w, r);
	}
	return finish(&w, r, ret, 0, cut_r, err_r);
}
