/* extract_zip.c - ZIP containers with libzip (see extract.h): Office Open
 * XML (docx, xlsx, pptx), OpenDocument (odt, ods, odp) and plain ZIP
 * archives, whose members are handed back to the dispatcher.
 *
 * Functions: ex_zip. File-local: opening (open_zip), the guarded member
 * reader (member_*), OOXML and ODF parts through the text walker
 * (ms_xmltext), legacy OLE files (ole_check) and the plain archive walk.
 *
 * Zip bombs: every member is read through member_read, which counts the
 * bytes actually produced (the sizes in the archive are the attacker's):
 * a member producing more than zip_ratio times its compressed size (at
 * least MEMBER_FLOOR), or all members together more than zip_max, stops
 * the attachment as EX_FAIL, and so does a member read whole (a PDF or
 * ZIP inside a ZIP) over zip_max / LOAD_SHARE bytes. The central
 * directory's compressed size is capped at the archive's length. Plain
 * ZIPs nest at most zip_depth deep.
 */
#include "extract.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "ms_xmltext.h"

#define MEMBER_FLOOR (1u << 20) /* a member may always expand to 1 MiB */
#define MAX_ENTRIES  100000	/* members of one archive looked at */
#define MANIFEST_MAX (1u << 20)
#define LOAD_SHARE   4 /* a member read whole: zip_max / LOAD_SHARE at most */

static int open_zip(ex_ctx *c, const char *data, size_t n, zip_t **z_r)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(data, n, 0, &ze);
	zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
	int code = EX_OK;
	if (!z) {
		if (src)
			zip_source_free(src);
		code = ex_reason(c, EX_FAIL, "not a readable ZIP archive: %s",
				 zip_error_strerror(&ze));
	}
	zip_error_fini(&ze);
	*z_r = z;
	return code;
}

typedef struct member {
	ex_ctx *c;
	zip_file_t *f;
	const char *name;
	uint64_t read, limit;
	int bomb; /* 1: ratio, 2: zip_max */
} member;

static int member_open(ex_ctx *c, zip_t *z, zip_uint64_t i, size_t n, member *m)
{
	zip_stat_t st;
	memset(m, 0, sizeof *m);
	m->c = c;
	if (zip_stat_index(z, i, 0, &st) < 0)
		return ex_reason(c, EX_FAIL, "damaged ZIP directory");
	m->name = st.name;
	if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) &&
	    st.encryption_method != ZIP_EM_NONE)
		return ex_reason(c, EX_ENC, "encrypted ZIP member %s", st.name);
	uint64_t comp = (st.valid & ZIP_STAT_COMP_SIZE) ? st.comp_size : n;
	comp = comp > n ? n : comp;
	m->limit = c->zip_ratio ? comp * c->zip_ratio : UINT64_MAX;
	if (m->limit < MEMBER_FLOOR)
		m->limit = MEMBER_FLOOR;
	if (!(m->f = zip_fopen_index(z, i, 0)))
		return ex_reason(c, EX_FAIL, "cannot read ZIP member %s: %s",
				 st.name, zip_strerror(z));
	return EX_OK;
}

/* ms_xmltext_read_fn: reads the member, enforcing the bomb limits. */
static int member_read(void *ctx, char *buf, int len)
{
	member *m = ctx;
	zip_int64_t k = zip_fread(m->f, buf, (zip_uint64_t)len);
	if (k < 0)
		return -1;
	m->read += (uint64_t)k;
	m->c->zip_used += (uint64_t)k;
	if (m->read > m->limit)
		m->bomb = 1;
	else if (m->c->zip_used > m->c->zip_max)
		m->bomb = 2;
	return m->bomb ? -1 : (int)k;
}

/* The reason for a member that could not be read. */
static int member_fail(member *m, const char *why)
{
	ex_ctx *c = m->c;
	if (m->bomb == 1)
		return ex_reason(c, EX_FAIL,
				 "zip bomb: member %s expands over %u times",
				 m->name, c->zip_ratio);
	if (m->bomb == 2)
		return ex_reason(c, EX_FAIL,
				 "zip bomb: over %llu bytes uncompressed",
				 (unsigned long long)c->zip_max);
	return ex_reason(c, EX_FAIL, "member %s: %s", m->name,
			 why ? why : "unreadable");
}

/* Streams member i through the text walker in mode. */
static int walk_member(ex_ctx *c, zip_t *z, zip_uint64_t i, size_t n,
		       ms_xmltext_mode mode)
{
	member m;
	if (ex_full(c))
		return EX_OK;
	int code = member_open(c, z, i, n, &m);
	if (code != EX_OK)
		return code;
	char *err = NULL;
	size_t room = c->max_text - c->out.len;
	ms_status_t st = ms_xmltext_walk(member_read, &m, mode, &c->out, room,
					 NULL, &err);
	code = st == MS_OK ? EX_OK : member_fail(&m, err);
	ex_put(c, "\n", 1);
	free(err);
	zip_fclose(m.f);
	return code;
}

/* Reads member i whole into b (under the bomb limits). */
static int load_member(ex_ctx *c, zip_t *z, zip_uint64_t i, size_t n, ms_buf *b)
{
	member m;
	int code = member_open(c, z, i, n, &m);
	char chunk[65536];
	int k = 0;
	uint64_t cap = c->zip_max / LOAD_SHARE;
	while (code == EX_OK && (k = member_read(&m, chunk, sizeof chunk)) > 0)
		if (b->len + (size_t)k > cap)
			code = ex_reason(c, EX_FAIL,
					 "zip bomb: member %s over %llu bytes",
					 m.name, (unsigned long long)cap);
		else if (ms_buf_append(b, chunk, (size_t)k) != MS_OK)
			code = ex_reason(c, EX_FAIL, "out of memory");
	if (code == EX_OK && k < 0)
		code = member_fail(&m, "damaged compressed data");
	if (m.f)
		zip_fclose(m.f);
	return code;
}

/* ---- Office Open XML ---- */

typedef struct ooxml_kind {
	const char *probe;
	ms_xmltext_mode mode;
	const char *parts[7];
} ooxml_kind;

static const ooxml_kind ooxml[] = {
	{ "word/document.xml",
	  MS_XMLTEXT_DOCX,
	  { "word/document.xml", "word/header*.xml", "word/footer*.xml",
	    "word/footnotes.xml", "word/endnotes.xml", "word/comments.xml" } },
	{ "xl/workbook.xml",
	  MS_XMLTEXT_XLSX,
	  { "xl/sharedStrings.xml", "xl/worksheets/sheet*.xml" } },
	{ "ppt/presentation.xml",
	  MS_XMLTEXT_PPTX,
	  { "ppt/slides/slide*.xml", "ppt/notesSlides/notesSlide*.xml" } },
};

/* Walks the members matching each of k's patterns, in pattern order. */
static int ooxml_text(ex_ctx *c, zip_t *z, size_t n, const ooxml_kind *k)
{
	zip_int64_t ne = zip_get_num_entries(z, 0);
	if (ne > MAX_ENTRIES)
		return ex_reason(c, EX_FAIL, "over %d ZIP members",
				 MAX_ENTRIES);
	for (size_t p = 0; k->parts[p] && !ex_full(c); p++)
		for (zip_int64_t i = 0; i < ne && !ex_full(c); i++) {
			const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
			if (!name || fnmatch(k->parts[p], name, FNM_PATHNAME))
				continue;
			int code =
				walk_member(c, z, (zip_uint64_t)i, n, k->mode);
			if (code != EX_OK)
				return code;
		}
	return EX_OK;
}

/* ---- OpenDocument ---- */

static int odf_text(ex_ctx *c, zip_t *z, size_t n, zip_int64_t content)
{
	zip_int64_t man = zip_name_locate(z, "META-INF/manifest.xml", 0);
	if (man >= 0) {
		ms_buf b = MS_BUF_INIT;
		uint64_t max = c->zip_max;
		c->zip_max = c->zip_used + MANIFEST_MAX;
		int code = load_member(c, z, (zip_uint64_t)man, n, &b);
		c->zip_max = max;
		int enc = b.data && strstr(b.data, "encryption-data");
		ms_buf_free(&b);
		if (enc)
			return ex_reason(c, EX_ENC, "encrypted OpenDocument");
		if (code != EX_OK)
			return code;
	}
	return walk_member(c, z, (zip_uint64_t)content, n, MS_XMLTEXT_ODF);
}

/* ---- plain ZIP ---- */

/* The format of a member by its name: a known format, "text", or NULL. */
static const char *member_format(const char *name)
{
	static const char *const text_exts[] = { "txt", "csv", "ics", "md",
						 "log", "tsv", NULL };
	int legacy;
	const char *f = ms_extract_format(NULL, name, NULL, 0, &legacy);
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; !f && dot && text_exts[i]; i++)
		if (strcasecmp(dot + 1, text_exts[i]) == 0)
			f = "text";
	return f;
}

/* Extracts one member of a plain ZIP; EX_OK also when skipped. */
static int plain_member(ex_ctx *c, zip_t *z, zip_uint64_t i, size_t n,
			unsigned depth)
{
	const char *name = zip_get_name(z, i, 0);
	const char *fmt = name ? member_format(name) : NULL;
	if (!fmt)
		return EX_OK;
	ms_buf b = MS_BUF_INIT;
	int code = load_member(c, z, i, n, &b);
	if (code == EX_OK) {
		ex_put(c, name, strlen(name));
		ex_put(c, "\n", 1);
		code = c->dispatch(c, fmt, b.data ? b.data : "", b.len,
				   depth + 1);
	}
	ms_buf_free(&b);
	return code;
}

/* Every member: text kept even when some fail; a bomb stops it all. */
static int plain_zip(ex_ctx *c, zip_t *z, size_t n, unsigned depth)
{
	zip_int64_t ne = zip_get_num_entries(z, 0);
	size_t start = c->out.len;
	int worst = EX_OK;
	char why[sizeof c->reason] = "";
	if (ne > MAX_ENTRIES)
		return ex_reason(c, EX_FAIL, "over %d ZIP members",
				 MAX_ENTRIES);
	for (zip_int64_t i = 0; i < ne && !ex_full(c); i++) {
		int code = plain_member(c, z, (zip_uint64_t)i, n, depth);
		if (code == EX_OK)
			continue;
		if (strncmp(c->reason, "zip bomb", 8) == 0)
			return code;
		if (worst == EX_OK || code == EX_FAIL) {
			worst = code;
			memcpy(why, c->reason, sizeof why);
		}
	}
	if (c->out.len > start || worst == EX_OK)
		return EX_OK;
	memcpy(c->reason, why, sizeof why);
	return worst;
}

/* ---- legacy OLE (CFB) files: encrypted OOXML lives in one too ---- */

static int ole_check(ex_ctx *c, const char *data, size_t n)
{
	static const char name[] = "E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0"
				   "g\0e\0";
	if (memmem(data, n, name, sizeof name - 1))
		return ex_reason(c, EX_ENC, "encrypted Office document");
	return ex_reason(c, EX_FAIL,
			 "legacy Office (OLE) file: no extractor for it");
}

int ex_zip(ex_ctx *c, const char *fmt, const char *data, size_t n,
	   unsigned depth)
{
	static const char ole[] = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
	if (n >= 8 && memcmp(data, ole, 8) == 0)
		return ole_check(c, data, n);
	zip_t *z;
	int code = open_zip(c, data, n, &z);
	if (code != EX_OK)
		return code;
	zip_int64_t content = zip_name_locate(z, "content.xml", 0);
	const ooxml_kind *k = NULL;
	for (size_t i = 0; i < sizeof ooxml / sizeof *ooxml; i++)
		if (zip_name_locate(z, ooxml[i].probe, 0) >= 0)
			k = &ooxml[i];
	if (k)
		code = ooxml_text(c, z, n, k);
	else if (content >= 0)
		code = odf_text(c, z, n, content);
	else if (strcmp(fmt, "zip") != 0)
		code = ex_reason(c, EX_FAIL, "ZIP without %s parts", fmt);
	else if (depth >= c->zip_depth)
		code = EX_OK; /* nested deeper than zip_depth: not opened */
	else
		code = plain_zip(c, z, n, depth);
	zip_discard(z);
	return code;
}
