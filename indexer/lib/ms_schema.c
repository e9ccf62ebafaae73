/* ms_schema.c - the field table (see ms_schema.h). */
#include "ms_schema.h"

#include <stddef.h>
#include <strings.h>

static const ms_field fields[] = {
	{ "body", "", MS_KIND_TEXT, -1, 1 },
	{ "subject", "S", MS_KIND_TEXT, -1, 1 },
	{ "from", "F", MS_KIND_ADDR, -1, 1 },
	{ "to", "T", MS_KIND_ADDR, -1, 1 },
	{ "cc", "C", MS_KIND_ADDR, -1, 1 },
	{ "bcc", "XB", MS_KIND_ADDR, -1, 0 },
	{ "attachment", "XA", MS_KIND_TEXT, -1, 1 },
	{ "id", MS_PREFIX_ID, MS_KIND_EXACT, -1, 0 },
	{ "rcpt", "XR", MS_KIND_ADDR, -1, 0 },
	{ "sender", "XE", MS_KIND_ADDR, -1, 0 },
	{ "client", "XC", MS_KIND_TEXT, -1, 0 },
	{ "virus", "XV", MS_KIND_TEXT, -1, 0 },
	{ "verdict", "XD", MS_KIND_EXACT, -1, 0 },
	{ "queueid", "XQ", MS_KIND_EXACT, -1, 0 },
	{ "extract", "XT", MS_KIND_EXACT, -1,
	  0 }, /* yes failed encrypted none */
	{ "date", NULL, MS_KIND_RANGE, MS_SLOT_DATE, 0 },
	{ "size", NULL, MS_KIND_RANGE, MS_SLOT_SIZE, 0 },
	{ NULL, NULL, MS_KIND_TEXT, -1, 0 },
};

const ms_field *ms_schema_field(const char *name)
{
	for (const ms_field *f = fields; f->name; f++)
		if (strcasecmp(f->name, name) == 0)
			return f;
	return NULL;
}

const ms_field *ms_schema_fields(void)
{
	return fields;
}
