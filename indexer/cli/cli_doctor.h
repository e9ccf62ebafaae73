/* cli_doctor.h - `mailsift doctor`: the checks of a mail server's
 * mailsift set-up, shared between the driver (cli_doctor.c), the local
 * checks (cli_doctor_local.c: directories, indexd, backlog, audit trail)
 * and the checks of the servers around it (cli_doctor_peers.c: clamd and
 * the milter socket; cli_doctor_conf.c: Postfix's and Dovecot's settings;
 * cli_doctor_http.c: the console, the metrics endpoints and the other
 * hosts' mailsift serve).
 *
 * The report and command runner are cli_doctor_util.c.
 *
 * Every check reports one or more lines through doc_report(): "ok",
 * "warn" or "FAIL", the check's name and what was found, and for warn and
 * FAIL a hint line saying what to do.
 */
#ifndef CLI_DOCTOR_H
#define CLI_DOCTOR_H

#include <pwd.h>
#include <stdint.h>
#include <sys/stat.h>

#include "ms_buf.h"
#include "ms_config.h"

typedef enum doc_verdict { DOC_OK, DOC_WARN, DOC_FAIL } doc_verdict;

/* What the checks look at and what they found; filled by cli_doctor.c.
 * Strings are borrowed from argv or the config. */
typedef struct doctor {
	const ms_config *cfg;
	const char *conf_path;	  /* plugin.conf */
	const char *postfix_dir;  /* postconf -c DIR; NULL: Postfix's own */
	const char *dovecot_conf; /* doveconf -c FILE; NULL: Dovecot's own */
	const char *clamd_conf;	  /* clamd.conf, to date unofficial dbs */
	unsigned sig_days;	  /* signatures older than this: warn */
	uint64_t max_backlog;	  /* spool entries waiting: more is warn */
	unsigned max_backlog_age; /* seconds the oldest may wait */
	unsigned timeout_ms;	  /* per network check */
	int clamd_up;		  /* set by the clamd check */
	int indexd_up;		  /* set by the indexd check */
	unsigned failed, warned;  /* counts of FAIL and warn lines */
} doctor;

/* cli_doctor_util.c */

/* Prints "VERDICT  CHECK: DETAIL" (detail from fmt) and, unless DOC_OK,
 * "      hint: HINT" (hint may be NULL); counts the verdict. */
void doc_report(doctor *d, doc_verdict v, const char *check, const char *hint,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Runs argv (argv[0] looked up in PATH) with stdout and stderr into out
 * (reset first; lines starting with "NAME: warning:" dropped). Returns
 * the exit status, 127 when it could not be run, -1 when killed. */
int doc_run(char *const argv[], ms_buf *out);

/* 1 if the user pw may access the file st describes with want (a mask of
 * 4 read, 2 write, 1 search/execute), by the owner, group or other bits
 * that apply to them (root: always). */
int doc_user_may(const struct passwd *pw, const struct stat *st, unsigned want);

/* "owner USER:GROUP, mode 0NNN" of st into buf (n bytes); returns buf. */
const char *doc_owner(const struct stat *st, char *buf, size_t n);

/* cli_doctor_local.c */
void doc_check_spool(doctor *d);
void doc_check_archive(doctor *d);
void doc_check_indexd(doctor *d);
void doc_check_backlog(doctor *d);
void doc_check_audit(doctor *d);

/* cli_doctor_peers.c */
void doc_check_clamd(doctor *d);
void doc_check_signatures(doctor *d);
void doc_check_milter(doctor *d);

/* cli_doctor_http.c */
void doc_check_web(doctor *d);
void doc_check_metrics(doctor *d);
void doc_check_remotes(doctor *d);

/* cli_doctor_conf.c */
void doc_check_postfix(doctor *d);
void doc_check_dovecot(doctor *d);

#endif
