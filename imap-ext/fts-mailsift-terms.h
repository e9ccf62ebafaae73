/* fts-mailsift-terms.h - text <-> index terms for the mailsift FTS backend.
 * Plain C, no Dovecot and no Xapian here (unit-testable on its own).
 *
 * Dovecot's native SEARCH compares strings after its normalisation
 * (decomposed titlecase, "dtc"): the key "ell" matches a message if dtc of
 * the searched text contains dtc("ell"). The index keeps the text in that
 * same form, cut into RUNS: maximal sequences of bytes that are ASCII
 * letters, ASCII digits or any non-ASCII byte (so a run is bounded by
 * ASCII spaces and punctuation), with ASCII letters lower-cased. A key
 * that is one run occurs in the text exactly when it is a substring of a
 * run of the text; a key of several runs occurs only if each of its runs
 * is a substring of some run. So substring search needs only the distinct
 * runs (a small lexicon scanned in memory), never an n-gram index.
 *
 * Fields (prefixes) of a mailbox database (docid = UID):
 *   "B"               bodies of text/ and message/ parts, decoded, as
 *                     native SEARCH BODY reads them (HTML source included)
 *   "M"               MIME part headers, names and values (SEARCH TEXT)
 *   "N"               names of top-level headers (SEARCH TEXT) whose value
 *                     has no run, or that are longer than MSF_HDR_MAX or
 *                     not ASCII: other names are in their "H" terms,
 *                     which TEXT matches as name ":" run
 *   "H" name ":"      a top-level header's decoded value (HEADER, SUBJECT,
 *                     TEXT); name lower case, cut to MSF_HDR_MAX bytes
 *   "A" name ":"      From/To/Cc/Bcc in Dovecot's normalised address form
 *                     (SEARCH FROM, TO, CC, BCC)
 * Terms of a field f:
 *   f run             a run of the field's text; a run too long for one
 *                     term is stored as overlapping windows of it (any
 *                     MSF_OVERLAP bytes of the run lie inside one window)
 *   "L" f             the text was cut inside a run (no whitespace in
 *                     MSF_CHUNK bytes): every lookup on f includes the
 *                     message ("maybe")
 *   "=" f value       the whole value of a SUBJECT/FROM/TO/CC/BCC field
 *                     in the form native SEARCH compares (dtc, ASCII
 *                     lower-cased), as overlapping windows if long: any
 *                     key of at most MSF_OVERLAP bytes is answered exactly
 *                     by a substring scan of the distinct values
 *   "#" f c           the field has the ASCII letter or digit c (single
 *                     character keys without a scan); for B and "T"
 *                     (what TEXT's fields add to B's characters)
 * What a key of several runs needs beyond them (its separators, text across
 * runs) is checked in the message's stored text (fts-mailsift-text.h).
 */
#ifndef FTS_MAILSIFT_TERMS_H
#define FTS_MAILSIFT_TERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"

#define MSF_HDR_MAX   64 /* bytes of a header name kept in terms */
#define MSF_FIELD_MAX (MSF_HDR_MAX + 4)
#define MSF_CHUNK     (256 * 1024) /* text indexed per step while building */
#define MSF_TERM_MAX  240	   /* bytes of an index term at most */
#define MSF_OVERLAP   64	   /* bytes shared by consecutive windows */

/* Called per term (valid during the call); returns 0, or -1 to stop. */
typedef int msf_term_fn(const char *term, size_t len, void *ctx);

/* Appends the dtc form of UTF-8 text in[0..len) to out (Dovecot's
 * uni_utf8_to_decomposed_titlecase in the plugin). Returns 0, -1 out of
 * memory. */
typedef int msf_norm_fn(const char *in, size_t len, ms_buf *out);

/* Version of the term scheme, kept in each database (META_FORMAT): a
 * database written under another one (or none: the oldest scheme) is
 * rebuilt, as it would answer keys wrongly. Bump it with every change of
 * the terms a message gets. */
#define MSF_INDEX_FORMAT 3 /* 3: stored text instead of pair terms */

/* One field of the document being built. */
struct msf_field {
	char name[MSF_FIELD_MAX]; /* the prefix */
	bool chars;		  /* collect character bits */
	uint64_t bits;		  /* a-z, 0-9 seen (chars only) */
};

/* Sets f to field name (copied, cut to fit), chars on or off, no bits. */
void msf_field_init(struct msf_field *f, const char *name, bool chars);
/* Writes the field name of header hdr into buf[0..size) (kind "H" or "A"
 * + lower-cased name cut to MSF_HDR_MAX + ":"); size >= MSF_FIELD_MAX. */
void msf_header_field(char kind, const char *hdr, char *buf, size_t size);

/* Emits the runs of UTF-8 text[0..len) (not yet normalised; norm turns
 * non-ASCII text into dtc; norm NULL: text is in dtc form already) as
 * terms of field f. In dtc text an ASCII lower-case letter is not a run byte:
 * dtc makes every letter that it maps titlecase, so one left lower-case is one
 * native SEARCH did not map (an encoded word in a charset it does not know) or
 * a compatibility decomposition ("fi" of U+FB01); no key in dtc matches it as a
 * letter. cut_before / cut_after: text starts / ends inside a run (a forced
 * cut): "L"+f is emitted. Returns 0, -1 if fn stopped it or out of memory. */
int msf_add_text(struct msf_field *f, const char *text, size_t len,
		 bool cut_before, bool cut_after, msf_norm_fn *norm,
		 msf_term_fn *fn, void *ctx);

/* Emits "=" f value for UTF-8 value[0..len) (not yet normalised; norm
 * turns non-ASCII text into dtc; NULL: in dtc already). A NUL byte, and
 * an ASCII lower-case letter of dtc text (see msf_add_text), is stored as
 * byte 0xFF, which no key value holds. Returns 0, -1 if fn stopped it or out of
 * memory. */
int msf_add_value(const struct msf_field *f, const char *value, size_t len,
		  msf_norm_fn *norm, msf_term_fn *fn, void *ctx);

/* The form of a search key compared with values: ASCII lower-cased (the
 * key is in dtc already), malloc'ed; NULL if it cannot be answered from
 * values (longer than MSF_OVERLAP, empty, with CR or LF, or with an ASCII
 * lower-case letter or byte 0xFF) or out of memory. */
char *msf_key_value(const char *key);

/* Whether text[0..len) (dtc form) has a run. */
bool msf_has_run(const char *text, size_t len);
/* Adds the characters of the runs of text[0..len) (dtc form) to f's bits
 * (if f collects them) without emitting terms. */
void msf_add_chars(struct msf_field *f, const char *text, size_t len);

/* Emits the character terms of f collected so far ("#" f c). Returns 0
 * or -1 if fn stopped it. */
int msf_emit_chars(const struct msf_field *f, msf_term_fn *fn, void *ctx);

/* The length of text[0..len) that can be indexed now without cutting a
 * run: up to and including the last ASCII whitespace byte; 0 if none. */
size_t msf_safe_cut(const char *text, size_t len);

/* The runs of a search key already in dtc form (Dovecot gives keys so):
 * *runs_r is a NULL-terminated malloc'ed array of malloc'ed strings (free
 * with msf_runs_free), ASCII lower-cased; a run longer than MSF_OVERLAP
 * bytes is cut to its first MSF_OVERLAP bytes (at a character boundary).
 * *exact_r: the key is exactly one run of at most MSF_OVERLAP bytes, so
 * a message whose field has a run containing it matches for sure.
 * Returns the number of runs (0: nothing to narrow by), -1 out of
 * memory. */
int msf_key_runs(const char *key, char ***runs_r, bool *exact_r);
void msf_runs_free(char ***runs);

/* Orders the n runs of a key (from msf_key_runs) by cost[i], the cost of
 * looking runs[i] up, cheapest first (ties: the longer run first, then
 * byte order), and frees repeated runs: the distinct runs are
 * runs[0..returned), cost[] follows them, runs[returned..n) are NULL.
 * Returns the number of distinct runs, -1 out of memory (nothing
 * changed). */
int msf_runs_order(char **runs, uint64_t *cost, int n);

/* Index 0..35 of an ASCII letter or digit (case-insensitive), else -1. */
int msf_char_index(char c);

#endif
