/* milter_eom.c - end of message: scan, decide, hand off, edit headers.
 *
 * Functions: msm_eom. Order matters for invariant 1 (nothing accepted is
 * lost): the spool entry is committed (fsync of file and directory) before
 * the reply is returned; if that fails the message is tempfailed. One log
 * line per message carries the Postfix queue id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"
#include "milter_metrics.h"
#include "ms_log.h"
#include "ms_metrics.h"

#define VERSION "0.1"

/* Scans the spooled message with clamd and the attachment policy. */
static void scan(msm_conn *conn, msm_msg *m, msm_verdict *v)
{
	const ms_config *cfg = conn->conf->cfg;
	int fd = ms_spool_fd(m->w);
	uint64_t size = ms_spool_size(m->w);
	v->outcome = MSM_CLEAN;
	if (m->unremovable) {
		v->outcome = MSM_BAD_HEADER;
		snprintf(v->reason, sizeof v->reason,
			 "forged header name over %d bytes", MSM_DEL_NAME_MAX);
		return;
	}
	if (cfg->milter_max_message_size &&
	    size > cfg->milter_max_message_size) {
		v->outcome = MSM_TOO_BIG;
		snprintf(v->reason, sizeof v->reason, "size %llu over limit",
			 (unsigned long long)size);
		return;
	}
	if (fd < 0) {
		v->outcome = MSM_SPOOL_FAIL;
		snprintf(v->reason, sizeof v->reason, "spool: %.240s",
			 ms_spool_error(m->w));
		return;
	}
	if (size > cfg->scanner_max_scan_size) {
		v->outcome = MSM_OVERSIZE;
		snprintf(v->reason, sizeof v->reason,
			 "size %llu over scan limit", (unsigned long long)size);
		return;
	}
	ms_policy_result pr = { 0 };
	if (ms_policy_check(conn->conf->policy, fd, size, &pr) == MS_OK &&
	    pr.blocked) {
		v->outcome = MSM_BLOCKED;
		snprintf(v->reason, sizeof v->reason, "%.250s", pr.reason);
		return;
	}
	if (cfg->policy_skip_authenticated && m->auth) {
		v->outcome = MSM_UNSCANNED;
		snprintf(v->reason, sizeof v->reason, "authenticated sender");
		return;
	}
	ms_scan_verdict sv;
	double t0 = ms_metrics_now();
	ms_clamd_scan(&conn->conf->clamd, fd, size, &sv);
	msm_metrics_scan(t0);
	if (sv.result == MS_SCAN_INFECTED) {
		v->outcome = MSM_INFECTED;
		snprintf(v->virus, sizeof v->virus, "%s", sv.virus);
	} else if (sv.result == MS_SCAN_FAILED) {
		v->outcome = MSM_SCAN_FAIL;
		snprintf(v->reason, sizeof v->reason, "scanner: %.200s",
			 sv.reason);
	}
}

/* Commits the spool entry with its envelope, or drops it. */
static void hand_off(msm_conn *conn, msm_msg *m, const char *qid,
		     msm_verdict *v)
{
	const ms_config *cfg = conn->conf->cfg;
	if (!msm_outcome_spooled(cfg, v->outcome)) {
		ms_spool_abort(&m->w);
		return;
	}
	ms_envelope env = {
		.id = m->id,
		.sender = m->sender,
		.rcpts = (const char *const *)m->rcpts,
		.n_rcpts = m->n_rcpts,
		.queue_id = qid,
		.client = conn->client,
		.helo = conn->helo,
		.auth_user = m->auth,
		.verdict = msm_verdict_word(v->outcome),
		.virus = v->outcome == MSM_INFECTED  ? v->virus
			 : v->outcome == MSM_BLOCKED ? v->reason
						     : NULL,
		.time = m->time,
	};
	char *err = NULL;
	if (ms_spool_commit(&m->w, &env, &err) != MS_OK) {
		v->outcome = MSM_SPOOL_FAIL;
		snprintf(v->reason, sizeof v->reason, "spool: %s",
			 err ? err : "commit failed");
	}
	free(err);
}

/* Removes forged headers (highest index first) and adds ours. */
static void edit_headers(SMFICTX *ctx, msm_conn *conn, msm_msg *m,
			 const msm_verdict *v)
{
	for (size_t i = m->n_strip; i-- > 0;) {
		const msm_forged *f = &m->strip[i];
		if (smfi_chgheader(ctx, f->name, (int)f->idx, NULL) !=
		    MI_SUCCESS)
			ms_log_error("%s: cannot delete header %.64s... (%zu "
				     "bytes)",
				     m->id, f->name, f->len);
	}
	const char *sp = conn->leadspc ? " " : "";
	char scanned[400], status[400], id[64], st[300];
	snprintf(scanned, sizeof scanned, "%smailsift %s on %s", sp, VERSION,
		 conn->conf->host);
	msm_status_header(v, st, sizeof st);
	snprintf(status, sizeof status, "%s%s", sp, st);
	snprintf(id, sizeof id, "%s%s", sp, m->id);
	smfi_addheader(ctx, "X-Virus-Scanned", scanned);
	smfi_addheader(ctx, "X-Virus-Status", status);
	smfi_addheader(ctx, "X-Mailsift-Id", id);
}

/* The one line per message. The queue id and the sender come from the
 * network: ms_log escapes them, and they are cut short here so that a long
 * one cannot push the status and action out of the line. */
static void log_result(const char *qid, const msm_msg *m, uint64_t size,
		       const msm_verdict *v, sfsistat st)
{
	char status[400];
	msm_status_header(v, status, sizeof status);
	ms_log_info("%.64s: id=%s from=<%.512s> nrcpt=%zu size=%llu status=%s "
		    "action=%s",
		    qid, m->id, m->sender, m->n_rcpts, (unsigned long long)size,
		    status,
		    st == SMFIS_REJECT	   ? "reject"
		    : st == SMFIS_TEMPFAIL ? "tempfail"
		    : st == SMFIS_DISCARD  ? "discard"
					   : "accept");
}

sfsistat msm_eom(SMFICTX *ctx, msm_conn *conn)
{
	msm_msg *m = conn->msg;
	double t0 = ms_metrics_now();
	const char *qid = smfi_getsymval(ctx, "i");
	qid = qid ? qid : "NOQUEUE";
	msm_verdict v = { 0 };
	if (m->spool_err) {
		v.outcome = MSM_SPOOL_FAIL;
		snprintf(v.reason, sizeof v.reason, "spool: %s", m->spool_err);
	} else {
		scan(conn, m, &v);
	}
	uint64_t size = m->w ? ms_spool_size(m->w) : 0;
	if (v.outcome != MSM_SPOOL_FAIL)
		hand_off(conn, m, qid, &v);
	const ms_config *cfg = conn->conf->cfg;
	if (v.outcome != MSM_SPOOL_FAIL &&
	    msm_outcome_delivered(cfg, v.outcome))
		edit_headers(ctx, conn, m, &v);
	sfsistat st = msm_reply(ctx, cfg, &v);
	log_result(qid, m, size, &v, st);
	msm_metrics_message(cfg, &v, st, size, t0);
	msm_msg_free(&conn->msg);
	return st;
}
