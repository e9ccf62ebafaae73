/* ms_schema.h - the archive's fields: query names, Xapian prefixes, kinds.
 *
 * One table, used both when a document is indexed and when a query is
 * translated, so the two can never disagree.
 *   TEXT  - tokenized with positions under the prefix (phrases work)
 *   ADDR  - TEXT of names and addresses, plus one exact term per
 *           lower-cased address (prefix + "alice@example.org")
 *   EXACT - one whole term per value, lower-cased (ids, verdicts)
 *   RANGE - a numeric Xapian value slot (date, size)
 */
#ifndef MS_SCHEMA_H
#define MS_SCHEMA_H

typedef enum ms_field_kind {
	MS_KIND_TEXT,
	MS_KIND_ADDR,
	MS_KIND_EXACT,
	MS_KIND_RANGE
} ms_field_kind;

typedef struct ms_field {
	const char *name;   /* query name, e.g. "from" */
	const char *prefix; /* Xapian term prefix ("" = body) */
	ms_field_kind kind;
	int slot;     /* value slot for RANGE, else -1 */
	int freetext; /* searched by free text without a field name */
} ms_field;

/* Value slots. */
enum { MS_SLOT_DATE = 0, MS_SLOT_SIZE = 1 };

/* Unique id term prefix (the archive id). */
#define MS_PREFIX_ID "Q"
/* Message-ID header (exact, case kept). */
#define MS_PREFIX_MSGID "XM"
/* Traits of the archived text. MS_TRAIT_ASCII_RUNS: the body text is all
 * ASCII with no run of letters and digits longer than MS_TOKEN_MAX, so its
 * body terms are exactly its (lower-cased) runs: the IMAP backend may
 * reuse them (imap-ext/fts-mailsift-reuse.c). */
#define MS_PREFIX_TRAIT	    "XK"
#define MS_TRAIT_ASCII_RUNS "asciiruns"

/* Looks up a field by query name (case-insensitive); NULL if unknown. */
const ms_field *ms_schema_field(const char *name);
/* The whole table, terminated by an entry with name == NULL. */
const ms_field *ms_schema_fields(void);

#endif
