/* web_auth.c - login, logout and the session check (web_pages.h).
 *
 * Functions: web_auth_session, web_auth_csrf_ok, web_auth_login_page,
 * web_auth_login, web_auth_logout; file-local accounts_changed (re-reads
 * the accounts file when it changed and ends the sessions of removed or
 * changed accounts), login_form, throttled.
 *
 * The session cookie is "msid": HttpOnly, SameSite=Strict, Path=/, and
 * Secure over HTTPS. A failed login says only "wrong name or password".
 */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_log.h"
#include "web_form.h"
#include "web_html.h"
#include "web_metrics.h"
#include "web_pages.h"
#include "web_resp.h"
#include "web_session.h"
#include "web_users.h"

#define COOKIE "msid"
#define PW_MAX 256

static pthread_mutex_t acc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct stat acc_st;

/* If the accounts file changed since the last look, ends the sessions
 * of accounts that are gone or changed. */
static void accounts_changed(const ms_config *cfg)
{
	struct stat st;
	memset(&st, 0, sizeof st);
	stat(cfg->web_users, &st);
	pthread_mutex_lock(&acc_mu);
	int changed = st.st_ino != acc_st.st_ino ||
		      st.st_mtim.tv_sec != acc_st.st_mtim.tv_sec ||
		      st.st_mtim.tv_nsec != acc_st.st_mtim.tv_nsec ||
		      st.st_size != acc_st.st_size;
	acc_st = st;
	pthread_mutex_unlock(&acc_mu);
	web_accounts a;
	char *err = NULL;
	if (changed && web_users_load(cfg->web_users, 1, &a, &err) == 0) {
		web_session_prune(&a);
		web_users_free(&a);
	} else if (changed) {
		ms_log_error("%s", err ? err : "accounts file unreadable");
	}
	free(err);
}

int web_auth_session(web_req *r)
{
	char sid[WEB_TOKEN_HEX];
	accounts_changed(r->cfg);
	if (!r->cookie ||
	    web_cookie_get(r->cookie, COOKIE, sid, sizeof sid) != 1)
		return 0;
	r->has_user = web_session_get(sid, r->cfg->web_session_idle, &r->user);
	return r->has_user;
}

int web_auth_csrf_ok(const web_req *r)
{
	char tok[WEB_TOKEN_HEX];
	return web_form_get(r->body, r->body_len, "csrf", tok, sizeof tok) ==
		       1 &&
	       strlen(tok) == WEB_TOKEN_HEX - 1 &&
	       CRYPTO_memcmp(tok, r->user.csrf, WEB_TOKEN_HEX - 1) == 0;
}

static void login_form(web_resp *rs, const char *msg, const char *name)
{
	ms_buf *b = &rs->body;
	ms_buf_reset(b);
	web_html_head(b, "Log in", NULL);
	ms_buf_puts(b, "<form class=\"login\" method=\"post\" "
		       "action=\"/login\"><h1>mailsift</h1>");
	if (msg) {
		ms_buf_puts(b, "<p class=\"err\">");
		web_esc(b, msg);
		ms_buf_puts(b, "</p>");
	}
	ms_buf_puts(b, "<label for=\"user\">Name</label><input id=\"user\" "
		       "name=\"user\" autocomplete=\"username\" value=\"");
	web_esc(b, name ? name : "");
	ms_buf_puts(b, "\" required><label for=\"password\">Password</label>"
		       "<input id=\"password\" type=\"password\" "
		       "name=\"password\" autocomplete=\"current-password\" "
		       "required><button type=\"submit\">Log in</button>"
		       "</form>");
	web_html_foot(b);
}

void web_auth_login_page(web_req *r, web_resp *rs)
{
	if (web_auth_session(r))
		web_resp_redirect(rs, "/search");
	else
		login_form(rs, NULL, NULL);
}

/* Seconds the account or address must wait; 0 = may try. */
static unsigned throttled(const char *ukey, const char *akey)
{
	unsigned a = web_throttle_check(ukey), b = web_throttle_check(akey);
	return a > b ? a : b;
}

/* Checks name/password against the accounts file; *acc filled on 1. */
static int check_password(const ms_config *cfg, const char *name,
			  const char *pw, web_account *acc)
{
	web_accounts a;
	char *err = NULL;
	if (web_users_load(cfg->web_users, 1, &a, &err) < 0) {
		ms_log_error("%s", err ? err : "accounts file unreadable");
		free(err);
		web_users_verify(NULL, pw);
		return 0;
	}
	web_account *found = web_users_find(&a, name);
	int ok = web_users_verify(found ? found->hash : NULL, pw);
	if (ok)
		*acc = *found;
	web_users_free(&a);
	return ok;
}

void web_auth_login(web_req *r, web_resp *rs)
{
	char name[WEB_NAME_MAX + 1], pw[PW_MAX], ukey[64], akey[80];
	web_account acc;
	int gn = web_form_get(r->body, r->body_len, "user", name, sizeof name);
	int gp = web_form_get(r->body, r->body_len, "password", pw, sizeof pw);
	if (gn != 1 || gp != 1 || !web_users_check_name(name)) {
		rs->status = 400;
		return login_form(rs, "Give a valid name and a password.",
				  NULL);
	}
	snprintf(ukey, sizeof ukey, "u:%s", name);
	snprintf(akey, sizeof akey, "a:%s", r->client);
	unsigned wait = throttled(ukey, akey);
	if (wait) {
		ms_log_warn("login %s from %s: throttled (%us)", name,
			    r->client, wait);
		web_metrics_login(WEB_LOGIN_THROTTLED);
		rs->status = 429;
		return login_form(
			rs, "Too many failed logins: try again later.", name);
	}
	if (!check_password(r->cfg, name, pw, &acc)) {
		web_throttle_fail(ukey, WEB_THROTTLE_FREE);
		web_throttle_fail(akey, WEB_THROTTLE_FREE_ADDR);
		ms_log_warn("login %s from %s: wrong name or password", name,
			    r->client);
		web_metrics_login(WEB_LOGIN_FAILED);
		rs->status = 401;
		return login_form(rs, "Wrong name or password.", name);
	}
	OPENSSL_cleanse(pw, sizeof pw);
	web_throttle_ok(ukey);
	if (web_session_new(&acc, &r->user) < 0)
		return web_resp_error(rs, 500, "No randomness for a session.");
	r->has_user = 1;
	web_metrics_login(WEB_LOGIN_OK);
	ms_log_info("login %s (%s) from %s", name, web_role_name(acc.role),
		    r->client);
	snprintf(rs->set_cookie, sizeof rs->set_cookie,
		 COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", r->user.sid,
		 r->tls ? "; Secure" : "");
	web_resp_redirect(rs, "/search");
}

void web_auth_logout(web_req *r, web_resp *rs)
{
	web_session_end(r->user.sid);
	ms_log_info("logout %s from %s", r->user.name, r->client);
	snprintf(rs->set_cookie, sizeof rs->set_cookie,
		 COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
		 r->tls ? "; Secure" : "");
	web_resp_redirect(rs, "/login");
}
