/* ms_json.h - minimal JSON output: quoted, escaped strings. */
#ifndef MS_JSON_H
#define MS_JSON_H

#include "ms_buf.h"

/* Appends s as a JSON string literal: quotes, backslash and control
 * characters escaped; invalid UTF-8 bytes become U+FFFD. NULL -> "".
 * MS_OK or MS_ERR_NOMEM. */
ms_status_t ms_json_string(ms_buf *b, const char *s);

#endif
