/* fuzz_mime.c - libFuzzer entry for ms_mime_parse (and ms_html through
 * it): any input must parse or fail cleanly, never crash, leak or hang,
 * and every document string must be valid UTF-8.
 *
 * Functions: LLVMFuzzerTestOneInput (the document check is the unit
 * tests' ms_test_doc_bad). Build: make build/fuzz/fuzz_mime.
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_mime.h"
/* Header-only part of the unit-test support (the fuzz build links none of
 * its .c files): ms_test_doc_bad. */
#include "../unit/support_util.h"

/* Returns 1 if s[0..n) is valid UTF-8 without NUL bytes, else 0. */
static int utf8_ok(const char *s, size_t n)
{
	return g_utf8_validate(s, (gssize)n, NULL) ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	if (!inited) {
		ms_mime_init();
		inited = 1;
	}
	/* A small cap exercises the truncation paths too. */
	ms_mime_opts opts = { .max_text_per_part = 4096 };
	ms_doc *doc = NULL;
	char *err = NULL;
	ms_status_t st = ms_mime_parse((const char *)data, size,
				       size & 1 ? &opts : NULL, &doc, &err);
	if (st == MS_OK) {
		if (!doc || err)
			abort();
		if (ms_test_doc_bad(doc, utf8_ok))
			abort();
	} else if (doc || !err) {
		abort();
	}
	ms_doc_free(&doc);
	free(err);
	return 0;
}
