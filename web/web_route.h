/* web_route.h - which page answers a request, and who may see it.
 *
 *   GET  /style.css                          anyone
 *   GET  /login, POST /login                 anyone
 *   everything else needs a session: pages redirect to /login, /api/
 *   answers 401; every POST needs the session's CSRF token (403)
 *   POST /logout
 *   GET  /search, /api/search, /api/count    every role
 *   GET  /message/ID, /message/ID/raw, /message/ID/part/N,
 *        /message/ID/html/N, /api/message/ID every role (scope applies)
 *   GET  /dashboard                          security, officer
 *   GET  /audit                              officer
 *   GET  /holds, /export                     auditor, officer
 *   POST /holds/add, /holds/release          officer
 * Other paths are 404, parameters that are not identifiers 400.
 *
 * Functions: web_route.
 */
#ifndef WEB_ROUTE_H
#define WEB_ROUTE_H

#include "web.h"

/* Fills rs for r. */
void web_route(web_req *r, web_resp *rs);

#endif
