/* ms_archive_remote.c - the other hosts' archives in a search: adding
 * each [archive] remote to a reader, the shard names a host last listed,
 * and the raw bytes of a hit from wherever it lives.
 *
 * Functions: ms_archive_add_remotes, ms_archive_remote_failed,
 * ms_archive_partial, ms_archive_raw;
 * file-local add_one, refresh_listing, listed_shards. Each remote is one
 * more sub-database of the reader (Xapian::Remote over the host's
 * xapian-tcpsrv). After a successful connect the host's shard listing
 * (GET /shards, ms_remote.h) is saved as dir/remotes/<addr>.shards when
 * the saved one is older than LISTING_SECS, so that a host that is down
 * later can be reported with the shards it is missing; a failure to save
 * it is not an error (it only makes that report less precise).
 */
#include "ms_archive_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ms_file.h"
#include "ms_remote.h"

#define LISTING_SECS 60
#define LISTING_MAX  (1u << 20)
#define RAW_MAX	     (1ull << 31) /* bytes of one remote message at most */

/* dir/remotes/<addr with ':' '/' '[' ']' as '_'>.shards; caller frees. */
static char *listing_path(const ms_archive *ar, const char *addr)
{
	char *p = NULL;
	if (asprintf(&p, "%s/remotes/%s.shards", ar->dir, addr) < 0)
		return NULL;
	for (char *c = strrchr(p, '/') + 1; *c; c++)
		if (strchr(":/[]", *c))
			*c = '_';
	return p;
}

/* Saves the shard listing of remote addr unless a recent one is saved. */
static void refresh_listing(ms_archive *ar, const char *addr)
{
	char *path = listing_path(ar, addr), *dir = NULL, *err = NULL;
	struct stat sb;
	if (!path ||
	    (stat(path, &sb) == 0 && time(NULL) - sb.st_mtime < LISTING_SECS)) {
		free(path);
		return;
	}
	ms_buf names = MS_BUF_INIT;
	if (ms_remote_get(addr, "/shards", ar->opts.remote_connect_ms,
			  ar->opts.remote_timeout_ms, LISTING_MAX, &names,
			  NULL) == MS_OK &&
	    asprintf(&dir, "%s/remotes", ar->dir) >= 0 &&
	    (mkdir(dir, 0750) == 0 || errno == EEXIST))
		ms_file_replace(path, names.data ? names.data : "", names.len,
				0640, &err);
	ms_buf_free(&names);
	free(err);
	free(dir);
	free(path);
}

/* Appends the shard names remote addr last listed (", "-separated). */
static void listed_shards(const ms_archive *ar, const char *addr, ms_buf *out)
{
	char *path = listing_path(ar, addr);
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[MS_SHARD_NAME_MAX + 2];
	size_t n = 0;
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (*line)
			ms_buf_printf(out, "%s%s", n++ ? ", " : "", line);
	}
	if (!n)
		ms_buf_puts(out, "unknown (never listed from here)");
	if (f)
		fclose(f);
	free(path);
}

/* Adds remote i to db; on failure records it (allow_partial) or fails. */
static ms_status_t add_one(ms_archive *ar, ms_xdb *db, size_t i)
{
	const char *addr = ar->opts.remotes[i];
	char host[MS_REMOTE_HOST_MAX];
	unsigned port = 0;
	ms_status_t st =
		ms_remote_split(addr, host, &port)
			? MS_ERR_INVALID
			: ms_xdb_add_remote(db, host, port,
					    ar->opts.remote_timeout_ms,
					    ar->opts.remote_connect_ms);
	const char *why =
		st == MS_ERR_INVALID ? "not HOST:PORT" : ms_xdb_error(db);
	if (!st) {
		ar->part_remote[ar->n_part_remote++] = i;
		refresh_listing(ar, addr);
		return MS_OK;
	}
	if (!ar->opts.allow_partial)
		return ms_archive_fail(ar, MS_ERR_REMOTE,
				       "remote archive host %s unreachable: %s "
				       "(--allow-partial searches the others)",
				       addr, why);
	ms_buf_printf(&ar->partial,
		      "%sremote %s unreachable (%s); missing "
		      "shards: ",
		      ar->partial.len ? "; " : "", addr, why);
	listed_shards(ar, addr, &ar->partial);
	return MS_OK;
}

ms_status_t ms_archive_add_remotes(ms_archive *ar, ms_xdb *db, size_t n_local)
{
	ms_buf_reset(&ar->partial);
	ar->n_local = n_local;
	ar->n_part_remote = 0;
	if (!ar->n_remotes)
		return MS_OK;
	if (!ar->part_remote &&
	    !(ar->part_remote = calloc(ar->n_remotes, sizeof *ar->part_remote)))
		return ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < ar->n_remotes && !st; i++)
		st = add_one(ar, db, i);
	return st;
}

ms_status_t ms_archive_remote_failed(ms_archive *ar, ms_xdb *db)
{
	/* Xapian's error does not say which remote it was, and a probe of
	   each cannot tell either: a healthy remote left mid-exchange by the
	   failed search fails a keep-alive too. So every remote is named. */
	ms_buf hosts = MS_BUF_INIT;
	for (size_t k = 0; k < ar->n_part_remote; k++)
		ms_buf_printf(&hosts, "%s%s", k ? " " : "",
			      ar->opts.remotes[ar->part_remote[k]]);
	ms_archive_fail(ar, MS_ERR_REMOTE,
			"a remote archive host failed during the search (one "
			"of %s): %s",
			hosts.data ? hosts.data : "none", ms_xdb_error(db));
	ms_buf_free(&hosts);
	return MS_ERR_REMOTE;
}

const char *ms_archive_partial(const ms_archive *ar)
{
	return ar->partial.data ? ar->partial.data : "";
}

ms_status_t ms_archive_raw(ms_archive *ar, const ms_hit *h, ms_buf *out)
{
	if (!h->origin || !*h->origin) {
		ms_status_t st = ms_store_get(ar->store, h->sha256, out);
		return st ? ms_archive_fail(ar, st, "id %s: %s", h->id,
					    ms_store_error(ar->store))
			  : MS_OK;
	}
	char path[MS_SHA256_HEX + 8], *err = NULL, sha[MS_SHA256_HEX];
	snprintf(path, sizeof path, "/raw/%s", h->sha256);
	size_t start = out->len;
	ms_status_t st =
		ms_remote_get(h->origin, path, ar->opts.remote_connect_ms,
			      ar->opts.remote_timeout_ms, RAW_MAX, out, &err);
	if (st == MS_ERR_NOTFOUND)
		ms_archive_fail(ar, st, "id %s: not in the store of %s", h->id,
				h->origin);
	else if (st)
		ms_archive_fail(ar, st, "id %s: %s", h->id,
				err ? err : ms_status_str(st));
	else if (ms_sha256_hex(out->data + start, out->len - start, sha) ||
		 strcmp(sha, h->sha256) != 0)
		st = ms_archive_fail(ar, MS_ERR_CORRUPT,
				     "id %s: %s sent bytes whose SHA-256 is "
				     "not the archived one",
				     h->id, h->origin);
	free(err);
	return st;
}
