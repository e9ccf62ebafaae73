/* ms_expire.h - deleting expired mail: retention (ms_retention.h) minus
 * legal holds (ms_hold.h), restartably.
 *
 * A run: ms_expire_begin() takes the locks (LOCK_SH on the holds, then
 * ms_archive_lock_all: the exclusive archive lock and every shard lock, so
 * no writer - indexd, import, reindex - runs meanwhile; they wait and
 * retry). ms_expire_decide() decides, shard by shard, which messages go:
 * a message expires when its archive date (the date its shard is chosen
 * by) is before the cutoff of its period (ms_retention_pick), unless some
 * active hold's query matches it; messages with no usable date (shard
 * "undated") never expire. ms_expire_apply() then
 *   1. writes the intent journal DIR/expire.journal (every id, sha and
 *      shard to delete; atomically, fsync'ed),
 *   2. per shard: re-checks the holds; a shard whose documents all go is
 *      dropped whole (ms_archive_drop_shard: renamed out of the listing,
 *      then removed, and its lock file too), else the documents are
 *      deleted and committed (and a shard left empty is dropped),
 *   3. removes each stored message of the journal that no remaining
 *      document names (a body shared by several messages stays until the
 *      last one goes) and syncs the store,
 *   4. removes the journal.
 * Killed at any point, the next run finds the journal (ms_expire_pending)
 * and applies it again: each step is idempotent, holds are re-checked
 * before any document is deleted, and store files are removed only once
 * no document names them. ms_expire_end() releases the locks.
 *
 * Ownership: the handle (freed by ms_expire_end) borrows the archive and
 * the retention policy; plans are freed with ms_expire_plan_free. The
 * last error message is kept on the handle (ms_expire_error). Nothing
 * prints.
 */
#ifndef MS_EXPIRE_H
#define MS_EXPIRE_H

#include <stddef.h>
#include <stdint.h>

#include "ms_archive.h"
#include "ms_hash.h"
#include "ms_retention.h"
#include "ms_shard.h"
#include "ms_status.h"

typedef struct ms_expire ms_expire;

/* One message to delete. */
typedef struct ms_expire_item {
	char id[MS_ARCHIVE_ID_MAX];
	char sha[MS_SHA256_HEX];
	char shard[MS_SHARD_NAME_MAX];
	long rule; /* the deciding rule's index, -1 = the default */
} ms_expire_item;

typedef struct ms_expire_plan {
	int64_t now;	       /* the time the periods count back from */
	int from_journal;      /* an interrupted run's journal */
	ms_expire_item *items; /* sorted by shard, then id */
	size_t n_items;
	uint64_t *by_rule; /* n_rules + 1: per rule, then the default */
	size_t n_rules;
	char **hold_names; /* the active holds, in file order */
	uint64_t *held;	   /* expired messages each hold keeps */
	size_t n_holds;
	uint64_t held_total; /* expired messages kept by some hold */
	uint64_t undated;    /* messages with no usable date: kept */
	uint64_t examined;   /* documents looked at */
} ms_expire_plan;

/* What ms_expire_apply() did. */
typedef struct ms_expire_result {
	uint64_t deleted;	 /* documents deleted */
	uint64_t held_now;	 /* journal entries a hold now keeps */
	uint64_t store_removed;	 /* stored messages removed */
	uint64_t store_kept;	 /* still named by another document */
	unsigned shards_dropped; /* empty shards removed */
} ms_expire_result;

/* Starts a run on ar (opened read-only; the handle must not write) whose
 * directory is dir ([archive] dir): locks as above without waiting, loads
 * the holds, removes what an interrupted run left of dropped shards.
 * MS_OK with *ex_r; MS_ERR_LOCKED / MS_ERR_BUSY (a writer or reindex is
 * active: retry), MS_ERR_IO, MS_ERR_CORRUPT (the holds file),
 * MS_ERR_NOMEM; then *ex_r is NULL and *err_r (caller frees) says why. */
ms_status_t ms_expire_begin(ms_archive *ar, const char *dir, ms_expire **ex_r,
			    char **err_r);
/* Adds the holds of another archive to the run: text (len bytes, a holds
 * file as a search head's `mailsift serve` sends it at GET /holds) read
 * from `from` (its address, for names and messages). Its active holds
 * hold like local ones, named "FROM/NAME". Call after ms_expire_begin,
 * before deciding. MS_OK; MS_ERR_CORRUPT (the text, or a query that does
 * not parse: the run must stop), MS_ERR_NOMEM; then ms_expire_error(). */
ms_status_t ms_expire_add_holds(ms_expire *ex, const char *from,
				const char *text, size_t len);
/* Releases the locks and frees the handle. NULL-safe; NULLs *ex. */
void ms_expire_end(ms_expire **ex);
const char *ms_expire_error(const ms_expire *ex);

/* The plan of an interrupted run (its journal), or *plan_r = NULL when
 * there is none. MS_OK, MS_ERR_CORRUPT (unreadable journal), MS_ERR_IO,
 * MS_ERR_NOMEM. */
ms_status_t ms_expire_pending(ms_expire *ex, ms_expire_plan **plan_r);

/* Decides what expires at time now under policy r (borrowed for the call).
 * MS_OK with *plan_r; MS_ERR_XAPIAN / MS_ERR_IO / MS_ERR_INVALID (a query
 * the index refuses) / MS_ERR_NOMEM with the error on the handle. */
ms_status_t ms_expire_decide(ms_expire *ex, const ms_retention *r, int64_t now,
			     ms_expire_plan **plan_r);
void ms_expire_plan_free(ms_expire_plan **plan);
/* The ids of a plan, for the audit line: a NULL-terminated array of
 * pointers into plan (free the array itself with free()); NULL on ENOMEM.
 */
const char **ms_expire_plan_ids(const ms_expire_plan *plan);

/* Carries out plan (steps 1-4 above). MS_OK with *res; on error (MS_ERR_IO,
 * MS_ERR_XAPIAN, MS_ERR_CORRUPT, MS_ERR_NOMEM, with the message on the
 * handle) the journal stays, so the next run finishes the job. */
ms_status_t ms_expire_apply(ms_expire *ex, const ms_expire_plan *plan,
			    ms_expire_result *res);

#endif
