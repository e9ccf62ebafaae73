/* web_route.c - dispatch of requests to pages (web_route.h).
 *
 * Functions: web_route, and file-local public_page, message_route,
 * allowed.
 */
#include "web_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_form.h"
#include "web_html.h"
#include "web_pages.h"
#include "web_resp.h"

static int is(const web_req *r, const char *method, const char *path)
{
	return strcmp(r->path, path) == 0 &&
	       (strcmp(r->method, method) == 0 ||
		(strcmp(method, "GET") == 0 && strcmp(r->method, "HEAD") == 0));
}

static int is_api(const web_req *r)
{
	return strncmp(r->path, "/api/", 5) == 0;
}

/* The pages that need no session. 1 if r was one of them. */
static int public_page(web_req *r, web_resp *rs)
{
	if (is(r, "GET", "/style.css")) {
		rs->ctype = "text/css; charset=utf-8";
		ms_buf_puts(&rs->body, web_html_css());
	} else if (is(r, "GET", "/login")) {
		web_auth_login_page(r, rs);
	} else if (is(r, "POST", "/login")) {
		web_auth_login(r, rs);
	} else {
		return 0;
	}
	return 1;
}

/* Splits "/PREFIX/ID[/KIND[/N]]" into id, kind, part. -1 if malformed. */
static int split_id(const char *rest, char *id, size_t idcap, char *kind,
		    size_t kcap, unsigned *part)
{
	char buf[256];
	char *save = NULL;
	if (strlen(rest) >= sizeof buf)
		return -1;
	snprintf(buf, sizeof buf, "%s", rest);
	char *a = strtok_r(buf, "/", &save), *b = strtok_r(NULL, "/", &save);
	char *c = strtok_r(NULL, "/", &save), *d = strtok_r(NULL, "/", &save);
	if (!a || d || !web_form_ident(a, idcap - 1) ||
	    (b && !web_form_ident(b, kcap - 1)) || (c && !web_form_ident(c, 6)))
		return -1;
	snprintf(id, idcap, "%s", a);
	snprintf(kind, kcap, "%s", b ? b : "");
	char *end = NULL;
	*part = c ? (unsigned)strtoul(c, &end, 10) : 0;
	return c && (*end || *part == 0) ? -1 : 0;
}

static void message_route(web_req *r, web_resp *rs, const char *rest, int api)
{
	char id[128], kind[16];
	unsigned part = 0;
	if (split_id(rest, id, sizeof id, kind, sizeof kind, &part) < 0) {
		if (api)
			web_resp_json_error(rs, 400, "bad message id");
		else
			web_resp_error(rs, 400, "Bad message id.");
	} else if (api && !*kind)
		web_message_api(r, rs, id);
	else if (!api && !*kind)
		web_message_page(r, rs, id);
	else if (!api && strcmp(kind, "raw") == 0 && !part)
		web_message_raw(r, rs, id);
	else if (!api && strcmp(kind, "part") == 0 && part)
		web_message_part(r, rs, id, part);
	else if (!api && strcmp(kind, "html") == 0 && part)
		web_message_html(r, rs, id, part);
	else
		web_resp_error(rs, 404, "No such page.");
}

/* 1 if the user's role may open path (the role table of web_route.h). */
static int allowed(const web_req *r)
{
	web_role role = r->user.role;
	if (strcmp(r->path, "/dashboard") == 0)
		return role == WEB_ROLE_SECURITY || role == WEB_ROLE_OFFICER;
	if (strcmp(r->path, "/audit") == 0 ||
	    strncmp(r->path, "/holds/", 7) == 0)
		return role == WEB_ROLE_OFFICER;
	if (strcmp(r->path, "/holds") == 0 || strcmp(r->path, "/export") == 0)
		return role == WEB_ROLE_AUDITOR || role == WEB_ROLE_OFFICER;
	return 1;
}

static void session_pages(web_req *r, web_resp *rs)
{
	int get =
		strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	if (is(r, "POST", "/logout"))
		web_auth_logout(r, rs);
	else if (is(r, "POST", "/holds/add"))
		web_holds_add(r, rs);
	else if (is(r, "POST", "/holds/release"))
		web_holds_release(r, rs);
	else if (!get)
		web_resp_error(rs, 405, "Method not allowed.");
	else if (strcmp(r->path, "/") == 0)
		web_resp_redirect(rs, "/search");
	else if (strcmp(r->path, "/search") == 0)
		web_search_page(r, rs);
	else if (strcmp(r->path, "/api/search") == 0)
		web_search_api(r, rs);
	else if (strcmp(r->path, "/api/count") == 0)
		web_count_api(r, rs);
	else if (strncmp(r->path, "/message/", 9) == 0)
		message_route(r, rs, r->path + 9, 0);
	else if (strncmp(r->path, "/api/message/", 13) == 0)
		message_route(r, rs, r->path + 13, 1);
	else if (strcmp(r->path, "/dashboard") == 0)
		web_dash_page(r, rs);
	else if (strcmp(r->path, "/audit") == 0)
		web_audit_page(r, rs);
	else if (strcmp(r->path, "/holds") == 0)
		web_holds_page(r, rs);
	else if (strcmp(r->path, "/export") == 0)
		web_export_download(r, rs);
	else if (is_api(r))
		web_resp_json_error(rs, 404, "no such call");
	else
		web_resp_error(rs, 404, "No such page.");
}

void web_route(web_req *r, web_resp *rs)
{
	if (public_page(r, rs))
		return;
	if (!web_auth_session(r) && is_api(r))
		web_resp_json_error(rs, 401, "not logged in");
	else if (!r->has_user)
		web_resp_redirect(rs, "/login");
	else if (strcmp(r->method, "POST") == 0 && !web_auth_csrf_ok(r))
		web_resp_error(rs, 403, "Bad or missing form token.");
	else if (!allowed(r) && is_api(r))
		web_resp_json_error(rs, 403, "not allowed");
	else if (!allowed(r))
		web_resp_error(rs, 403, "Your role does not allow this page.");
	else
		session_pages(r, rs);
}
