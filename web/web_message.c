/* web_message.c - the message page, its downloads and the message API
 * (web_pages.h).
 *
 * Functions: web_message_page, web_message_raw, web_message_part,
 * web_message_html, web_message_api; file-local load (the scoped lookup,
 * the raw bytes and the audit line), envelope, headers, parts.
 *
 * A message outside the user's scope is answered exactly like a missing
 * one (404). HTML parts are shown as text, and in an iframe with an
 * empty sandbox attribute (no scripts, forms, popups or same origin)
 * whose document carries WEB_CSP_MAIL: nothing in it can run, submit or
 * load anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_json.h"
#include "web_archive.h"
#include "web_html.h"
#include "web_mime.h"
#include "web_pages.h"
#include "web_resp.h"

typedef struct loaded {
	ms_hits *hits;
	const ms_hit *hit;
	ms_buf raw;
	web_mime *mime;
} loaded;

static void loaded_free(loaded *l)
{
	web_mime_close(&l->mime);
	ms_buf_free(&l->raw);
	ms_hits_free(&l->hits);
}

/* Finds id in scope, reads it, audits the access. 0, or the status. */
static unsigned load(web_req *r, const char *id, loaded *l, int parse)
{
	ms_archive *ar = NULL;
	char *err = NULL;
	unsigned status = 0;
	memset(l, 0, sizeof *l);
	ms_status_t st = web_archive_get(r->cfg, &ar, &err);
	if (!st)
		st = web_archive_hit(ar, r->user.scope, id, &l->hits);
	if (!st)
		st = ms_archive_show(ar, ms_hits_get(l->hits, 0)->id, &l->raw);
	if (st)
		status = st == MS_ERR_NOTFOUND ? 404 : 500;
	const char *ids[1] = { id };
	if (!status && web_audit(r, "show", NULL, 1, ids, 1) < 0)
		status = 500;
	if (!status && parse &&
	    !(l->mime = web_mime_open(l->raw.data, l->raw.len)))
		status = 500;
	if (!status)
		l->hit = ms_hits_get(l->hits, 0);
	free(err);
	web_archive_put(&ar);
	if (status)
		loaded_free(l);
	return status;
}

static void load_error(web_resp *rs, unsigned status, int api)
{
	const char *msg = status == 404 ? "No such message." : "Server error.";
	if (api)
		web_resp_json_error(rs, status, msg);
	else
		web_resp_error(rs, status, msg);
}

static void dd(ms_buf *b, const char *label, const char *value)
{
	ms_buf_printf(b, "<dt>%s</dt><dd>", label);
	web_esc(b, *value ? value : "-");
	ms_buf_puts(b, "</dd>");
}

static void envelope(ms_buf *b, const ms_hit *h)
{
	char date[40] = "-";
	time_t t = (time_t)h->date;
	struct tm tm;
	if (h->date > 0 && gmtime_r(&t, &tm))
		strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
	ms_buf_puts(b, "<h2>Envelope</h2><dl class=\"env\">");
	dd(b, "Archive id", h->id);
	dd(b, "Date", date);
	dd(b, "Envelope sender", h->sender);
	dd(b, "Recipients", h->rcpts);
	dd(b, "Client", h->client);
	dd(b, "Queue id", h->queue_id);
	dd(b, "Verdict", h->verdict);
	dd(b, "Virus", h->virus);
	dd(b, "SHA-256", h->sha256);
	ms_buf_printf(b, "<dt>Size</dt><dd>%llu bytes</dd></dl>",
		      (unsigned long long)h->size);
}

static void header_row(const char *name, const char *value, void *ctx)
{
	ms_buf *b = ctx;
	ms_buf_puts(b, "<tr><th>");
	web_esc(b, name);
	ms_buf_puts(b, "</th><td>");
	web_esc(b, value);
	ms_buf_puts(b, "</td></tr>");
}

static void part_link(ms_buf *b, const char *id, size_t n, const char *kind)
{
	ms_buf_puts(b, "/message/");
	web_esc(b, id);
	ms_buf_printf(b, "/%s/%zu", kind, n);
}

static void text_part(ms_buf *b, const loaded *l, size_t n,
		      const web_part_info *pi)
{
	ms_buf text = MS_BUF_INIT;
	web_mime_part_text(l->mime, n, 0, &text);
	ms_buf_printf(b, "<h2>Part %zu: %s%s</h2>", n, pi->type,
		      pi->is_html ? " (shown as text)" : "");
	ms_buf_puts(b, "<pre class=\"text\">");
	web_esc_n(b, text.data ? text.data : "", text.len);
	ms_buf_puts(b, "</pre>");
	if (pi->is_html) {
		ms_buf_puts(b, "<p class=\"meta\">As sent (sandboxed: no "
			       "scripts, forms or remote content):</p>"
			       "<iframe class=\"mail\" sandbox "
			       "referrerpolicy=\"no-referrer\" src=\"");
		part_link(b, l->hit->id, n, "html");
		ms_buf_puts(b, "\" title=\"HTML part\"></iframe>");
	}
	ms_buf_free(&text);
}

static void parts(ms_buf *b, const loaded *l)
{
	size_t n = web_mime_parts(l->mime), n_att = 0;
	web_part_info pi;
	for (size_t i = 1; i <= n; i++)
		if (web_mime_part_info(l->mime, i, &pi) == 0 && pi.is_text)
			text_part(b, l, i, &pi);
	ms_buf_puts(b, "<h2>Attachments</h2><table><thead><tr><th>Part</th>"
		       "<th>Name</th><th>Type</th></tr></thead><tbody>");
	for (size_t i = 1; i <= n; i++) {
		if (web_mime_part_info(l->mime, i, &pi) || !pi.attachment)
			continue;
		n_att++;
		ms_buf_printf(b, "<tr><td>%zu</td><td><a href=\"", i);
		part_link(b, l->hit->id, i, "part");
		ms_buf_puts(b, "\">");
		web_esc(b, *pi.name ? pi.name : "(no name)");
		ms_buf_puts(b, "</a></td><td>");
		web_esc(b, pi.type);
		ms_buf_puts(b, "</td></tr>");
	}
	if (!n_att)
		ms_buf_puts(b, "<tr><td colspan=\"3\">none</td></tr>");
	ms_buf_puts(b, "</tbody></table>");
}

void web_message_page(web_req *r, web_resp *rs, const char *id)
{
	loaded l;
	unsigned status = load(r, id, &l, 1);
	if (status)
		return load_error(rs, status, 0);
	ms_buf *b = &rs->body;
	web_html_head(b, *l.hit->subject ? l.hit->subject : "Message",
		      &r->user);
	ms_buf_puts(b, "<h1>");
	web_esc(b, *l.hit->subject ? l.hit->subject : "(no subject)");
	ms_buf_puts(b, "</h1><p><a href=\"/message/");
	web_esc(b, l.hit->id);
	ms_buf_puts(b, "/raw\">Download original (.eml)</a></p>");
	envelope(b, l.hit);
	ms_buf_puts(b, "<h2>Headers</h2><table class=\"headers\"><tbody>");
	web_mime_headers(l.mime, header_row, b);
	ms_buf_puts(b, "</tbody></table>");
	parts(b, &l);
	web_html_foot(b);
	loaded_free(&l);
}

/* A download: bytes, type octet-stream, attachment with a safe name. */
static void download(web_resp *rs, ms_buf *bytes, const char *name,
		     const char *ext)
{
	char safe[128];
	size_t o = 0;
	for (const char *s = name; *s && o + 1 < sizeof safe - 8; s++)
		safe[o++] = (char)((*s >= 'a' && *s <= 'z') ||
						   (*s >= 'A' && *s <= 'Z') ||
						   (*s >= '0' && *s <= '9') ||
						   *s == '.' || *s == '-'
					   ? *s
					   : '_');
	safe[o] = '\0';
	rs->ctype = "application/octet-stream";
	snprintf(rs->disposition, sizeof rs->disposition,
		 "attachment; filename=\"%s%s\"", *safe ? safe : "part", ext);
	ms_buf_free(&rs->body);
	rs->body = *bytes;
	memset(bytes, 0, sizeof *bytes);
}

void web_message_raw(web_req *r, web_resp *rs, const char *id)
{
	loaded l;
	unsigned status = load(r, id, &l, 0);
	if (status)
		return load_error(rs, status, 0);
	download(rs, &l.raw, id, ".eml");
	loaded_free(&l);
}

void web_message_part(web_req *r, web_resp *rs, const char *id, unsigned part)
{
	loaded l;
	web_part_info pi;
	ms_buf bytes = MS_BUF_INIT;
	unsigned status = load(r, id, &l, 1);
	if (!status && (web_mime_part_info(l.mime, part, &pi) < 0 ||
			web_mime_part_bytes(l.mime, part, &bytes) < 0))
		status = 404;
	if (status) {
		load_error(rs, status, 0);
	} else {
		download(rs, &bytes, *pi.name ? pi.name : id, "");
	}
	ms_buf_free(&bytes);
	loaded_free(&l);
}

void web_message_html(web_req *r, web_resp *rs, const char *id, unsigned part)
{
	loaded l;
	web_part_info pi;
	unsigned status = load(r, id, &l, 1);
	if (!status && (web_mime_part_info(l.mime, part, &pi) < 0 ||
			!pi.is_html || !pi.is_text))
		status = 404;
	if (!status) {
		rs->csp = WEB_CSP_MAIL;
		if (web_mime_part_text(l.mime, part, 1, &rs->body) < 0)
			status = 500;
	}
	if (status)
		load_error(rs, status, 0);
	loaded_free(&l);
}

static void json_kv(ms_buf *b, const char *k, const char *v, int comma)
{
	ms_buf_printf(b, "%s\"%s\":", comma ? "," : "", k);
	ms_json_string(b, v);
}

static void parts_json(ms_buf *b, const loaded *l)
{
	size_t n = web_mime_parts(l->mime);
	web_part_info pi;
	ms_buf_puts(b, ",\"parts\":[");
	for (size_t i = 1; i <= n; i++) {
		ms_buf text = MS_BUF_INIT;
		web_mime_part_info(l->mime, i, &pi);
		if (pi.is_text)
			web_mime_part_text(l->mime, i, 0, &text);
		ms_buf_printf(b, "%s{\"part\":%zu", i > 1 ? "," : "", i);
		json_kv(b, "type", pi.type, 1);
		json_kv(b, "name", pi.name, 1);
		ms_buf_printf(b, ",\"attachment\":%s",
			      pi.attachment ? "true" : "false");
		if (pi.is_text)
			json_kv(b, "text", text.data ? text.data : "", 1);
		ms_buf_puts(b, "}");
		ms_buf_free(&text);
	}
	ms_buf_puts(b, "]");
}

void web_message_api(web_req *r, web_resp *rs, const char *id)
{
	loaded l;
	unsigned status = load(r, id, &l, 1);
	if (status)
		return load_error(rs, status, 1);
	const ms_hit *h = l.hit;
	ms_buf *b = &rs->body;
	rs->ctype = "application/json";
	ms_buf_printf(b, "{\"date\":%lld,\"size\":%llu", (long long)h->date,
		      (unsigned long long)h->size);
	json_kv(b, "id", h->id, 1);
	json_kv(b, "message_id", h->message_id, 1);
	json_kv(b, "from", h->from, 1);
	json_kv(b, "to", h->to, 1);
	json_kv(b, "cc", h->cc, 1);
	json_kv(b, "subject", h->subject, 1);
	json_kv(b, "sender", h->sender, 1);
	json_kv(b, "rcpts", h->rcpts, 1);
	json_kv(b, "client", h->client, 1);
	json_kv(b, "queue_id", h->queue_id, 1);
	json_kv(b, "verdict", h->verdict, 1);
	json_kv(b, "virus", h->virus, 1);
	json_kv(b, "sha256", h->sha256, 1);
	parts_json(b, &l);
	ms_buf_puts(b, "}\n");
	loaded_free(&l);
}
