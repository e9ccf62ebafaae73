/* ms_archive.c - opening the archive and adding messages to it.
 *
 * Functions: ms_archive_opts_from, ms_archive_opts_remote, ms_archive_open,
 * ms_archive_close,
 * ms_archive_insert, ms_archive_add, ms_archive_store, ms_archive_shards_dir.
 * A message's archive id is its X-Mailsift-Id when it has one, else the
 * first 24 hex digits of the SHA-256 of its bytes, so importing the same
 * message twice finds it present. The shards written to, their locks and
 * commits are ms_archive_shard.c's.
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

ms_archive_opts ms_archive_opts_from(const ms_config *cfg, int writable)
{
	ms_archive_opts o = {
		.dir = cfg->archive_dir,
		.shard_by = cfg->archive_shard_by,
		.max_text_per_part = cfg->archive_max_text_per_part,
		.compression_level = (int)cfg->archive_compression_level,
		.writable = writable,
		.encrypt_key = cfg->archive_encrypt_key,
		.extract = {
			.enabled = cfg->archive_extract,
			.types = cfg->archive_extract_types,
			.helper = cfg->archive_extract_helper,
			.max_size = cfg->archive_extract_max_size,
			.max_text = cfg->archive_extract_max_text,
			.memory = cfg->archive_extract_memory,
			.zip_max = cfg->archive_extract_zip_max,
			.cpu = cfg->archive_extract_cpu,
			.timeout = cfg->archive_extract_timeout,
			.zip_depth = cfg->archive_extract_zip_depth,
			.zip_ratio = cfg->archive_extract_zip_ratio,
		},
		.host = cfg->archive_host,
	};
	return o;
}

void ms_archive_opts_remote(ms_archive_opts *o, const ms_config *cfg,
			    int allow_partial)
{
	o->remotes = (const char *const *)cfg->archive_remote;
	o->remote_timeout_ms = cfg->archive_remote_timeout * 1000;
	o->remote_connect_ms = cfg->archive_remote_connect_timeout * 1000;
	o->allow_partial = allow_partial;
}

/* The label of the shards ar writes: none, the short host name, or
 * opts' own. */
static void set_host(ms_archive *ar, const char *host)
{
	if (host && !*host)
		ms_shard_default_host(ar->host);
	else
		snprintf(ar->host, sizeof ar->host, "%s", host ? host : "");
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
	ar->opts.host = NULL; /* copied: ar->host */
	set_host(ar, opts->host);
	for (const char *const *r = opts->remotes; r && *r; r++)
		ar->n_remotes++;
	if (!ar->opts.remote_timeout_ms)
		ar->opts.remote_timeout_ms = 30000;
	if (!ar->opts.remote_connect_ms)
		ar->opts.remote_connect_ms = 5000;
	ar->mime.max_text_per_part = opts->max_text_per_part;
	ar->mime.extract = &ar->opts.extract;
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
	ms_xdb_close(&ar->reader);
	free(ar->reader_sig);
	free(ar->shards_dir);
	free(ar->locks_dir);
	free(ar->dir);
	free(ar->part_remote);
	ms_buf_free(&ar->partial);
	ms_buf_free(&ar->err);
	free(ar);
	*arp = NULL;
	return st;
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
	ms_status_t st = ms_archive_get_shard(ar, prep->shard, &ws);
	if (st)
		return st;
	int stored = 0; /* an expire run may have removed it since prepare */
	if ((st = ms_store_has(ar->store, prep->sha, &stored)) || !stored)
		return ms_archive_fail(ar, st ? st : MS_ERR_NOTFOUND,
				       "stored message %s vanished before it "
				       "was indexed (expired meanwhile?); "
				       "retry",
				       prep->sha);
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

struct ms_store *ms_archive_store(ms_archive *ar)
{
	return ar->store;
}

const char *ms_archive_shards_dir(const ms_archive *ar)
{
	return ar->shards_dir;
}
