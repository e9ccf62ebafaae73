/* ms_gmime.h - small GMime helpers shared by MIME extraction (ms_mime.c)
 * and the milter's attachment policy (plugin/milter_policy.c).
 */
#ifndef MS_GMIME_H
#define MS_GMIME_H

#include <gmime/gmime.h>

/* The part's content as a stream decoding its transfer encoding (base64,
 * quoted-printable, uuencode; others as they are), rewound to the start.
 * Returns a new reference (g_object_unref) or NULL if there is none. */
GMimeStream *ms_gmime_decoded_stream(GMimePart *part);

#endif
