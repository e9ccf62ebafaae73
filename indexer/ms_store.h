/* ms_store.h - the raw-message store: files addressed by SHA-256.
 *
 * Layout: DIR/ab/<64 hex> (ab = the first two hex digits). Each file is
 * "MSS1", a method byte (0 = zlib), the original length (8 bytes, big
 * endian), then the compressed bytes. Files are written to a temporary
 * name and renamed, so a reader never sees a half-written file. A put of
 * a hash already present is a no-op (content-addressed).
 * The method byte selects a codec inside ms_store.c; an encrypting method
 * (1 = AES-256-GCM) can be added with one more call to set a key, leaving
 * these functions as they are. Functions taking hex return MS_ERR_INVALID
 * unless it is 64 lower-case hex digits. The last error message (with path
 * and strerror) is kept on the handle. One handle is for one thread.
 */
#ifndef MS_STORE_H
#define MS_STORE_H

#include <stddef.h>

#include "ms_buf.h"
#include "ms_status.h"

typedef struct ms_store ms_store;

/* Opens (creating, one level) the store at dir. level: zlib level 1..9
 * (else MS_ERR_INVALID). On success *st_r is freed with ms_store_close().
 * Otherwise (MS_ERR_IO, MS_ERR_INVALID, MS_ERR_NOMEM) *st_r is NULL and
 * *err_r (if err_r) is a message the caller frees with free(). */
ms_status_t ms_store_open(const char *dir, int level, ms_store **st_r,
			  char **err_r);
void ms_store_close(ms_store **st);
/* Last error message on st ("" if none). */
const char *ms_store_error(const ms_store *st);

/* Stores data[0..len) under hex (64 lower-case hex digits of its SHA-256;
 * not re-checked). If sync, fsyncs the file and its directory (and new
 * parent directories) before returning; else call ms_store_sync() before
 * relying on it. A file already there but too short to be whole (an
 * unsynced put cut short by a crash) is written again. MS_OK, MS_ERR_IO,
 * MS_ERR_NOMEM, MS_ERR_INVALID; on error no file was added. */
ms_status_t ms_store_put(ms_store *st, const char *hex, const void *data,
			 size_t len, int sync);
/* Makes every earlier put durable (syncfs on the store's file system). */
ms_status_t ms_store_sync(ms_store *st);
/* Appends the original bytes stored under hex to out. MS_ERR_NOTFOUND,
 * MS_ERR_CORRUPT (bad header, unknown method, bad stream, or a length
 * other than the header's), MS_ERR_IO, MS_ERR_NOMEM; on error out is as
 * it was. */
ms_status_t ms_store_get(ms_store *st, const char *hex, ms_buf *out);
/* *yes_r = 1 if hex is stored. */
ms_status_t ms_store_has(ms_store *st, const char *hex, int *yes_r);
/* Total bytes and number of stored files (for stats; walks the tree). */
ms_status_t ms_store_bytes(ms_store *st, unsigned long long *bytes_r,
			   unsigned long long *files_r);

#endif
