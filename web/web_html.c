/* web_html.c - escaping, the page frame and the stylesheet (web_html.h).
 *
 * Functions: web_esc, web_esc_n, web_html_head, web_html_foot,
 * web_html_csrf, web_html_css, web_html_date. No JavaScript anywhere:
 * navigation is links, logout is a POST form with the CSRF token.
 */
#include "web_html.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "web_users.h"

/* Length of the valid UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80	     ? 1
		     : (s[0] & 0xe0) == 0xc0 ? 2
		     : (s[0] & 0xf0) == 0xe0 ? 3
		     : (s[0] & 0xf8) == 0xf0 ? 4
					     : 0;
	if (len == 0 || len > n || (len == 2 && s[0] < 0xc2))
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((len == 3 && s[0] == 0xe0 && s[1] < 0xa0) ||
	    (len == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (len == 4 && s[0] == 0xf0 && s[1] < 0x90) ||
	    (len == 4 && (s[0] > 0xf4 || (s[0] == 0xf4 && s[1] >= 0x90))))
		return 0;
	return len;
}

static const char *entity(unsigned char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

void web_esc_n(ms_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; s && i < n;) {
		const char *e = entity(p[i]);
		size_t len = utf8_len(p + i, n - i);
		if (e) {
			ms_buf_puts(b, e);
		} else if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			/* CRLF is a line break: shown as the LF alone */
		} else if (len == 0 ||
			   (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') ||
			   p[i] == 0x7f) {
			ms_buf_puts(b, "\xef\xbf\xbd");
			len = 1;
		} else {
			ms_buf_append(b, s + i, len);
		}
		i += len ? len : 1;
	}
}

void web_esc(ms_buf *b, const char *s)
{
	if (s)
		web_esc_n(b, s, strlen(s));
}

static void nav(ms_buf *b, const web_user *u)
{
	ms_buf_puts(b, "<nav><a class=\"brand\" href=\"/search\">mailsift</a>"
		       "<a href=\"/search\">Search</a>");
	if (u->role == WEB_ROLE_SECURITY || u->role == WEB_ROLE_OFFICER)
		ms_buf_puts(b, "<a href=\"/dashboard\">Dashboard</a>");
	if (u->role == WEB_ROLE_AUDITOR || u->role == WEB_ROLE_OFFICER)
		ms_buf_puts(b, "<a href=\"/holds\">Holds</a>");
	if (u->role == WEB_ROLE_OFFICER)
		ms_buf_puts(b, "<a href=\"/audit\">Audit trail</a>");
	ms_buf_puts(b, "<span class=\"who\">");
	web_esc(b, u->name);
	ms_buf_puts(b, " (");
	web_esc(b, web_role_name(u->role));
	if (*u->scope) {
		ms_buf_puts(b, "; scope ");
		web_esc(b, u->scope);
	}
	ms_buf_puts(b, ")</span><form method=\"post\" action=\"/logout\" "
		       "class=\"logout\">");
	web_html_csrf(b, u);
	ms_buf_puts(b, "<button type=\"submit\">Log out</button></form></nav>");
}

void web_html_head(ms_buf *b, const char *title, const web_user *u)
{
	ms_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		       "<meta charset=\"utf-8\"><title>");
	web_esc(b, title);
	ms_buf_puts(b, " - mailsift</title><link rel=\"stylesheet\" "
		       "href=\"/style.css\"></head><body>");
	if (u)
		nav(b, u);
	ms_buf_puts(b, "<main>");
}

void web_html_foot(ms_buf *b)
{
	ms_buf_puts(b, "</main></body></html>\n");
}

void web_html_csrf(ms_buf *b, const web_user *u)
{
	ms_buf_puts(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
	web_esc(b, u->csrf);
	ms_buf_puts(b, "\">");
}

static const char css[] =
	"*{box-sizing:border-box}"
	"body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',"
	"sans-serif;color:#1d2330;background:#f4f6f9}"
	"nav{display:flex;gap:18px;align-items:center;padding:10px 24px;"
	"background:#1f3a5f;color:#fff}"
	"nav a{color:#dfe8f5;text-decoration:none}nav a:hover{color:#fff}"
	"nav .brand{font-weight:700;color:#fff;margin-right:12px}"
	"nav .who{margin-left:auto;color:#b8c7dc}"
	".logout{margin:0}.logout button{background:none;border:1px solid "
	"#8da6c7;color:#fff;border-radius:4px;padding:3px 10px;cursor:pointer}"
	"main{max-width:1200px;margin:0 auto;padding:20px 24px}"
	"h1{font-size:20px;margin:8px 0 16px}h2{font-size:16px;margin:22px 0 "
	"8px}"
	"form.search{display:flex;flex-wrap:wrap;gap:8px;align-items:end;"
	"background:#fff;padding:12px;border:1px solid "
	"#d8dee8;border-radius:6px}"
	"form.search label{display:flex;flex-direction:column;font-size:12px;"
	"color:#55607a}"
	"input,select,button{font:inherit;padding:5px 8px;border:1px solid "
	"#b9c3d3;border-radius:4px;background:#fff}"
	"input[name=q]{width:420px}"
	"button{background:#2b5797;color:#fff;border-color:#2b5797;"
	"cursor:pointer}"
	"table{border-collapse:collapse;width:100%;background:#fff;"
	"border:1px solid #d8dee8}"
	"th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e6eaf0;"
	"vertical-align:top;overflow-wrap:anywhere}"
	"th{background:#eef2f7;font-weight:600;font-size:12px;color:#3d4a63}"
	"tr:hover td{background:#f7f9fc}"
	"td.num{text-align:right;white-space:nowrap}"
	"td.date{white-space:nowrap}"
	".meta{color:#55607a;margin:10px 0}"
	".err{color:#a01d1d;background:#fdecec;padding:8px 10px;"
	"border-radius:4px}"
	".verdict-infected{color:#a01d1d;font-weight:600}"
	".verdict-clean{color:#1f7a3a}.verdict-unscanned{color:#8a6100}"
	".pager{margin:12px 0;display:flex;gap:12px}"
	"pre.text{white-space:pre-wrap;background:#fff;border:1px solid "
	"#d8dee8;padding:12px;border-radius:4px;font:13px/1.4 ui-monospace,"
	"monospace;max-height:600px;overflow:auto}"
	"dl.env{display:grid;grid-template-columns:160px 1fr;gap:4px 12px;"
	"background:#fff;border:1px solid "
	"#d8dee8;padding:12px;border-radius:4px}"
	"dl.env dt{color:#55607a}dl.env dd{margin:0;overflow-wrap:anywhere}"
	"iframe.mail{width:100%;height:420px;border:1px solid #d8dee8;"
	"background:#fff}"
	"details.help{margin:8px 0;color:#3d4a63}"
	"details.help code{background:#e9edf3;padding:0 4px;border-radius:3px}"
	".login{max-width:340px;margin:80px auto;background:#fff;padding:24px;"
	"border:1px solid #d8dee8;border-radius:6px}"
	".login label{display:block;margin:10px 0 4px}"
	".login input{width:100%}.login button{margin-top:16px;width:100%}"
	".cards{display:flex;gap:16px;flex-wrap:wrap}"
	".card{background:#fff;border:1px solid #d8dee8;border-radius:6px;"
	"padding:12px 16px;min-width:150px}"
	".card b{display:block;font-size:22px}"
	"svg{background:#fff;border:1px solid #d8dee8;border-radius:4px}"
	"th{white-space:nowrap}td.name,td.active,td.released{white-space:"
	"nowrap;font-weight:600}td.active{color:#1f7a3a}td.released{color:"
	"#6b7487}td.query{font-family:ui-monospace,monospace;font-size:13px}"
	"td.empty{color:#6b7487;text-align:center;padding:16px}"
	"form.search,form.hold{display:flex;flex-wrap:wrap;gap:8px;"
	"align-items:end;background:#fff;padding:12px;border:1px solid "
	"#d8dee8;border-radius:6px}"
	"form.hold label{display:flex;flex-direction:column;font-size:12px;"
	"color:#55607a}form.hold input[name=query]{width:360px}"
	"form.hold input[name=reason]{width:280px}"
	".actions{margin:10px 0;display:flex;gap:10px;align-items:center}"
	"details.hold{margin:8px 0}details.hold summary{cursor:pointer;"
	"color:#2b5797}details.hold form{margin-top:8px}"
	"td.acts{white-space:nowrap}td.acts a{margin-right:8px}"
	"form.inline{display:flex;gap:6px;margin-top:6px}"
	"form.inline input{width:140px}"
	"table.audit td:nth-child(-n+4){white-space:nowrap;overflow-wrap:"
	"normal}"
	"td.addr{max-width:240px;white-space:nowrap;overflow:hidden;"
	"text-overflow:ellipsis;overflow-wrap:normal}td.subj{min-width:280px}";

void web_html_date(char *out, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t <= 0 || !gmtime_r(&tt, &tm))
		snprintf(out, n, "-");
	else
		strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

const char *web_html_css(void)
{
	return css;
}
