/* web_mime.c - a stored message's headers and parts (web_mime.h).
 *
 * Functions: web_mime_open, web_mime_close, web_mime_headers,
 * web_mime_parts, web_mime_part_info, web_mime_part_text,
 * web_mime_part_bytes; file-local collect (depth-first leaf parts,
 * descending into multiparts and attached messages, bounded in depth
 * and count).
 */
#include "web_mime.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_gmime.h"
#include "ms_html.h"
#include "ms_mime.h"

#define MAX_DEPTH 32
#define TEXT_CAP  (4u << 20)

struct web_mime {
	GMimeMessage *msg;
	GMimePart *parts[WEB_MIME_MAX_PARTS];
	size_t n;
};

static void collect(web_mime *m, GMimeObject *o, unsigned depth)
{
	if (!o || depth > MAX_DEPTH || m->n >= WEB_MIME_MAX_PARTS)
		return;
	if (GMIME_IS_MULTIPART(o)) {
		int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (int i = 0; i < n; i++)
			collect(m,
				g_mime_multipart_get_part(GMIME_MULTIPART(o),
							  i),
				depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *sub =
			g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (sub)
			collect(m, g_mime_message_get_mime_part(sub),
				depth + 1);
	} else if (GMIME_IS_PART(o)) {
		m->parts[m->n++] = GMIME_PART(o);
	}
}

web_mime *web_mime_open(const char *raw, size_t len)
{
	ms_mime_init();
	size_t skip = ms_mime_from_line_len(raw, len);
	web_mime *m = calloc(1, sizeof *m);
	GMimeStream *st =
		g_mime_stream_mem_new_with_byte_array(g_byte_array_new());
	if (!m || !st) {
		free(m);
		return NULL;
	}
	g_mime_stream_write(st, raw + skip, len - skip);
	g_mime_stream_reset(st);
	GMimeParser *p = g_mime_parser_new_with_stream(st);
	m->msg = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(st);
	if (!m->msg) {
		free(m);
		return NULL;
	}
	collect(m, g_mime_message_get_mime_part(m->msg), 0);
	return m;
}

void web_mime_close(web_mime **m)
{
	if (!m || !*m)
		return;
	g_object_unref((*m)->msg);
	free(*m);
	*m = NULL;
}

void web_mime_headers(web_mime *m,
		      void (*fn)(const char *name, const char *value,
				 void *ctx),
		      void *ctx)
{
	GMimeHeaderList *hl =
		g_mime_object_get_header_list(GMIME_OBJECT(m->msg));
	int n = hl ? g_mime_header_list_get_count(hl) : 0;
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *raw = g_mime_header_get_value(h);
		char *dec =
			g_mime_utils_header_decode_text(NULL, raw ? raw : "");
		fn(g_mime_header_get_name(h), dec ? dec : "", ctx);
		g_free(dec);
	}
}

size_t web_mime_parts(const web_mime *m)
{
	return m->n;
}

static GMimePart *part_at(const web_mime *m, size_t n)
{
	return n >= 1 && n <= m->n ? m->parts[n - 1] : NULL;
}

int web_mime_part_info(const web_mime *m, size_t n, web_part_info *pi)
{
	GMimePart *p = part_at(m, n);
	memset(pi, 0, sizeof *pi);
	if (!p)
		return -1;
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(p));
	char *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	snprintf(pi->type, sizeof pi->type, "%s",
		 type ? type : "application/octet-stream");
	g_free(type);
	for (char *s = pi->type; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	const char *fn = g_mime_part_get_filename(p);
	snprintf(pi->name, sizeof pi->name, "%s", fn ? fn : "");
	const char *disp = g_mime_object_get_disposition(GMIME_OBJECT(p));
	int att = (disp && g_ascii_strcasecmp(disp, "attachment") == 0) ||
		  *pi->name;
	pi->is_html = strcmp(pi->type, "text/html") == 0;
	pi->is_text = !att && GMIME_IS_TEXT_PART(p) &&
		      (pi->is_html || strcmp(pi->type, "text/plain") == 0);
	pi->attachment = !pi->is_text;
	return 0;
}

int web_mime_part_text(const web_mime *m, size_t n, int raw_html, ms_buf *out)
{
	GMimePart *p = part_at(m, n);
	if (!p || !GMIME_IS_TEXT_PART(p))
		return -1;
	char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(p));
	if (!text)
		return 0;
	web_part_info pi;
	web_mime_part_info(m, n, &pi);
	size_t len = strlen(text);
	ms_status_t st =
		pi.is_html && !raw_html
			? ms_html_to_text(text, len, TEXT_CAP, out)
			: ms_buf_append(out, text,
					len < TEXT_CAP ? len : TEXT_CAP);
	g_free(text);
	return st ? -1 : 0;
}

int web_mime_part_bytes(const web_mime *m, size_t n, ms_buf *out)
{
	GMimePart *p = part_at(m, n);
	GMimeStream *s = p ? ms_gmime_decoded_stream(p) : NULL;
	char chunk[8192];
	ssize_t k;
	int rc = s ? 0 : -1;
	while (s && (k = g_mime_stream_read(s, chunk, sizeof chunk)) > 0)
		if (ms_buf_append(out, chunk, (size_t)k))
			rc = -1;
	if (s)
		g_object_unref(s);
	return rc;
}
