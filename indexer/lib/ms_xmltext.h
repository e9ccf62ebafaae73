/* ms_xmltext.h - the text walker: the words of one XML part of an Office
 * Open XML (docx, xlsx, pptx) or OpenDocument (odt, ods, odp) file.
 *
 * Reads the XML with libxml2's streaming xmlTextReader (memory does not
 * grow with the part's size), never loads a DTD, never expands entities
 * beyond XML's five, never touches the network. What counts as text:
 *   ODF   - every text node (content.xml keeps its text in text nodes;
 *           styles are attributes); text:s, text:tab, text:line-break
 *           become spaces
 *   DOCX  - w:t and w:delText (deleted tracked changes are evidence too),
 *           not field codes (w:instrText); w:tab, w:br, w:cr are spaces
 *   XLSX  - t (shared and inline strings) and v (values), except the v of
 *           a cell with t="s" (an index into the shared strings)
 *   PPTX  - a:t; a:br is a space
 * The end of a paragraph, heading, row or shared string adds a newline,
 * the end of a cell a space. Output is the UTF-8 libxml2 produces.
 * Thread-safe; the library never prints (errors go to err_r).
 */
#ifndef MS_XMLTEXT_H
#define MS_XMLTEXT_H

#include <stddef.h>

#include "ms_buf.h"
#include "ms_status.h"

typedef enum ms_xmltext_mode {
	MS_XMLTEXT_ODF,
	MS_XMLTEXT_DOCX,
	MS_XMLTEXT_XLSX,
	MS_XMLTEXT_PPTX
} ms_xmltext_mode;

/* Reads up to len bytes into buf: returns the count, 0 at the end, -1 on
 * an error (the walk then stops with MS_ERR_IO; the reader keeps its own
 * reason). libxml2's xmlInputReadCallback shape. */
typedef int (*ms_xmltext_read_fn)(void *ctx, char *buf, int len);

/* Walks the XML read through rd(ctx) in mode and appends its text to out,
 * at most max_out bytes (0 = no cap; a cut is at a character boundary
 * and sets *cut_r if cut_r is non-NULL). Returns MS_OK, MS_ERR_PARSE
 * (malformed XML; the text before the damage stays in out), MS_ERR_IO (rd
 * failed) or MS_ERR_NOMEM; on error *err_r (if err_r) is a one-line
 * reason the caller frees with free(). */
ms_status_t ms_xmltext_walk(ms_xmltext_read_fn rd, void *ctx,
			    ms_xmltext_mode mode, ms_buf *out, size_t max_out,
			    int *cut_r, char **err_r);

/* The same over xml[0..len) in memory. */
ms_status_t ms_xmltext_walk_mem(const char *xml, size_t len,
				ms_xmltext_mode mode, ms_buf *out,
				size_t max_out, int *cut_r, char **err_r);

#endif
