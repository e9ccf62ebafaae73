/* ms_html.h - HTML to visible text with libxml2's HTML parser (push/SAX).
 *
 * Text nodes are kept, entities decoded, <script>, <style>, <head> content
 * and comments dropped; block elements (p, br, div, li, tr, h1-h6 ...)
 * become line breaks, so words on either side never merge. Input is UTF-8
 * (callers convert first). Incremental: feed any chunking, same result.
 */
#ifndef MS_HTML_H
#define MS_HTML_H

#include <stddef.h>

#include "ms_buf.h"

typedef struct ms_html ms_html;

/* Starts a conversion appending to out (borrowed; must outlive the
 * converter), keeping at most cap bytes of text (0 = unlimited).
 * Returns NULL on ENOMEM. Free with ms_html_end(). */
ms_html *ms_html_begin(ms_buf *out, size_t cap);
/* Feeds n bytes of HTML. MS_OK, or MS_ERR_NOMEM. Never fails on bad HTML. */
ms_status_t ms_html_feed(ms_html *h, const char *p, size_t n);
/* Nonzero once cap bytes of text were kept: further input is ignored, so
 * callers may stop decoding. */
int ms_html_full(const ms_html *h);
/* Ends the input: libxml2 processes what it still holds, after which
 * ms_html_full() is final. Only ms_html_end() may follow. MS_OK or
 * MS_ERR_NOMEM. */
ms_status_t ms_html_flush(ms_html *h);
/* Flushes (unless done), frees *h, NULLs it. MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_html_end(ms_html **h);
/* Whole-buffer convenience: begin, feed, end. */
ms_status_t ms_html_to_text(const char *html, size_t n, size_t cap,
			    ms_buf *out);

#endif
