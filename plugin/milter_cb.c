/* milter_cb.c - libmilter callbacks; each dispatches to a named helper.
 *
 * Functions: the smfiDesc msm_filter and its callbacks. A connection
 * context holds the configuration snapshot current when it opened and the
 * message in progress; several messages per connection, RSET and aborts
 * are handled (abort drops the unfinished spool entry). Only the steps and
 * actions we use are negotiated; steps whose answer is always "continue"
 * are negotiated as no-reply when the MTA offers it. A connection over
 * [milter] max_connections is tempfailed at connect (and at MAIL should the
 * MTA go on) or, past the refusals that may stay open, dropped (see
 * milter_limit.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "milter.h"
#include "ms_log.h"

#define NR_WANTED                                                              \
	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR |        \
	 SMFIP_NR_EOH | SMFIP_NR_BODY)
#define STEPS_OFF (SMFIP_NOUNKNOWN | SMFIP_NODATA)

typedef struct conn_ext {
	msm_conn c;
	unsigned long nr; /* negotiated no-reply flags */
	msm_slot slot;	  /* SERVE or REFUSE (see milter_limit.c) */
} conn_ext;

static conn_ext *get(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* The status for a step that always continues. */
static sfsistat cont(SMFICTX *ctx, unsigned long flag)
{
	conn_ext *x = get(ctx);
	return x && (x->nr & flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3,
			     unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	(void)f2;
	(void)f3;
	conn_ext *x = calloc(1, sizeof *x);
	if (!x || !(x->c.conf = msm_conf_get())) {
		free(x);
		return SMFIS_TEMPFAIL;
	}
	unsigned max = x->c.conf->max_conns;
	if ((x->slot = msm_slot_take(max)) == MSM_SLOT_DROP) {
		/* libmilter closes the connection: its descriptor is free */
		msm_limit_log_refusal(NULL, MSM_SLOT_DROP, max);
		msm_conf_put(&x->c.conf);
		free(x);
		return SMFIS_REJECT;
	}
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
	/* a refused connection answers its connect step with a tempfail */
	x->nr = f1 & NR_WANTED &
		~(x->slot == MSM_SLOT_REFUSE ? SMFIP_NR_CONN : 0ul);
	x->c.leadspc = (f1 & SMFIP_HDR_LEADSPC) != 0;
	*pf1 = (f1 & STEPS_OFF) | x->nr | (f1 & SMFIP_HDR_LEADSPC);
	*pf2 = *pf3 = 0;
	smfi_setpriv(ctx, x);
	return SMFIS_CONTINUE;
}

/* The reply to every step of a connection over max_connections. */
static sfsistat refuse(SMFICTX *ctx)
{
	smfi_setreply(ctx, "451", "4.7.1",
		      "Try again later: too many connections");
	return SMFIS_TEMPFAIL;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t n)
{
	snprintf(out, n, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  out, (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, struct sockaddr *sa)
{
	conn_ext *x = get(ctx);
	char addr[INET6_ADDRSTRLEN + 1], buf[600];
	if (!x)
		return SMFIS_TEMPFAIL;
	format_addr(sa, addr, sizeof addr);
	snprintf(buf, sizeof buf, "%s %s", addr, host ? host : "unknown");
	free(x->c.client);
	x->c.client = strdup(buf);
	if (x->slot == MSM_SLOT_REFUSE) {
		msm_limit_log_refusal(buf, x->slot, x->c.conf->max_conns);
		return refuse(ctx);
	}
	return cont(ctx, SMFIP_NR_CONN);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
	conn_ext *x = get(ctx);
	if (x) {
		free(x->c.helo);
		x->c.helo = strdup(helo ? helo : "");
	}
	return cont(ctx, SMFIP_NR_HELO);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	conn_ext *x = get(ctx);
	if (!x)
		return SMFIS_TEMPFAIL;
	if (x->slot == MSM_SLOT_REFUSE)
		return refuse(ctx); /* an MTA that went on after connect */
	msm_msg_free(&x->c.msg);
	char *err = NULL;
	x->c.msg = msm_msg_new(x->c.conf, argv[0] ? argv[0] : "", &err);
	if (!x->c.msg) {
		ms_log_error("NOQUEUE: cannot start spool entry: %s",
			     err ? err : "unknown error");
		smfi_setreply(ctx, "451", "4.7.1",
			      "Try again later: spool unavailable");
		free(err);
		return SMFIS_TEMPFAIL;
	}
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	if (auth && *auth)
		x->c.msg->auth = strdup(auth);
	return SMFIS_CONTINUE;
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	conn_ext *x = get(ctx);
	if (x && x->c.msg && argv[0] && msm_msg_add_rcpt(x->c.msg, argv[0]))
		x->c.msg->spool_err = x->c.msg->spool_err
					      ? x->c.msg->spool_err
					      : strdup("out of memory");
	return cont(ctx, SMFIP_NR_RCPT);
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	conn_ext *x = get(ctx);
	if (x && x->c.msg)
		msm_msg_header(x->c.msg, name, value ? value : "",
			       x->c.leadspc);
	return cont(ctx, SMFIP_NR_HDR);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
	conn_ext *x = get(ctx);
	if (x && x->c.msg)
		msm_msg_write(x->c.msg, "\r\n", 2);
	return cont(ctx, SMFIP_NR_EOH);
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
	conn_ext *x = get(ctx);
	if (x && x->c.msg)
		msm_msg_write(x->c.msg, p, n);
	return cont(ctx, SMFIP_NR_BODY);
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	conn_ext *x = get(ctx);
	if (!x || !x->c.msg)
		return SMFIS_TEMPFAIL;
	return msm_eom(ctx, &x->c);
}

static sfsistat cb_abort(SMFICTX *ctx)
{
	conn_ext *x = get(ctx);
	if (x)
		msm_msg_free(&x->c.msg);
	return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
	conn_ext *x = get(ctx);
	if (!x)
		return SMFIS_CONTINUE;
	msm_msg_free(&x->c.msg);
	msm_slot_release(x->slot);
	msm_conf_put(&x->c.conf);
	free(x->c.client);
	free(x->c.helo);
	free(x);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

struct smfiDesc msm_filter = {
	.xxfi_name = "mailsift",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eoh = cb_eoh,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};
