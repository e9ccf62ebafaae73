/* ms_retention.c - retention periods and rules (see ms_retention.h).
 *
 * Functions: ms_period_parse, ms_period_format, ms_period_cutoff,
 * ms_retention_rule_parse, ms_retention_rule_free,
 * ms_retention_rule_check, ms_period_check, ms_retention_load,
 * ms_retention_free, ms_retention_pick. Calendar arithmetic goes through
 * gmtime_r/timegm, so months and years are real calendar steps.
 */
#include "ms_retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PERIOD_WANT                                                            \
	"period: want 0 or a count with d, w, m or y, e.g. 90d or 7y"

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

static ms_status_t bad(ms_buf *why, const char *fmt, const char *arg)
{
	if (why && ms_buf_printf(why, fmt, arg))
		return MS_ERR_NOMEM;
	return MS_ERR_CONFIG;
}

ms_status_t ms_period_parse(const char *s, ms_period *p_r, ms_buf *why)
{
	ms_period p = { 0, 0 };
	size_t i = 0;
	unsigned long n = 0;
	while (s[i] >= '0' && s[i] <= '9' && i < 6)
		n = n * 10 + (unsigned long)(s[i++] - '0');
	if (i == 0)
		return bad(why, "%s", PERIOD_WANT);
	if (n == 0 && s[i] == '\0') {
		*p_r = p;
		return MS_OK;
	}
	if (n == 0 || n > MS_PERIOD_MAX || !strchr("dwmy", s[i]) || !s[i] ||
	    s[i + 1] != '\0')
		return bad(why, "%s", PERIOD_WANT);
	p.n = (unsigned)n;
	p.unit = s[i];
	*p_r = p;
	return MS_OK;
}

void ms_period_format(const ms_period *p, char buf[16])
{
	if (!p->n)
		snprintf(buf, 16, "0");
	else
		snprintf(buf, 16, "%u%c", p->n % 100000, p->unit);
}

/* Days in month mon (0-based) of year (1900-based tm_year). */
static int month_days(int year, int mon)
{
	struct tm a = { .tm_year = year, .tm_mon = mon, .tm_mday = 1 };
	struct tm b = { .tm_year = year, .tm_mon = mon + 1, .tm_mday = 1 };
	return (int)((timegm(&b) - timegm(&a)) / 86400);
}

int64_t ms_period_cutoff(const ms_period *p, int64_t now)
{
	if (!p->n)
		return MS_PERIOD_FOREVER;
	if (p->unit == 'd' || p->unit == 'w')
		return now - (int64_t)p->n * 86400 * (p->unit == 'w' ? 7 : 1);
	time_t t = (time_t)now;
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return MS_PERIOD_FOREVER; /* out of range: keep */
	int months = tm.tm_year * 12 + tm.tm_mon -
		     (int)p->n * (p->unit == 'y' ? 12 : 1);
	tm.tm_year = months >= 0 ? months / 12 : (months - 11) / 12;
	tm.tm_mon = months - tm.tm_year * 12;
	int last = month_days(tm.tm_year, tm.tm_mon);
	if (tm.tm_mday > last)
		tm.tm_mday = last;
	tm.tm_isdst = 0;
	return (int64_t)timegm(&tm);
}

ms_status_t ms_retention_rule_parse(const char *text, ms_retention_rule *r,
				    ms_buf *why)
{
	memset(r, 0, sizeof *r);
	if (!(r->text = strdup(text)))
		return MS_ERR_NOMEM;
	size_t n = strcspn(r->text, " \t");
	char keep = r->text[n];
	r->text[n] = '\0';
	ms_status_t st = ms_period_parse(r->text, &r->period, why);
	r->text[n] = keep;
	const char *q = r->text + n;
	while (is_space(*q))
		q++;
	if (!st && !*q)
		st = bad(why, "%s",
			 "want PERIOD QUERY, e.g. 90d verdict:infected");
	char *qerr = NULL;
	if (!st && (st = ms_query_parse(q, &r->query, &qerr)) == MS_ERR_QUERY)
		st = bad(why, "query: %s", qerr ? qerr : "bad query");
	free(qerr);
	r->query_text = q;
	if (st)
		ms_retention_rule_free(r);
	return st;
}

void ms_retention_rule_free(ms_retention_rule *r)
{
	ms_query_free(&r->query);
	free(r->text);
	memset(r, 0, sizeof *r);
}

ms_status_t ms_retention_rule_check(const char *text, ms_buf *why)
{
	ms_retention_rule r;
	ms_status_t st = ms_retention_rule_parse(text, &r, why);
	if (!st)
		ms_retention_rule_free(&r);
	return st;
}

ms_status_t ms_period_check(const char *text, ms_buf *why)
{
	ms_period p;
	return ms_period_parse(text, &p, why);
}

/* Sets *err_r to "what: why" and returns st. */
static ms_status_t load_fail(ms_status_t st, char **err_r, const char *what,
			     const ms_buf *why)
{
	if (err_r && asprintf(err_r, "%s: %s", what,
			      why->data ? why->data : "out of memory") < 0)
		*err_r = NULL;
	return st;
}

ms_status_t ms_retention_load(const char *def, char *const *rules,
			      ms_retention **r_r, char **err_r)
{
	size_t n = 0;
	while (rules && rules[n])
		n++;
	*r_r = NULL;
	if (err_r)
		*err_r = NULL;
	ms_retention *r = calloc(1, sizeof *r);
	if (!r || !(r->rules = calloc(n + 1, sizeof *r->rules))) {
		free(r);
		return MS_ERR_NOMEM;
	}
	ms_buf why = MS_BUF_INIT;
	ms_status_t st = ms_period_parse(def, &r->def, &why);
	if (st)
		load_fail(st, err_r, "default", &why);
	for (; !st && r->n_rules < n; r->n_rules++) {
		if ((st = ms_retention_rule_parse(
			     rules[r->n_rules], &r->rules[r->n_rules], &why))) {
			char what[32];
			snprintf(what, sizeof what, "rule %zu", r->n_rules + 1);
			load_fail(st, err_r, what, &why);
		}
	}
	ms_buf_free(&why);
	if (st)
		ms_retention_free(&r);
	*r_r = r;
	return st;
}

void ms_retention_free(ms_retention **rp)
{
	ms_retention *r = *rp;
	if (!r)
		return;
	for (size_t i = 0; i < r->n_rules; i++)
		ms_retention_rule_free(&r->rules[i]);
	free(r->rules);
	free(r);
	*rp = NULL;
}

long ms_retention_pick(const ms_retention *r, const unsigned char *matched,
		       int64_t now, int64_t *cutoff_r)
{
	long best = -1;
	int64_t cut = 0;
	for (size_t i = 0; i < r->n_rules; i++) {
		if (!matched[i])
			continue;
		int64_t c = ms_period_cutoff(&r->rules[i].period, now);
		if (best < 0 || c < cut) {
			best = (long)i;
			cut = c;
		}
	}
	*cutoff_r = best < 0 ? ms_period_cutoff(&r->def, now) : cut;
	return best;
}
