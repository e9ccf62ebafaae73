/* fts-mailsift-lexicon.c - the distinct words of one field of a mailbox
 * database, in memory: the small index over words that answers "which
 * indexed words contain this string" without an n-gram index on disk.
 *
 * Functions: fts_mailsift_lexicon_get, fts_mailsift_lexicon_match,
 * fts_mailsift_lexicon_cost, fts_mailsift_lexicon_cache_free.
 *
 * A lexicon holds the field's terms (read once with msx_terms, no posting
 * lists), their runs (fts-mailsift-terms.h) in one buffer separated by
 * '\n', and an index of byte pairs: a key's run is looked for (memmem)
 * only in the runs that contain its rarest byte pair. Lexicons
 * are cached per backend (that is, per IMAP session) by mailbox GUID, field and
 * database revision: a commit makes the next lookup read the words again.
 * Ownership: the cache owns every lexicon; a lexicon returned by
 * fts_mailsift_lexicon_get is valid until the next call.
 */
#include "fts-mailsift-plugin.h"

#include "array.h"
#include "buffer.h"
#include "mail-namespace.h"
#include "mail-user.h"

#define LEX_CACHE 8

struct msf_lexicon {
	char *key; /* "guid/prefix" */
	uint64_t rev;
	buffer_t *raw;		 /* terms, NUL-terminated */
	ARRAY(uint32_t) raw_off; /* start of each term in raw */
	buffer_t *runs;		 /* "\n" run "\n" run ... "\n" */
	ARRAY(uint32_t) run_off; /* start of each run in runs */
	size_t skip; /* bytes of each term before the word ("H", TEXT's
			header values: the word is "name:run", so a
			key's run - never with ':' - matches names too) */
	/* byte pairs: the runs containing pair p are
	   pair_runs[pair_start[p] .. pair_start[p + 1]) */
	uint32_t *pair_start; /* PAIRS + 1 entries */
	uint32_t *pair_runs;
	/* the field has too many distinct runs to hold in memory: keys are
	   matched by reading its terms from the database each time */
	bool streaming;
	char *prefix;
	/* bytes of terms and runs held at most (mailsift_lexicon_max; with
	   offsets and the pair index about three times as much memory) */
	size_t max;
};

#define PAIRS 65536

struct lex_cache {
	struct msf_lexicon *lex[LEX_CACHE];
	unsigned int next;
};

static void lexicon_free(struct msf_lexicon **_lex)
{
	struct msf_lexicon *lex = *_lex;

	if (lex == NULL)
		return;
	*_lex = NULL;
	buffer_free(&lex->raw);
	buffer_free(&lex->runs);
	i_free(lex->pair_start);
	i_free(lex->pair_runs);
	i_free(lex->prefix);
	array_free(&lex->raw_off);
	array_free(&lex->run_off);
	i_free(lex->key);
	i_free(lex);
}

/* The run of term (after the field prefix). FALSE if it has none. */
static bool term_run(const struct msf_lexicon *lex, const char *term,
		     size_t len, const char **w_r, size_t *wlen_r)
{
	if (len <= lex->skip)
		return FALSE;
	*w_r = term + lex->skip;
	*wlen_r = len - lex->skip;
	return TRUE;
}

static int lexicon_add(const char *term, size_t len, void *ctx)
{
	struct msf_lexicon *lex = ctx;
	const char *w;
	size_t wlen;
	uint32_t off;

	if (!term_run(lex, term, len, &w, &wlen))
		return 0;
	if (lex->raw->used + lex->runs->used + len > lex->max) {
		lex->streaming = TRUE;
		return 1; /* stop */
	}
	off = lex->raw->used;
	array_push_back(&lex->raw_off, &off);
	buffer_append(lex->raw, term, len);
	buffer_append_c(lex->raw, '\0');
	off = lex->runs->used;
	array_push_back(&lex->run_off, &off);
	buffer_append(lex->runs, w, wlen);
	buffer_append_c(lex->runs, '\n');
	return 0;
}

/* Calls fn(pair, run) once for each distinct byte pair of each run. */
static void pairs_each(struct msf_lexicon *lex,
		       void (*fn)(struct msf_lexicon *, unsigned int, uint32_t,
				  uint32_t *),
		       uint32_t *aux)
{
	const unsigned char *r = lex->runs->data;
	const uint32_t *off;
	unsigned int n, i;

	off = array_get(&lex->run_off, &n);
	for (i = 0; i < n; i++) {
		for (uint32_t j = off[i]; r[j] != '\n' && r[j + 1] != '\n'; j++)
			fn(lex, (unsigned int)r[j] << 8 | r[j + 1], i, aux);
	}
}

static void pair_count(struct msf_lexicon *lex, unsigned int pair, uint32_t run,
		       uint32_t *last)
{
	if (last[pair] != run + 1) { /* once per run */
		last[pair] = run + 1;
		lex->pair_start[pair + 1]++;
	}
}

static void pair_fill(struct msf_lexicon *lex, unsigned int pair, uint32_t run,
		      uint32_t *fill)
{
	uint32_t at = fill[pair];

	if (at > lex->pair_start[pair] && lex->pair_runs[at - 1] == run)
		return;
	lex->pair_runs[at] = run;
	fill[pair] = at + 1;
}

/* The byte-pair index: a key of two bytes or more is looked for only in
 * the runs that have its rarest pair. */
static void pairs_build(struct msf_lexicon *lex)
{
	uint32_t *aux = i_new(uint32_t, PAIRS);

	lex->pair_start = i_new(uint32_t, PAIRS + 1);
	pairs_each(lex, pair_count, aux);
	for (unsigned int p = 0; p < PAIRS; p++)
		lex->pair_start[p + 1] += lex->pair_start[p];
	lex->pair_runs = i_new(uint32_t, lex->pair_start[PAIRS] + 1);
	memcpy(aux, lex->pair_start, PAIRS * sizeof(*aux));
	pairs_each(lex, pair_fill, aux);
	i_free(aux);
}

static struct msf_lexicon *lexicon_read(msx_db *db, const char *key,
					const char *prefix, uint64_t rev,
					size_t max)
{
	struct msf_lexicon *lex = i_new(struct msf_lexicon, 1);

	lex->max = max;
	lex->key = i_strdup(key);
	lex->rev = rev;
	lex->raw = buffer_create_dynamic(default_pool, 65536);
	lex->runs = buffer_create_dynamic(default_pool, 65536);
	i_array_init(&lex->raw_off, 4096);
	i_array_init(&lex->run_off, 4096);
	lex->skip = strlen(prefix);
	buffer_append_c(lex->runs, '\n');
	lex->prefix = i_strdup(prefix);
	if (msx_terms(db, prefix, lexicon_add, lex) != MSX_OK) {
		lexicon_free(&lex);
		return NULL;
	}
	if (lex->streaming) { /* keep only what streaming needs */
		buffer_set_used_size(lex->raw, 0);
		buffer_set_used_size(lex->runs, 0);
		array_clear(&lex->raw_off);
		array_clear(&lex->run_off);
		return lex;
	}
	pairs_build(lex);
	return lex;
}

int fts_mailsift_lexicon_get(struct mailsift_fts_backend *b, const char *guid,
			     msx_db *db, const char *prefix,
			     struct msf_lexicon **lex_r)
{
	struct lex_cache *c = b->lexicons;
	const char *key = t_strconcat(guid, "/", prefix, NULL);
	uint64_t rev;
	unsigned int i;

	*lex_r = NULL;
	if (msx_revision(db, &rev) != MSX_OK)
		return -1;
	if (c == NULL)
		c = b->lexicons = i_new(struct lex_cache, 1);
	for (i = 0; i < LEX_CACHE; i++) {
		struct msf_lexicon *lex = c->lex[i];
		if (lex != NULL && strcmp(lex->key, key) == 0) {
			if (lex->rev == rev) {
				*lex_r = lex;
				return 0;
			}
			lexicon_free(&c->lex[i]);
			break;
		}
	}
	if (i == LEX_CACHE) {
		i = c->next;
		c->next = (c->next + 1) % LEX_CACHE;
		lexicon_free(&c->lex[i]);
	}
	c->lex[i] = lexicon_read(db, key, prefix, rev, b->set.lexicon_max);
	if (c->lex[i] != NULL && c->lex[i]->streaming)
		e_debug(b->backend.ns->user->event,
			FTS_MAILSIFT_LOG
			"%s: field %s over mailsift_lexicon_max: "
			"its words are read from the index per key",
			guid, prefix);
	*lex_r = c->lex[i];
	return *lex_r == NULL ? -1 : 0;
}

/* Index of the run that covers offset off of lex->runs. */
static unsigned int word_at(const struct msf_lexicon *lex, uint32_t off)
{
	const uint32_t *starts;
	unsigned int n, lo = 0, hi;

	starts = array_get(&lex->run_off, &n);
	hi = n;
	while (hi - lo > 1) {
		unsigned int mid = (lo + hi) / 2;
		if (starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int match_run(const struct msf_lexicon *lex, unsigned int i,
		     const char *w, size_t wlen, msf_term_fn *fn, void *ctx)
{
	const uint32_t *run_off = array_front(&lex->run_off);
	const uint32_t *raw_off = array_front(&lex->raw_off);
	const char *run = (const char *)lex->runs->data + run_off[i];
	const char *nl = strchr(run, '\n');
	const char *term = (const char *)lex->raw->data + raw_off[i];

	if (memmem(run, (size_t)(nl - run), w, wlen) == NULL)
		return 0;
	return fn(term, strlen(term), ctx);
}

/* Keys of one byte: one memmem over all runs. */
static void match_all(const struct msf_lexicon *lex, const char *w, size_t wlen,
		      msf_term_fn *fn, void *ctx)
{
	const char *buf = lex->runs->data, *end = buf + lex->runs->used;
	const char *p = buf + 1;

	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), w, wlen);
		if (hit == NULL)
			break;
		if (match_run(lex, word_at(lex, (uint32_t)(hit - buf)), w, wlen,
			      fn, ctx) < 0)
			return;
		p = memchr(hit, '\n', (size_t)(end - hit)); /* next run */
		if (p == NULL)
			break;
		p++;
	}
}

struct stream_ctx {
	const struct msf_lexicon *lex;
	const char *w;
	msf_term_fn *fn;
	void *ctx;
	int ret;
};

static int stream_term(const char *term, size_t len, void *vctx)
{
	struct stream_ctx *s = vctx;
	const char *run;
	size_t rlen;

	if (!term_run(s->lex, term, len, &run, &rlen) ||
	    memmem(run, rlen, s->w, strlen(s->w)) == NULL)
		return 0;
	T_BEGIN
	{
		s->ret = s->fn(t_strndup(term, len), len, s->ctx);
	}
	T_END;
	return s->ret < 0 ? 1 : 0;
}

/* A field too big for memory: its terms are read again for each key. */
static int match_streaming(const struct msf_lexicon *lex, msx_db *db,
			   const char *w, msf_term_fn *fn, void *ctx)
{
	struct stream_ctx s = { lex, w, fn, ctx, 0 };

	if (msx_terms(db, lex->prefix, stream_term, &s) != MSX_OK)
		return -1;
	return s.ret;
}

/* The pair of key w (two bytes or more) held by the fewest runs. */
static unsigned int rarest_pair(const struct msf_lexicon *lex, const char *w,
				size_t wlen)
{
	const unsigned char *k = (const unsigned char *)w;
	unsigned int best = 0, pair;
	uint32_t n, best_n = UINT32_MAX;

	for (size_t j = 0; j + 1 < wlen; j++) {
		pair = (unsigned int)k[j] << 8 | k[j + 1];
		n = lex->pair_start[pair + 1] - lex->pair_start[pair];
		if (n < best_n) {
			best_n = n;
			best = pair;
		}
	}
	return best;
}

uint64_t fts_mailsift_lexicon_cost(const struct msf_lexicon *lex, const char *w)
{
	size_t wlen = strlen(w);
	unsigned int best;

	if (lex->streaming)
		return UINT32_MAX; /* every term read, whatever w is */
	if (array_count(&lex->raw_off) == 0 || wlen == 0)
		return 0;
	if (wlen == 1)
		return array_count(&lex->run_off);
	best = rarest_pair(lex, w, wlen);
	return lex->pair_start[best + 1] - lex->pair_start[best];
}

int fts_mailsift_lexicon_match(const struct msf_lexicon *lex, msx_db *db,
			       const char *w, msf_term_fn *fn, void *ctx)
{
	size_t wlen = strlen(w);
	unsigned int best;

	if (lex->streaming)
		return match_streaming(lex, db, w, fn, ctx);
	if (array_count(&lex->raw_off) == 0 || wlen == 0)
		return 0;
	if (wlen == 1) {
		match_all(lex, w, wlen, fn, ctx);
		return 0;
	}
	best = rarest_pair(lex, w, wlen);
	for (uint32_t i = lex->pair_start[best]; i < lex->pair_start[best + 1];
	     i++) {
		if (match_run(lex, lex->pair_runs[i], w, wlen, fn, ctx) < 0)
			return -1;
	}
	return 0;
}

void fts_mailsift_lexicon_cache_free(struct mailsift_fts_backend *b)
{
	struct lex_cache *c = b->lexicons;

	if (c == NULL)
		return;
	for (unsigned int i = 0; i < LEX_CACHE; i++)
		lexicon_free(&c->lex[i]);
	i_free(b->lexicons);
}
