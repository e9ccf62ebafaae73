/* ms_archive.c - opening the archive and adding messages to it.
 *
 * Functions: ms_archive_open, ms_archive_close, ms_archive_error,
 * ms_archive_add, ms_archive_commit, ms_archive_fail, ms_archive_flock,
 * ms_archive_store, ms_archive_shards_dir.
 * A message's archive id is its X-Mailsift-Id when it has one, else the
 * first 24 hex digits of the SHA-256 of its bytes, so importing the same
 * message twice finds it present. Durability order at commit: store files
 * are synced before any shard commits, so an indexed message always has
 * its raw bytes. Locks: see ms_archive.h; a writer takes the shared
 * archive lock with its first open shard and drops it with its last.
 */
#include "ms_archive_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

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

/* mkdir -p for one level below an existing parent. */
static int make_dir(const char *path)
{
	return mkdir(path, 0750) == 0 || errno == EEXIST ? 0 : -1;
}

static char *path_join(const char *a, const char *b)
{
	ms_buf p = MS_BUF_INIT;
	if (ms_buf_printf(&p, "%s/%s", a, b)) {
		ms_buf_free(&p);
		return NULL;
	}
	return ms_buf_steal(&p);
}

/* dir/locks, or dir/<sub>.locks for a second set of shards. */
static char *locks_path(const char *dir, const char *sub)
{
	char *p = NULL;
	if (!sub)
		return path_join(dir, "locks");
	return asprintf(&p, "%s/%s.locks", dir, sub) < 0 ? NULL : p;
}

/* Creates the directories (writable), opens the store, loads the key. */
static ms_status_t open_dirs(ms_archive *ar, const char *key_file, char **err_r)
{
	char *store_dir = path_join(ar->dir, "store");
	ms_status_t st = MS_ERR_NOMEM;
	if (!store_dir || !ar->shards_dir || !ar->locks_dir)
		goto out;
	st = MS_ERR_IO;
	if (ar->opts.writable &&
	    (make_dir(ar->dir) || make_dir(ar->shards_dir) ||
	     make_dir(ar->locks_dir))) {
		if (err_r &&
		    asprintf(err_r, "%s: %s", ar->dir, strerror(errno)) < 0)
			*err_r = NULL;
		goto out;
	}
	struct stat sb;
	if (!ar->opts.writable && stat(ar->dir, &sb) != 0) {
		st = errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO;
		if (err_r && asprintf(err_r, "%s: %s", ar->dir,
				      errno == ENOENT ? "no archive here yet "
							"(nothing imported or "
							"indexed)"
						      : strerror(errno)) < 0)
			*err_r = NULL;
		goto out;
	}
	st = ms_store_open(store_dir, ar->opts.compression_level, &ar->store,
			   err_r);
	if (!st && key_file && *key_file &&
	    !(st = ms_store_load_key(key_file, ar->key, err_r))) {
		ar->has_key = 1;
		st = ms_store_set_key(ar->store, ar->key);
	}
out:
	free(store_dir);
	return st;
}

ms_status_t ms_archive_open(const ms_archive_opts *opts, ms_archive **ar_r,
			    char **err_r)
{
	*ar_r = NULL;
	if (err_r)
		*err_r = NULL;
	ms_archive *ar = calloc(1, sizeof *ar);
	if (!ar)
		return MS_ERR_NOMEM;
	ar->opts = *opts;
	ar->archive_lock_fd = -1;
	ar->dir = strdup(opts->dir);
	const char *sub = opts->shards_subdir ? opts->shards_subdir : "shards";
	ar->shards_dir = ar->dir ? path_join(ar->dir, sub) : NULL;
	ar->locks_dir =
		ar->dir ? locks_path(ar->dir, opts->shards_subdir) : NULL;
	ar->opts.dir = ar->dir;
	ar->opts.encrypt_key = NULL; /* borrowed: read once, below */
	ar->opts.shards_subdir = NULL;
	ar->mime.max_text_per_part = opts->max_text_per_part;
	ms_mime_init();
	ms_status_t st = open_dirs(ar, opts->encrypt_key, err_r);
	if (!st && (st = ms_archive_worker_new(ar, &ar->self)) && err_r)
		*err_r = strdup(ms_archive_error(ar));
	if (st) {
		ms_archive_close(&ar);
		return st;
	}
	*ar_r = ar;
	return MS_OK;
}

ms_status_t ms_archive_close(ms_archive **arp)
{
	ms_archive *ar = *arp;
	if (!ar)
		return MS_OK;
	ms_status_t st = ar->store ? ms_archive_release_shards(ar) : MS_OK;
	ms_archive_unlock_all(ar);
	OPENSSL_cleanse(ar->key, sizeof ar->key);
	free(ar->w);
	ms_archive_worker_free(&ar->self);
	ms_store_close(&ar->store);
	free(ar->shards_dir);
	free(ar->locks_dir);
	free(ar->dir);
	ms_buf_free(&ar->err);
	free(ar);
	*arp = NULL;
	return st;
}

ms_status_t ms_archive_flock(ms_archive *ar, const char *dir, const char *name,
			     int op, const char *busy, int *fd_r)
{
	char *path = NULL;
	*fd_r = -1;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	ms_status_t st = MS_OK;
	if (fd < 0) {
		st = ms_archive_fail(ar, MS_ERR_IO, "%s: %s", path,
				     strerror(errno));
	} else if (flock(fd, op | LOCK_NB) != 0) {
		st = errno == EWOULDBLOCK
			     ? ms_archive_fail(ar, MS_ERR_LOCKED, "%s", busy)
			     : ms_archive_fail(ar, MS_ERR_IO, "%s: flock: %s",
					       path, strerror(errno));
		close(fd);
		fd = -1;
	}
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
	char *path = path_join(ar->shards_dir, ws->name);
	char *err = NULL;
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
static ms_status_t get_wshard(ms_archive *ar, const char *name,
			      ms_wshard **ws_r)
{
	ms_wshard *ws = find_wshard(ar, name);
	if (!ws)
		return ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	*ws_r = ws;
	return ms_archive_open_shard(ar, ws);
}

ms_status_t ms_archive_insert(ms_archive *ar, ms_prep *prep,
			      ms_add_result *res_r, char *id_r)
{
	*res_r = MS_ADD_PRESENT;
	if (id_r)
		memcpy(id_r, prep->id, sizeof prep->id);
	if (prep->st)
		return ms_archive_fail(ar, prep->st, "%s", prep->err.data);
	if (prep->present)
		return MS_OK;
	ms_wshard *ws = NULL;
	ms_status_t st = get_wshard(ar, prep->shard, &ws);
	if (st)
		return st;
	char term[MS_ARCHIVE_ID_MAX + 8];
	snprintf(term, sizeof term, "%s%s", MS_PREFIX_ID, prep->id);
	if ((st = ms_xdb_replace(ws->db, term, prep->xd)))
		return ms_archive_fail(ar, st, "shard %s: %s", prep->shard,
				       ms_xdb_error(ws->db));
	ws->dirty++;
	ws->added++;
	*res_r = MS_ADD_NEW;
	return MS_OK;
}

ms_status_t ms_archive_add(ms_archive *ar, const char *raw, size_t len,
			   const ms_envelope *env, ms_add_result *res_r,
			   char *id_r)
{
	ms_prep *prep = NULL;
	*res_r = MS_ADD_PRESENT;
	ms_status_t st = ms_archive_prepare(ar->self, raw, len, env, &prep);
	if (st)
		return ms_archive_fail(ar, st, "%s", ms_status_str(st));
	st = ms_archive_insert(ar, prep, res_r, id_r);
	ms_prep_free(&prep);
	return st;
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

struct ms_store *ms_archive_store(ms_archive *ar)
{
	return ar->store;
}

const char *ms_archive_shards_dir(const ms_archive *ar)
{
	return ar->shards_dir;
}
