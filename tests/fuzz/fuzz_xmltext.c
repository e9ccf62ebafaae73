/* fuzz_xmltext.c - libFuzzer entry for ms_xmltext, the OOXML/ODF text
 * walker: any input, in every mode, from memory and through the read
 * callback in small steps, must walk or fail cleanly - never crash, leak
 * or hang - keep within the output cap, and give the same text both ways
 * when it succeeds.
 *
 * Functions: LLVMFuzzerTestOneInput. The first byte picks the mode, the
 * cap and the read step. Build: make build/fuzz/fuzz_xmltext.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_xmltext.h"

typedef struct feed {
	const uint8_t *p;
	size_t n, step;
} feed;

static int feed_read(void *ctx, char *buf, int len)
{
	feed *f = ctx;
	size_t k = f->n < f->step ? f->n : f->step;
	if (k > (size_t)len)
		k = (size_t)len;
	memcpy(buf, f->p, k);
	f->p += k;
	f->n -= k;
	return (int)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	ms_xmltext_mode mode = (ms_xmltext_mode)(data[0] & 3);
	size_t cap = data[0] & 4 ? 64 : 0, step = 1 + (data[0] >> 3);
	data++;
	size--;
	ms_buf a = MS_BUF_INIT, b = MS_BUF_INIT;
	char *ea = NULL, *eb = NULL;
	int cut_a = 0, cut_b = 0;
	ms_status_t sa = ms_xmltext_walk_mem((const char *)data, size, mode, &a,
					     cap, &cut_a, &ea);
	feed f = { data, size, step };
	ms_status_t sb =
		ms_xmltext_walk(feed_read, &f, mode, &b, cap, &cut_b, &eb);
	if ((sa == MS_OK) != (ea == NULL) || (sb == MS_OK) != (eb == NULL))
		abort();
	if (cap && (a.len > cap || b.len > cap))
		abort();
	if (sa == MS_OK && sb == MS_OK && !cut_a && !cut_b &&
	    (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len))))
		abort();
	ms_buf_free(&a);
	ms_buf_free(&b);
	free(ea);
	free(eb);
	return 0;
}
