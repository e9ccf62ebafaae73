/* ms_buf.c - growable NUL-terminated byte buffer (see ms_buf.h).
 *
 * Functions: ms_buf_reserve, ms_buf_append, ms_buf_puts, ms_buf_putc,
 * ms_buf_printf, ms_buf_vprintf, ms_buf_reset, ms_buf_truncate,
 * ms_buf_steal, ms_buf_free. The only overflow check for string growth
 * in the library lives in ms_buf_reserve().
 */
#include "ms_buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ms_status_t ms_buf_reserve(ms_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - 1 - b->len)
		return MS_ERR_NOMEM;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return MS_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return MS_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return MS_OK;
}

ms_status_t ms_buf_append(ms_buf *b, const void *p, size_t n)
{
	if (ms_buf_reserve(b, n) != MS_OK)
		return MS_ERR_NOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return MS_OK;
}

ms_status_t ms_buf_puts(ms_buf *b, const char *s)
{
	return ms_buf_append(b, s, strlen(s));
}

ms_status_t ms_buf_putc(ms_buf *b, char c)
{
	return ms_buf_append(b, &c, 1);
}

ms_status_t ms_buf_vprintf(ms_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || ms_buf_reserve(b, (size_t)n) != MS_OK)
		return MS_ERR_NOMEM;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return MS_OK;
}

ms_status_t ms_buf_printf(ms_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms_status_t st = ms_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return st;
}

void ms_buf_reset(ms_buf *b)
{
	ms_buf_truncate(b, 0);
}

void ms_buf_truncate(ms_buf *b, size_t n)
{
	if (n > b->len)
		return;
	b->len = n;
	if (b->data)
		b->data[n] = '\0';
}

char *ms_buf_steal(ms_buf *b)
{
	char *p = b->data;
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void ms_buf_free(ms_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
