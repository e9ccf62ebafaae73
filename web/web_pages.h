/* web_pages.h - the pages, each filling a response for a request whose
 * session and permissions web_route() already checked.
 *
 * web_auth.c:    web_auth_session, web_auth_csrf_ok, web_auth_login_page,
 *                web_auth_login, web_auth_logout
 * web_search.c:  web_search_page, web_search_api, web_count_api
 * web_message.c: web_message_page, web_message_raw, web_message_part,
 *                web_message_html, web_message_api
 * web_dash.c:    web_dash_page
 * web_audit.c:   web_audit_page
 * web_holds.c:   web_holds_page, web_holds_add, web_holds_release,
 *                web_holds_form, web_hold_visible
 * web_export.c:  web_export_download
 */
#ifndef WEB_PAGES_H
#define WEB_PAGES_H

#include "ms_hold.h"
#include "web.h"

/* 1 and r->user filled if the request carries a live session. */
int web_auth_session(web_req *r);
/* 1 if the POST body's csrf field is the session's token. */
int web_auth_csrf_ok(const web_req *r);
void web_auth_login_page(web_req *r, web_resp *rs);
void web_auth_login(web_req *r, web_resp *rs);
void web_auth_logout(web_req *r, web_resp *rs);

void web_search_page(web_req *r, web_resp *rs);
void web_search_api(web_req *r, web_resp *rs);
void web_count_api(web_req *r, web_resp *rs);

/* id checked by web_form_ident; part is the part number (>= 1). */
void web_message_page(web_req *r, web_resp *rs, const char *id);
void web_message_raw(web_req *r, web_resp *rs, const char *id);
void web_message_part(web_req *r, web_resp *rs, const char *id, unsigned part);
void web_message_html(web_req *r, web_resp *rs, const char *id, unsigned part);
void web_message_api(web_req *r, web_resp *rs, const char *id);

void web_dash_page(web_req *r, web_resp *rs);
void web_audit_page(web_req *r, web_resp *rs);

void web_holds_page(web_req *r, web_resp *rs);
void web_holds_add(web_req *r, web_resp *rs);
void web_holds_release(web_req *r, web_resp *rs);
/* Appends the "place a hold" form (officers), its query field set to
 * query. */
void web_holds_form(ms_buf *b, const web_user *u, const char *query);

/* 1 if u may see, export and release h: every hold for an unscoped user,
 * only the holds placed within exactly u's scope for a scoped one. */
int web_hold_visible(const web_user *u, const ms_hold *h);

/* The zip download of a search or a hold (web_export.c). */
void web_export_download(web_req *r, web_resp *rs);

#endif
