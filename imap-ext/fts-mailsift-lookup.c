/* fts-mailsift-lookup.c - IMAP SEARCH through the mailsift index.
 *
 * Functions: fts_mailsift_lookup, fts_mailsift_lookup_multi.
 *
 * RFC 3501 substring semantics in Dovecot's own normalisation (see
 * fts-mailsift-terms.h): a key is cut into runs; a message can match only
 * if each run is contained in some run of the field (found in the field's
 * lexicon, fts-mailsift-lexicon.c; a one-character run through the
 * character terms) or the field was cut ("L"). A key that is exactly one
 * run matches every such message for sure: those are definite_uids. The
 * other candidates of a BODY or TEXT key (several runs, punctuation, no
 * run at all: then every indexed message) are checked against the key in
 * their stored text (fts-mailsift-text.h): found is definite, not found
 * is dropped. What stays maybe_uids (other keys of several runs, messages
 * without stored text) Dovecot verifies by reading the messages. NOT
 * turns a result around within the indexed UIDs: definite where the key
 * surely does not occur, maybe where it might.
 *
 * Work per key is bounded: of a key's distinct runs, at most
 * mailsift_key_runs (default 8) are looked up, the cheapest first (the
 * fewest lexicon runs to search: usually the rarest), and none after the
 * candidates ran out; the candidates of those runs are a superset of the
 * key's matches, and Dovecot verifies them against the whole key. So a
 * literal of 12,000 words costs a few lexicon scans, not 12,000. The
 * summary debug line of each lookup counts the args answered, the runs
 * looked up and the posting lists read.
 *
 * Args answered (match_always set): BODY, TEXT, SUBJECT, HEADER with a
 * non-empty key, FROM/TO/CC/BCC, negated or not; not FUZZY. Several args
 * are intersected (AND) or united (OR); an arg left unanswered is not
 * flagged, so Dovecot evaluates it itself for every message.
 */
#include "fts-mailsift-plugin.h"

#include "array.h"
#include "mail-search.h"
#include "mail-storage-private.h"
#include "seq-range-array.h"
#include "str.h"

#define LOOKUP_TRIES 5 /* reopens after DatabaseModifiedError */

struct arg_fields {
	const char *fields[5]; /* NULL-terminated */
	const char *mark;      /* "L" term of the field */
	const char *values;    /* "=" field of whole values, or NULL */
	char text; /* candidates checked in the stored text: 'B' BODY, 'T'
		      TEXT, '\0' not */
	const char *chars[3]; /* fields with character terms, NULL-ended */
};

struct lookup {
	struct mailsift_fts_backend *b;
	struct mailbox *box;
	const char *guid;
	msx_db *db;
	uint32_t last_uid; /* UIDs 1..last_uid are indexed */
	uint64_t *hits;	   /* postings read: bitmap of 0..last_uid */
	int ret;
	/* work done: args answered, runs looked up, posting lists read,
	   stored texts checked */
	unsigned int args, runs, lists, checked;
	struct msf_text_codec *codec; /* for the stored texts, made on use */
};

struct arg_result {
	ARRAY_TYPE(seq_range) definite, cand;
};

/* Postings are gathered in a bitmap of UIDs 1..last_uid (thousands of
 * posting lists may be read for one key; postings never exceed the last
 * indexed UID) and turned into ranges once. */
static void add_uid(uint32_t uid, void *ctx)
{
	struct lookup *l = ctx;

	if (uid <= l->last_uid)
		l->hits[uid / 64] |= (uint64_t)1 << (uid % 64);
}

/* Moves the gathered UIDs into uids (merged) and clears them. */
static void hits_to(struct lookup *l, ARRAY_TYPE(seq_range) * uids)
{
	size_t words = l->last_uid / 64 + 1;
	uint32_t first = 0, uid;

	for (size_t w = 0; w < words; w++) {
		if (l->hits[w] == 0 && first == 0)
			continue;
		for (unsigned int bit = 0; bit < 64; bit++) {
			uid = (uint32_t)(w * 64 + bit);
			bool set = (l->hits[w] >> bit) & 1;
			if (set && first == 0)
				first = uid;
			else if (!set && first != 0) {
				seq_range_array_add_range(uids, first, uid - 1);
				first = 0;
			}
		}
		l->hits[w] = 0;
	}
	if (first != 0)
		seq_range_array_add_range(uids, first, l->last_uid);
}

static int postings(const char *term, size_t len, void *ctx)
{
	struct lookup *l = ctx;

	l->lists++;
	if (msx_postlist(l->db, term, len, add_uid, l) != MSX_OK) {
		l->ret = -1;
		return -1;
	}
	return 0;
}

/* Gathers the messages with a run of field containing w. */
static int scan(struct lookup *l, const char *field, const char *w)
{
	struct msf_lexicon *lex;

	if (fts_mailsift_lexicon_get(l->b, l->guid, l->db, field, &lex) < 0)
		return l->ret = -1;
	if (fts_mailsift_lexicon_match(lex, l->db, w, postings, l) < 0)
		l->ret = -1;
	return l->ret;
}

static int char_postings(struct lookup *l, const char *field, char c)
{
	const char *term = t_strdup_printf("#%s%c", field, c);

	return postings(term, strlen(term), l);
}

/* Key run w is one letter or digit, looked up in character terms. */
static bool char_run(const struct arg_fields *af, const char *w)
{
	return af->chars[0] != NULL && w[0] != '\0' && w[1] == '\0' &&
	       msf_char_index(w[0]) >= 0;
}

/* Adds to uids the messages with a run of the field containing key run
 * w. */
static int run_uids(struct lookup *l, const struct arg_fields *af,
		    const char *w, ARRAY_TYPE(seq_range) * uids)
{
	const char *const *f;

	l->runs++;
	if (char_run(af, w)) {
		for (f = af->chars; *f != NULL; f++) {
			if (char_postings(l, *f, w[0]) < 0)
				return -1;
		}
	} else {
		for (f = af->fields; *f != NULL; f++) {
			if (scan(l, *f, w) < 0)
				return -1;
		}
	}
	hits_to(l, uids);
	return 0;
}

/* The fields an arg searches; FALSE if this backend leaves the arg. */
static bool arg_fields(const struct mail_search_arg *arg, struct arg_fields *af)
{
	char *f;

	i_zero(af);
	if (arg->fuzzy)
		return FALSE;
	switch (arg->type) {
	case SEARCH_BODY:
		af->fields[0] = "B";
		af->mark = "LB";
		af->chars[0] = "B";
		af->text = 'B';
		return TRUE;
	case SEARCH_TEXT:
		af->fields[0] = "B";
		af->fields[1] = "M";
		af->fields[2] = "N";
		af->fields[3] = "H";
		af->mark = "LT";
		af->chars[0] = "B";
		af->chars[1] = "T";
		af->text = 'T';
		return TRUE;
	case SEARCH_HEADER:
	case SEARCH_HEADER_ADDRESS:
	case SEARCH_HEADER_COMPRESS_LWSP:
		if (arg->hdr_field_name == NULL || *arg->value.str == '\0')
			return FALSE; /* existence checks: Dovecot's */
		f = t_malloc0(MSF_FIELD_MAX);
		msf_header_field(arg->type == SEARCH_HEADER_ADDRESS ? 'A' : 'H',
				 arg->hdr_field_name, f, MSF_FIELD_MAX);
		af->fields[0] = f;
		af->mark = t_strconcat("L", f, NULL);
		/* whole values of Subject are kept with LWSP compressed:
		   they answer HEADER Subject keys without LWSP too */
		if (f[0] == 'A' || (strcmp(f, "Hsubject:") == 0 &&
				    (arg->type == SEARCH_HEADER_COMPRESS_LWSP ||
				     strpbrk(arg->value.str, " \t") == NULL)))
			af->values = t_strconcat("=", f, NULL);
		return TRUE;
	default:
		return FALSE;
	}
}

/* NOT: within the indexed UIDs, surely true where the key surely does not
 * occur, possibly true where it is not sure to occur. */
static void negate(struct lookup *l, struct arg_result *r)
{
	ARRAY_TYPE(seq_range) def, cand;

	t_array_init(&def, 64);
	t_array_init(&cand, 64);
	if (l->last_uid > 0) {
		seq_range_array_add_range(&def, 1, l->last_uid);
		seq_range_array_add_range(&cand, 1, l->last_uid);
	}
	seq_range_array_remove_seq_range(&def, &r->cand);
	seq_range_array_remove_seq_range(&cand, &r->definite);
	array_clear(&r->definite);
	array_clear(&r->cand);
	array_append_array(&r->definite, &def);
	array_append_array(&r->cand, &cand);
}

/* A key of SUBJECT/FROM/TO/CC/BCC found in whole values: exact. 1 done,
 * 0 the key does not suit values. */
static int lookup_values(struct lookup *l, const struct arg_fields *af,
			 const char *key, struct arg_result *r)
{
	char *v;

	if (af->values == NULL || (v = msf_key_value(key)) == NULL)
		return 0;
	l->runs++;
	if (scan(l, af->values, v) == 0) {
		hits_to(l, &r->cand);
		array_append_array(&r->definite, &r->cand);
	}
	free(v);
	return 1;
}

/* cost[i]: the lexicon runs that looking runs[i] up searches, summed over
 * the arg's fields (a character term: UINT32_MAX, it narrows little). */
static int runs_cost(struct lookup *l, const struct arg_fields *af,
		     char *const *runs, int n, uint64_t *cost)
{
	struct msf_lexicon *lex;
	int i;

	for (i = 0; i < n; i++)
		cost[i] = char_run(af, runs[i]) ? UINT32_MAX : 0;
	for (const char *const *f = af->fields; *f != NULL; f++) {
		if (fts_mailsift_lexicon_get(l->b, l->guid, l->db, *f, &lex) <
		    0)
			return l->ret = -1;
		for (i = 0; i < n; i++) {
			if (!char_run(af, runs[i]))
				cost[i] +=
					fts_mailsift_lexicon_cost(lex, runs[i]);
		}
	}
	return 0;
}

/* r->cand: the messages with each of the key's cheapest distinct runs
 * (at most mailsift_key_runs of them, cheapest first, until none is
 * left); a superset of the messages with all n runs. 0 or -1. */
static int lookup_runs(struct lookup *l, const struct arg_fields *af,
		       char **runs, int n, struct arg_result *r)
{
	ARRAY_TYPE(seq_range) w_uids;
	uint64_t *cost = t_new(uint64_t, n);
	unsigned int max = l->b->set.key_runs;
	int i, d = n;

	if (n > 1 && (runs_cost(l, af, runs, n, cost) < 0 ||
		      (d = msf_runs_order(runs, cost, n)) < 0))
		return l->ret = -1;
	if ((unsigned int)d > max)
		e_debug(l->box->event,
			FTS_MAILSIFT_LOG
			"lookup: a key of %d runs (%d distinct): "
			"the %u cheapest looked up, Dovecot checks the key",
			n, d, max);
	t_array_init(&w_uids, 64);
	for (i = 0; i < d && (unsigned int)i < max; i++) {
		array_clear(&w_uids);
		if (run_uids(l, af, runs[i], &w_uids) < 0)
			return -1;
		if (i == 0)
			array_append_array(&r->cand, &w_uids);
		else
			seq_range_array_intersect(&r->cand, &w_uids);
		if (array_count(&r->cand) == 0)
			break; /* the other runs cannot add any */
	}
	return 0;
}

/* ---- candidates checked against the stored text ---- */

/* Whether the candidates of a key of af can be checked against the
 * stored text: BODY and TEXT keys without CR or LF (those may span a
 * header and the blank line after the headers, whose bytes the text does
 * not keep). */
static bool checkable(const struct arg_fields *af, const char *key)
{
	return af->text != '\0' && *key != '\0' && strpbrk(key, "\r\n") == NULL;
}

struct check {
	struct lookup *l;
	const char *key;
	size_t klen;
	bool body_only;
	ARRAY_TYPE(seq_range) found, absent;
};

static int check_one(uint32_t uid, const char *data, size_t len, void *ctx)
{
	struct check *c = ctx;
	int ret = msf_text_find(c->l->codec, data, len, c->key, c->klen,
				c->body_only);

	c->l->checked++;
	if (ret > 0)
		seq_range_array_add(&c->found, uid);
	else if (ret == 0)
		seq_range_array_add(&c->absent, uid);
	else
		e_debug(c->l->box->event,
			FTS_MAILSIFT_LOG "uid %u: stored text damaged", uid);
	return 0;
}

/* Each candidate that is not definite yet and has stored text becomes
 * definite or is dropped; the others stay maybe. */
static int check_text(struct lookup *l, const struct arg_fields *af,
		      const char *key, struct arg_result *r)
{
	ARRAY_TYPE(seq_range) todo;
	ARRAY_TYPE(uint32_t) uids;
	struct seq_range_iter iter;
	struct check c = { .l = l,
			   .key = key,
			   .klen = strlen(key),
			   .body_only = af->text == 'B' };
	unsigned int i = 0;
	uint32_t uid;

	t_array_init(&todo, 64);
	array_append_array(&todo, &r->cand);
	seq_range_array_remove_seq_range(&todo, &r->definite);
	t_array_init(&uids, seq_range_count(&todo) + 1);
	seq_range_array_iter_init(&iter, &todo);
	while (seq_range_array_iter_nth(&iter, i++, &uid))
		array_push_back(&uids, &uid);
	if (array_count(&uids) == 0)
		return 0;
	if (l->codec == NULL && (l->codec = msf_text_codec_new()) == NULL)
		i_fatal_status(FATAL_OUTOFMEM,
			       "msf_text_codec_new: out of memory");
	t_array_init(&c.found, 64);
	t_array_init(&c.absent, 64);
	if (msx_texts(l->db, array_front(&uids), array_count(&uids), check_one,
		      &c) != MSX_OK)
		return l->ret = -1;
	seq_range_array_merge(&r->definite, &c.found);
	seq_range_array_remove_seq_range(&r->cand, &c.absent);
	return 0;
}

/* Every indexed message as candidate (a key without runs). */
static int all_uids(struct lookup *l, struct arg_result *r)
{
	if (msx_each_uid(l->db, add_uid, l) != MSX_OK)
		return l->ret = -1;
	hits_to(l, &r->cand);
	return 0;
}

/* The candidates of a key of n runs (definite too if exact), with the
 * messages whose field was cut inside a run; errors in l->ret. */
static void run_candidates(struct lookup *l, const struct arg_fields *af,
			   char **runs, int n, bool exact, struct arg_result *r)
{
	(void)lookup_runs(l, af, runs, n, r);
	if (l->ret == 0 && exact)
		array_append_array(&r->definite, &r->cand);
	if (l->ret == 0)
		(void)postings(af->mark, strlen(af->mark), l);
	hits_to(l, &r->cand);
}

/* Candidates and definite matches of one arg. 1 answered, 0 left to
 * Dovecot, -1 error. */
static int lookup_arg(struct lookup *l, const struct mail_search_arg *arg,
		      struct arg_result *r)
{
	struct arg_fields af;
	const char *key;
	char **runs;
	bool exact;
	int n;

	if (!arg_fields(arg, &af))
		return 0;
	/* the FTS core hands keys over as the client sent them */
	key = fts_mailsift_dtc(arg->value.str, strlen(arg->value.str))->data;
	if ((n = msf_key_runs(key, &runs, &exact)) < 0)
		return -1;
	/* a key that is one run (of two bytes or more: a single character
	   is in most runs) is answered exactly by the runs, which are fewer
	   than the whole values */
	if ((!exact || key[1] == '\0') && lookup_values(l, &af, key, r) > 0) {
		msf_runs_free(&runs);
		if (l->ret == 0 && arg->match_not)
			negate(l, r);
		return l->ret < 0 ? -1 : 1;
	}
	if (n == 0 && !checkable(&af, key)) {
		msf_runs_free(&runs);
		return 0; /* no run ("@", "  "): nothing to narrow by */
	}
	if (n == 0)
		(void)all_uids(l, r);
	else
		run_candidates(l, &af, runs, n, exact, r);
	msf_runs_free(&runs);
	if (l->ret == 0 && checkable(&af, key))
		(void)check_text(l, &af, key, r);
	if (l->ret == 0 && arg->match_not)
		negate(l, r);
	return l->ret < 0 ? -1 : 1;
}

static void combine(struct arg_result *acc, const struct arg_result *r,
		    bool first, bool and_args)
{
	if (first) {
		array_append_array(&acc->definite, &r->definite);
		array_append_array(&acc->cand, &r->cand);
	} else if (and_args) {
		seq_range_array_intersect(&acc->definite, &r->definite);
		seq_range_array_intersect(&acc->cand, &r->cand);
	} else {
		seq_range_array_merge(&acc->definite, &r->definite);
		seq_range_array_merge(&acc->cand, &r->cand);
	}
}

static int lookup_args(struct lookup *l, struct mail_search_arg *args,
		       bool and_args, struct fts_result *result)
{
	struct arg_result acc, r;
	bool first = TRUE;
	int ret;

	t_array_init(&acc.definite, 64);
	t_array_init(&acc.cand, 64);
	t_array_init(&r.definite, 64);
	t_array_init(&r.cand, 64);
	for (; args != NULL; args = args->next) {
		array_clear(&r.definite);
		array_clear(&r.cand);
		if ((ret = lookup_arg(l, args, &r)) < 0)
			return -1;
		if (ret == 0)
			continue;
		l->args++;
		args->match_always = TRUE;
		combine(&acc, &r, first, and_args);
		first = FALSE;
	}
	array_append_array(&result->definite_uids, &acc.definite);
	seq_range_array_remove_seq_range(&acc.cand, &acc.definite);
	array_append_array(&result->maybe_uids, &acc.cand);
	return 0;
}

static int lookup_box(struct lookup *l, struct mailbox *box,
		      struct mail_search_arg *args, bool and_args,
		      struct fts_result *result)
{
	int ret;

	l->box = box;
	l->ret = 0; /* a try overtaken by a writer left -1 here */
	l->args = l->runs = l->lists = l->checked = 0;
	if (fts_mailbox_get_guid(box, &l->guid) < 0)
		return -1;
	if ((ret = fts_mailsift_db_reader(l->b, box, &l->db)) <= 0)
		return ret;
	/* another term scheme's index answers nothing until rebuilt */
	if ((ret = fts_mailsift_db_format_ok(l->db)) == 0)
		return 0;
	if (ret < 0 ||
	    fts_mailsift_db_get_u32(l->db, META_LAST_UID, &l->last_uid) < 0)
		ret = -1;
	else {
		l->hits = i_new(uint64_t, l->last_uid / 64 + 1);
		ret = lookup_args(l, args, and_args, result);
		i_free(l->hits);
		msf_text_codec_free(&l->codec);
	}
	if (ret < 0 && msx_status(l->db) == MSX_MODIFIED)
		return -2; /* overtaken by a writer: the caller retries */
	if (ret < 0) {
		fts_mailsift_error(l->b, box, "lookup: %s", msx_error(l->db));
		/* Dovecot searches without the index this time */
		fts_mailsift_db_drop_if_corrupt(l->b, box, &l->b->reader);
		return -1;
	}
	e_debug(box->event,
		FTS_MAILSIFT_LOG "lookup: %u definite, %u maybe uids, %u args, "
				 "%u runs looked up, %u posting lists, "
				 "%u texts checked",
		seq_range_count(&result->definite_uids),
		seq_range_count(&result->maybe_uids), l->args, l->runs,
		l->lists, l->checked);
	return 1;
}

int fts_mailsift_lookup(struct fts_backend *backend, struct mailbox *box,
			struct mail_search_arg *args,
			enum fts_lookup_flags flags, struct fts_result *result)
{
	struct lookup l = { .b = (struct mailsift_fts_backend *)backend };
	bool and_args = (flags & FTS_LOOKUP_FLAG_AND_ARGS) != 0;
	int ret;

	for (int tries = 0;; tries++) {
		T_BEGIN
		{
			ret = lookup_box(&l, box, args, and_args, result);
		}
		T_END;
		if (ret != -2)
			break;
		array_clear(&result->definite_uids);
		array_clear(&result->maybe_uids);
		if (tries == LOOKUP_TRIES) {
			fts_mailsift_error(l.b, box, "lookup: %s",
					   "the index kept changing");
			break;
		}
	}
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
