/* ms_mbox.h - splitting mbox files (and single-message files) into
 * messages.
 *
 * A message starts at offset 0 or at a line beginning "From " that
 * follows an empty line and looks like an mbox separator (it carries a
 * time "hh:mm"). Each message returned includes its own "From " line
 * (ms_mime/ms_archive drop it) and excludes the one empty line that
 * separates it from the next (for the last of several messages, the one
 * empty line mbox writers add at the end). A file with one message is
 * returned whole. ">From " lines are left as they are.
 *
 * Writing (export): mboxrd quoting. ms_mbox_quote() prefixes '>' to every
 * line that matches ^>*From  (so "From " becomes ">From ", ">From "
 * becomes ">>From ", ...) and ends the text with a newline if it did not
 * end with one; ms_mbox_unquote() removes one '>' from every line that
 * matches ^>+From , so unquote(quote(m)) is m (plus that one newline).
 */
#ifndef MS_MBOX_H
#define MS_MBOX_H

#include <stddef.h>

#include "ms_buf.h"

/* Finds the message starting at *off in data[0..len): sets *start and *n
 * and advances *off past it. Returns 0 at the end, else 1. */
int ms_mbox_next(const char *data, size_t len, size_t *off, size_t *start,
		 size_t *n);

/* Appends msg[0..len) mboxrd-quoted to out, plus "\n" if len > 0 and msg
 * does not end with one. MS_OK or MS_ERR_NOMEM (out may hold a part). */
ms_status_t ms_mbox_quote(ms_buf *out, const char *msg, size_t len);
/* Appends seg[0..len) with one '>' removed from each line matching
 * ^>+From  (the inverse of ms_mbox_quote). MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_mbox_unquote(ms_buf *out, const char *seg, size_t len);

#endif
