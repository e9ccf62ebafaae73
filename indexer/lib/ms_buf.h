/* ms_buf.h - the one growable byte buffer; all string growth goes here.
 *
 * data is always NUL-terminated (so text can be used as a C string) and
 * len excludes the terminator. Growth checks for size_t overflow in one
 * place. A zero-initialised ms_buf (MS_BUF_INIT) is a valid empty buffer.
 * Ownership: the buffer owns data; ms_buf_free() releases it,
 * ms_buf_steal() hands it to the caller (free with free()).
 */
#ifndef MS_BUF_H
#define MS_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "ms_status.h"

typedef struct ms_buf {
	char *data; /* NULL only while cap == 0 */
	size_t len;
	size_t cap;
} ms_buf;

#define MS_BUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Makes room for at least extra more bytes (+ terminator).
 * Returns MS_OK or MS_ERR_NOMEM (buffer unchanged). */
ms_status_t ms_buf_reserve(ms_buf *b, size_t extra);
/* Appends n bytes. MS_OK or MS_ERR_NOMEM (buffer unchanged). */
ms_status_t ms_buf_append(ms_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_buf_puts(ms_buf *b, const char *s);
/* Appends one byte. MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_buf_putc(ms_buf *b, char c);
/* Appends printf-formatted text. MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_buf_printf(ms_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
ms_status_t ms_buf_vprintf(ms_buf *b, const char *fmt, va_list ap);
/* Sets len to 0, keeps the allocation. */
void ms_buf_reset(ms_buf *b);
/* Shrinks len to n (n <= len) and re-terminates. */
void ms_buf_truncate(ms_buf *b, size_t n);
/* Returns data (never NULL: "" if empty) and leaves b empty; caller frees. */
char *ms_buf_steal(ms_buf *b);
/* Frees data and leaves b empty. */
void ms_buf_free(ms_buf *b);

#endif
