/* fts-mailsift-extract.c - a message's terms, read the way Dovecot's own
 * SEARCH reads the message.
 *
 * Functions: fts_mailsift_extract, fts_mailsift_dtc.
 *
 * Dovecot's FTS core feeds a backend text that differs from what its
 * native SEARCH matches (HTML parts turned into text, address headers
 * rewritten from decoded values, MIME part headers mixed with bodies). To
 * answer exactly, the backend reads the message itself through
 * message_search_more_get_decoded() - the very decoding native SEARCH
 * uses - with a key that is never looked at: headers of every part are
 * decoded (RFC 2047), bodies of text/ and message/ parts are decoded
 * (transfer encoding and charset, HTML source as it is), other bodies are
 * skipped. Address headers get their native SEARCH FROM/TO/CC/BCC form:
 * message_address_parse(raw value, FILL_MISSING), written, then decoded.
 * Header values are indexed in the very form native SEARCH compares:
 * message_header_decode_utf8() with Dovecot's normaliser, which leaves the
 * text of an encoded word in a charset it cannot convert as it is (not
 * titlecased: "=?eucgb2312_cn?q?setting?=" is never matched by SUBJECT
 * "setting"); the terms layer keeps such lower-case letters out of runs.
 * Body text is tokenized in MSF_CHUNK steps cut at whitespace, so memory
 * stays bounded whatever the message size (invariant 5). The text native
 * SEARCH TEXT and BODY scan (each part's headers as name, middle, value,
 * CRLF, then its body, all in dtc form) is also kept whole, up to
 * MSF_TEXT_MAX bytes (fts-mailsift-text.h), except with archive reuse
 * (bodies are not read then).
 */
#include "fts-mailsift-plugin.h"

#include "istream.h"
#include "mail-storage.h"
#include "message-address.h"
#include "rfc822-parser.h"
#include "message-header-decode.h"
#include "message-parser.h"
#include "message-search.h"
#include "str.h"
#include "unichar.h"

#include "fts-mailsift-terms.h"
#include "fts-mailsift-text.h"

/* never searched for: message_search needs some key */
#define UNUSED_KEY "\001mailsift\002"

enum { F_B, F_M, F_N, F_T, F_SUBJECT, F_FROM, F_TO, F_CC, F_BCC, F_COUNT };
static const char *const field_names[F_COUNT] = {
	"B", "M", "N", "T", "Hsubject:", "Afrom:", "Ato:", "Acc:", "Abcc:"
};

struct extract {
	msf_term_fn *fn;
	void *ctx;
	struct msf_field f[F_COUNT];
	struct msf_field tmp; /* other headers */
	uint64_t hdr_bits;    /* character bits of all "H" fields (for "T") */
	bool text_marked;     /* "LT" emitted */
	struct message_part *root, *part; /* part: of the last block */
	string_t *body;
	bool body_cut; /* the pending body text starts inside a word */
	/* archive reuse: the body's words (bodies are not read), and set if
	   a part turns out not to be text/plain: the words cannot serve */
	const ARRAY_TYPE(const_string) * body_words;
	bool not_plain;
	struct msf_text *text; /* or NULL: not kept */
	int ret;
};

/* Term callback: "L" of a TEXT field also marks TEXT ("LT"). Fields
 * outside TEXT: "A..." only. */
static int put_term(const char *term, size_t len, void *vctx)
{
	struct extract *x = vctx;

	if (x->ret < 0 || x->fn(term, len, x->ctx) < 0) {
		x->ret = -1;
		return -1;
	}
	if (len > 1 && term[0] == 'L' && term[1] != 'A' && !x->text_marked) {
		x->text_marked = TRUE;
		if (x->fn("LT", 2, x->ctx) < 0)
			x->ret = -1;
	}
	return x->ret;
}

buffer_t *fts_mailsift_dtc(const char *in, size_t len)
{
	buffer_t *buf = t_buffer_create(len + 16);

	(void)uni_utf8_to_decomposed_titlecase(in, len, buf);
	buffer_append_c(buf, '\0');
	buffer_set_used_size(buf, buf->used - 1);
	return buf;
}

/* msf_norm_fn: fts_mailsift_dtc for the terms layer. */
static int dtc(const char *in, size_t len, ms_buf *out)
{
	const buffer_t *buf = fts_mailsift_dtc(in, len);

	return ms_buf_append(out, buf->data, buf->used) == MS_OK ? 0 : -1;
}

/* data[0..size) in dtc form (data stack); norm NULL: it is already. For
 * ASCII, dtc is upper-casing the letters. */
static const buffer_t *dtc_form(const void *data, size_t size,
				msf_norm_fn *norm)
{
	const unsigned char *p = data;
	buffer_t *buf;
	size_t i;

	if (norm == NULL) {
		buf = t_new(buffer_t, 1);
		buffer_create_from_const_data(buf, data, size);
		return buf;
	}
	for (i = 0; i < size && p[i] < 0x80; i++)
		;
	if (i < size)
		return fts_mailsift_dtc(data, size);
	buf = t_buffer_create(size + 1);
	for (i = 0; i < size; i++)
		buffer_append_c(buf, p[i] >= 'a' && p[i] <= 'z'
					     ? (unsigned char)(p[i] - 32)
					     : p[i]);
	return buf;
}

/* Appends data[0..size) (dtc) to the kept text, as body or header. */
static void keep(struct extract *x, bool body, const void *data, size_t size)
{
	if (x->text != NULL)
		msf_text_add(x->text, body, data, size);
}

/* Text of field f; norm NULL: data is in dtc form already. */
static void add_norm(struct extract *x, struct msf_field *f, const void *data,
		     size_t size, bool cut_before, bool cut_after,
		     msf_norm_fn *norm)
{
	if (size == 0 && !cut_before)
		return;
	T_BEGIN
	{
		if (msf_add_text(f, data, size, cut_before, cut_after, norm,
				 put_term, x) < 0)
			x->ret = -1;
	}
	T_END;
}

static void add(struct extract *x, struct msf_field *f, const void *data,
		size_t size, bool cut_before, bool cut_after)
{
	add_norm(x, f, data, size, cut_before, cut_after, dtc);
}

/* The whole value of a SUBJECT/FROM/TO/CC/BCC field ("=" terms); norm
 * NULL: data in dtc form. */
static void add_value(struct extract *x, const struct msf_field *f,
		      const void *data, size_t size, msf_norm_fn *norm)
{
	T_BEGIN
	{
		if (msf_add_value(f, data, size, norm, put_term, x) < 0)
			x->ret = -1;
	}
	T_END;
}

/* A header value native decodes to itself: ASCII without "=?". */
static bool plain_value(const unsigned char *data, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (data[i] >= 0x80 ||
		    (data[i] == '=' && i + 1 < size && data[i + 1] == '?'))
			return FALSE;
	}
	return TRUE;
}

/* Header value data[0..size) as native SEARCH compares it: RFC 2047
 * decoded through Dovecot's normaliser (data stack); *norm_r: how the
 * terms layer is to take it (plain ASCII is left as it is, for the terms
 * layer's ASCII path). */
static const buffer_t *native_value(const unsigned char *data, size_t size,
				    msf_norm_fn **norm_r)
{
	buffer_t *buf;

	*norm_r = dtc;
	if (plain_value(data, size)) {
		buf = t_new(buffer_t, 1);
		buffer_create_from_const_data(buf, data, size);
		return buf;
	}
	*norm_r = NULL;
	buf = t_buffer_create(size + 32);
	message_header_decode_utf8(data, size, buf,
				   uni_utf8_to_decomposed_titlecase);
	return buf;
}

/* ---- bodies ---- */

static void body_flush(struct extract *x, bool final)
{
	size_t len = str_len(x->body), cut = len;
	bool forced = FALSE;

	if (!final) {
		cut = msf_safe_cut(str_c(x->body), len);
		if (cut == 0) { /* no whitespace: the decoder's blocks end
				   at characters, so the whole text is cut */
			cut = len;
			forced = TRUE;
		}
	}
	T_BEGIN
	{
		const buffer_t *d = dtc_form(str_data(x->body), cut, dtc);
		keep(x, TRUE, d->data, d->used);
		add_norm(x, &x->f[F_B], d->data, d->used, x->body_cut, forced,
			 NULL);
	}
	T_END;
	x->body_cut = forced;
	str_delete(x->body, 0, cut);
}

static void body_block(struct extract *x, const struct message_block *b)
{
	str_append_data(x->body, b->data, b->size);
	if (str_len(x->body) >= MSF_CHUNK)
		body_flush(x, FALSE);
}

/* ---- headers ---- */

static struct msf_field *header_field(struct extract *x, char kind,
				      const char *name)
{
	char fname[MSF_FIELD_MAX];

	msf_header_field(kind, name, fname, sizeof(fname));
	for (int i = F_SUBJECT; i < F_COUNT; i++) {
		if (strcmp(x->f[i].name, fname) == 0)
			return &x->f[i];
	}
	msf_field_init(&x->tmp, fname, TRUE);
	return &x->tmp;
}

/* FROM/TO/CC/BCC: Dovecot's native form of the raw value. */
static void address_header(struct extract *x,
			   const struct message_header_line *raw)
{
	struct message_address *addr;
	string_t *written = t_str_new(raw->full_value_len + 32);
	const buffer_t *decoded;
	struct msf_field *f = header_field(x, 'A', raw->name);
	msf_norm_fn *norm;

	if (f == &x->tmp)
		return; /* Sender, Reply-To...: HEADER uses the "H" form */
	addr = message_address_parse(pool_datastack_create(), raw->full_value,
				     raw->full_value_len, UINT_MAX,
				     MESSAGE_ADDRESS_PARSE_FLAG_FILL_MISSING);
	message_address_write(written, addr);
	decoded = native_value(str_data(written), str_len(written), &norm);
	add_norm(x, f, decoded->data, decoded->used, FALSE, FALSE, norm);
	add_value(x, f, decoded->data, decoded->used, norm);
}

/* SUBJECT's form: LWSP runs of the raw value made one space, then
 * decoded (native SEARCH_HEADER_COMPRESS_LWSP). */
static void subject_value(struct extract *x, struct msf_field *f,
			  const struct message_header_line *raw)
{
	string_t *comp = t_str_new(raw->full_value_len);
	const buffer_t *decoded;
	msf_norm_fn *norm;
	bool prev_lwsp = TRUE;

	for (size_t i = 0; i < raw->full_value_len; i++) {
		unsigned char c = raw->full_value[i];
		bool lwsp = c == ' ' || c == '\t'; /* Dovecot's IS_LWSP */
		if (!lwsp)
			str_append_c(comp, c);
		else if (!prev_lwsp)
			str_append_c(comp, ' ');
		prev_lwsp = lwsp;
	}
	decoded = native_value(str_data(comp), str_len(comp), &norm);
	add_value(x, f, decoded->data, decoded->used, norm);
}

/* A header as TEXT scans it: name, middle, value, CRLF (dtc). */
static void keep_header(struct extract *x,
			const struct message_header_line *raw,
			const buffer_t *name, const buffer_t *value)
{
	keep(x, FALSE, name->data, name->used);
	keep(x, FALSE, raw->middle, raw->middle_len);
	keep(x, FALSE, value->data, value->used);
	if (!raw->no_newline)
		keep(x, FALSE, "\r\n", 2);
}

/* A top-level header; name and v: its name and value in dtc form. */
static void top_header(struct extract *x, const struct message_header_line *raw,
		       const struct message_header_line *hdr,
		       const buffer_t *name, const buffer_t *v)
{
	struct msf_field *f = header_field(x, 'H', hdr->name);

	/* TEXT finds the name in the "H" terms ("name:run") if there is
	   one and the field holds the whole name as it is */
	if (!msf_has_run(v->data, v->used) || hdr->name_len > MSF_HDR_MAX ||
	    !plain_value((const unsigned char *)hdr->name, hdr->name_len))
		add_norm(x, &x->f[F_N], name->data, name->used, FALSE, FALSE,
			 NULL);
	else
		msf_add_chars(&x->f[F_N], name->data, name->used);
	add_norm(x, f, v->data, v->used, FALSE, FALSE, NULL);
	x->hdr_bits |= f->bits;
	if (f == &x->f[F_SUBJECT])
		subject_value(x, f, raw);
	if (message_header_is_address(hdr->name))
		address_header(x, raw);
}

/* A transfer encoding both Dovecot and GMime decode alike. */
static bool plain_encoding(const struct message_header_line *raw)
{
	static const char *const known[] = { "7bit", "8bit", "binary",
					     "quoted-printable", "base64" };
	const char *v = t_str_trim(
		t_strndup(raw->full_value, raw->full_value_len), " \t\r\n");

	for (unsigned int i = 0; i < N_ELEMENTS(known); i++) {
		if (strcasecmp(v, known[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

/* With archive reuse: the archived body words equal the runs of the
 * bodies only if every text part is text/plain (no HTML, no message/ or
 * digest parts, no unparsable type) in a common transfer encoding. Stops
 * the reading otherwise. */
static void check_plain(struct extract *x,
			const struct message_header_line *raw)
{
	struct rfc822_parser_context parser;
	string_t *type = t_str_new(64);
	const char *t;

	if (strcasecmp(raw->name, "Content-Transfer-Encoding") == 0 &&
	    !plain_encoding(raw))
		x->not_plain = TRUE;
	if (strcasecmp(raw->name, "Content-Type") != 0) {
		if (x->not_plain)
			x->ret = -1;
		return;
	}
	rfc822_parser_init(&parser, raw->full_value, raw->full_value_len, NULL);
	rfc822_skip_lwsp(&parser);
	if (rfc822_parse_content_type(&parser, type) < 0)
		x->not_plain = TRUE;
	t = str_c(type);
	if ((strncasecmp(t, "text/", 5) == 0 &&
	     strcasecmp(t, "text/plain") != 0) ||
	    strncasecmp(t, "message/", 8) == 0 ||
	    strcasecmp(t, "multipart/digest") == 0)
		x->not_plain = TRUE;
	if (x->not_plain)
		x->ret = -1;
}

static void header_block(struct extract *x,
			 const struct message_header_line *raw,
			 const struct message_block *b)
{
	const struct message_header_line *hdr = b->hdr;
	const buffer_t *name, *v;
	msf_norm_fn *norm;

	if (hdr->eoh)
		return;
	T_BEGIN
	{
		if (x->body_words != NULL)
			check_plain(x, raw);
		/* native normalises the raw name and decodes the raw value */
		name = dtc_form(raw->name, raw->name_len, dtc);
		v = native_value(raw->full_value, raw->full_value_len, &norm);
		v = dtc_form(v->data, v->used, norm);
		keep_header(x, raw, name, v);
		if (b->part == x->root)
			top_header(x, raw, hdr, name, v);
		else {
			add_norm(x, &x->f[F_M], name->data, name->used, FALSE,
				 FALSE, NULL);
			add_norm(x, &x->f[F_M], v->data, v->used, FALSE, FALSE,
				 NULL);
		}
	}
	T_END;
}

/* ---- the message ---- */

static void block(struct extract *x, struct message_search_context *search,
		  struct message_block *raw)
{
	struct message_block b;

	if (x->root == NULL)
		x->root = raw->part;
	if (raw->part != x->part) { /* native's search starts again */
		body_flush(x, TRUE);
		x->body_cut = FALSE;
		x->part = raw->part;
		if (x->text != NULL)
			msf_text_part(x->text);
	}
	if (x->body_words != NULL && raw->hdr == NULL && raw->size > 0)
		return;
	(void)message_search_more_get_decoded(search, raw, &b);
	if (b.hdr != NULL)
		header_block(x, raw->hdr, &b);
	else if (b.size > 0)
		body_block(x, &b);
}

/* Character terms: "B", "T" for what TEXT adds to the body's (a TEXT
 * lookup unites both). SUBJECT, FROM .. BCC keys of one character are
 * answered from whole values ("="). */
static void finish(struct extract *x)
{
	struct msf_field *b = &x->f[F_B], *t = &x->f[F_T];
	const char *const *w;

	body_flush(x, TRUE);
	if (x->body_words != NULL) {
		array_foreach(x->body_words, w)
			add(x, b, *w, strlen(*w), FALSE, FALSE);
	}
	t->bits = (x->hdr_bits | x->f[F_M].bits | x->f[F_N].bits) & ~b->bits;
	if (msf_emit_chars(b, put_term, x) < 0 ||
	    msf_emit_chars(t, put_term, x) < 0)
		x->ret = -1;
}

static int parse(struct extract *x, struct istream *input, const char **error_r)
{
	const struct message_parser_settings set = {
		.hdr_flags = MESSAGE_HEADER_PARSER_FLAG_CLEAN_ONELINE,
	};
	struct message_parser_ctx *parser;
	struct message_search_context *search;
	struct message_block raw;
	struct message_part *parts;
	int ret;

	i_stream_seek(input, 0);
	parser = message_parser_init(pool_datastack_create(), input, &set);
	search = message_search_init(UNUSED_KEY, NULL, 0);
	while ((ret = message_parser_parse_next_block(parser, &raw)) > 0 &&
	       x->ret == 0)
		block(x, search, &raw);
	message_search_deinit(&search);
	message_parser_deinit(&parser, &parts);
	if (input->stream_errno != 0) {
		*error_r = i_stream_get_error(input);
		return -1;
	}
	if (x->not_plain)
		return 1;
	finish(x);
	if (x->ret < 0) {
		*error_r = "storing terms failed";
		return -1;
	}
	return 0;
}

int fts_mailsift_extract(struct mail *mail,
			 const ARRAY_TYPE(const_string) * body_words,
			 msf_term_fn *fn, void *ctx, struct msf_text *text,
			 const char **error_r)
{
	struct extract x;
	struct istream *input;
	int ret;

	i_zero(&x);
	x.fn = fn;
	x.ctx = ctx;
	x.body_words = body_words;
	x.text = body_words == NULL ? text : NULL;
	for (int i = 0; i < F_COUNT; i++)
		msf_field_init(&x.f[i], field_names[i], TRUE);
	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	x.body = str_new(default_pool, 8192);
	T_BEGIN
	{
		ret = parse(&x, input, error_r);
	}
	T_END_PASS_STR_IF(ret < 0, error_r);
	str_free(&x.body);
	return ret;
}
