/* ms_json.c - JSON string escaping for machine output (ms_json_string). */
#include "ms_json.h"

#include <glib.h>
#include <string.h>

/* Appends one character that needs escaping. */
static ms_status_t put_escape(ms_buf *b, unsigned char c)
{
	switch (c) {
	case '"':
		return ms_buf_puts(b, "\\\"");
	case '\\':
		return ms_buf_puts(b, "\\\\");
	case '\n':
		return ms_buf_puts(b, "\\n");
	case '\r':
		return ms_buf_puts(b, "\\r");
	case '\t':
		return ms_buf_puts(b, "\\t");
	default:
		return ms_buf_printf(b, "\\u%04x", c);
	}
}

ms_status_t ms_json_string(ms_buf *b, const char *s)
{
	if (!s)
		s = "";
	if (ms_buf_putc(b, '"'))
		return MS_ERR_NOMEM;
	const char *p = s, *end = s + strlen(s);
	while (p < end) {
		const char *bad = NULL;
		g_utf8_validate(p, end - p, &bad);
		for (const char *q = p; q < bad; q++) {
			unsigned char c = (unsigned char)*q;
			ms_status_t st = (c < 0x20 || c == '"' || c == '\\')
						 ? put_escape(b, c)
						 : ms_buf_putc(b, (char)c);
			if (st)
				return st;
		}
		if (bad < end && ms_buf_puts(b, "\\ufffd"))
			return MS_ERR_NOMEM;
		p = bad < end ? bad + 1 : end;
	}
	return ms_buf_putc(b, '"');
}
