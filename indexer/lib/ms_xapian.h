/* ms_xapian.h - the C face of the Xapian shim (ms_xapian*.cc are the only
 * C++ files and the only includers of <xapian.h>).
 *
 * Handles are opaque. Every entry point catches every Xapian exception and
 * maps it to a status in one place: DatabaseLockError -> MS_ERR_LOCKED,
 * DatabaseModifiedError -> MS_ERR_MODIFIED (both retryable; a reader
 * calls ms_xdb_reopen()), DatabaseCorruptError -> MS_ERR_CORRUPT,
 * DatabaseNotFoundError/DocNotFoundError -> MS_ERR_NOTFOUND, DatabaseOpening
 * and DatabaseCreate errors -> MS_ERR_IO, InvalidArgument/InvalidOperation
 * errors (a malformed query tree, writing through a reader) ->
 * MS_ERR_INVALID, NetworkError (a remote database: refused, timed out,
 * closed) -> MS_ERR_REMOTE, std::bad_alloc -> MS_ERR_NOMEM, anything else ->
 * MS_ERR_XAPIAN. The message of the last call's error is kept on the handle
 * (ms_xdb_error; each call clears it first). Nothing prints or exits.
 * Terms longer than Xapian's limit (245 bytes with prefix) are cut at a
 * UTF-8 character boundary, the same way when indexing and when querying.
 */
#ifndef MS_XAPIAN_H
#define MS_XAPIAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "ms_query.h"
#include "ms_status.h"

typedef struct ms_xdb ms_xdb;
typedef struct ms_xdoc ms_xdoc;
typedef struct ms_xresults ms_xresults;

/* Opens (creating if missing) the database at path for writing. Only one
 * writer at a time: MS_ERR_LOCKED if another holds the lock. On success
 * *db_r is a handle freed with ms_xdb_close(). On failure *db_r is NULL
 * and *err_r (if err_r) is a message the caller frees with free(). */
ms_status_t ms_xdb_open_write(const char *path, ms_xdb **db_r, char **err_r);

/* Opens the n databases at paths as one read-only database (n may be 0:
 * an empty database). Returns as ms_xdb_open_write (MS_ERR_NOTFOUND if a
 * path does not exist, MS_ERR_IO if it is not a database, MS_ERR_CORRUPT
 * if its version file is damaged). */
ms_status_t ms_xdb_open_read(const char *const *paths, size_t n, ms_xdb **db_r,
			     char **err_r);

/* A reader over the databases idx[0..n) (0-based, in the order of the
 * paths db was opened with by ms_xdb_open_read; n may be 0: an empty
 * database) that shares db's open files instead of opening them again:
 * cheap enough for each search. It is at db's revision and moves with it
 * (ms_xdb_reopen of either moves both). Use it on db's thread only and
 * close it (ms_xdb_close, which leaves db's files open) before db.
 * MS_ERR_INVALID if an index is out of range. */
ms_status_t ms_xdb_subset(ms_xdb *db, const size_t *idx, size_t n,
			  ms_xdb **sub_r);

/* Adds to reader db the database that xapian-tcpsrv serves at host:port
 * (Xapian's remote backend): searches and counts then cover it too, as
 * one more sub-database after those already there (ms_xresults_part
 * tells which one a hit came from). timeout_ms bounds each exchange,
 * connect_ms the connect. MS_ERR_REMOTE (the message says why: refused,
 * timed out, ...) and db unchanged if it cannot be reached;
 * MS_ERR_INVALID on a writer or a subset. */
ms_status_t ms_xdb_add_remote(ms_xdb *db, const char *host, unsigned port,
			      unsigned timeout_ms, unsigned connect_ms);

/* Reader: moves to the latest revision. MS_OK or an error status. */
ms_status_t ms_xdb_reopen(ms_xdb *db);

/* Closes the database; pending writes are committed (Xapian semantics; a
 * failure of that commit is not reported: call ms_xdb_commit() first).
 * NULL-safe; sets *db to NULL. */
void ms_xdb_close(ms_xdb **db);

/* The last error message on db ("" if none). Valid until the next call. */
const char *ms_xdb_error(const ms_xdb *db);

/* A document under construction. NULL on ENOMEM; free with ms_xdoc_free. */
ms_xdoc *ms_xdoc_new(void);
void ms_xdoc_free(ms_xdoc **doc);
/* Tokenizes text (ms_tokenize) into prefix+term terms with positions; each
 * call starts 100 positions after the previous one so phrases never span
 * two calls. MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_xdoc_add_text(ms_xdoc *doc, const char *prefix, const char *text,
			     size_t len);
/* Adds prefix+term as one non-positional term (truncated to Xapian's term
 * limit). MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_xdoc_add_term(ms_xdoc *doc, const char *prefix,
			     const char *term);
/* Sets a numeric value slot (stored sortable). */
ms_status_t ms_xdoc_set_value(ms_xdoc *doc, unsigned slot, double v);
/* Sets the document data blob (copied). */
ms_status_t ms_xdoc_set_data(ms_xdoc *doc, const void *data, size_t len);

/* Replaces (or adds) the one document carrying idterm with doc. idterm is
 * added to doc (as a boolean term) if it is not there yet. doc stays owned
 * by the caller. MS_ERR_INVALID on a read-only handle; other errors as
 * above; on error nothing changed. */
ms_status_t ms_xdb_replace(ms_xdb *db, const char *idterm, ms_xdoc *doc);
/* Deletes every document carrying term. */
ms_status_t ms_xdb_delete(ms_xdb *db, const char *term);
/* *yes_r = 1 if some document carries term. */
ms_status_t ms_xdb_has_term(ms_xdb *db, const char *term, int *yes_r);
/* Commits pending changes durably. */
ms_status_t ms_xdb_commit(ms_xdb *db);
/* Number of documents. */
ms_status_t ms_xdb_doccount(ms_xdb *db, uint64_t *n_r);

/* Runs query q, newest first (date value descending; equal dates: the
 * later document first), skipping offset matches and returning at most
 * limit (0 = all). On MS_OK *res_r is freed by ms_xresults_free(), else it
 * is NULL. MS_ERR_MODIFIED: reopen and retry. MS_ERR_INVALID: q is NULL or
 * malformed (a NOT without one kid, WORDS/PREFIX without terms, EXACT
 * without field or value, a term query on a RANGE field, a RANGE on a field
 * without a slot). Wildcards expand to at most 10000 terms (the most
 * frequent ones). */
ms_status_t ms_xdb_search(ms_xdb *db, const ms_qnode *q, size_t offset,
			  size_t limit, ms_xresults **res_r);
/* Exact number of documents matching q (statuses as ms_xdb_search). */
ms_status_t ms_xdb_count(ms_xdb *db, const ms_qnode *q, uint64_t *n_r);

size_t ms_xresults_size(const ms_xresults *res);
/* The exact number of documents matching the query of ms_xdb_search()
 * (every one, not only those skipped or returned). */
uint64_t ms_xresults_total(const ms_xresults *res);
/* Data blob of hit i (0-based); *len_r gets its length. Owned by res. */
const char *ms_xresults_data(const ms_xresults *res, size_t i, size_t *len_r);
/* Which sub-database hit i came from: its 0-based index in the order
 * they were opened (the paths of ms_xdb_open_read, then each
 * ms_xdb_add_remote; of a subset: its own order). */
size_t ms_xresults_part(const ms_xresults *res, size_t i);
void ms_xresults_free(ms_xresults **res);

/* Calls fn(data, len, ctx) with the data blob of every document (owned by
 * the shim, valid during the call), in document id order (sub-databases
 * interleaved). Stops at the first status fn returns other than MS_OK and
 * returns it (fn's own message is its business: db's error is left
 * empty). MS_ERR_MODIFIED: reopen and start again. */
typedef ms_status_t (*ms_xdb_each_fn)(const char *data, size_t len, void *ctx);
ms_status_t ms_xdb_each(ms_xdb *db, ms_xdb_each_fn fn, void *ctx);

/* Runs Xapian's consistency check on the database at path. On MS_OK the
 * database is consistent and *report_r is NULL; on MS_ERR_CORRUPT (or any
 * other error, e.g. MS_ERR_IO if path holds no database) *report_r (caller
 * frees; NULL if out of memory) says what is wrong. Note: libxapian 1.4.22's
 * check trips AddressSanitizer's new-delete-type-mismatch inside libxapian
 * (harmless); ASan builds calling this need new_delete_type_mismatch=0. */
ms_status_t ms_xdb_check(const char *path, char **report_r);

/* Writes a compacted copy of the database at src (which no one may be
 * writing) to the new directory dst. On error *err_r (caller frees) says
 * why; dst may be left half-written for the caller to remove. */
ms_status_t ms_xdb_compact(const char *src, const char *dst, char **err_r);

#ifdef __cplusplus
}
#endif

#endif
