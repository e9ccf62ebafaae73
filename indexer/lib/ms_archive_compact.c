/* ms_archive_compact.c - compacting the shards a bulk import filled, and
 * maintenance that replaces all shards at once (reindex).
 *
 * Functions: ms_archive_compact, ms_archive_lock_all,
 * ms_archive_swap_shards, ms_archive_drop_shards, ms_archive_drop_shard,
 * ms_archive_clean_dropped (ms_archive_unlock_all,
 * the leftover-directory clean-up and tree removal are in
 * ms_archive_shard.c). A shard is
 * compacted into shards/.<name>.compact while its write lock (locks/) is
 * held, then the two directories are swapped atomically
 * (renameat2 RENAME_EXCHANGE) and the old copy removed. A crash at any
 * point leaves the shard whole; the leftover .compact directory is removed
 * the next time a writer locks the shard. A rebuilt set of shards is
 * swapped in the same way, whole (shards <-> shards.new), under the
 * exclusive archive lock and every shard lock. A shard expire emptied is
 * dropped the same way: renamed out of the listing (.<name>.dropped) in
 * one step, then removed.
 */
#include "ms_archive_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Compacts the (closed, locked) shard name and swaps it into place. */
static ms_status_t compact_one(ms_archive *ar, const char *name)
{
	char *tmp = ms_archive_compact_path(ar, name), *path = NULL,
	     *err = NULL;
	if (!tmp || asprintf(&path, "%s/%s", ar->shards_dir, name) < 0) {
		free(tmp);
		return MS_ERR_NOMEM;
	}
	ms_status_t st = ms_archive_clean_shard(ar, name);
	if (!st && (st = ms_xdb_compact(path, tmp, &err)))
		ms_archive_fail(ar, st, "compacting shard %s: %s", name, err);
	if (!st &&
	    renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) != 0)
		st = ms_archive_fail(ar, MS_ERR_IO, "swapping %s: %s", tmp,
				     strerror(errno));
	if (ms_archive_remove_tree(tmp) != 0 && !st)
		st = ms_archive_fail(ar, MS_ERR_IO, "%s: %s", tmp,
				     strerror(errno));
	free(err);
	free(path);
	free(tmp);
	return st;
}

/* Whether this session added enough to shard ws to be worth compacting. */
static int worth_it(ms_wshard *ws, unsigned min_percent)
{
	uint64_t docs = 0;
	if (!ws->added || ms_xdb_doccount(ws->db, &docs) != MS_OK)
		return 0;
	return (uint64_t)ws->added * 100 >= docs * min_percent;
}

ms_status_t ms_archive_compact(ms_archive *ar, unsigned min_percent)
{
	ms_status_t st = ms_archive_commit(ar);
	for (size_t i = 0; i < ar->n_w && !st; i++) {
		ms_wshard *ws = &ar->w[i];
		if (!ws->added || (st = ms_archive_open_shard(ar, ws)) ||
		    !worth_it(ws, min_percent))
			continue;
		ms_xdb_close(&ws->db); /* our lock file stays held */
		st = compact_one(ar, ws->name);
		ms_archive_close_shard(ar, ws);
		ws->added = 0;
	}
	ms_status_t rst = ms_archive_release_shards(ar);
	return st ? st : rst;
}

/* Takes the write lock of every shard in names (ar->maint_fds). */
static ms_status_t lock_shards(ms_archive *ar)
{
	for (size_t i = 0; i < ar->n_maint; i++) {
		char lock[MS_SHARD_NAME_MAX + 8], busy[MS_SHARD_NAME_MAX + 96];
		const char *name = ar->maint_names[i];
		snprintf(lock, sizeof lock, "%.*s.lock", MS_SHARD_NAME_MAX,
			 name);
		snprintf(busy, sizeof busy,
			 "shard %.*s is being written by another process "
			 "(mailsift-indexd or import?)",
			 MS_SHARD_NAME_MAX, name);
		ms_status_t st =
			ms_archive_flock(ar, ar->locks_dir, lock, LOCK_EX, busy,
					 &ar->maint_fds[i]);
		if (st)
			return st;
	}
	return MS_OK;
}

ms_status_t ms_archive_lock_all(ms_archive *ar)
{
	if (ar->maint_fds)
		return MS_OK;
	if (ar->n_open)
		return ms_archive_fail(ar, MS_ERR_INVALID,
				       "lock_all while writing shards");
	if (mkdir(ar->locks_dir, 0750) != 0 && errno != EEXIST)
		return ms_archive_fail(ar, MS_ERR_IO, "%s: %s", ar->locks_dir,
				       strerror(errno));
	ms_status_t st = ms_archive_flock(
		ar, ar->locks_dir, MS_ARCHIVE_LOCK, LOCK_EX,
		"the archive is being written by another process "
		"(mailsift-indexd or import?)",
		&ar->archive_lock_fd);
	if (st)
		return st;
	if (ms_shard_list(ar->shards_dir, &ar->maint_names, &ar->n_maint)) {
		ar->maint_names = NULL;
		st = ms_archive_fail(ar, MS_ERR_IO, "%s: cannot list shards",
				     ar->shards_dir);
	} else if (!(ar->maint_fds = malloc((ar->n_maint + 1) * sizeof(int)))) {
		st = ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	} else {
		for (size_t i = 0; i < ar->n_maint; i++)
			ar->maint_fds[i] = -1;
		st = lock_shards(ar);
	}
	if (st) {
		ms_buf keep = MS_BUF_INIT; /* unlocking must not lose it */
		ms_buf_puts(&keep, ms_archive_error(ar));
		ms_archive_unlock_all(ar);
		ms_archive_fail(ar, st, "%s", keep.data ? keep.data : "");
		ms_buf_free(&keep);
	}
	return st;
}

/* MS_OK if every shard now present was locked by ms_archive_lock_all. */
static ms_status_t all_locked(ms_archive *ar)
{
	char **names = NULL;
	size_t n = 0;
	if (ms_shard_list(ar->shards_dir, &names, &n))
		return ms_archive_fail(ar, MS_ERR_IO, "%s: cannot list shards",
				       ar->shards_dir);
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < n && !st; i++) {
		size_t j = 0;
		while (j < ar->n_maint && strcmp(names[i], ar->maint_names[j]))
			j++;
		if (j == ar->n_maint)
			st = ms_archive_fail(ar, MS_ERR_LOCKED,
					     "shard %s appeared meanwhile: the "
					     "archive changed",
					     names[i]);
	}
	ms_shard_list_free(&names);
	return st;
}

static ms_status_t subdir_paths(ms_archive *ar, const char *subdir,
				char **path_r, char **locks_r)
{
	*path_r = *locks_r = NULL;
	if (!*subdir || strchr(subdir, '/') || strcmp(subdir, "shards") == 0 ||
	    subdir[0] == '.')
		return ms_archive_fail(ar, MS_ERR_INVALID,
				       "bad shards directory name \"%s\"",
				       subdir);
	if (asprintf(path_r, "%s/%s", ar->dir, subdir) < 0 ||
	    asprintf(locks_r, "%s/%s.locks", ar->dir, subdir) < 0) {
		free(*path_r);
		*path_r = NULL;
		return ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	}
	return MS_OK;
}

ms_status_t ms_archive_swap_shards(ms_archive *ar, const char *subdir)
{
	char *path, *locks;
	if (!ar->maint_fds)
		return ms_archive_fail(ar, MS_ERR_INVALID,
				       "swap without ms_archive_lock_all");
	ms_status_t st = subdir_paths(ar, subdir, &path, &locks);
	if (st || (st = all_locked(ar)))
		goto out;
	int rc = renameat2(AT_FDCWD, path, AT_FDCWD, ar->shards_dir,
			   RENAME_EXCHANGE);
	if (rc != 0 && errno == ENOENT && access(path, F_OK) == 0)
		rc = rename(path, ar->shards_dir); /* no live shards yet */
	if (rc != 0) {
		st = ms_archive_fail(ar, MS_ERR_IO, "swapping %s and %s: %s",
				     path, ar->shards_dir, strerror(errno));
		goto out;
	}
	int dfd = open(ar->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if (ms_archive_remove_tree(path) || ms_archive_remove_tree(locks))
		st = ms_archive_fail(ar, MS_ERR_IO, "removing old shards: %s",
				     strerror(errno));
out:
	free(path);
	free(locks);
	return st;
}

ms_status_t ms_archive_drop_shards(ms_archive *ar, const char *subdir)
{
	char *path, *locks;
	ms_status_t st = subdir_paths(ar, subdir, &path, &locks);
	if (!st &&
	    (ms_archive_remove_tree(path) || ms_archive_remove_tree(locks)))
		st = ms_archive_fail(ar, MS_ERR_IO, "removing %s: %s", path,
				     strerror(errno));
	free(path);
	free(locks);
	return st;
}

#define DROPPED ".dropped"

/* Removes the tree of a dropped shard and, if the shard is gone, its lock
 * file. */
static ms_status_t remove_dropped(ms_archive *ar, const char *name)
{
	char *gone = NULL, *live = NULL, *lock = NULL;
	ms_status_t st = MS_OK;
	if (asprintf(&gone, "%s/.%s" DROPPED, ar->shards_dir, name) < 0 ||
	    asprintf(&live, "%s/%s", ar->shards_dir, name) < 0 ||
	    asprintf(&lock, "%s/%s.lock", ar->locks_dir, name) < 0)
		st = ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	else if (ms_archive_remove_tree(gone) != 0)
		st = ms_archive_fail(ar, MS_ERR_IO, "removing %s: %s", gone,
				     strerror(errno));
	else if (access(live, F_OK) != 0 && unlink(lock) != 0 &&
		 errno != ENOENT)
		st = ms_archive_fail(ar, MS_ERR_IO, "removing %s: %s", lock,
				     strerror(errno));
	free(gone);
	free(live);
	free(lock);
	return st;
}

ms_status_t ms_archive_drop_shard(ms_archive *ar, const char *name)
{
	size_t i = 0;
	while (ar->maint_fds && i < ar->n_maint &&
	       strcmp(ar->maint_names[i], name) != 0)
		i++;
	if (!ar->maint_fds || i == ar->n_maint)
		return ms_archive_fail(ar, MS_ERR_INVALID,
				       "drop of shard %s without its lock",
				       name);
	char *path = NULL, *gone = NULL;
	ms_status_t st = MS_OK;
	if (asprintf(&path, "%s/%s", ar->shards_dir, name) < 0 ||
	    asprintf(&gone, "%s/.%s" DROPPED, ar->shards_dir, name) < 0)
		st = ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	else if (rename(path, gone) != 0)
		st = ms_archive_fail(ar, MS_ERR_IO, "renaming %s: %s", path,
				     strerror(errno));
	int dfd = st ? -1 : open(ar->shards_dir, O_RDONLY | O_DIRECTORY);
	if (!st && (dfd < 0 || fsync(dfd) != 0))
		st = ms_archive_fail(ar, MS_ERR_IO, "syncing %s: %s",
				     ar->shards_dir, strerror(errno));
	if (dfd >= 0)
		close(dfd);
	free(path);
	free(gone);
	return st ? st : remove_dropped(ar, name);
}

ms_status_t ms_archive_clean_dropped(ms_archive *ar)
{
	DIR *d = opendir(ar->shards_dir);
	if (!d)
		return errno == ENOENT
			       ? MS_OK
			       : ms_archive_fail(ar, MS_ERR_IO, "%s: %s",
						 ar->shards_dir,
						 strerror(errno));
	ms_status_t st = MS_OK;
	for (struct dirent *e; !st && (e = readdir(d));) {
		size_t n = strlen(e->d_name), k = strlen(DROPPED);
		if (e->d_name[0] != '.' || n <= k + 1 || n - 1 - k >= 64 ||
		    strcmp(e->d_name + n - k, DROPPED) != 0)
			continue;
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(n - 1 - k),
			 e->d_name + 1);
		st = remove_dropped(ar, name);
	}
	closedir(d);
	return st;
}
