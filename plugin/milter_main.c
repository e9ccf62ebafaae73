/* milter_main.c - mailsift-milter: options, daemon life cycle, signals.
 *
 *   mailsift-milter -c plugin.conf [-f] [-n]
 *
 * -n checks the configuration and exits; -f stays in the foreground and
 * logs to stderr (else syslog, facility mail). libmilter turns SIGHUP into
 * "stop", so the process is split in two: a small supervisor (whose pid is
 * in [milter] pidfile) takes SIGHUP, checks the new configuration and tells
 * the worker to reload with SIGUSR1; SIGTERM stops the worker cleanly
 * (libmilter finishes its connections) and then the supervisor. A worker
 * that dies unexpectedly is restarted. The worker raises its descriptor
 * limit to the hard limit, which sizes [milter] max_connections.
 * systemd (Type=notify, NotifyAccess=all) hears READY from the worker once
 * it listens and after each reload, RELOADING and STOPPING from the
 * supervisor (ms_daemon_notify).
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"
#include "ms_daemon.h"
#include "ms_log.h"
#include "ms_mime.h"

#define STALE_TMP   3600 /* seconds: longer than any SMTP transaction */
#define RESPAWN_MIN 10	 /* a worker dying sooner after its start is fatal */

static const char *conf_path = "/etc/mailsift/plugin.conf";

static int usage(void)
{
	fprintf(stderr, "usage: mailsift-milter [-c plugin.conf] [-f] [-n]\n");
	return 2;
}

/* The worker's reload thread: SIGUSR1 -> new configuration snapshot. */
static void *reload_thread(void *arg)
{
	sigset_t *set = arg;
	for (;;) {
		int sig;
		if (sigwait(set, &sig) != 0)
			continue;
		msm_conf *c = NULL;
		char *err = NULL;
		if (msm_conf_load(conf_path, &c, &err) == 0) {
			msm_conf_install(c);
			ms_log_info("configuration reloaded from %s",
				    conf_path);
		} else {
			ms_log_error("reload failed, keeping the old "
				     "configuration: %s",
				     err ? err : "unknown error");
		}
		free(err);
		ms_daemon_notify(MS_NOTIFY_READY); /* the reload is done */
	}
	return NULL;
}

static int worker(msm_conf *conf)
{
	static sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	pthread_t tid;
	pthread_create(&tid, NULL, reload_thread, &usr1);
	const ms_config *cfg = conf->cfg;
	unsigned stale = 0;
	if (ms_spool_clean_tmp(conf->spool, STALE_TMP, &stale) == MS_OK &&
	    stale)
		ms_log_info("removed %u unfinished spool files older than %d s "
			    "(from a worker that died)",
			    stale, STALE_TMP);
	msm_conf_install(conf);
	smfi_setconn(cfg->milter_socket);
	smfi_settimeout((int)cfg->milter_timeout);
	if (smfi_register(msm_filter) == MI_FAILURE)
		return ms_log_error("smfi_register failed"), 1;
	mode_t old = umask(0);
	int ok = smfi_opensocket(1) == MI_SUCCESS;
	umask(old);
	if (!ok)
		return ms_log_error("cannot listen on %s", cfg->milter_socket),
		       1;
	ms_log_info("listening on %s", cfg->milter_socket);
	ms_daemon_notify(MS_NOTIFY_READY);
	int rc = smfi_main() == MI_SUCCESS ? 0 : 1;
	ms_log_info("stopped");
	return rc;
}

/* Says how many connections the descriptor limit allows. */
static void log_limits(const msm_conf *c, unsigned long was,
		       unsigned long nofile)
{
	unsigned want = c->cfg->milter_max_connections;
	ms_log_info("descriptor limit %lu (was %lu): at most %u connections "
		    "at once",
		    nofile, was, c->max_conns);
	if (want > c->max_conns)
		ms_log_warn("max_connections = %u lowered to %u: the "
			    "descriptor limit %lu allows no more",
			    want, c->max_conns, nofile);
}

/* Starts a worker process (its descriptor limit raised to the hard limit);
 * returns its pid or -1. */
static pid_t spawn_worker(void)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	unsigned long was = msm_limit_nofile(),
		      nofile = ms_daemon_raise_nofile();
	msm_conf *c = NULL;
	char *err = NULL;
	if (msm_conf_load(conf_path, &c, &err) != 0)
		ms_log_fatal("%s", err ? err : "cannot load configuration");
	log_limits(c, was, nofile);
	_exit(worker(c));
}

static void write_pidfile(const char *path)
{
	if (!*path)
		return;
	FILE *f = fopen(path, "w");
	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f))
		ms_log_warn("cannot write pid file %s: %s", path,
			    strerror(errno));
}

/* SIGHUP: check the new configuration, then tell the worker. */
static void supervisor_reload(pid_t child)
{
	msm_conf *c = NULL;
	char *err = NULL;
	ms_daemon_notify(MS_NOTIFY_RELOADING);
	int ok = msm_conf_load(conf_path, &c, &err) == 0;
	if (!ok)
		ms_log_error("SIGHUP: configuration not reloaded: %s",
			     err ? err : "error");
	if (ok && child > 0)
		kill(child, SIGUSR1); /* it says READY when reloaded */
	else
		ms_daemon_notify(MS_NOTIFY_READY);
	msm_conf_put(&c);
	free(err);
}

static time_t spawned_at; /* when the current worker was started */
static int gave_up;	  /* the worker could not run: exit status 1 */

/* Returns 1 when the supervisor should exit: on stop, or when a worker
 * dies within RESPAWN_MIN seconds of its start (a configuration or
 * environment problem that restarting would only repeat). */
static int supervisor_child_died(pid_t *child, int stopping)
{
	int status;
	pid_t p = waitpid(-1, &status, WNOHANG);
	if (p <= 0 || p != *child)
		return 0;
	*child = -1;
	if (stopping)
		return 1;
	if (time(NULL) - spawned_at < RESPAWN_MIN) {
		ms_log_error("worker exited right after its start (status %d); "
			     "giving up",
			     status);
		gave_up = 1;
		return 1;
	}
	ms_log_error("worker exited unexpectedly (status %d); restarting",
		     status);
	sleep(1);
	spawned_at = time(NULL);
	*child = spawn_worker();
	return 0;
}

static int supervise(const ms_config *cfg)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	spawned_at = time(NULL);
	pid_t child = spawn_worker();
	int stopping = 0;
	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			supervisor_reload(child);
		else if (sig == SIGCHLD &&
			 supervisor_child_died(&child, stopping))
			break;
		else if (sig == SIGTERM || sig == SIGINT) {
			ms_daemon_notify(MS_NOTIFY_STOPPING);
			stopping = 1;
			if (child > 0)
				kill(child, SIGTERM);
			else
				break;
		}
	}
	if (*cfg->milter_pidfile)
		unlink(cfg->milter_pidfile);
	ms_log_info("exiting");
	return gave_up;
}

/* -n: builds a full snapshot (policy, blocklist, spool) and says so. */
static int check_config(void)
{
	msm_conf *conf = NULL;
	char *err = NULL;
	if (msm_conf_load(conf_path, &conf, &err) != 0)
		ms_log_fatal("%s", err ? err : "cannot load configuration");
	printf("%s: configuration OK\n", conf_path);
	msm_conf_put(&conf);
	return 0;
}

int main(int argc, char **argv)
{
	int foreground = 0, check = 0, c;
	while ((c = getopt(argc, argv, "c:fnh")) != -1) {
		if (c == 'c')
			conf_path = optarg;
		else if (c == 'f')
			foreground = 1;
		else if (c == 'n')
			check = 1;
		else
			return usage();
	}
	if (optind != argc)
		return usage();
	ms_log_open_stderr("mailsift-milter");
	ms_mime_init();
	ms_config *cfg = NULL;
	char *err = NULL;
	if (ms_config_load(conf_path, &cfg, &err) != MS_OK)
		ms_log_fatal("%s", err ? err : "cannot load configuration");
	if (!check && !foreground) {
		if (daemon(0, 0) != 0)
			ms_log_fatal("daemon: %s", strerror(errno));
		ms_log_open_syslog("mailsift-milter");
	}
	if (!check)
		write_pidfile(cfg->milter_pidfile);
	/* everything the milter creates (spool directories, its socket)
	 * belongs to its own user, so drop root before the first of them */
	if (ms_daemon_drop_privileges(cfg->milter_user))
		return 1;
	int rc = check ? check_config()
		       : (ms_log_set_verbose(1), supervise(cfg));
	ms_config_free(&cfg);
	return rc;
}
