/* cli_doctor_local.c - the checks of `mailsift doctor` on this machine's
 * files and processes: the spool and archive directories (present, not
 * world-writable, writable by the daemon users plugin.conf names), indexd
 * (its pidfile names a live mailsift-indexd), the spool backlog
 * (ms_spool_backlog) and the audit trail (ms_audit_verify).
 *
 * Functions: doc_check_spool, doc_check_archive, doc_check_indexd,
 * doc_check_backlog, doc_check_audit.
 */
#include <errno.h>
#include <dirent.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_doctor.h"
#include "ms_audit.h"
#include "ms_spool.h"

/* ---- directories ---- */

/* The spool directory and its subdirectories (ms_spool.h). */
static const char *const subs[] = { "", "/seg", "/tmp", "/new", "/bad" };
#define N_SUBS (sizeof subs / sizeof subs[0])

/* Checks one directory; 0 when fine, else -1 after a FAIL line. */
static int check_one_dir(doctor *d, const char *check, const char *dir,
			 const char *const *users, const char *mkhint)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		doc_report(d, DOC_FAIL, check, mkhint, "%s: %s", dir,
			   strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		doc_report(d, DOC_FAIL, check, mkhint, "%s is not a directory",
			   dir);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		doc_report(d, DOC_FAIL, check,
			   "chmod o-w it: any local user could add or remove "
			   "mail",
			   "%s is world-writable (mode %04o)", dir,
			   (unsigned)(st.st_mode & 07777));
		return -1;
	}
	for (; *users; users++) {
		struct passwd *pw = getpwnam(*users);
		char own[160];
		if (!pw || !doc_user_may(pw, &st, 03)) {
			doc_report(d, DOC_FAIL, check,
				   "chown the directory to the daemon user "
				   "(or give a group they share g+w)",
				   "%s: %s %s (%s)", dir, *users,
				   pw ? "cannot write it" : "is no user here",
				   doc_owner(&st, own, sizeof own));
			return -1;
		}
	}
	return 0;
}

/* One ok line for dir after its subdirectories passed. */
static void dir_ok(doctor *d, const char *check, const char *dir,
		   const char *const *users, const char *what)
{
	struct stat st;
	char own[160], who[160] = "";
	if (stat(dir, &st) < 0)
		return;
	for (const char *const *u = users; *u; u++)
		snprintf(who + strlen(who), sizeof who - strlen(who), "%s%s",
			 u == users ? "" : ", ", *u);
	doc_report(d, DOC_OK, check, NULL, "%s%s (%s)%s%s", dir, what,
		   doc_owner(&st, own, sizeof own),
		   *users ? ", writable by " : " (no daemon user set)", who);
}

/* users[] gets the distinct non-empty names of a and b. */
static void daemon_users(const char *a, const char *b, const char *users[3])
{
	size_t n = 0;
	if (*a)
		users[n++] = a;
	if (*b && strcmp(a, b) != 0)
		users[n++] = b;
	users[n] = NULL;
}

/* The spool: its directory, and those of its subdirectories (ms_spool.h:
 * seg/, tmp/, new/, bad/) that exist; the daemons make missing ones. */
void doc_check_spool(doctor *d)
{
	const char *users[3];
	daemon_users(d->cfg->milter_user, d->cfg->indexd_user, users);
	const char *hint = "create it writable by the milter's and indexd's "
			   "user, e.g. install -d -o mailsift -g mailsift "
			   "-m 0770 DIR";
	char with[64] = "";
	for (size_t i = 0; i < N_SUBS; i++) {
		char p[4096];
		struct stat st;
		snprintf(p, sizeof p, "%s%s", d->cfg->spool_dir, subs[i]);
		if (i > 0 && stat(p, &st) < 0 && errno == ENOENT)
			continue;
		if (check_one_dir(d, "spool", p, users, hint) < 0)
			return;
		if (i > 0)
			snprintf(with + strlen(with),
				 sizeof with - strlen(with), "%s%s/",
				 *with ? " " : " with ", subs[i] + 1);
	}
	dir_ok(d, "spool", d->cfg->spool_dir, users, with);
}

void doc_check_archive(doctor *d)
{
	const char *users[3];
	daemon_users(d->cfg->indexd_user, "", users);
	if (check_one_dir(d, "archive", d->cfg->archive_dir, users,
			  "create it writable by indexd's user, e.g. install "
			  "-d -o mailsift -g mailsift -m 0750 DIR") == 0)
		dir_ok(d, "archive", d->cfg->archive_dir, users, "");
}

/* ---- indexd ---- */

/* The command name of process pid into buf ("" if unknown). */
static void proc_comm(long pid, char *buf, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	FILE *f = fopen(path, "r");
	buf[0] = '\0';
	if (f && fgets(buf, (int)n, f))
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

/* The state letter of process pid (R, S, Z ...; 0 if unknown). */
static char proc_state(long pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

/* Without a pidfile: a process named mailsift-indexd, found in /proc. */
static void find_by_name(doctor *d, const char *hint)
{
	DIR *dd = opendir("/proc");
	struct dirent *de;
	long pid = 0;
	while (dd && !pid && (de = readdir(dd)) != NULL) {
		char comm[64], *end;
		long p = strtol(de->d_name, &end, 10);
		if (p <= 0 || *end)
			continue;
		proc_comm(p, comm, sizeof comm);
		if (!strcmp(comm, "mailsift-indexd") && proc_state(p) != 'Z')
			pid = p;
	}
	if (dd)
		closedir(dd);
	if (pid) {
		d->indexd_up = 1;
		doc_report(d, DOC_OK, "indexd", NULL,
			   "running (pid %ld, found by name: no [indexd] "
			   "pidfile set)",
			   pid);
	} else
		doc_report(d, DOC_FAIL, "indexd", hint,
			   "no mailsift-indexd process (and no [indexd] "
			   "pidfile set)");
}

/* Reads the pid from file; 0 and a FAIL line when there is none. */
static long read_pid(doctor *d, const char *file, const char *hint)
{
	FILE *f = fopen(file, "r");
	long pid = 0;
	if (!f) {
		doc_report(d, DOC_FAIL, "indexd", hint, "%s: %s", file,
			   strerror(errno));
		return 0;
	}
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 0)
		pid = 0;
	fclose(f);
	if (!pid)
		doc_report(d, DOC_FAIL, "indexd", hint,
			   "%s holds no process id", file);
	return pid;
}

void doc_check_indexd(doctor *d)
{
	const char *file = d->cfg->indexd_pidfile;
	const char *hint = "start mailsift-indexd (systemctl start "
			   "mailsift-indexd); its log says why it stopped";
	if (!*file) {
		find_by_name(d, hint);
		return;
	}
	long pid = read_pid(d, file, hint);
	if (!pid)
		return;
	char comm[64];
	proc_comm(pid, comm, sizeof comm);
	char state = proc_state(pid);
	if ((kill((pid_t)pid, 0) < 0 && errno == ESRCH) || state == 'Z' ||
	    state == 'X' ||
	    (*comm && strncmp(comm, "mailsift-index", 14) != 0)) {
		doc_report(d, DOC_FAIL, "indexd", hint,
			   "not running (%s names pid %ld%s%s)", file, pid,
			   *comm ? ", which is " : ", gone", comm);
		return;
	}
	d->indexd_up = 1;
	doc_report(d, DOC_OK, "indexd", NULL, "running (pid %ld, from %s)", pid,
		   file);
}

/* ---- the backlog ---- */

void doc_check_backlog(doctor *d)
{
	ms_spool *sp = NULL;
	char *err = NULL;
	uint64_t n = 0;
	int64_t oldest = 0;
	struct stat st;
	/* ms_spool_open makes what is missing (as root: wrong owner) */
	for (size_t i = 0; i < N_SUBS; i++) {
		char p[4096];
		snprintf(p, sizeof p, "%s%s", d->cfg->spool_dir, subs[i]);
		if (stat(p, &st) < 0) {
			doc_report(d, DOC_WARN, "backlog",
				   "the milter and indexd make the spool's "
				   "directories when they start",
				   "not checked: %s: %s", p, strerror(errno));
			return;
		}
	}
	ms_status_t s = ms_spool_open(d->cfg->spool_dir, &sp, &err);
	if (!s)
		s = ms_spool_backlog(sp, &n, &oldest, &err);
	ms_spool_close(&sp);
	if (s) {
		doc_report(d, DOC_FAIL, "backlog", "see the spool check",
			   "cannot read the spool: %s",
			   err ? err : ms_status_str(s));
		free(err);
		return;
	}
	int64_t age = n ? (int64_t)time(NULL) - oldest : 0;
	int bad = n > d->max_backlog || age > (int64_t)d->max_backlog_age;
	doc_report(d, bad ? DOC_WARN : DOC_OK, "backlog",
		   d->indexd_up ? "indexd is behind: see its log (and spool "
				  "bad/ for entries it could not parse)"
				: "start mailsift-indexd: it archives the "
				  "spool",
		   "%" PRIu64 " spool entries waiting, oldest %" PRId64
		   " s (limits %" PRIu64 ", %u s)",
		   n, age, d->max_backlog, d->max_backlog_age);
}

/* ---- the audit trail ---- */

void doc_check_audit(doctor *d)
{
	char *path = ms_audit_path(d->cfg), *err = NULL;
	ms_audit_report r;
	ms_status_t st = path ? ms_audit_verify(path, &r, &err) : MS_ERR_NOMEM;
	const char *hint = "keep a copy of the log and its .head as evidence; "
			   "mailsift audit verify names the first bad line";
	if (st)
		doc_report(d, DOC_FAIL, "audit",
			   "the log must be readable by this user", "%s",
			   err ? err : ms_status_str(st));
	else if (r.state == MS_AUDIT_DAMAGED)
		doc_report(d, DOC_FAIL, "audit", hint, "%s: DAMAGED: %s", path,
			   r.message);
	else if (r.state != MS_AUDIT_INTACT)
		doc_report(d, DOC_WARN, "audit",
			   "the next audited command repairs it", "%s: %s",
			   path, r.message);
	else
		doc_report(d, DOC_OK, "audit", NULL,
			   "%s: intact, %" PRIu64 " lines", path, r.lines);
	free(err);
	free(path);
}
