/* extract_util.c - the extractor context's helpers (see extract.h): the
 * reason line and the capped text output, shared by every reader.
 *
 * Functions: ex_reason, ex_full, ex_put.
 */
#include "extract.h"

#include <stdarg.h>
#include <stdio.h>

int ex_reason(ex_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof c->reason, fmt, ap);
	va_end(ap);
	for (char *p = c->reason; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return code;
}

int ex_full(const ex_ctx *c)
{
	return c->out.len >= c->max_text;
}

void ex_put(ex_ctx *c, const char *s, size_t n)
{
	size_t room = c->max_text - c->out.len;
	if (c->out.len >= c->max_text)
		return;
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	if (n && ms_buf_append(&c->out, s, n) != MS_OK)
		c->max_text = c->out.len; /* out of memory: stop adding */
}
