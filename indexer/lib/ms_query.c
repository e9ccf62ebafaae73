/* ms_query.c - the people's query language parsed to a tree (see
 * ms_query.h).
 *
 * Functions: ms_query_parse, ms_query_free, ms_query_dump, ms_query_date.
 *
 * A hand-written lexer (lex) reads one token at a time straight from the
 * string; a recursive-descent parser (parse_or, parse_and, parse_unary)
 * builds n-ary AND/OR nodes, bounded by MAX_DEPTH. Atoms are made by
 * atom(), which dispatches on the field kind: text (tokenized with
 * ms_tokenize, so folding matches the index), exact values, and ranges
 * (range_parse with date_point or size_point). A parse function returns
 * NULL either on error (p->st set) or when its input held no terms
 * ("--", "!!!", "()"); such parts are dropped.
 */
#include "ms_query.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ms_buf.h"
#include "ms_token.h"

#define MAX_DEPTH 100

enum tok_type {
	T_END,
	T_LP,
	T_RP,
	T_AND,
	T_OR,
	T_NOT,
	T_MINUS,
	T_FIELD,
	T_WORD,
	T_PHRASE
};

typedef struct tok {
	enum tok_type type;
	const char *s; /* text (WORD, PHRASE: inside the quotes) */
	size_t n;
	const char *end; /* where the next token starts looking */
	const ms_field *field;
} tok;

typedef struct parser {
	const char *q;	/* the whole query */
	const char *at; /* cursor */
	int depth;
	ms_status_t st;
	ms_buf err;
	const ms_field *field; /* applies to atoms inside field:( ) */
} parser;

typedef struct termv {
	char **v;
	size_t n, cap;
	int nomem;
} termv;

/* ---- errors ---- */

/* Records the first error: the message plus " at column N". */
__attribute__((format(printf, 3, 4))) static void
fail(parser *p, const char *where, const char *fmt, ...)
{
	if (p->st != MS_OK)
		return;
	va_list ap;
	va_start(ap, fmt);
	p->st = ms_buf_vprintf(&p->err, fmt, ap) == MS_OK ? MS_ERR_QUERY
							  : MS_ERR_NOMEM;
	va_end(ap);
	if (p->st == MS_ERR_QUERY && where &&
	    ms_buf_printf(&p->err, " at column %zu",
			  (size_t)(where - p->q) + 1) != MS_OK)
		p->st = MS_ERR_NOMEM;
	for (size_t i = 0; i < p->err.len; i++)
		if ((unsigned char)p->err.data[i] < 0x20)
			p->err.data[i] = '?';
}

static void nomem(parser *p)
{
	if (p->st == MS_OK)
		p->st = MS_ERR_NOMEM;
}

/* Clips text quoted in messages. */
static int clip(size_t n)
{
	return n > 60 ? 60 : (int)n;
}

/* ---- nodes ---- */

static ms_qnode *node_new(parser *p, ms_qtype type, const ms_field *f)
{
	ms_qnode *n = calloc(1, sizeof(*n));
	if (!n) {
		nomem(p);
		return NULL;
	}
	n->type = type;
	n->field = f;
	return n;
}

void ms_query_free(ms_qnode **root)
{
	if (!root || !*root)
		return;
	ms_qnode *n = *root;
	for (size_t i = 0; i < n->n_terms; i++)
		free(n->terms[i]);
	free(n->terms);
	for (size_t i = 0; i < n->n_kids; i++)
		ms_query_free(&n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
	*root = NULL;
}

/* A growing list of kids for an AND or OR. */
typedef struct kidv {
	ms_qnode **v;
	size_t n, cap;
} kidv;

/* Appends kid (NULL is ignored). On NOMEM frees kid. */
static void kids_push(parser *p, kidv *k, ms_qnode *kid)
{
	if (!kid)
		return;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 4;
		ms_qnode **v = realloc(k->v, cap * sizeof(*v));
		if (!v) {
			ms_query_free(&kid);
			nomem(p);
			return;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = kid;
}

static void kids_free(kidv *k)
{
	for (size_t i = 0; i < k->n; i++)
		ms_query_free(&k->v[i]);
	free(k->v);
}

/* Makes an AND/OR of the kids: NULL if none, the kid itself if one.
 * Takes ownership of the kids. */
static ms_qnode *combine(parser *p, ms_qtype type, kidv *k)
{
	if (p->st != MS_OK || k->n == 0) {
		kids_free(k);
		return NULL;
	}
	if (k->n == 1) {
		ms_qnode *only = k->v[0];
		free(k->v);
		return only;
	}
	ms_qnode *node = node_new(p, type, NULL);
	if (!node) {
		kids_free(k);
		return NULL;
	}
	node->kids = k->v;
	node->n_kids = k->n;
	return node;
}

static ms_qnode *negate(parser *p, ms_qnode *kid)
{
	if (!kid)
		return NULL;
	ms_qnode *n = node_new(p, MS_Q_NOT, NULL);
	if (!n || !(n->kids = malloc(sizeof(*n->kids)))) {
		free(n);
		ms_query_free(&kid);
		nomem(p);
		return NULL;
	}
	n->kids[0] = kid;
	n->n_kids = 1;
	return n;
}

/* ---- lexer ---- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* True where an unquoted word ends. */
static int word_end(char c)
{
	return c == '\0' || is_space(c) || c == '(' || c == ')' || c == '"';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void lex_phrase(parser *p, tok *t)
{
	const char *close = strchr(t->s + 1, '"');
	if (!close) {
		fail(p, t->s, "unterminated quote");
		t->type = T_END;
		t->end = t->s + strlen(t->s);
		return;
	}
	t->type = T_PHRASE;
	t->end = close + 1;
	t->s++;
	t->n = (size_t)(close - t->s);
}

/* A word "name:..." with name all letters: a field, an error, or text.
 * Returns 1 if t was made a FIELD token (or an error was recorded). */
static int lex_field(parser *p, tok *t)
{
	size_t k = 0;
	while (k < t->n && is_alpha(t->s[k]))
		k++;
	if (k == 0 || k == t->n || t->s[k] != ':')
		return 0;
	char name[32];
	if (k >= sizeof(name))
		return 0;
	memcpy(name, t->s, k);
	name[k] = '\0';
	const char *v = t->s + k + 1;
	const ms_field *f = ms_schema_field(name);
	if (!f) {
		if (word_end(*v) || *v == '/')
			return 0; /* "Re:" or "http://..." is text */
		fail(p, t->s, "unknown field '%s'", name);
		return 1;
	}
	if (is_space(*v) || *v == '\0' || *v == ')') {
		fail(p, t->s, "missing value after '%s:'", name);
		return 1;
	}
	t->type = T_FIELD;
	t->field = f;
	t->end = v;
	return 1;
}

/* Reads the token at p->at without consuming it. In value mode (just
 * after "field:") operators, fields and "-" are plain text. */
static void lex(parser *p, int value_mode, tok *t)
{
	const char *s = p->at;
	while (is_space(*s))
		s++;
	*t = (tok){ .type = T_END, .s = s, .end = s };
	if (*s == '\0')
		return;
	if (*s == '(' || *s == ')') {
		t->type = *s == '(' ? T_LP : T_RP;
		t->end = s + 1;
		return;
	}
	if (*s == '"') {
		lex_phrase(p, t);
		return;
	}
	if (!value_mode && *s == '-' && s[1] && !is_space(s[1]) &&
	    s[1] != ')') {
		t->type = T_MINUS;
		t->end = s + 1;
		return;
	}
	while (!word_end(*t->end))
		t->end++;
	t->type = T_WORD;
	t->n = (size_t)(t->end - s);
	if (value_mode)
		return;
	if (t->n == 3 && memcmp(s, "AND", 3) == 0)
		t->type = T_AND;
	else if (t->n == 2 && memcmp(s, "OR", 2) == 0)
		t->type = T_OR;
	else if (t->n == 3 && memcmp(s, "NOT", 3) == 0)
		t->type = T_NOT;
	else
		lex_field(p, t);
}

/* ---- atoms ---- */

static int term_fn(const char *term, size_t len, unsigned pos, void *ctx)
{
	termv *tv = ctx;
	(void)pos;
	if (tv->n == tv->cap) {
		size_t cap = tv->cap ? tv->cap * 2 : 4;
		char **v = realloc(tv->v, cap * sizeof(*v));
		if (!v) {
			tv->nomem = 1;
			return 1;
		}
		tv->v = v;
		tv->cap = cap;
	}
	if (!(tv->v[tv->n] = strndup(term, len))) {
		tv->nomem = 1;
		return 1;
	}
	tv->n++;
	return 0;
}

static void termv_free(termv *tv)
{
	for (size_t i = 0; i < tv->n; i++)
		free(tv->v[i]);
	free(tv->v);
}

/* Free text (or a TEXT/ADDR field): words, a phrase, or "word*". */
static ms_qnode *text_atom(parser *p, const ms_field *f, const tok *t)
{
	int prefix = t->type == T_WORD && t->n > 1 && t->s[t->n - 1] == '*';
	termv tv = { 0 };
	ms_tokenize(t->s, t->n - (size_t)prefix, NULL, term_fn, &tv);
	if (tv.nomem) {
		termv_free(&tv);
		nomem(p);
		return NULL;
	}
	if (prefix && tv.n != 1) {
		fail(p, t->s, "prefix '%.*s' must be a single word", clip(t->n),
		     t->s);
		termv_free(&tv);
		return NULL;
	}
	if (tv.n == 0)
		return NULL;
	ms_qnode *n = node_new(p, prefix ? MS_Q_PREFIX : MS_Q_WORDS, f);
	if (!n) {
		termv_free(&tv);
		return NULL;
	}
	n->terms = tv.v;
	n->n_terms = tv.n;
	return n;
}

static ms_qnode *exact_atom(parser *p, const ms_field *f, const char *s,
			    size_t n, const char *where)
{
	if (n == 0) {
		fail(p, where, "empty value for '%s:'", f->name);
		return NULL;
	}
	ms_qnode *node = node_new(p, MS_Q_EXACT, f);
	if (node && !(node->value = strndup(s, n))) {
		ms_query_free(&node);
		nomem(p);
	}
	return node;
}

/* An address value: "alice@example.org" or "<alice@example.org>". */
static int is_address(const tok *t)
{
	if (!memchr(t->s, '@', t->n))
		return 0;
	if (t->type == T_WORD && t->s[t->n - 1] == '*')
		return 0;
	for (size_t i = 0; i < t->n; i++)
		if (is_space(t->s[i]))
			return 0;
	return 1;
}

static ms_qnode *addr_atom(parser *p, const ms_field *f, const tok *t)
{
	const char *s = t->s;
	size_t n = t->n;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	return exact_atom(p, f, s, n, t->s);
}

static int range_parse(parser *p, const ms_field *f, const tok *t, int64_t *lo,
		       int64_t *hi);

static ms_qnode *range_atom(parser *p, const ms_field *f, const tok *t)
{
	int64_t lo, hi;
	if (range_parse(p, f, t, &lo, &hi) != 0)
		return NULL;
	ms_qnode *n = node_new(p, MS_Q_RANGE, f);
	if (n) {
		n->lo = lo;
		n->hi = hi;
	}
	return n;
}

/* A WORD or PHRASE token searched in field f (NULL = free text). */
static ms_qnode *atom(parser *p, const ms_field *f, const tok *t)
{
	int star = t->type == T_WORD && t->n == 1 && t->s[0] == '*';
	if (!f)
		return star ? node_new(p, MS_Q_ALL, NULL) : text_atom(p, f, t);
	if (star) {
		fail(p, t->s, "'*' cannot follow '%s:'", f->name);
		return NULL;
	}
	switch (f->kind) {
	case MS_KIND_EXACT:
		return exact_atom(p, f, t->s, t->n, t->s);
	case MS_KIND_ADDR:
		return is_address(t) ? addr_atom(p, f, t) : text_atom(p, f, t);
	case MS_KIND_RANGE:
		return range_atom(p, f, t);
	default:
		return text_atom(p, f, t);
	}
}

/* ---- ranges ---- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, no time zone). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return dm[m - 1] + (m == 2 && leap);
}

/* Reads exactly n decimal digits. */
static int digits(const char *s, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* YYYY, YYYY-MM or YYYY-MM-DD -> [start, end) in epoch seconds (UTC). */
static int date_point(const char *s, size_t n, int64_t *start, int64_t *end)
{
	int y, m = 1, d = 1;
	if ((n != 4 && n != 7 && n != 10) || digits(s, 4, &y) != 0 || y < 1)
		return -1;
	if (n >= 7 &&
	    (s[4] != '-' || digits(s + 5, 2, &m) != 0 || m < 1 || m > 12))
		return -1;
	if (n == 10 && (s[7] != '-' || digits(s + 8, 2, &d) != 0 || d < 1 ||
			d > month_days(y, m)))
		return -1;
	int64_t day = days_from_civil(y, m, d), next;
	if (n == 4)
		next = days_from_civil(y + 1, 1, 1);
	else if (n == 7)
		next = m == 12 ? days_from_civil(y + 1, 1, 1)
			       : days_from_civil(y, m + 1, 1);
	else
		next = day + 1;
	*start = day * 86400;
	*end = next * 86400;
	return 0;
}

ms_status_t ms_query_date(const char *s, int64_t *start_r, int64_t *end_r)
{
	return date_point(s, strlen(s), start_r, end_r) ? MS_ERR_QUERY : MS_OK;
}

/* N, Nk, NM, NG (1024-based, any case, optional "b") -> [N, N + 1). */
static int size_point(const char *s, size_t n, int64_t *start, int64_t *end)
{
	size_t i = 0;
	int64_t v = 0, mult = 1;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0)
		return -1;
	if (i < n && strchr("kKmMgG", s[i])) {
		char u = (char)(s[i++] | 0x20);
		mult = u == 'k'	  ? 1024
		       : u == 'm' ? 1024 * 1024
				  : 1024 * 1024 * 1024;
	}
	if (i < n && (s[i] == 'b' || s[i] == 'B'))
		i++;
	if (i != n || v > (INT64_MAX - 1) / mult)
		return -1;
	*start = v * mult;
	*end = *start + 1;
	return 0;
}

static int point(parser *p, const ms_field *f, const char *s, size_t n,
		 int64_t *start, int64_t *end)
{
	int date = f->slot == MS_SLOT_DATE;
	if ((date ? date_point : size_point)(s, n, start, end) == 0)
		return 0;
	if (date)
		fail(p, s, "bad date '%.*s' (want YYYY, YYYY-MM or YYYY-MM-DD)",
		     clip(n), s);
	else
		fail(p, s, "bad size '%.*s' (want N, Nk, NM or NG)", clip(n),
		     s);
	return -1;
}

/* ">A" ">=A" "<A" "<=A": one open end. */
static int range_cmp(parser *p, const ms_field *f, const tok *t, int64_t *lo,
		     int64_t *hi)
{
	int gt = t->s[0] == '>', eq = t->n > 1 && t->s[1] == '=';
	size_t skip = 1 + (size_t)eq;
	int64_t a, b;
	if (point(p, f, t->s + skip, t->n - skip, &a, &b) != 0)
		return -1;
	if (gt)
		*lo = eq ? a : b;
	else
		*hi = eq ? b - 1 : a - 1;
	return 0;
}

/* "A..B", "A..", "..B", "A", or a comparison; lo/hi inclusive. */
static int range_parse(parser *p, const ms_field *f, const tok *t, int64_t *lo,
		       int64_t *hi)
{
	const char *s = t->s, *dots = memmem(s, t->n, "..", 2);
	int64_t a, b;
	*lo = INT64_MIN;
	*hi = INT64_MAX;
	if (t->n && (s[0] == '>' || s[0] == '<')) {
		if (range_cmp(p, f, t, lo, hi) != 0)
			return -1;
	} else if (!dots) {
		if (point(p, f, s, t->n, lo, &b) != 0)
			return -1;
		*hi = b - 1;
	} else {
		size_t an = (size_t)(dots - s), bn = t->n - an - 2;
		if (an == 0 && bn == 0) {
			fail(p, s, "range '..' needs a start or an end");
			return -1;
		}
		if (an && point(p, f, s, an, lo, &a) != 0)
			return -1;
		if (bn && point(p, f, dots + 2, bn, &a, &b) != 0)
			return -1;
		if (bn)
			*hi = b - 1;
	}
	if (*lo > *hi) {
		fail(p, s, "empty range '%.*s'", clip(t->n), s);
		return -1;
	}
	return 0;
}

/* ---- parser ---- */

static ms_qnode *parse_or(parser *p);
static ms_qnode *parse_unary(parser *p);

static void take(parser *p, const tok *t)
{
	p->at = t->end;
}

/* "(" or ")" expected after a group starting at open. */
static ms_qnode *group(parser *p, const char *open)
{
	ms_qnode *kid = parse_or(p);
	tok t;
	lex(p, 0, &t);
	if (p->st == MS_OK && t.type != T_RP)
		fail(p, open, "missing ')' for this '('");
	if (p->st != MS_OK) {
		ms_query_free(&kid);
		return NULL;
	}
	take(p, &t);
	return kid;
}

/* After "field:": a value, a phrase or a parenthesised group. */
static ms_qnode *field_value(parser *p, const ms_field *f)
{
	tok t;
	lex(p, 1, &t);
	if (p->st != MS_OK)
		return NULL;
	take(p, &t);
	if (t.type != T_LP)
		return atom(p, f, &t);
	const ms_field *outer = p->field;
	p->field = f;
	ms_qnode *kid = group(p, t.s);
	p->field = outer;
	return kid;
}

static ms_qnode *unary_op(parser *p, const tok *t)
{
	tok next;
	take(p, t);
	lex(p, 0, &next);
	if (p->st == MS_OK && (next.type == T_END || next.type == T_RP ||
			       next.type == T_AND || next.type == T_OR))
		fail(p, t->s, "missing term after '%s'",
		     t->type == T_NOT ? "NOT" : "-");
	return p->st == MS_OK ? negate(p, parse_unary(p)) : NULL;
}

static ms_qnode *parse_unary(parser *p)
{
	tok t;
	ms_qnode *n = NULL;
	lex(p, 0, &t);
	if (p->st != MS_OK)
		return NULL;
	if (++p->depth > MAX_DEPTH) {
		fail(p, t.s, "query nested too deeply");
		return NULL;
	}
	switch (t.type) {
	case T_NOT:
	case T_MINUS:
		n = unary_op(p, &t);
		break;
	case T_LP:
		take(p, &t);
		n = group(p, t.s);
		break;
	case T_FIELD:
		take(p, &t);
		n = field_value(p, t.field);
		break;
	case T_WORD:
	case T_PHRASE:
		take(p, &t);
		n = atom(p, p->field, &t);
		break;
	default:
		fail(p, t.s, "unexpected '%.*s'", clip(t.n ? t.n : 1), t.s);
	}
	p->depth--;
	return n;
}

static ms_qnode *parse_and(parser *p)
{
	kidv k = { 0 };
	tok t;
	for (int first = 1; p->st == MS_OK; first = 0) {
		lex(p, 0, &t);
		if (t.type == T_END || t.type == T_RP || t.type == T_OR) {
			if (first && t.type == T_OR)
				fail(p, t.s, "unexpected 'OR'");
			break;
		}
		if (t.type == T_AND) {
			take(p, &t);
			tok next;
			lex(p, 0, &next);
			if (first || next.type == T_END || next.type == T_RP ||
			    next.type == T_OR || next.type == T_AND)
				fail(p, t.s,
				     first ? "unexpected 'AND'"
					   : "missing term after 'AND'");
			if (p->st != MS_OK)
				break;
		}
		kids_push(p, &k, parse_unary(p));
	}
	return combine(p, MS_Q_AND, &k);
}

static ms_qnode *parse_or(parser *p)
{
	kidv k = { 0 };
	tok t;
	kids_push(p, &k, parse_and(p));
	while (p->st == MS_OK) {
		lex(p, 0, &t);
		if (t.type != T_OR)
			break;
		take(p, &t);
		tok next;
		lex(p, 0, &next);
		if (p->st == MS_OK && (next.type == T_END || next.type == T_RP))
			fail(p, t.s, "missing term after 'OR'");
		kids_push(p, &k, parse_and(p));
	}
	return combine(p, MS_Q_OR, &k);
}

ms_status_t ms_query_parse(const char *q, ms_qnode **root_r, char **err_r)
{
	parser p = { .q = q ? q : "", .at = q ? q : "" };
	ms_qnode *root = parse_or(&p);
	tok t;
	if (p.st == MS_OK) {
		lex(&p, 0, &t);
		if (p.st == MS_OK && t.type != T_END)
			fail(&p, t.s, "unbalanced ')'");
		else if (!root)
			fail(&p, NULL, "empty query");
	}
	if (p.st != MS_OK)
		ms_query_free(&root);
	*root_r = root;
	if (err_r)
		*err_r = p.st == MS_ERR_QUERY ? ms_buf_steal(&p.err) : NULL;
	ms_buf_free(&p.err);
	return p.st;
}

/* ---- dump ---- */

typedef struct dumper {
	ms_buf b;
	int bad; /* an append failed */
} dumper;

__attribute__((format(printf, 2, 3))) static void out(dumper *d,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (ms_buf_vprintf(&d->b, fmt, ap) != MS_OK)
		d->bad = 1;
	va_end(ap);
}

static void dump_str(dumper *d, const char *s)
{
	out(d, " \"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			out(d, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			out(d, "\\x%02x", c);
		else
			out(d, "%c", c);
	}
	out(d, "\"");
}

static void dump_num(dumper *d, int64_t v)
{
	if (v == INT64_MIN || v == INT64_MAX)
		out(d, " *");
	else
		out(d, " %lld", (long long)v);
}

static void dump_node(dumper *d, const ms_qnode *n)
{
	static const char *const names[] = {
		"all", "and", "or", "not", "words", "prefix", "exact", "range"
	};
	out(d, "(%s", names[n->type]);
	if (n->type >= MS_Q_WORDS)
		out(d, " %s", n->field ? n->field->name : "*");
	for (size_t i = 0; i < n->n_terms; i++)
		dump_str(d, n->terms[i]);
	if (n->type == MS_Q_EXACT)
		dump_str(d, n->value ? n->value : "");
	if (n->type == MS_Q_RANGE) {
		dump_num(d, n->lo);
		dump_num(d, n->hi);
	}
	for (size_t i = 0; i < n->n_kids; i++) {
		out(d, " ");
		dump_node(d, n->kids[i]);
	}
	out(d, ")");
}

char *ms_query_dump(const ms_qnode *root)
{
	dumper d = { MS_BUF_INIT, 0 };
	if (root)
		dump_node(&d, root);
	if (d.bad) {
		ms_buf_free(&d.b);
		return NULL;
	}
	return ms_buf_steal(&d.b);
}
