/* fuzz_spool_seg.c - libFuzzer entry for the spool segment reader
 * (indexer/lib/ms_spool_fmt.c): indexd reads segments back after crashes,
 * so any bytes must walk and decode cleanly, never crash, over-read, leak
 * or hang.
 *
 * Functions: LLVMFuzzerTestOneInput. The input is a whole segment file: its
 * header is checked, its entries walked both ways (strict: the boot that
 * wrote it; lenient: after a reboot, checksums checked on the way), and
 * every message entry found is decoded from an exact-size copy of its
 * payload (so ASan sees any read past it), its record also without the
 * checksum (which mutations break). An input shorter than a header
 * gets one prepended, so the walk is reached. Build: make
 * build/fuzz/fuzz_spool_seg; seeds: tests/fuzz/seeds-seg.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_spool_int.h"

typedef struct mem {
	const uint8_t *p;
	size_t n;
} mem;

static long rd(void *src, uint64_t off, void *buf, size_t n)
{
	const mem *m = src;
	if (off >= m->n)
		return 0;
	size_t k = m->n - off < n ? (size_t)(m->n - off) : n;
	memcpy(buf, m->p + off, k);
	return (long)k;
}

/* Decodes the message entry at off (len bytes) like ms_spool_read. */
static void on_msg(void *ctx, uint64_t off, uint64_t len)
{
	const mem *m = ctx;
	ms_seg_ehdr h;
	if (off + len > m->n ||
	    ms_seg_get_ehdr(m->p + off, (size_t)(m->n - off), m->n - off, &h) !=
		    0 ||
	    ms_seg_entry_len(&h) != len)
		abort(); /* the walk handed out something that is no entry */
	size_t pl = (size_t)(len - MS_SEG_EHDR);
	char *copy = malloc(pl ? pl : 1);
	if (!copy)
		return;
	memcpy(copy, m->p + off + MS_SEG_EHDR, pl);
	ms_spool_entry *e = NULL;
	const char *why = NULL;
	if (ms_seg_decode("seg/64", &h, copy, NULL, 0, &e, &why) == MS_OK) {
		if (!e || e->msg_len != h.msg_len || !e->env.id || !e->sha256)
			abort();
		for (size_t i = 0; i < e->env.n_rcpts; i++)
			(void)strlen(e->env.rcpts[i]);
	} else if (!why || e) {
		abort();
	}
	ms_spool_entry_free(&e);
	/* the record checks too, past the checksum a mutation breaks */
	if (ms_spool_entry_make("seg/64", copy, (size_t)h.msg_len,
				copy + h.msg_len, h.rec_len, 0, NULL, 0, &e,
				&why) != MS_OK &&
	    (e || !why))
		abort();
	ms_spool_entry_free(&e);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char boot[MS_SEG_BOOT + 1];
	uint64_t created;
	uint8_t *buf = NULL;
	mem m = { data, size };
	if (ms_seg_get_header(data, size, boot, &created) != 0) {
		if (!(buf = malloc(MS_SEG_HDR + size)))
			return 0;
		ms_seg_put_header(buf, "fuzz", 1);
		memcpy(buf + MS_SEG_HDR, data, size);
		m = (mem){ buf, MS_SEG_HDR + size };
	}
	for (int strict = 0; strict < 2; strict++) {
		ms_seg_walk w = { .strict = strict,
				  .on_msg = on_msg,
				  .ctx = &m };
		ms_seg_walk_run(&w, rd, &m, m.n);
		if (w.off > m.n || w.proven > w.off)
			abort();
	}
	free(buf);
	return 0;
}
