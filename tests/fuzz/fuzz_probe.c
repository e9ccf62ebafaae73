/* fuzz_probe.c - libFuzzer target for the answers `mailsift doctor`
 * parses from other servers: a milter's SMFIC_OPTNEG packet
 * (ms_milter_optneg_parse) and clamd's VERSION line
 * (ms_clamd_version_parse). Neither may crash, read out of bounds or
 * accept a packet whose length field does not match.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_clamd.h"
#include "ms_milter_probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ms_milter_optneg r;
	const char *why = NULL;
	if (ms_milter_optneg_parse(data, size, &r, &why) == 0 &&
	    (size < 17 || ((size_t)data[3] | (size_t)data[2] << 8) + 4 != size))
		abort();
	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	unsigned long db;
	int64_t t;
	(void)ms_clamd_version_parse(line, &db, &t);
	free(line);
	return 0;
}
