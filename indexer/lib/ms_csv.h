/* ms_csv.h - CSV (RFC 4180) records: writing fields, reading records back.
 *
 * Writing: fields are separated by ',' and a record ends with CRLF. A
 * field holding ',', '"', CR or LF is enclosed in double quotes, with
 * each '"' doubled. Bytes that are not valid UTF-8 are written as U+FFFD,
 * so the output is always UTF-8 (header values of hostile mail included).
 * Reading: ms_csv_next() parses one record; quoted fields may hold
 * separators, line breaks and doubled quotes; a record ends at LF or
 * CRLF or at the end of the data (a final line break is optional).
 * Used for export manifests (ms_export.h).
 */
#ifndef MS_CSV_H
#define MS_CSV_H

#include <stddef.h>

#include "ms_buf.h"
#include "ms_status.h"

#define MS_CSV_MAX_FIELDS 32

/* Appends s (NULL = empty) as one field, preceded by ',' unless first.
 * MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_csv_field(ms_buf *out, const char *s, int first);
/* Ends the record (CRLF). MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_csv_end(ms_buf *out);

/* One parsed record: f[0..n) point into buf (NUL-terminated, unquoted).
 * Zero-initialise before the first ms_csv_next(); reusable; release with
 * ms_csv_row_free(). */
typedef struct ms_csv_row {
	const char *f[MS_CSV_MAX_FIELDS];
	size_t n;
	ms_buf buf;
} ms_csv_row;

/* Parses the record starting at *off in data[0..len) into row and
 * advances *off past it. MS_OK; MS_ERR_NOTFOUND at the end of the data
 * (*off == len); MS_ERR_PARSE for an unterminated quoted field, a byte
 * other than ',' or a line break after a closing quote, or more than
 * MS_CSV_MAX_FIELDS fields (*off is then left at the record's start);
 * MS_ERR_NOMEM. */
ms_status_t ms_csv_next(const char *data, size_t len, size_t *off,
			ms_csv_row *row);
void ms_csv_row_free(ms_csv_row *row);

#endif
