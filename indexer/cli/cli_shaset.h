/* cli_shaset.h - a set of SHA-256 digests with a flags byte each, for
 * verify and reindex (which stored messages the index refers to).
 * Add everything, sort once, then look up.
 */
#ifndef CLI_SHASET_H
#define CLI_SHASET_H

#include <stddef.h>

typedef struct cli_shaent {
	unsigned char sha[32];
	unsigned char flags;
} cli_shaent;

typedef struct cli_shaset {
	cli_shaent *v;
	size_t n, cap;
} cli_shaset;

/* Adds hex (64 lower-case hex digits) with flags. 0; 1 if hex is
 * malformed (nothing added); -1 if memory ran out. */
int cli_shaset_add(cli_shaset *s, const char *hex, unsigned char flags);
/* Sorts the set (and merges nothing: add each digest once). */
void cli_shaset_sort(cli_shaset *s);
/* The entry for hex in a sorted set, or NULL (also for malformed hex). */
cli_shaent *cli_shaset_find(cli_shaset *s, const char *hex);
void cli_shaset_free(cli_shaset *s);
/* Writes the 64 hex digits of e->sha (and a NUL) to hex. */
void cli_shaset_hex(const cli_shaent *e, char hex[65]);

#endif
