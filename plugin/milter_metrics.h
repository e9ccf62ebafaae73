/* milter_metrics.h - mailsift-milter's Prometheus metrics: the hooks the
 * outcome points call, and the [milter] metrics listener.
 *
 * Series (names after the Prometheus conventions):
 *   mailsift_milter_messages_total{outcome,action}  messages at end of data;
 *     outcome: clean infected blocked scan_failure oversize unscanned
 *     spool_failure too_big bad_header; action: accept reject tempfail
 *     discard quarantine (so tempfails by reason are action="tempfail")
 *   mailsift_milter_received_bytes_total  message bytes at end of data
 *   mailsift_milter_scan_duration_seconds  clamd INSTREAM time (histogram)
 *   mailsift_milter_eom_duration_seconds   end of data to the reply
 *   mailsift_milter_clamd_errors_total{server}  failed attempts per
 *     [scanner] clamd endpoint (each one failed over or given up)
 *   mailsift_milter_connections_refused_total  over max_connections
 * Counting is always on (lock-free atomics); the listener runs only when
 * [milter] metrics is set. Every hook is safe from any thread.
 */
#ifndef MILTER_METRICS_H
#define MILTER_METRICS_H

#include <stdint.h>

#include "ms_config.h"

struct msm_verdict;

/* Makes the registry on the first call, then starts, moves or stops the
 * listener to match cfg->milter_metrics (logged; a listener that cannot
 * start leaves the milter running without one). Called with each
 * configuration snapshot installed; not thread-safe against itself. */
void msm_metrics_apply(const ms_config *cfg);

/* A message's end: its verdict, the milter status returned (sfsistat),
 * its size and the ms_metrics_now() at which end of data began. */
void msm_metrics_message(const ms_config *cfg, const struct msm_verdict *v,
			 int status, uint64_t size, double t0);
/* A clamd scan that began at ms_metrics_now() t0 has ended. */
void msm_metrics_scan(double t0);
/* An attempt on clamd endpoint ep failed. */
void msm_metrics_clamd_error(const char *ep);
/* A connection was refused or dropped (max_connections). */
void msm_metrics_refused(void);

#endif
