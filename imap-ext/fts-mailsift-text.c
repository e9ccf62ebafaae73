/* fts-mailsift-text.c - a message's stored searchable text (see
 * fts-mailsift-text.h).
 *
 * Functions: msf_text_codec_new, msf_text_codec_free, msf_text_init,
 * msf_text_free, msf_text_part, msf_text_add, msf_text_pack, msf_text_find.
 */
#include "fts-mailsift-text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <lz4hc.h>

#define SEG_HEAD 8 /* u32 header bytes, u32 body bytes */

static void put_u32(char *p, size_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)((v >> (8 * i)) & 0xFF);
}

static size_t get_u32(const char *p)
{
	size_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (size_t)(unsigned char)p[i] << (8 * i);
	return v;
}

struct msf_text_codec {
	void *hc;     /* LZ4 HC compression state */
	ms_buf plain; /* the last text unpacked */
};

struct msf_text_codec *msf_text_codec_new(void)
{
	struct msf_text_codec *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	z->hc = malloc((size_t)LZ4_sizeofStateHC());
	if (z->hc == NULL)
		msf_text_codec_free(&z);
	return z;
}

void msf_text_codec_free(struct msf_text_codec **z)
{
	if (*z == NULL)
		return;
	free((*z)->hc);
	ms_buf_free(&(*z)->plain);
	free(*z);
	*z = NULL;
}

void msf_text_init(struct msf_text *t)
{
	memset(t, 0, sizeof(*t));
}

void msf_text_free(struct msf_text *t)
{
	ms_buf_free(&t->seg);
	msf_text_init(t);
}

static void give_up(struct msf_text *t)
{
	ms_buf_free(&t->seg);
	t->over = true;
	t->has_open = false;
}

/* Writes the open segment's lengths into its head. */
static void close_open(struct msf_text *t)
{
	if (!t->has_open)
		return;
	put_u32(t->seg.data + t->open, t->hlen);
	put_u32(t->seg.data + t->open + 4, t->blen);
	t->has_open = false;
}

void msf_text_part(struct msf_text *t)
{
	static const char zero[SEG_HEAD];

	if (t->over)
		return;
	close_open(t);
	if (t->seg.len + SEG_HEAD > MSF_TEXT_MAX ||
	    ms_buf_append(&t->seg, zero, SEG_HEAD) != MS_OK) {
		give_up(t);
		return;
	}
	t->open = t->seg.len - SEG_HEAD;
	t->hlen = t->blen = 0;
	t->has_open = true;
}

void msf_text_add(struct msf_text *t, bool body, const char *s, size_t n)
{
	if (t->over || n == 0)
		return;
	if (!t->has_open || (!body && t->blen > 0))
		msf_text_part(t);
	if (t->over)
		return;
	if (t->seg.len + n > MSF_TEXT_MAX ||
	    ms_buf_append(&t->seg, s, n) != MS_OK) {
		give_up(t);
		return;
	}
	if (body)
		t->blen += n;
	else
		t->hlen += n;
}

int msf_text_pack(struct msf_text *t, struct msf_text_codec *z, ms_buf *packed)
{
	int bound, n;

	ms_buf_reset(packed);
	if (t->over)
		return 0;
	close_open(t);
	bound = LZ4_compressBound((int)t->seg.len);
	if (bound <= 0 || ms_buf_reserve(packed, 4 + (size_t)bound) != MS_OK)
		return -1;
	put_u32(packed->data, t->seg.len);
	n = LZ4_compress_HC_extStateHC(z->hc, t->seg.data, packed->data + 4,
				       (int)t->seg.len, bound, MSF_TEXT_LEVEL);
	if (n <= 0 && t->seg.len > 0)
		return -1;
	packed->len = 4 + (size_t)n;
	return 1;
}

/* Unpacks packed[0..len) into z->plain. 0 or -1 (damaged). */
static int unpack(struct msf_text_codec *z, const char *packed, size_t len)
{
	ms_buf *scratch = &z->plain;
	size_t size;
	int n;

	if (len < 4 || len - 4 > (size_t)LZ4_compressBound(MSF_TEXT_MAX) ||
	    (size = get_u32(packed)) > MSF_TEXT_MAX)
		return -1;
	ms_buf_reset(scratch);
	if (ms_buf_reserve(scratch, size + 1) != MS_OK)
		return -1;
	n = LZ4_decompress_safe(packed + 4, scratch->data, (int)(len - 4),
				(int)size);
	if (n < 0 || (size_t)n != size)
		return -1;
	scratch->len = size;
	return 0;
}

int msf_text_find(struct msf_text_codec *z, const char *packed, size_t len,
		  const char *key, size_t klen, bool body_only)
{
	const char *p, *end;

	if (klen == 0 || unpack(z, packed, len) < 0)
		return -1;
	p = z->plain.data;
	end = p + z->plain.len;
	while (p < end) {
		size_t hlen, blen;
		if ((size_t)(end - p) < SEG_HEAD)
			return -1;
		hlen = get_u32(p);
		blen = get_u32(p + 4);
		p += SEG_HEAD;
		if (hlen > (size_t)(end - p) || blen > (size_t)(end - p) - hlen)
			return -1;
		if (body_only ? memmem(p + hlen, blen, key, klen) != NULL
			      : memmem(p, hlen + blen, key, klen) != NULL)
			return 1;
		p += hlen + blen;
	}
	return 0;
}
