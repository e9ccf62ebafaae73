/* ms_archive.c - opening the archive and adding messages to it.
 *
 * Functions: ms_archive_open, ms_archive_close, ms_archive_error,
 * ms_archive_add, ms_archive_commit, ms_archive_fail.
 * A message's archive id is its X-Mailsift-Id when it has one, else the
 * first 24 hex digits of the SHA-256 of its bytes, so importing the same
 * message twice finds it present. Durability order at commit: store files
 * are synced before any shard commits, so an indexed message always has
 * its raw bytes.
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

#include "ms_hash.h"

#define ID_HEX_LEN 24
#define MAX_OPEN_SHARDS 32 /* writable shards open at once */

static ms_status_t release_shards(ms_archive *ar);

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

static ms_status_t open_dirs(ms_archive *ar, char **err_r)
{
	char *store_dir = path_join(ar->dir, "store");
	ms_status_t st = MS_ERR_NOMEM;
	if (!store_dir || !ar->shards_dir || !ar->locks_dir)
		goto out;
	st = MS_ERR_IO;
	if (ar->opts.writable &&
	    (make_dir(ar->dir) || make_dir(ar->shards_dir) ||
	     make_dir(ar->locks_dir))) {
		if (err_r && asprintf(err_r, "%s: %s", ar->dir,
				      strerror(errno)) < 0)
			*err_r = NULL;
		goto out;
	}
	st = ms_store_open(store_dir, ar->opts.compression_level, &ar->store,
			   err_r);
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
	ar->dir = strdup(opts->dir);
	ar->shards_dir = ar->dir ? path_join(ar->dir, "shards") : NULL;
	ar->locks_dir = ar->dir ? path_join(ar->dir, "locks") : NULL;
	ar->opts.dir = ar->dir;
	ar->mime.max_text_per_part = opts->max_text_per_part;
	ms_mime_init();
	ms_status_t st = open_dirs(ar, err_r);
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
	ms_status_t st = ar->store ? release_shards(ar) : MS_OK;
	free(ar->w);
	ms_xdb_close(&ar->reader);
	ms_store_close(&ar->store);
	free(ar->shards_dir);
	free(ar->locks_dir);
	free(ar->dir);
	ms_buf_free(&ar->err);
	free(ar);
	*arp = NULL;
	return st;
}

/* Takes the inter-process write lock of shard name: every archive writer
 * (import, indexd) holds it while the shard is open for writing. */
static ms_status_t lock_shard(ms_archive *ar, ms_wshard *ws)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s.lock", ar->locks_dir, ws->name) < 0)
		return MS_ERR_NOMEM;
	ws->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	ms_status_t st = MS_OK;
	if (ws->lock_fd < 0)
		st = ms_archive_fail(ar, MS_ERR_IO, "%s: %s", path,
				     strerror(errno));
	else if (flock(ws->lock_fd, LOCK_EX | LOCK_NB) != 0)
		st = ms_archive_fail(ar, errno == EWOULDBLOCK ? MS_ERR_LOCKED
							      : MS_ERR_IO,
				     "shard %s is being written by another "
				     "process (%s)",
				     ws->name, strerror(errno));
	if (st && ws->lock_fd >= 0)
		close(ws->lock_fd);
	free(path);
	return st;
}

/* Commits and closes every writable shard, releasing their locks. */
static ms_status_t release_shards(ms_archive *ar)
{
	ms_status_t st = ms_archive_commit(ar);
	for (size_t i = 0; i < ar->n_w; i++) {
		ms_xdb_close(&ar->w[i].db);
		close(ar->w[i].lock_fd);
	}
	ar->n_w = 0;
	return st;
}

/* Finds or opens the writable shard called name. */
static ms_status_t get_wshard(ms_archive *ar, const char *name,
			      ms_wshard **ws_r)
{
	for (size_t i = 0; i < ar->n_w; i++)
		if (strcmp(ar->w[i].name, name) == 0)
			return *ws_r = &ar->w[i], MS_OK;
	ms_status_t st;
	if (ar->n_w >= MAX_OPEN_SHARDS && (st = release_shards(ar)))
		return st;
	if (ar->n_w == ar->cap_w) {
		size_t nc = ar->cap_w ? 2 * ar->cap_w : 8;
		ms_wshard *nw = realloc(ar->w, nc * sizeof *nw);
		if (!nw)
			return MS_ERR_NOMEM;
		ar->w = nw;
		ar->cap_w = nc;
	}
	ms_wshard *ws = &ar->w[ar->n_w];
	memset(ws, 0, sizeof *ws);
	snprintf(ws->name, sizeof ws->name, "%s", name);
	if ((st = lock_shard(ar, ws)))
		return st;
	char *path = path_join(ar->shards_dir, name);
	char *err = NULL;
	st = path ? ms_xdb_open_write(path, &ws->db, &err) : MS_ERR_NOMEM;
	if (st) {
		ms_archive_fail(ar, st, "shard %s: %s", name,
				err ? err : ms_status_str(st));
		close(ws->lock_fd);
	}
	free(err);
	free(path);
	if (st)
		return st;
	ar->n_w++;
	*ws_r = ws;
	return MS_OK;
}

/* Whether the message with this id and hash is already archived: its raw
 * bytes are stored and some committed shard has its id term. */
static int already_present(ms_archive *ar, const char *id, const char *sha)
{
	int yes = 0;
	if (ms_store_has(ar->store, sha, &yes) || !yes)
		return 0;
	if (ms_archive_reader(ar))
		return 0;
	char term[MS_ARCHIVE_ID_MAX + 8];
	snprintf(term, sizeof term, "%s%s", MS_PREFIX_ID, id);
	yes = 0;
	if (ms_xdb_has_term(ar->reader, term, &yes) == MS_ERR_MODIFIED &&
	    ms_xdb_reopen(ar->reader) == MS_OK)
		ms_xdb_has_term(ar->reader, term, &yes);
	return yes;
}

/* Indexes doc into its shard and stores the raw bytes. */
static ms_status_t index_doc(ms_archive *ar, const ms_doc *doc,
			     const ms_envelope *env, const char *id,
			     const char *raw, size_t len, const char *sha)
{
	char shard[MS_SHARD_NAME_MAX];
	ms_shard_name(env && env->time ? env->time : doc->date,
		      ar->opts.shard_by, shard);
	ms_wshard *ws;
	ms_status_t st = get_wshard(ar, shard, &ws);
	if (st)
		return st;
	ms_xdoc *xd = NULL;
	if ((st = ms_archive_build(doc, env, id, len, sha, &xd)))
		return ms_archive_fail(ar, st, "%s", ms_status_str(st));
	if ((st = ms_store_put(ar->store, sha, raw, len, 0)))
		ms_archive_fail(ar, st, "%s", ms_store_error(ar->store));
	char term[MS_ARCHIVE_ID_MAX + 8];
	snprintf(term, sizeof term, "%s%s", MS_PREFIX_ID, id);
	if (!st && (st = ms_xdb_replace(ws->db, term, xd)))
		ms_archive_fail(ar, st, "shard %s: %s", shard,
				ms_xdb_error(ws->db));
	if (!st) {
		ws->dirty++;
		ws->added++;
	}
	ms_xdoc_free(&xd);
	return st;
}

ms_status_t ms_archive_add(ms_archive *ar, const char *raw, size_t len,
			   const ms_envelope *env, ms_add_result *res_r,
			   char *id_r)
{
	size_t skip = ms_mime_from_line_len(raw, len);
	raw += skip;
	len -= skip;
	char sha[MS_SHA256_HEX], id[MS_ARCHIVE_ID_MAX];
	if (ms_sha256_hex(raw, len, sha))
		return ms_archive_fail(ar, MS_ERR_CRYPTO, "SHA-256 failed");
	snprintf(id, sizeof id, "%.*s", ID_HEX_LEN, sha);
	if (env && env->id)
		snprintf(id, sizeof id, "%s", env->id);
	if (id_r)
		memcpy(id_r, id, sizeof id);
	*res_r = MS_ADD_PRESENT;
	if (!(env && env->id) && already_present(ar, id, sha))
		return MS_OK;
	ms_doc *doc = NULL;
	char *why = NULL;
	ms_status_t st = ms_mime_parse(raw, len, &ar->mime, &doc, &why);
	if (st) {
		ms_archive_fail(ar, st, "%s", why ? why : ms_status_str(st));
		free(why);
		return st;
	}
	st = index_doc(ar, doc, env, id, raw, len, sha);
	ms_doc_free(&doc);
	if (!st)
		*res_r = MS_ADD_NEW;
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
