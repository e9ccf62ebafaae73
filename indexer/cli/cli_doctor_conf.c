/* cli_doctor_conf.c - the checks of `mailsift doctor` on Postfix's and
 * Dovecot's settings, read with their own tools (postconf -h, doveconf
 * -h, -F; -c for a private instance): smtpd_milters and non_smtpd_milters
 * name the [milter] socket (as a chrooted smtpd sees it: Debian's
 * master.cf chroots smtpd in the queue directory), milter_default_action
 * is tempfail,
 * milter_protocol is 6; Dovecot's mail_plugins load fts_mailsift from
 * mail_plugin_dir, plugin/fts is mailsift, plugin/mailsift_config is
 * this plugin.conf.
 *
 * Functions: doc_check_postfix, doc_check_dovecot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_doctor.h"

#define PLUGIN_SO "lib21_fts_mailsift_plugin.so"

/* Splits out into at most n lines (in place; missing ones ""). Returns
 * how many there were. */
static size_t lines(ms_buf *out, char **v, size_t n)
{
	size_t k = 0;
	char *p = out->data ? out->data : "";
	for (size_t i = 0; i < n; i++) {
		v[i] = "";
		if (!*p)
			continue;
		char *nl = strchr(p, '\n');
		v[i] = p;
		k++;
		if (nl)
			*nl = '\0';
		p = nl ? nl + 1 : p + strlen(p);
	}
	return k;
}

/* The last line of out, for a failed command. */
static const char *last_line(ms_buf *out)
{
	if (!out->data || !out->len)
		return "(no output)";
	while (out->len && out->data[out->len - 1] == '\n')
		out->data[--out->len] = '\0';
	char *nl = strrchr(out->data, '\n');
	return nl ? nl + 1 : out->data;
}

/* Runs TOOL [-c conf] [-f extra] -h names..., n values into v (pointing
 * into out). 0, or -1 after a FAIL line. */
static int ask(doctor *d, const char *check, const char *tool, const char *conf,
	       const char *extra, const char *const *names, ms_buf *out,
	       char **v, size_t n, const char *hint)
{
	const char *argv[24];
	size_t a = 0;
	argv[a++] = tool;
	if (conf) {
		argv[a++] = "-c";
		argv[a++] = conf;
	}
	if (extra) {
		argv[a++] = "-f";
		argv[a++] = extra;
	}
	argv[a++] = "-h";
	for (size_t i = 0; names[i] && a < 23; i++)
		argv[a++] = names[i];
	argv[a] = NULL;
	int rc = doc_run((char *const *)argv, out);
	if (rc == 0 && (lines(out, v, n) == n || n == 1))
		return 0; /* doveconf prints nothing for an unset plugin/X */
	const char *why = rc ? last_line(out) : "fewer values than asked for";
	doc_report(d, DOC_FAIL, check, hint, "%s%s%s",
		   strncmp(why, tool, strlen(tool)) ? tool : "",
		   strncmp(why, tool, strlen(tool)) ? ": " : "", why);
	return -1;
}

/* 1 if the files a and b are the same (or, not both there, equal). */
static int same_file(const char *a, const char *b)
{
	struct stat x, y;
	if (stat(a, &x) == 0 && stat(b, &y) == 0)
		return x.st_dev == y.st_dev && x.st_ino == y.st_ino;
	return strcmp(a, b) == 0;
}

/* ---- Postfix ---- */

static int is_unix(const char *sock)
{
	return !strncmp(sock, "unix:", 5) || !strncmp(sock, "local:", 6);
}

/* 1 if path is below the directory dir. */
static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return n && !strncmp(path, dir, n) && path[n] == '/';
}

/* Where Postfix finds a unix socket path: relative paths under its
 * queue directory qdir, absolute ones there too when smtpd is chrooted. */
static void postfix_path(const char *p, const char *qdir, int chroot,
			 char *full, size_t n)
{
	if (*p == '/' && !chroot)
		snprintf(full, n, "%s", p);
	else
		snprintf(full, n, "%s/%s", qdir, p + (*p == '/'));
}

/* 1 if the Postfix milter entry e (unix:PATH or inet:HOST:PORT) is the
 * milter socket sock ([milter] syntax). */
static int entry_is(const char *e, const char *sock, const char *qdir,
		    int chroot)
{
	const char *path = strchr(sock, ':') + 1;
	if (is_unix(sock)) {
		const char *p = !strncmp(e, "unix:", 5)	   ? e + 5
				: !strncmp(e, "local:", 6) ? e + 6
							   : NULL;
		char full[4096];
		if (!p)
			return 0;
		postfix_path(p, qdir, chroot, full, sizeof full);
		return same_file(full, path);
	}
	char port[32] = "", host[256] = "";
	sscanf(path, "%31[^@]@%255s", port, host);
	const char *colon = strrchr(e, ':');
	if (strncmp(e, "inet:", 5) != 0 || !colon || strcmp(colon + 1, port))
		return 0;
	size_t hl = (size_t)(colon - e) - 5;
	const char *h = e + 5;
	if (hl >= 2 && h[0] == '[')
		h++, hl -= 2;
	return !*host || (strlen(host) == hl && !strncmp(h, host, hl));
}

/* 1 if the milter list (commas, spaces, { } groups) names the socket. */
static int list_names(const char *list, const char *sock, const char *qdir,
		      int chroot)
{
	char *copy = strdup(list), *save = NULL;
	int found = 0;
	for (char *t = copy ? strtok_r(copy, " ,\t{}", &save) : NULL;
	     t && !found; t = strtok_r(NULL, " ,\t{}", &save))
		found = entry_is(t, sock, qdir, chroot);
	free(copy);
	return found;
}

/* The [milter] socket as Postfix writes it, into buf: inside the chroot
 * (qdir) when smtpd is chrooted and the socket is there. */
static const char *postfix_form(const char *sock, const char *qdir, int chroot,
				char *buf, size_t n)
{
	const char *p = strchr(sock, ':') + 1;
	char port[32] = "", host[256] = "127.0.0.1";
	if (is_unix(sock))
		snprintf(buf, n, "unix:%s",
			 chroot && under(p, qdir) ? p + strlen(qdir) : p);
	else if (sscanf(p, "%31[^@]@%255s", port, host) >= 1)
		snprintf(buf, n, "inet:%s:%s", host, port);
	else
		snprintf(buf, n, "%s", sock);
	return buf;
}

/* 1 if a master.cf service running smtpd is chrooted: postconf -F has
 * "NAME/TYPE/command = smtpd ..." and "NAME/TYPE/chroot = y". */
static int smtpd_chrooted(doctor *d)
{
	const char *argv[5] = { "postconf", "-F", NULL, NULL, NULL };
	if (d->postfix_dir) {
		argv[1] = "-c";
		argv[2] = d->postfix_dir;
		argv[3] = "-F";
	}
	ms_buf out = MS_BUF_INIT, all = MS_BUF_INIT, key = MS_BUF_INIT;
	int chroot = 0;
	if (doc_run((char *const *)argv, &out) == 0 &&
	    ms_buf_printf(&all, "\n%s\n", out.data ? out.data : "") == MS_OK)
		for (const char *l = all.data;
		     !chroot &&
		     (l = strstr(l + 1, "/command = smtpd")) != NULL;) {
			const char *start = l;
			while (start[-1] != '\n')
				start--;
			ms_buf_reset(&key);
			if (ms_buf_printf(&key, "\n%.*s/chroot = y\n",
					  (int)(l - start), start) == MS_OK)
				chroot = strstr(all.data, key.data) != NULL;
		}
	ms_buf_free(&out);
	ms_buf_free(&all);
	ms_buf_free(&key);
	return chroot;
}

static void postfix_milters(doctor *d, char **v, int chroot)
{
	const char *sock = d->cfg->milter_socket, *qdir = v[4];
	char hint[1024], want[600];
	postfix_form(sock, qdir, chroot, want, sizeof want);
	if (chroot && is_unix(sock) && !under(strchr(sock, ':') + 1, qdir))
		snprintf(hint, sizeof hint,
			 "smtpd runs chrooted in %s and cannot see %s: set "
			 "the chroot column of its master.cf line to n "
			 "(postconf -F smtp/inet/chroot=n && postfix reload), "
			 "or put [milter] socket under %s",
			 qdir, want + 5, qdir);
	else
		snprintf(hint, sizeof hint,
			 "postconf -e 'smtpd_milters = %s' && postfix reload",
			 want);
	if (list_names(v[0], sock, qdir, chroot))
		doc_report(d, DOC_OK, "postfix", NULL,
			   "smtpd_milters = %s names the milter%s", v[0],
			   chroot ? " (smtpd chrooted)" : "");
	else
		doc_report(
			d, DOC_FAIL, "postfix", hint,
			"smtpd_milters = '%s' does not name the milter (%s%s)",
			v[0], want, chroot ? " in smtpd's chroot" : "");
	snprintf(hint, sizeof hint,
		 "postconf -e 'non_smtpd_milters = %s' (mail from sendmail "
		 "and postdrop is then scanned and archived too)",
		 want);
	if (list_names(v[1], sock, qdir, chroot))
		doc_report(d, DOC_OK, "postfix", NULL,
			   "non_smtpd_milters = %s names the milter", v[1]);
	else
		doc_report(d, DOC_WARN, "postfix", hint,
			   "non_smtpd_milters = '%s' does not name the milter",
			   v[1]);
}

static void postfix_actions(doctor *d, char **v)
{
	const char *act = v[2];
	doc_report(d,
		   !strcmp(act, "tempfail") ? DOC_OK
		   : !strcmp(act, "accept") ? DOC_FAIL
					    : DOC_WARN,
		   "postfix",
		   "postconf -e 'milter_default_action = tempfail': while the "
		   "milter is down, mail waits instead of passing unscanned "
		   "and unarchived",
		   "milter_default_action = %s", act);
	doc_report(d, atoi(v[3]) >= 6 ? DOC_OK : DOC_WARN, "postfix",
		   "postconf -e 'milter_protocol = 6'", "milter_protocol = %s",
		   v[3]);
}

void doc_check_postfix(doctor *d)
{
	static const char *const names[] = {
		"smtpd_milters",   "non_smtpd_milters", "milter_default_action",
		"milter_protocol", "queue_directory",	NULL
	};
	ms_buf out = MS_BUF_INIT;
	char *v[5];
	if (ask(d, "postfix", "postconf", d->postfix_dir, NULL, names, &out, v,
		5,
		"install Postfix, or give --postfix-config DIR (the "
		"directory of its main.cf), or --skip postfix") == 0) {
		postfix_milters(d, v, smtpd_chrooted(d));
		postfix_actions(d, v);
	}
	ms_buf_free(&out);
}

/* ---- Dovecot ---- */

/* 1 if the space-separated list holds word. */
static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

static void dovecot_plugins(doctor *d, char **v, const char *imap_plugins)
{
	char so[4096];
	struct stat st;
	if (has_word(v[0], "fts_mailsift") ||
	    has_word(imap_plugins, "fts_mailsift"))
		doc_report(d, DOC_OK, "dovecot", NULL,
			   "mail_plugins loads fts_mailsift (imap: %s)",
			   imap_plugins);
	else
		doc_report(
			d, DOC_FAIL, "dovecot",
			"uncomment the lines of conf.d/90-fts-mailsift.conf: "
			"mail_plugins = $mail_plugins fts fts_mailsift",
			"mail_plugins does not load fts_mailsift (imap: '%s')",
			imap_plugins);
	snprintf(so, sizeof so, "%s/%s", v[1], PLUGIN_SO);
	if (stat(so, &st) == 0)
		doc_report(d, DOC_OK, "dovecot", NULL, "%s is there", so);
	else
		doc_report(d, DOC_FAIL, "dovecot",
			   "install dovecot-fts-mailsift (or fix "
			   "mail_plugin_dir)",
			   "%s: not found (mail_plugin_dir)", so);
}

static void dovecot_plugin_conf(doctor *d, char **v)
{
	if (!strcmp(v[2], "mailsift"))
		doc_report(d, DOC_OK, "dovecot", NULL, "plugin/fts = mailsift");
	else
		doc_report(d, DOC_FAIL, "dovecot",
			   "set fts = mailsift in plugin { } "
			   "(conf.d/90-fts-mailsift.conf)",
			   "plugin/fts = '%s', not mailsift", v[2]);
	if (*v[3] && same_file(v[3], d->conf_path))
		doc_report(d, DOC_OK, "dovecot", NULL,
			   "plugin/mailsift_config = %s", v[3]);
	else
		doc_report(d, DOC_WARN, "dovecot",
			   "set mailsift_config in plugin { } to this "
			   "plugin.conf: without it archive reuse is off",
			   "plugin/mailsift_config = '%s', not %s", v[3],
			   d->conf_path);
}

void doc_check_dovecot(doctor *d)
{
	/* one doveconf each: it leaves out unset plugin settings */
	static const char *const names[][2] = {
		{ "mail_plugins", NULL }, { "mail_plugin_dir", NULL },
		{ "plugin/fts", NULL },	  { "plugin/mailsift_config", NULL },
		{ "mail_plugins", NULL },
	};
	const char *hint = "install Dovecot, or give --dovecot-config FILE "
			   "(its dovecot.conf), or --skip dovecot";
	ms_buf out[5] = { MS_BUF_INIT, MS_BUF_INIT, MS_BUF_INIT, MS_BUF_INIT,
			  MS_BUF_INIT };
	char *v[5];
	size_t i = 0;
	while (i < 5 && ask(d, "dovecot", "doveconf", d->dovecot_conf,
			    i == 4 ? "protocol=imap" : NULL, names[i], &out[i],
			    &v[i], 1, hint) == 0)
		i++;
	if (i == 5) {
		dovecot_plugins(d, v, v[4]);
		dovecot_plugin_conf(d, v);
	}
	for (i = 0; i < 5; i++)
		ms_buf_free(&out[i]);
}
