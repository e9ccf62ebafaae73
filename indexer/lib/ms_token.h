/* ms_token.h - the tokenizer shared by the archive, the CLI's query parser
 * and (later) the Dovecot plugin.
 *
 * A word is a maximal run of letters, digits and combining marks (Unicode
 * categories L*, N*, M*; "_" is a separator). Words are case-folded to
 * lower case (full Unicode case folding, NFKC-compatible: e.g. "Straße"
 * -> "strasse", fullwidth "Ａ" -> "a") with an ASCII fast path. Runs of CJK
 * characters (Han, Hiragana, Katakana, Hangul) are split into overlapping
 * bigrams ("東京都" -> "東京", "京都"); a lone CJK character is a unigram.
 * Invalid UTF-8 bytes and NUL bytes are separators. Words longer than
 * MS_TOKEN_MAX bytes after folding are skipped (but still consume a
 * position).
 *
 * Details:
 * - Apostrophes (' and ’) are separators like all punctuation:
 *   "don't" -> "don", "t"; "O'Brien" -> "o", "brien". The query parser
 *   uses the same rule, so a search for don't is the phrase "don t".
 * - "alice@example.org" -> "alice", "example", "org"; URLs likewise.
 * - A combining mark continues the current word (or CJK character); a
 *   word is NFKC-normalised as a whole, so "e" + U+0301 equals "é".
 * - A compatibility mapping may split a word: "¼" -> "1", "4".
 * - Positions: every emitted term, CJK bigram or skipped over-long word
 *   takes the next position; a CJK run next to letters or digits is a
 *   separate word ("abc東京" -> "abc", "東京").
 * - Folding is NFKC(casefold(NFKC(word))) (glib): "ΣΟΦΟΣ" -> "σοφοσ"
 *   (no final-sigma special case), "İ" -> "i̇".
 * Thread-safe (a small per-thread cache of character properties).
 */
#ifndef MS_TOKEN_H
#define MS_TOKEN_H

#include <stddef.h>

#define MS_TOKEN_MAX 64

/* Called once per term: term[0..len) is folded UTF-8 (NUL-terminated),
 * valid only during the call; pos is its position. Return nonzero to stop. */
typedef int (*ms_token_fn)(const char *term, size_t len, unsigned pos,
			   void *ctx);

/* Tokenizes text[0..len) (any bytes; NUL is a separator). Positions start
 * at *pos_io and *pos_io is advanced past the last term (pos_io may be
 * NULL: positions start at 0). Returns nonzero if fn stopped it; then
 * *pos_io is just past the term fn stopped at. Never allocates for ASCII
 * words; uses glib (which aborts on ENOMEM) for hard Unicode words. */
int ms_tokenize(const char *text, size_t len, unsigned *pos_io, ms_token_fn fn,
		void *ctx);

/* Case-folds text[0..len) the same way words are folded (all characters,
 * separators kept; invalid UTF-8 and NUL bytes copied as they are) and
 * appends the result to out. Returns 0, or -1 on ENOMEM. */
struct ms_buf;
int ms_token_fold(const char *text, size_t len, struct ms_buf *out);

#endif
