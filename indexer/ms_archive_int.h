/* ms_archive_int.h - private state of ms_archive, shared by
 * ms_archive.c (open, add, commit), ms_archive_doc.c (document building)
 * and ms_archive_read.c (search, show, stats). Not a public interface.
 */
#ifndef MS_ARCHIVE_INT_H
#define MS_ARCHIVE_INT_H

#include "ms_archive.h"
#include "ms_doc.h"
#include "ms_mime.h"
#include "ms_shard.h"
#include "ms_store.h"
#include "ms_xapian.h"

/* An open writable shard. */
typedef struct ms_wshard {
	char name[MS_SHARD_NAME_MAX];
	ms_xdb *db;
	int lock_fd;    /* flock on locks/<name>.lock, held while open */
	unsigned dirty; /* additions since the last commit */
	unsigned added; /* additions since the shard was opened */
} ms_wshard;

struct ms_archive {
	char *dir;
	char *shards_dir;
	char *locks_dir;
	ms_archive_opts opts;
	ms_mime_opts mime;
	ms_store *store;
	ms_wshard *w; /* writable shards opened so far */
	size_t n_w, cap_w;
	ms_xdb *reader;     /* all shards, read-only; opened on demand */
	unsigned reader_gen; /* shards seen when reader was opened */
	ms_buf err;
};

/* Sets the handle's error message (printf-style); returns st. */
ms_status_t ms_archive_fail(ms_archive *ar, ms_status_t st, const char *fmt,
			    ...) __attribute__((format(printf, 3, 4)));

/* Builds the Xapian document for doc (+ env, may be NULL) with archive id
 * id, raw size and sha256. *xdoc_r is freed by the caller (ms_xdoc_free).
 * MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_archive_build(const ms_doc *doc, const ms_envelope *env,
			     const char *id, size_t size, const char *sha256,
			     ms_xdoc **xdoc_r);

/* Opens (or reopens) ar->reader over every shard. */
ms_status_t ms_archive_reader(ms_archive *ar);

#endif
