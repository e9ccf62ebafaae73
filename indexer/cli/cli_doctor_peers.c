/* cli_doctor_peers.c - the checks of `mailsift doctor` on the servers
 * mailsift works with: clamd (PING on every [scanner] clamd endpoint; the
 * signature database's date from VERSION, or for unofficial databases
 * the newest file of clamd.conf's DatabaseDirectory) and the milter
 * ([milter] socket answers the milter handshake, SMFIC_OPTNEG).
 *
 * Functions: doc_check_clamd, doc_check_signatures, doc_check_milter.
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_doctor.h"
#include "ms_clamd.h"
#include "ms_milter_probe.h"

/* ---- clamd ---- */

void doc_check_clamd(doctor *d)
{
	char *const *ep = d->cfg->scanner_clamd;
	size_t n = 0, up = 0;
	for (; ep[n]; n++) {
		char reply[64], *err = NULL;
		ms_status_t st = ms_clamd_command(ep[n], "PING", d->timeout_ms,
						  reply, sizeof reply, &err);
		int pong = !st && strcmp(reply, "PONG") == 0;
		up += pong;
		doc_verdict v = pong		  ? DOC_OK
				: ep[n + 1] || up ? DOC_WARN
						  : DOC_FAIL;
		const char *hint = "start clamd (systemctl start "
				   "clamav-daemon), or make [scanner] clamd "
				   "match LocalSocket/TCPSocket in clamd.conf";
		if (pong)
			doc_report(d, v, "clamd", NULL, "%s answers PING",
				   ep[n]);
		else if (st)
			doc_report(d, v, "clamd", hint, "%s",
				   err ? err : ms_status_str(st));
		else
			doc_report(d, v, "clamd", hint,
				   "%s: PING answered '%s'", ep[n], reply);
		free(err);
	}
	d->clamd_up = up > 0;
}

/* The newest regular file's mtime in the DatabaseDirectory that
 * clamd.conf names, into *t and its name into name. 0 or -1. */
static int newest_database(const char *conf, int64_t *t, char *name, size_t nn)
{
	FILE *f = fopen(conf, "r");
	char line[4096], dir[4096] = "/var/lib/clamav";
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, " DatabaseDirectory %4095s", dir) == 1)
			break;
	if (!f)
		return -1;
	fclose(f);
	DIR *dd = opendir(dir);
	struct dirent *de;
	*t = 0;
	while (dd && (de = readdir(dd)) != NULL) {
		char p[8192];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (de->d_name[0] == '.' || stat(p, &st) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime <= *t)
			continue;
		*t = st.st_mtime;
		snprintf(name, nn, "%s", p);
	}
	if (dd)
		closedir(dd);
	return *t ? 0 : -1;
}

static const char sig_hint[] =
	"update the databases (freshclam, the clamav-freshclam service) "
	"and check that it reaches its mirrors";

/* The age verdict for databases dated t. */
static void report_age(doctor *d, int64_t t, const char *what)
{
	long days = (long)(((int64_t)time(NULL) - t) / 86400);
	doc_report(d, days > (long)d->sig_days ? DOC_WARN : DOC_OK,
		   "signatures", sig_hint, "%s is %ld days old (limit %u)",
		   what, days < 0 ? 0 : days, d->sig_days);
}

void doc_check_signatures(doctor *d)
{
	char reply[256], *err = NULL, what[8704], file[8192];
	const char *ep = d->cfg->scanner_clamd[0];
	unsigned long db;
	int64_t t;
	if (!d->clamd_up) {
		doc_report(d, DOC_WARN, "signatures", "see the clamd check",
			   "not checked: clamd does not answer");
		return;
	}
	for (size_t i = 0; d->cfg->scanner_clamd[i]; i++) {
		ep = d->cfg->scanner_clamd[i];
		free(err);
		err = NULL;
		if (!ms_clamd_command(ep, "VERSION", d->timeout_ms, reply,
				      sizeof reply, &err))
			break;
	}
	if (err) {
		doc_report(d, DOC_WARN, "signatures", sig_hint, "VERSION: %s",
			   err);
		free(err);
	} else if (ms_clamd_version_parse(reply, &db, &t) == 0) {
		snprintf(what, sizeof what, "database %lu (%s)", db, reply);
		report_age(d, t, what);
	} else if (newest_database(d->clamd_conf, &t, file, sizeof file) == 0) {
		snprintf(what, sizeof what,
			 "'%s' names no official database; the newest file "
			 "of its DatabaseDirectory, %s,",
			 reply, file);
		report_age(d, t, what);
	} else
		doc_report(d, DOC_WARN, "signatures",
			   "install the official databases with freshclam, or "
			   "give --clamd-config FILE to date clamd's database "
			   "directory",
			   "'%s' names no database date (and %s does not name "
			   "a database directory with files)",
			   reply, d->clamd_conf);
}

/* ---- the milter ---- */

/* 1 after a FAIL line when the user postfix (if there is one) cannot
 * connect to the unix socket path: search on every directory above it,
 * write on the socket. */
static int postfix_blocked(doctor *d, const char *path)
{
	struct passwd *pw = getpwnam("postfix");
	char p[4096], own[160];
	struct stat st;
	const char *what = NULL;
	if (!pw || strlen(path) >= sizeof p)
		return 0;
	strcpy(p, path);
	for (char *sl = p; !what && (sl = strchr(sl + 1, '/')) != NULL;) {
		*sl = '\0';
		if (stat(p, &st) == 0 && !doc_user_may(pw, &st, 01))
			what = "search";
		else
			*sl = '/';
	}
	if (!what && stat(p, &st) == 0 && !doc_user_may(pw, &st, 02))
		what = "write to";
	if (!what)
		return 0;
	doc_report(d, DOC_FAIL, "milter",
		   "let Postfix reach the socket: adduser postfix mailsift "
		   "(the socket's group), then restart Postfix",
		   "user postfix cannot %s %s (%s)", what, p,
		   doc_owner(&st, own, sizeof own));
	return 1;
}

void doc_check_milter(doctor *d)
{
	const char *sock = d->cfg->milter_socket;
	const char *hint = "start mailsift-milter (systemctl start "
			   "mailsift-milter); [milter] socket must be where "
			   "it listens";
	int local = !strncmp(sock, "unix:", 5) || !strncmp(sock, "local:", 6);
	const char *path = strchr(sock, ':') + 1;
	struct stat st;
	if (local && stat(path, &st) < 0) {
		doc_report(d, DOC_FAIL, "milter", hint, "%s: %s", path,
			   strerror(errno));
		return;
	}
	if (local && !S_ISSOCK(st.st_mode)) {
		doc_report(d, DOC_FAIL, "milter", hint, "%s is not a socket",
			   path);
		return;
	}
	if (local && postfix_blocked(d, path))
		return;
	ms_milter_optneg r;
	char *err = NULL;
	ms_status_t s = ms_milter_probe(sock, d->timeout_ms, &r, &err);
	if (s)
		doc_report(d, DOC_FAIL, "milter", hint, "%s",
			   err ? err : ms_status_str(s));
	else
		doc_report(d, DOC_OK, "milter", NULL,
			   "%s answers the milter handshake (protocol %u, "
			   "actions 0x%x, steps skipped 0x%x)",
			   sock, (unsigned)r.version, (unsigned)r.actions,
			   (unsigned)r.protocol);
	free(err);
}
