/* web_form.c - parsers of request input (web_form.h).
 *
 * Functions: web_form_get, web_cookie_get, web_form_ident,
 * web_form_path_ok. Everything works on explicit lengths; nothing is
 * allocated; every write is checked against the caller's capacity.
 */
#include "web_form.h"

#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) (%XX, '+') into out[0..cap). 0, or -1 (out ""). */
static int urldecode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (lo < 0)
				return out[0] = '\0', -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return out[0] = '\0', -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int web_form_get(const char *data, size_t len, const char *name, char *out,
		 size_t cap)
{
	size_t nlen = strlen(name), i = 0;
	if (cap == 0)
		return -1;
	out[0] = '\0';
	while (data && i < len) {
		const char *p = data + i;
		const char *amp = memchr(p, '&', len - i);
		size_t plen = amp ? (size_t)(amp - p) : len - i;
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;
		if (klen == nlen && memcmp(p, name, nlen) == 0) {
			if (!eq)
				return 1;
			return urldecode(eq + 1, plen - klen - 1, out, cap) ? -1
									    : 1;
		}
		i += plen + 1;
	}
	return 0;
}

static int cookie_byte_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != ';' && c != ',' && c != '\\';
}

int web_cookie_get(const char *header, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	if (cap == 0)
		return -1;
	out[0] = '\0';
	for (const char *p = header; p && *p;) {
		p += strspn(p, " \t;");
		size_t plen = strcspn(p, ";");
		const char *eq = memchr(p, '=', plen);
		if (eq && (size_t)(eq - p) == nlen &&
		    memcmp(p, name, nlen) == 0) {
			const char *v = eq + 1;
			size_t vlen = plen - nlen - 1;
			while (vlen &&
			       (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
				v++, vlen -= 2;
			if (vlen + 1 > cap)
				return -1;
			for (size_t i = 0; i < vlen; i++)
				if (!cookie_byte_ok((unsigned char)v[i]))
					return -1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 1;
		}
		p += plen;
	}
	return 0;
}

int web_form_ident(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n >= max ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

int web_form_path_ok(const char *path)
{
	if (path[0] != '/' || strstr(path, "..") || strstr(path, "//") ||
	    strchr(path, '\\'))
		return 0;
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}
