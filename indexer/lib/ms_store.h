/* ms_store.h - the raw-message store: files addressed by SHA-256.
 *
 * Layout: DIR/ab/<64 hex> (ab = the first two hex digits). Each file is
 * a 13-byte header: "MSS1", a method byte, the original length (8 bytes,
 * big endian); then the payload. Method 0: the zlib-compressed bytes.
 * Method 1 (a store with a key, ms_store_set_key): a random 12-byte
 * nonce, the zlib stream encrypted with AES-256-GCM, the 16-byte tag; the
 * header is the additional authenticated data. Files of either method are
 * read whatever the handle writes, so a store stays readable after
 * encryption is switched on. Files are written to a temporary name and
 * renamed, so a reader never sees a half-written file. A put of a hash
 * already present is a no-op (content-addressed).
 * Functions taking hex return MS_ERR_INVALID unless it is 64 lower-case
 * hex digits. The last error message (with path and strerror) is kept on
 * the handle. One handle is for one thread.
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
/* From now on, writes method 1 files encrypted with key (copied; wiped
 * at close) and decrypts them on reads. key NULL: back to method 0 and no
 * key. MS_OK, or MS_ERR_NOMEM (cipher context). */
#define MS_STORE_KEY_LEN 32
ms_status_t ms_store_set_key(ms_store *st,
			     const unsigned char key[MS_STORE_KEY_LEN]);
/* Reads a key file: exactly 32 raw bytes, or 64 hex digits (either case)
 * and an optional newline. A file other users may read or write (mode &
 * 007) is refused. On MS_OK key[] is filled; otherwise MS_ERR_IO (cannot
 * open or read) or MS_ERR_CONFIG (wrong size, not hex, too open) and
 * *err_r (if err_r) is a one-line message naming path, which the caller
 * frees with free(). */
ms_status_t ms_store_load_key(const char *path,
			      unsigned char key[MS_STORE_KEY_LEN],
			      char **err_r);
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
 * other than the header's), MS_ERR_CRYPTO (an encrypted file and no key:
 * "message is encrypted; set [archive] encrypt_key"; or the tag does not
 * match: "wrong key or damaged file"), MS_ERR_IO, MS_ERR_NOMEM; on error
 * out is as it was. The content is not re-hashed (callers may). */
ms_status_t ms_store_get(ms_store *st, const char *hex, ms_buf *out);
/* *yes_r = 1 if hex is stored. */
ms_status_t ms_store_has(ms_store *st, const char *hex, int *yes_r);
/* Removes the file stored under hex (for expire: the caller makes sure no
 * document names it any more). A missing file is fine. The removal is
 * durable after ms_store_sync(). MS_OK, MS_ERR_INVALID, MS_ERR_IO. */
ms_status_t ms_store_remove(ms_store *st, const char *hex);
/* Total bytes and number of stored files (for stats; walks the tree). */
ms_status_t ms_store_bytes(ms_store *st, unsigned long long *bytes_r,
			   unsigned long long *files_r);
/* Calls fn(hex, mtime, ctx) for every stored file (in directory order;
 * mtime in nanoseconds since the epoch; hex valid during the call). Stops
 * at the first status fn returns other than MS_OK and returns it; else
 * MS_OK or MS_ERR_IO. Files added meanwhile may or may not be seen. */
typedef ms_status_t (*ms_store_each_fn)(const char *hex, long long mtime,
					void *ctx);
ms_status_t ms_store_each(ms_store *st, ms_store_each_fn fn, void *ctx);

#endif
