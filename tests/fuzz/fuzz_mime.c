/* fuzz_mime.c - libFuzzer entry for ms_mime_parse (and ms_html through
 * it): any input must parse or fail cleanly, never crash, leak or hang,
 * and every document string must be valid UTF-8.
 *
 * Functions: LLVMFuzzerTestOneInput. Build: make build/fuzz/fuzz_mime.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_mime.h"

/* Aborts unless s[0..n) is valid UTF-8 without NUL bytes. */
static void check_utf8(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], len = c < 0x80    ? 1
					 : c >= 0xF0 ? 4
					 : c >= 0xE0 ? 3
						     : 2;
		if (c == 0 || (c >= 0x80 && (c < 0xC2 || c > 0xF4)) ||
		    i + len > n)
			abort();
		for (unsigned k = 1; k < len; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				abort();
		i += len;
	}
}

static void check_str(const char *s)
{
	if (s)
		check_utf8(s, strlen(s));
}

static void check_doc(const ms_doc *d)
{
	check_utf8(d->body.data ? d->body.data : "", d->body.len);
	check_str(d->subject);
	check_str(d->message_id);
	for (int i = 0; i < MS_ADDR_N; i++)
		for (size_t k = 0; k < d->addr[i].n; k++) {
			check_str(d->addr[i].v[k].name);
			check_str(d->addr[i].v[k].addr);
		}
	for (size_t k = 0; k < d->n_att; k++) {
		check_str(d->att[k].name);
		if (!d->att[k].type)
			abort();
		check_str(d->att[k].type);
	}
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
		check_doc(doc);
	} else if (doc || !err) {
		abort();
	}
	ms_doc_free(&doc);
	free(err);
	return 0;
}
