/* ms_query.h - the query language for people, parsed to a small tree.
 *
 * Grammar (implicit AND, NOT > AND > OR):
 *   query  := or
 *   or     := and ("OR" and)*
 *   and    := unary (["AND"] unary)*
 *   unary  := ("NOT" | "-") unary | "(" or ")" | field ":" "(" or ")" | atom
 *   atom   := [field ":"] (word | word"*" | "phrase" | range) | "*"
 * Operators are upper case only: "and", "or", "not" are plain words.
 * "-" negates when a term follows it directly ("-spam"); "foo-bar" is a
 * word. Fields are those of ms_schema.h, names case-insensitive. In
 * field:( ... ) the field applies to every atom inside without its own.
 * Free text (no field) searches every field marked freetext. Words and
 * phrases are tokenized with ms_tokenize(), so a word that tokenizes into
 * several terms ("foo-bar", "東京都") is a phrase and one that tokenizes
 * to nothing ("--", "!!!") is dropped; "word*" is a prefix and must be a
 * single term. "*" alone matches every message.
 * "name:value" with an unknown name is an error if the name is all ASCII
 * letters and a value follows that does not start with "/"; otherwise it
 * is text ("http://x", "Re:", "12:30"). Quote text to search it as is.
 * Ranges: date:2002-08-01..2002-09 (YYYY, YYYY-MM or YYYY-MM-DD, UTC;
 * either end may be empty; a single date is that whole day/month/year),
 * size:10k..2M (1024-based k/M/G, any case), size:>1M, size:<=500; a
 * single size is exactly that size; ">", ">=", "<", "<=" work for dates
 * too. Values of EXACT fields (id:<abc@x>) are kept verbatim, and so are
 * address values containing "@" and no space (from:alice@example.org;
 * surrounding "<>" removed): MS_Q_EXACT for whole-term matching, the
 * Xapian shim lower-cases as the field requires. A value containing
 * parentheses or quotes must be quoted: id:"<a(b)@x>".
 */
#ifndef MS_QUERY_H
#define MS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "ms_schema.h"
#include "ms_status.h"

typedef enum ms_qtype {
	MS_Q_ALL,    /* "*": every message */
	MS_Q_AND,    /* all kids */
	MS_Q_OR,     /* any kid */
	MS_Q_NOT,    /* one kid, negated */
	MS_Q_WORDS,  /* terms[0..n): one term, or a phrase if n > 1 */
	MS_Q_PREFIX, /* terms[0] is a folded word prefix ("word*") */
	MS_Q_EXACT,  /* value: a whole exact term (see ms_schema.h) */
	MS_Q_RANGE   /* lo..hi inclusive on field->slot */
} ms_qtype;

typedef struct ms_qnode {
	ms_qtype type;
	const ms_field *field; /* NULL = free text (WORDS/PREFIX only) */
	char **terms;	       /* WORDS, PREFIX: folded terms */
	size_t n_terms;
	char *value;		/* EXACT: the value as typed (unquoted) */
	int64_t lo, hi;		/* RANGE: INT64_MIN / INT64_MAX when open */
	struct ms_qnode **kids; /* AND, OR, NOT */
	size_t n_kids;
} ms_qnode;

/* Parses q. On MS_OK *root_r is a tree the caller frees with
 * ms_query_free(). On MS_ERR_QUERY *err_r (if err_r) is a one-line message
 * naming the problem and its column ("unknown field 'xyz' at column 1");
 * caller frees it with free(). Otherwise *err_r is NULL. MS_ERR_NOMEM
 * possible. On any error *root_r is NULL. A query with no terms at all is
 * MS_ERR_QUERY "empty query"; nesting deeper than 100 is MS_ERR_QUERY. */
ms_status_t ms_query_parse(const char *q, ms_qnode **root_r, char **err_r);

/* Reads one date as the query language writes it (YYYY, YYYY-MM or
 * YYYY-MM-DD, UTC) into [*start_r, *end_r) in epoch seconds: that whole
 * year, month or day. MS_OK, or MS_ERR_QUERY (outputs unchanged). */
ms_status_t ms_query_date(const char *s, int64_t *start_r, int64_t *end_r);

/* Frees a tree and NULLs *root. NULL-safe. */
void ms_query_free(ms_qnode **root);

/* Renders a tree as an S-expression for tests and debugging; caller frees
 * (NULL on ENOMEM, "" for a NULL tree). Forms: (all), (and X Y ...),
 * (or X Y ...), (not X), (words FIELD "t1" "t2" ...), (prefix FIELD "t"),
 * (exact FIELD "value"), (range FIELD LO HI); FIELD is the field name or *
 * for free text, an open range end is *, strings escape " and \ with a
 * backslash and control bytes as \xHH. E.g.
 * (and (words from "alice") (words body "big" "deal")). */
char *ms_query_dump(const ms_qnode *root);

#endif
