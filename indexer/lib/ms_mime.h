/* ms_mime.h - MIME -> ms_doc extraction with GMime 3.
 *
 * Decodes every text part (base64, quoted-printable, uuencode), converts
 * every charset to UTF-8 (unknown or lying charsets degrade to a fallback,
 * never dropping the message), decodes RFC 2047 words and RFC 2231
 * parameters, turns HTML into visible text (ms_html), descends into
 * message/rfc822 parts, records attachment names and types, accepts a
 * leading mbox "From " line, and caps the text kept per part. With
 * extraction on, each attachment's text comes from the sandboxed
 * extractor (ms_extract.h; at most MS_MIME_MAX_EXTRACT attachments per
 * message, and no new one once MS_MIME_EXTRACT_BUDGET timeouts' worth of
 * time went into the message's extraction).
 * Thread-safe after ms_mime_init().
 */
#ifndef MS_MIME_H
#define MS_MIME_H

#include <stddef.h>

#include "ms_doc.h"
#include "ms_status.h"

#define MS_MIME_MAX_EXTRACT    100
#define MS_MIME_EXTRACT_BUDGET 4

typedef struct ms_mime_opts {
	size_t max_text_per_part; /* bytes of UTF-8 text kept per part; 0 = 1
				     MiB */
	unsigned max_depth; /* multipart/rfc822 nesting followed; 0 = 64 */
	unsigned max_parts; /* leaf parts examined; 0 = 2000 */
	/* Attachment text extraction (NULL or not enabled: none; attachment
	 * sizes are counted either way). Borrowed for the parse. */
	const struct ms_extract_opts *extract;
} ms_mime_opts;

/* Initialises GMime once per process (idempotent, thread-safe). */
void ms_mime_init(void);

/* Returns the length of a leading mbox "From " line (including its line
 * end) at data, or 0 if data does not start with one. */
size_t ms_mime_from_line_len(const char *data, size_t len);

/* Parses the message in data[0..len) (need not be NUL-terminated; a
 * leading mbox "From " line is skipped). data must stay valid during the
 * call and is not copied as a whole more than once. opts may be NULL.
 * On MS_OK, *doc_r is a new document the caller frees with ms_doc_free().
 * Damaged mail still yields MS_OK with whatever could be extracted.
 * Returns MS_ERR_PARSE (not a message at all: empty or no header), or
 * MS_ERR_NOMEM; on error *doc_r is NULL and, if err_r is non-NULL,
 * *err_r is a one-line reason the caller frees with free(). */
ms_status_t ms_mime_parse(const char *data, size_t len,
			  const ms_mime_opts *opts, ms_doc **doc_r,
			  char **err_r);

#endif
