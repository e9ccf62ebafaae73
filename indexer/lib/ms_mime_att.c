/* ms_mime_att.c - an attachment's size and extracted text (see
 * ms_mime_att.h).
 *
 * Functions: ms_mime_att_content. File-local: the decode loop (pump_att)
 * that counts bytes and, when the format is extracted, writes them to a
 * memfd for the extractor; the state and reason bookkeeping (set_state).
 * An attachment over max_size is counted but not extracted (FAILED, "over
 * N bytes"); legacy Word/Excel/PowerPoint and RTF stay NONE with a reason.
 */
#include "ms_mime_att.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_file.h"
#include "ms_gmime.h"

#define CHUNK 65536

static ms_status_t set_state(ms_attachment *a, ms_extract_state s,
			     const char *reason)
{
	a->extracted = s;
	free(a->reason);
	a->reason = reason && *reason ? strdup(reason) : NULL;
	return reason && *reason && !a->reason ? MS_ERR_NOMEM : MS_OK;
}

typedef struct pump {
	const ms_extract_opts *o;
	ms_attachment *a;
	const char *fmt;
	int fd; /* the memfd while extracting, else -1 */
	int legacy;
	char why[96];
} pump;

/* The first chunk decides the format (type, name and magic bytes). */
static void first_chunk(pump *p, const char *buf, size_t n)
{
	p->fmt = ms_extract_format(p->a->type, p->a->name, buf, n, &p->legacy);
	if (!ms_extract_wanted(p->o, p->fmt))
		return;
	if ((p->fd = ms_extract_memfd()) < 0)
		snprintf(p->why, sizeof p->why, "memfd: %s", strerror(errno));
}

/* Takes one decoded chunk: counts it, and writes it for the extractor
 * until the size limit. */
static void take(pump *p, const char *buf, size_t n)
{
	if (p->a->size == 0)
		first_chunk(p, buf, n);
	p->a->size += n;
	if (p->fd < 0)
		return;
	if (p->a->size > p->o->max_size) {
		snprintf(p->why, sizeof p->why, "over %" PRIu64 " bytes",
			 p->o->max_size);
	} else if (ms_file_write_all(p->fd, buf, n) == 0) {
		return;
	} else {
		snprintf(p->why, sizeof p->why, "memfd: %s", strerror(errno));
	}
	close(p->fd);
	p->fd = -1;
}

static void pump_att(GMimeStream *in, pump *p)
{
	char *buf = malloc(CHUNK);
	ssize_t n;
	if (!buf) {
		snprintf(p->why, sizeof p->why, "out of memory");
		return;
	}
	while ((n = g_mime_stream_read(in, buf, CHUNK)) > 0 ||
	       (n == 0 && !g_mime_stream_eos(in)))
		if (n > 0)
			take(p, buf, (size_t)n);
	free(buf);
}

ms_status_t ms_mime_att_content(GMimePart *part, ms_attachment *a,
				const ms_extract_opts *o, ms_buf *text)
{
	pump p = { o, a, NULL, -1, 0, "" };
	GMimeStream *in = ms_gmime_decoded_stream(part);
	if (in) {
		pump_att(in, &p);
		g_object_unref(in);
	}
	if (p.fd >= 0) {
		ms_extract_state s = MS_EXTRACT_FAILED;
		char reason[200];
		ms_status_t st = ms_extract_run(o, p.fmt, p.fd, text, &s,
						reason, sizeof reason);
		close(p.fd);
		return st ? st : set_state(a, s, reason);
	}
	if (p.why[0])
		return set_state(a, MS_EXTRACT_FAILED, p.why);
	if (p.legacy && o && o->enabled)
		return set_state(a, MS_EXTRACT_NONE,
				 "no extractor for legacy Word, Excel, "
				 "PowerPoint or RTF files");
	return MS_OK;
}
