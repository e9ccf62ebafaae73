/* web_dash.c - the security dashboard (web_pages.h): messages per day
 * and per verdict over the last 30 or 90 days (?days=), the top virus
 * names, and the recipients of one virus (?virus=NAME), all inside the
 * user's scope, drawn as server-rendered SVG (no script).
 *
 * Functions: web_dash_page; file-local count_of, per_day, bar_chart,
 * virus_table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "web_archive.h"
#include "web_html.h"
#include "web_pages.h"
#include "web_resp.h"

#define MAX_DAYS  90
#define TOP_VIRUS 10

static const char *const verdicts[] = { "clean", "infected", "unscanned" };

/* Messages matching the extra terms t1 and t2 (each may be NULL) in r's
 * scope. */
static uint64_t count_of(web_req *r, ms_archive *ar, const char *t1,
			 const char *t2)
{
	const char *extra[2];
	size_t n_extra = 0;
	ms_qnode *q = NULL;
	uint64_t n = 0;
	if (t1)
		extra[n_extra++] = t1;
	if (t2)
		extra[n_extra++] = t2;
	if (web_query_build("*", extra, n_extra, r->user.scope, &q, NULL) ==
	    MS_OK)
		ms_archive_count(ar, q, &n);
	ms_query_free(&q);
	return n;
}

static void per_day(web_req *r, ms_archive *ar, unsigned days, uint64_t *v,
		    char (*label)[11])
{
	time_t now = time(NULL);
	for (unsigned i = 0; i < days; i++) {
		time_t t = now - (time_t)(days - 1 - i) * 86400;
		struct tm tm;
		char term[32];
		gmtime_r(&t, &tm);
		strftime(label[i], 11, "%Y-%m-%d", &tm);
		snprintf(term, sizeof term, "date:%.10s", label[i]);
		v[i] = count_of(r, ar, term, NULL);
	}
}

static void bar_chart(ms_buf *b, const uint64_t *v, char (*label)[11],
		      unsigned n)
{
	uint64_t max = 1;
	for (unsigned i = 0; i < n; i++)
		max = v[i] > max ? v[i] : max;
	unsigned w = 900, h = 180, bw = w / n;
	ms_buf_printf(b,
		      "<svg width=\"%u\" height=\"%u\" role=\"img\" "
		      "aria-label=\"messages per day\" "
		      "xmlns=\"http://www.w3.org/2000/svg\">",
		      w + 20, h + 40);
	for (unsigned i = 0; i < n; i++) {
		unsigned bh = (unsigned)(v[i] * h / max);
		ms_buf_printf(b,
			      "<rect x=\"%u\" y=\"%u\" width=\"%u\" "
			      "height=\"%u\" fill=\"#2b5797\"><title>%s: "
			      "%llu</title></rect>",
			      10 + i * bw, 10 + h - bh, bw > 2 ? bw - 2 : 1, bh,
			      label[i], (unsigned long long)v[i]);
	}
	ms_buf_printf(b,
		      "<text x=\"10\" y=\"%u\" font-size=\"11\">%s</text>"
		      "<text x=\"%u\" y=\"%u\" font-size=\"11\" "
		      "text-anchor=\"end\">%s</text><text x=\"12\" y=\"22\" "
		      "font-size=\"11\">max %llu/day</text></svg>",
		      h + 30, label[0], w + 10, h + 30, label[n - 1],
		      (unsigned long long)max);
}

typedef struct vcount {
	char name[128];
	uint64_t n;
} vcount;

static int by_count(const void *a, const void *b)
{
	const vcount *x = a, *y = b;
	return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->name, y->name);
}

/* Tallies the infected hits by virus name; returns how many names. */
static size_t tally(const ms_hits *h, vcount *v, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; h && i < ms_hits_size(h); i++) {
		const char *name = ms_hits_get(h, i)->virus;
		size_t j = 0;
		while (j < n && strcmp(v[j].name, name) != 0)
			j++;
		if (j == n && n < cap) {
			snprintf(v[n].name, sizeof v[0].name, "%s", name);
			v[n++].n = 0;
		}
		if (j < n)
			v[j].n++;
	}
	qsort(v, n, sizeof *v, by_count);
	return n;
}

static void virus_table(web_req *r, ms_buf *b, const ms_hits *h)
{
	vcount v[64];
	size_t n = tally(h, v, 64);
	const char *chosen = r->arg(r, "virus");
	ms_buf_puts(b, "<h2>Top virus names</h2><table><thead><tr><th>Virus"
		       "</th><th>Messages</th></tr></thead><tbody>");
	for (size_t i = 0; i < n && i < TOP_VIRUS; i++) {
		ms_buf_puts(b, "<tr><td><a href=\"/dashboard?virus=");
		for (const char *s = v[i].name; *s; s++)
			ms_buf_printf(b, "%%%02X", (unsigned char)*s);
		ms_buf_puts(b, "\">");
		web_esc(b, *v[i].name ? v[i].name : "(unnamed)");
		ms_buf_printf(b, "</a></td><td class=\"num\">%llu</td></tr>",
			      (unsigned long long)v[i].n);
	}
	ms_buf_puts(b, "</tbody></table>");
	if (!chosen)
		return;
	ms_buf_puts(b, "<h2>Recipients of ");
	web_esc(b, chosen);
	ms_buf_puts(b, "</h2><table><thead><tr><th>Date</th><th>Recipients"
		       "</th><th>To</th><th>Message</th></tr></thead><tbody>");
	for (size_t i = 0; h && i < ms_hits_size(h); i++) {
		const ms_hit *x = ms_hits_get(h, i);
		if (strcmp(x->virus, chosen) != 0)
			continue;
		char d[20];
		web_html_date(d, sizeof d, x->date);
		ms_buf_printf(b, "<tr><td class=\"date\">%s</td><td>", d);
		web_esc(b, x->rcpts);
		ms_buf_puts(b, "</td><td>");
		web_esc(b, x->to);
		ms_buf_puts(b, "</td><td><a href=\"/message/");
		web_esc(b, x->id);
		ms_buf_puts(b, "\">open</a></td></tr>");
	}
	ms_buf_puts(b, "</tbody></table>");
}

/* The verdict cards of range (NULL: the whole archive); their element
 * ids start with "v-" for the whole archive and "p-" for a period. */
static void verdict_cards(web_req *r, ms_archive *ar, ms_buf *b,
			  const char *range)
{
	uint64_t total = count_of(r, ar, range, NULL), known = 0;
	char id = range ? 'p' : 'v';
	ms_buf_printf(b,
		      "<div class=\"cards\"><div class=\"card\" "
		      "id=\"%c-total\"><b>%llu</b>messages</div>",
		      id, (unsigned long long)total);
	for (size_t i = 0; i < 3; i++) {
		char term[32];
		snprintf(term, sizeof term, "verdict:%s", verdicts[i]);
		uint64_t n = count_of(r, ar, range, term);
		known += n;
		ms_buf_printf(b,
			      "<div class=\"card verdict-%s\" id=\"%c-%s\">"
			      "<b>%llu</b>%s</div>",
			      verdicts[i], id, verdicts[i],
			      (unsigned long long)n, verdicts[i]);
	}
	ms_buf_printf(b,
		      "<div class=\"card\" id=\"%c-none\"><b>%llu</b>no "
		      "verdict (imported)</div></div>",
		      id, (unsigned long long)(total - known));
}

void web_dash_page(web_req *r, web_resp *rs)
{
	const char *d = r->arg(r, "days");
	unsigned days = d && strcmp(d, "90") == 0 ? 90 : 30;
	ms_archive *ar = NULL;
	char *err = NULL, range[48];
	uint64_t v[MAX_DAYS];
	char label[MAX_DAYS][11];
	ms_hits *inf = NULL;
	ms_qnode *q = NULL;
	const char *extra[1] = { "verdict:infected" };
	if (web_archive_get(r->cfg, &ar, &err)) {
		free(err);
		return web_resp_error(rs, 500, "The archive cannot be opened.");
	}
	per_day(r, ar, days, v, label);
	snprintf(range, sizeof range, "date:%.10s..%.10s", label[0],
		 label[days - 1]);
	if (web_query_build("*", extra, 1, r->user.scope, &q, NULL) == MS_OK)
		ms_archive_search(ar, q, 0, &inf);
	ms_query_free(&q);
	if (web_audit(r, "count", "dashboard", inf ? ms_hits_size(inf) : 0,
		      NULL, 0) < 0) {
		ms_hits_free(&inf);
		web_archive_put(&ar);
		return web_resp_error(rs, 500,
				      "The audit trail cannot be "
				      "written.");
	}
	ms_buf *b = &rs->body;
	web_html_head(b, "Security dashboard", &r->user);
	ms_buf_printf(b,
		      "<h1>Security dashboard</h1><p class=\"meta\">Last "
		      "%u days (<a href=\"/dashboard?days=30\">30</a> / "
		      "<a href=\"/dashboard?days=90\">90</a>)</p>",
		      days);
	ms_buf_puts(b, "<h2>Whole archive by verdict</h2>");
	verdict_cards(r, ar, b, NULL);
	ms_buf_puts(b, "<h2>In this period</h2>");
	verdict_cards(r, ar, b, range);
	ms_buf_puts(b, "<h2>Messages per day</h2>");
	bar_chart(b, v, label, days);
	virus_table(r, b, inf);
	web_html_foot(b);
	ms_hits_free(&inf);
	web_archive_put(&ar);
}
