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
#include "fts-api-private.h"
#include "fts-mailsift-xapian.h"

#define FTS_MAILSIFT_NAME "mailsift"
#define FTS_MAILSIFT_DIR  "mailsift-fts"
#define FTS_MAILSIFT_LOG  "fts-mailsift: "

struct fts_mailsift_settings {
	unsigned int batch_size; /* messages per commit ([imap] batch_size) */
	unsigned int lock_timeout_msecs; /* writer lock wait */
};

struct mailsift_fts_backend {
	struct fts_backend backend;
	struct fts_mailsift_settings set;
	const char *root; /* <index root>/mailsift-fts, from backend pool */
	pool_t pool;
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
/* Removes the database directory path (logged with reason). */
int fts_mailsift_db_remove(struct mailsift_fts_backend *b, struct mailbox *box,
			   const char *path, const char *reason);
/* If the last call on *db failed for corruption: closes *db (NULL) and
 * removes its directory (logged), so that Dovecot rebuilds the index. */
void fts_mailsift_db_drop_if_corrupt(struct mailsift_fts_backend *b,
				     struct mailbox *box, msx_db **db);
/* Metadata helpers: 0 ok (missing = 0), -1 error. */
int fts_mailsift_db_get_u32(msx_db *db, const char *key, uint32_t *val_r);
int fts_mailsift_db_set_u32(msx_db *db, const char *key, uint32_t val);
/* Logs an error about box (box may be NULL). */
void fts_mailsift_error(struct mailsift_fts_backend *b, struct mailbox *box,
			const char *fmt, ...) ATTR_FORMAT(3, 4);

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

#endif
