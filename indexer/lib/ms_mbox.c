/* ms_mbox.c - mbox splitting and mboxrd quoting (see ms_mbox.h).
 *
 * Functions: ms_mbox_next, ms_mbox_quote, ms_mbox_unquote.
 */
#include "ms_mbox.h"

#include <string.h>

#define FROM_LINE_MAX 1000

/* Whether the line at p (up to end) looks like an mbox "From " separator. */
static int is_from_line(const char *p, const char *end)
{
	if (end - p < 5 || memcmp(p, "From ", 5) != 0)
		return 0;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *e = nl ? nl : end;
	if (e - p > FROM_LINE_MAX)
		return 0;
	for (const char *q = p + 5; q + 4 < e; q++)
		if (q[0] >= '0' && q[0] <= '9' && q[1] >= '0' && q[1] <= '9' &&
		    q[2] == ':' && q[3] >= '0' && q[3] <= '9' && q[4] >= '0' &&
		    q[4] <= '9')
			return 1;
	return 0;
}

/* Offset of the next separator after start, or len. *blank gets the size
 * of the empty line before it (0, 1 or 2 bytes). */
static size_t next_separator(const char *data, size_t len, size_t start,
			     size_t *blank)
{
	const char *end = data + len;
	const char *p = data + start;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p++;
		if (p >= end)
			break;
		/* p is a line start; is the previous line empty? */
		size_t b = 0;
		if (p - data >= 2 && p[-2] == '\n')
			b = 1;
		else if (p - data >= 3 && p[-2] == '\r' && p[-3] == '\n')
			b = 2;
		if (b && is_from_line(p, end)) {
			*blank = b;
			return (size_t)(p - data);
		}
	}
	*blank = 0;
	return len;
}

/* Size of an empty line ending p[0..n) after its last line, else 0. */
static size_t trailing_blank(const char *p, size_t n)
{
	if (n >= 2 && p[n - 1] == '\n' && p[n - 2] == '\n')
		return 1;
	if (n >= 4 && memcmp(p + n - 4, "\r\n\r\n", 4) == 0)
		return 2;
	return 0;
}

int ms_mbox_next(const char *data, size_t len, size_t *off, size_t *start,
		 size_t *n)
{
	if (*off >= len)
		return 0;
	size_t blank = 0;
	size_t s = *off;
	size_t next = is_from_line(data + s, data + len)
			      ? next_separator(data, len, s, &blank)
			      : len;
	if (s > 0 &&
	    next == len) /* last of several: drop the mbox blank line */
		blank = trailing_blank(data + s, len - s);
	*start = s;
	*n = next - s - blank;
	*off = next;
	return 1;
}

/* Whether the line at p (n bytes to the end) matches ^>{min,}From . */
static int is_quotable(const char *p, size_t n, size_t min)
{
	size_t k = 0;
	while (k < n && p[k] == '>')
		k++;
	return k >= min && n - k >= 5 && memcmp(p + k, "From ", 5) == 0;
}

/* Copies in[0..len) to out line by line; at each line matching
 * ^>{min,}From , quote != 0 inserts a '>', quote == 0 drops one. */
static ms_status_t requote(ms_buf *out, const char *in, size_t len, int quote)
{
	size_t run = 0, min = quote ? 0 : 1;
	if (ms_buf_reserve(out, len + len / 32 + 2))
		return MS_ERR_NOMEM;
	for (size_t p = 0; p < len;) {
		if (is_quotable(in + p, len - p, min)) {
			if (ms_buf_append(out, in + run, p - run) ||
			    (quote && ms_buf_putc(out, '>')))
				return MS_ERR_NOMEM;
			run = quote ? p : p + 1;
		}
		const char *nl = memchr(in + p, '\n', len - p);
		p = nl ? (size_t)(nl - in) + 1 : len;
	}
	return ms_buf_append(out, in + run, len - run);
}

ms_status_t ms_mbox_quote(ms_buf *out, const char *msg, size_t len)
{
	ms_status_t st = requote(out, msg, len, 1);
	if (!st && len > 0 && msg[len - 1] != '\n')
		st = ms_buf_putc(out, '\n');
	return st;
}

ms_status_t ms_mbox_unquote(ms_buf *out, const char *seg, size_t len)
{
	return requote(out, seg, len, 0);
}
