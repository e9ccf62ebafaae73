/* web_resp.h - filling a web_resp: status pages, redirects, JSON errors.
 *
 * Functions: web_resp_init, web_resp_free, web_resp_redirect,
 * web_resp_error, web_resp_json_error. A response owns its body buffer;
 * web_resp_free() releases it. Out of memory leaves a short body.
 */
#ifndef WEB_RESP_H
#define WEB_RESP_H

#include "web.h"

void web_resp_init(web_resp *rs);
void web_resp_free(web_resp *rs);
/* 303 See Other to location (a path of this console). */
void web_resp_redirect(web_resp *rs, const char *location);
/* An HTML error page: status and one sentence (escaped). */
void web_resp_error(web_resp *rs, unsigned status, const char *msg);
/* {"error":"msg"} with status. */
void web_resp_json_error(web_resp *rs, unsigned status, const char *msg);

#endif
