/* ms_archive.h - the archive: Xapian shards by time plus the message store.
 *
 * Layout under dir: shards/<period>/ (one Xapian database per month, year,
 * or "all"; messages without a usable date go to shards/undated) and
 * store/ (ms_store.h). One document per message, keyed by its archive id
 * (MS_PREFIX_ID term); adding a message whose id is already present
 * replaces it, so re-processing is idempotent.
 *
 * Locks (locks/): a writer holds flock LOCK_EX on locks/<shard>.lock while
 * the shard is open for writing, and LOCK_SH on locks/.archive.lock while
 * it has any shard open. Maintenance (reindex) takes LOCK_EX on
 * .archive.lock and every shard lock (ms_archive_lock_all), so no writer
 * can run meanwhile.
 *
 * Ownership: ms_archive_open() returns a handle freed by ms_archive_close(),
 * which commits pending additions. The last error message is kept on the
 * handle (ms_archive_error). The library never prints.
 */
#ifndef MS_ARCHIVE_H
#define MS_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_config.h" /* ms_shard_by */
#include "ms_extract.h"
#include "ms_hash.h"
#include "ms_query.h"
#include "ms_status.h"

typedef struct ms_archive ms_archive;

typedef struct ms_archive_opts {
	const char *dir;	  /* archive directory (created if missing) */
	ms_shard_by shard_by;	  /* period of one shard */
	size_t max_text_per_part; /* text cap per MIME part (0 = default) */
	int compression_level;	  /* zlib level for the store, 1..9 */
	int writable;		  /* open for adding messages */
	/* Key file (ms_store_load_key) to encrypt new stored messages and
	 * decrypt encrypted ones; NULL or "" = none. Read once at open. */
	const char *encrypt_key;
	/* NULL = "shards". Another name builds a second set of shards
	 * beside the live one (with its own lock directory "<name>.locks"),
	 * for ms_archive_swap_shards(); the store is shared. */
	const char *shards_subdir;
	/* Keep one reader over all shards open between searches (for a
	 * long-lived handle, one per thread): each search first lists the
	 * shards (names and inodes) and reopens the reader if that changed
	 * (a shard added, dropped or swapped), else moves it to the latest
	 * commit, so it sees what the fresh reader of a 0 handle would. */
	int keep_reader;
	/* Attachment text extraction (ms_extract.h); strings borrowed like
	 * the others. A zero struct: none. */
	ms_extract_opts extract;
	/* Label of the shards this handle writes (ms_shard.h): NULL = none
	 * (unlabelled names, as before labels), "" = the short host name. */
	const char *host;
	/* Readers: the `mailsift serve` addresses ("HOST:PORT", borrowed;
	 * NULL-terminated; NULL = none) whose shards search, count and show
	 * also cover, through Xapian's remote backend, with these timeouts
	 * (0: 30 s and 5 s). A remote that cannot be reached fails the call
	 * (MS_ERR_REMOTE, naming it), or with allow_partial is left out and
	 * named by ms_archive_partial(). Writers ignore them: each host
	 * expires, reindexes and imports only its own shards. */
	const char *const *remotes;
	unsigned remote_timeout_ms, remote_connect_ms;
	int allow_partial;
} ms_archive_opts;

/* Envelope and scan facts of a message that came through the milter.
 * All strings borrowed for the duration of ms_archive_add(); any may be
 * NULL. rcpts is an array of n_rcpts addresses. */
typedef struct ms_envelope {
	const char *id;	    /* X-Mailsift-Id; NULL = derive from content */
	const char *sender; /* envelope sender (MAIL FROM) */
	const char *const *rcpts;
	size_t n_rcpts;
	const char *queue_id; /* Postfix queue id */
	const char *client;   /* client address and name */
	const char *helo;
	const char *auth_user;
	const char *verdict; /* "clean", "infected", "unscanned" */
	const char *virus;   /* virus name when infected */
	int64_t time;	     /* arrival time (seconds); shards by it */
} ms_envelope;

/* What ms_archive_add() did. */
typedef enum ms_add_result {
	MS_ADD_NEW,    /* indexed and stored */
	MS_ADD_PRESENT /* already archived: nothing changed */
} ms_add_result;

/* One search hit, decoded from the document data. All strings owned by the
 * results; never NULL ("" when absent). */
typedef struct ms_hit {
	const char *id, *message_id, *from, *to, *cc, *subject, *sha256;
	const char *verdict, *virus, *sender, *rcpts, *queue_id, *client;
	/* One line per attachment: "STATE\tSIZE\tTYPE\tNAME\tREASON"
	 * (STATE an ms_extract_state_name; tabs and newlines in the parts
	 * were made spaces). */
	const char *attachments;
	/* "" when the hit is in this archive, else the [archive] remote
	 * address it came from (borrowed from the archive's options). */
	const char *origin;
	int64_t date;
	uint64_t size;
} ms_hit;

typedef struct ms_hits ms_hits;

/* The options plugin.conf's [archive] section gives (dir, shard_by, text
 * cap, compression level, encryption key), writable or not; the strings
 * are borrowed from cfg, which must outlive the open. */
ms_archive_opts ms_archive_opts_from(const ms_config *cfg, int writable);

/* Sets o's remotes and their timeouts from cfg's [archive] remote,
 * remote_timeout and remote_connect_timeout (borrowed from cfg), and
 * allow_partial. For the readers that search across hosts. */
void ms_archive_opts_remote(ms_archive_opts *o, const ms_config *cfg,
			    int allow_partial);

/* Opens the archive. MS_OK, or MS_ERR_IO / MS_ERR_NOMEM / MS_ERR_CONFIG
 * (a bad key file) with *err_r (if err_r) a one-line message the caller
 * frees. */
ms_status_t ms_archive_open(const ms_archive_opts *opts, ms_archive **ar_r,
			    char **err_r);
/* Commits pending work and closes. Returns the commit status. NULL-safe;
 * sets *ar to NULL even on error. */
ms_status_t ms_archive_close(ms_archive **ar);
/* The last error message ("" if none), valid until the next call. */
const char *ms_archive_error(const ms_archive *ar);

/* Parses, indexes and stores one raw message (a leading mbox "From " line
 * is dropped; the rest is stored byte for byte). env may be NULL (import).
 * The addition becomes durable at the next ms_archive_commit().
 * id_r (if non-NULL, MS_ARCHIVE_ID_MAX bytes) receives the archive id.
 * Returns MS_OK with *res_r, MS_ERR_PARSE (not a message; nothing
 * written), MS_ERR_LOCKED (shard being written by another process),
 * MS_ERR_IO, MS_ERR_XAPIAN, MS_ERR_NOMEM. On error the message is not in
 * the archive; the error text is on the handle. */
#define MS_ARCHIVE_ID_MAX 65
ms_status_t ms_archive_add(ms_archive *ar, const char *raw, size_t len,
			   const ms_envelope *env, ms_add_result *res_r,
			   char *id_r);
/* The same in two steps, so that parsing can run on several threads:
 * ms_archive_prepare() on a worker's thread (hash, "already archived"
 * check, MIME parsing, document building, raw bytes into the store), then
 * ms_archive_insert() on the archive's thread (into the shard). */
typedef struct ms_archive_worker ms_archive_worker;
typedef struct ms_prep ms_prep;

/* A worker for one thread, created on the archive's thread; freed with
 * ms_archive_worker_free() before the archive is closed. */
ms_status_t ms_archive_worker_new(ms_archive *ar, ms_archive_worker **w_r);
void ms_archive_worker_free(ms_archive_worker **w);
/* Prepares raw[0..len) (borrowed until the call returns; env likewise).
 * Returns MS_ERR_NOMEM only; a message that cannot be archived still
 * yields a prep whose failure ms_archive_insert() reports. Caller frees
 * *prep_r with ms_prep_free(). */
ms_status_t ms_archive_prepare(ms_archive_worker *w, const char *raw,
			       size_t len, const ms_envelope *env,
			       ms_prep **prep_r);
/* Inserts a prepared message (prep stays the caller's). Results and errors
 * as ms_archive_add(). */
ms_status_t ms_archive_insert(ms_archive *ar, ms_prep *prep,
			      ms_add_result *res_r, char *id_r);
void ms_prep_free(ms_prep **prep);
/* The attachments of a prepared message whose text could not be
 * extracted, one sentence each for the log: 'attachment "NAME" (TYPE, N
 * bytes): no text extracted (extract:STATE): REASON' (STATE "failed" or
 * "encrypted"; newlines in the parts made spaces), each ending in a
 * newline; "" when none. Owned by prep. */
const char *ms_prep_unextracted(const ms_prep *prep);

/* Makes every earlier addition durable: store first, then each shard. */
ms_status_t ms_archive_commit(ms_archive *ar);

/* Commits, then compacts every shard this handle wrote to in which the
 * additions are at least min_percent of its documents (0 = all it wrote),
 * and releases the shards. For the end of a bulk import: a compacted shard
 * is about half the size. Errors as ms_archive_commit(), plus MS_ERR_IO. */
ms_status_t ms_archive_compact(ms_archive *ar, unsigned min_percent);

/* Searches with a parsed query, newest first; at most limit hits (0 = all)
 * and the exact number of all matches (ms_hits_total: no second query
 * needed for a count). On MS_OK *hits_r is freed with ms_hits_free(). */
ms_status_t ms_archive_search(ms_archive *ar, const ms_qnode *q, size_t limit,
			      ms_hits **hits_r);
/* Exact number of messages matching q. */
ms_status_t ms_archive_count(ms_archive *ar, const ms_qnode *q, uint64_t *n_r);
size_t ms_hits_size(const ms_hits *h);
/* The number of messages matching the search's query (>= ms_hits_size). */
uint64_t ms_hits_total(const ms_hits *h);
const ms_hit *ms_hits_get(const ms_hits *h, size_t i);
void ms_hits_free(ms_hits **h);

/* With allow_partial: what the last search or count left out, one line
 * ("remote HOST:PORT unreachable (why); missing shards: A, B" for each,
 * "; "-separated; the shard names as the host last listed them), or ""
 * when every remote answered. Valid until the next call. */
const char *ms_archive_partial(const ms_archive *ar);

/* Appends the raw bytes of hit h (from a search on ar) to out: from the
 * local store, or for a hit from a remote host from that host's endpoint
 * (ms_remote.h), checked against the hit's SHA-256. MS_OK, MS_ERR_NOTFOUND,
 * MS_ERR_REMOTE, MS_ERR_CORRUPT (bytes that do not match), store errors;
 * the error text is on the handle. */
ms_status_t ms_archive_raw(ms_archive *ar, const ms_hit *h, ms_buf *out);

/* Appends the raw message with archive id or Message-ID key to out.
 * MS_ERR_NOTFOUND if no message matches, MS_ERR_INVALID if several do. */
ms_status_t ms_archive_show(ms_archive *ar, const char *key, ms_buf *out);

/* ---- maintenance (verify, reindex) ---- */

/* The archive's own store handle (key set), borrowed; same thread only. */
struct ms_store;
struct ms_store *ms_archive_store(ms_archive *ar);
/* The directory holding the shards (borrowed). */
const char *ms_archive_shards_dir(const ms_archive *ar);

/* Takes, without waiting, the exclusive archive lock and the write lock of
 * every shard now present, so that no writer (indexd, import) changes the
 * archive until ms_archive_unlock_all() or close. The handle itself must
 * not write shards meanwhile. MS_ERR_LOCKED (the error says which lock is
 * busy) if a writer is active; MS_ERR_IO, MS_ERR_NOMEM; on error no lock
 * is held. */
ms_status_t ms_archive_lock_all(ms_archive *ar);
void ms_archive_unlock_all(ms_archive *ar);
/* With ms_archive_lock_all() held: atomically exchanges the shards
 * directory with dir/<subdir> (shards built by a handle opened with that
 * shards_subdir and closed since), then removes the old shards and the
 * subdir's lock directory. MS_ERR_LOCKED, nothing swapped, if a shard not
 * locked by ms_archive_lock_all() exists (the archive changed). MS_ERR_IO
 * if the exchange failed (nothing swapped) or the old copy could not be
 * removed (swapped; dir/<subdir> is left over). */
ms_status_t ms_archive_swap_shards(ms_archive *ar, const char *subdir);
/* Removes dir/<subdir> and dir/<subdir>.locks (an abandoned build).
 * MS_OK (also if missing), MS_ERR_INVALID (subdir "shards"), MS_ERR_IO. */
ms_status_t ms_archive_drop_shards(ms_archive *ar, const char *subdir);

/* With ms_archive_lock_all() held: drops shard name, which the caller has
 * emptied (expire): renames it to shards/.<name>.dropped (atomic; shard
 * listings skip dot names), syncs the shards directory, then removes that
 * tree and the shard's lock file. A crash leaves at most the .dropped
 * tree, which ms_archive_clean_dropped() removes. MS_OK, MS_ERR_INVALID
 * (no lock_all, or name not one of its shards), MS_ERR_IO. */
ms_status_t ms_archive_drop_shard(ms_archive *ar, const char *name);
/* With ms_archive_lock_all() held: removes leftover shards/.<name>.dropped
 * trees (and the lock file of a shard that is gone). MS_OK, MS_ERR_IO. */
ms_status_t ms_archive_clean_dropped(ms_archive *ar);

typedef struct ms_archive_stats {
	uint64_t messages;
	unsigned shards;
	unsigned long long index_bytes;
	unsigned long long store_bytes;
	unsigned long long store_files;
} ms_archive_stats;
ms_status_t ms_archive_stats_get(ms_archive *ar, ms_archive_stats *st);

#endif
