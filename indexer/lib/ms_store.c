/* ms_store.c - the raw-message store (see ms_store.h).
 *
 * Functions: ms_store_open, ms_store_close, ms_store_set_key,
 * ms_store_load_key, ms_store_error, ms_store_put, ms_store_sync,
 * ms_store_get, ms_store_has, ms_store_remove, ms_store_bytes,
 * ms_store_each.
 *
 * Files are addressed relative to a descriptor of the store directory
 * ("ab/<hex>"). The payload after the header goes through a codec chosen
 * by the method byte (codecs[]: 0 = zlib, 1 = zlib + AES-256-GCM with the
 * header as additional authenticated data and a random 96-bit nonce per
 * file: safe for far more files than an archive holds). Which subdirectories
 * exist (and are known durable) is cached in bitmaps, so a put normally
 * costs no mkdir. Diagnostics: the last error, with the path and
 * strerror(), is kept on the handle (ms_store_error).
 */
#include "ms_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define HDR_MAGIC    "MSS1"
#define HDR_LEN	     13 /* magic, method byte, 8-byte big-endian length */
#define MIN_FILE     (HDR_LEN + 8) /* shortest zlib stream: 8 bytes */
#define HEX_LEN	     64
#define REL_LEN	     (3 + HEX_LEN) /* "ab/" + hex */
#define N_TOP	     256
#define MAX_RATIO    1100 /* zlib expands at most ~1032:1 */
#define FILE_MODE    0640
#define DIR_MODE     0750
#define METHOD_ZLIB  0
#define METHOD_AES   1
#define NONCE_LEN    12
#define TAG_LEN	     16
#define CRYPT_CHUNK  (1 << 30) /* bytes per EVP update (int lengths) */
#define KEY_FILE_MAX 80

struct ms_store {
	char *dir;
	int dirfd;
	int level;
	unsigned char method; /* method byte of new files */
	z_stream zd, zi;      /* reused deflate / inflate state */
	int zd_ok, zi_ok;
	unsigned char key[MS_STORE_KEY_LEN];
	int has_key;
	EVP_CIPHER_CTX *cctx; /* reused cipher state (once a key is set) */
	ms_buf io;	      /* whole file being written or read */
	ms_buf zbuf; /* compressed bytes, before encryption / after decryption
		      */
	ms_buf err;  /* last error */
	unsigned char top_seen[N_TOP / 8], top_durable[N_TOP / 8];
};

/* One payload encoding. encode appends the payload for data[0..len) to
 * st->io, which holds the header; decode appends the orig original bytes
 * of in[0..n) (the payload after header hdr) to out. */
typedef struct codec {
	const char *name;
	ms_status_t (*encode)(ms_store *st, const void *data, size_t len);
	ms_status_t (*decode)(ms_store *st, const char *rel,
			      const unsigned char *hdr, const unsigned char *in,
			      size_t n, uint64_t orig, ms_buf *out);
} codec;

static ms_status_t zlib_encode(ms_store *st, const void *data, size_t len);
static ms_status_t zlib_decode(ms_store *st, const char *rel,
			       const unsigned char *hdr,
			       const unsigned char *in, size_t n, uint64_t orig,
			       ms_buf *out);
static ms_status_t aes_encode(ms_store *st, const void *data, size_t len);
static ms_status_t aes_decode(ms_store *st, const char *rel,
			      const unsigned char *hdr, const unsigned char *in,
			      size_t n, uint64_t orig, ms_buf *out);

static const codec codecs[] = {
	[METHOD_ZLIB] = { "zlib", zlib_encode, zlib_decode },
	[METHOD_AES] = { "zlib+aes-256-gcm", aes_encode, aes_decode },
};

static atomic_ulong tmp_counter;

/* ---- errors ---- */

static ms_status_t set_err(ms_store *st, ms_status_t s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static ms_status_t set_err(ms_store *st, ms_status_t s, const char *fmt, ...)
{
	va_list ap;
	ms_buf_reset(&st->err);
	va_start(ap, fmt);
	ms_buf_vprintf(&st->err, fmt, ap);
	va_end(ap);
	return s;
}

/* Records "store DIR/rel: op: strerror(errno)" and returns MS_ERR_IO. */
static ms_status_t sys_err(ms_store *st, const char *op, const char *rel)
{
	int e = errno;
	return set_err(st, MS_ERR_IO, "store %s%s%s: %s: %s", st->dir,
		       *rel ? "/" : "", rel, op, strerror(e));
}

/* ---- names and bitmaps ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int valid_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hexval(s[i]) < 0)
			return 0;
	return s[n] == '\0';
}

/* out = "ab/<hex>" (REL_LEN + 1 bytes). */
static void rel_path(char *out, const char *hex)
{
	memcpy(out, hex, 2);
	out[2] = '/';
	memcpy(out + 3, hex, HEX_LEN + 1);
}

static int bit_get(const unsigned char *map, unsigned i)
{
	return (map[i >> 3] >> (i & 7)) & 1;
}

static void bit_set(unsigned char *map, unsigned i)
{
	map[i >> 3] |= (unsigned char)(1u << (i & 7));
}

static unsigned top_index(const char *hex)
{
	return (unsigned)(hexval(hex[0]) << 4 | hexval(hex[1]));
}

/* ---- directories ---- */

/* Creates rel (one level). *made_r = 1 if it was created now. */
static ms_status_t make_dir(ms_store *st, const char *rel, int *made_r)
{
	*made_r = mkdirat(st->dirfd, rel, DIR_MODE) == 0;
	if (!*made_r && errno != EEXIST)
		return sys_err(st, "mkdir", rel);
	return MS_OK;
}

/* Makes sure directory "ab" for hex exists, using the cache. */
static ms_status_t ensure_dirs(ms_store *st, const char *rel, const char *hex)
{
	unsigned top = top_index(hex);
	char path[3] = { rel[0], rel[1], '\0' };
	int made;
	if (bit_get(st->top_seen, top))
		return MS_OK;
	if (make_dir(st, path, &made) != MS_OK)
		return MS_ERR_IO;
	bit_set(st->top_seen, top);
	if (!made)
		bit_set(st->top_durable, top);
	return MS_OK;
}

/* fsyncs directory rel ("" = the store directory). */
static ms_status_t sync_dir(ms_store *st, const char *rel)
{
	if (!*rel)
		return fsync(st->dirfd) == 0 ? MS_OK : sys_err(st, "fsync", "");
	int fd = openat(st->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_err(st, "open", rel);
	int rc = fsync(fd);
	if (rc != 0)
		sys_err(st, "fsync", rel);
	close(fd);
	return rc == 0 ? MS_OK : MS_ERR_IO;
}

/* Makes the name of the file rel durable: its directory, and the store
 * directory's entry for it if that was created since the last sync. */
static ms_status_t make_durable(ms_store *st, const char *rel, const char *hex)
{
	unsigned top = top_index(hex);
	char path[3] = { rel[0], rel[1], '\0' };
	if (sync_dir(st, path) != MS_OK)
		return MS_ERR_IO;
	if (!bit_get(st->top_durable, top)) {
		if (sync_dir(st, "") != MS_OK)
			return MS_ERR_IO;
		bit_set(st->top_durable, top);
	}
	return MS_OK;
}

/* ---- open / close ---- */

static ms_status_t open_fail(ms_store **st, char **err_r, ms_status_t s)
{
	if (err_r)
		*err_r = ms_buf_steal(&(*st)->err);
	ms_store_close(st);
	return s;
}

ms_status_t ms_store_open(const char *dir, int level, ms_store **st_r,
			  char **err_r)
{
	*st_r = NULL;
	if (err_r)
		*err_r = NULL;
	ms_store *st = calloc(1, sizeof *st);
	if (!st || !(st->dir = strdup(dir))) {
		free(st);
		if (err_r)
			*err_r = strdup("store: out of memory");
		return MS_ERR_NOMEM;
	}
	st->dirfd = -1;
	st->level = level;
	st->method = METHOD_ZLIB;
	if (level < 1 || level > 9)
		return open_fail(&st, err_r,
				 set_err(st, MS_ERR_INVALID,
					 "store %s: zlib level %d not in 1..9",
					 dir, level));
	if (mkdir(dir, DIR_MODE) != 0 && errno != EEXIST)
		return open_fail(&st, err_r, sys_err(st, "mkdir", ""));
	st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0)
		return open_fail(&st, err_r, sys_err(st, "open", ""));
	st->zd_ok = deflateInit(&st->zd, level) == Z_OK;
	st->zi_ok = st->zd_ok && inflateInit(&st->zi) == Z_OK;
	if (!st->zi_ok)
		return open_fail(&st, err_r,
				 set_err(st, MS_ERR_NOMEM,
					 "store %s: zlib init failed", dir));
	*st_r = st;
	return MS_OK;
}

void ms_store_close(ms_store **st)
{
	if (!st || !*st)
		return;
	ms_store *s = *st;
	if (s->zd_ok)
		deflateEnd(&s->zd);
	if (s->zi_ok)
		inflateEnd(&s->zi);
	if (s->dirfd >= 0)
		close(s->dirfd);
	OPENSSL_cleanse(s->key, sizeof s->key);
	EVP_CIPHER_CTX_free(s->cctx);
	ms_buf_free(&s->zbuf);
	ms_buf_free(&s->io);
	ms_buf_free(&s->err);
	free(s->dir);
	free(s);
	*st = NULL;
}

const char *ms_store_error(const ms_store *st)
{
	return st && st->err.data ? st->err.data : "";
}

/* ---- zlib codec ---- */

static uInt chunk(size_t n)
{
	return n > UINT_MAX ? UINT_MAX : (uInt)n;
}

/* Appends the zlib stream of data[0..len) to dst. */
static ms_status_t deflate_to(ms_store *st, ms_buf *dst, const void *data,
			      size_t len)
{
	z_stream *z = &st->zd;
	if (deflateReset(z) != Z_OK)
		return set_err(st, MS_ERR_NOMEM, "store: deflateReset failed");
	uLong bound = deflateBound(z, len);
	if (bound < len || ms_buf_reserve(dst, bound) != MS_OK)
		return set_err(st, MS_ERR_NOMEM, "store: out of memory");
	size_t in_left = len, out_left = dst->cap - dst->len - 1;
	z->next_in = (Bytef *)(uintptr_t)data;
	z->next_out = (Bytef *)dst->data + dst->len;
	int rc;
	do {
		uInt ai = chunk(in_left), ao = chunk(out_left);
		z->avail_in = ai;
		z->avail_out = ao;
		rc = deflate(z, ai == in_left ? Z_FINISH : Z_NO_FLUSH);
		in_left -= ai - z->avail_in;
		out_left -= ao - z->avail_out;
	} while (rc == Z_OK);
	if (rc != Z_STREAM_END)
		return set_err(st, MS_ERR_IO, "store: deflate failed (%d)", rc);
	dst->len = dst->cap - 1 - out_left;
	return MS_OK;
}

static ms_status_t zlib_encode(ms_store *st, const void *data, size_t len)
{
	return deflate_to(st, &st->io, data, len);
}

static ms_status_t zlib_decode(ms_store *st, const char *rel,
			       const unsigned char *hdr,
			       const unsigned char *in, size_t n, uint64_t orig,
			       ms_buf *out)
{
	(void)hdr;
	z_stream *z = &st->zi;
	if (orig > (uint64_t)n * MAX_RATIO + 1024 || orig >= SIZE_MAX / 2)
		return set_err(st, MS_ERR_CORRUPT,
			       "store %s/%s: implausible length %llu", st->dir,
			       rel, (unsigned long long)orig);
	if (ms_buf_reserve(out, (size_t)orig) != MS_OK)
		return set_err(st, MS_ERR_NOMEM, "store: out of memory");
	if (inflateReset(z) != Z_OK)
		return set_err(st, MS_ERR_NOMEM, "store: inflateReset failed");
	size_t in_left = n, out_left = (size_t)orig;
	z->next_in = (Bytef *)(uintptr_t)in;
	z->next_out = (Bytef *)out->data + out->len;
	int rc;
	do {
		uInt ai = chunk(in_left), ao = chunk(out_left);
		z->avail_in = ai;
		z->avail_out = ao;
		rc = inflate(z, Z_NO_FLUSH);
		in_left -= ai - z->avail_in;
		out_left -= ao - z->avail_out;
	} while (rc == Z_OK && (in_left || out_left));
	if (rc != Z_STREAM_END || in_left || out_left)
		return set_err(
			st, MS_ERR_CORRUPT, "store %s/%s: bad zlib stream (%s)",
			st->dir, rel,
			rc != Z_STREAM_END ? (z->msg ? z->msg : "truncated")
					   : "length mismatch");
	out->len += (size_t)orig;
	out->data[out->len] = '\0';
	return MS_OK;
}

/* ---- AES-256-GCM codec (zlib, then encrypt) ---- */

/* Runs in[0..n) through the cipher into out (n bytes of room), in chunks
 * that fit EVP's int lengths. */
static int crypt_update(EVP_CIPHER_CTX *c, int enc, unsigned char *out,
			const unsigned char *in, size_t n)
{
	while (n) {
		int len = n > CRYPT_CHUNK ? CRYPT_CHUNK : (int)n, got = 0;
		int ok = enc ? EVP_EncryptUpdate(c, out, &got, in, len)
			     : EVP_DecryptUpdate(c, out, &got, in, len);
		if (!ok || got != len)
			return 0;
		in += len;
		out += len;
		n -= (size_t)len;
	}
	return 1;
}

static ms_status_t aes_encode(ms_store *st, const void *data, size_t len)
{
	unsigned char nonce[NONCE_LEN];
	ms_buf_reset(&st->zbuf);
	ms_status_t s = deflate_to(st, &st->zbuf, data, len);
	if (s != MS_OK)
		return s;
	size_t hlen = st->io.len, n = st->zbuf.len;
	if (ms_buf_reserve(&st->io, NONCE_LEN + n + TAG_LEN) != MS_OK)
		return set_err(st, MS_ERR_NOMEM, "store: out of memory");
	unsigned char *p = (unsigned char *)st->io.data + hlen;
	int ok = RAND_bytes(nonce, NONCE_LEN) == 1;
	int got = 0;
	EVP_CIPHER_CTX *c = st->cctx;
	ok = ok && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, st->key,
				      nonce) == 1;
	ok = ok &&
	     EVP_EncryptUpdate(c, NULL, &got, (unsigned char *)st->io.data,
			       (int)hlen) == 1;
	ok = ok && crypt_update(c, 1, p + NONCE_LEN,
				(const unsigned char *)st->zbuf.data, n);
	ok = ok && EVP_EncryptFinal_ex(c, p + NONCE_LEN + n, &got) == 1;
	ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
				       p + NONCE_LEN + n) == 1;
	if (!ok)
		return set_err(st, MS_ERR_CRYPTO, "store %s: encryption failed",
			       st->dir);
	memcpy(p, nonce, NONCE_LEN);
	st->io.len = hlen + NONCE_LEN + n + TAG_LEN;
	return MS_OK;
}

/* Decrypts and authenticates in[0..n) (nonce, ciphertext, tag) into
 * st->zbuf; hdr is the additional authenticated data. */
static ms_status_t aes_open(ms_store *st, const char *rel,
			    const unsigned char *hdr, const unsigned char *in,
			    size_t n)
{
	size_t clen = n - NONCE_LEN - TAG_LEN;
	ms_buf_reset(&st->zbuf);
	if (ms_buf_reserve(&st->zbuf, clen) != MS_OK)
		return set_err(st, MS_ERR_NOMEM, "store: out of memory");
	EVP_CIPHER_CTX *c = st->cctx;
	int got = 0;
	int ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, st->key, in) ==
		 1;
	ok = ok && EVP_DecryptUpdate(c, NULL, &got, hdr, HDR_LEN) == 1;
	ok = ok && crypt_update(c, 0, (unsigned char *)st->zbuf.data,
				in + NONCE_LEN, clen);
	ok = ok &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
				 (void *)(uintptr_t)(in + n - TAG_LEN)) == 1;
	if (!ok)
		return set_err(st, MS_ERR_CRYPTO,
			       "store %s/%s: decryption failed", st->dir, rel);
	if (EVP_DecryptFinal_ex(c, (unsigned char *)st->zbuf.data + clen,
				&got) != 1)
		return set_err(st, MS_ERR_CRYPTO,
			       "store %s/%s: wrong key or damaged file",
			       st->dir, rel);
	st->zbuf.len = clen;
	return MS_OK;
}

static ms_status_t aes_decode(ms_store *st, const char *rel,
			      const unsigned char *hdr, const unsigned char *in,
			      size_t n, uint64_t orig, ms_buf *out)
{
	if (!st->has_key)
		return set_err(st, MS_ERR_CRYPTO,
			       "store %s/%s: message is encrypted; set "
			       "[archive] encrypt_key",
			       st->dir, rel);
	if (n < NONCE_LEN + TAG_LEN + 8)
		return set_err(st, MS_ERR_CORRUPT, "store %s/%s: truncated",
			       st->dir, rel);
	ms_status_t s = aes_open(st, rel, hdr, in, n);
	if (s == MS_OK)
		s = zlib_decode(st, rel, hdr, (unsigned char *)st->zbuf.data,
				st->zbuf.len, orig, out);
	return s;
}

/* ---- keys ---- */

ms_status_t ms_store_set_key(ms_store *st,
			     const unsigned char key[MS_STORE_KEY_LEN])
{
	if (!key) {
		OPENSSL_cleanse(st->key, sizeof st->key);
		st->has_key = 0;
		st->method = METHOD_ZLIB;
		return MS_OK;
	}
	if (!st->cctx && !(st->cctx = EVP_CIPHER_CTX_new()))
		return set_err(st, MS_ERR_NOMEM, "store: out of memory");
	memcpy(st->key, key, MS_STORE_KEY_LEN);
	st->has_key = 1;
	st->method = METHOD_AES;
	return MS_OK;
}

static ms_status_t key_err(char **err_r, ms_status_t s, const char *path,
			   const char *what)
{
	if (err_r && asprintf(err_r, "key file %s: %s", path, what) < 0)
		*err_r = NULL;
	return s;
}

/* Decodes the key file's bytes p[0..n) into key; 0 if malformed. */
static int parse_key(const unsigned char *p, size_t n,
		     unsigned char key[MS_STORE_KEY_LEN])
{
	if (n == MS_STORE_KEY_LEN) {
		memcpy(key, p, n);
		return 1;
	}
	if (n > 2 * MS_STORE_KEY_LEN && p[n - 1] == '\n')
		n--;
	if (n > 2 * MS_STORE_KEY_LEN && p[n - 1] == '\r')
		n--;
	if (n != 2 * MS_STORE_KEY_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int c = p[i] >= 'A' && p[i] <= 'F' ? p[i] + 32 : p[i];
		int v = hexval((char)c);
		if (v < 0)
			return 0;
		key[i / 2] = (unsigned char)(i & 1 ? key[i / 2] << 4 | v : v);
	}
	return 1;
}

ms_status_t ms_store_load_key(const char *path,
			      unsigned char key[MS_STORE_KEY_LEN], char **err_r)
{
	unsigned char buf[KEY_FILE_MAX + 1];
	struct stat sb;
	char what[160];
	if (err_r)
		*err_r = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return key_err(err_r, MS_ERR_IO, path, strerror(e));
	}
	if (S_ISREG(sb.st_mode) && (sb.st_mode & 007)) {
		close(fd);
		snprintf(what, sizeof what,
			 "other users may access it (mode %04o); chmod o-rwx "
			 "it",
			 (unsigned)(sb.st_mode & 07777));
		return key_err(err_r, MS_ERR_CONFIG, path, what);
	}
	ssize_t n = read(fd, buf, sizeof buf);
	int e = errno;
	close(fd);
	if (n < 0)
		return key_err(err_r, MS_ERR_IO, path, strerror(e));
	int ok = parse_key(buf, (size_t)n, key);
	OPENSSL_cleanse(buf, sizeof buf);
	if (!ok)
		return key_err(err_r, MS_ERR_CONFIG, path,
			       "must hold 32 raw bytes or 64 hex digits");
	return MS_OK;
}

/* ---- put ---- */

/* Fills st->io with the header and encoded payload of data. */
static ms_status_t encode(ms_store *st, const void *data, size_t len)
{
	unsigned char hdr[HDR_LEN];
	uint64_t n = len;
	memcpy(hdr, HDR_MAGIC, 4);
	hdr[4] = st->method;
	for (int i = 0; i < 8; i++)
		hdr[5 + i] = (unsigned char)(n >> (56 - 8 * i));
	ms_buf_reset(&st->io);
	if (ms_buf_append(&st->io, hdr, HDR_LEN) != MS_OK)
		return set_err(st, MS_ERR_NOMEM, "store: out of memory");
	return codecs[st->method].encode(st, data, len);
}

/* Creates a new temporary file next to rel; its name goes to tmp. */
static int open_temp(ms_store *st, const char *rel, char *tmp, size_t size)
{
	for (int tries = 0; tries < 100; tries++) {
		unsigned long n = atomic_fetch_add(&tmp_counter, 1);
		snprintf(tmp, size, "%.2s/.tmp-%ld-%lu", rel, (long)getpid(),
			 n);
		int fd = openat(st->dirfd, tmp,
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				FILE_MODE);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

static ms_status_t write_all(ms_store *st, int fd, const char *tmp)
{
	const char *p = st->io.data;
	size_t left = st->io.len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return sys_err(st, "write", tmp);
		p += w;
		left -= (size_t)w;
	}
	return MS_OK;
}

/* Writes st->io to a temporary file and renames it to rel. */
static ms_status_t write_file(ms_store *st, const char *rel, const char *hex,
			      int sync)
{
	char tmp[REL_LEN + 64];
	int fd = open_temp(st, rel, tmp, sizeof tmp);
	if (fd < 0)
		return sys_err(st, "create", tmp);
	ms_status_t s = write_all(st, fd, tmp);
	if (s == MS_OK && sync && fsync(fd) != 0)
		s = sys_err(st, "fsync", tmp);
	if (close(fd) != 0 && s == MS_OK)
		s = sys_err(st, "close", tmp);
	if (s == MS_OK && renameat(st->dirfd, tmp, st->dirfd, rel) != 0)
		s = sys_err(st, "rename", tmp);
	if (s != MS_OK) {
		unlinkat(st->dirfd, tmp, 0);
		return s;
	}
	return sync ? make_durable(st, rel, hex) : MS_OK;
}

/* A sync put of a file that is already there (perhaps from an unsynced
 * put): make it and its name durable. */
static ms_status_t sync_existing(ms_store *st, const char *rel, const char *hex)
{
	int fd = openat(st->dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sys_err(st, "open", rel);
	int rc = fsync(fd);
	if (rc != 0)
		sys_err(st, "fsync", rel);
	close(fd);
	if (rc != 0)
		return MS_ERR_IO;
	ensure_dirs(st, rel, hex);
	return make_durable(st, rel, hex);
}

static ms_status_t bad_hex(ms_store *st, const char *hex)
{
	return set_err(st, MS_ERR_INVALID, "store %s: bad hash \"%.80s\"",
		       st->dir, hex);
}

ms_status_t ms_store_put(ms_store *st, const char *hex, const void *data,
			 size_t len, int sync)
{
	char rel[REL_LEN + 1];
	struct stat sb;
	if (!valid_hex(hex, HEX_LEN))
		return bad_hex(st, hex);
	rel_path(rel, hex);
	int rc = fstatat(st->dirfd, rel, &sb, 0);
	if (rc != 0 && errno != ENOENT)
		return sys_err(st, "stat", rel);
	/* a file too short to be whole (say, an unsynced put cut short by a
	 * crash) is written again */
	if (rc == 0 && sb.st_size >= MIN_FILE)
		return sync ? sync_existing(st, rel, hex) : MS_OK;
	ms_status_t s = ensure_dirs(st, rel, hex);
	if (s == MS_OK)
		s = encode(st, data, len);
	if (s == MS_OK)
		s = write_file(st, rel, hex, sync);
	return s;
}

ms_status_t ms_store_sync(ms_store *st)
{
	if (syncfs(st->dirfd) != 0)
		return sys_err(st, "syncfs", "");
	memcpy(st->top_durable, st->top_seen, sizeof st->top_seen);
	return MS_OK;
}

/* ---- get / has ---- */

/* Reads the whole open file fd into st->io. */
static ms_status_t read_all(ms_store *st, int fd, const char *rel)
{
	struct stat sb;
	ms_buf_reset(&st->io);
	if (fstat(fd, &sb) != 0)
		return sys_err(st, "stat", rel);
	size_t want = sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096;
	for (;;) {
		if (ms_buf_reserve(&st->io, want) != MS_OK)
			return set_err(st, MS_ERR_NOMEM,
				       "store: out of memory");
		size_t room = st->io.cap - st->io.len - 1;
		ssize_t r = read(fd, st->io.data + st->io.len, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return sys_err(st, "read", rel);
		if (r == 0)
			return MS_OK;
		st->io.len += (size_t)r;
		want = 4096;
	}
}

/* Decodes st->io (a whole file) into out. */
static ms_status_t decode(ms_store *st, const char *rel, ms_buf *out)
{
	const unsigned char *p = (const unsigned char *)st->io.data;
	size_t n = st->io.len;
	if (n < HDR_LEN || memcmp(p, HDR_MAGIC, 4) != 0)
		return set_err(st, MS_ERR_CORRUPT, "store %s/%s: bad header",
			       st->dir, rel);
	unsigned m = p[4];
	if (m >= sizeof codecs / sizeof codecs[0] || !codecs[m].decode)
		return set_err(st, MS_ERR_CORRUPT,
			       "store %s/%s: unknown method %u", st->dir, rel,
			       m);
	uint64_t orig = 0;
	for (int i = 0; i < 8; i++)
		orig = orig << 8 | p[5 + i];
	size_t old = out->len;
	ms_status_t s = codecs[m].decode(st, rel, p, p + HDR_LEN, n - HDR_LEN,
					 orig, out);
	if (s != MS_OK)
		ms_buf_truncate(out, old);
	return s;
}

ms_status_t ms_store_get(ms_store *st, const char *hex, ms_buf *out)
{
	char rel[REL_LEN + 1];
	if (!valid_hex(hex, HEX_LEN))
		return bad_hex(st, hex);
	rel_path(rel, hex);
	int fd = openat(st->dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return set_err(st, MS_ERR_NOTFOUND, "store %s/%s: not found",
			       st->dir, rel);
	if (fd < 0)
		return sys_err(st, "open", rel);
	ms_status_t s = read_all(st, fd, rel);
	close(fd);
	return s == MS_OK ? decode(st, rel, out) : s;
}

ms_status_t ms_store_has(ms_store *st, const char *hex, int *yes_r)
{
	char rel[REL_LEN + 1];
	struct stat sb;
	*yes_r = 0;
	if (!valid_hex(hex, HEX_LEN))
		return bad_hex(st, hex);
	rel_path(rel, hex);
	if (fstatat(st->dirfd, rel, &sb, 0) == 0) {
		*yes_r = sb.st_size >= MIN_FILE; /* as ms_store_put sees it */
		return MS_OK;
	}
	return errno == ENOENT ? MS_OK : sys_err(st, "stat", rel);
}

ms_status_t ms_store_remove(ms_store *st, const char *hex)
{
	char rel[REL_LEN + 1];
	if (!valid_hex(hex, HEX_LEN))
		return bad_hex(st, hex);
	rel_path(rel, hex);
	if (unlinkat(st->dirfd, rel, 0) != 0 && errno != ENOENT)
		return sys_err(st, "unlink", rel);
	return MS_OK;
}

/* ---- walking: bytes, each ---- */

/* Called for each stored file (name = its hex, sb its lstat). */
typedef ms_status_t (*visit_fn)(const char *name, const struct stat *sb,
				void *ctx);

/* Visits the stored files under directory fd (consumed) at depth 0..1. */
static ms_status_t walk(ms_store *st, int fd, int depth, visit_fn fn, void *ctx)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return sys_err(st, "opendir", "");
	}
	ms_status_t s = MS_OK;
	struct dirent *e;
	struct stat sb;
	while (s == MS_OK && (e = readdir(d)) != NULL) {
		if (depth == 1) {
			if (valid_hex(e->d_name, HEX_LEN) &&
			    fstatat(dirfd(d), e->d_name, &sb,
				    AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(sb.st_mode))
				s = fn(e->d_name, &sb, ctx);
			continue;
		}
		if (!valid_hex(e->d_name, 2))
			continue;
		int sub = openat(dirfd(d), e->d_name,
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			s = walk(st, sub, depth + 1, fn, ctx);
		else if (errno != ENOTDIR && errno != ENOENT)
			s = sys_err(st, "open", e->d_name);
	}
	closedir(d);
	return s;
}

static ms_status_t walk_all(ms_store *st, visit_fn fn, void *ctx)
{
	int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_err(st, "open", "");
	return walk(st, fd, 0, fn, ctx);
}

typedef struct walk_sum {
	unsigned long long bytes, files;
} walk_sum;

static ms_status_t add_up(const char *name, const struct stat *sb, void *ctx)
{
	walk_sum *sum = ctx;
	(void)name;
	sum->bytes += (unsigned long long)sb->st_size;
	sum->files++;
	return MS_OK;
}

ms_status_t ms_store_bytes(ms_store *st, unsigned long long *bytes_r,
			   unsigned long long *files_r)
{
	walk_sum sum = { 0, 0 };
	*bytes_r = *files_r = 0;
	ms_status_t s = walk_all(st, add_up, &sum);
	if (s == MS_OK) {
		*bytes_r = sum.bytes;
		*files_r = sum.files;
	}
	return s;
}

typedef struct each_ctx {
	ms_store_each_fn fn;
	void *ctx;
} each_ctx;

static ms_status_t visit_each(const char *name, const struct stat *sb,
			      void *ctx)
{
	each_ctx *ec = ctx;
	long long t = (long long)sb->st_mtim.tv_sec * 1000000000LL +
		      sb->st_mtim.tv_nsec;
	return ec->fn(name, t, ec->ctx);
}

ms_status_t ms_store_each(ms_store *st, ms_store_each_fn fn, void *ctx)
{
	each_ctx ec = { fn, ctx };
	return walk_all(st, visit_each, &ec);
}
