/* web_search.c - the search page and the search/count API (web_pages.h).
 *
 * Functions: web_search_page, web_search_api, web_count_api; file-local
 * query (the count and the page in one search), fetch (query + scope +
 * filters -> count and one page of hits), run (fetch, then the audit),
 * filters, form, addr_cell, hit_row, search_link, page_link,
 * search_actions (export links, the hold form), results.
 *
 * Parameters: q (the query language), from/to (YYYY-MM-DD: date range),
 * verdict (clean, infected, unscanned), page (1..WEB_MAX_PAGE); the API
 * takes limit (1..500) and offset instead of page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_clock.h"
#include "ms_json.h"
#include "web_archive.h"
#include "web_html.h"
#include "web_pages.h"
#include "web_resp.h"

#define PER_PAGE     50
#define WEB_MAX_PAGE 200
#define API_MAX	     500
#define Q_MAX	     2048

typedef struct search {
	const char *q;
	web_filter f;
	size_t offset, limit;
	uint64_t count;
	ms_hits *hits;
	int64_t ms;
	unsigned status; /* 0 = ok */
	char *err;
} search;

static const char *arg(const web_req *r, const char *name)
{
	const char *v = r->arg(r, name);
	return v ? v : "";
}

/* Date range and verdict fields as query terms. 0, or -1 (bad value). */
static int filters(const web_req *r, search *s)
{
	return web_filter_parse(arg(r, "from"), arg(r, "to"), arg(r, "verdict"),
				&s->f);
}

static void set_err(search *s, unsigned status, const char *msg)
{
	s->status = status;
	free(s->err);
	s->err = strdup(msg);
}

/* One query for the count and, when s->limit, the page (the count is the
 * search's total: one pass over the archive). */
static ms_status_t query(ms_archive *ar, const ms_qnode *q, search *s)
{
	if (!s->limit)
		return ms_archive_count(ar, q, &s->count);
	ms_status_t st =
		ms_archive_search(ar, q, s->offset + s->limit, &s->hits);
	s->count = st ? 0 : ms_hits_total(s->hits);
	return st;
}

/* Fills s's count and hits for r (no audit yet); on error s->status and
 * s->err say why. The handle goes back before the audit: the hits are
 * copies. */
static ms_status_t fetch(web_req *r, search *s)
{
	ms_qnode *q = NULL;
	ms_archive *ar = NULL;
	char *err = NULL;
	ms_status_t st = web_query_build(s->q, s->f.extra, s->f.n_extra,
					 r->user.scope, &q, &err);
	if (st)
		set_err(s, 400, err ? err : "bad query");
	else if ((st = web_archive_get(r->cfg, &ar, &err)))
		set_err(s, 500, "The archive cannot be opened.");
	else if ((st = query(ar, q, s)))
		set_err(s, 500, ms_archive_error(ar));
	web_archive_put(&ar);
	free(err);
	ms_query_free(&q);
	return st;
}

/* Runs s (q, extra, offset, limit set) for r; fills count and hits and
 * audits the search (no line on disk: no result). */
static void run(web_req *r, search *s, const char *action)
{
	int64_t t0 = ms_clock_ms();
	char *aq = NULL;
	if (!fetch(r, s) && (!(aq = web_filter_text(s->q, &s->f)) ||
			     web_audit(r, action, aq, s->count, NULL, 0) < 0)) {
		ms_hits_free(&s->hits);
		set_err(s, 500, "The audit trail cannot be written.");
	}
	free(aq);
	s->ms = ms_clock_ms() - t0;
}

static void fmt_size(char *out, size_t n, uint64_t v)
{
	if (v >= 1024 * 1024)
		snprintf(out, n, "%.1f MB", (double)v / (1024.0 * 1024.0));
	else if (v >= 1024)
		snprintf(out, n, "%.1f kB", (double)v / 1024.0);
	else
		snprintf(out, n, "%llu B", (unsigned long long)v);
}

static void option(ms_buf *b, const char *value, const char *label,
		   const char *cur)
{
	ms_buf_puts(b, "<option value=\"");
	web_esc(b, value);
	ms_buf_printf(b, "\"%s>", strcmp(value, cur) == 0 ? " selected" : "");
	web_esc(b, label);
	ms_buf_puts(b, "</option>");
}

static void input(ms_buf *b, const char *label, const char *type,
		  const char *name, const char *value)
{
	ms_buf_printf(b, "<label>%s<input type=\"%s\" name=\"%s\" value=\"",
		      label, type, name);
	web_esc(b, value);
	ms_buf_puts(b, "\"></label>");
}

static void form(ms_buf *b, const web_req *r)
{
	const char *v = arg(r, "verdict");
	ms_buf_puts(b, "<form class=\"search\" method=\"get\" "
		       "action=\"/search\">");
	input(b, "Query", "search", "q", arg(r, "q"));
	input(b, "From date", "date", "from", arg(r, "from"));
	input(b, "To date", "date", "to", arg(r, "to"));
	ms_buf_puts(b, "<label>Verdict<select name=\"verdict\">");
	option(b, "", "any", v);
	option(b, "clean", "clean", v);
	option(b, "infected", "infected", v);
	option(b, "unscanned", "unscanned", v);
	ms_buf_puts(b, "</select></label><button type=\"submit\">Search"
		       "</button></form>");
	ms_buf_puts(b, "<details class=\"help\"><summary>Query language"
		       "</summary><p><code>invoice march</code> both words; "
		       "<code>\"quarterly report\"</code> a phrase; "
		       "<code>a OR b</code>, <code>NOT spam</code>, "
		       "<code>-spam</code>, <code>(a OR b) c</code>; "
		       "<code>repor*</code> a prefix; <code>from:</code> "
		       "<code>to:</code> <code>cc:</code> <code>rcpt:</code> "
		       "<code>subject:</code> <code>body:</code> "
		       "<code>attachment:</code> <code>virus:</code> "
		       "<code>verdict:infected</code> <code>id:</code>; "
		       "<code>from:@example.org</code> a whole domain; "
		       "<code>date:2002-08-01..2002-08-31</code>, "
		       "<code>size:&gt;1M</code>. <code>*</code> is every "
		       "message.</p></details>");
}

/* An address list cell: one line, cut with an ellipsis by the stylesheet,
 * the whole value in its title. */
static void addr_cell(ms_buf *b, const char *v)
{
	ms_buf_puts(b, "<td class=\"addr\" title=\"");
	web_esc(b, v);
	ms_buf_puts(b, "\">");
	web_esc(b, v);
	ms_buf_puts(b, "</td>");
}

static void hit_row(ms_buf *b, const ms_hit *h)
{
	char date[32], size[32];
	web_html_date(date, sizeof date, h->date);
	fmt_size(size, sizeof size, h->size);
	ms_buf_printf(b, "<tr><td class=\"date\">%s</td>", date);
	addr_cell(b, h->from);
	addr_cell(b, h->to);
	ms_buf_puts(b, "<td class=\"subj\"><a href=\"/message/");
	web_esc(b, h->id);
	ms_buf_puts(b, "\">");
	web_esc(b, *h->subject ? h->subject : "(no subject)");
	ms_buf_printf(b,
		      "</a></td><td class=\"num\">%s</td><td "
		      "class=\"verdict-",
		      size);
	web_esc(b, *h->verdict ? h->verdict : "none");
	ms_buf_puts(b, "\">");
	web_esc(b, *h->verdict ? h->verdict : "-");
	if (*h->virus) {
		ms_buf_puts(b, " (");
		web_esc(b, h->virus);
		ms_buf_puts(b, ")");
	}
	ms_buf_puts(b, "</td></tr>");
}

/* A link to path with the search's parameters, then "&amp;" and more. */
static void search_link(ms_buf *b, const web_req *r, const char *path,
			const char *more, const char *label)
{
	static const char *const keys[] = { "q", "from", "to", "verdict" };
	ms_buf_printf(b, "<a href=\"%s?", path);
	for (size_t i = 0; i < 4; i++) {
		ms_buf_printf(b, "%s=", keys[i]);
		for (const char *s = arg(r, keys[i]); *s; s++)
			ms_buf_printf(b, "%%%02X", (unsigned char)*s);
		ms_buf_puts(b, "&amp;");
	}
	ms_buf_printf(b, "%s\">%s</a>", more, label);
}

/* A link to page p of the same search. */
static void page_link(ms_buf *b, const web_req *r, unsigned p, const char *l)
{
	char more[32];
	snprintf(more, sizeof more, "page=%u", p);
	search_link(b, r, "/search", more, l);
}

/* Export links (auditor, officer) and the hold form (officer). */
static void search_actions(ms_buf *b, const web_req *r, const search *s)
{
	web_role role = r->user.role;
	if (role != WEB_ROLE_AUDITOR && role != WEB_ROLE_OFFICER)
		return;
	ms_buf_puts(b, "<div class=\"actions\"><span>Export these "
		       "messages:</span> ");
	search_link(b, r, "/export", "format=mbox", "mbox (.zip)");
	ms_buf_puts(b, " ");
	search_link(b, r, "/export", "format=eml", ".eml files (.zip)");
	ms_buf_puts(b, "</div>");
	char *text = web_filter_text(s->q, &s->f);
	if (role == WEB_ROLE_OFFICER && text) {
		ms_buf_puts(b, "<details class=\"hold\"><summary>Place a hold "
			       "on this search</summary>");
		web_holds_form(b, &r->user, text);
		ms_buf_puts(b, "</details>");
	}
	free(text);
}

static void results(ms_buf *b, const web_req *r, const search *s, unsigned page)
{
	size_t n = s->hits ? ms_hits_size(s->hits) : 0;
	ms_buf_printf(b, "<p class=\"meta\"><b>%llu</b> messages, %lld ms",
		      (unsigned long long)s->count, (long long)s->ms);
	if (n > s->offset)
		ms_buf_printf(b, "; showing %zu-%zu, newest first",
			      s->offset + 1, n);
	ms_buf_puts(b, "</p><table><thead><tr><th>Date (UTC)</th><th>From"
		       "</th><th>To</th><th>Subject</th><th>Size</th>"
		       "<th>Verdict</th></tr></thead><tbody>");
	for (size_t i = s->offset; i < n; i++)
		hit_row(b, ms_hits_get(s->hits, i));
	if (n <= s->offset)
		ms_buf_puts(b, "<tr><td colspan=\"6\" class=\"empty\">No "
			       "message matches.</td></tr>");
	ms_buf_puts(b, "</tbody></table><div class=\"pager\">");
	if (page > 1)
		page_link(b, r, page - 1, "&larr; newer");
	if (s->offset + PER_PAGE < s->count && page < WEB_MAX_PAGE)
		page_link(b, r, page + 1, "older &rarr;");
	ms_buf_puts(b, "</div>");
}

static unsigned page_arg(const web_req *r)
{
	const char *p = arg(r, "page");
	char *end = NULL;
	unsigned long v = *p ? strtoul(p, &end, 10) : 1;
	return (*p && *end) || v < 1 || v > WEB_MAX_PAGE ? 0 : (unsigned)v;
}

void web_search_page(web_req *r, web_resp *rs)
{
	search s = { .q = arg(r, "q"), .limit = PER_PAGE };
	unsigned page = page_arg(r);
	int asked = r->arg(r, "q") != NULL;
	if (strlen(s.q) > Q_MAX || !page || filters(r, &s) < 0)
		return web_resp_error(rs, 400, "Bad search parameters.");
	s.offset = (size_t)(page - 1) * PER_PAGE;
	if (asked)
		run(r, &s, "search");
	ms_buf *b = &rs->body;
	web_html_head(b, "Search", &r->user);
	ms_buf_puts(b, "<h1>Search the archive</h1>");
	form(b, r);
	if (s.status) {
		rs->status = s.status;
		ms_buf_puts(b, "<p class=\"err\">");
		web_esc(b, s.err);
		ms_buf_puts(b, "</p>");
	} else if (asked) {
		if (s.count)
			search_actions(b, r, &s);
		results(b, r, &s, page);
	}
	web_html_foot(b);
	ms_hits_free(&s.hits);
	free(s.err);
}

static void hit_json(ms_buf *b, const ms_hit *h)
{
	const char *keys[] = { "id",	  "message_id", "from",	 "to",	  "cc",
			       "subject", "verdict",	"virus", "sha256" };
	const char *vals[] = { h->id,	   h->message_id, h->from,
			       h->to,	   h->cc,	  h->subject,
			       h->verdict, h->virus,	  h->sha256 };
	ms_buf_printf(b, "{\"date\":%lld,\"size\":%llu", (long long)h->date,
		      (unsigned long long)h->size);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		ms_buf_printf(b, ",\"%s\":", keys[i]);
		ms_json_string(b, vals[i]);
	}
	ms_buf_puts(b, "}");
}

static long num_arg(const web_req *r, const char *name, long def, long max)
{
	const char *p = arg(r, name);
	char *end = NULL;
	long v = *p ? strtol(p, &end, 10) : def;
	return (*p && *end) || v < 0 || v > max ? -1 : v;
}

void web_search_api(web_req *r, web_resp *rs)
{
	long limit = num_arg(r, "limit", PER_PAGE, API_MAX);
	long offset = num_arg(r, "offset", 0, 100000);
	search s = { .q = arg(r, "q") };
	rs->ctype = "application/json";
	if (limit < 1 || offset < 0 || strlen(s.q) > Q_MAX ||
	    filters(r, &s) < 0)
		return web_resp_json_error(rs, 400, "bad parameters");
	s.limit = (size_t)limit;
	s.offset = (size_t)offset;
	run(r, &s, "search");
	if (s.status) {
		web_resp_json_error(rs, s.status, s.err);
	} else {
		size_t n = s.hits ? ms_hits_size(s.hits) : 0;
		ms_buf_printf(&rs->body,
			      "{\"count\":%llu,\"ms\":%lld,\"hits\":[",
			      (unsigned long long)s.count, (long long)s.ms);
		for (size_t i = s.offset; i < n; i++) {
			if (i > s.offset)
				ms_buf_putc(&rs->body, ',');
			hit_json(&rs->body, ms_hits_get(s.hits, i));
		}
		ms_buf_puts(&rs->body, "]}\n");
	}
	ms_hits_free(&s.hits);
	free(s.err);
}

void web_count_api(web_req *r, web_resp *rs)
{
	search s = { .q = arg(r, "q") };
	rs->ctype = "application/json";
	if (strlen(s.q) > Q_MAX || filters(r, &s) < 0)
		return web_resp_json_error(rs, 400, "bad parameters");
	run(r, &s, "count");
	if (s.status)
		web_resp_json_error(rs, s.status, s.err);
	else
		ms_buf_printf(&rs->body, "{\"count\":%llu,\"ms\":%lld}\n",
			      (unsigned long long)s.count, (long long)s.ms);
	free(s.err);
}
