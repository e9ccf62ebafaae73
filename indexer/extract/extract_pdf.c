/* extract_pdf.c - the text of a PDF with poppler-glib (see extract.h).
 *
 * Functions: ex_pdf. Pages in order, each page's text as poppler lays it
 * out, a newline between pages, until the text cap. A password-protected
 * file is EX_ENC; a file poppler cannot open, one without pages, or one
 * whose pages hold no text at all (scanned images) is EX_FAIL with the
 * reason.
 */
#include "extract.h"

#include <glib.h>
#include <poppler.h>

static int open_fail(ex_ctx *c, GError *e)
{
	int enc =
		e && g_error_matches(e, POPPLER_ERROR, POPPLER_ERROR_ENCRYPTED);
	int code = enc ? ex_reason(c, EX_ENC, "encrypted PDF")
		       : ex_reason(c, EX_FAIL, "not a readable PDF: %s",
				   e && e->message ? e->message : "damaged");
	if (e)
		g_error_free(e);
	return code;
}

int ex_pdf(ex_ctx *c, const char *data, size_t n)
{
	GError *e = NULL;
	GBytes *b = g_bytes_new_static(data, n);
	PopplerDocument *d = poppler_document_new_from_bytes(b, NULL, &e);
	g_bytes_unref(b);
	if (!d)
		return open_fail(c, e);
	int pages = poppler_document_get_n_pages(d);
	size_t start = c->out.len;
	for (int i = 0; i < pages && !ex_full(c); i++) {
		PopplerPage *p = poppler_document_get_page(d, i);
		char *t = p ? poppler_page_get_text(p) : NULL;
		if (t && *t) {
			ex_put(c, t, strlen(t));
			ex_put(c, "\n", 1);
		}
		g_free(t);
		if (p)
			g_object_unref(p);
	}
	g_object_unref(d);
	if (pages <= 0)
		return ex_reason(c, EX_FAIL, "PDF without pages");
	if (c->out.len == start)
		return ex_reason(c, EX_FAIL,
				 "no text in the PDF (images only)");
	return EX_OK;
}
