/* ms_metrics.h - a small metrics registry (counters, gauges, histograms
 * with labelled series) rendered in the Prometheus text exposition format
 * (version 0.0.4), and its HTTP server (ms_metrics_http.c).
 *
 * A registry holds metric families in registration order. A family has a
 * name (mailsift_..., a counter's ending in _total, units in the name:
 * _seconds, _bytes), a one-line help text, up to MS_METRICS_MAX_LABELS
 * label names, and series: one per combination of label values, made on
 * first use and never removed. A family holds at most MS_METRICS_MAX_SERIES
 * series; values beyond that go to one overflow series whose every label
 * value is "_other", so a label set stays bounded whatever the input.
 *
 * Threads: updates (inc, add, set, observe) are lock-free atomics from
 * any thread; looking up an existing series is lock-free too (a mutex is
 * taken only to make a new one). Rendering takes the registry's mutex, runs
 * the scrape callbacks (which may set gauges), then reads every series.
 * A histogram's buckets, sum and count are read one after the other, so a
 * scrape racing an observation may see it in some and not yet in others;
 * _count is always the sum of the buckets rendered.
 *
 * Every update function is a no-op on NULL, so a daemon with metrics off
 * (no registry, NULL series) calls the same hooks at the cost of a test.
 * Families and series belong to the registry: ms_metrics_free() frees them
 * all, after which no pointer to them may be used.
 */
#ifndef MS_METRICS_H
#define MS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_status.h"

#define MS_METRICS_MAX_LABELS	 4
#define MS_METRICS_MAX_SERIES	 256 /* per family, overflow series included */
#define MS_METRICS_MAX_BUCKETS	 32  /* histogram bounds, +Inf not counted */
#define MS_METRICS_MAX_CALLBACKS 8

typedef struct ms_metrics ms_metrics;
typedef struct ms_metric ms_metric; /* a family */
typedef struct ms_series ms_series; /* one labelled series of a family */

/* A NULL-terminated list of label names or values, as a compound literal:
 * MS_LABELS("outcome", "action"). */
#define MS_LABELS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* A new, empty registry, or NULL (out of memory). Free with
 * ms_metrics_free(), which sets *m to NULL; NULL-safe. */
ms_metrics *ms_metrics_new(void);
void ms_metrics_free(ms_metrics **m);

/* Register a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be new
 * in m; labels (NULL = none) names [a-zA-Z_][a-zA-Z0-9_]* not starting
 * with "__" (and not "le" for a histogram); help is copied. A family
 * without labels gets its one series at once (rendered as 0). Returns the
 * family (owned by m), or NULL for a bad or duplicate name, too many
 * labels, bad bounds (histogram: 1..MS_METRICS_MAX_BUCKETS finite values,
 * strictly increasing) or no memory; NULL is a valid no-op family. */
ms_metric *ms_metrics_counter(ms_metrics *m, const char *name, const char *help,
			      const char *const *labels);
ms_metric *ms_metrics_gauge(ms_metrics *m, const char *name, const char *help,
			    const char *const *labels);
ms_metric *ms_metrics_histogram(ms_metrics *m, const char *name,
				const char *help, const char *const *labels,
				const double *bounds, size_t n_bounds);

/* The series of f with these label values (NULL-terminated, as many as f
 * has labels; NULL for a family without labels), made if new. Values may
 * be any bytes but NUL; they are copied (at most 255 bytes each, longer
 * ones are cut). Returns NULL for f NULL, a wrong number of values or no
 * memory; the overflow series when f is full. Owned by the registry. */
ms_series *ms_metric_get(ms_metric *f, const char *const *values);

/* Counters (non-negative integers that only go up). */
void ms_series_inc(ms_series *s);
void ms_series_add(ms_series *s, uint64_t n);
/* Gauges (any double). */
void ms_series_set(ms_series *s, double v);
/* Histograms: counts v in the first bucket whose bound is >= v (+Inf
 * after the last) and adds it to the sum. */
void ms_series_observe(ms_series *s, double v);

/* The current value: a counter's count or a gauge's value; for a
 * histogram its sum, with *count_r (if not NULL) its observations.
 * 0 for NULL. For tests and scrape callbacks. */
double ms_series_value(const ms_series *s, uint64_t *count_r);

/* Registers fn(arg), called at the start of every render under the
 * registry's mutex (one at a time), to set gauges that need a fresh
 * reading. MS_OK, MS_ERR_LIMIT (MS_METRICS_MAX_CALLBACKS already),
 * MS_ERR_INVALID (m or fn NULL). arg must outlive the registry or the
 * server that renders it. */
ms_status_t ms_metrics_on_scrape(ms_metrics *m, void (*fn)(void *arg),
				 void *arg);

/* Appends the text exposition of every family that has a series: "# HELP"
 * and "# TYPE" lines, then one line per series (a histogram's _bucket
 * lines with le, then _sum and _count). Label values are escaped (\\, \",
 * \n), so are help texts (\\, \n). MS_OK, or MS_ERR_NOMEM (out holds part
 * of the text). */
ms_status_t ms_metrics_render(ms_metrics *m, ms_buf *out);

/* Seconds on CLOCK_MONOTONIC, for durations: observe(now() - start). */
double ms_metrics_now(void);

/* ---- the HTTP server (ms_metrics_http.c, libmicrohttpd) ---- */

typedef struct ms_metrics_server ms_metrics_server;

/* Serves m on addr ("HOST:PORT" or "[ADDR]:PORT", numeric, see
 * ms_addr.h) in a thread of its own: GET or HEAD /metrics answers 200 with
 * the rendering (Content-Type text/plain; version=0.0.4), other paths 404,
 * other methods 405. m must outlive the server. MS_OK with *srv_r;
 * MS_ERR_CONFIG (bad address) or MS_ERR_IO (cannot listen: address in use,
 * not local) with *err_r (if err_r; caller frees) one line naming addr. */
ms_status_t ms_metrics_serve(ms_metrics *m, const char *addr,
			     ms_metrics_server **srv_r, char **err_r);
/* Stops serving (waits for a scrape under way) and frees *srv, setting it
 * to NULL. NULL-safe. */
void ms_metrics_server_stop(ms_metrics_server **srv);

#endif
