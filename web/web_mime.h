/* web_mime.h - a stored message as the message page shows it: its header
 * fields and its leaf parts, through GMime (the library's MIME code:
 * ms_mime_init, ms_gmime_decoded_stream, ms_html_to_text).
 *
 * Functions: web_mime_open, web_mime_close, web_mime_headers,
 * web_mime_parts, web_mime_part_info, web_mime_part_text,
 * web_mime_part_bytes.
 */
#ifndef WEB_MIME_H
#define WEB_MIME_H

#include <stddef.h>

#include "ms_buf.h"

typedef struct web_mime web_mime;

#define WEB_MIME_MAX_PARTS 500

/* Parses raw[0..len) (copied). NULL when it is not a message / ENOMEM.
 * Free with web_mime_close(). */
web_mime *web_mime_open(const char *raw, size_t len);
void web_mime_close(web_mime **m);
/* Calls fn for each top-level header field, value decoded (RFC 2047) to
 * UTF-8. */
void web_mime_headers(web_mime *m,
		      void (*fn)(const char *name, const char *value,
				 void *ctx),
		      void *ctx);
/* Number of leaf parts (at most WEB_MIME_MAX_PARTS), numbered 1..n. */
size_t web_mime_parts(const web_mime *m);

typedef struct web_part_info {
	char type[128]; /* lower-case MIME type */
	char name[256]; /* decoded file name, "" if none */
	int is_text;	/* text/plain or text/html, not an attachment */
	int is_html;	/* text/html */
	int attachment; /* shown in the attachment list */
} web_part_info;

/* Describes part n (1-based). 0, or -1 if there is no such part. */
int web_mime_part_info(const web_mime *m, size_t n, web_part_info *pi);
/* Appends part n's text in UTF-8: HTML as visible text unless raw_html
 * (then the HTML source, converted to UTF-8). 0 or -1. */
int web_mime_part_text(const web_mime *m, size_t n, int raw_html, ms_buf *out);
/* Appends part n's decoded content (transfer encoding undone). 0 or -1. */
int web_mime_part_bytes(const web_mime *m, size_t n, ms_buf *out);

#endif
