/* ms_spool.h - the durable hand-off from the milter to indexd.
 *
 * Layout under the spool directory: seg/ (segments: append-only files of
 * entries that the milter writes, many messages per file), tmp/ (messages
 * being received: unnamed files; segments being created), new/ (legacy
 * entry files, one per message: written by earlier versions, still read),
 * bad/ (entries indexd could not parse, each with a <name>.why file).
 *
 * A message entry is the message exactly as received (header lines as
 * "Name: value\r\n", an empty line, the body) and the envelope as an
 * ms_record ("key\tvalue\n" lines). The milter's commit appends it to a
 * segment with a checksummed header and returns only once an fdatasync
 * covers it; concurrent commits share one fdatasync (group commit), which
 * is then recorded by a commit entry. The segment format and its crash
 * rules are in ms_spool_int.h: only this API reads or writes it. Names of
 * segment entries are "SEGMENT/OFFSET".
 * A legacy entry file in new/ is the message, the record and a 32-byte
 * footer: "MSSPOOL1", the message length and the record length as 12
 * decimal digits each; a file without a valid footer is not an entry (a
 * crash mid-write). Its name is the message's archive id.
 * Directories are made 0770 and files 0660, less the umask (so a milter
 * and an indexd running as different users can share a group).
 * Stale tmp/ files (a segment being created when its writer crashed) are
 * removed by ms_spool_clean_tmp() (indexd calls it at start-up).
 *
 * Envelope record keys: id, sender, rcpt (once per recipient), qid,
 * client, helo, auth, verdict, virus, time, size, sha256.
 */
#ifndef MS_SPOOL_H
#define MS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "ms_archive.h" /* ms_envelope */
#include "ms_buf.h"
#include "ms_hash.h"
#include "ms_status.h"

#define MS_SPOOL_FOOTER 32

typedef struct ms_spool ms_spool;
typedef struct ms_spool_writer ms_spool_writer;

/* Opens the spool at dir, creating dir, tmp/, new/, bad/ and seg/ if
 * needed. On error *err_r (if err_r; caller frees) is "path: strerror".
 * The handle is thread-safe: the segment being appended and the segments
 * being read are under mutexes of their own. Closing it ends its segment
 * (no commit may be running). */
ms_status_t ms_spool_open(const char *dir, ms_spool **sp_r, char **err_r);
void ms_spool_close(ms_spool **sp);

/* ---- writing (the milter) ---- */

/* Starts entry id (1 to MS_SPOOL_ID_MAX letters, digits, '-' and '_'): an
 * unnamed file in tmp/. MS_OK, MS_ERR_INVALID (bad id), MS_ERR_IO,
 * MS_ERR_NOMEM, MS_ERR_CRYPTO. On error *err_r (if err_r; caller frees)
 * says why (e.g. "DIR/tmp/ID: No space left on device"). The writer is
 * used by one thread at a time. */
#define MS_SPOOL_ID_MAX 128
ms_status_t ms_spool_begin(ms_spool *sp, const char *id, ms_spool_writer **w_r,
			   char **err_r);
/* Appends message bytes (buffered; memory bounded) and updates the running
 * SHA-256. MS_OK, MS_ERR_IO (disk full...; sticky: every later write and
 * the commit fail too, ms_spool_error() says why), MS_ERR_LIMIT (message
 * over 999,999,999,999 bytes), MS_ERR_INVALID (after ms_spool_sha256()),
 * MS_ERR_CRYPTO. */
ms_status_t ms_spool_write(ms_spool_writer *w, const void *p, size_t n);
/* The writer's first error as one line "path: strerror" ("" if none);
 * valid while w lives. */
const char *ms_spool_error(const ms_spool_writer *w);
/* Message bytes written so far. */
uint64_t ms_spool_size(const ms_spool_writer *w);
/* Flushes buffered bytes and returns a descriptor from which the message
 * can be read with pread() at offsets 0..size-1 (owned by the writer), or
 * -1 after a write error (see ms_spool_error()). */
int ms_spool_fd(ms_spool_writer *w);
/* The message's SHA-256, as hex. This ends the message: later writes
 * fail with MS_ERR_INVALID (the commit still works). MS_OK, MS_ERR_IO
 * (after a write error), MS_ERR_CRYPTO. */
ms_status_t ms_spool_sha256(ms_spool_writer *w, char hex[MS_SHA256_HEX]);
/* Appends the message with its envelope (env->id must be the entry id or
 * NULL; size and sha256 are added by the spool; env may be NULL) to the
 * handle's current segment and waits until an fdatasync covers it (one
 * flush for all the commits waiting at the time). Only after MS_OK is the
 * message durable. MS_OK, MS_ERR_IO (disk full, a failed flush: every
 * commit it covered fails too), MS_ERR_INVALID (env->id differs),
 * MS_ERR_NOMEM, MS_ERR_CRYPTO, MS_ERR_LIMIT. Frees *w and NULLs it
 * whatever the outcome; on error no entry of it will ever be read and
 * *err_r (if err_r; caller frees) says why. Thread-safe. */
ms_status_t ms_spool_commit(ms_spool_writer **w, const ms_envelope *env,
			    char **err_r);
/* Drops an unfinished entry (abort, reject without keeping): closes the
 * temporary file (which has no name), frees *w, NULLs it. NULL-safe. */
void ms_spool_abort(ms_spool_writer **w);

/* ---- reading (indexd) ---- */

/* A complete entry read back. env's strings point into the entry. */
typedef struct ms_spool_entry {
	char *name;	 /* as listed */
	const char *msg; /* message bytes (not NUL-terminated) */
	size_t msg_len;
	ms_envelope env;    /* env.rcpts: n_rcpts addresses */
	const char *sha256; /* as recorded by the writer */
	void *priv;
} ms_spool_entry;

/* Lists the entries waiting: legacy files in new/ (regular files not
 * starting with '.'; oldest first by mtime, then name), then the ready,
 * not yet removed entries of the segments (oldest first). It also drops
 * what a writer that is gone left unflushed, and removes segments with
 * no writer and nothing left to archive. MS_OK, MS_ERR_IO, MS_ERR_NOMEM.
 * On MS_OK *names_r is a NULL-terminated array freed with
 * ms_spool_names_free. Not for concurrent use with itself, ms_spool_poll,
 * ms_spool_remove or ms_spool_quarantine on the same handle from other
 * threads' points of view of ordering (each call is thread-safe). */
ms_status_t ms_spool_list(ms_spool *sp, char ***names_r, size_t *n_r);
/* Like ms_spool_list, but only the segment entries that became ready
 * since the last list or poll on this handle (cheap: segments are read
 * on from where they were left). */
ms_status_t ms_spool_poll(ms_spool *sp, char ***names_r, size_t *n_r);
void ms_spool_names_free(char ***names);
/* The backlog indexd has still to archive: *n_r gets the number of
 * entries in new/ and of ready segment entries not yet archived (as far
 * as NAME.done files and this handle know), *oldest_r (if not NULL) the
 * mtime of the oldest file or the creation time of the oldest segment
 * with one (seconds since the epoch; 0 when there are none). Reads only; cheap
 * enough for a metrics scrape or `mailsift doctor`. MS_OK, MS_ERR_IO
 * (*err_r, if err_r, is "DIR/new: strerror"; caller frees), MS_ERR_NOMEM;
 * on error *n_r and *oldest_r are 0. */
ms_status_t ms_spool_backlog(ms_spool *sp, uint64_t *n_r, int64_t *oldest_r,
			     char **err_r);
/* Reads entry name (a segment entry or a file in new/). MS_ERR_NOTFOUND
 * if it is gone, MS_ERR_PARSE if it is not a valid entry (no or bad
 * footer or checksum, record without a valid id, size or sha256; a legacy
 * file's id must be its name), MS_ERR_INVALID for a name that is neither
 * (a file name with '/' or a leading '.'), MS_ERR_IO, MS_ERR_NOMEM; on error
 * *err_r (if err_r; caller frees) is "path: reason". On MS_OK free *e_r with
 * ms_spool_entry_free(). Memory: the message is mapped, not copied; the record
 * is one private copy. The recorded sha256 is not re-verified here. */
ms_status_t ms_spool_read(ms_spool *sp, const char *name, ms_spool_entry **e_r,
			  char **err_r);
void ms_spool_entry_free(ms_spool_entry **e);
/* Removes entry name (after the archive commit that holds it): a file
 * from new/ (fsyncing new/ when sync); a segment entry is marked archived,
 * and when sync the segments' NAME.done files are written, the space of
 * archived entries given back and finished segments removed (seg/
 * fsynced). MS_OK, MS_ERR_NOTFOUND, MS_ERR_INVALID (bad name), MS_ERR_IO,
 * MS_ERR_NOMEM. */
ms_status_t ms_spool_remove(ms_spool *sp, const char *name, int sync);
/* Writes bad/<name>.why with reason (first, fsynced), then moves entry
 * name to bad/ and fsyncs bad/ and new/ (a segment entry: copies its
 * bytes to bad/SEGMENT-OFFSET and marks it removed). MS_OK, MS_ERR_NOTFOUND (no
 * .why left behind), MS_ERR_INVALID, MS_ERR_IO, MS_ERR_NOMEM. */
ms_status_t ms_spool_quarantine(ms_spool *sp, const char *name,
				const char *reason);
/* Removes regular files in tmp/ whose mtime is more than max_age seconds
 * old (left by a writer that crashed); *n_r (if n_r) gets their number.
 * MS_OK, MS_ERR_IO (tmp/ unreadable), MS_ERR_NOMEM. */
ms_status_t ms_spool_clean_tmp(ms_spool *sp, unsigned max_age, unsigned *n_r);

#endif
