/* ms_hash.h - SHA-256 (OpenSSL EVP), one-shot and incremental. */
#ifndef MS_HASH_H
#define MS_HASH_H

#include <stddef.h>

#include "ms_status.h"

#define MS_SHA256_HEX 65 /* 64 hex digits + NUL */

typedef struct ms_sha256 ms_sha256;

/* One-shot: writes the lower-case hex digest of data[0..len) to hex. */
ms_status_t ms_sha256_hex(const void *data, size_t len,
			  char hex[MS_SHA256_HEX]);
/* Incremental: new (NULL on ENOMEM), update, final (frees *h, NULLs it). */
ms_sha256 *ms_sha256_new(void);
ms_status_t ms_sha256_update(ms_sha256 *h, const void *data, size_t len);
ms_status_t ms_sha256_final(ms_sha256 **h, char hex[MS_SHA256_HEX]);

#endif
