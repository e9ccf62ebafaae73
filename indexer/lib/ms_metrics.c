/* ms_metrics.c - the metrics registry and its text rendering
 * (ms_metrics.h).
 *
 * Functions: ms_metrics_new, ms_metrics_free, ms_metrics_counter,
 * ms_metrics_gauge, ms_metrics_histogram, ms_metric_get, ms_series_inc,
 * ms_series_add, ms_series_set, ms_series_observe, ms_series_value,
 * ms_metrics_on_scrape, ms_metrics_render, ms_metrics_now.
 *
 * A family's series sit in a fixed array published through an atomic
 * count: a new series is written, then the count is raised (release), so
 * a reader that sees the count (acquire) sees the series. Gauges and
 * histogram sums are doubles kept as their bits in atomic 64-bit words.
 */
#include "ms_metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VALUE_MAX 255 /* bytes kept of a label value */
#define OTHER	  "_other"

typedef enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM } kind;

struct ms_series {
	const struct ms_metric *f;
	char *values[MS_METRICS_MAX_LABELS];
	_Atomic uint64_t v;	   /* counter: count; gauge: double bits */
	_Atomic uint64_t sum;	   /* histogram: double bits */
	_Atomic uint64_t *buckets; /* histogram: n_bounds + 1 counts */
};

struct ms_metric {
	kind k;
	char *name, *help;
	char *labels[MS_METRICS_MAX_LABELS];
	size_t n_labels;
	double bounds[MS_METRICS_MAX_BUCKETS];
	size_t n_bounds;
	_Atomic(ms_series *) series[MS_METRICS_MAX_SERIES];
	atomic_size_t n; /* published series, the overflow one included */
	_Atomic(ms_series *) other; /* the overflow series, if made */
	pthread_mutex_t mu;	    /* making series */
	ms_metric *next;
};

typedef struct scrape_cb {
	void (*fn)(void *arg);
	void *arg;
} scrape_cb;

struct ms_metrics {
	pthread_mutex_t mu; /* registering, rendering */
	ms_metric *first, *last;
	scrape_cb cb[MS_METRICS_MAX_CALLBACKS];
	size_t n_cb;
};

static uint64_t bits_of(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static double double_of(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

/* ---- registry and families ---- */

ms_metrics *ms_metrics_new(void)
{
	ms_metrics *m = calloc(1, sizeof *m);
	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void series_free(ms_series *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < MS_METRICS_MAX_LABELS; i++)
		free(s->values[i]);
	free(s->buckets);
	free(s);
}

static void family_free(ms_metric *f)
{
	size_t n = atomic_load(&f->n);
	for (size_t i = 0; i < n; i++)
		series_free(atomic_load(&f->series[i]));
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void ms_metrics_free(ms_metrics **m)
{
	if (!m || !*m)
		return;
	for (ms_metric *f = (*m)->first, *next; f; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&(*m)->mu);
	free(*m);
	*m = NULL;
}

static int name_ok(const char *s, int colon)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' ||
		      (colon && *s == ':')))
			return 0;
	return 1;
}

static int labels_ok(const char *const *labels, kind k, size_t *n_r)
{
	size_t n = 0;
	for (; labels && labels[n]; n++)
		if (n == MS_METRICS_MAX_LABELS || !name_ok(labels[n], 0) ||
		    strncmp(labels[n], "__", 2) == 0 ||
		    (k == K_HISTOGRAM && strcmp(labels[n], "le") == 0))
			return 0;
	*n_r = n;
	return 1;
}

static ms_metric *find_family(const ms_metrics *m, const char *name)
{
	for (ms_metric *f = m->first; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* A new family (not yet linked), or NULL. */
static ms_metric *family_new(kind k, const char *name, const char *help,
			     const char *const *labels, size_t n_labels)
{
	ms_metric *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	f->k = k;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	int ok = f->name && f->help;
	for (size_t i = 0; i < n_labels; i++)
		ok = (f->labels[f->n_labels++] = strdup(labels[i])) && ok;
	if (!ok) {
		family_free(f);
		return NULL;
	}
	return f;
}

static ms_metric *add_family(ms_metrics *m, kind k, const char *name,
			     const char *help, const char *const *labels,
			     const double *bounds, size_t n_bounds)
{
	size_t n_labels = 0;
	if (!m || !name_ok(name, 1) || !labels_ok(labels, k, &n_labels))
		return NULL;
	pthread_mutex_lock(&m->mu);
	ms_metric *f = find_family(m, name)
			       ? NULL
			       : family_new(k, name, help, labels, n_labels);
	if (f) {
		if (n_bounds)
			memcpy(f->bounds, bounds, n_bounds * sizeof *bounds);
		f->n_bounds = n_bounds;
		*(m->last ? &m->last->next : &m->first) = f;
		m->last = f;
	}
	pthread_mutex_unlock(&m->mu);
	if (f && n_labels == 0)
		ms_metric_get(f, NULL);
	return f;
}

ms_metric *ms_metrics_counter(ms_metrics *m, const char *name, const char *help,
			      const char *const *labels)
{
	return add_family(m, K_COUNTER, name, help, labels, NULL, 0);
}

ms_metric *ms_metrics_gauge(ms_metrics *m, const char *name, const char *help,
			    const char *const *labels)
{
	return add_family(m, K_GAUGE, name, help, labels, NULL, 0);
}

ms_metric *ms_metrics_histogram(ms_metrics *m, const char *name,
				const char *help, const char *const *labels,
				const double *bounds, size_t n_bounds)
{
	if (!bounds || n_bounds == 0 || n_bounds > MS_METRICS_MAX_BUCKETS)
		return NULL;
	for (size_t i = 0; i < n_bounds; i++)
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return NULL;
	return add_family(m, K_HISTOGRAM, name, help, labels, bounds, n_bounds);
}

/* ---- series ---- */

static int same_values(const ms_series *s, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(s->values[i], values[i], VALUE_MAX) != 0)
			return 0;
	return 1;
}

static ms_series *find_series(ms_metric *f, const char *const *values)
{
	size_t n = atomic_load_explicit(&f->n, memory_order_acquire);
	for (size_t i = 0; i < n; i++) {
		ms_series *s = atomic_load_explicit(&f->series[i],
						    memory_order_relaxed);
		if (same_values(s, values, f->n_labels))
			return s;
	}
	return NULL;
}

static ms_series *series_new(const ms_metric *f, const char *const *values)
{
	ms_series *s = calloc(1, sizeof *s);
	int ok = s != NULL;
	if (ok)
		s->f = f;
	for (size_t i = 0; ok && i < f->n_labels; i++)
		ok = (s->values[i] = strndup(values[i], VALUE_MAX)) != NULL;
	if (ok && f->k == K_HISTOGRAM)
		ok = (s->buckets = calloc(f->n_bounds + 1,
					  sizeof *s->buckets)) != NULL;
	if (!ok) {
		series_free(s);
		return NULL;
	}
	return s;
}

/* With f->mu held: makes the series (or the overflow one if f is full)
 * and publishes it. */
static ms_series *make_series(ms_metric *f, const char *const *values)
{
	size_t n = atomic_load_explicit(&f->n, memory_order_relaxed);
	const char *other[MS_METRICS_MAX_LABELS + 1] = { NULL };
	if (n + 1 >= MS_METRICS_MAX_SERIES) {
		ms_series *o = atomic_load(&f->other);
		if (o || n == MS_METRICS_MAX_SERIES)
			return o;
		for (size_t i = 0; i < f->n_labels; i++)
			other[i] = OTHER;
		values = other;
	}
	ms_series *s = series_new(f, values);
	if (!s)
		return NULL;
	atomic_store_explicit(&f->series[n], s, memory_order_relaxed);
	if (values == other)
		atomic_store(&f->other, s);
	atomic_store_explicit(&f->n, n + 1, memory_order_release);
	return s;
}

ms_series *ms_metric_get(ms_metric *f, const char *const *values)
{
	size_t n = 0;
	while (values && values[n])
		n++;
	if (!f || n != f->n_labels)
		return NULL;
	ms_series *s = find_series(f, values);
	if (s)
		return s;
	pthread_mutex_lock(&f->mu);
	if (!(s = find_series(f, values)))
		s = make_series(f, values);
	pthread_mutex_unlock(&f->mu);
	return s;
}

void ms_series_inc(ms_series *s)
{
	ms_series_add(s, 1);
}

void ms_series_add(ms_series *s, uint64_t n)
{
	if (s)
		atomic_fetch_add_explicit(&s->v, n, memory_order_relaxed);
}

void ms_series_set(ms_series *s, double v)
{
	if (s)
		atomic_store_explicit(&s->v, bits_of(v), memory_order_relaxed);
}

/* Adds d to the double kept in *w. */
static void add_double(_Atomic uint64_t *w, double d)
{
	uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
		w, &old, bits_of(double_of(old) + d), memory_order_relaxed,
		memory_order_relaxed))
		;
}

void ms_series_observe(ms_series *s, double v)
{
	if (!s || !s->buckets || isnan(v))
		return;
	size_t i = 0;
	while (i < s->f->n_bounds && v > s->f->bounds[i])
		i++;
	atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
	add_double(&s->sum, v);
}

/* A histogram's observations, the buckets read one by one. */
static uint64_t hist_count(const ms_series *s)
{
	uint64_t n = 0;
	for (size_t i = 0; i <= s->f->n_bounds; i++)
		n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
	return n;
}

double ms_series_value(const ms_series *s, uint64_t *count_r)
{
	if (count_r)
		*count_r = s && s->buckets ? hist_count(s) : 0;
	if (!s)
		return 0;
	uint64_t v = atomic_load_explicit(s->buckets ? &s->sum : &s->v,
					  memory_order_relaxed);
	if (s->f->k == K_COUNTER)
		return (double)v;
	return double_of(v);
}

ms_status_t ms_metrics_on_scrape(ms_metrics *m, void (*fn)(void *arg),
				 void *arg)
{
	if (!m || !fn)
		return MS_ERR_INVALID;
	pthread_mutex_lock(&m->mu);
	ms_status_t st =
		m->n_cb < MS_METRICS_MAX_CALLBACKS ? MS_OK : MS_ERR_LIMIT;
	if (st == MS_OK)
		m->cb[m->n_cb++] = (scrape_cb){ fn, arg };
	pthread_mutex_unlock(&m->mu);
	return st;
}

double ms_metrics_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- rendering ----
 * Each put_* returns the number of appends that failed (out of memory):
 * 0 when everything went in. */

/* Appends v the way Prometheus reads it: NaN, +Inf, -Inf, or the
 * shorter of %.15g and %.17g that reads back as v. */
static int put_double(ms_buf *b, double v)
{
	char t[40];
	if (isnan(v))
		snprintf(t, sizeof t, "NaN");
	else if (isinf(v))
		snprintf(t, sizeof t, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (snprintf(t, sizeof t, "%.15g", v) > 0 && strtod(t, NULL) != v)
		snprintf(t, sizeof t, "%.17g", v);
	return ms_buf_puts(b, t) != MS_OK;
}

/* Appends s with backslash and newline (and, in label values, the double
 * quote) escaped. */
static int put_escaped(ms_buf *b, const char *s, int quote)
{
	int bad = 0;
	for (; *s; s++) {
		if (*s == '\\')
			bad += ms_buf_puts(b, "\\\\") != MS_OK;
		else if (*s == '\n')
			bad += ms_buf_puts(b, "\\n") != MS_OK;
		else if (quote && *s == '"')
			bad += ms_buf_puts(b, "\\\"") != MS_OK;
		else
			bad += ms_buf_putc(b, *s) != MS_OK;
	}
	return bad;
}

/* Appends the series' {labels}, with le="bound" when le is not NULL
 * (NaN: "+Inf"); nothing when there are none. */
static int put_labels(ms_buf *b, const ms_series *s, const double *le)
{
	const ms_metric *f = s->f;
	int bad = 0;
	if (!f->n_labels && !le)
		return 0;
	bad += ms_buf_putc(b, '{') != MS_OK;
	for (size_t i = 0; i < f->n_labels; i++) {
		bad += ms_buf_printf(b, "%s%s=\"", i ? "," : "",
				     f->labels[i]) != MS_OK;
		bad += put_escaped(b, s->values[i], 1);
		bad += ms_buf_putc(b, '"') != MS_OK;
	}
	if (le) {
		bad += ms_buf_printf(b, "%sle=\"", f->n_labels ? "," : "") !=
		       MS_OK;
		bad += isnan(*le) ? ms_buf_puts(b, "+Inf") != MS_OK
				  : put_double(b, *le);
		bad += ms_buf_putc(b, '"') != MS_OK;
	}
	return bad + (ms_buf_putc(b, '}') != MS_OK);
}

/* "NAME{labels} " (suffix after NAME, e.g. "_sum"). */
static int put_head(ms_buf *b, const ms_series *s, const char *suffix,
		    const double *le)
{
	int bad = ms_buf_printf(b, "%s%s", s->f->name, suffix) != MS_OK;
	bad += put_labels(b, s, le);
	return bad + (ms_buf_putc(b, ' ') != MS_OK);
}

static int put_uint_line(ms_buf *b, uint64_t v)
{
	return ms_buf_printf(b, "%llu\n", (unsigned long long)v) != MS_OK;
}

static int put_histogram(ms_buf *b, const ms_series *s)
{
	const ms_metric *f = s->f;
	uint64_t cum = 0;
	int bad = 0;
	for (size_t i = 0; i <= f->n_bounds; i++) {
		double le = i < f->n_bounds ? f->bounds[i] : NAN;
		cum += atomic_load_explicit(&s->buckets[i],
					    memory_order_relaxed);
		bad += put_head(b, s, "_bucket", &le) + put_uint_line(b, cum);
	}
	bad += put_head(b, s, "_sum", NULL);
	bad += put_double(b, double_of(atomic_load(&s->sum)));
	bad += ms_buf_putc(b, '\n') != MS_OK;
	return bad + put_head(b, s, "_count", NULL) + put_uint_line(b, cum);
}

static int put_series(ms_buf *b, const ms_series *s)
{
	if (s->f->k == K_HISTOGRAM)
		return put_histogram(b, s);
	uint64_t v = atomic_load_explicit(&s->v, memory_order_relaxed);
	int bad = put_head(b, s, "", NULL);
	if (s->f->k == K_COUNTER)
		return bad + put_uint_line(b, v);
	bad += put_double(b, double_of(v));
	return bad + (ms_buf_putc(b, '\n') != MS_OK);
}

static const char *const type_names[] = { "counter", "gauge", "histogram" };

static int put_family(ms_buf *b, const ms_metric *f)
{
	size_t n = atomic_load_explicit(&f->n, memory_order_acquire);
	if (!n)
		return 0;
	int bad = ms_buf_printf(b, "# HELP %s ", f->name) != MS_OK;
	bad += put_escaped(b, f->help, 0);
	bad += ms_buf_printf(b, "\n# TYPE %s %s\n", f->name,
			     type_names[f->k]) != MS_OK;
	for (size_t i = 0; i < n; i++)
		bad += put_series(b,
				  atomic_load_explicit(&f->series[i],
						       memory_order_relaxed));
	return bad;
}

ms_status_t ms_metrics_render(ms_metrics *m, ms_buf *out)
{
	int bad = 0;
	if (!m)
		return MS_OK;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n_cb; i++)
		m->cb[i].fn(m->cb[i].arg);
	for (const ms_metric *f = m->first; f && !bad; f = f->next)
		bad = put_family(out, f);
	pthread_mutex_unlock(&m->mu);
	return bad ? MS_ERR_NOMEM : MS_OK;
}
