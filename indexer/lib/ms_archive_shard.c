/* ms_archive_shard.c - the writable shards of an open archive and their
 * locks; the layer under ms_archive.c (adding), ms_archive_prep.c
 * (workers) and ms_archive_compact.c (compaction, maintenance), which
 * all use it and which it uses none of.
 *
 * Functions: ms_archive_fail, ms_archive_error, ms_archive_flock,
 * ms_archive_get_shard, ms_archive_open_shard, ms_archive_close_shard,
 * ms_archive_release_shards, ms_archive_commit, ms_archive_unlock_all,
 * ms_archive_remove_tree, ms_archive_compact_path, ms_archive_clean_shard.
 * Durability order at commit: store files are synced before any shard
 * commits, so an indexed message always has its raw bytes. Locks: see
 * ms_archive.h; a writer takes the shared archive lock with its first
 * open shard and drops it with its last.
 */
#include "ms_archive_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_OPEN_SHARDS 32 /* writable shards open at once */

ms_status_t ms_archive_fail(ms_archive *ar, ms_status_t st, const char *fmt,
			    ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms_buf_reset(&ar->err);
	ms_buf_vprintf(&ar->err, fmt, ap);
	va_end(ap);
	return st;
}

const char *ms_archive_error(const ms_archive *ar)
{
	return ar->err.data ? ar->err.data : "";
}

/* Whether fd is still the file at path (expire removes the lock file of
 * a shard it drops, while holding it). */
static int same_file(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

ms_status_t ms_archive_flock(ms_archive *ar, const char *dir, const char *name,
			     int op, const char *busy, int *fd_r)
{
	char *path = NULL;
	*fd_r = -1;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	int fd = -1;
	ms_status_t st = MS_OK;
	for (int tries = 0; fd < 0 && !st && tries < 5; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0) {
			st = ms_archive_fail(ar, MS_ERR_IO, "%s: %s", path,
					     strerror(errno));
		} else if (flock(fd, op | LOCK_NB) != 0) {
			st = errno == EWOULDBLOCK
				     ? ms_archive_fail(ar, MS_ERR_LOCKED, "%s",
						       busy)
				     : ms_archive_fail(ar, MS_ERR_IO,
						       "%s: flock: %s", path,
						       strerror(errno));
		} else if (!same_file(fd, path)) {
			close(fd); /* removed meanwhile: lock the new one */
			fd = -1;
			continue;
		}
		if (st && fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0 && !st)
		st = ms_archive_fail(ar, MS_ERR_LOCKED, "%s", busy);
	*fd_r = fd;
	free(path);
	return st;
}

/* Takes the shared archive lock (with the first open shard). */
static ms_status_t lock_archive(ms_archive *ar)
{
	if (ar->archive_lock_fd >= 0)
		return MS_OK;
	ms_status_t st =
		ms_archive_flock(ar, ar->locks_dir, MS_ARCHIVE_LOCK, LOCK_SH,
				 "the archive is being reindexed by "
				 "another process; retry later",
				 &ar->archive_lock_fd);
	return st == MS_ERR_LOCKED ? MS_ERR_BUSY : st;
}

static void unlock_archive(ms_archive *ar)
{
	if (ar->archive_lock_fd >= 0 && !ar->maint_fds) {
		close(ar->archive_lock_fd);
		ar->archive_lock_fd = -1;
	}
}

/* Takes the inter-process write lock of shard name: every archive writer
 * (import, indexd) holds it while the shard is open for writing. */
static ms_status_t lock_shard(ms_archive *ar, ms_wshard *ws)
{
	char name[MS_SHARD_NAME_MAX + 8], busy[MS_SHARD_NAME_MAX + 64];
	snprintf(name, sizeof name, "%s.lock", ws->name);
	snprintf(busy, sizeof busy,
		 "shard %s is being written by another process", ws->name);
	ms_status_t st = lock_archive(ar);
	if (!st)
		st = ms_archive_flock(ar, ar->locks_dir, name, LOCK_EX, busy,
				      &ws->lock_fd);
	if (!st && (st = ms_archive_clean_shard(ar, ws->name))) {
		close(ws->lock_fd);
		ws->lock_fd = -1;
	}
	if (st && !ar->n_open)
		unlock_archive(ar);
	return st;
}

void ms_archive_close_shard(ms_archive *ar, ms_wshard *ws)
{
	ms_xdb_close(&ws->db);
	if (ws->lock_fd < 0)
		return;
	close(ws->lock_fd);
	ws->lock_fd = -1;
	if (--ar->n_open == 0)
		unlock_archive(ar);
}

ms_status_t ms_archive_release_shards(ms_archive *ar)
{
	ms_status_t st = ms_archive_commit(ar);
	for (size_t i = 0; i < ar->n_w; i++)
		ms_archive_close_shard(ar, &ar->w[i]);
	return st;
}

static ms_status_t open_wshard(ms_archive *ar, ms_wshard *ws);

/* Finds the entry for shard name, adding a closed one if new. */
static ms_wshard *find_wshard(ms_archive *ar, const char *name)
{
	for (size_t i = 0; i < ar->n_w; i++)
		if (strcmp(ar->w[i].name, name) == 0)
			return &ar->w[i];
	if (ar->n_w == ar->cap_w) {
		size_t nc = ar->cap_w ? 2 * ar->cap_w : 8;
		ms_wshard *nw = realloc(ar->w, nc * sizeof *nw);
		if (!nw)
			return NULL;
		ar->w = nw;
		ar->cap_w = nc;
	}
	ms_wshard *ws = &ar->w[ar->n_w++];
	memset(ws, 0, sizeof *ws);
	ws->lock_fd = -1;
	snprintf(ws->name, sizeof ws->name, "%s", name);
	return ws;
}

ms_status_t ms_archive_open_shard(ms_archive *ar, ms_wshard *ws)
{
	ms_status_t st = MS_OK;
	if (!ws->db && ar->n_open >= MAX_OPEN_SHARDS)
		st = ms_archive_release_shards(ar);
	return st || ws->db ? st : open_wshard(ar, ws);
}

/* Locks and opens the closed shard ws for writing. */
static ms_status_t open_wshard(ms_archive *ar, ms_wshard *ws)
{
	ms_status_t st = lock_shard(ar, ws);
	if (st)
		return st;
	char *path = NULL, *err = NULL;
	if (asprintf(&path, "%s/%s", ar->shards_dir, ws->name) < 0)
		path = NULL;
	st = path ? ms_xdb_open_write(path, &ws->db, &err) : MS_ERR_NOMEM;
	if (st) {
		ms_archive_fail(ar, st, "shard %s: %s", ws->name,
				err ? err : ms_status_str(st));
		close(ws->lock_fd);
		ws->lock_fd = -1;
		if (!ar->n_open)
			unlock_archive(ar);
	} else {
		ar->n_open++;
	}
	free(err);
	free(path);
	return st;
}

/* Finds or opens the writable shard called name; when too many are open,
 * all are committed and closed first. */
ms_status_t ms_archive_get_shard(ms_archive *ar, const char *name,
				 ms_wshard **ws_r)
{
	ms_wshard *ws = find_wshard(ar, name);
	if (!ws)
		return ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	*ws_r = ws;
	return ms_archive_open_shard(ar, ws);
}

ms_status_t ms_archive_commit(ms_archive *ar)
{
	int any = 0;
	for (size_t i = 0; i < ar->n_w; i++)
		any |= ar->w[i].dirty > 0;
	if (!any)
		return MS_OK;
	ms_status_t st = ms_store_sync(ar->store);
	if (st)
		return ms_archive_fail(ar, st, "%s", ms_store_error(ar->store));
	for (size_t i = 0; i < ar->n_w; i++) {
		ms_wshard *ws = &ar->w[i];
		if (!ws->dirty)
			continue;
		if ((st = ms_xdb_commit(ws->db)))
			return ms_archive_fail(ar, st, "shard %s: %s", ws->name,
					       ms_xdb_error(ws->db));
		ws->dirty = 0;
	}
	return MS_OK;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int ms_archive_remove_tree(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *ms_archive_compact_path(const ms_archive *ar, const char *name)
{
	char *p = NULL;
	return asprintf(&p, "%s/.%s.compact", ar->shards_dir, name) < 0 ? NULL
									: p;
}

ms_status_t ms_archive_clean_shard(ms_archive *ar, const char *name)
{
	char *tmp = ms_archive_compact_path(ar, name);
	if (!tmp)
		return MS_ERR_NOMEM;
	ms_status_t st = ms_archive_remove_tree(tmp) == 0 ? MS_OK : MS_ERR_IO;
	if (st)
		ms_archive_fail(ar, st, "%s: %s", tmp, strerror(errno));
	free(tmp);
	return st;
}

void ms_archive_unlock_all(ms_archive *ar)
{
	for (size_t i = 0; ar->maint_fds && i < ar->n_maint; i++)
		close(ar->maint_fds[i]);
	free(ar->maint_fds);
	ar->maint_fds = NULL;
	ms_shard_list_free(&ar->maint_names);
	ar->n_maint = 0;
	if (ar->archive_lock_fd >= 0 && !ar->n_open) {
		close(ar->archive_lock_fd);
		ar->archive_lock_fd = -1;
	}
}
