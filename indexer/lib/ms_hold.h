/* ms_hold.h - legal holds: named queries that keep the mail they match from
 * expiring, evaluated when expire runs (so mail archived after a hold was
 * placed is held too).
 *
 * The holds live with the archive, in DIR/holds (DIR = [archive] dir): one
 * ms_record block per hold (keys name, query, reason, by, at, and once
 * released released_by, released_at, release_reason), blocks separated by
 * an empty line, after a first block "format\t1". A released hold stays in
 * the file, so the history is kept; it holds nothing any more. Every change
 * rewrites the whole file atomically (temporary file, fsync, rename,
 * directory fsync), so a crash leaves the old or the new file, never a
 * mix. Writers are serialised by flock(LOCK_EX) on DIR/holds.lock; expire
 * holds LOCK_SH there for its whole run (ms_holds_lock), so a hold cannot
 * be placed or released in the middle of one: writers wait for it up to
 * MS_HOLD_WAIT seconds, then fail with MS_ERR_BUSY.
 *
 * Names: 1..MS_HOLD_NAME_MAX bytes of [A-Za-z0-9._-], not starting with
 * '.' or '-'; unique over all holds, released ones included. Queries are
 * checked with ms_query_parse when a hold is added.
 *
 * Ownership: ms_holds_load() returns a list freed by ms_holds_free();
 * messages (*err_r) are one line, malloc'ed, freed by the caller. Nothing
 * prints.
 */
#ifndef MS_HOLD_H
#define MS_HOLD_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_status.h"

#define MS_HOLD_NAME_MAX   64
#define MS_HOLD_REASON_MAX 1000	       /* bytes of a reason */
#define MS_HOLD_WAIT	   30	       /* seconds a writer waits for expire */
#define MS_HOLDS_MAX_FILE  (64u << 20) /* bytes of a holds file at most */

typedef struct ms_hold {
	char *name, *query, *reason, *by; /* never NULL ("" when unset) */
	int64_t at;			  /* placed (seconds since the epoch) */
	char *released_by, *release_reason;
	int64_t released_at; /* 0 while the hold is active */
} ms_hold;

typedef struct ms_holds {
	ms_hold *v; /* in the order they were placed */
	size_t n;
} ms_holds;

/* Reads DIR/holds. A missing file (or directory) is an empty list. MS_OK
 * with *h_r; MS_ERR_IO (cannot read), MS_ERR_CORRUPT (a block without a
 * name or query, an unknown format, two holds with one name), MS_ERR_NOMEM;
 * then *h_r is NULL and *err_r says why (naming the file). */
ms_status_t ms_holds_load(const char *dir, ms_holds **h_r, char **err_r);
void ms_holds_free(ms_holds **h);
/* The hold called name, or NULL. */
const ms_hold *ms_holds_find(const ms_holds *h, const char *name);
/* Whether the hold still holds (not released). */
int ms_hold_active(const ms_hold *h);

/* MS_OK if name is a valid hold name, else MS_ERR_INVALID with what is
 * wrong appended to why (if why). */
ms_status_t ms_hold_name_check(const char *name, ms_buf *why);

/* Called under the lock once a change has been checked and just before it
 * is written (the audit line goes here): nonzero cancels the change. */
typedef int (*ms_hold_before_fn)(const ms_hold *h, void *ctx);

/* Places hold h (name, query, reason, by, at are used; the released fields
 * are ignored). Under the lock: checks the name, the query and that no hold
 * has that name, calls before(h, ctx) (if before), then rewrites the file.
 * MS_OK; MS_ERR_INVALID (bad name, reason too long, duplicate name),
 * MS_ERR_QUERY (bad query), MS_ERR_BUSY (an expire run holds the lock),
 * MS_ERR_LIMIT (before cancelled), MS_ERR_IO, MS_ERR_CORRUPT, MS_ERR_NOMEM;
 * on error the file is unchanged and *err_r says why. DIR is created if
 * missing. */
ms_status_t ms_hold_add(const char *dir, const ms_hold *h,
			ms_hold_before_fn before, void *ctx, char **err_r);

/* Releases the hold called name, recording by, at and reason (required,
 * non-empty). Under the lock: the hold must exist and be active, then
 * before() is called with the released hold, then the file is rewritten.
 * MS_OK; MS_ERR_NOTFOUND (no such hold), MS_ERR_INVALID (already released,
 * no reason, reason too long), other errors as ms_hold_add. */
ms_status_t ms_hold_release(const char *dir, const char *name, const char *by,
			    int64_t at, const char *reason,
			    ms_hold_before_fn before, void *ctx, char **err_r);

/* For expire: takes flock(LOCK_SH) on DIR/holds.lock, waiting while a hold
 * is being written, and returns the descriptor in *fd_r (close it to
 * release). MS_OK, MS_ERR_IO (*err_r). */
ms_status_t ms_holds_lock(const char *dir, int *fd_r, char **err_r);

/* The records of a list as written to the file (for tests): appends to
 * out. And back: parses text[0..len) (a private, NUL-terminated copy,
 * changed in place). Statuses as ms_holds_load; where names the source. */
ms_status_t ms_holds_format(const ms_holds *h, ms_buf *out);
ms_status_t ms_holds_parse(char *text, size_t len, const char *where,
			   ms_holds **h_r, char **err_r);

#endif
