/* cli_shaset.c - a sorted set of SHA-256 digests (see cli_shaset.h).
 *
 * Functions: cli_shaset_add, cli_shaset_sort, cli_shaset_find,
 * cli_shaset_free, cli_shaset_hex.
 */
#include "cli_shaset.h"

#include <stdlib.h>
#include <string.h>

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 0 and out filled if hex is exactly 64 lower-case hex digits. */
static int to_bin(const char *hex, unsigned char out[32])
{
	for (int i = 0; i < 32; i++) {
		int hi = nibble(hex[2 * i]),
		    lo = hi < 0 ? -1 : nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[64] == '\0' ? 0 : -1;
}

int cli_shaset_add(cli_shaset *s, const char *hex, unsigned char flags)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? 2 * s->cap : 1024;
		cli_shaent *nv = realloc(s->v, nc * sizeof *nv);
		if (!nv)
			return -1;
		s->v = nv;
		s->cap = nc;
	}
	if (to_bin(hex, s->v[s->n].sha))
		return 1;
	s->v[s->n++].flags = flags;
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

void cli_shaset_sort(cli_shaset *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof *s->v, cmp_ent);
}

cli_shaent *cli_shaset_find(cli_shaset *s, const char *hex)
{
	cli_shaent key;
	if (!s->n || to_bin(hex, key.sha))
		return NULL;
	return bsearch(&key, s->v, s->n, sizeof *s->v, cmp_ent);
}

void cli_shaset_free(cli_shaset *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void cli_shaset_hex(const cli_shaent *e, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[e->sha[i] >> 4];
		hex[2 * i + 1] = digits[e->sha[i] & 15];
	}
	hex[64] = '\0';
}
