/* milter_policy.h - the milter's attachment policy ([policy] in plugin.conf).
 *
 * A policy is built once from a config snapshot and is then immutable:
 * any number of threads may call ms_policy_check() on it at once. It holds
 *   - the blocked file name extensions (policy_blocked_extensions; compared
 *     case-insensitively, a leading '.' in the config is ignored), and
 *   - the SHA-256 blocklist read from policy_blocklist_file: one 64-digit
 *     hex hash (either case) per line, optionally followed by whitespace
 *     and a "# comment"; blank lines and lines starting with '#' are
 *     ignored (leading/trailing whitespace, CR and a UTF-8 BOM too).
 *
 * ms_policy_check() parses the stored message with GMime and walks every
 * MIME part (multiparts, message/rfc822 at any depth up to the limits):
 *   - every part's file name is checked: the Content-Disposition filename
 *     AND the Content-Type name (both, as mail clients differ in which they
 *     show), RFC 2047 / RFC 2231 decoded. The extension is what follows the
 *     last '.', ASCII-lower-cased, after trailing dots and whitespace are
 *     stripped ("invoice.pdf.exe" -> "exe", "x.EXE. " -> "exe",
 *     "archive.tar.gz" -> "gz"); no '.' means no extension.
 *   - DECISION: a part whose Content-Type is a Windows executable type
 *     (application/x-msdownload, x-dosexec, x-msdos-program,
 *     x-ms-dos-executable, vnd.microsoft.portable-executable) counts as
 *     extension "exe" whatever its name, so it is blocked when "exe" is.
 *   - when the blocklist is not empty, the DECODED content (base64,
 *     quoted-printable, uuencode) of every leaf part, attachment or not, is
 *     hashed in 64 KiB chunks (memory stays bounded whatever the size).
 *   - DECISION: a message nested deeper than MS_POLICY_MAX_DEPTH or with
 *     more than MS_POLICY_MAX_PARTS parts is blocked ("MIME structure too
 *     deep"/"too many MIME parts"): its tail could hide an attachment.
 * The first finding wins and ends the walk. Damaged or truncated MIME is
 * checked as far as GMime can parse it (never crashes, never hangs); data
 * that is not a message at all is simply not blocked (clamd still sees it).
 */
#ifndef MILTER_POLICY_H
#define MILTER_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "ms_config.h"
#include "ms_status.h"

#define MS_POLICY_MAX_DEPTH 64	 /* multipart/rfc822 nesting levels */
#define MS_POLICY_MAX_PARTS 5000 /* MIME objects per message */

typedef struct ms_policy ms_policy;

typedef struct ms_policy_result {
	int blocked; /* 1: reject per on_infected; 0: nothing found */
	/* Set when blocked, else "". Printable ASCII only (other bytes of
	 * a file name become '?', '%' too, so it is safe in an SMTP reply
	 * or a log line), e.g. "blocked attachment type .exe:
	 * invoice.pdf.exe" or "blocklisted attachment <64 hex>: x.bin";
	 * long names are truncated. */
	char reason[256];
} ms_policy_result;

/* Builds the policy of cfg (cfg is not kept). On MS_OK *p_r is the new
 * policy (free with ms_policy_free) and *err_r is NULL. Otherwise *p_r is
 * NULL and *err_r (if err_r is not NULL) is a malloc'ed one-line message
 * the caller frees with free():
 *   MS_ERR_CONFIG  a bad blocklist line: "file:line: bad SHA-256 'xyz'"
 *   MS_ERR_IO      blocklist unreadable: "file: strerror(errno)"
 *   MS_ERR_NOMEM   *err_r is NULL
 * Initialises GMime (ms_mime_init) if it was not yet. */
ms_status_t ms_policy_new(const ms_config *cfg, ms_policy **p_r, char **err_r);

/* Frees *p and sets it to NULL; NULL or *p == NULL is a no-op. */
void ms_policy_free(ms_policy **p);

/* Checks the message in fd[0..len) (fd must be open for reading; it is
 * neither closed nor kept; its file offset is the same on return as
 * before, but it moves during the call, so nothing else may use this fd
 * (or a dup of it) meanwhile). A leading mbox "From " line is skipped.
 * Fills *r and returns MS_OK, or returns MS_ERR_IO (fd unreadable, the
 * file shorter than len, or a read error) or MS_ERR_NOMEM; after an
 * error *r says not blocked, and the caller must not treat the message as
 * checked. */
ms_status_t ms_policy_check(const ms_policy *p, int fd, uint64_t len,
			    ms_policy_result *r);

/* Writes the lower-cased extension of file name name (rules above) to
 * buf[0..size) and returns buf, or returns NULL when name has none or it
 * does not fit in size - 1 bytes. */
const char *ms_policy_extension(const char *name, char *buf, size_t size);

/* The number of distinct hashes in the policy's blocklist. */
size_t ms_policy_blocklist_count(const ms_policy *p);

#endif
