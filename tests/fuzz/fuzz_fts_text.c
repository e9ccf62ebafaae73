/* fuzz_fts_text.c - libFuzzer target for the IMAP backend's stored message
 * text (imap-ext/fts-mailsift-text.c), read back from a user's index,
 * which a damaged disk or a bad copy may have changed. The input is a key
 * length byte, the key, then the rest, used twice: as stored text as it
 * is, and as the unpacked text (segments) of stored text made here. No
 * input may crash or read out of bounds; a found key must really be in
 * the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#include "fts-mailsift-text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msf_text_codec *z;
	size_t klen, n;
	const char *key, *rest;
	char *frame;
	int bound, fl;

	if (z == NULL && (z = msf_text_codec_new()) == NULL)
		abort();
	if (size < 2)
		return 0;
	klen = 1 + data[0] % 16;
	if (klen + 1 > size)
		return 0;
	key = (const char *)data + 1;
	rest = key + klen;
	n = size - 1 - klen;
	(void)msf_text_find(z, rest, n, key, klen, data[0] & 0x80);
	bound = LZ4_compressBound((int)n);
	if ((frame = malloc(4 + (size_t)bound)) == NULL)
		return 0;
	for (int i = 0; i < 4; i++)
		frame[i] = (char)((n >> (8 * i)) & 0xFF);
	fl = LZ4_compress_default(rest, frame + 4, (int)n, bound);
	if (fl > 0 &&
	    msf_text_find(z, frame, 4 + (size_t)fl, key, klen,
			  data[0] & 0x80) == 1 &&
	    memmem(rest, n, key, klen) == NULL)
		abort(); /* found a key the text does not hold */
	free(frame);
	return 0;
}
