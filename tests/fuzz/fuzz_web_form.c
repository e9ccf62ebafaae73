/* fuzz_web_form.c - libFuzzer target for the web console's request input
 * parsers (web/web_form.c): the input is split at its first NUL into a
 * name and the data; form, cookie, identifier and path checks run on it,
 * with a small and a large output buffer. ASan/UBSan catch any overrun.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web_form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	size_t nlen = strlen(s);
	const char *name = s, *rest = nlen < size ? s + nlen + 1 : "";
	size_t rlen = nlen < size ? size - nlen - 1 : 0;
	char small[8], big[4096];
	web_form_get(rest, rlen, name, small, sizeof small);
	web_form_get(rest, rlen, name, big, sizeof big);
	web_form_get(s, size, "q", big, sizeof big);
	web_cookie_get(rest, name, small, sizeof small);
	web_cookie_get(s, "sid", big, sizeof big);
	web_form_ident(s, 64);
	web_form_path_ok(s);
	free(s);
	return 0;
}
