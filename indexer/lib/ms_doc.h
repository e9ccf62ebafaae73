/* ms_doc.h - a parsed message: the fields and text the archive indexes.
 *
 * Produced by ms_mime_parse(); every string is valid UTF-8 (invalid input
 * bytes were replaced) and NUL-terminated. Ownership: the ms_doc owns all
 * of its members; ms_doc_free() releases everything and NULLs the pointer.
 */
#ifndef MS_DOC_H
#define MS_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"

/* One mailbox from an address header. Either member may be NULL. */
typedef struct ms_addr {
	char *name; /* decoded display name (RFC 2047), UTF-8 */
	char *addr; /* addr-spec as written, e.g. "alice@example.org" */
} ms_addr;

typedef struct ms_addrlist {
	ms_addr *v;
	size_t n;
} ms_addrlist;

/* Address headers, indexes into ms_doc.addr[]. */
enum { MS_ADDR_FROM, MS_ADDR_TO, MS_ADDR_CC, MS_ADDR_BCC, MS_ADDR_N };

/* One attachment (a non-text part, or any part with a file name). */
typedef struct ms_attachment {
	char *name;    /* decoded file name (RFC 2047 / RFC 2231), or NULL */
	char *type;    /* lower-case MIME type, e.g. "application/pdf" */
	uint64_t size; /* decoded bytes */
	int extracted; /* an ms_extract_state (ms_extract.h) */
	char *reason;  /* why FAILED or ENCRYPTED (or why not tried), or NULL */
	char *text;    /* extracted text (valid UTF-8), or NULL */
	size_t text_len;
} ms_attachment;

typedef struct ms_doc {
	char *message_id;	     /* Message-ID without <>, or NULL */
	char *subject;		     /* decoded Subject, or NULL */
	ms_addrlist addr[MS_ADDR_N]; /* From, To, Cc, Bcc */
	int64_t date; /* Date: as seconds since the epoch; 0 if none */
	ms_buf body;  /* visible text of all text parts, UTF-8;
		       * parts separated by "\n\n" */
	ms_attachment *att;
	size_t n_att;
	unsigned n_parts;   /* MIME leaf parts seen */
	unsigned truncated; /* number of text parts cut at the per-part cap */
} ms_doc;

/* Allocates an empty document, or NULL on ENOMEM. Free with ms_doc_free. */
ms_doc *ms_doc_new(void);
/* Frees *doc and everything it owns; sets *doc to NULL. NULL-safe. */
void ms_doc_free(ms_doc **doc);
/* Appends "Name <addr>, ..." for list l to out. MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_addrlist_format(const ms_addrlist *l, ms_buf *out);

#endif
