/* web_form.h - parsers of request input: URL-encoded forms and query
 * strings, the Cookie header, and the checks on values used as names.
 *
 * Plain C with explicit lengths and no allocation, so that the fuzzer
 * (tests/fuzz/fuzz_web_form.c) can drive them alone. Every output is
 * NUL-terminated and bounded by the caller's buffer.
 */
#ifndef WEB_FORM_H
#define WEB_FORM_H

#include <stddef.h>

/* Looks up name in the application/x-www-form-urlencoded data[0..len)
 * ("a=1&b=x%20y"; '+' is a space) and writes its decoded value to
 * out[0..cap) (NUL-terminated). Returns 1 (found), 0 (absent: out is ""),
 * or -1 (bad %-escape, a NUL byte, or a value longer than cap - 1: out is
 * ""). The first occurrence wins. */
int web_form_get(const char *data, size_t len, const char *name, char *out,
		 size_t cap);

/* Looks up cookie name in a Cookie header value ("a=1; b=2") and copies
 * its value (unquoted, as is) to out[0..cap). Returns 1, 0 (absent) or -1
 * (too long / bad bytes); out is "" unless 1. */
int web_cookie_get(const char *header, const char *name, char *out, size_t cap);

/* 1 if s is a safe identifier: 1..max bytes of [A-Za-z0-9_-] (archive ids,
 * part numbers, user names in URLs): no '.', '/', '\\' or control byte can
 * pass, so no such value can walk a path. Else 0. */
int web_form_ident(const char *s, size_t max);

/* 1 if the decoded URL path is clean: starts with '/', no "..", "//",
 * '\\' or control byte. Else 0 (the request is answered 400). */
int web_form_path_ok(const char *path);

#endif
