/* ms_audit_line.c - one audit line: written with the JSON writer, read back
 * with a small reader for exactly the flat objects ms_audit writes.
 *
 * Functions: ms_audit_line_format, ms_audit_line_parse, ms_audit_rec_free.
 * The reader takes strings (with every JSON escape, \u surrogate pairs
 * included; invalid code points are an error), unsigned integers, null and
 * arrays of strings; anything else (nested objects, floats, true/false) is
 * MS_ERR_PARSE, as is a duplicate or missing required key.
 */
#include "ms_audit.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_json.h"

/* ---- writing ---- */

static int put_key_str(ms_buf *b, const char *key, const char *v)
{
	return ms_buf_printf(b, ",\"%s\":", key) ||
	       ms_json_string(b, v ? v : "");
}

static int put_time(ms_buf *b, int64_t now_us)
{
	time_t t = (time_t)(now_us / 1000000);
	struct tm tm;
	char s[32] = "1970-01-01T00:00:00";
	if (gmtime_r(&t, &tm))
		strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
	return ms_buf_printf(b, ",\"time\":\"%s.%06dZ\"", s,
			     (int)(now_us % 1000000)) != MS_OK;
}

static int put_ids(ms_buf *b, const char *const *ids, size_t n)
{
	int bad = ms_buf_puts(b, ",\"ids\":[") != MS_OK;
	for (size_t i = 0; i < n && !bad; i++)
		bad = (i && ms_buf_putc(b, ',')) || ms_json_string(b, ids[i]);
	return bad || ms_buf_putc(b, ']');
}

ms_status_t ms_audit_line_format(ms_buf *out, const ms_audit_entry *e,
				 const ms_audit_stamp *s)
{
	if (!e->user || !*e->user || !e->action || !*e->action)
		return MS_ERR_INVALID;
	size_t start = out->len;
	int bad = ms_buf_printf(out, "{\"seq\":%" PRIu64, s->seq) != MS_OK;
	bad = bad || put_time(out, s->now_us < 0 ? 0 : s->now_us);
	bad = bad || put_key_str(out, "operator", e->user);
	bad = bad || put_key_str(out, "client", e->client);
	bad = bad || put_key_str(out, "host", e->host);
	bad = bad || ms_buf_printf(out, ",\"pid\":%" PRIu64 ",\"uid\":%" PRIu64,
				   s->pid, s->uid);
	bad = bad || put_key_str(out, "action", e->action);
	if (e->query)
		bad = bad || put_key_str(out, "query", e->query);
	else
		bad = bad || ms_buf_puts(out, ",\"query\":null");
	bad = bad || ms_buf_printf(out, ",\"matched\":%" PRIu64, e->matched);
	bad = bad || put_ids(out, e->ids, e->ids ? e->n_ids : 0);
	if (s->repair)
		bad = bad || put_key_str(out, "repair", s->repair);
	bad = bad || ms_buf_printf(out, ",\"prev\":\"%s\"}\n", s->prev);
	if (bad) {
		ms_buf_truncate(out, start);
		return MS_ERR_NOMEM;
	}
	return MS_OK;
}

/* ---- reading ---- */

typedef struct reader {
	const char *s, *end;
	int bad; /* 1 = syntax error, 2 = out of memory */
} reader;

static void skip_ws(reader *r)
{
	while (r->s < r->end && (*r->s == ' ' || *r->s == '\t'))
		r->s++;
}

static int take(reader *r, char c)
{
	skip_ws(r);
	if (r->s < r->end && *r->s == c) {
		r->s++;
		return 1;
	}
	return 0;
}

static int hex4(reader *r, unsigned *v)
{
	*v = 0;
	if (r->end - r->s < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = *r->s++;
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16u;
		if (d > 15)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* Appends code point cp as UTF-8: 0, or -2 when out of memory. */
static int put_utf8(ms_buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		n = 4;
	}
	for (size_t i = 1; i < n; i++)
		u[i] = (char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f));
	return ms_buf_append(b, u, n) == MS_OK ? 0 : -2;
}

/* \uXXXX (the "\u" already read), a surrogate pair as one code point.
 * 0, -1 on bad syntax, -2 out of memory. */
static int unicode_escape(reader *r, ms_buf *b)
{
	unsigned cp, lo;
	if (hex4(r, &cp) != 0 || (cp >= 0xdc00 && cp < 0xe000))
		return -1;
	if (cp >= 0xd800 && cp < 0xdc00) {
		if (r->end - r->s < 2 || r->s[0] != '\\' || r->s[1] != 'u')
			return -1;
		r->s += 2;
		if (hex4(r, &lo) != 0 || lo < 0xdc00 || lo >= 0xe000)
			return -1;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return -1; /* would cut the C string */
	return put_utf8(b, cp);
}

/* One escape (the backslash already read): 0, -1 bad, -2 no memory. */
static int escape(reader *r, ms_buf *b)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	if (r->s >= r->end)
		return -1;
	char c = *r->s++;
	if (c == 'u')
		return unicode_escape(r, b);
	const char *p = strchr(from, c);
	if (!p || !c)
		return -1;
	return ms_buf_putc(b, to[p - from]) == MS_OK ? 0 : -2;
}

/* A string literal -> malloc'ed text; NULL (r->bad set) on error. */
static char *string_lit(reader *r)
{
	if (!take(r, '"')) {
		r->bad = 1;
		return NULL;
	}
	ms_buf b = MS_BUF_INIT;
	while (!r->bad && r->s < r->end && *r->s != '"') {
		unsigned char c = (unsigned char)*r->s++;
		int rc = c < 0x20    ? -1
			 : c == '\\' ? escape(r, &b)
				     : (ms_buf_putc(&b, (char)c) ? -2 : 0);
		if (rc)
			r->bad = -rc;
	}
	if (!r->bad && !take(r, '"'))
		r->bad = 1;
	if (!r->bad && ms_buf_append(&b, "", 0) != MS_OK) /* terminated */
		r->bad = 2;
	if (r->bad) {
		ms_buf_free(&b);
		return NULL;
	}
	return ms_buf_steal(&b);
}

static int number(reader *r, uint64_t *v)
{
	skip_ws(r);
	const char *p = r->s;
	*v = 0;
	while (r->s < r->end && *r->s >= '0' && *r->s <= '9') {
		unsigned d = (unsigned)(*r->s++ - '0');
		if (*v > (UINT64_MAX - d) / 10)
			return r->bad = 1, -1;
		*v = *v * 10 + d;
	}
	if (r->s == p || (r->s - p > 1 && *p == '0'))
		return r->bad = 1, -1;
	return 0;
}

static int is_null(reader *r)
{
	skip_ws(r);
	if (r->end - r->s >= 4 && !memcmp(r->s, "null", 4)) {
		r->s += 4;
		return 1;
	}
	return 0;
}

static void string_array(reader *r, char ***ids_r, size_t *n_r)
{
	char **ids = NULL;
	size_t n = 0;
	if (!take(r, ']')) {
		do {
			char *s = string_lit(r);
			char **grown =
				s ? realloc(ids, (n + 1) * sizeof *ids) : NULL;
			if (!grown) {
				r->bad = r->bad ? r->bad : 2;
				free(s);
				break;
			}
			ids = grown;
			ids[n++] = s;
		} while (take(r, ','));
		if (!r->bad && !take(r, ']'))
			r->bad = 1;
	}
	*ids_r = ids;
	*n_r = n;
}

/* Skips a value of a key this reader does not know. */
static void skip_value(reader *r)
{
	uint64_t v;
	skip_ws(r);
	if (r->s < r->end && *r->s == '"')
		free(string_lit(r));
	else if (take(r, '[')) {
		char **ids;
		size_t n;
		string_array(r, &ids, &n);
		for (size_t i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
	} else if (!is_null(r))
		number(r, &v);
}

enum { K_SEQ = 1, K_TIME = 2, K_USER = 4, K_ACTION = 8, K_PREV = 16 };
#define K_REQUIRED (K_SEQ | K_TIME | K_USER | K_ACTION | K_PREV)
enum { K_CLIENT = 32, K_HOST = 64, K_PID = 128, K_UID = 256 };
enum { K_QUERY = 512, K_MATCHED = 1024, K_IDS = 2048, K_REPAIR = 4096 };

static void str_member(reader *r, char **dst)
{
	*dst = string_lit(r);
}

static int is_hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static void prev_member(reader *r, ms_audit_rec *rec)
{
	char *p = string_lit(r);
	if (p && is_hex64(p))
		memcpy(rec->prev, p, MS_SHA256_HEX);
	else if (p)
		r->bad = 1;
	free(p);
}

static void query_member(reader *r, ms_audit_rec *rec)
{
	if (!is_null(r))
		rec->query = string_lit(r);
}

/* Reads the value of key into rec; returns the key's bit (0: unknown). */
static unsigned member(reader *r, const char *key, ms_audit_rec *rec)
{
	static const struct {
		const char *name;
		unsigned bit;
	} keys[] = {
		{ "seq", K_SEQ },	  { "time", K_TIME },
		{ "operator", K_USER },	  { "action", K_ACTION },
		{ "prev", K_PREV },	  { "client", K_CLIENT },
		{ "host", K_HOST },	  { "pid", K_PID },
		{ "uid", K_UID },	  { "query", K_QUERY },
		{ "matched", K_MATCHED }, { "ids", K_IDS },
		{ "repair", K_REPAIR },
	};
	unsigned bit = 0;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!strcmp(key, keys[i].name))
			bit = keys[i].bit;
	switch (bit) {
	case K_SEQ:
		number(r, &rec->seq);
		break;
	case K_PID:
		number(r, &rec->pid);
		break;
	case K_UID:
		number(r, &rec->uid);
		break;
	case K_MATCHED:
		number(r, &rec->matched);
		break;
	case K_TIME:
		str_member(r, &rec->time);
		break;
	case K_USER:
		str_member(r, &rec->user);
		break;
	case K_ACTION:
		str_member(r, &rec->action);
		break;
	case K_CLIENT:
		str_member(r, &rec->client);
		break;
	case K_HOST:
		str_member(r, &rec->host);
		break;
	case K_REPAIR:
		str_member(r, &rec->repair);
		break;
	case K_PREV:
		prev_member(r, rec);
		break;
	case K_QUERY:
		query_member(r, rec);
		break;
	case K_IDS:
		if (take(r, '['))
			string_array(r, &rec->ids, &rec->n_ids);
		else
			r->bad = 1;
		break;
	default:
		skip_value(r);
	}
	return bit;
}

static int fill_missing(char **s)
{
	if (!*s)
		*s = strdup("");
	return *s ? 0 : -1;
}

static unsigned members(reader *r, ms_audit_rec *rec)
{
	unsigned seen = 0;
	if (!take(r, '{')) {
		r->bad = 1;
		return 0;
	}
	do {
		char *key = string_lit(r);
		if (!key || !take(r, ':')) {
			r->bad = r->bad ? r->bad : 1;
			free(key);
			break;
		}
		unsigned bit = member(r, key, rec);
		free(key);
		if (bit & seen)
			r->bad = 1;
		seen |= bit;
	} while (!r->bad && take(r, ','));
	if (!r->bad && !take(r, '}'))
		r->bad = 1;
	skip_ws(r);
	if (!r->bad && r->s != r->end)
		r->bad = 1;
	return seen;
}

ms_status_t ms_audit_line_parse(const char *line, size_t len, ms_audit_rec *rec)
{
	memset(rec, 0, sizeof *rec);
	reader r = { line, line + len, 0 };
	unsigned seen = members(&r, rec);
	if (!r.bad && (seen & K_REQUIRED) != K_REQUIRED)
		r.bad = 1;
	if (!r.bad && (fill_missing(&rec->client) || fill_missing(&rec->host)))
		r.bad = 2;
	if (r.bad)
		ms_audit_rec_free(rec);
	return r.bad == 2 ? MS_ERR_NOMEM : r.bad ? MS_ERR_PARSE : MS_OK;
}

void ms_audit_rec_free(ms_audit_rec *rec)
{
	if (!rec)
		return;
	free(rec->time);
	free(rec->user);
	free(rec->client);
	free(rec->host);
	free(rec->action);
	free(rec->query);
	free(rec->repair);
	for (size_t i = 0; i < rec->n_ids; i++)
		free(rec->ids[i]);
	free(rec->ids);
	memset(rec, 0, sizeof *rec);
}
