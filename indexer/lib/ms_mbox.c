/* ms_mbox.c - mbox splitting (see ms_mbox.h): ms_mbox_next. */
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
