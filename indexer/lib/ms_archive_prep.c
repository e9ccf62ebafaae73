/* ms_archive_prep.c - preparing messages for the archive, on any thread.
 *
 * Functions: ms_archive_worker_new, ms_archive_worker_free,
 * ms_archive_prepare, ms_prep_free, ms_prep_unextracted. A worker owns what one
 * thread needs: its own store handle (the raw bytes are written here, unsynced;
 * the archive's commit syncs the file system before any shard commits) and its
 * own read-only view of the shards for the "already archived" check (with
 * the archive's key, if any, so it writes encrypted files). A
 * message's archive id is its X-Mailsift-Id when it has one, else the first
 * 24 hex digits of the SHA-256 of its bytes, so importing the same message
 * twice finds it present without parsing it again.
 */
#include "ms_archive_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_extract.h"

#define ID_HEX_LEN 24

struct ms_archive_worker {
	const ms_archive *ar;
	ms_store *store;
	ms_xdb *reader; /* opened on first use */
	int reader_failed;
};

ms_status_t ms_archive_worker_new(ms_archive *ar, ms_archive_worker **w_r)
{
	ms_archive_worker *w = calloc(1, sizeof *w);
	*w_r = NULL;
	if (!w)
		return ms_archive_fail(ar, MS_ERR_NOMEM, "out of memory");
	w->ar = ar;
	char *dir = NULL, *err = NULL;
	ms_status_t st =
		asprintf(&dir, "%s/store", ar->dir) < 0
			? MS_ERR_NOMEM
			: ms_store_open(dir, ar->opts.compression_level,
					&w->store, &err);
	if (!st && ar->has_key && (st = ms_store_set_key(w->store, ar->key)))
		ms_store_close(&w->store);
	if (st) {
		ms_archive_fail(ar, st, "%s", err ? err : ms_status_str(st));
		free(w);
	} else {
		*w_r = w;
	}
	free(dir);
	free(err);
	return st;
}

void ms_archive_worker_free(ms_archive_worker **w)
{
	if (!*w)
		return;
	ms_store_close(&(*w)->store);
	ms_xdb_close(&(*w)->reader);
	free(*w);
	*w = NULL;
}

/* Whether the message is already archived: its raw bytes are stored and a
 * committed shard has its id term. */
static int already_present(ms_archive_worker *w, const ms_prep *p)
{
	int yes = 0;
	if (ms_store_has(w->store, p->sha, &yes) || !yes)
		return 0;
	ms_buf err = MS_BUF_INIT;
	if (!w->reader && !w->reader_failed)
		w->reader_failed =
			ms_archive_open_reader(w->ar, INT64_MIN, INT64_MAX,
					       &w->reader, &err) != MS_OK;
	ms_buf_free(&err);
	if (!w->reader)
		return 0;
	char term[MS_ARCHIVE_ID_MAX + 8];
	snprintf(term, sizeof term, "%s%s", MS_PREFIX_ID, p->id);
	yes = 0;
	if (ms_xdb_has_term(w->reader, term, &yes) == MS_ERR_MODIFIED &&
	    ms_xdb_reopen(w->reader) == MS_OK)
		ms_xdb_has_term(w->reader, term, &yes);
	return yes;
}

static ms_status_t prep_fail(ms_prep *p, ms_status_t st, const char *msg)
{
	ms_buf_reset(&p->err);
	ms_buf_puts(&p->err, msg ? msg : ms_status_str(st));
	return p->st = st;
}

/* Appends s (NULL or "": dflt) with newlines made spaces (one note per
 * line). */
static void put_field(ms_buf *b, const char *s, const char *dflt)
{
	if (!s || !*s)
		s = dflt;
	for (; *s; s++)
		ms_buf_putc(b, *s == '\n' || *s == '\r' ? ' ' : *s);
}

/* Notes the attachments whose extraction failed or met a password. */
static void note_unextracted(ms_prep *p, const ms_doc *doc)
{
	ms_buf *b = &p->unextracted;
	for (size_t i = 0; i < doc->n_att; i++) {
		const ms_attachment *a = &doc->att[i];
		if (a->extracted != MS_EXTRACT_FAILED &&
		    a->extracted != MS_EXTRACT_ENCRYPTED)
			continue;
		ms_buf_puts(b, "attachment \"");
		put_field(b, a->name, "");
		ms_buf_puts(b, "\" (");
		put_field(b, a->type, "-");
		ms_buf_printf(b,
			      ", %llu bytes): no text extracted (extract:%s): ",
			      (unsigned long long)a->size,
			      ms_extract_state_name(a->extracted));
		put_field(b, a->reason, "no reason given");
		ms_buf_putc(b, '\n');
	}
}

/* Parses, builds the document and stores the raw bytes. */
static void build(ms_archive_worker *w, ms_prep *p, const char *raw, size_t len,
		  const ms_envelope *env)
{
	ms_doc *doc = NULL;
	char *why = NULL;
	if (ms_mime_parse(raw, len, &w->ar->mime, &doc, &why)) {
		prep_fail(p, MS_ERR_PARSE, why);
		free(why);
		return;
	}
	char period[MS_SHARD_NAME_MAX];
	ms_shard_name(env && env->time ? env->time : doc->date,
		      w->ar->opts.shard_by, period);
	ms_shard_label(w->ar->host, period, p->shard);
	ms_status_t st = ms_archive_build(doc, env, p->id, len, p->sha, &p->xd);
	note_unextracted(p, doc);
	ms_doc_free(&doc);
	if (st) {
		prep_fail(p, st, NULL);
		return;
	}
	if ((st = ms_store_put(w->store, p->sha, raw, len, 0)))
		prep_fail(p, st, ms_store_error(w->store));
}

ms_status_t ms_archive_prepare(ms_archive_worker *w, const char *raw,
			       size_t len, const ms_envelope *env,
			       ms_prep **prep_r)
{
	ms_prep *p = calloc(1, sizeof *p);
	if (!(*prep_r = p))
		return MS_ERR_NOMEM;
	size_t skip = ms_mime_from_line_len(raw, len);
	raw += skip;
	len -= skip;
	if (ms_sha256_hex(raw, len, p->sha)) {
		prep_fail(p, MS_ERR_CRYPTO, "SHA-256 failed");
		return MS_OK;
	}
	snprintf(p->id, sizeof p->id, "%.*s", ID_HEX_LEN, p->sha);
	if (env && env->id)
		snprintf(p->id, sizeof p->id, "%s", env->id);
	if (!(env && env->id) && already_present(w, p))
		p->present = 1;
	else
		build(w, p, raw, len, env);
	return MS_OK;
}

void ms_prep_free(ms_prep **p)
{
	if (!*p)
		return;
	ms_xdoc_free(&(*p)->xd);
	ms_buf_free(&(*p)->err);
	ms_buf_free(&(*p)->unextracted);
	free(*p);
	*p = NULL;
}

const char *ms_prep_unextracted(const ms_prep *p)
{
	return p && p->unextracted.data ? p->unextracted.data : "";
}
