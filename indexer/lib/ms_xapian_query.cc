/* ms_xapian_query.cc - translates a query tree (ms_query.h) into a
 * Xapian::Query, in this one place, using the field table of ms_schema.h.
 *
 * Functions (C++ only, used by ms_xapian.cc): ms_xquery_build,
 * ms_xterm_clip.
 *   WORDS   one term -> prefix+term; several -> OP_PHRASE (window n)
 *   PREFIX  OP_WILDCARD on prefix+term, at most WILDCARD_MAX expansions
 *   EXACT   prefix + folded value; "id" also matches the Message-ID term
 *   RANGE   OP_VALUE_RANGE / _GE / _LE on the field's slot
 *   AND     OP_AND, NOT kids become AND_NOT; OR -> OP_OR
 *   NOT     MatchAll AND_NOT kid; ALL -> MatchAll
 * Free text (field NULL) ORs the node over every freetext field.
 * Diagnostics: a malformed tree throws Xapian::InvalidArgumentError;
 * running out of memory throws std::bad_alloc (mapped by the caller).
 */
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <xapian.h>

extern "C" { /* these C headers have no C++ guards of their own */
#include "ms_buf.h"
#include "ms_query.h"
#include "ms_schema.h"
#include "ms_token.h"
}

using Xapian::Query;

/* Longest term glass accepts (bytes, prefix included). */
static const size_t TERM_MAX = 245;
/* Most terms one wildcard may expand to. */
static const Xapian::termcount WILDCARD_MAX = 10000;
/* Deepest tree translated (guards the recursion). */
static const int DEPTH_MAX = 1000;

void ms_xterm_clip(std::string &t);
Query ms_xquery_build(const ms_qnode *q);

/* Truncates t to TERM_MAX bytes without splitting a UTF-8 character. */
void ms_xterm_clip(std::string &t)
{
	if (t.size() <= TERM_MAX)
		return;
	size_t n = TERM_MAX;
	while (n > 0 && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80)
		n--;
	t.resize(n);
}

static std::string make_term(const char *prefix, const char *word)
{
	std::string t(prefix);
	t += word;
	ms_xterm_clip(t);
	return t;
}

static void invalid(const char *what)
{
	throw Xapian::InvalidArgumentError(what);
}

/* Folds s the way the archive folds exact values (ms_token_fold). */
static std::string fold(const char *s)
{
	ms_buf b = MS_BUF_INIT;
	if (ms_token_fold(s, strlen(s), &b) != 0) {
		ms_buf_free(&b);
		throw std::bad_alloc();
	}
	std::string r;
	try {
		r.assign(b.data ? b.data : "", b.len);
	} catch (...) {
		ms_buf_free(&b);
		throw;
	}
	ms_buf_free(&b);
	return r;
}

/* The field's term prefix; fields without terms (RANGE) are an error. */
static const char *prefix_of(const ms_field &f)
{
	if (!f.prefix)
		invalid("field has no terms");
	return f.prefix;
}

static Query words_in(const ms_field &f, const ms_qnode *q)
{
	const char *prefix = prefix_of(f);
	if (q->n_terms == 1)
		return Query(make_term(prefix, q->terms[0]));
	std::vector<Query> v;
	v.reserve(q->n_terms);
	for (size_t i = 0; i < q->n_terms; i++)
		v.emplace_back(make_term(prefix, q->terms[i]));
	return Query(Query::OP_PHRASE, v.begin(), v.end(),
		     static_cast<Xapian::termcount>(q->n_terms));
}

static Query prefix_in(const ms_field &f, const ms_qnode *q)
{
	std::string pattern = make_term(prefix_of(f), q->terms[0]);
	if (pattern.empty()) /* every term: every document */
		return Query::MatchAll;
	return Query(Query::OP_WILDCARD, pattern, WILDCARD_MAX,
		     Query::WILDCARD_LIMIT_MOST_FREQUENT);
}

/* Applies make to q's field, or ORs it over every freetext field. */
template <typename F> static Query per_field(const ms_qnode *q, F make)
{
	if (!q->terms || q->n_terms == 0)
		invalid("query node without terms");
	if (q->field)
		return make(*q->field, q);
	std::vector<Query> v;
	for (const ms_field *f = ms_schema_fields(); f->name; f++)
		if (f->freetext)
			v.push_back(make(*f, q));
	return Query(Query::OP_OR, v.begin(), v.end());
}

/* "id:x" matches the archive id (folded) or the Message-ID (as typed,
 * without surrounding <>). */
static Query exact_id(const char *value)
{
	std::string mid(value);
	if (mid.size() >= 2 && mid.front() == '<' && mid.back() == '>')
		mid = mid.substr(1, mid.size() - 2);
	std::string id = make_term(MS_PREFIX_ID, fold(value).c_str());
	return Query(Query::OP_OR, Query(id),
		     Query(make_term(MS_PREFIX_MSGID, mid.c_str())));
}

static Query exact(const ms_qnode *q)
{
	if (!q->field || !q->value)
		invalid("exact query needs a field and a value");
	const char *prefix = prefix_of(*q->field);
	if (strcmp(prefix, MS_PREFIX_ID) == 0)
		return exact_id(q->value);
	return Query(make_term(prefix, fold(q->value).c_str()));
}

static Query range(const ms_qnode *q)
{
	if (!q->field || q->field->slot < 0)
		invalid("range query on a field without a value slot");
	Xapian::valueno slot = static_cast<Xapian::valueno>(q->field->slot);
	bool lo_open = q->lo == INT64_MIN, hi_open = q->hi == INT64_MAX;
	std::string lo = Xapian::sortable_serialise(static_cast<double>(q->lo));
	std::string hi = Xapian::sortable_serialise(static_cast<double>(q->hi));
	if (lo_open && hi_open)
		return Query::MatchAll;
	if (lo_open)
		return Query(Query::OP_VALUE_LE, slot, hi);
	if (hi_open)
		return Query(Query::OP_VALUE_GE, slot, lo);
	if (q->lo > q->hi)
		return Query::MatchNothing;
	return Query(Query::OP_VALUE_RANGE, slot, lo, hi);
}

static Query build(const ms_qnode *q, int depth);

static const ms_qnode *not_kid(const ms_qnode *q)
{
	if (q->n_kids != 1 || !q->kids || !q->kids[0])
		invalid("NOT needs exactly one operand");
	return q->kids[0];
}

/* AND: the positive kids ANDed, minus the OR of the negated ones. */
static Query and_of(const ms_qnode *q, int depth)
{
	std::vector<Query> pos, neg;
	for (size_t i = 0; i < q->n_kids; i++) {
		const ms_qnode *k = q->kids[i];
		if (!k)
			invalid("missing operand");
		if (k->type == MS_Q_NOT)
			neg.push_back(build(not_kid(k), depth + 1));
		else
			pos.push_back(build(k, depth + 1));
	}
	Query r = pos.empty() ? Query::MatchAll
			      : Query(Query::OP_AND, pos.begin(), pos.end());
	if (neg.empty())
		return r;
	return Query(Query::OP_AND_NOT, r,
		     Query(Query::OP_OR, neg.begin(), neg.end()));
}

static Query or_of(const ms_qnode *q, int depth)
{
	std::vector<Query> v;
	for (size_t i = 0; i < q->n_kids; i++) {
		if (!q->kids[i])
			invalid("missing operand");
		v.push_back(build(q->kids[i], depth + 1));
	}
	return Query(Query::OP_OR, v.begin(), v.end());
}

static Query build(const ms_qnode *q, int depth)
{
	if (!q)
		invalid("missing query");
	if (depth > DEPTH_MAX)
		invalid("query nested too deeply");
	switch (q->type) {
	case MS_Q_ALL:
		return Query::MatchAll;
	case MS_Q_AND:
		return and_of(q, depth);
	case MS_Q_OR:
		return or_of(q, depth);
	case MS_Q_NOT:
		return Query(Query::OP_AND_NOT, Query::MatchAll,
			     build(not_kid(q), depth + 1));
	case MS_Q_WORDS:
		return per_field(q, words_in);
	case MS_Q_PREFIX:
		return per_field(q, prefix_in);
	case MS_Q_EXACT:
		return exact(q);
	case MS_Q_RANGE:
		return range(q);
	}
	invalid("unknown query node type");
	return Query::MatchNothing;
}

/* Translates the tree at q (borrowed). Throws (see the file comment). */
Query ms_xquery_build(const ms_qnode *q)
{
	return build(q, 0);
}
