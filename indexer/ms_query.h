/* ms_query.h - the query language for people, parsed to a small tree.
 *
 * Grammar (case-insensitive operators, implicit AND, NOT > AND > OR):
 *   query  := or
 *   or     := and ("OR" and)*
 *   and    := unary (["AND"] unary)*
 *   unary  := ("NOT" | "-") unary | "(" or ")" | atom
 *   atom   := [field ":"] (word | word"*" | "phrase" | range) | "*"
 * Fields are those of ms_schema.h. Free text (no field) searches every
 * field marked freetext. A word that tokenizes into several terms
 * ("foo-bar", "東京都") is a phrase. Ranges: date:2002-08-01..2002-09
 * (YYYY, YYYY-MM or YYYY-MM-DD, UTC; either end may be empty; a single date
 * is that whole day/month/year), size:10k..2M, size:>1M, size:<500.
 * Values of EXACT fields and address values containing "@" are kept
 * verbatim (MS_Q_EXACT) for whole-term matching.
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
 * naming the problem and its column; caller frees it with free().
 * MS_ERR_NOMEM possible. A query with no terms at all is MS_ERR_QUERY. */
ms_status_t ms_query_parse(const char *q, ms_qnode **root_r, char **err_r);

/* Frees a tree and NULLs *root. NULL-safe. */
void ms_query_free(ms_qnode **root);

/* Renders a tree as an S-expression for tests and debugging, e.g.
 * (and (words from "alice") (phrase body "big" "deal")); caller frees. */
char *ms_query_dump(const ms_qnode *root);

#endif
