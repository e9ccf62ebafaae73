/* fts-mailsift-terms.h - words <-> index terms for the mailsift FTS backend.
 * Plain C, no Dovecot and no Xapian here (unit-testable on its own).
 *
 * Term scheme of a mailbox database (docid = UID):
 *   "B" word              a word of a body part or of a MIME part header
 *   "H" name ":" word     a word of top-level header <name> (lower case,
 *                         cut to MSF_HDR_MAX bytes)
 *   "N" word              a word of a top-level header's name (TEXT
 *                         matches "Name: value" lines)
 *   "L" field             the field (e.g. "B", "Hsubject:") had a word the
 *                         tokenizer skipped (longer than MS_TOKEN_MAX) or a
 *                         forced cut: every lookup on it must include the doc
 * Words come from ms_tokenize (indexer/ms_token.h): case-folded, NFKC.
 *
 * Lookups compare "loose" forms: NFKD with combining marks removed, so
 * that a search for "cafe" finds "café" the way Dovecot's decomposed
 * titlecase matching does. Loose forms only ever widen a match (results
 * are "maybe"), they never hide one.
 */
#ifndef FTS_MAILSIFT_TERMS_H
#define FTS_MAILSIFT_TERMS_H

#include <stdbool.h>
#include <stddef.h>

#define MSF_HDR_MAX 64		 /* bytes of a header name kept in terms */
#define MSF_CHUNK   (256 * 1024) /* text tokenized per step while building */

/* Called per term (valid during the call); returns 0, or -1 to stop. */
typedef int msf_term_fn(const char *term, size_t len, void *ctx);

/* Writes the field prefix of header name (lower-cased, cut) into
 * buf[0..size) ("H" name ":"); size must be >= MSF_HDR_MAX + 3. */
void msf_header_prefix(const char *name, char *buf, size_t size);

/* Emits prefix+word for each word of text[0..len), and "L"+prefix once if
 * some word was too long to index. Returns 0, -1 if fn stopped it or out of
 * memory. */
int msf_add_text(const char *prefix, const char *text, size_t len,
		 msf_term_fn *fn, void *ctx);

/* The length of text[0..len) that can be tokenized now without cutting a
 * word: up to and including the last ASCII whitespace byte; 0 if none. */
size_t msf_safe_cut(const char *text, size_t len);

/* A search string's words in loose form: *words_r is a NULL-terminated
 * malloc'ed array of malloc'ed strings (free with msf_words_free), *n_r
 * their number (0: the string has no word, nothing can be narrowed).
 * Returns 0, -1 out of memory. */
int msf_query_words(const char *s, size_t len, char ***words_r, size_t *n_r);
void msf_words_free(char ***words);

/* True if the loose form of term[0..len) contains the loose word w. */
bool msf_term_contains(const char *term, size_t len, const char *w);

#endif
