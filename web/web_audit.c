/* web_audit.c - the audit trail page for officers (web_pages.h): the
 * chain's state (ms_audit_verify) and the newest WEB_AUDIT_SHOW lines,
 * every value escaped.
 *
 * Functions: web_audit_page; file-local ids_cell, keep_line. The trail is
 * ms_audit_path()'s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_audit.h"
#include "web_form.h"
#include "web_html.h"
#include "web_pages.h"
#include "web_resp.h"

#define WEB_AUDIT_SHOW 200
#define WEB_AUDIT_IDS  3 /* ids shown per line */

typedef struct ring {
	ms_buf rows[WEB_AUDIT_SHOW];
	size_t n; /* lines seen */
} ring;

/* The first WEB_AUDIT_IDS ids of a line, linked when they are ids. */
static void ids_cell(ms_buf *b, const ms_audit_rec *rec)
{
	for (size_t i = 0; i < rec->n_ids && i < WEB_AUDIT_IDS; i++) {
		int link = web_form_ident(rec->ids[i], 128);
		if (link) {
			ms_buf_puts(b, "<a href=\"/message/");
			web_esc(b, rec->ids[i]);
			ms_buf_puts(b, "\">");
		}
		web_esc(b, rec->ids[i]);
		ms_buf_puts(b, link ? "</a> " : " ");
	}
	if (rec->n_ids > WEB_AUDIT_IDS)
		ms_buf_printf(b, "+%zu more", rec->n_ids - WEB_AUDIT_IDS);
}

static int keep_line(const char *line, size_t len, const ms_audit_rec *rec,
		     void *ctx)
{
	ring *g = ctx;
	ms_buf *b = &g->rows[g->n++ % WEB_AUDIT_SHOW];
	ms_buf_reset(b);
	if (!rec) {
		ms_buf_puts(b, "<tr><td colspan=\"7\" class=\"err\">");
		web_esc_n(b, line, len);
		ms_buf_puts(b, "</td></tr>");
		return 0;
	}
	ms_buf_printf(b, "<tr><td class=\"date\">");
	web_esc(b, rec->time);
	ms_buf_puts(b, "</td><td>");
	web_esc(b, rec->user);
	ms_buf_puts(b, "</td><td>");
	web_esc(b, rec->client);
	ms_buf_puts(b, "</td><td>");
	web_esc(b, rec->action);
	ms_buf_puts(b, "</td><td>");
	web_esc(b, rec->query ? rec->query : "");
	ms_buf_printf(b, "</td><td class=\"num\">%llu</td><td>",
		      (unsigned long long)rec->matched);
	ids_cell(b, rec);
	ms_buf_puts(b, "</td></tr>");
	return 0;
}

void web_audit_page(web_req *r, web_resp *rs)
{
	char *path = ms_audit_path(r->cfg), *err = NULL;
	ms_audit_report rep;
	ring *g = calloc(1, sizeof *g);
	memset(&rep, 0, sizeof rep);
	if (!path || !g || ms_audit_verify(path, &rep, &err) ||
	    ms_audit_each(path, keep_line, g, &err)) {
		web_resp_error(rs, 500, err ? err : "cannot read the trail");
	} else {
		ms_buf *b = &rs->body;
		web_html_head(b, "Audit trail", &r->user);
		ms_buf_printf(b,
			      "<h1>Audit trail</h1><p class=\"meta\">%llu "
			      "lines; chain: ",
			      (unsigned long long)rep.lines);
		web_esc(b, rep.state == MS_AUDIT_INTACT ? "intact"
			   : *rep.message		? rep.message
							: "damaged");
		ms_buf_puts(b,
			    "</p><table "
			    "class=\"audit\"><thead><tr><th>Time</th><th>User"
			    "</th><th>Client</th><th>Action</th><th>Query"
			    "</th><th>Matched</th><th>Messages</th></tr>"
			    "</thead><tbody>");
		for (size_t i = g->n; i-- > 0 && g->n - i <= WEB_AUDIT_SHOW;)
			ms_buf_append(b, g->rows[i % WEB_AUDIT_SHOW].data,
				      g->rows[i % WEB_AUDIT_SHOW].len);
		ms_buf_puts(b, "</tbody></table>");
		web_html_foot(b);
	}
	for (size_t i = 0; g && i < WEB_AUDIT_SHOW; i++)
		ms_buf_free(&g->rows[i]);
	free(g);
	free(err);
	free(path);
}
