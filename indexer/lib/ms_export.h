/* ms_export.h - exporting archived messages with a verifiable manifest,
 * and verifying such an export later.
 *
 * An export is a directory (created, or an existing empty one; anything
 * else is refused) holding:
 *   - the messages, byte for byte as archived: either one file
 *     messages.mbox (mboxrd: each message is a "From SENDER DATE" line,
 *     the message with every line matching ^>*From  prefixed by '>', a
 *     newline added if the message did not end with one, and one empty
 *     line), or one file <archive id>.eml per message;
 *   - manifest.csv (RFC 4180, UTF-8, ms_csv.h), the header row
 *     MS_EXPORT_COLUMNS and one row per message: archive id, Message-ID,
 *     date (UTC, ISO 8601), From, To, Subject, size (bytes), SHA-256 of the
 *     archived bytes, the file holding it and, in an mbox, the offset of
 *     its "From " line. A reader recovers the exact archived bytes of an
 *     mbox message by removing one '>' from each line matching ^>+From
 *     and keeping the first `size` bytes (only a message that did not end
 *     with a newline got one added);
 *   - manifest.sha256, written last, in sha256sum format: the SHA-256 of
 *     manifest.csv and (mbox) of messages.mbox, so `sha256sum -c
 *     manifest.sha256` in the directory checks them with standard tools.
 * Files are created mode 0600 and the directory 0700 (exported mail is as
 * sensitive as the archive). Nothing is synced per message: at the end
 * the file system is synced once (syncfs), then manifest.sha256 is
 * written, fsynced and renamed into place and the directory fsynced, so
 * an export with a manifest.sha256 is whole and durable, and one without
 * it is incomplete.
 *
 * Ownership: handles from ms_export_begin() are freed by
 * ms_export_finish() or ms_export_abort(). Error texts are one line,
 * owned by the handle (ms_export_error) or by the caller (*err_r, freed
 * with free()). The library never prints.
 */
#ifndef MS_EXPORT_H
#define MS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ms_archive.h"
#include "ms_status.h"

#define MS_EXPORT_MANIFEST     "manifest.csv"
#define MS_EXPORT_MANIFEST_SUM "manifest.sha256"
#define MS_EXPORT_MBOX_FILE    "messages.mbox"
#define MS_EXPORT_COLUMNS                                                      \
	"id,message_id,date,from,to,subject,size,sha256,file,offset"

typedef enum ms_export_format {
	MS_EXPORT_MBOX,
	MS_EXPORT_EML
} ms_export_format;

/* Parses "mbox" or "eml". MS_OK, or MS_ERR_INVALID. */
ms_status_t ms_export_format_parse(const char *name, ms_export_format *fmt_r);

typedef struct ms_export ms_export;

/* Starts an export into dir: creates it (mode 0700; its parent must
 * exist) or takes an existing empty directory, and creates
 * manifest.csv (with the header row) and, for mbox, messages.mbox. MS_OK
 * with *ex_r; else *ex_r is NULL, *err_r (if err_r) a one-line message
 * naming dir, and nothing was left behind: MS_ERR_INVALID (dir exists and
 * is not an empty directory: "refusing to overwrite"), MS_ERR_IO,
 * MS_ERR_NOMEM. */
ms_status_t ms_export_begin(const char *dir, ms_export_format fmt,
			    ms_export **ex_r, char **err_r);

/* Writes one message raw[0..len) with the facts of hit (id, message_id,
 * date, from, to, subject, sender; all borrowed for the call). If
 * hit->sha256 is not empty the bytes must hash to it. MS_OK;
 * MS_ERR_CORRUPT (they do not: the stored message is damaged),
 * MS_ERR_INVALID (an id that cannot be a file name: empty, starting with
 * '.', or with a byte outside [A-Za-z0-9._@+=-]; or a second message with
 * the same id in eml), MS_ERR_IO, MS_ERR_NOMEM. After an error the export
 * can only be aborted; the message is on the handle. */
ms_status_t ms_export_add(ms_export *ex, const ms_hit *hit, const char *raw,
			  size_t len);

/* Completes the export (see above). MS_OK: complete and durable; else
 * MS_ERR_IO (message in *err_r) and the output is removed as by
 * ms_export_abort(). Frees *ex and sets it to NULL in both cases. */
ms_status_t ms_export_finish(ms_export **ex, char **err_r);
/* Stops an export, removing every file it wrote and the directory if it
 * created it. NULL-safe; sets *ex to NULL. */
void ms_export_abort(ms_export **ex);
/* The last error message ("" if none). */
const char *ms_export_error(const ms_export *ex);
/* Messages and message bytes written so far. */
uint64_t ms_export_count(const ms_export *ex);
uint64_t ms_export_bytes(const ms_export *ex);

/* Writes every hit of hits (in their order) from the store of ar, as
 * ms_export_add() does one. progress (may be NULL) is called after each
 * message with the number done. The bytes come from ms_archive_raw (the
 * local store, or the remote host a hit came from). MS_OK; the store's
 * status for a message that cannot be read (MS_ERR_NOTFOUND,
 * MS_ERR_CORRUPT, MS_ERR_CRYPTO, MS_ERR_IO), MS_ERR_REMOTE, or
 * ms_export_add()'s, with the message (naming the id) on
 * ex. After an error the export can only be aborted. ar is used on this
 * thread only. */
typedef void (*ms_export_progress_fn)(uint64_t done, void *ctx);
ms_status_t ms_export_add_hits(ms_export *ex, ms_archive *ar,
			       const ms_hits *hits,
			       ms_export_progress_fn progress, void *ctx);

/* ---- verification ---- */

typedef struct ms_export_check {
	uint64_t messages; /* manifest rows checked */
	uint64_t files;	   /* files hashed */
	uint64_t problems; /* lines reported */
} ms_export_check;

/* problem: one line ("manifest.csv: SHA-256 does not match
 * manifest.sha256", "<file>: missing", "<file>: extra file (not in the
 * manifest)", "<file>: id <id>: SHA-256 mismatch", ...), valid during the
 * call. progress: the fraction of the manifest read (0..1) and the rows
 * so far. Either may be NULL. */
typedef struct ms_export_verify_ops {
	void (*problem)(const char *line, void *ctx);
	void (*progress)(double frac, uint64_t rows, void *ctx);
	void *ctx;
} ms_export_verify_ops;

/* Re-checks the export in dir: manifest.csv against manifest.sha256,
 * every file manifest.sha256 lists, every manifest row against its file
 * (size and SHA-256 of the message bytes; in an mbox, of the unquoted
 * message at its offset), and reports files listed but missing and files
 * present but not listed. Reports each problem through ops and counts it
 * in *res_r. Returns MS_OK when the check ran (whatever it found);
 * MS_ERR_NOTFOUND or MS_ERR_IO (dir cannot be read; *err_r says why),
 * MS_ERR_NOMEM. */
ms_status_t ms_export_verify(const char *dir, const ms_export_verify_ops *ops,
			     ms_export_check *res_r, char **err_r);

#endif
