/* fts-mailsift-plugin.h - shared declarations of the mailsift Dovecot 2.3
 * FTS backend (lib21_fts_mailsift_plugin.so).
 *
 * Files: fts-mailsift-plugin.c (init/deinit, registration),
 * fts-mailsift-settings.c (plugin {} settings), fts-backend-mailsift.c
 * (the vfunc table, updates), fts-mailsift-lookup.c (SEARCH lookups),
 * fts-mailsift-storage.c (mailbox delete hook), fts-mailsift-db.c (per-mailbox
 * database paths, opening with lock retry, rebuild of corrupt databases, last
 * UID), fts-mailsift-terms.c (words and terms, no Dovecot), ms_xapian_fts.cc
 * (Xapian, behind fts-mailsift-xapian.h).
 *
 * Conventions (Dovecot's): functions return 0 ok / -1 error (errors are
 * logged with the user and mailbox where they happen); outputs end in _r;
 * memory from Dovecot pools and the data stack.
 */
#ifndef FTS_MAILSIFT_PLUGIN_H
#define FTS_MAILSIFT_PLUGIN_H

#include "lib.h"
#include "array.h"

#include <sys/stat.h>
#include "fts-api-private.h"
#include "fts-mailsift-xapian.h"
#include "fts-mailsift-terms.h"
#include "fts-mailsift-text.h"

#define FTS_MAILSIFT_NAME "mailsift"
#define FTS_MAILSIFT_DIR  "mailsift-fts"
#define FTS_MAILSIFT_LOG  "fts-mailsift: "

struct fts_mailsift_settings {
	unsigned int batch_size; /* messages per commit ([imap] batch_size) */
	unsigned int lock_timeout_msecs; /* writer lock wait */
	unsigned int lexicon_max; /* bytes of one field's words in memory */
	unsigned int key_runs;	  /* runs of one key looked up at most */
	/* archive reuse: the archive directory (NULL: off), its text cap
	   per part, the user's login and addresses (lower case) */
	const char *archive_dir;
	uint64_t archive_text_cap;
	ARRAY_TYPE(const_string) addresses;
};

struct mailsift_fts_backend {
	struct fts_backend backend;
	struct fts_mailsift_settings set;
	const char *root; /* <index root>/mailsift-fts, from backend pool */
	pool_t pool;
	struct lex_cache *lexicons; /* fts-mailsift-lexicon.c */
	msx_db *reader;		    /* fts_mailsift_db_reader() */
	char *reader_path;
	ino_t reader_ino;
	bool user_inited; /* fts_mail_user_init() done */
};

extern struct fts_backend fts_backend_mailsift;

/* fts-mailsift-settings.c: reads mailsift_config (plugin.conf [imap]) and
 * mailsift_* plugin settings of user. */
int fts_mailsift_settings_read(struct mail_user *user,
			       struct fts_mailsift_settings *set_r,
			       const char **error_r);

/* fts-mailsift-db.c */
/* Directory of box's database (data stack). -1 if box has no GUID. */
int fts_mailsift_db_path(struct mailsift_fts_backend *b, struct mailbox *box,
			 const char **path_r);
/* Opens box's database. Writers wait for the lock up to the configured
 * timeout. A corrupt database is removed (and logged) so that Dovecot
 * rebuilds it. Returns 1 opened, 0 no database (readers only), -1 error
 * (logged). */
int fts_mailsift_db_open(struct mailsift_fts_backend *b, struct mailbox *box,
			 bool writable, msx_db **db_r);
/* The session's reader of box's database: kept open between lookups and
 * moved to the latest revision (opened again if the directory was
 * replaced). Borrowed: the backend owns it (and closes it with
 * fts_mailsift_db_reader_close). 1 ok, 0 no database, -1 error. */
int fts_mailsift_db_reader(struct mailsift_fts_backend *b, struct mailbox *box,
			   msx_db **db_r);
void fts_mailsift_db_reader_close(struct mailsift_fts_backend *b);
/* Removes the database directory path (logged with reason). */
int fts_mailsift_db_remove(struct mailsift_fts_backend *b, struct mailbox *box,
			   const char *path, const char *reason);
/* If the last call on *db failed for corruption: closes *db (NULL) and
 * removes its directory (logged), so that Dovecot rebuilds the index. */
void fts_mailsift_db_drop_if_corrupt(struct mailsift_fts_backend *b,
				     struct mailbox *box, msx_db **db);
/* Compacts box's database: *writer (open, so the writer lock is held)
 * has no pending changes; a compacted copy is written beside the database
 * and swapped in, then *writer is closed (NULL). Readers that had the old
 * one open keep reading it. 0 ok, -1 error (logged; nothing lost). */
int fts_mailsift_db_compact(struct mailsift_fts_backend *b, struct mailbox *box,
			    msx_db **writer);
/* Metadata helpers: 0 ok (missing = 0), -1 error. */
int fts_mailsift_db_get_u32(msx_db *db, const char *key, uint32_t *val_r);
int fts_mailsift_db_set_u32(msx_db *db, const char *key, uint32_t val);
/* Whether db was written under the current term scheme (META_FORMAT is
 * MSF_INDEX_FORMAT; a database without it predates pair terms): 1 yes, 0
 * no (it must be rebuilt; until then lookups leave SEARCH to Dovecot), -1
 * error. */
int fts_mailsift_db_format_ok(msx_db *db);
/* Logs an error about box (box may be NULL). */
void fts_mailsift_error(struct mailsift_fts_backend *b, struct mailbox *box,
			const char *fmt, ...) ATTR_FORMAT(3, 4);

/* fts-mailsift-extract.c: reads mail (from its start) as native SEARCH
 * does and calls fn for each term of its document (see
 * fts-mailsift-terms.h), and adds the text TEXT and BODY scan to text
 * (caller-owned, initialised; or NULL). body_words (or NULL): the archived
 * words of the bodies, used instead of reading the bodies (text is then
 * left as it is). Returns 0, 1 if body_words cannot serve (a text part
 * that is not text/plain: call again without), -1 with *error_r set (data
 * stack) if reading failed or fn returned -1. */
int fts_mailsift_extract(struct mail *mail,
			 const ARRAY_TYPE(const_string) * body_words,
			 msf_term_fn *fn, void *ctx, struct msf_text *text,
			 const char **error_r);

/* Text (or a search key) in Dovecot's normalisation, decomposed titlecase,
 * the one form indexed text and keys are compared in: a data stack buffer,
 * NUL-terminated after used bytes. In fts-mailsift-extract.c. */
buffer_t *fts_mailsift_dtc(const char *in, size_t len);

/* fts-mailsift-reuse.c: if mail's X-Mailsift-Id names an archived message
 * delivered to this user whose archived words can stand for its bodies,
 * fills words (data stack) and returns 1; else 0 (words empty). *archive
 * is the archive reader, opened on first use; the caller closes it. */
int fts_mailsift_reuse_words(struct mailsift_fts_backend *b, msx_db **archive,
			     struct mail *mail,
			     ARRAY_TYPE(const_string) * words);

/* fts-mailsift-lexicon.c: the distinct words of a field (see there). */
struct msf_lexicon;
struct lex_cache;
/* The lexicon of field prefix of box guid in db (cached; owned by the
 * cache, valid until the next call). 0 ok, -1 Xapian error (on db). */
int fts_mailsift_lexicon_get(struct mailsift_fts_backend *b, const char *guid,
			     msx_db *db, const char *prefix,
			     struct msf_lexicon **lex_r);
/* Calls fn(term) for each term whose run contains the key run w (db: the
 * database the lexicon was read from); stops when fn returns -1. Returns
 * 0, -1 if fn or reading the database failed. */
int fts_mailsift_lexicon_match(const struct msf_lexicon *lex, msx_db *db,
			       const char *w, msf_term_fn *fn, void *ctx);
/* What fts_mailsift_lexicon_match of w would cost, and about how many
 * runs of the field may contain w: the runs it searches (those with w's
 * rarest byte pair; all for one byte; UINT32_MAX for a field read from the
 * index per key). No database access. */
uint64_t fts_mailsift_lexicon_cost(const struct msf_lexicon *lex,
				   const char *w);
void fts_mailsift_lexicon_cache_free(struct mailsift_fts_backend *b);

/* fts-mailsift-lookup.c */
int fts_mailsift_lookup(struct fts_backend *backend, struct mailbox *box,
			struct mail_search_arg *args,
			enum fts_lookup_flags flags, struct fts_result *result);
int fts_mailsift_lookup_multi(struct fts_backend *backend,
			      struct mailbox *const boxes[],
			      struct mail_search_arg *args,
			      enum fts_lookup_flags flags,
			      struct fts_multi_result *result);

/* fts-mailsift-storage.c: mail storage hooks (mailbox delete removes the
 * mailbox's index); init registers them for module, deinit removes them. */
struct module;
void fts_mailsift_storage_init(struct module *module);
void fts_mailsift_storage_deinit(void);

/* fts-mailsift-maint.c */
int fts_mailsift_rescan(struct fts_backend *backend);
int fts_mailsift_optimize(struct fts_backend *backend);

#define META_LAST_UID	 "mailsift.last_uid"
#define META_UIDVALIDITY "mailsift.uidvalidity"
#define META_FORMAT	 "mailsift.format" /* MSF_INDEX_FORMAT */

#endif
