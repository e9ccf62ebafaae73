/* web_session.h - logged-in sessions and login throttling, in memory.
 *
 * Sessions: a fixed table (WEB_SESSIONS_MAX) shared by the HTTP threads
 * under one mutex. A session id and its CSRF token are 32 bytes from
 * OpenSSL's RAND_bytes, in hex. A session ends at logout, after [web]
 * session_idle seconds without a request, or when its account changed
 * (web_session_prune). When the table is full the least recently used
 * session is dropped.
 *
 * Throttling: failures are counted per key (an account name or a client
 * address). From the free_fails-th failure on (WEB_THROTTLE_FREE for an
 * account, WEB_THROTTLE_FREE_ADDR for an address), every attempt on that
 * key is refused for 2^(failures - free_fails) seconds (at
 * most WEB_THROTTLE_MAX_SECS), whether the password is right or not; a
 * success clears the account's key. The table is bounded; the oldest
 * idle entry is reused.
 *
 * Functions: web_session_init, web_session_new, web_session_get,
 * web_session_end, web_session_prune, web_throttle_check,
 * web_throttle_fail, web_throttle_ok.
 */
#ifndef WEB_SESSION_H
#define WEB_SESSION_H

#include <stdint.h>

#include "web.h"
#include "web_users.h"

#define WEB_SESSIONS_MAX       4096
#define WEB_THROTTLE_FREE      5
#define WEB_THROTTLE_FREE_ADDR 20
#define WEB_THROTTLE_MAX_SECS  900
#define WEB_THROTTLE_KEYS      4096

/* Once, before the HTTP threads start. */
void web_session_init(void);
/* Creates a session for acc; fills *u (with sid and csrf). 0 or -1 (no
 * randomness). */
int web_session_new(const web_account *acc, web_user *u);
/* Looks up sid; if live and not idle longer than idle_secs, refreshes it
 * and copies it to *u: 1. Else 0 (and an idle one is removed). */
int web_session_get(const char *sid, unsigned idle_secs, web_user *u);
/* Ends the session sid (no-op if unknown). */
void web_session_end(const char *sid);
/* Ends every session whose account is gone from a or whose role or scope
 * changed there. */
void web_session_prune(web_accounts *a);

/* Seconds the key must still wait (0 = may try now). */
unsigned web_throttle_check(const char *key);
/* Counts a failure for key, which is locked from the free_fails-th on. */
void web_throttle_fail(const char *key, unsigned free_fails);
/* Clears key's failures. */
void web_throttle_ok(const char *key);

#endif
