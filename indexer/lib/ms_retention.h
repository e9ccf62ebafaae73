/* ms_retention.h - retention periods and rules ([retention] in plugin.conf).
 *
 * A period is "0" (keep for ever) or a count and a unit: d (days), w
 * (weeks), m (calendar months), y (calendar years), e.g. "90d", "7y";
 * the count is 1..MS_PERIOD_MAX. A rule is "PERIOD QUERY" (a query of the
 * query language, ms_query.h), e.g. "90d verdict:infected". Every message
 * gets the longest period among the rules its query matches ("0" is longer
 * than any other), or the default period when no rule matches; it expires
 * once its archive date is before now minus that period (calendar
 * arithmetic in UTC; a month or year back from the 31st or 29 February
 * lands on the last day of the shorter month).
 *
 * Ownership: a parsed rule or policy belongs to the caller (free with
 * ms_retention_rule_free / ms_retention_free). Messages ("why") are one
 * line, appended to the caller's buffer. Nothing prints.
 */
#ifndef MS_RETENTION_H
#define MS_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_query.h"
#include "ms_status.h"

#define MS_PERIOD_MAX	  9999
#define MS_PERIOD_FOREVER INT64_MIN /* the cutoff of "0": nothing is older */

typedef struct ms_period {
	unsigned n; /* 0 = for ever */
	char unit;  /* 'd', 'w', 'm', 'y'; 0 when n is 0 */
} ms_period;

typedef struct ms_retention_rule {
	ms_period period;
	char *text; /* the whole rule as written ("90d verdict:x") */
	const char *query_text; /* the query part, inside text */
	ms_qnode *query;
} ms_retention_rule;

typedef struct ms_retention {
	ms_period def; /* [retention] default */
	ms_retention_rule *rules;
	size_t n_rules;
} ms_retention;

/* Parses a period. MS_OK with *p_r set, or MS_ERR_CONFIG with the reason
 * appended to why (if why). */
ms_status_t ms_period_parse(const char *s, ms_period *p_r, ms_buf *why);
/* Writes p as it is written in the config ("0", "90d"); buf of 16. */
void ms_period_format(const ms_period *p, char buf[16]);
/* The cutoff of p at time now (seconds since the epoch, UTC): a message
 * dated strictly before it has outlived p. MS_PERIOD_FOREVER for "0". */
int64_t ms_period_cutoff(const ms_period *p, int64_t now);

/* Parses one rule. MS_OK with *r filled (free with
 * ms_retention_rule_free), MS_ERR_CONFIG (why: which part is wrong, e.g.
 * "query: unknown field 'x' at column 1"; *r zeroed) or MS_ERR_NOMEM. */
ms_status_t ms_retention_rule_parse(const char *text, ms_retention_rule *r,
				    ms_buf *why);
void ms_retention_rule_free(ms_retention_rule *r);

/* Checks a value for the config table ([retention] rule and default):
 * MS_OK, MS_ERR_CONFIG (why appended: what is wanted), MS_ERR_NOMEM. */
ms_status_t ms_retention_rule_check(const char *text, ms_buf *why);
ms_status_t ms_period_check(const char *text, ms_buf *why);

/* Builds the policy from the default period and the NULL-terminated rule
 * texts (as the config holds them). MS_OK with *r_r (free with
 * ms_retention_free), MS_ERR_CONFIG (*err_r: "rule N: why" or "default:
 * why", caller frees), MS_ERR_NOMEM. */
ms_status_t ms_retention_load(const char *def, char *const *rules,
			      ms_retention **r_r, char **err_r);
void ms_retention_free(ms_retention **r);

/* The rule that decides for a message: matched[i] is nonzero when the
 * message matches rule i. Returns the index of the rule with the longest
 * period (the first such rule in file order on ties), or -1 for the
 * default when none matches; *cutoff_r gets the cutoff at now. */
long ms_retention_pick(const ms_retention *r, const unsigned char *matched,
		       int64_t now, int64_t *cutoff_r);

#endif
