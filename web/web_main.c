/* web_main.c - mailsift-web: options, life cycle, signals.
 *
 *   mailsift-web [-c plugin.conf] [-f] [-n]
 *   mailsift-web [-c plugin.conf] user add|passwd|del|list ...
 *
 * -n checks the configuration and exits; -f stays in the foreground and
 * logs to stderr (else syslog). Start-up: daemonize, open the pid file
 * (as root), read the TLS files, switch to [web] user, listen. Signals
 * arrive through a signalfd: SIGHUP reloads plugin.conf (new requests
 * get the new snapshot; a bad file is refused and the old one kept;
 * listen, TLS, user and pidfile apply after a restart); SIGTERM/SIGINT
 * stop accepting, finish running requests and exit 0. systemd
 * (Type=notify) hears READY once listening, RELOADING..READY around a
 * reload and STOPPING (ms_daemon_notify).
 *
 * Functions: main and file-local helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ms_daemon.h"
#include "ms_log.h"
#include "ms_mime.h"
#include "web_http.h"
#include "web_session.h"
#include "web_usercmd.h"

static const char *conf_path = "/etc/mailsift/plugin.conf";

static int usage(void)
{
	fprintf(stderr, "usage: mailsift-web [-c plugin.conf] [-f] [-n]\n"
			"       mailsift-web [-c plugin.conf] user "
			"add|passwd|del|list ...\n");
	return 2;
}

static void handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/* Waits for signals until asked to stop. */
static void run(int sfd)
{
	struct signalfd_siginfo si;
	for (;;) {
		ssize_t n = read(sfd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si)
			ms_log_fatal("signalfd: %s", strerror(errno));
		if (si.ssi_signo != SIGHUP) {
			ms_log_info("%s: stopping", si.ssi_signo == SIGTERM
							    ? "SIGTERM"
							    : "SIGINT");
			ms_daemon_notify(MS_NOTIFY_STOPPING);
			return;
		}
		ms_daemon_notify(MS_NOTIFY_RELOADING);
		ms_config *c = ms_daemon_load_config(conf_path);
		if (!c) {
			ms_log_error("SIGHUP: configuration not reloaded, "
				     "keeping the old one");
		} else {
			web_http_set_config(c);
			ms_config_unref(&c);
			ms_log_info("configuration reloaded from %s",
				    conf_path);
		}
		ms_daemon_notify(MS_NOTIFY_READY);
	}
}

static int open_pidfile(const char *path)
{
	if (!*path)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		ms_log_warn("cannot open pid file %s: %s", path,
			    strerror(errno));
	return fd;
}

static int daemon_main(ms_config *cfg, int foreground)
{
	if (!foreground) {
		if (daemon(0, 0) != 0)
			ms_log_fatal("daemon: %s", strerror(errno));
		ms_log_open_syslog("mailsift-web");
	}
	ms_log_set_verbose(1);
	sigset_t set;
	handled_signals(&set);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	int pid_fd = open_pidfile(cfg->web_pidfile), rc = 1;
	ms_mime_init();
	web_session_init();
	/* up to WEB_READERS_MAX kept archive handles hold every shard open (~4
	 * files each) */
	unsigned long nofile = ms_daemon_raise_nofile();
	if (nofile < 4096)
		ms_log_warn("open files limit %lu: searches may fail with many "
			    "shards (raise the hard limit)",
			    nofile);
	if (sfd >= 0 && ms_daemon_drop_privileges(cfg->web_user) == 0 &&
	    web_http_start(cfg) == 0) {
		if (pid_fd >= 0 && dprintf(pid_fd, "%ld\n", (long)getpid()) < 0)
			ms_log_warn("cannot write pid file");
		ms_daemon_notify(MS_NOTIFY_READY);
		run(sfd);
		web_http_stop();
		ms_log_info("exiting");
		rc = 0;
	}
	if (pid_fd >= 0) {
		close(pid_fd);
		unlink(cfg->web_pidfile);
	}
	if (sfd >= 0)
		close(sfd);
	return rc;
}

int main(int argc, char **argv)
{
	int foreground = 0, check = 0, c;
	sigset_t set;
	handled_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	while ((c = getopt(argc, argv, "+c:fnh")) != -1) {
		if (c == 'c')
			conf_path = optarg;
		else if (c == 'f')
			foreground = 1;
		else if (c == 'n')
			check = 1;
		else
			return usage();
	}
	ms_log_open_stderr("mailsift-web");
	int user_cmd = optind < argc && strcmp(argv[optind], "user") == 0;
	if (optind < argc && !user_cmd)
		return usage();
	ms_config *cfg = ms_daemon_load_config(conf_path);
	if (!cfg)
		return 1;
	int rc = 0;
	if (user_cmd)
		rc = web_usercmd(cfg, argc - optind - 1, argv + optind + 1);
	else if (check)
		printf("%s: configuration OK\n", conf_path);
	else
		rc = daemon_main(cfg, foreground);
	ms_config_unref(&cfg);
	return rc;
}
