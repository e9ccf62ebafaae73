/* ms_archive_doc.c - turns a parsed message (and its envelope) into the
 * archive's Xapian document: field terms from the schema table, the date
 * and size values, and the data record that search results print.
 *
 * Functions: ms_archive_build. Record keys: id mid date from to cc subj
 * size sha sender rcpts qid client verdict virus atts.
 *
 * Attachments: name, type and extracted text under attachment: (a free
 * text field), and one extract: term per attachment with its state
 * (yes, failed, encrypted, none; none is also "no").
 */
#include "ms_archive_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ms_extract.h"
#include "ms_record.h"
#include "ms_schema.h"
#include "ms_token.h"

#define RECORD_FIELD_MAX 1024 /* bytes of a header kept in the record */

static const char *prefix_of(const char *field)
{
	return ms_schema_field(field)->prefix;
}

/* Adds the whole lower-cased address as one exact term, and for an
 * address with a domain also "@domain" (prefix + "@example.org"), so that
 * from:@example.org matches that domain exactly, never a longer one. */
static ms_status_t add_addr_term(ms_xdoc *xd, const char *prefix,
				 const char *addr)
{
	ms_buf low = MS_BUF_INIT;
	ms_status_t st = ms_token_fold(addr, strlen(addr), &low)
				 ? MS_ERR_NOMEM
				 : ms_xdoc_add_term(xd, prefix,
						    low.data ? low.data : "");
	const char *at = low.data ? strrchr(low.data, '@') : NULL;
	if (!st && at && at != low.data && at[1])
		st = ms_xdoc_add_term(xd, prefix, at);
	ms_buf_free(&low);
	return st;
}

/* Indexes one address: name and address as text, address as a term. */
static ms_status_t add_addr(ms_xdoc *xd, const char *prefix, const char *name,
			    const char *addr)
{
	ms_status_t st = MS_OK;
	if (name && *name)
		st = ms_xdoc_add_text(xd, prefix, name, strlen(name));
	if (!st && addr && *addr) {
		st = ms_xdoc_add_text(xd, prefix, addr, strlen(addr));
		if (!st)
			st = add_addr_term(xd, prefix, addr);
	}
	return st;
}

static ms_status_t add_addrlist(ms_xdoc *xd, const char *field,
				const ms_addrlist *l)
{
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < l->n && !st; i++)
		st = add_addr(xd, prefix_of(field), l->v[i].name, l->v[i].addr);
	return st;
}

static ms_status_t add_text(ms_xdoc *xd, const char *field, const char *s)
{
	return s && *s ? ms_xdoc_add_text(xd, prefix_of(field), s, strlen(s))
		       : MS_OK;
}

static ms_status_t add_exact(ms_xdoc *xd, const char *field, const char *s)
{
	if (!s || !*s)
		return MS_OK;
	return add_addr_term(xd, prefix_of(field), s);
}

/* True if body is all ASCII and no run of letters and digits is longer
 * than MS_TOKEN_MAX (then the tokenizer skipped nothing). */
static int ascii_runs(const ms_buf *body)
{
	size_t run = 0;

	for (size_t i = 0; i < body->len; i++) {
		unsigned char c = (unsigned char)body->data[i];
		if (c >= 0x80)
			return 0;
		run = isalnum(c) ? run + 1 : 0;
		if (run > MS_TOKEN_MAX)
			return 0;
	}
	return 1;
}

/* An attachment's name, type, text and extraction state. */
static ms_status_t add_attachment(ms_xdoc *xd, const ms_attachment *a)
{
	const char *prefix = prefix_of("attachment");
	ms_status_t st = add_text(xd, "attachment", a->name);
	st = st ? st : add_text(xd, "attachment", a->type);
	if (!st && a->text_len)
		st = ms_xdoc_add_text(xd, prefix, a->text, a->text_len);
	st = st ? st
		: add_exact(xd, "extract",
			    ms_extract_state_name(
				    (ms_extract_state)a->extracted));
	if (!st && a->extracted == MS_EXTRACT_NONE)
		st = add_exact(xd, "extract", "no");
	return st;
}

/* Header fields of the message. */
static ms_status_t add_message_terms(ms_xdoc *xd, const ms_doc *doc)
{
	static const char *const addr_fields[MS_ADDR_N] = {
		[MS_ADDR_FROM] = "from",
		[MS_ADDR_TO] = "to",
		[MS_ADDR_CC] = "cc",
		[MS_ADDR_BCC] = "bcc",
	};
	ms_status_t st = add_text(xd, "subject", doc->subject);
	for (int i = 0; i < MS_ADDR_N && !st; i++)
		st = add_addrlist(xd, addr_fields[i], &doc->addr[i]);
	if (!st && doc->body.len)
		st = ms_xdoc_add_text(xd, prefix_of("body"), doc->body.data,
				      doc->body.len);
	for (size_t i = 0; i < doc->n_att && !st; i++)
		st = add_attachment(xd, &doc->att[i]);
	if (!st && doc->message_id)
		st = ms_xdoc_add_term(xd, MS_PREFIX_MSGID, doc->message_id);
	if (!st && doc->truncated == 0 && ascii_runs(&doc->body))
		st = ms_xdoc_add_term(xd, MS_PREFIX_TRAIT, MS_TRAIT_ASCII_RUNS);
	return st;
}

/* Envelope fields (messages that came through the milter). */
static ms_status_t add_envelope_terms(ms_xdoc *xd, const ms_envelope *env)
{
	ms_status_t st = add_addr(xd, prefix_of("sender"), NULL, env->sender);
	for (size_t i = 0; i < env->n_rcpts && !st; i++)
		st = add_addr(xd, prefix_of("rcpt"), NULL, env->rcpts[i]);
	if (!st)
		st = add_text(xd, "client", env->client);
	if (!st)
		st = add_text(xd, "virus", env->virus);
	if (!st)
		st = add_exact(xd, "verdict", env->verdict);
	if (!st)
		st = add_exact(xd, "queueid", env->queue_id);
	return st;
}

static ms_status_t put_addrs(ms_buf *rec, const char *key, const ms_addrlist *l)
{
	ms_buf s = MS_BUF_INIT;
	ms_status_t st = ms_addrlist_format(l, &s);
	if (!st)
		st = ms_record_putn(rec, key, s.data ? s.data : "",
				    s.len > RECORD_FIELD_MAX ? RECORD_FIELD_MAX
							     : s.len);
	ms_buf_free(&s);
	return st;
}

static ms_status_t put_rcpts(ms_buf *rec, const ms_envelope *env)
{
	ms_buf s = MS_BUF_INIT;
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < env->n_rcpts && !st; i++)
		st = ms_buf_printf(&s, "%s%s", i ? ", " : "", env->rcpts[i]);
	if (!st)
		st = ms_record_put(rec, "rcpts", s.data);
	ms_buf_free(&s);
	return st;
}

/* Appends s to b with tabs and line ends made spaces. */
static ms_status_t put_flat(ms_buf *b, const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max) : 0;
	size_t at = b->len;
	ms_status_t st = ms_buf_append(b, s ? s : "", n);
	for (size_t i = at; !st && i < b->len; i++)
		if (b->data[i] == '\t' || b->data[i] == '\n' ||
		    b->data[i] == '\r')
			b->data[i] = ' ';
	return st;
}

/* "atts": one line per attachment (see ms_hit.attachments). */
static ms_status_t put_atts(ms_buf *rec, const ms_doc *doc)
{
	ms_buf s = MS_BUF_INIT;
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < doc->n_att && !st; i++) {
		const ms_attachment *a = &doc->att[i];
		st = ms_buf_printf(
			&s, "%s%s\t%" PRIu64 "\t", i ? "\n" : "",
			ms_extract_state_name((ms_extract_state)a->extracted),
			a->size);
		st = st ? st : put_flat(&s, a->type, RECORD_FIELD_MAX);
		st = st ? st : ms_buf_putc(&s, '\t');
		st = st ? st : put_flat(&s, a->name, RECORD_FIELD_MAX);
		st = st ? st : ms_buf_putc(&s, '\t');
		st = st ? st : put_flat(&s, a->reason, RECORD_FIELD_MAX);
	}
	if (!st && doc->n_att)
		st = ms_record_put(rec, "atts", s.data);
	ms_buf_free(&s);
	return st;
}

static ms_status_t build_record(ms_buf *rec, const ms_doc *doc,
				const ms_envelope *env, const char *id,
				size_t size, const char *sha)
{
	char num[2][24];
	snprintf(num[0], sizeof num[0], "%" PRId64,
		 env && env->time ? env->time : doc->date);
	snprintf(num[1], sizeof num[1], "%zu", size);
	const char *subj = doc->subject ? doc->subject : "";
	ms_status_t st = ms_record_put(rec, "id", id);
	st = st ? st : ms_record_put(rec, "mid", doc->message_id);
	st = st ? st : ms_record_put(rec, "date", num[0]);
	st = st ? st : ms_record_put(rec, "size", num[1]);
	st = st ? st : ms_record_put(rec, "sha", sha);
	st = st ? st : put_addrs(rec, "from", &doc->addr[MS_ADDR_FROM]);
	st = st ? st : put_addrs(rec, "to", &doc->addr[MS_ADDR_TO]);
	st = st ? st : put_addrs(rec, "cc", &doc->addr[MS_ADDR_CC]);
	st = st ? st
		: ms_record_putn(rec, "subj", subj,
				 strnlen(subj, RECORD_FIELD_MAX));
	st = st ? st : put_atts(rec, doc);
	if (st || !env)
		return st;
	st = ms_record_put(rec, "sender", env->sender);
	st = st ? st : put_rcpts(rec, env);
	st = st ? st : ms_record_put(rec, "qid", env->queue_id);
	st = st ? st : ms_record_put(rec, "client", env->client);
	st = st ? st : ms_record_put(rec, "verdict", env->verdict);
	st = st ? st : ms_record_put(rec, "virus", env->virus);
	return st;
}

ms_status_t ms_archive_build(const ms_doc *doc, const ms_envelope *env,
			     const char *id, size_t size, const char *sha256,
			     ms_xdoc **xdoc_r)
{
	ms_xdoc *xd = ms_xdoc_new();
	ms_buf rec = MS_BUF_INIT;
	if (!xd)
		return MS_ERR_NOMEM;
	ms_status_t st = ms_xdoc_add_term(xd, MS_PREFIX_ID, id);
	st = st ? st : add_message_terms(xd, doc);
	st = st ? st : env ? add_envelope_terms(xd, env) : MS_OK;
	st = st ? st : build_record(&rec, doc, env, id, size, sha256);
	st = st ? st : ms_xdoc_set_data(xd, rec.data, rec.len);
	st = st ? st
		: ms_xdoc_set_value(
			  xd, MS_SLOT_DATE,
			  (double)(env && env->time ? env->time : doc->date));
	st = st ? st : ms_xdoc_set_value(xd, MS_SLOT_SIZE, (double)size);
	ms_buf_free(&rec);
	if (st)
		ms_xdoc_free(&xd);
	*xdoc_r = xd;
	return st;
}
