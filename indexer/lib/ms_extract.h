/* ms_extract.h - attachment text through the sandboxed extractor process.
 *
 * The text of PDF, Office Open XML, OpenDocument, ZIP and JSON attachments
 * is extracted by mailsift-extract (indexer/extract/), a separate program
 * started once per attachment: hostile documents are parsed outside the
 * caller's address space, under resource limits it sets on itself before
 * reading anything (CPU seconds, address space, no file writes) and a
 * seccomp filter; here the caller adds the wall-time kill and the output
 * cap. A crash, a kill, a limit or a parse error is MS_EXTRACT_FAILED with
 * a reason; a password-protected file is MS_EXTRACT_ENCRYPTED.
 *
 * The attachment travels as the child's standard input: a memfd the
 * caller fills (ms_extract_memfd), so the caller never holds it in memory.
 * Thread-safe (each call spawns its own child; every descriptor is
 * close-on-exec).
 */
#ifndef MS_EXTRACT_H
#define MS_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_status.h"

/* What became of an attachment's text (the searchable extract: value). */
typedef enum ms_extract_state {
	MS_EXTRACT_NONE = 0, /* not tried: type not extracted, or off */
	MS_EXTRACT_YES,	     /* text indexed */
	MS_EXTRACT_FAILED,   /* tried; crash, limit, timeout or damage */
	MS_EXTRACT_ENCRYPTED /* password-protected */
} ms_extract_state;

/* The mailsift-extract exit codes (besides 0: text on standard output). */
#define MS_EXTRACT_EXIT_FAILED	  4 /* reason on standard error */
#define MS_EXTRACT_EXIT_ENCRYPTED 3
#define MS_EXTRACT_EXIT_UNKNOWN	  5 /* not a format it reads */

typedef struct ms_extract_opts {
	int enabled;
	/* Formats extracted (NULL-terminated names from ms_extract_types();
	 * NULL = all). */
	char *const *types;
	/* The helper program; NULL or "" = mailsift-extract in the directory
	 * of the running program, else MS_EXTRACT_LIBEXEC. */
	const char *helper;
	uint64_t max_size;  /* larger attachments are not extracted */
	uint64_t max_text;  /* text kept per attachment */
	uint64_t memory;    /* the helper's address-space limit */
	uint64_t zip_max;   /* bytes uncompressed per attachment at most */
	unsigned cpu;	    /* the helper's CPU seconds */
	unsigned timeout;   /* wall seconds before the helper is killed */
	unsigned zip_depth; /* ZIP inside ZIP followed this deep */
	unsigned zip_ratio; /* a member expanding more than this is a bomb */
} ms_extract_opts;

#ifndef MS_EXTRACT_LIBEXEC
#define MS_EXTRACT_LIBEXEC "/usr/lib/mailsift/mailsift-extract"
#endif

/* The format names extract_types accepts (NULL-terminated, static). */
const char *const *ms_extract_types(void);
/* Returns NULL if every item of types is a known format name, else a
 * static message naming the problem (the config check). */
const char *ms_extract_types_check(const char *item);

/* The format of an attachment from its lower-case MIME type, file name
 * (may be NULL) and first bytes head[0..n): a name from ms_extract_types(),
 * or NULL if it is none of them. *legacy_r is set when it is a format this
 * build cannot read (legacy Word/Excel/PowerPoint, RTF). */
const char *ms_extract_format(const char *type, const char *name,
			      const char *head, size_t n, int *legacy_r);
/* Whether opts extract format fmt (enabled and listed). */
int ms_extract_wanted(const ms_extract_opts *opts, const char *fmt);

/* A new anonymous file (memfd, close-on-exec) to write an attachment to;
 * -1 with errno on failure. The caller closes it. */
int ms_extract_memfd(void);

/* Runs the helper on the fd's contents (from offset 0) as format fmt and
 * appends the text to text (at most opts->max_text bytes, raw: the caller
 * makes it valid UTF-8). *state_r is YES, FAILED or ENCRYPTED; reason
 * (reason_sz bytes) says why for FAILED/ENCRYPTED, else "". Returns MS_OK,
 * or MS_ERR_NOMEM (text may hold part of the output). Never kills the
 * caller: a helper that cannot start is FAILED. */
ms_status_t ms_extract_run(const ms_extract_opts *opts, const char *fmt, int fd,
			   ms_buf *text, ms_extract_state *state_r,
			   char *reason, size_t reason_sz);

/* "none", "yes", "failed", "encrypted". */
const char *ms_extract_state_name(ms_extract_state s);

#endif
