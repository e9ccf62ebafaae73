/* ms_record.c - "key\tvalue\n" records with escaping (see ms_record.h).
 *
 * Functions: ms_record_put, ms_record_putn, ms_record_parse.
 */
#include "ms_record.h"

#include <string.h>

ms_status_t ms_record_putn(ms_buf *b, const char *key, const char *value,
			   size_t n)
{
	if (ms_buf_puts(b, key) || ms_buf_putc(b, '\t') ||
	    ms_buf_reserve(b, n + 1))
		return MS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = value[i];
		const char *esc = c == '\\'   ? "\\\\"
				  : c == '\t' ? "\\t"
				  : c == '\n' ? "\\n"
				  : c == '\r' ? "\\r"
					      : NULL;
		ms_status_t st = esc ? ms_buf_append(b, esc, 2)
				 : c ? ms_buf_putc(b, c)
				     : MS_OK;
		if (st)
			return st;
	}
	return ms_buf_putc(b, '\n');
}

ms_status_t ms_record_put(ms_buf *b, const char *key, const char *value)
{
	return ms_record_putn(b, key, value ? value : "",
			      value ? strlen(value) : 0);
}

/* Unescapes s in place up to its NUL; returns s. */
static char *unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r != '\\' || !r[1]) {
			*w++ = *r;
			continue;
		}
		r++;
		*w++ = *r == 't'   ? '\t'
		       : *r == 'n' ? '\n'
		       : *r == 'r' ? '\r'
				   : *r;
	}
	*w = '\0';
	return s;
}

size_t ms_record_parse(char *rec, size_t len, ms_record_fn fn, void *ctx)
{
	size_t n = 0;
	char *p = rec, *end = rec + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line_end = nl ? nl : end;
		*line_end = '\0';
		char *tab = memchr(p, '\t', (size_t)(line_end - p));
		if (tab) {
			*tab = '\0';
			fn(p, unescape(tab + 1), ctx);
			n++;
		}
		p = line_end + 1;
	}
	return n;
}
