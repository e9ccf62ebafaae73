/* ms_config.c - reads plugin.conf into a reference-counted snapshot.
 *
 * Functions: ms_config_load, ms_config_parse_string, ms_config_defaults,
 * ms_config_ref, ms_config_unref, ms_config_free, ms_config_dump.
 * Driven by the parameter table (ms_config_table.c): defaults are parsed
 * from the table with the same value parsers as the file, so a default can
 * never hold a value the file could not. Diagnostics: the first error
 * only, one line, "name:line: message"; user text quoted in messages is
 * cut short and non-printable bytes are shown as '?'.
 */
#include "ms_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define KB	  1024ull
#define SHOWN_MAX 72 /* bytes of user text quoted in a message */

/* The snapshot with its reference count (kept out of the public struct). */
typedef struct cfg_box {
	atomic_uint refs;
	ms_config cfg;
} cfg_box;

/* One parse: where we are and the first error's text (without prefix). */
typedef struct parser {
	ms_config *cfg;
	const ms_config_param *params;
	size_t nparams;
	unsigned char *seen; /* per param: set in this file already */
	const char *section; /* static name, NULL before the first header */
	const char *base;    /* absolute dir for relative paths, or NULL */
	unsigned line;
	ms_buf *err;
} parser;

typedef struct unit {
	char c;	  /* lower case; matched case-insensitively */
	char out; /* as written by ms_config_dump */
	uint64_t mult;
} unit;

static const unit size_units[] = { { 'k', 'k', KB },
				   { 'm', 'M', KB *KB },
				   { 'g', 'G', KB *KB *KB },
				   { 0, 0, 0 } };
static const unit duration_units[] = {
	{ 's', 's', 1 }, { 'm', 'm', 60 }, { 'h', 'h', 3600 }, { 0, 0, 0 }
};

/* ---- small helpers ---- */

static cfg_box *box_of(ms_config *cfg)
{
	return (cfg_box *)((char *)cfg - offsetof(cfg_box, cfg));
}

static void *member(ms_config *cfg, const ms_config_param *p)
{
	return (char *)cfg + p->offset;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trims whitespace at both ends in place; returns the new start. */
static char *trim(char *s)
{
	while (is_ws(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_ws(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Copies s for a message into tmp: cut short, non-printables as '?'. */
static const char *shown(const char *s, char tmp[SHOWN_MAX + 4])
{
	size_t i;
	for (i = 0; s[i] && i < SHOWN_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		tmp[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i]) {
		memcpy(tmp + i, "...", 3);
		i += 3;
	}
	tmp[i] = '\0';
	return tmp;
}

/* Formats the error text; returns MS_ERR_CONFIG (or MS_ERR_NOMEM). */
static ms_status_t fail(ms_buf *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static ms_status_t fail(ms_buf *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ms_buf_reset(err);
	ms_status_t st = ms_buf_vprintf(err, fmt, ap);
	va_end(ap);
	return st == MS_OK ? MS_ERR_CONFIG : MS_ERR_NOMEM;
}

static ms_status_t bad_value(ms_buf *err, const ms_config_param *p,
			     const char *val, const char *want)
{
	char tmp[SHOWN_MAX + 4];
	return fail(err, "bad value '%s' for %s (want %s)", shown(val, tmp),
		    p->key, want);
}

/* ---- numbers ---- */

/* Writes v with the largest unit that divides it exactly ("25M", "5m"). */
static void fmt_scaled(char *dst, size_t n, uint64_t v, const unit *u)
{
	const unit *best = NULL;
	for (; u->c; u++)
		if (v % u->mult == 0)
			best = u;
	if (best)
		snprintf(dst, n, "%llu%c", (unsigned long long)(v / best->mult),
			 best->out);
	else
		snprintf(dst, n, "%llu", (unsigned long long)v);
}

static const unit *units_of(const ms_config_param *p)
{
	if (p->type == MS_CT_SIZE)
		return size_units;
	if (p->type == MS_CT_DURATION)
		return duration_units;
	return NULL;
}

static void fmt_number(char *dst, size_t n, const ms_config_param *p,
		       uint64_t v)
{
	const unit *u = units_of(p);
	if (!u || v == 0)
		snprintf(dst, n, "%llu", (unsigned long long)v);
	else
		fmt_scaled(dst, n, v, u);
}

/* Parses digits and an optional unit. Returns 0 (ok), -1 (malformed) or
 * 1 (does not fit in 64 bits). */
static int parse_scaled(const char *s, const unit *u, uint64_t *v_r)
{
	uint64_t v = 0;
	int over = 0;
	const char *d = s;
	for (; *d >= '0' && *d <= '9'; d++) {
		unsigned dig = (unsigned)(*d - '0');
		if (v > (UINT64_MAX - dig) / 10)
			over = 1;
		v = over ? 0 : v * 10 + dig;
	}
	if (d == s)
		return -1;
	if (*d) {
		for (; u && u->c && u->c != (char)(*d | 0x20); u++)
			;
		if (!u || !u->c || d[1])
			return -1;
		if (!over && v > UINT64_MAX / u->mult)
			over = 1;
		v *= over ? 0 : u->mult;
	}
	*v_r = v;
	return over;
}

static const char *want_number(const ms_config_param *p)
{
	if (p->type == MS_CT_SIZE)
		return "a size like 64k, 25M or 1G";
	if (p->type == MS_CT_DURATION)
		return "a duration like 30s, 5m or 2h";
	return "a whole number";
}

static ms_status_t set_number(ms_config *cfg, const ms_config_param *p,
			      const char *val, ms_buf *err)
{
	uint64_t v = 0;
	int r = parse_scaled(val, units_of(p), &v);
	if (r < 0)
		return bad_value(err, p, val, want_number(p));
	if (r > 0 || v < p->min || v > p->max) {
		char lo[32], hi[32];
		fmt_number(lo, sizeof lo, p, p->min);
		fmt_number(hi, sizeof hi, p, p->max);
		return fail(err, "value out of range for %s (%s..%s)", p->key,
			    lo, hi);
	}
	if (p->type == MS_CT_SIZE)
		*(uint64_t *)member(cfg, p) = v;
	else
		*(unsigned *)member(cfg, p) = (unsigned)v;
	return MS_OK;
}

/* ---- bool and enum ---- */

static ms_status_t set_bool(ms_config *cfg, const ms_config_param *p,
			    const char *val, ms_buf *err)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };
	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(val, yes[i]) == 0 ||
		    strcasecmp(val, no[i]) == 0) {
			*(bool *)member(cfg, p) = strcasecmp(val, yes[i]) == 0;
			return MS_OK;
		}
	}
	return bad_value(err, p, val, "yes or no");
}

/* "a, b, c or d" from the choices. */
static ms_status_t want_choices(const ms_config_param *p, ms_buf *w)
{
	ms_status_t st = MS_OK;
	for (size_t i = 0; p->choices[i] && st == MS_OK; i++) {
		const char *sep = i == 0	      ? ""
				  : p->choices[i + 1] ? ", "
						      : " or ";
		st = ms_buf_printf(w, "%s%s", sep, p->choices[i]);
	}
	return st;
}

static ms_status_t set_enum(ms_config *cfg, const ms_config_param *p,
			    const char *val, ms_buf *err)
{
	for (int i = 0; p->choices[i]; i++) {
		if (strcasecmp(val, p->choices[i]) == 0) {
			*(int *)member(cfg, p) = i;
			return MS_OK;
		}
	}
	ms_buf w = MS_BUF_INIT;
	ms_status_t st = want_choices(p, &w);
	if (st == MS_OK)
		st = bad_value(err, p, val, w.data);
	ms_buf_free(&w);
	return st;
}

/* ---- paths and endpoints ---- */

/* Cleans an absolute path in place: no "//", no "." parts, no trailing
 * slash. ".." is kept (removing it is wrong across symlinks). */
static void clean_path(char *s)
{
	char *w = s + 1, *r = s;
	while (*r) {
		while (*r == '/')
			r++;
		size_t n = strcspn(r, "/");
		if (n && !(n == 1 && r[0] == '.')) {
			if (w > s + 1)
				*w++ = '/';
			memmove(w, r, n);
			w += n;
		}
		r += n;
	}
	*w = '\0';
}

/* *out_r = v made absolute against base (malloc'ed). MS_ERR_CONFIG when
 * v is relative and there is no base, MS_ERR_NOMEM. */
static ms_status_t abs_path(const char *v, size_t n, const char *base,
			    char **out_r)
{
	ms_buf b = MS_BUF_INIT;
	if (v[0] != '/' && !base)
		return MS_ERR_CONFIG;
	if (v[0] != '/' && (ms_buf_puts(&b, base) || ms_buf_putc(&b, '/')))
		goto nomem;
	if (ms_buf_append(&b, v, n))
		goto nomem;
	clean_path(b.data);
	b.len = strlen(b.data);
	*out_r = ms_buf_steal(&b);
	return MS_OK;
nomem:
	ms_buf_free(&b);
	return MS_ERR_NOMEM;
}

static int valid_port(const char *s, size_t n)
{
	unsigned long v = 0;
	if (n == 0 || n > 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* inet forms: milter "PORT[@HOST]", clamd "HOST:PORT". */
static int valid_inet(const char *rest, unsigned flags)
{
	if (flags & MS_CF_MILTER_SOCKET) {
		const char *at = strchr(rest, '@');
		size_t n = at ? (size_t)(at - rest) : strlen(rest);
		return valid_port(rest, n) && (!at || at[1]);
	}
	const char *colon = strrchr(rest, ':');
	return colon && colon > rest &&
	       valid_port(colon + 1, strlen(colon + 1));
}

/* Checks an endpoint; a relative unix: path is made absolute. *out_r is
 * malloc'ed. MS_ERR_CONFIG (invalid) or MS_ERR_NOMEM otherwise. */
static ms_status_t endpoint(const char *v, unsigned flags, const char *base,
			    char **out_r)
{
	int milter = (flags & MS_CF_MILTER_SOCKET) != 0;
	size_t plen = 0;
	if (strncmp(v, "unix:", 5) == 0 || (milter && !strncmp(v, "local:", 6)))
		plen = v[0] == 'u' ? 5 : 6;
	if (plen) {
		if (!v[plen])
			return MS_ERR_CONFIG;
		ms_buf b = MS_BUF_INIT;
		char *path = NULL;
		ms_status_t st =
			abs_path(v + plen, strlen(v + plen), base, &path);
		if (st == MS_OK &&
		    ms_buf_printf(&b, "%.*s%s", (int)plen, v, path) != MS_OK)
			st = MS_ERR_NOMEM;
		free(path);
		*out_r = st == MS_OK ? ms_buf_steal(&b) : NULL;
		return st;
	}
	if (!strncmp(v, "inet:", 5) && valid_inet(v + 5, flags))
		return (*out_r = strdup(v)) ? MS_OK : MS_ERR_NOMEM;
	if (milter && !strncmp(v, "inet6:", 6) && valid_inet(v + 6, flags))
		return (*out_r = strdup(v)) ? MS_OK : MS_ERR_NOMEM;
	return MS_ERR_CONFIG;
}

static const char *want_endpoint(unsigned flags)
{
	return (flags & MS_CF_MILTER_SOCKET) ? "unix:/path or inet:port@host"
					     : "unix:/path or inet:host:port";
}

/* ---- strings, paths, lists ---- */

/* Runs p's check on val: MS_OK, or MS_ERR_CONFIG with the message set. */
static ms_status_t checked(const ms_config_param *p, const char *val,
			   ms_buf *err)
{
	ms_buf why = MS_BUF_INIT;
	ms_status_t st = p->check(val, &why);
	char tmp[SHOWN_MAX + 4];
	if (st == MS_ERR_CONFIG)
		st = fail(err, "bad value '%s' for %s (%s)", shown(val, tmp),
			  p->key, why.data ? why.data : "?");
	ms_buf_free(&why);
	return st;
}

static ms_status_t set_string(ms_config *cfg, const ms_config_param *p,
			      const char *val, const char *base, ms_buf *err)
{
	char *v = NULL;
	ms_status_t st = MS_OK;
	if (p->flags & MS_CF_MILTER_SOCKET)
		st = endpoint(val, p->flags, base, &v);
	else if (p->type == MS_CT_PATH && *val)
		st = abs_path(val, strlen(val), base, &v);
	else if (p->type == MS_CT_PATH && !(p->flags & MS_CF_EMPTY_OK))
		st = MS_ERR_CONFIG;
	else if (!(v = strdup(val)))
		st = MS_ERR_NOMEM;
	if (st == MS_ERR_CONFIG && p->type == MS_CT_PATH)
		return bad_value(err, p, val, "a path");
	if (st == MS_ERR_CONFIG)
		return bad_value(err, p, val, want_endpoint(p->flags));
	if (st == MS_OK && p->check)
		st = checked(p, v, err);
	if (st != MS_OK) {
		free(v);
		return st;
	}
	char **slot = member(cfg, p);
	free(*slot);
	*slot = v;
	return MS_OK;
}

/* Appends one list item (NUL-terminated) to items, checked if needed. */
static ms_status_t list_item(const ms_config_param *p, char *item,
			     const char *base, ms_buf *items, ms_buf *err)
{
	ms_status_t st;
	if (!(p->flags & MS_CF_CLAMD) && p->check &&
	    (st = checked(p, item, err)) != MS_OK)
		return st;
	if (!(p->flags & MS_CF_CLAMD))
		return ms_buf_append(items, item, strlen(item) + 1);
	char *v = NULL;
	st = endpoint(item, p->flags, base, &v);
	if (st == MS_ERR_CONFIG)
		return bad_value(err, p, item, want_endpoint(p->flags));
	if (st == MS_OK)
		st = ms_buf_append(items, v, strlen(v) + 1);
	free(v);
	return st;
}

/* Packs n NUL-separated items into one block: pointers, then strings. */
static char **pack_list(const ms_buf *items, size_t n)
{
	size_t ptrs = (n + 1) * sizeof(char *);
	char **list = malloc(ptrs + items->len + 1);
	if (!list)
		return NULL;
	char *s = (char *)list + ptrs;
	if (items->len)
		memcpy(s, items->data, items->len);
	for (size_t i = 0; i < n; i++, s += strlen(s) + 1)
		list[i] = s;
	list[n] = NULL;
	return list;
}

static ms_status_t set_list(ms_config *cfg, const ms_config_param *p,
			    const char *val, const char *base, ms_buf *err)
{
	ms_buf items = MS_BUF_INIT, copy = MS_BUF_INIT;
	size_t n = 0;
	ms_status_t st = ms_buf_puts(&copy, val);
	char *save = NULL;
	for (char *t = st ? NULL : strtok_r(copy.data, ", \t\r\v\f", &save);
	     t && st == MS_OK; t = strtok_r(NULL, ", \t\r\v\f", &save), n++)
		st = list_item(p, t, base, &items, err);
	if (st == MS_OK && n == 0 && !(p->flags & MS_CF_EMPTY_OK))
		st = fail(err, "empty list for %s (want at least one value)",
			  p->key);
	char **list = st == MS_OK ? pack_list(&items, n) : NULL;
	if (st == MS_OK && !list)
		st = MS_ERR_NOMEM;
	ms_buf_free(&items);
	ms_buf_free(&copy);
	if (st != MS_OK)
		return st;
	char ***slot = member(cfg, p);
	free(*slot);
	*slot = list;
	return MS_OK;
}

/* Appends val (unless "") as one more item of a lines parameter; with
 * fresh set, the items so far (the default) are dropped first. */
static ms_status_t set_lines(ms_config *cfg, const ms_config_param *p,
			     const char *val, int fresh, ms_buf *err)
{
	char ***slot = member(cfg, p);
	ms_buf items = MS_BUF_INIT;
	size_t n = 0;
	ms_status_t st = MS_OK;
	for (char **it = fresh ? NULL : *slot; it && *it && !st; it++, n++)
		st = ms_buf_append(&items, *it, strlen(*it) + 1);
	if (!st && *val && p->check)
		st = checked(p, val, err);
	if (!st && *val && !(st = ms_buf_append(&items, val, strlen(val) + 1)))
		n++;
	char **list = st == MS_OK ? pack_list(&items, n) : NULL;
	if (st == MS_OK && !list)
		st = MS_ERR_NOMEM;
	ms_buf_free(&items);
	if (st != MS_OK)
		return st;
	free(*slot);
	*slot = list;
	return MS_OK;
}

/* Parses val into p's member of cfg. MS_OK, MS_ERR_CONFIG (text in err),
 * MS_ERR_NOMEM. On failure the member keeps its old value. */
static ms_status_t set_value(ms_config *cfg, const ms_config_param *p,
			     const char *val, const char *base, ms_buf *err)
{
	switch (p->type) {
	case MS_CT_STRING:
	case MS_CT_PATH:
		return set_string(cfg, p, val, base, err);
	case MS_CT_BOOL:
		return set_bool(cfg, p, val, err);
	case MS_CT_UINT:
	case MS_CT_SIZE:
	case MS_CT_DURATION:
		return set_number(cfg, p, val, err);
	case MS_CT_ENUM:
		return set_enum(cfg, p, val, err);
	case MS_CT_LIST:
		return set_list(cfg, p, val, base, err);
	case MS_CT_LINES:
		return set_lines(cfg, p, val, 0, err);
	}
	return MS_ERR_INVALID;
}

/* ---- snapshot life cycle ---- */

static void cfg_destroy(ms_config *cfg)
{
	size_t n;
	const ms_config_param *params = ms_config_params(&n);
	for (size_t i = 0; i < n; i++) {
		const ms_config_param *p = &params[i];
		if (p->type == MS_CT_STRING || p->type == MS_CT_PATH ||
		    p->type == MS_CT_LIST || p->type == MS_CT_LINES)
			free(*(void **)member(cfg, p));
	}
	free(box_of(cfg));
}

/* A new snapshot (one reference) holding every default. */
static ms_status_t cfg_new(ms_config **cfg_r)
{
	*cfg_r = NULL;
	cfg_box *box = calloc(1, sizeof *box);
	if (!box)
		return MS_ERR_NOMEM;
	atomic_init(&box->refs, 1);
	size_t n;
	const ms_config_param *params = ms_config_params(&n);
	ms_buf err = MS_BUF_INIT;
	ms_status_t st = MS_OK;
	for (size_t i = 0; i < n && st == MS_OK; i++)
		st = set_value(&box->cfg, &params[i], params[i].def, NULL,
			       &err);
	ms_buf_free(&err);
	if (st != MS_OK) {
		cfg_destroy(&box->cfg);
		return st;
	}
	*cfg_r = &box->cfg;
	return MS_OK;
}

ms_status_t ms_config_defaults(ms_config **cfg_r)
{
	return cfg_new(cfg_r);
}

ms_config *ms_config_ref(ms_config *cfg)
{
	if (cfg)
		atomic_fetch_add_explicit(&box_of(cfg)->refs, 1,
					  memory_order_relaxed);
	return cfg;
}

void ms_config_unref(ms_config **cfg)
{
	if (!cfg || !*cfg)
		return;
	cfg_box *box = box_of(*cfg);
	*cfg = NULL;
	if (atomic_fetch_sub_explicit(&box->refs, 1, memory_order_acq_rel) == 1)
		cfg_destroy(&box->cfg);
}

void ms_config_free(ms_config **cfg)
{
	ms_config_unref(cfg);
}

/* ---- the line parser ---- */

/* Cuts the value out of v in place (quotes, escapes, trailing comment). */
static ms_status_t parse_value(parser *ps, char *v, char **val_r)
{
	v = trim(v);
	*val_r = v;
	if (*v != '"') {
		for (size_t i = 0; v[i]; i++)
			if ((v[i] == '#' || v[i] == ';') &&
			    (i == 0 || is_ws(v[i - 1])))
				v[i] = '\0';
		trim(v);
		return MS_OK;
	}
	char *w = v, *r = v + 1;
	for (; *r != '"'; *w++ = *r++) {
		if (!*r)
			return fail(ps->err, "missing closing '\"'");
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
	}
	*w = '\0';
	r = trim(r + 1);
	if (*r && *r != '#' && *r != ';')
		return fail(ps->err, "unexpected text after quoted value");
	return MS_OK;
}

static const ms_config_param *find_param(parser *ps, const char *key)
{
	for (size_t i = 0; i < ps->nparams; i++)
		if (!strcmp(ps->params[i].section, ps->section) &&
		    !strcmp(ps->params[i].key, key))
			return &ps->params[i];
	return NULL;
}

static ms_status_t handle_section(parser *ps, char *s)
{
	char tmp[SHOWN_MAX + 4];
	char *close = strchr(s, ']');
	if (!close)
		return fail(ps->err, "missing ']' in section header");
	char *rest = trim(close + 1);
	if (*rest && *rest != '#' && *rest != ';')
		return fail(ps->err, "unexpected text after section header");
	*close = '\0';
	const char *name = trim(s + 1);
	for (const char *const *sec = ms_config_sections(); *sec; sec++) {
		if (!strcmp(*sec, name)) {
			ps->section = *sec;
			return MS_OK;
		}
	}
	return fail(ps->err, "unknown section [%s]", shown(name, tmp));
}

static ms_status_t handle_keyval(parser *ps, char *s)
{
	char tmp[SHOWN_MAX + 4];
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(ps->err, "expected 'key = value', got '%s'",
			    shown(s, tmp));
	*eq = '\0';
	const char *key = trim(s);
	if (!*key)
		return fail(ps->err, "missing key before '='");
	if (!ps->section)
		return fail(ps->err, "key outside any section");
	const ms_config_param *p = find_param(ps, key);
	if (!p)
		return fail(ps->err, "unknown key '%s' in [%s]",
			    shown(key, tmp), ps->section);
	unsigned char seen = ps->seen[p - ps->params]++;
	if (seen && p->type != MS_CT_LINES)
		return fail(ps->err, "duplicate key '%s' in [%s]", p->key,
			    ps->section);
	char *val;
	ms_status_t st = parse_value(ps, eq + 1, &val);
	if (st == MS_OK && p->type == MS_CT_LINES)
		st = set_lines(ps->cfg, p, val, !seen, ps->err);
	else if (st == MS_OK)
		st = set_value(ps->cfg, p, val, ps->base, ps->err);
	return st;
}

static ms_status_t handle_line(parser *ps, char *s)
{
	s = trim(s);
	if (!*s || *s == '#' || *s == ';')
		return MS_OK;
	if (*s == '[')
		return handle_section(ps, s);
	return handle_keyval(ps, s);
}

static ms_status_t parse_text(parser *ps, const char *text, size_t len)
{
	char line[MS_CONFIG_MAX_LINE + 1];
	size_t pos = 0;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = 3; /* UTF-8 byte order mark */
	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl != NULL);
		ps->line++;
		if (n && start[n - 1] == '\r')
			n--;
		if (n > MS_CONFIG_MAX_LINE)
			return fail(ps->err,
				    "line too long (more than %d bytes)",
				    MS_CONFIG_MAX_LINE);
		if (memchr(start, '\0', n))
			return fail(ps->err, "NUL byte in line");
		memcpy(line, start, n);
		line[n] = '\0';
		ms_status_t st = handle_line(ps, line);
		if (st != MS_OK)
			return st;
	}
	return MS_OK;
}

/* ---- loading ---- */

/* The absolute, cleaned directory of name (malloc'ed), or NULL. */
static char *base_dir(const char *name)
{
	const char *slash = strrchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) : 0;
	char *cwd = name[0] == '/' ? NULL : getcwd(NULL, 0);
	if (name[0] != '/' && !cwd)
		return NULL;
	ms_buf b = MS_BUF_INIT;
	ms_status_t st =
		ms_buf_printf(&b, "%s/%.*s", cwd ? cwd : "", (int)n, name);
	free(cwd);
	if (st != MS_OK) {
		ms_buf_free(&b);
		return NULL;
	}
	clean_path(b.data);
	return ms_buf_steal(&b);
}

static void set_err(char **err_r, char *msg)
{
	if (err_r)
		*err_r = msg;
	else
		free(msg);
}

/* Formats "name:line: text" into *err_r. */
static ms_status_t report(const parser *ps, const char *name, ms_status_t st,
			  char **err_r)
{
	ms_buf msg = MS_BUF_INIT;
	if (st == MS_ERR_CONFIG &&
	    ms_buf_printf(&msg, "%s:%u: %s", name, ps->line, ps->err->data))
		st = MS_ERR_NOMEM;
	set_err(err_r, st == MS_ERR_CONFIG ? ms_buf_steal(&msg) : NULL);
	ms_buf_free(&msg);
	return st;
}

ms_status_t ms_config_parse_string(const char *text, size_t len,
				   const char *name, ms_config **cfg_r,
				   char **err_r)
{
	ms_buf err = MS_BUF_INIT;
	parser ps = { .err = &err };
	*cfg_r = NULL;
	set_err(err_r, NULL);
	name = name ? name : "(string)";
	ps.params = ms_config_params(&ps.nparams);
	ms_status_t st = cfg_new(&ps.cfg);
	if (st == MS_OK && !(ps.seen = calloc(ps.nparams, 1)))
		st = MS_ERR_NOMEM;
	ps.base = st == MS_OK ? base_dir(name) : NULL;
	if (st == MS_OK)
		st = parse_text(&ps, text, len);
	free(ps.seen);
	free((char *)ps.base);
	if (st == MS_OK)
		*cfg_r = ps.cfg;
	else
		ms_config_unref(&ps.cfg);
	st = st == MS_OK ? MS_OK : report(&ps, name, st, err_r);
	ms_buf_free(&err);
	return st;
}

/* Reads at most MS_CONFIG_MAX_FILE + 1 bytes of fd into b. */
static ms_status_t read_all(int fd, ms_buf *b)
{
	while (b->len <= MS_CONFIG_MAX_FILE) {
		if (ms_buf_reserve(b, 8192) != MS_OK)
			return MS_ERR_NOMEM;
		ssize_t r = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return MS_ERR_IO;
		if (r == 0)
			break;
		b->len += (size_t)r;
		b->data[b->len] = '\0';
	}
	return MS_OK;
}

/* Sets *err_r to "path: text"; returns st (or MS_ERR_NOMEM). */
static ms_status_t file_error(const char *path, const char *text,
			      ms_status_t st, char **err_r)
{
	ms_buf msg = MS_BUF_INIT;
	if (ms_buf_printf(&msg, "%s: %s", path, text) != MS_OK) {
		ms_buf_free(&msg);
		return MS_ERR_NOMEM;
	}
	set_err(err_r, ms_buf_steal(&msg));
	return st;
}

ms_status_t ms_config_load(const char *path, ms_config **cfg_r, char **err_r)
{
	ms_buf b = MS_BUF_INIT;
	*cfg_r = NULL;
	set_err(err_r, NULL);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_error(path, strerror(errno), MS_ERR_IO, err_r);
	ms_status_t st = read_all(fd, &b);
	int saved = errno;
	close(fd);
	if (st == MS_ERR_IO)
		st = file_error(path, strerror(saved), MS_ERR_IO, err_r);
	else if (st == MS_OK && b.len > MS_CONFIG_MAX_FILE)
		st = file_error(path, "file too large (more than 1 MiB)",
				MS_ERR_CONFIG, err_r);
	else if (st == MS_OK)
		st = ms_config_parse_string(b.data ? b.data : "", b.len, path,
					    cfg_r, err_r);
	ms_buf_free(&b);
	return st;
}

/* ---- dump ---- */

static int needs_quotes(const char *s)
{
	size_t n = strlen(s);
	return n == 0 || is_ws(s[0]) || is_ws(s[n - 1]) ||
	       strpbrk(s, "#;\"") != NULL;
}

static ms_status_t put_string(ms_buf *out, const char *s)
{
	if (!needs_quotes(s))
		return ms_buf_puts(out, s);
	ms_status_t st = ms_buf_putc(out, '"');
	for (; *s && st == MS_OK; s++) {
		if (*s == '"' || *s == '\\')
			st = ms_buf_putc(out, '\\');
		if (st == MS_OK)
			st = ms_buf_putc(out, *s);
	}
	return st ? st : ms_buf_putc(out, '"');
}

static ms_status_t put_list(ms_buf *out, char *const *list)
{
	ms_buf tmp = MS_BUF_INIT;
	ms_status_t st = ms_buf_puts(&tmp, "");
	for (size_t i = 0; list[i] && st == MS_OK; i++)
		st = ms_buf_printf(&tmp, "%s%s", i ? ", " : "", list[i]);
	if (st == MS_OK)
		st = put_string(out, tmp.data);
	ms_buf_free(&tmp);
	return st;
}

static ms_status_t put_value(ms_buf *out, const ms_config *cfg,
			     const ms_config_param *p)
{
	const void *m = (const char *)cfg + p->offset;
	char num[32];
	switch (p->type) {
	case MS_CT_STRING:
	case MS_CT_PATH:
		return put_string(out, *(char *const *)m);
	case MS_CT_BOOL:
		return ms_buf_puts(out, *(const bool *)m ? "yes" : "no");
	case MS_CT_UINT:
	case MS_CT_DURATION:
		fmt_number(num, sizeof num, p, *(const unsigned *)m);
		return ms_buf_puts(out, num);
	case MS_CT_SIZE:
		fmt_number(num, sizeof num, p, *(const uint64_t *)m);
		return ms_buf_puts(out, num);
	case MS_CT_ENUM:
		return ms_buf_puts(out, p->choices[*(const int *)m]);
	case MS_CT_LIST:
		return put_list(out, *(char **const *)m);
	case MS_CT_LINES: /* put_param writes the lines */
		break;
	}
	return MS_ERR_INVALID;
}

/* Writes "key = value\n"; a lines parameter as one such line per item
 * (key = "" when it has none). */
static ms_status_t put_param(ms_buf *out, const ms_config *cfg,
			     const ms_config_param *p)
{
	char *const *lines =
		p->type == MS_CT_LINES
			? *(char **const *)((const char *)cfg + p->offset)
			: NULL;
	ms_status_t st = MS_OK;
	for (size_t i = 0; lines && lines[i] && !st; i++) {
		st = ms_buf_printf(out, "%s = ", p->key);
		st = st ? st : put_string(out, lines[i]);
		st = st ? st : ms_buf_putc(out, '\n');
	}
	if (lines && lines[0])
		return st;
	st = ms_buf_printf(out, "%s = ", p->key);
	st = st ? st : lines ? put_string(out, "") : put_value(out, cfg, p);
	return st ? st : ms_buf_putc(out, '\n');
}

ms_status_t ms_config_dump(const ms_config *cfg, ms_buf *out)
{
	size_t n;
	const ms_config_param *params = ms_config_params(&n);
	const char *const *sec = ms_config_sections();
	ms_status_t st = MS_OK;
	for (size_t s = 0; sec[s] && st == MS_OK; s++) {
		st = ms_buf_printf(out, "%s[%s]\n", s ? "\n" : "", sec[s]);
		for (size_t i = 0; i < n && st == MS_OK; i++) {
			if (strcmp(params[i].section, sec[s]))
				continue;
			st = put_param(out, cfg, &params[i]);
		}
	}
	return st;
}
