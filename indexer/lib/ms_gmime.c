/* ms_gmime.c - GMime helpers (see ms_gmime.h): ms_gmime_decoded_stream. */
#include "ms_gmime.h"

GMimeStream *ms_gmime_decoded_stream(GMimePart *part)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeStream *raw = dw ? g_mime_data_wrapper_get_stream(dw) : NULL;
	if (!raw)
		return NULL;
	g_mime_stream_reset(raw);
	GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(dw);
	if (enc != GMIME_CONTENT_ENCODING_BASE64 &&
	    enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
	    enc != GMIME_CONTENT_ENCODING_UUENCODE)
		return g_object_ref(raw);
	GMimeStream *fs = g_mime_stream_filter_new(raw);
	GMimeFilter *f = g_mime_filter_basic_new(enc, FALSE);
	g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
	g_object_unref(f);
	return fs;
}
