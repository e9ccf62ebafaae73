/* milter_reply.c - the one place where an outcome becomes a milter reply.
 *
 * Functions: msm_reply, msm_outcome_spooled, msm_outcome_delivered,
 * msm_status_header, msm_verdict_word. Fail closed: a scan failure or an
 * oversize message is 451 4.7.1 unless plugin.conf says accept, and then it
 * is labelled "Unscanned", never "Clean". A failed hand-off to the spool is
 * always 451 4.7.1. Temporary-failure texts are fixed: the detailed
 * reason (scanner socket, errno) goes to the log, not to the client.
 */
#include <stdio.h>
#include <string.h>

#include "milter.h"

/* Whether a failure outcome is accepted (unscanned) by configuration. */
static int accepted_unscanned(const ms_config *cfg, msm_outcome o)
{
	if (o == MSM_SCAN_FAIL)
		return cfg->policy_on_scan_failure == MS_ON_FAILURE_ACCEPT;
	if (o == MSM_OVERSIZE)
		return cfg->policy_on_oversize == MS_ON_FAILURE_ACCEPT;
	return o == MSM_UNSCANNED;
}

static int is_bad(msm_outcome o)
{
	return o == MSM_INFECTED || o == MSM_BLOCKED;
}

int msm_outcome_delivered(const ms_config *cfg, msm_outcome o)
{
	if (o == MSM_CLEAN)
		return 1;
	if (is_bad(o))
		return cfg->policy_on_infected == MS_ON_INFECTED_TAG ||
		       cfg->policy_on_infected == MS_ON_INFECTED_QUARANTINE;
	return accepted_unscanned(cfg, o);
}

int msm_outcome_spooled(const ms_config *cfg, msm_outcome o)
{
	if (is_bad(o))
		return cfg->archive_keep_infected ||
		       msm_outcome_delivered(cfg, o);
	return msm_outcome_delivered(cfg, o);
}

const char *msm_verdict_word(msm_outcome o)
{
	switch (o) {
	case MSM_CLEAN:
		return "clean";
	case MSM_INFECTED:
		return "infected";
	case MSM_BLOCKED:
		return "blocked";
	default:
		return "unscanned";
	}
}

void msm_status_header(const msm_verdict *v, char *out, size_t n)
{
	if (v->outcome == MSM_CLEAN)
		snprintf(out, n, "Clean");
	else if (v->outcome == MSM_INFECTED)
		snprintf(out, n, "Infected (%s)", v->virus);
	else if (v->outcome == MSM_BLOCKED)
		snprintf(out, n, "Infected (%s)", v->reason);
	else
		snprintf(out, n, "Unscanned (%s)", v->reason);
}

/* Copies s into out with characters an SMTP reply cannot carry replaced. */
static void reply_safe(const char *s, char *out, size_t n)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		out[i] = (s[i] < 0x20 || s[i] == '%' || s[i] == 0x7f) ? '_'
								      : s[i];
	out[i] = '\0';
}

static sfsistat set_reply(SMFICTX *ctx, const char *code, const char *xcode,
			  const char *text, sfsistat st)
{
	char safe[300];
	reply_safe(text, safe, sizeof safe);
	smfi_setreply(ctx, (char *)code, (char *)xcode, safe);
	return st;
}

static sfsistat reply_bad(SMFICTX *ctx, const ms_config *cfg,
			  const msm_verdict *v)
{
	char text[300];
	snprintf(text, sizeof text, "Message rejected: %s %s",
		 v->outcome == MSM_INFECTED ? "virus found:" : "blocked:",
		 v->outcome == MSM_INFECTED ? v->virus : v->reason);
	switch (cfg->policy_on_infected) {
	case MS_ON_INFECTED_REJECT:
		return set_reply(ctx, "550", "5.7.1", text, SMFIS_REJECT);
	case MS_ON_INFECTED_QUARANTINE:
		smfi_quarantine(ctx, text);
		return SMFIS_ACCEPT;
	case MS_ON_INFECTED_DISCARD:
		return SMFIS_DISCARD;
	default:
		return SMFIS_ACCEPT;
	}
}

sfsistat msm_reply(SMFICTX *ctx, const ms_config *cfg, const msm_verdict *v)
{
	if (v->outcome == MSM_TOO_BIG)
		return set_reply(ctx, "552", "5.3.4",
				 "Message size exceeds fixed limit",
				 SMFIS_REJECT);
	if (v->outcome == MSM_BAD_HEADER)
		return set_reply(ctx, "550", "5.7.1",
				 "Message rejected: header field name too long",
				 SMFIS_REJECT);
	if (is_bad(v->outcome))
		return reply_bad(ctx, cfg, v);
	if (v->outcome == MSM_SPOOL_FAIL)
		return set_reply(ctx, "451", "4.7.1",
				 "Try again later: cannot store the message",
				 SMFIS_TEMPFAIL);
	if (!msm_outcome_delivered(cfg, v->outcome))
		return set_reply(ctx, "451", "4.7.1",
				 v->outcome == MSM_OVERSIZE
					 ? "Try again later: message too large "
					   "to scan"
					 : "Try again later: virus scanner "
					   "unavailable",
				 SMFIS_TEMPFAIL);
	return SMFIS_ACCEPT;
}
