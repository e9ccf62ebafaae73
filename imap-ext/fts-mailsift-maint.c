/* fts-mailsift-maint.c - index maintenance: rescan and optimize.
 *
 * Functions: fts_mailsift_rescan, fts_mailsift_optimize.
 *
 * rescan (doveadm fts rescan) repairs without wiping: databases of
 * mailboxes that no longer exist are removed; in each mailbox, documents
 * of UIDs no longer in the mailbox are deleted and the last indexed UID is
 * lowered to just below the first UID missing from the index, so Dovecot
 * indexes what is missing on its next update.
 * optimize (doveadm fts optimize) compacts every mailbox's database
 * (fts_mailsift_db_compact: written beside it under the writer lock, then
 * swapped in); an update that grows an index by a quarter does the same.
 */
#include "fts-mailsift-plugin.h"

#include "array.h"
#include "hash.h"
#include "mail-namespace.h"
#include "mail-search-build.h"
#include "mail-storage.h"
#include "mailbox-list-iter.h"
#include "seq-range-array.h"

#include <dirent.h>

static void add_uid(uint32_t uid, void *ctx)
{
	seq_range_array_add(ctx, uid);
}

static int mailbox_uids(struct mailbox *box, ARRAY_TYPE(seq_range) * uids)
{
	struct mailbox_transaction_context *t;
	struct mail_search_args *sargs;
	struct mail_search_context *sctx;
	struct mail *mail;
	int ret;

	t = mailbox_transaction_begin(box, 0, __func__);
	sargs = mail_search_build_init();
	mail_search_build_add_all(sargs);
	sctx = mailbox_search_init(t, sargs, NULL, 0, NULL);
	while (mailbox_search_next(sctx, &mail))
		seq_range_array_add(uids, mail->uid);
	ret = mailbox_search_deinit(&sctx);
	mail_search_args_unref(&sargs);
	(void)mailbox_transaction_commit(&t);
	return ret;
}

/* Repairs one mailbox's database (if it has one). */
static int rescan_box(struct mailsift_fts_backend *b, struct mailbox *box)
{
	ARRAY_TYPE(seq_range) have, indexed, extra;
	struct seq_range_iter iter;
	uint32_t last_uid, uid;
	unsigned int i = 0;
	msx_db *db;
	int ret;

	if ((ret = fts_mailsift_db_open(b, box, TRUE, &db)) <= 0)
		return ret;
	t_array_init(&have, 64);
	t_array_init(&indexed, 64);
	ret = mailbox_uids(box, &have) < 0 ||
			      msx_each_uid(db, add_uid, &indexed) != MSX_OK ||
			      fts_mailsift_db_get_u32(db, META_LAST_UID,
						      &last_uid) < 0
		      ? -1
		      : 0;
	if (ret == 0) {
		t_array_init(&extra, 16);
		array_append_array(&extra, &indexed);
		seq_range_array_remove_seq_range(&extra, &have);
		seq_range_array_iter_init(&iter, &extra);
		while (ret == 0 && seq_range_array_iter_nth(&iter, i++, &uid))
			ret = msx_delete(db, uid) == MSX_OK ? 0 : -1;
		seq_range_array_remove_seq_range(&have, &indexed);
		seq_range_array_iter_init(&iter, &have);
		if (seq_range_array_iter_nth(&iter, 0, &uid) && uid <= last_uid)
			last_uid = uid - 1;
		if (ret == 0 &&
		    (fts_mailsift_db_set_u32(db, META_LAST_UID, last_uid) < 0 ||
		     msx_commit(db) != MSX_OK))
			ret = -1;
	}
	if (ret < 0)
		fts_mailsift_error(b, box, "rescan: %s", msx_error(db));
	msx_close(&db);
	return ret;
}

/* Rescans every mailbox of the namespace; collects their GUIDs. */
struct guid_set {
	pool_t pool;
	HASH_TABLE(char *, void *) guids;
};

typedef int box_fn(struct mailsift_fts_backend *b, struct mailbox *box,
		   void *ctx);

/* Calls fn for every selectable mailbox of the namespace, opened and
 * synced. -1 if opening one or fn failed (the others are still done). */
static int each_box(struct mailsift_fts_backend *b, box_fn *fn, void *ctx)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	struct mailbox *box;
	int ret = 0;

	iter = mailbox_list_iter_init(b->backend.ns->list, "*",
				      MAILBOX_LIST_ITER_SKIP_ALIASES |
					      MAILBOX_LIST_ITER_NO_AUTO_BOXES);
	while ((info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NONEXISTENT | MAILBOX_NOSELECT)) !=
		    0)
			continue;
		box = mailbox_alloc(b->backend.ns->list, info->vname, 0);
		T_BEGIN
		{
			if (mailbox_open(box) < 0 || mailbox_sync(box, 0) < 0) {
				fts_mailsift_error(
					b, box, "%s",
					mailbox_get_last_internal_error(box,
									NULL));
				ret = -1;
			} else if (fn(b, box, ctx) < 0)
				ret = -1;
		}
		T_END;
		mailbox_free(&box);
	}
	if (mailbox_list_iter_deinit(&iter) < 0)
		ret = -1;
	return ret;
}

static int rescan_one(struct mailsift_fts_backend *b, struct mailbox *box,
		      void *ctx)
{
	struct guid_set *set = ctx;
	const char *guid;

	if (fts_mailbox_get_guid(box, &guid) < 0)
		return -1;
	hash_table_insert(set->guids, p_strdup(set->pool, guid), (void *)1);
	return rescan_box(b, box);
}

int fts_mailsift_rescan(struct fts_backend *backend)
{
	struct mailsift_fts_backend *b = (struct mailsift_fts_backend *)backend;
	struct guid_set set;
	struct dirent *d;
	DIR *dir;
	int ret;

	set.pool = pool_alloconly_create("mailsift rescan", 1024);
	hash_table_create(&set.guids, set.pool, 0, str_hash, strcmp);
	ret = each_box(b, rescan_one, &set);
	if (ret == 0 && (dir = opendir(b->root)) != NULL) {
		while ((d = readdir(dir)) != NULL) {
			if (d->d_name[0] == '.' ||
			    hash_table_lookup(set.guids,
					      (const char *)d->d_name) != NULL)
				continue;
			T_BEGIN
			{
				(void)fts_mailsift_db_remove(
					b, NULL,
					t_strdup_printf("%s/%s", b->root,
							d->d_name),
					"mailbox no longer exists");
			}
			T_END;
		}
		(void)closedir(dir);
	}
	hash_table_destroy(&set.guids);
	pool_unref(&set.pool);
	return ret;
}

/* Compacts box's database, if it has one. */
static int optimize_box(struct mailsift_fts_backend *b, struct mailbox *box,
			void *ctx ATTR_UNUSED)
{
	msx_db *db;
	int ret = fts_mailsift_db_open(b, box, FALSE, &db);

	msx_close(&db);
	if (ret <= 0 || fts_mailsift_db_open(b, box, TRUE, &db) <= 0)
		return ret;
	return fts_mailsift_db_compact(b, box, &db);
}

int fts_mailsift_optimize(struct fts_backend *backend)
{
	return each_box((struct mailsift_fts_backend *)backend, optimize_box,
			NULL);
}
