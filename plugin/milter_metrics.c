/* milter_metrics.c - mailsift-milter's metrics (milter_metrics.h).
 *
 * Functions: msm_metrics_apply, msm_metrics_message, msm_metrics_scan,
 * msm_metrics_clamd_error, msm_metrics_refused; file-local make_registry,
 * outcome_name, action_name. The families are made once, before the
 * libmilter threads start; later calls only read their pointers.
 */
#include "milter_metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"
#include "ms_log.h"
#include "ms_metrics.h"

static const double scan_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120
};

static pthread_mutex_t apply_mu = PTHREAD_MUTEX_INITIALIZER;
static ms_metrics *reg;
static ms_metric *f_messages, *f_clamd_errors;
static ms_series *s_bytes, *s_scan, *s_eom, *s_refused;
static ms_metrics_server *srv;
static char *srv_addr; /* what srv listens on */

static void make_registry(void)
{
	size_t nb = sizeof scan_bounds / sizeof scan_bounds[0];
	if (!(reg = ms_metrics_new()))
		return;
	f_messages = ms_metrics_counter(
		reg, "mailsift_milter_messages_total",
		"Messages at end of data, by outcome and the reply given.",
		MS_LABELS("outcome", "action"));
	ms_metric_get(f_messages, MS_LABELS("clean", "accept"));
	s_bytes = ms_metric_get(
		ms_metrics_counter(reg, "mailsift_milter_received_bytes_total",
				   "Message bytes received (at end of data).",
				   NULL),
		NULL);
	s_scan = ms_metric_get(
		ms_metrics_histogram(reg,
				     "mailsift_milter_scan_duration_seconds",
				     "Time clamd took to scan a message "
				     "(INSTREAM, fail-over included).",
				     NULL, scan_bounds, nb),
		NULL);
	s_eom = ms_metric_get(
		ms_metrics_histogram(reg,
				     "mailsift_milter_eom_duration_seconds",
				     "Time from end of data to the reply "
				     "(policy, scan, spool commit).",
				     NULL, scan_bounds, nb),
		NULL);
	f_clamd_errors = ms_metrics_counter(
		reg, "mailsift_milter_clamd_errors_total",
		"Failed attempts to scan with a clamd endpoint.",
		MS_LABELS("server"));
	s_refused = ms_metric_get(
		ms_metrics_counter(reg,
				   "mailsift_milter_connections_refused_total",
				   "Connections refused or dropped over "
				   "max_connections.",
				   NULL),
		NULL);
}

/* Stops the listener if it is not on addr, then starts one on addr. */
static void listen_on(const char *addr)
{
	if (srv_addr && strcmp(srv_addr, addr) == 0)
		return;
	ms_metrics_server_stop(&srv);
	free(srv_addr);
	srv_addr = NULL;
	if (!*addr)
		return;
	char *err = NULL;
	if (ms_metrics_serve(reg, addr, &srv, &err) != MS_OK) {
		ms_log_error("%s; going on without metrics",
			     err ? err : "metrics: out of memory");
		free(err);
		return;
	}
	srv_addr = strdup(addr);
	ms_log_info("metrics on http://%s/metrics", addr);
}

void msm_metrics_apply(const ms_config *cfg)
{
	pthread_mutex_lock(&apply_mu);
	if (!reg)
		make_registry();
	if (reg)
		listen_on(cfg->milter_metrics);
	pthread_mutex_unlock(&apply_mu);
}

static const char *outcome_name(msm_outcome o)
{
	static const char *const names[] = {
		[MSM_CLEAN] = "clean",
		[MSM_INFECTED] = "infected",
		[MSM_BLOCKED] = "blocked",
		[MSM_SCAN_FAIL] = "scan_failure",
		[MSM_OVERSIZE] = "oversize",
		[MSM_UNSCANNED] = "unscanned",
		[MSM_SPOOL_FAIL] = "spool_failure",
		[MSM_TOO_BIG] = "too_big",
		[MSM_BAD_HEADER] = "bad_header",
		[MSM_NO_RCPT] = "no_rcpt",
	};
	return (unsigned)o < sizeof names / sizeof names[0] && names[o]
		       ? names[o]
		       : "other";
}

static const char *action_name(const ms_config *cfg, msm_outcome o, int status)
{
	if (status == SMFIS_ACCEPT && (o == MSM_INFECTED || o == MSM_BLOCKED) &&
	    cfg->policy_on_infected == MS_ON_INFECTED_QUARANTINE)
		return "quarantine";
	switch (status) {
	case SMFIS_ACCEPT:
	case SMFIS_CONTINUE:
		return "accept";
	case SMFIS_REJECT:
		return "reject";
	case SMFIS_TEMPFAIL:
		return "tempfail";
	case SMFIS_DISCARD:
		return "discard";
	default:
		return "other";
	}
}

void msm_metrics_message(const ms_config *cfg, const struct msm_verdict *v,
			 int status, uint64_t size, double t0)
{
	if (!reg)
		return;
	ms_series_inc(ms_metric_get(
		f_messages, MS_LABELS(outcome_name(v->outcome),
				      action_name(cfg, v->outcome, status))));
	ms_series_add(s_bytes, size);
	ms_series_observe(s_eom, ms_metrics_now() - t0);
}

void msm_metrics_scan(double t0)
{
	if (reg)
		ms_series_observe(s_scan, ms_metrics_now() - t0);
}

void msm_metrics_clamd_error(const char *ep)
{
	if (reg)
		ms_series_inc(ms_metric_get(f_clamd_errors, MS_LABELS(ep)));
}

void msm_metrics_refused(void)
{
	ms_series_inc(s_refused);
}
