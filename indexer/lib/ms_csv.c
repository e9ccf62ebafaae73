/* ms_csv.c - CSV records (see ms_csv.h).
 *
 * Functions: ms_csv_field, ms_csv_end, ms_csv_next, ms_csv_row_free.
 */
#include "ms_csv.h"

#include <glib.h>
#include <string.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD in UTF-8 */

/* Appends s[0..n) with invalid UTF-8 bytes replaced, '"' doubled if q. */
static ms_status_t put_text(ms_buf *out, const char *s, size_t n, int q)
{
	const char *p = s, *end = s + n;
	while (p < end) {
		const char *bad = NULL;
		g_utf8_validate(p, end - p, &bad);
		for (const char *r = p; r < bad;) {
			const char *dq =
				q ? memchr(r, '"', (size_t)(bad - r)) : NULL;
			const char *stop = dq ? dq + 1 : bad;
			if (ms_buf_append(out, r, (size_t)(stop - r)) ||
			    (dq && ms_buf_putc(out, '"')))
				return MS_ERR_NOMEM;
			r = stop;
		}
		if (bad < end && ms_buf_puts(out, REPLACEMENT))
			return MS_ERR_NOMEM;
		p = bad < end ? bad + 1 : end;
	}
	return MS_OK;
}

ms_status_t ms_csv_field(ms_buf *out, const char *s, int first)
{
	if (!s)
		s = "";
	size_t n = strlen(s);
	int q = strpbrk(s, ",\"\r\n") != NULL;
	if ((!first && ms_buf_putc(out, ',')) || (q && ms_buf_putc(out, '"')))
		return MS_ERR_NOMEM;
	if (put_text(out, s, n, q) || (q && ms_buf_putc(out, '"')))
		return MS_ERR_NOMEM;
	return MS_OK;
}

ms_status_t ms_csv_end(ms_buf *out)
{
	return ms_buf_puts(out, "\r\n");
}

/* Parses a quoted field at data[*p] (the opening quote) into row->buf;
 * *p ends just past the closing quote. */
static ms_status_t quoted(const char *data, size_t len, size_t *p,
			  ms_csv_row *row)
{
	size_t i = *p + 1;
	for (;;) {
		const char *dq = memchr(data + i, '"', len - i);
		if (!dq)
			return MS_ERR_PARSE;
		size_t k = (size_t)(dq - data);
		if (ms_buf_append(&row->buf, data + i, k - i))
			return MS_ERR_NOMEM;
		if (k + 1 < len && data[k + 1] == '"') {
			if (ms_buf_putc(&row->buf, '"'))
				return MS_ERR_NOMEM;
			i = k + 2;
			continue;
		}
		*p = k + 1;
		return MS_OK;
	}
}

/* Whether data[p..) starts a line break or is the end; *next past it. */
static int at_eol(const char *data, size_t len, size_t p, size_t *next)
{
	if (p >= len)
		return *next = len, 1;
	if (data[p] == '\n')
		return *next = p + 1, 1;
	if (data[p] == '\r' && p + 1 < len && data[p + 1] == '\n')
		return *next = p + 2, 1;
	return 0;
}

/* Parses one field at *p into row->buf (NUL-terminated). */
static ms_status_t field(const char *data, size_t len, size_t *p,
			 ms_csv_row *row)
{
	ms_status_t st = MS_OK;
	if (*p < len && data[*p] == '"') {
		st = quoted(data, len, p, row);
	} else {
		size_t s = *p, nx;
		while (*p < len && data[*p] != ',' &&
		       !at_eol(data, len, *p, &nx))
			(*p)++;
		st = ms_buf_append(&row->buf, data + s, *p - s);
	}
	return st ? st : ms_buf_putc(&row->buf, '\0');
}

ms_status_t ms_csv_next(const char *data, size_t len, size_t *off,
			ms_csv_row *row)
{
	size_t starts[MS_CSV_MAX_FIELDS], p = *off, next = 0;
	if (p >= len)
		return MS_ERR_NOTFOUND;
	ms_buf_reset(&row->buf);
	row->n = 0;
	for (;;) {
		if (row->n == MS_CSV_MAX_FIELDS)
			return MS_ERR_PARSE;
		starts[row->n++] = row->buf.len;
		ms_status_t st = field(data, len, &p, row);
		if (st)
			return st;
		if (at_eol(data, len, p, &next))
			break;
		if (data[p] != ',')
			return MS_ERR_PARSE;
		p++;
	}
	for (size_t i = 0; i < row->n; i++)
		row->f[i] = row->buf.data + starts[i];
	*off = next;
	return MS_OK;
}

void ms_csv_row_free(ms_csv_row *row)
{
	ms_buf_free(&row->buf);
	row->n = 0;
}
