/* ms_expire_int.h - private state of an expire run, shared by ms_expire.c
 * (locks, holds, planning: the lower layer) and ms_expire_apply.c (the
 * journal and the deletions), which calls into it. Not a public
 * interface.
 */
#ifndef MS_EXPIRE_INT_H
#define MS_EXPIRE_INT_H

#include "ms_expire.h"
#include "ms_hold.h"
#include "ms_store.h"
#include "ms_xapian.h"

struct ms_expire {
	ms_archive *ar; /* borrowed; lock_all held */
	char *dir;	/* the archive directory */
	ms_store *store;
	int holds_fd;	   /* LOCK_SH on the holds */
	ms_holds *holds;   /* as loaded under that lock */
	ms_qnode **hold_q; /* the active holds' parsed queries */
	const char **hold_names;
	size_t n_active;
	ms_holds **more;   /* holds added by ms_expire_add_holds */
	char **more_names; /* their "FROM/NAME"s */
	size_t n_more, n_more_names;
	ms_buf err;
	ms_buf rec; /* scratch copy of a document record */
};

/* A sorted set of archive ids (malloc'ed copies). */
typedef struct ms_idset {
	char **v;
	size_t n, cap;
} ms_idset;

/* What a document's record says (pointers into ex->rec). */
typedef struct ms_docref {
	const char *id, *sha;
	int64_t date;
} ms_docref;

/* Sets the handle's error (printf-style); returns st. */
ms_status_t ms_expire_fail(ms_expire *ex, ms_status_t st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Opens shard name alone, read-only or for writing (the run holds its
 * lock). MS_ERR_NOTFOUND if it is gone; other errors on the handle. */
ms_status_t ms_expire_open_shard(ms_expire *ex, const char *name, int writable,
				 ms_xdb **db_r);
/* Decodes a document record into d (valid until the next call). */
ms_status_t ms_expire_docref(ms_expire *ex, const char *data, size_t len,
			     ms_docref *d);
/* The active holds' matches in db: *sets_r is an array of n_active sets
 * (free with ms_expire_sets_free). */
ms_status_t ms_expire_hold_sets(ms_expire *ex, ms_xdb *db, ms_idset **sets_r);
void ms_expire_sets_free(ms_idset **sets, size_t n);
/* Whether id is in the sorted set s. */
int ms_idset_has(const ms_idset *s, const char *id);

#endif
