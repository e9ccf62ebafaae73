/* web.h - mailsift-web's shared types: roles, a request, a response.
 *
 * The HTTP layer (web_http.c, the only file that sees libmicrohttpd)
 * turns each request into a web_req, a route (web_route.c) fills a
 * web_resp, and the HTTP layer sends it with the security headers. Pages
 * never touch the network.
 */
#ifndef WEB_H
#define WEB_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_config.h"

typedef enum web_role {
	WEB_ROLE_AUDITOR = 0, /* search, read, export, see holds */
	WEB_ROLE_OFFICER,     /* auditor + holds + retention + audit trail */
	WEB_ROLE_SECURITY,    /* search, read, the security dashboard */
	WEB_ROLE_N
} web_role;

#define WEB_NAME_MAX  32   /* bytes of a user name */
#define WEB_SCOPE_MAX 1024 /* bytes of a scope list */
#define WEB_ADDR_MAX  64   /* bytes of a client address */
#define WEB_TOKEN_HEX 65   /* 32 random bytes in hex + NUL */

/* A logged-in user, as a session holds it (copied per request). */
typedef struct web_user {
	char name[WEB_NAME_MAX + 1];
	web_role role;
	char scope[WEB_SCOPE_MAX + 1]; /* "" = the whole archive */
	char csrf[WEB_TOKEN_HEX];
	char sid[WEB_TOKEN_HEX];
} web_user;

typedef struct web_req web_req;
struct web_req {
	const char *method; /* "GET", "HEAD" or "POST" */
	const char *path;   /* decoded path, checked by web_form_path_ok */
	const char *client; /* client address */
	const char *cookie; /* Cookie header or NULL */
	const char *body;   /* POST body (url-encoded form), NUL-terminated */
	size_t body_len;
	int tls; /* served over HTTPS */
	/* A query-string argument (decoded) or NULL. */
	const char *(*arg)(const web_req *r, const char *name);
	void *conn;	/* the HTTP layer's connection */
	ms_config *cfg; /* the configuration snapshot of this request */
	web_user user;	/* filled once the session is checked */
	int has_user;
};

typedef struct web_resp {
	unsigned status;
	const char *ctype; /* static string; default text/html */
	ms_buf body;
	char location[512];    /* Location header if set */
	char set_cookie[256];  /* Set-Cookie header if set */
	char disposition[320]; /* Content-Disposition if set */
	const char *csp;       /* static; NULL = the console's policy */
	int file_fd;	       /* >= 0: send this file instead of body (the
				  response owns it; web_resp_free closes) */
	uint64_t file_size;    /* its size in bytes */
} web_resp;

/* The console's Content-Security-Policy (every response but the
 * sandboxed mail HTML). */
#define WEB_CSP                                                                \
	"default-src 'none'; style-src 'self'; img-src 'self' data:; "         \
	"frame-src 'self'; frame-ancestors 'none'; form-action 'self'; "       \
	"base-uri 'none'"
/* The policy of a mail's HTML shown in the sandboxed frame. */
#define WEB_CSP_MAIL                                                           \
	"default-src 'none'; style-src 'unsafe-inline'; "                      \
	"frame-ancestors 'self'; form-action 'none'; base-uri 'none'; "        \
	"sandbox"

#endif
