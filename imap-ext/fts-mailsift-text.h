/* fts-mailsift-text.h - a message's searchable text, stored with its
 * document, so that a candidate of a BODY or TEXT key is checked against
 * the key without Dovecot reading the message again.
 * Plain C (liblz4), no Dovecot and no Xapian here (unit-testable).
 *
 * Native SEARCH TEXT and BODY run one string search per MIME part over the
 * part's decoded text in Dovecot's normalisation (dtc, see
 * fts-mailsift-terms.h), reset whenever the part changes: TEXT over the
 * part's headers, each as name, middle (": "), value and CRLF, followed by
 * the body; BODY over the body only. The text keeps exactly that, one
 * SEGMENT per stretch of one part: u32 header bytes, u32 body bytes (both
 * little-endian), the header text, the body text; stored as u32 bytes
 * of all that, then all of it as one LZ4 block (HC: decompression at
 * about 3 GB/s is what a check of many candidates costs). A key then matches a
 * segment when it is a substring of its header+body (TEXT) or of its body
 * (BODY). A message with more than MSF_TEXT_MAX bytes of such text keeps none
 * (memory stays bounded); its candidates stay "maybe" for Dovecot.
 */
#ifndef FTS_MAILSIFT_TEXT_H
#define FTS_MAILSIFT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "ms_buf.h"

#define MSF_TEXT_MAX   (8 * 1024 * 1024) /* bytes of text kept at most */
#define MSF_TEXT_LEVEL 4		 /* LZ4 HC level */

/* A message's text being built. Owns its buffers (msf_text_free). */
struct msf_text {
	ms_buf seg;	   /* finished segments, then the open one */
	size_t open;	   /* offset of the open segment's lengths */
	size_t hlen, blen; /* bytes of the open segment */
	bool has_open;
	bool over; /* over MSF_TEXT_MAX (or out of memory): nothing kept */
};

/* The LZ4 HC state and a buffer for unpacking, reused between messages:
 * one per indexing run or lookup. */
struct msf_text_codec;
/* NULL if out of memory. */
struct msf_text_codec *msf_text_codec_new(void);
/* NULL-safe; NULLs *z. */
void msf_text_codec_free(struct msf_text_codec **z);

void msf_text_init(struct msf_text *t);
void msf_text_free(struct msf_text *t);
/* Starts the segment of a new stretch of a part (ending the open one). */
void msf_text_part(struct msf_text *t);
/* Appends s[0..n) (dtc form) to the open segment's headers (body false)
 * or body. Header text after body text of one segment is a caller error
 * (it starts a new segment instead). */
void msf_text_add(struct msf_text *t, bool body, const char *s, size_t n);
/* The finished text, packed, into packed (replacing its
 * content). 1 packed, 0 nothing kept (over the limit), -1 out of memory
 * or compression failed. */
int msf_text_pack(struct msf_text *t, struct msf_text_codec *z, ms_buf *packed);

/* Whether key[0..klen) (dtc, not empty) occurs in the stored text
 * packed[0..len): in a segment's body (body_only) or header+body. 1
 * found, 0 not, -1 the stored text is damaged (or out of memory): the
 * caller treats the message as unchecked. */
int msf_text_find(struct msf_text_codec *z, const char *packed, size_t len,
		  const char *key, size_t klen, bool body_only);

#endif
