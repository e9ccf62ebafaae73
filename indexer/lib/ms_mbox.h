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
 */
#ifndef MS_MBOX_H
#define MS_MBOX_H

#include <stddef.h>

/* Finds the message starting at *off in data[0..len): sets *start and *n
 * and advances *off past it. Returns 0 at the end, else 1. */
int ms_mbox_next(const char *data, size_t len, size_t *off, size_t *start,
		 size_t *n);

#endif
