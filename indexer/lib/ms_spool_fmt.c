/* ms_spool_fmt.c - the spool segment format (see ms_spool_int.h): headers
 * written and checked, entries decoded, a segment's entries walked.
 *
 * Functions: ms_seg_crc, ms_seg_put_header, ms_seg_get_header,
 * ms_seg_put_ehdr, ms_seg_get_ehdr, ms_seg_entry_len,
 * ms_seg_commit_through, ms_seg_decode, ms_seg_walk_run.
 *
 * Everything here works on bytes with explicit lengths: segment files are
 * read back after crashes, so they are outside input (tests/fuzz/
 * fuzz_spool_seg.c feeds this file arbitrary segments).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

#include "ms_spool_int.h"

static const char SEG_MAGIC[8] = { 'M', 'S', 'S', 'P', 'S', 'E', 'G', '1' };
static const char ENT_MAGIC[4] = { 'M', 'S', 'E', '1' };

uint32_t ms_seg_crc(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n > 0) {
		uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
		crc = (uint32_t)crc32(crc, b, k);
		b += k;
		n -= k;
	}
	return crc;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void ms_seg_put_header(unsigned char out[MS_SEG_HDR], const char *boot,
		       uint64_t created)
{
	memset(out, 0, MS_SEG_HDR);
	memcpy(out, SEG_MAGIC, 8);
	size_t n = strnlen(boot, MS_SEG_BOOT);
	memcpy(out + 8, boot, n);
	put64(out + 48, created);
	put32(out + 60, ms_seg_crc(0, out, 60));
}

int ms_seg_get_header(const unsigned char *p, size_t n,
		      char boot[MS_SEG_BOOT + 1], uint64_t *created)
{
	if (n < MS_SEG_HDR || memcmp(p, SEG_MAGIC, 8) != 0 ||
	    get32(p + 60) != ms_seg_crc(0, p, 60))
		return -1;
	memcpy(boot, p + 8, MS_SEG_BOOT);
	boot[MS_SEG_BOOT] = '\0';
	*created = get64(p + 48);
	return 0;
}

void ms_seg_put_ehdr(unsigned char out[MS_SEG_EHDR], const ms_seg_ehdr *h)
{
	memcpy(out, ENT_MAGIC, 4);
	put32(out + 4, h->type);
	put64(out + 8, h->msg_len);
	put32(out + 16, h->rec_len);
	put32(out + 20, h->crc);
	put32(out + 24, 0);
	put32(out + 28, ms_seg_crc(0, out, 28));
}

uint64_t ms_seg_entry_len(const ms_seg_ehdr *h)
{
	return MS_SEG_EHDR + h->msg_len + h->rec_len;
}

int ms_seg_get_ehdr(const unsigned char *p, size_t n, uint64_t room,
		    ms_seg_ehdr *h)
{
	if (n < MS_SEG_EHDR || memcmp(p, ENT_MAGIC, 4) != 0 ||
	    get32(p + 28) != ms_seg_crc(0, p, 28))
		return -1;
	h->type = get32(p + 4);
	h->msg_len = get64(p + 8);
	h->rec_len = get32(p + 16);
	h->crc = get32(p + 20);
	if (h->msg_len > MS_SEG_LEN_MAX || h->rec_len > MS_SEG_REC_MAX)
		return -1;
	if (h->type == MS_SEG_T_COMMIT && (h->msg_len != 0 || h->rec_len != 8))
		return -1;
	if (h->type != MS_SEG_T_MSG && h->type != MS_SEG_T_COMMIT)
		return -1;
	return ms_seg_entry_len(h) <= room ? 0 : -1;
}

uint64_t ms_seg_commit_through(const ms_seg_ehdr *h, const unsigned char *p)
{
	if (h->type != MS_SEG_T_COMMIT || ms_seg_crc(0, p, 8) != h->crc)
		return 0;
	return get64(p);
}

ms_status_t ms_seg_decode(const char *name, const ms_seg_ehdr *h, const char *p,
			  void *map, size_t map_len, ms_spool_entry **e_r,
			  const char **why_r)
{
	*e_r = NULL;
	size_t ml = (size_t)h->msg_len;
	if (h->type != MS_SEG_T_MSG ||
	    ms_seg_crc(0, p, ml + h->rec_len) != h->crc) {
		*why_r = "spool segment entry fails its checksum";
		if (map)
			munmap(map, map_len);
		return MS_ERR_PARSE;
	}
	return ms_spool_entry_make(name, p, ml, p + ml, h->rec_len, 0, map,
				   map_len, e_r, why_r);
}

/* ---- walking ---- */

/* Whether the payload of the entry at off reads back with its CRC. */
static int payload_ok(const ms_seg_ehdr *h, uint64_t off, ms_seg_read_fn rd,
		      void *src)
{
	unsigned char buf[64 * 1024];
	uint64_t left = h->msg_len + h->rec_len, at = off + MS_SEG_EHDR;
	uint32_t crc = 0;
	while (left > 0) {
		size_t k = left < sizeof buf ? (size_t)left : sizeof buf;
		if (rd(src, at, buf, k) != (long)k)
			return 0;
		crc = ms_seg_crc(crc, buf, k);
		at += k;
		left -= k;
	}
	return crc == h->crc;
}

/* One entry at w->off: 1 consumed, 0 stop. */
static int walk_one(ms_seg_walk *w, ms_seg_read_fn rd, void *src, uint64_t size)
{
	unsigned char b[MS_SEG_COMMIT];
	ms_seg_ehdr h;
	uint64_t room = size - w->off;
	long got =
		rd(src, w->off, b, room < sizeof b ? (size_t)room : sizeof b);
	if (got < MS_SEG_EHDR)
		return 0;
	if (ms_seg_get_ehdr(b, (size_t)got, room, &h) < 0) {
		w->stuck = 1;
		return 0;
	}
	uint64_t len = ms_seg_entry_len(&h);
	if (h.type == MS_SEG_T_COMMIT) {
		uint64_t t = ms_seg_commit_through(&h, b + MS_SEG_EHDR);
		if (t == 0 || t > w->off) {
			w->stuck = 1;
			return 0;
		}
		if (t > w->proven)
			w->proven = t;
	} else if (!w->strict && !payload_ok(&h, w->off, rd, src)) {
		w->stuck = 1;
		return 0;
	} else if (w->on_msg) {
		w->on_msg(w->ctx, w->off, len);
	}
	w->off += len;
	return 1;
}

void ms_seg_walk_run(ms_seg_walk *w, ms_seg_read_fn rd, void *src,
		     uint64_t size)
{
	if (w->off < MS_SEG_HDR)
		w->off = MS_SEG_HDR;
	w->stuck = 0;
	while (w->off < size && walk_one(w, rd, src, size))
		;
}
