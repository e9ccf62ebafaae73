/* ms_archive_compact.c - compacting the shards a bulk import filled.
 *
 * Functions: ms_archive_compact, ms_archive_clean_shard. A shard is
 * compacted into shards/.<name>.compact while its write lock (locks/) is
 * held, then the two directories are swapped atomically
 * (renameat2 RENAME_EXCHANGE) and the old copy removed. A crash at any
 * point leaves the shard whole; the leftover .compact directory is removed
 * the next time a writer locks the shard.
 */
#include "ms_archive_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes the directory tree at path (missing is fine). */
static int remove_tree(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *compact_path(const ms_archive *ar, const char *name)
{
	char *p = NULL;
	return asprintf(&p, "%s/.%s.compact", ar->shards_dir, name) < 0 ? NULL
									: p;
}

ms_status_t ms_archive_clean_shard(ms_archive *ar, const char *name)
{
	char *tmp = compact_path(ar, name);
	if (!tmp)
		return MS_ERR_NOMEM;
	ms_status_t st = remove_tree(tmp) == 0 ? MS_OK : MS_ERR_IO;
	if (st)
		ms_archive_fail(ar, st, "%s: %s", tmp, strerror(errno));
	free(tmp);
	return st;
}

/* Compacts the (closed, locked) shard name and swaps it into place. */
static ms_status_t compact_one(ms_archive *ar, const char *name)
{
	char *tmp = compact_path(ar, name), *path = NULL, *err = NULL;
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
	if (remove_tree(tmp) != 0 && !st)
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
