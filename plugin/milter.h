/* milter.h - mailsift-milter's shared state: configuration snapshots, the
 * per-connection and per-message contexts, and the outcome of a message.
 *
 * A snapshot (msm_conf) is immutable and reference-counted: each
 * connection holds the one current when it opened, so a SIGHUP reload
 * gives new connections the new configuration while old ones finish.
 */
#ifndef MILTER_H
#define MILTER_H

#include <libmilter/mfapi.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "milter_clamd.h"
#include "milter_policy.h"
#include "ms_config.h"
#include "ms_spool.h"

#define MSM_ID_LEN 24 /* hex digits of a message id (96 random bits) */
/* Longest header name smfi_chgheader() can delete: its reply packet holds
 * a 4-byte index, the name, a NUL and an empty value with its NUL, all in
 * MILTER_MAX_DATA_SIZE bytes. */
#define MSM_DEL_NAME_MAX (MILTER_MAX_DATA_SIZE - 6)

typedef struct msm_conf {
	atomic_int refs;
	ms_config *cfg;
	ms_policy *policy;
	ms_spool *spool;
	ms_clamd_opts clamd;
	char host[256];	    /* for X-Virus-Scanned */
	unsigned max_conns; /* [milter] max_connections in force */
} msm_conf;

/* What became of a message; msm_reply() maps each to the SMTP reply. */
typedef enum msm_outcome {
	MSM_CLEAN,	/* scanned, nothing found: accept */
	MSM_INFECTED,	/* scanner found a virus: [policy] on_infected */
	MSM_BLOCKED,	/* attachment policy: rejected like infected */
	MSM_SCAN_FAIL,	/* scanner down or failed: on_scan_failure */
	MSM_OVERSIZE,	/* over max_scan_size: on_oversize */
	MSM_UNSCANNED,	/* authenticated sender, scan skipped by policy */
	MSM_SPOOL_FAIL, /* could not hand off durably: always tempfail */
	MSM_TOO_BIG,	/* over [milter] max_message_size: 552 5.3.4 */
	MSM_BAD_HEADER, /* a forged header we cannot remove: 550 5.7.1 */
	MSM_NO_RCPT	/* no message (abort): nothing to do */
} msm_outcome;

/* An incoming X-Virus-* or X-Mailsift-* header, to be deleted. */
typedef struct msm_forged {
	char *name;   /* the whole name as received (owned) */
	size_t len;   /* strlen(name) */
	unsigned idx; /* 1-based, among headers of the same name */
} msm_forged;

typedef struct msm_msg {
	char id[MSM_ID_LEN + 1];
	ms_spool_writer *w;
	char *spool_err; /* first spool write error, if any */
	char *sender;
	char **rcpts;
	size_t n_rcpts;
	char *auth;	   /* {auth_authen}, if any */
	msm_forged *strip; /* forged headers to remove, in arrival order */
	size_t n_strip;
	int unremovable;  /* a forged header name over MSM_DEL_NAME_MAX */
	unsigned seen[3]; /* X-Virus-Scanned, X-Virus-Status, X-Mailsift-* */
	time_t time;
} msm_msg;

typedef struct msm_conn {
	msm_conf *conf;
	char *client; /* "addr name" */
	char *helo;
	msm_msg *msg;
	int leadspc; /* header values carry their leading space (both ways) */
} msm_conn;

/* The facts that decide the reply and the headers. */
typedef struct msm_verdict {
	msm_outcome outcome;
	char virus[128];  /* MSM_INFECTED */
	char reason[256]; /* MSM_BLOCKED, MSM_SCAN_FAIL, MSM_SPOOL_FAIL... */
} msm_verdict;

/* ---- milter_conf.c ---- */
/* Builds a snapshot from the config file at path. On error *err_r (caller
 * frees) is a one-line reason. */
int msm_conf_load(const char *path, msm_conf **conf_r, char **err_r);
/* Makes conf (reference taken over) the current snapshot. */
void msm_conf_install(msm_conf *conf);
/* Returns the current snapshot with a reference; release with
 * msm_conf_put(). */
msm_conf *msm_conf_get(void);
void msm_conf_put(msm_conf **conf);

/* ---- milter_msg.c ---- */
msm_msg *msm_msg_new(msm_conf *conf, const char *sender, char **err_r);
void msm_msg_free(msm_msg **msg);
int msm_msg_add_rcpt(msm_msg *msg, const char *rcpt);
/* Records a header: writes it to the spool and notes forged ones. */
void msm_msg_header(msm_msg *msg, const char *name, const char *value,
		    int leadspc);
void msm_msg_write(msm_msg *msg, const void *p, size_t n);

/* ---- milter_eom.c ---- */
/* Decides and acts on the message at end of data. */
sfsistat msm_eom(SMFICTX *ctx, msm_conn *conn);

/* ---- milter_reply.c ---- */
/* Whether the outcome is kept in the spool (and so in the archive). */
int msm_outcome_spooled(const ms_config *cfg, msm_outcome o);
/* Whether the message will be delivered (so headers are edited). */
int msm_outcome_delivered(const ms_config *cfg, msm_outcome o);
/* The X-Virus-Status value for v. */
void msm_status_header(const msm_verdict *v, char *out, size_t n);
/* The envelope verdict word: clean, infected, blocked, unscanned. */
const char *msm_verdict_word(msm_outcome o);
/* Sets the SMTP reply for v and returns the milter status. */
sfsistat msm_reply(SMFICTX *ctx, const ms_config *cfg, const msm_verdict *v);

/* ---- milter_limit.c ---- */
#define MSM_FD_RESERVE	 32 /* descriptors kept from connections */
#define MSM_FDS_PER_CONN 4  /* 3 while a message is scanned, 1 refused */

/* What a new connection gets: served, refused (tempfail at connect; it
 * holds its socket until the MTA closes it), or dropped (closed at once). */
typedef enum msm_slot {
	MSM_SLOT_NONE,
	MSM_SLOT_SERVE,
	MSM_SLOT_REFUSE,
	MSM_SLOT_DROP
} msm_slot;

/* The soft RLIMIT_NOFILE (ULONG_MAX if unlimited). */
unsigned long msm_limit_nofile(void);
/* The connection cap: configured (0 = the default) but at most
 * (nofile - MSM_FD_RESERVE) / MSM_FDS_PER_CONN, at least 1. */
unsigned msm_limit_connections(unsigned configured, unsigned long nofile);
/* Takes a slot for a new connection under max (SERVE while fewer than max
 * are served, else REFUSE while fewer than max are refused, else DROP);
 * give it back with msm_slot_release() when the connection closes. */
msm_slot msm_slot_take(unsigned max);
void msm_slot_release(msm_slot s);
/* Logs one warning line for a refused or dropped connection (client may
 * be NULL), at most 10 a second; the next line counts those left out. */
void msm_limit_log_refusal(const char *client, msm_slot s, unsigned max);

/* ---- milter_cb.c ---- */
extern struct smfiDesc msm_filter;

#endif
