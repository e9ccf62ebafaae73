/* ms_store.h - the raw-message store: files addressed by SHA-256.
 *
 * Layout: DIR/ab/cd/<64 hex> (ab, cd = first hex digits). Each file is
 * "MSS1", a method byte (0 = zlib), the original length (8 bytes, big
 * endian), then the compressed bytes. Files are written to a temporary
 * name and renamed, so a reader never sees a half-written file. A put of
 * a hash already present is a no-op (content-addressed).
 */
#ifndef MS_STORE_H
#define MS_STORE_H

#include <stddef.h>

#include "ms_buf.h"
#include "ms_status.h"

typedef struct ms_store ms_store;

/* Opens (creating) the store at dir. level: zlib level 1..9. On success
 * *st_r is freed with ms_store_close(). MS_ERR_IO with *err_r otherwise. */
ms_status_t ms_store_open(const char *dir, int level, ms_store **st_r,
			  char **err_r);
void ms_store_close(ms_store **st);
/* Last error message on st ("" if none). */
const char *ms_store_error(const ms_store *st);

/* Stores data[0..len) under hex (64 lower-case hex digits of its SHA-256;
 * not re-checked). If sync, fsyncs the file and its directory before
 * returning; else call ms_store_sync() before relying on it. */
ms_status_t ms_store_put(ms_store *st, const char *hex, const void *data,
			 size_t len, int sync);
/* Makes every earlier put durable (syncfs on the store's file system). */
ms_status_t ms_store_sync(ms_store *st);
/* Appends the original bytes stored under hex to out. MS_ERR_NOTFOUND,
 * MS_ERR_CORRUPT (bad header or stream), MS_ERR_IO, MS_ERR_NOMEM. */
ms_status_t ms_store_get(ms_store *st, const char *hex, ms_buf *out);
/* *yes_r = 1 if hex is stored. */
ms_status_t ms_store_has(ms_store *st, const char *hex, int *yes_r);
/* Total bytes of stored files (for stats). */
ms_status_t ms_store_bytes(ms_store *st, unsigned long long *bytes_r,
			   unsigned long long *files_r);

#endif
