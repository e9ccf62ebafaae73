/* fts-mailsift-db.c - where a mailbox's database lives and how it is
 * opened: <mail index root>/mailsift-fts/<mailbox GUID>/ (so a rename keeps
 * it), writers wait for Xapian's lock (invariant 6: one writer; readers
 * never wait), a corrupt database is removed and logged so that Dovecot
 * indexes the mailbox again; compaction swaps a compacted copy in under
 * the writer lock; lookups keep one reader per session.
 *
 * Functions: fts_mailsift_db_path, fts_mailsift_db_open,
 * fts_mailsift_db_remove, fts_mailsift_db_drop_if_corrupt,
 * fts_mailsift_db_get_u32, fts_mailsift_db_set_u32, fts_mailsift_db_format_ok,
 * fts_mailsift_error, fts_mailsift_db_compact, fts_mailsift_db_reader,
 * fts_mailsift_db_reader_close.
 */
#include "fts-mailsift-plugin.h"

#include "mail-storage-private.h"
#include "mail-user.h"
#include "mailbox-list.h"
#include "mkdir-parents.h"
#include "str.h"
#include "unlink-directory.h"

#include <stdio.h>
#include <unistd.h>

#define LOCK_RETRY_MSECS 50

void fts_mailsift_error(struct mailsift_fts_backend *b, struct mailbox *box,
			const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	T_BEGIN
	{
		const char *msg = t_strdup_vprintf(fmt, args);
		struct event *ev =
			box != NULL ? box->event : b->backend.ns->user->event;
		if (box != NULL)
			e_error(ev, FTS_MAILSIFT_LOG "mailbox %s: %s",
				mailbox_get_vname(box), msg);
		else
			e_error(ev, FTS_MAILSIFT_LOG "%s", msg);
	}
	T_END;
	va_end(args);
}

int fts_mailsift_db_path(struct mailsift_fts_backend *b, struct mailbox *box,
			 const char **path_r)
{
	const char *guid;

	if (fts_mailbox_get_guid(box, &guid) < 0) {
		fts_mailsift_error(b, box, "cannot get the mailbox GUID: %s",
				   mailbox_get_last_internal_error(box, NULL));
		return -1;
	}
	*path_r = t_strdup_printf("%s/%s", b->root, guid);
	return 0;
}

int fts_mailsift_db_remove(struct mailsift_fts_backend *b, struct mailbox *box,
			   const char *path, const char *reason)
{
	const char *error;

	e_warning(box != NULL ? box->event : b->backend.ns->user->event,
		  FTS_MAILSIFT_LOG "removing index %s: %s", path, reason);
	if (unlink_directory(path, UNLINK_DIRECTORY_FLAG_RMDIR, &error) < 0 &&
	    errno != ENOENT) {
		fts_mailsift_error(b, box, "cannot remove %s: %s", path, error);
		return -1;
	}
	return 0;
}

void fts_mailsift_db_drop_if_corrupt(struct mailsift_fts_backend *b,
				     struct mailbox *box, msx_db **db)
{
	const char *path, *reason;

	if (*db == NULL || msx_status(*db) != MSX_CORRUPT)
		return;
	T_BEGIN
	{
		reason = t_strdup_printf("corrupt (%s)", msx_error(*db));
		msx_close(db);
		if (fts_mailsift_db_path(b, box, &path) == 0)
			(void)fts_mailsift_db_remove(b, box, path, reason);
	}
	T_END;
}

static int open_writer(struct mailsift_fts_backend *b, struct mailbox *box,
		       const char *path, msx_db **db_r, char *err, size_t len)
{
	unsigned int waited = 0;
	int st;

	if (mkdir_parents(b->root, 0700) < 0 && errno != EEXIST) {
		i_snprintf(err, len, "mkdir(%s) failed: %m", b->root);
		return MSX_ERROR;
	}
	while ((st = msx_open(path, 1, db_r, err, len)) == MSX_LOCKED &&
	       waited < b->set.lock_timeout_msecs) {
		usleep(LOCK_RETRY_MSECS * 1000);
		waited += LOCK_RETRY_MSECS;
	}
	(void)box;
	return st;
}

int fts_mailsift_db_open(struct mailsift_fts_backend *b, struct mailbox *box,
			 bool writable, msx_db **db_r)
{
	const char *path;
	char err[512] = "";
	int st;

	*db_r = NULL;
	if (fts_mailsift_db_path(b, box, &path) < 0)
		return -1;
	st = writable ? open_writer(b, box, path, db_r, err, sizeof(err))
		      : msx_open(path, 0, db_r, err, sizeof(err));
	if (st == MSX_CORRUPT) {
		(void)fts_mailsift_db_remove(
			b, box, path, t_strdup_printf("corrupt (%s)", err));
		if (!writable)
			return 0;
		st = open_writer(b, box, path, db_r, err, sizeof(err));
	}
	if (st == MSX_OK)
		return 1;
	if (st == MSX_NOTFOUND || (!writable && access(path, F_OK) < 0))
		return 0;
	fts_mailsift_error(b, box, "cannot open index %s%s: %s", path,
			   st == MSX_LOCKED ? " (locked)" : "", err);
	return -1;
}

int fts_mailsift_db_format_ok(msx_db *db)
{
	uint32_t format;

	if (fts_mailsift_db_get_u32(db, META_FORMAT, &format) < 0)
		return -1;
	return format == MSF_INDEX_FORMAT ? 1 : 0;
}

int fts_mailsift_db_get_u32(msx_db *db, const char *key, uint32_t *val_r)
{
	char *v = NULL;

	*val_r = 0;
	if (msx_meta_get(db, key, &v) != MSX_OK)
		return -1;
	if (*v != '\0' && str_to_uint32(v, val_r) < 0)
		*val_r = 0;
	free(v);
	return 0;
}

int fts_mailsift_db_set_u32(msx_db *db, const char *key, uint32_t val)
{
	char buf[16];

	i_snprintf(buf, sizeof(buf), "%u", val);
	return msx_meta_set(db, key, buf) == MSX_OK ? 0 : -1;
}

static void remove_quietly(const char *path)
{
	const char *error;

	(void)unlink_directory(path, UNLINK_DIRECTORY_FLAG_RMDIR, &error);
}

int fts_mailsift_db_compact(struct mailsift_fts_backend *b, struct mailbox *box,
			    msx_db **writer)
{
	const char *path, *tmp, *old;
	char err[512] = "";
	int ret = -1;

	if (fts_mailsift_db_path(b, box, &path) < 0) {
		msx_close(writer);
		return -1;
	}
	tmp = t_strconcat(path, ".compact", NULL);
	old = t_strconcat(path, ".old", NULL);
	remove_quietly(tmp);
	remove_quietly(old);
	if (msx_compact(path, tmp, err, sizeof(err)) != MSX_OK)
		fts_mailsift_error(b, box, "compacting %s: %s", path, err);
	else if (rename(path, old) < 0)
		fts_mailsift_error(b, box, "rename(%s) failed: %m", path);
	else if (rename(tmp, path) < 0) {
		fts_mailsift_error(b, box, "rename(%s) failed: %m", tmp);
		if (rename(old, path) < 0)
			fts_mailsift_error(b, box, "rename(%s) failed: %m",
					   old);
	} else
		ret = 0;
	/* the lock (in the old directory) is held until here */
	msx_close(writer);
	remove_quietly(tmp);
	remove_quietly(old);
	return ret;
}

/* Identity of the database directory at path (0 if it does not exist):
 * changes when the index is rebuilt or a compacted copy is swapped in. */
static ino_t dir_inode(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? 0 : st.st_ino;
}

int fts_mailsift_db_reader(struct mailsift_fts_backend *b, struct mailbox *box,
			   msx_db **db_r)
{
	const char *path;
	int ret;

	*db_r = NULL;
	if (fts_mailsift_db_path(b, box, &path) < 0)
		return -1;
	if (b->reader != NULL && strcmp(b->reader_path, path) == 0 &&
	    b->reader_ino == dir_inode(path) &&
	    msx_reopen(b->reader) == MSX_OK) {
		*db_r = b->reader;
		return 1;
	}
	fts_mailsift_db_reader_close(b);
	ret = fts_mailsift_db_open(b, box, FALSE, &b->reader);
	if (ret > 0) {
		b->reader_path = i_strdup(path);
		b->reader_ino = dir_inode(path);
	}
	*db_r = b->reader;
	return ret;
}

void fts_mailsift_db_reader_close(struct mailsift_fts_backend *b)
{
	msx_close(&b->reader);
	i_free_and_null(b->reader_path);
}
