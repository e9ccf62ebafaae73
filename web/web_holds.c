/* web_holds.c - legal holds in the console (web_pages.h), over ms_hold.h.
 *
 *   GET  /holds           the list (auditor, officer): name, state, the
 *                         messages it covers now in the user's scope,
 *                         query, reason, who placed/released it and when,
 *                         links to search and export it; for officers the
 *                         "place a hold" form and a release form per hold
 *   POST /holds/add       name, query, reason (officer)
 *   POST /holds/release   name, reason (officer)
 *
 * A scoped officer's hold is stored as "(QUERY) (SCOPE)" (QUERY must
 * parse alone, so it is one group and cannot break out), so it can never
 * hold mail outside the scope; a scoped user sees, exports and releases
 * only holds stored that way with their own scope (web_hold_visible). Audit
 * lines (web_audit: the web user and address): "count" for the list before it
 * is shown; "hold-add" and "hold-release" under the holds lock, after the
 * change was checked and before it is written (no line, no change), with the
 * query "hold NAME: QUERY" and the messages covered - the CLI's form.
 *
 * Functions: web_holds_page, web_holds_add, web_holds_release,
 * web_holds_form, web_hold_visible; file-local covered, hold_row,
 * before_change, change_status, stored_query, visible_by_name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_hold.h"
#include "ms_log.h"
#include "web_archive.h"
#include "web_form.h"
#include "web_html.h"
#include "web_pages.h"
#include "web_resp.h"

#define Q_MAX 2048

int web_hold_visible(const web_user *u, const ms_hold *h)
{
	ms_buf s = MS_BUF_INIT;
	int ok = !*u->scope;
	if (!ok && web_scope_text(u->scope, &s) == MS_OK && s.data) {
		size_t n = strlen(h->query), m = s.len + 3; /* " (" s ")" */
		ok = n > m + 2 && h->query[0] == '(' &&
		     h->query[n - 1] == ')' &&
		     memcmp(h->query + n - m, " (", 2) == 0 &&
		     memcmp(h->query + n - m + 2, s.data, s.len) == 0;
	}
	ms_buf_free(&s);
	return ok;
}

/* Messages query matches now in scope; 0 if it cannot count. */
static uint64_t covered(ms_archive *ar, const char *scope, const char *query)
{
	ms_qnode *q = NULL;
	uint64_t n = 0;
	if (web_query_build(query, NULL, 0, scope, &q, NULL) ||
	    ms_archive_count(ar, q, &n))
		n = 0;
	ms_query_free(&q);
	return n;
}

/* "/search?q=QUERY" or "/export?hold=NAME&format=F", escaped for an
 * attribute. */
static void url_arg(ms_buf *b, const char *s)
{
	for (; *s; s++)
		ms_buf_printf(b, "%%%02X", (unsigned char)*s);
}

static void actions(ms_buf *b, const web_user *u, const ms_hold *h)
{
	ms_buf_puts(b, "<td class=\"acts\"><a href=\"/search?q=");
	url_arg(b, h->query);
	ms_buf_puts(b, "\">search</a> <a href=\"/export?format=mbox&amp;hold=");
	url_arg(b, h->name);
	ms_buf_puts(b, "\">export mbox</a> <a href=\"/export?format=eml&amp;"
		       "hold=");
	url_arg(b, h->name);
	ms_buf_puts(b, "\">export .eml</a>");
	if (u->role == WEB_ROLE_OFFICER && ms_hold_active(h)) {
		ms_buf_puts(b, "<form class=\"inline\" method=\"post\" "
			       "action=\"/holds/release\">");
		web_html_csrf(b, u);
		ms_buf_puts(b, "<input type=\"hidden\" name=\"name\" value=\"");
		web_esc(b, h->name);
		ms_buf_puts(b, "\"><input name=\"reason\" required "
			       "placeholder=\"reason\" aria-label=\"reason\">"
			       "<button type=\"submit\">Release</button>"
			       "</form>");
	}
	ms_buf_puts(b, "</td>");
}

static void hold_row(ms_buf *b, const web_user *u, const ms_hold *h, uint64_t n)
{
	char at[32], rel[32];
	web_html_date(at, sizeof at, h->at);
	web_html_date(rel, sizeof rel, h->released_at);
	ms_buf_puts(b, "<tr><td class=\"name\">");
	web_esc(b, h->name);
	ms_buf_printf(b,
		      "</td><td class=\"%s\">%s</td><td class=\"num\">"
		      "%llu</td><td class=\"query\">",
		      ms_hold_active(h) ? "active" : "released",
		      ms_hold_active(h) ? "active" : "released",
		      (unsigned long long)n);
	web_esc(b, h->query);
	ms_buf_puts(b, "</td><td>");
	web_esc(b, *h->reason ? h->reason : "-");
	ms_buf_printf(b, "</td><td class=\"date\">%s<br>", at);
	web_esc(b, h->by);
	ms_buf_puts(b, "</td><td class=\"date\">");
	if (!ms_hold_active(h)) {
		ms_buf_printf(b, "%s<br>", rel);
		web_esc(b, h->released_by);
		ms_buf_puts(b, ": ");
		web_esc(b, h->release_reason);
	} else {
		ms_buf_puts(b, "-");
	}
	ms_buf_puts(b, "</td>");
	actions(b, u, h);
	ms_buf_puts(b, "</tr>");
}

void web_holds_form(ms_buf *b, const web_user *u, const char *query)
{
	ms_buf_puts(b, "<form class=\"hold\" method=\"post\" "
		       "action=\"/holds/add\">");
	web_html_csrf(b, u);
	ms_buf_puts(b, "<label>Hold name<input name=\"name\" required "
		       "pattern=\"[A-Za-z0-9_][A-Za-z0-9._\\-]*\" "
		       "maxlength=\"64\"></label><label>Query<input "
		       "name=\"query\" required value=\"");
	web_esc(b, query);
	ms_buf_puts(b, "\"></label><label>Reason<input name=\"reason\" "
		       "maxlength=\"1000\"></label><button type=\"submit\">"
		       "Place hold</button></form>");
}

/* Reads the list and counts what each hold covers. 0, or -1 (rs set). */
static int load_counts(web_req *r, web_resp *rs, ms_holds **h_r, uint64_t **n_r,
		       uint64_t *total)
{
	ms_archive *ar = NULL;
	char *err = NULL;
	*n_r = NULL;
	*total = 0;
	if (ms_holds_load(r->cfg->archive_dir, h_r, &err) ||
	    web_archive_open(r->cfg, &ar, NULL) ||
	    !(*n_r = calloc((*h_r)->n + 1, sizeof **n_r))) {
		web_resp_error(rs, 500, err ? err : "Cannot read the holds.");
		free(err);
		ms_archive_close(&ar);
		ms_holds_free(h_r);
		return -1;
	}
	for (size_t i = 0; i < (*h_r)->n; i++)
		if (web_hold_visible(&r->user, &(*h_r)->v[i]))
			*total += (*n_r)[i] =
				covered(ar, r->user.scope, (*h_r)->v[i].query);
	ms_archive_close(&ar);
	return 0;
}

void web_holds_page(web_req *r, web_resp *rs)
{
	ms_holds *h = NULL;
	uint64_t *n = NULL, total = 0;
	size_t shown = 0;
	if (load_counts(r, rs, &h, &n, &total) < 0)
		return;
	for (size_t i = 0; i < h->n; i++)
		shown += web_hold_visible(&r->user, &h->v[i]);
	if (web_audit(r, "count", "hold list", total, NULL, 0) < 0) {
		web_resp_error(rs, 500, "The audit trail cannot be written.");
	} else {
		ms_buf *b = &rs->body;
		web_html_head(b, "Holds", &r->user);
		ms_buf_puts(b, "<h1>Legal holds</h1>");
		if (r->user.role == WEB_ROLE_OFFICER) {
			ms_buf_puts(b, "<h2>Place a hold</h2>");
			web_holds_form(b, &r->user, "");
		}
		ms_buf_printf(b,
			      "<h2>Holds</h2><p class=\"meta\">%zu holds; "
			      "messages are counted as they match now.</p>",
			      shown);
		ms_buf_puts(b, "<table class=\"holds\"><thead><tr><th>Name</th>"
			       "<th>State</th><th>Messages</th><th>Query</th>"
			       "<th>Reason</th><th>Placed</th><th>Released"
			       "</th><th></th></tr></thead><tbody>");
		for (size_t i = h->n; i-- > 0;)
			if (web_hold_visible(&r->user, &h->v[i]))
				hold_row(b, &r->user, &h->v[i], n[i]);
		if (!shown)
			ms_buf_puts(b, "<tr><td colspan=\"8\" class=\"empty\">"
				       "No holds yet.</td></tr>");
		ms_buf_puts(b, "</tbody></table>");
		web_html_foot(b);
	}
	free(n);
	ms_holds_free(&h);
}

typedef struct change_ctx {
	web_req *r;
	const char *action;
	ms_archive *ar;
} change_ctx;

/* ms_hold_add/ms_hold_release's hook: the audit line, or no change. */
static int before_change(const ms_hold *h, void *ctx)
{
	change_ctx *c = ctx;
	char *q = NULL;
	if (asprintf(&q, "hold %s: %s", h->name, h->query) < 0)
		return -1;
	int rc = web_audit(c->r, c->action, q, covered(c->ar, "", h->query),
			   NULL, 0);
	free(q);
	return rc;
}

/* Answers a change's outcome: back to the list, or an error page. */
static void change_status(web_resp *rs, ms_status_t st, const char *err)
{
	if (!st)
		return web_resp_redirect(rs, "/holds");
	unsigned status = st == MS_ERR_INVALID || st == MS_ERR_QUERY ? 400
			  : st == MS_ERR_NOTFOUND		     ? 404
			  : st == MS_ERR_BUSY			     ? 503
								     : 500;
	if (st == MS_ERR_LIMIT)
		err = "The audit trail cannot be written.";
	else if (status == 500)
		ms_log_error("web hold: %s", err ? err : ms_status_str(st));
	web_resp_error(rs, status, err ? err : ms_status_str(st));
}

/* The query to store: q, and the scope's terms for a scoped user.
 * Caller frees; NULL when out of memory. */
static char *stored_query(const char *q, const char *scope)
{
	ms_buf s = MS_BUF_INIT;
	char *out = NULL;
	if (!*scope)
		return strdup(q);
	if (!web_scope_text(scope, &s) &&
	    asprintf(&out, "(%s) (%s)", q, s.data) < 0)
		out = NULL;
	ms_buf_free(&s);
	return out;
}

/* Opens the archive for the change hook. 0, or -1 with rs set. */
static int open_for_change(web_req *r, web_resp *rs, change_ctx *c,
			   const char *action)
{
	c->r = r;
	c->action = action;
	c->ar = NULL;
	if (web_archive_open(r->cfg, &c->ar, NULL) == MS_OK)
		return 0;
	web_resp_error(rs, 500, "The archive cannot be opened.");
	return -1;
}

void web_holds_add(web_req *r, web_resp *rs)
{
	char name[MS_HOLD_NAME_MAX + 1], q[Q_MAX + 1];
	char reason[MS_HOLD_REASON_MAX + 1], *err = NULL, *stored = NULL;
	change_ctx c;
	if (web_form_get(r->body, r->body_len, "name", name, sizeof name) !=
		    1 ||
	    web_form_get(r->body, r->body_len, "query", q, sizeof q) != 1 ||
	    web_form_get(r->body, r->body_len, "reason", reason,
			 sizeof reason) < 0 ||
	    !q[strspn(q, " \t")])
		return web_resp_error(rs, 400,
				      "Give a hold name (letters, "
				      "digits, . _ -) and a query.");
	ms_qnode *alone = NULL;
	char *qerr = NULL;
	if (ms_query_parse(q, &alone, &qerr)) {
		web_resp_error(rs, 400, qerr ? qerr : "Bad query.");
		free(qerr);
		return;
	}
	ms_query_free(&alone);
	if (!(stored = stored_query(q, r->user.scope)))
		return web_resp_error(rs, 500, "Out of memory.");
	if (open_for_change(r, rs, &c, "hold-add") == 0) {
		ms_hold h = { .name = name,
			      .query = stored,
			      .reason = reason,
			      .by = r->user.name,
			      .at = (int64_t)time(NULL) };
		ms_status_t st = ms_hold_add(r->cfg->archive_dir, &h,
					     before_change, &c, &err);
		change_status(rs, st, err);
	}
	ms_archive_close(&c.ar);
	free(stored);
	free(err);
}

/* 1 if r's user may release the hold called name: always for an
 * unscoped user (ms_hold_release then says whether it exists); for a
 * scoped one only an existing hold within the scope (an unreadable list
 * counts as none). */
static int visible_by_name(const web_req *r, const char *name)
{
	ms_holds *h = NULL;
	char *err = NULL;
	if (!*r->user.scope)
		return 1;
	if (ms_holds_load(r->cfg->archive_dir, &h, &err)) {
		free(err);
		return 0;
	}
	const ms_hold *one = ms_holds_find(h, name);
	int ok = one && web_hold_visible(&r->user, one);
	ms_holds_free(&h);
	return ok;
}

void web_holds_release(web_req *r, web_resp *rs)
{
	char name[MS_HOLD_NAME_MAX + 1], reason[MS_HOLD_REASON_MAX + 1];
	char *err = NULL;
	change_ctx c;
	if (web_form_get(r->body, r->body_len, "name", name, sizeof name) !=
		    1 ||
	    web_form_get(r->body, r->body_len, "reason", reason,
			 sizeof reason) != 1 ||
	    !reason[strspn(reason, " \t")])
		return web_resp_error(rs, 400, "Give the hold and a reason.");
	if (!visible_by_name(r, name))
		return web_resp_error(rs, 404, "No such hold.");
	if (open_for_change(r, rs, &c, "hold-release") == 0) {
		ms_status_t st = ms_hold_release(
			r->cfg->archive_dir, name, r->user.name,
			(int64_t)time(NULL), reason, before_change, &c, &err);
		change_status(rs, st, err);
	}
	ms_archive_close(&c.ar);
	free(err);
}
