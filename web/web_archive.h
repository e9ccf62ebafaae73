/* web_archive.h - the console's way into the archive: a read-only handle
 * per request (or a kept one from the pool), every query ANDed with the
 * user's scope, lookups by id inside the scope, and the audit line of every
 * access.
 *
 * Functions: web_archive_open, web_archive_get, web_archive_put,
 * web_archive_drop_all, web_filter_parse, web_filter_text,
 * web_query_build, web_scope_text, web_archive_hit, web_audit.
 */
#ifndef WEB_ARCHIVE_H
#define WEB_ARCHIVE_H

#include <stdint.h>

#include "ms_archive.h"
#include "web.h"

/* Opens cfg's archive read-only. MS_OK, or an error with *err_r (caller
 * frees with free()). Caller closes with ms_archive_close(). */
ms_status_t web_archive_open(const ms_config *cfg, ms_archive **ar_r,
			     char **err_r);
/* Most handles lent at once (web_archive_get waits for one beyond): twice
 * the online CPUs, at least 2 and at most WEB_READERS_MAX; each keeps
 * about four files per shard open. More searches at once than the CPUs
 * can run only share them out and make the slowest answers later. */
#define WEB_READERS_MAX 16
unsigned web_archive_readers(void);

/* A kept read-only handle on cfg's archive (opened with keep_reader, so
 * its shards stay open between requests) from the console's pool, for
 * this request only: given back with web_archive_put(), never closed.
 * Waits, in arrival order, while web_archive_readers() are lent. A
 * kept handle opened on another configuration snapshot (before a reload)
 * is closed and a new one opened. Errors as web_archive_open() (nothing
 * lent: put is a no-op). */
ms_status_t web_archive_get(ms_config *cfg, ms_archive **ar_r, char **err_r);
/* Gives back a handle from web_archive_get() (NULL: nothing) to the pool
 * and sets *ar to NULL. The results it gave (ms_hits) stay valid. */
void web_archive_put(ms_archive **ar);
/* Closes the pool's idle handles (at shutdown, once no request runs). */
void web_archive_drop_all(void);

/* The search form's filters as query terms made by the server. extra
 * points into the struct itself: do not copy one. */
typedef struct web_filter {
	char date_term[48], verdict_term[32];
	const char *extra[2];
	size_t n_extra;
} web_filter;

/* Fills *f from the fields from and to (YYYY-MM-DD or "": the date
 * range) and verdict ("", clean, infected, unscanned). 0, or -1 when a
 * value is bad (nothing else can reach the query). */
int web_filter_parse(const char *from, const char *to, const char *verdict,
		     web_filter *f);
/* "q term..." - the query as written to the audit trail and stored in a
 * hold. Caller frees with free(); NULL when out of memory. */
char *web_filter_text(const char *q, const web_filter *f);

/* Parses q (the user's query; "" = every message) and each of extra[0..n)
 * (filter terms made by the server), and ANDs them with the scope
 * ("" = none): a scope item V (an address, or a domain written as
 * "@domain") matches mail from, to, cc, bcc, envelope sender or recipient
 * V; items are ORed. The AND is built on the trees, so no text in q can
 * escape it. MS_OK with *root_r (ms_query_free), MS_ERR_QUERY with *err_r
 * (free()), MS_ERR_NOMEM. */
ms_status_t web_query_build(const char *q, const char *const *extra,
			    size_t n_extra, const char *scope,
			    ms_qnode **root_r, char **err_r);

/* Writes the scope ("" = none: nothing) as query text to out (empty):
 * "(from:V OR to:V OR ...) OR (...)". MS_OK or MS_ERR_NOMEM. */
ms_status_t web_scope_text(const char *scope, ms_buf *out);

/* The hit of the message with archive id id ([A-Za-z0-9_-] only, checked
 * by the caller) within scope: MS_OK with *hits_r holding exactly one hit
 * (ms_hits_free); MS_ERR_NOTFOUND when it is missing or outside the scope
 * (the two are indistinguishable); other errors from the archive. */
ms_status_t web_archive_hit(ms_archive *ar, const char *scope, const char *id,
			    ms_hits **hits_r);

/* Appends the audit line (ms_audit.h) for action by the request's user
 * and client address. 0, or -1 after logging why: the caller must then
 * answer 500 without the result (no unaudited access). */
int web_audit(const web_req *r, const char *action, const char *query,
	      uint64_t matched, const char *const *ids, size_t n_ids);

#endif
