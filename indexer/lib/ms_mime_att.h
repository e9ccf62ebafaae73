/* ms_mime_att.h - an attachment's content for ms_mime.c: its decoded size
 * and, when extraction is on for its format, its text from the extractor
 * process (ms_extract.h). Internal to the library.
 */
#ifndef MS_MIME_ATT_H
#define MS_MIME_ATT_H

#include <gmime/gmime.h>

#include "ms_buf.h"
#include "ms_doc.h"
#include "ms_extract.h"

/* Decodes part (streaming: the content goes to a memfd, never into this
 * process's heap), sets a->size, a->extracted and a->reason (malloc'ed or
 * NULL), and appends the raw extracted text to text (the caller makes it
 * valid UTF-8). o may be NULL (size only). MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_mime_att_content(GMimePart *part, ms_attachment *a,
				const ms_extract_opts *o, ms_buf *text);

#endif
