/* ms_archive_sig.c - the change check of a keep_reader handle's kept
 * reader (ms_archive_int.h): a signature of the shards as the files show
 * them, cheap enough to take before every search.
 *
 * Functions: ms_archive_sig_take, ms_archive_sig_unchanged,
 * ms_archive_sig_same_shards, ms_archive_sig_names.
 *
 * A signature holds the shard listing, the shards directory's stat (a
 * shard added, dropped or swapped changes it) and, per shard, its
 * directory's inode and the stat of its version file "iamglass" (Xapian's
 * glass backend writes it anew and renames it into place at every commit:
 * a new inode and ctime). Stat times come from the kernel's coarse clock,
 * so a change made within the same tick as the stat before it could leave
 * equal times: a signature is only trusted ("settled") when its newest
 * time is older than SETTLE_NS before it was taken, as git treats "racily
 * clean" index entries. A settled signature that a fresh stat of the same
 * files (no listing) matches means nothing was committed, added or
 * dropped since; anything else sends the caller to the full check.
 */
#include "ms_archive_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SETTLE_NS    1000000000LL /* far above any file-time granularity */
#define VERSION_FILE "iamglass"

typedef struct file_id {
	uint64_t ino, size;
	int64_t mtime, ctime; /* ns */
} file_id;

struct ms_reader_sig {
	int settled;
	size_t n;	/* shards */
	char **names;	/* n shard names (into this block) */
	uint64_t *dirs; /* n shard directory inodes */
	file_id top;	/* the shards directory */
	file_id ver[];	/* n version files */
};

static int64_t ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* path's file_id, all zero (and *ok = 0) if it cannot be stat'ed. */
static file_id id_of(const char *path, uint64_t *dir_ino, int *ok)
{
	struct stat sb;
	file_id f = { 0, 0, 0, 0 };
	if (stat(path, &sb) != 0) {
		*ok = 0;
		return f;
	}
	f = (file_id){ (uint64_t)sb.st_ino, (uint64_t)sb.st_size,
		       ns(sb.st_mtim), ns(sb.st_ctim) };
	if (dir_ino)
		*dir_ino = (uint64_t)sb.st_ino;
	return f;
}

/* The file_id of shard name's version file; *ok as id_of. */
static file_id ver_of(const ms_archive *ar, const char *name, int *ok)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof p, "%s/%s/" VERSION_FILE, ar->shards_dir,
		     name) >= (int)sizeof p) {
		*ok = 0;
		return (file_id){ 0, 0, 0, 0 };
	}
	return id_of(p, NULL, ok);
}

/* One block for the n names: the struct, ver[n], names[n], dirs[n], the
 * strings (one free() frees it). NULL when out of memory. */
static ms_reader_sig *sig_alloc(char **names, size_t n)
{
	size_t bytes = sizeof(ms_reader_sig) + n * sizeof(file_id) +
		       n * (sizeof(char *) + sizeof(uint64_t));
	for (size_t i = 0; i < n; i++)
		bytes += strlen(names[i]) + 1;
	ms_reader_sig *s = calloc(1, bytes);
	if (!s)
		return NULL;
	s->n = n;
	s->names = (char **)(s->ver + n);
	s->dirs = (uint64_t *)(s->names + n);
	char *text = (char *)(s->dirs + n);
	for (size_t i = 0; i < n; i++) {
		s->names[i] = strcpy(text, names[i]);
		text += strlen(names[i]) + 1;
	}
	return s;
}

static int64_t newest(const file_id *f, int64_t t)
{
	t = f->mtime > t ? f->mtime : t;
	return f->ctime > t ? f->ctime : t;
}

ms_status_t ms_archive_sig_take(ms_archive *ar, ms_reader_sig **sig_r)
{
	char **names = NULL;
	size_t n = 0;
	struct timespec now;
	*sig_r = NULL;
	clock_gettime(CLOCK_REALTIME, &now); /* before any stat */
	if (ms_shard_list(ar->shards_dir, &names, &n))
		return ms_archive_fail(ar, MS_ERR_IO, "%s: cannot list shards",
				       ar->shards_dir);
	ms_reader_sig *s = sig_alloc(names, n);
	ms_shard_list_free(&names);
	if (!s)
		return MS_ERR_NOMEM;
	int ok = 1;
	s->top = id_of(ar->shards_dir, NULL, &ok);
	int64_t t = newest(&s->top, INT64_MIN);
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", ar->shards_dir, s->names[i]);
		id_of(p, &s->dirs[i], &ok);
		s->ver[i] = ver_of(ar, s->names[i], &ok);
		t = newest(&s->ver[i], t);
	}
	s->settled = ok && t < ns(now) - SETTLE_NS;
	*sig_r = s;
	return MS_OK;
}

static int same_id(const file_id *a, const file_id *b)
{
	return a->ino == b->ino && a->size == b->size && a->mtime == b->mtime &&
	       a->ctime == b->ctime;
}

int ms_archive_sig_unchanged(const ms_archive *ar, const ms_reader_sig *sig)
{
	int ok = 1;
	if (!sig || !sig->settled)
		return 0;
	file_id top = id_of(ar->shards_dir, NULL, &ok);
	if (!ok || !same_id(&top, &sig->top))
		return 0;
	for (size_t i = 0; i < sig->n; i++) {
		file_id v = ver_of(ar, sig->names[i], &ok);
		if (!ok || !same_id(&v, &sig->ver[i]))
			return 0;
	}
	return 1;
}

int ms_archive_sig_same_shards(const ms_reader_sig *a, const ms_reader_sig *b)
{
	if (!a || !b || a->n != b->n || a->top.ino != b->top.ino)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->dirs[i] != b->dirs[i] ||
		    strcmp(a->names[i], b->names[i]) != 0)
			return 0;
	return 1;
}

const char *const *ms_archive_sig_names(const ms_reader_sig *sig, size_t *n_r)
{
	*n_r = sig->n;
	return (const char *const *)sig->names;
}
