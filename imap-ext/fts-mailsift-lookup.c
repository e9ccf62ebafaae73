/* fts-mailsift-lookup.c - IMAP SEARCH through the mailsift index.
 *
 * Functions: fts_mailsift_lookup, fts_mailsift_lookup_multi.
 *
 * RFC 3501 substring semantics without an n-gram index: a search string
 * is split into words the way the text was; a message can match only if,
 * for every word, some indexed word of the field CONTAINS it (found by
 * scanning the field's distinct terms, one mailbox database at a time),
 * or the field had a word too long to index ("L" terms). The intersection
 * of those messages is returned as maybe_uids: a superset that Dovecot
 * verifies by reading the messages, so nothing is missed and nothing is
 * claimed that the index cannot prove (this version never returns
 * definite_uids).
 *
 * Args answered (match_always set): BODY, TEXT, SUBJECT / HEADER name
 * with a non-empty string, FROM/TO/CC/BCC; not negated, not FUZZY (those,
 * OR/SUB groups and everything else are left for Dovecot, which is always
 * correct). Several answered args are intersected (AND) or united (OR) as
 * the lookup flags say.
 */
#include "fts-mailsift-plugin.h"

#include "array.h"
#include "mail-search.h"
#include "mail-storage-private.h"
#include "seq-range-array.h"

#include "fts-mailsift-terms.h"

struct scan_ctx {
	const char *word; /* loose search word */
	size_t plen;	  /* length of the field prefix to skip */
	bool any_header;  /* prefix "H": skip up to ':' */
	ARRAY_TYPE(seq_range) * uids;
};

static int want_term(const char *term, size_t len, void *vctx)
{
	struct scan_ctx *s = vctx;
	const char *w = term + s->plen;
	size_t wlen = len - s->plen;

	if (s->any_header) {
		const char *colon = memchr(w, ':', wlen);
		if (colon == NULL)
			return 0;
		wlen -= colon + 1 - w;
		w = colon + 1;
	}
	return msf_term_contains(w, wlen, s->word) ? 1 : 0;
}

static int want_all(const char *term ATTR_UNUSED, size_t len ATTR_UNUSED,
		    void *ctx ATTR_UNUSED)
{
	return 1;
}

static void add_uid(uint32_t uid, void *vctx)
{
	struct scan_ctx *s = vctx;

	seq_range_array_add(s->uids, uid);
}

/* Adds to uids the messages whose field prefix may contain word. */
static int scan_field(msx_db *db, const char *prefix, const char *word,
		      ARRAY_TYPE(seq_range) * uids)
{
	struct scan_ctx s = { word, strlen(prefix), strcmp(prefix, "H") == 0,
			      uids };
	const char *mark = t_strconcat("L", prefix, NULL);

	if (msx_scan(db, prefix, want_term, add_uid, &s) != MSX_OK ||
	    msx_scan(db, mark, want_all, add_uid, &s) != MSX_OK)
		return -1;
	return 0;
}

/* The field prefixes an arg searches; NULL if this backend leaves it. */
static const char *const *arg_fields(const struct mail_search_arg *arg)
{
	static const char *const body[] = { "B", NULL };
	static const char *const text[] = { "B", "H", "N", NULL };
	const char **hdr;
	char *p;

	if (arg->match_not || arg->fuzzy)
		return NULL;
	switch (arg->type) {
	case SEARCH_BODY:
		return body;
	case SEARCH_TEXT:
		return text;
	case SEARCH_HEADER:
	case SEARCH_HEADER_ADDRESS:
	case SEARCH_HEADER_COMPRESS_LWSP:
		if (arg->hdr_field_name == NULL || *arg->value.str == '\0')
			return NULL; /* existence checks: Dovecot's */
		hdr = t_new(const char *, 2);
		p = t_malloc0(MSF_HDR_MAX + 4);
		msf_header_prefix(arg->hdr_field_name, p, MSF_HDR_MAX + 4);
		hdr[0] = p;
		return hdr;
	default:
		return NULL;
	}
}

/* Candidates of one arg into uids. 1 answered, 0 left to Dovecot, -1
 * error. */
static int lookup_arg(msx_db *db, const struct mail_search_arg *arg,
		      ARRAY_TYPE(seq_range) * uids)
{
	const char *const *fields = arg_fields(arg);
	ARRAY_TYPE(seq_range) word_uids;
	char **words;
	size_t n, i;
	int ret = 1;

	if (fields == NULL)
		return 0;
	if (msf_query_words(arg->value.str, strlen(arg->value.str), &words,
			    &n) < 0)
		return -1;
	if (n == 0) { /* no word ("@", "  "): cannot narrow */
		msf_words_free(&words);
		return 0;
	}
	t_array_init(&word_uids, 64);
	for (i = 0; i < n && ret > 0; i++) {
		array_clear(&word_uids);
		for (const char *const *f = fields; *f != NULL && ret > 0; f++)
			if (scan_field(db, *f, words[i], &word_uids) < 0)
				ret = -1;
		if (i == 0)
			array_append_array(uids, &word_uids);
		else
			seq_range_array_intersect(uids, &word_uids);
	}
	msf_words_free(&words);
	return ret;
}

static int lookup_args(struct mailsift_fts_backend *b, struct mailbox *box,
		       msx_db *db, struct mail_search_arg *args, bool and_args,
		       ARRAY_TYPE(seq_range) * result)
{
	ARRAY_TYPE(seq_range) uids;
	bool first = TRUE;
	int ret;

	t_array_init(&uids, 64);
	for (; args != NULL; args = args->next) {
		array_clear(&uids);
		ret = lookup_arg(db, args, &uids);
		if (ret < 0) {
			fts_mailsift_error(b, box, "lookup: %s", msx_error(db));
			return -1;
		}
		if (ret == 0)
			continue;
		args->match_always = TRUE;
		if (first)
			array_append_array(result, &uids);
		else if (and_args)
			seq_range_array_intersect(result, &uids);
		else
			seq_range_array_merge(result, &uids);
		first = FALSE;
	}
	return 0;
}

int fts_mailsift_lookup(struct fts_backend *backend, struct mailbox *box,
			struct mail_search_arg *args,
			enum fts_lookup_flags flags, struct fts_result *result)
{
	struct mailsift_fts_backend *b = (struct mailsift_fts_backend *)backend;
	bool and_args = (flags & FTS_LOOKUP_FLAG_AND_ARGS) != 0;
	msx_db *db;
	int ret;

	T_BEGIN
	{
		ret = fts_mailsift_db_open(b, box, FALSE, &db);
		if (ret > 0) {
			ret = lookup_args(b, box, db, args, and_args,
					  &result->maybe_uids);
			/* Dovecot searches without the index this time */
			fts_mailsift_db_drop_if_corrupt(b, box, &db);
			msx_close(&db);
			e_debug(box->event,
				FTS_MAILSIFT_LOG "lookup: %u maybe uids",
				seq_range_count(&result->maybe_uids));
		}
	}
	T_END;
	return ret < 0 ? -1 : 0;
}

int fts_mailsift_lookup_multi(struct fts_backend *backend,
			      struct mailbox *const boxes[],
			      struct mail_search_arg *args,
			      enum fts_lookup_flags flags,
			      struct fts_multi_result *result)
{
	struct fts_result *box_results;
	unsigned int i, n = str_array_length((const char *const *)boxes);

	box_results = p_new(result->pool, struct fts_result, n + 1);
	for (i = 0; i < n; i++) {
		box_results[i].box = boxes[i];
		p_array_init(&box_results[i].definite_uids, result->pool, 4);
		p_array_init(&box_results[i].maybe_uids, result->pool, 32);
		p_array_init(&box_results[i].scores, result->pool, 4);
		if (fts_mailsift_lookup(backend, boxes[i], args, flags,
					&box_results[i]) < 0)
			return -1;
	}
	result->box_results = box_results;
	return 0;
}
