/* ms_hash.c - SHA-256 via OpenSSL EVP (see ms_hash.h).
 *
 * Functions: ms_sha256_hex, ms_sha256_new, ms_sha256_update,
 * ms_sha256_final. Diagnostics: MS_ERR_CRYPTO if OpenSSL fails.
 */
#include "ms_hash.h"

#include <stdlib.h>

#include <openssl/evp.h>

struct ms_sha256 {
	EVP_MD_CTX *ctx;
};

static void hex_encode(const unsigned char *md, unsigned n,
		       char hex[MS_SHA256_HEX])
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < n && i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

ms_sha256 *ms_sha256_new(void)
{
	ms_sha256 *h = malloc(sizeof *h);
	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

ms_status_t ms_sha256_update(ms_sha256 *h, const void *data, size_t len)
{
	return EVP_DigestUpdate(h->ctx, data, len) == 1 ? MS_OK : MS_ERR_CRYPTO;
}

ms_status_t ms_sha256_final(ms_sha256 **hp, char hex[MS_SHA256_HEX])
{
	ms_sha256 *h = *hp;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int ok = EVP_DigestFinal_ex(h->ctx, md, &n) == 1 && n == 32;
	EVP_MD_CTX_free(h->ctx);
	free(h);
	*hp = NULL;
	if (!ok)
		return MS_ERR_CRYPTO;
	hex_encode(md, n, hex);
	return MS_OK;
}

ms_status_t ms_sha256_hex(const void *data, size_t len, char hex[MS_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return MS_ERR_CRYPTO;
	hex_encode(md, n, hex);
	return MS_OK;
}
