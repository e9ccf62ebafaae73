/* fts-mailsift-xapian.h - the C face of the plugin's Xapian layer
 * (ms_xapian_fts.cc, the plugin's only C++ file and only includer of
 * <xapian.h>).
 *
 * One Xapian database per mailbox (directory named by the mailbox GUID);
 * a message is the document whose docid is its IMAP UID, so posting lists
 * are UID lists and an expunge is a delete by docid. Per-database metadata
 * holds small strings (last indexed UID, UIDVALIDITY).
 *
 * Every entry point catches every exception; none crosses into C. Returns
 * are MSX_* statuses (0 = success); on failure the message is kept on the
 * handle (msx_error) or, for msx_open, written to err[0..errlen).
 * Dovecot is not visible here: no pools, no logging.
 */
#ifndef FTS_MAILSIFT_XAPIAN_H
#define FTS_MAILSIFT_XAPIAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum msx_status {
	MSX_OK = 0,
	MSX_LOCKED,   /* another writer holds the lock: retry later */
	MSX_MODIFIED, /* reader overtaken by a writer: reopen and retry */
	MSX_CORRUPT,  /* damaged database: the caller rebuilds it */
	MSX_NOTFOUND, /* no database at the path (read mode) */
	MSX_ERROR     /* anything else (I/O, out of memory, ...) */
};

typedef struct msx_db msx_db;

/* Opens the database at path: for writing (created if missing; one writer
 * at a time, MSX_LOCKED otherwise) or for reading (MSX_NOTFOUND if there is
 * none). On MSX_OK *db_r is freed with msx_close(); otherwise it is NULL
 * and err holds a message. */
int msx_open(const char *path, int writable, msx_db **db_r, char *err,
	     size_t errlen);
/* Commits pending writes (a writer) and closes; NULL-safe; NULLs *db. A
 * failing final commit is not reported: call msx_commit() first. */
void msx_close(msx_db **db);
/* The last error message on db ("" if none). Valid until the next call. */
const char *msx_error(const msx_db *db);
/* The status of the last call on db (e.g. MSX_CORRUPT after a failing
 * read of a damaged table). */
int msx_status(const msx_db *db);
/* Reader: moves to the latest revision. */
int msx_reopen(msx_db *db);

/* Metadata: *val_r gets a malloc'ed NUL-terminated copy ("" if unset);
 * caller frees with free(). */
int msx_meta_get(msx_db *db, const char *key, char **val_r);
int msx_meta_set(msx_db *db, const char *key, const char *val);

/* Document building (writer): begin a document for uid, add terms, end
 * stores it (replacing any document with that uid). Only one document is
 * under construction at a time; msx_doc_begin drops an unfinished one. */
int msx_doc_begin(msx_db *db, uint32_t uid);
int msx_doc_add_term(msx_db *db, const char *term, size_t len);
int msx_doc_end(msx_db *db);
/* Gives the document under construction its stored text data[0..len)
 * (copied; fts-mailsift-text.h), value slot MSX_TEXT_SLOT. */
#define MSX_TEXT_SLOT 0
int msx_doc_set_text(msx_db *db, const char *data, size_t len);
/* Deletes the document of uid (no error if there is none). */
int msx_delete(msx_db *db, uint32_t uid);
int msx_commit(msx_db *db);

typedef int msx_term_fn(const char *term, size_t len, void *ctx);
typedef void msx_uid_fn(uint32_t uid, void *ctx);
/* Calls fn(term, len, ctx) for every term starting with prefix, in sorted
 * order, without reading posting lists; stops early if fn returns
 * nonzero. */
int msx_terms(msx_db *db, const char *prefix, msx_term_fn *fn, void *ctx);
/* Calls uid(docid, ctx) for every document holding term[0..len). */
int msx_postlist(msx_db *db, const char *term, size_t len, msx_uid_fn *uid,
		 void *ctx);
typedef int msx_text_fn(uint32_t uid, const char *data, size_t len, void *ctx);
/* Calls fn(uid, text, len, ctx) for each of uids[0..n) (ascending) whose
 * document has stored text (valid during the call); fn returns nonzero to
 * stop. */
int msx_texts(msx_db *db, const uint32_t *uids, size_t n, msx_text_fn *fn,
	      void *ctx);
/* The revision of the database as opened (changes with every commit). */
int msx_revision(msx_db *db, uint64_t *rev_r);
/* Calls uid(docid, ctx) for every document, ascending. */
int msx_each_uid(msx_db *db, msx_uid_fn *uid, void *ctx);
/* Number of documents. */
int msx_doccount(msx_db *db, uint32_t *n_r);

/* The archive (read-only): opens every shard directory under shards_dir
 * as one database (msx_close frees it). MSX_NOTFOUND if there is none;
 * on failure *db_r is NULL and err holds a message. */
int msx_archive_open(const char *shards_dir, msx_db **db_r, char *err,
		     size_t errlen);
/* For each term of the document holding idterm, in sorted order, calls
 * fn(term, len, ctx); fn returns nonzero to stop. MSX_NOTFOUND if no
 * document holds idterm. */
int msx_archive_doc(msx_db *db, const char *idterm, msx_term_fn *fn, void *ctx);

/* Writes a compacted copy of the database at src into the new directory
 * dst (which must not exist). */
int msx_compact(const char *src, const char *dst, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
