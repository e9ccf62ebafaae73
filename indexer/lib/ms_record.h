/* ms_record.h - the document data record: "key\tvalue\n" lines.
 *
 * Values escape backslash, tab and newline as \\, \t, \n, so raw tabs and
 * newlines in a record are only separators. Used for the Xapian document
 * data of archived messages and for spool envelope files.
 */
#ifndef MS_RECORD_H
#define MS_RECORD_H

#include <stddef.h>

#include "ms_buf.h"

/* Appends key and value (escaped; NULL value = empty). MS_OK or NOMEM. */
ms_status_t ms_record_put(ms_buf *b, const char *key, const char *value);
/* Same for a value of n bytes (may contain NUL, which is dropped). */
ms_status_t ms_record_putn(ms_buf *b, const char *key, const char *value,
			   size_t n);

/* Decodes a record in place: rec[0..len) must be a private, writable,
 * NUL-terminated copy. Calls fn(key, value, ctx) for each line with both
 * NUL-terminated and value unescaped; pointers point into rec. Malformed
 * lines (no tab) are skipped. Returns the number of pairs seen. */
typedef void (*ms_record_fn)(const char *key, const char *value, void *ctx);
size_t ms_record_parse(char *rec, size_t len, ms_record_fn fn, void *ctx);

#endif
