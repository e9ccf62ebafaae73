/* ms_archive_int.h - private state of ms_archive, shared by
 * ms_archive_shard.c (writable shards, locks, commit: the bottom layer),
 * ms_archive.c (open, add), ms_archive_prep.c (workers),
 * ms_archive_doc.c (document building), ms_archive_read.c (search, show,
 * stats), ms_archive_remote.c (the [archive] remotes in a reader, raw
 * bytes from where a hit lives) and ms_archive_compact.c (compaction,
 * maintenance). Calls go one
 * way: ms_archive.c -> prep -> doc; compact, read, ms_archive.c, prep ->
 * shard. Not a public interface.
 */
#ifndef MS_ARCHIVE_INT_H
#define MS_ARCHIVE_INT_H

#include "ms_archive.h"
#include "ms_doc.h"
#include "ms_hash.h"
#include "ms_mime.h"
#include "ms_shard.h"
#include "ms_store.h"
#include "ms_xapian.h"

#define MS_ARCHIVE_LOCK ".archive.lock" /* in the locks directory */

/* The kept reader's view of the shards (ms_archive_sig.c): one block,
 * freed with free(). */
typedef struct ms_reader_sig ms_reader_sig;

/* A shard this handle has written to; db is NULL while it is closed. */
typedef struct ms_wshard {
	char name[MS_SHARD_NAME_MAX];
	ms_xdb *db;
	int lock_fd;	/* flock on locks/<name>.lock while open, else -1 */
	unsigned dirty; /* additions since the last commit */
	unsigned added; /* additions since the shard was opened */
} ms_wshard;

struct ms_archive {
	char *dir;
	char *shards_dir;
	char *locks_dir;
	ms_archive_opts opts;
	ms_mime_opts mime;
	ms_store *store;
	ms_wshard *w; /* shards written to so far */
	size_t n_w, cap_w;
	size_t n_open;		 /* of which open (and locked) */
	ms_archive_worker *self; /* the worker ms_archive_add() uses */
	unsigned char key[MS_STORE_KEY_LEN]; /* store key, if has_key */
	int has_key;
	int archive_lock_fd; /* locks/.archive.lock (SH: writer, EX: maint) */
	int *maint_fds;	     /* shard locks held by ms_archive_lock_all */
	char **maint_names;  /* their shard names (NULL-terminated) */
	size_t n_maint;
	ms_xdb *reader; /* opts.keep_reader: the kept reader, or NULL */
	ms_reader_sig *reader_sig; /* the shards when last checked (free()) */
	unsigned reader_opens;	   /* times it was (re)opened (for tests) */
	unsigned reader_checks;	   /* full checks: listed and stat'ed */
	char host[MS_SHARD_HOST_MAX]; /* label of new shards; "" = none */
	size_t n_remotes;	      /* in opts.remotes */
	/* The reader last opened: its first n_local parts are local shards,
	 * part n_local + k is remote part_remote[k] (of n_part_remote). */
	size_t n_local, n_part_remote, *part_remote;
	ms_buf partial; /* what it left out (ms_archive_partial) */
	ms_buf err;
};

/* Lists ar's shards and stats them (the full check). MS_OK with *sig_r,
 * MS_ERR_IO (error set on ar), MS_ERR_NOMEM. */
ms_status_t ms_archive_sig_take(ms_archive *ar, ms_reader_sig **sig_r);
/* 1 if sig is settled and a stat of its files (no listing: a few
 * microseconds a shard) shows no commit, shard added, dropped or swapped
 * since it was taken; 0 if the full check is needed (sig NULL, not
 * settled, or anything differs or cannot be stat'ed). */
int ms_archive_sig_unchanged(const ms_archive *ar, const ms_reader_sig *sig);
/* 1 if a and b (either may be NULL: 0) hold the same shards (names and
 * directories), so a reader opened on a can be moved to the latest commit
 * instead of opened again. */
int ms_archive_sig_same_shards(const ms_reader_sig *a, const ms_reader_sig *b);
/* sig's shard names (*n_r of them, in listing order; owned by sig). */
const char *const *ms_archive_sig_names(const ms_reader_sig *sig, size_t *n_r);

/* A message prepared by a worker for ms_archive_insert(). */
struct ms_prep {
	ms_status_t st; /* MS_OK, or why it cannot be archived (see err) */
	int present;	/* already archived: nothing to insert */
	char id[MS_ARCHIVE_ID_MAX];
	char sha[MS_SHA256_HEX];
	char shard[MS_SHARD_NAME_MAX];
	ms_xdoc *xd;
	ms_buf err;
	ms_buf unextracted; /* ms_prep_unextracted's lines */
};

/* Sets the handle's error message (printf-style); returns st. */
ms_status_t ms_archive_fail(ms_archive *ar, ms_status_t st, const char *fmt,
			    ...) __attribute__((format(printf, 3, 4)));

/* Builds the Xapian document for doc (+ env, may be NULL) with archive id
 * id, raw size and sha256. *xdoc_r is freed by the caller (ms_xdoc_free).
 * MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_archive_build(const ms_doc *doc, const ms_envelope *env,
			     const char *id, size_t size, const char *sha256,
			     ms_xdoc **xdoc_r);

/* Opens a read-only database over the shards of ar that may hold dates in
 * [lo, hi]; on failure the reason goes to err. Thread-safe. */
ms_status_t ms_archive_open_reader(const ms_archive *ar, int64_t lo, int64_t hi,
				   ms_xdb **db_r, ms_buf *err);

/* Adds every remote of ar to reader db (opened over n_local local
 * shards), recording which part is which and, with allow_partial, what
 * was left out (ms_archive_remote.c). MS_OK, MS_ERR_REMOTE (error set on
 * ar), MS_ERR_NOMEM. */
ms_status_t ms_archive_add_remotes(ms_archive *ar, ms_xdb *db, size_t n_local);
/* After a search on reader db failed with MS_ERR_REMOTE: sets ar's error
 * to name every remote host of the search (one of them was lost; which
 * one cannot be told), with the search's own message. Returns
 * MS_ERR_REMOTE. */
ms_status_t ms_archive_remote_failed(ms_archive *ar, ms_xdb *db);

/* Finds the entry of shard name (adding one if new) and opens it for
 * writing like ms_archive_open_shard(); *ws_r is owned by ar. */
ms_status_t ms_archive_get_shard(ms_archive *ar, const char *name,
				 ms_wshard **ws_r);
/* Locks and opens shard ws for writing unless it is open (closing all
 * when too many are open). */
ms_status_t ms_archive_open_shard(ms_archive *ar, ms_wshard *ws);
/* Closes shard ws (uncommitted changes are committed by Xapian) and
 * releases its lock. */
void ms_archive_close_shard(ms_archive *ar, ms_wshard *ws);
/* Commits and closes every writable shard, releasing their locks. */
ms_status_t ms_archive_release_shards(ms_archive *ar);
/* Opens dir/name and takes flock op (LOCK_SH or LOCK_EX) without waiting;
 * *fd_r is the descriptor, else -1 and an error set on ar (MS_ERR_LOCKED
 * with "busy" in the message if held elsewhere). */
ms_status_t ms_archive_flock(ms_archive *ar, const char *dir, const char *name,
			     int op, const char *busy, int *fd_r);
/* Removes the directory tree at path (missing is fine); 0 or -1 (errno). */
int ms_archive_remove_tree(const char *path);
/* shards/.<name>.compact, where shard name is compacted; caller frees.
 * NULL when out of memory. */
char *ms_archive_compact_path(const ms_archive *ar, const char *name);
/* Removes a leftover compaction directory of shard name (lock held). */
ms_status_t ms_archive_clean_shard(ms_archive *ar, const char *name);

#endif
