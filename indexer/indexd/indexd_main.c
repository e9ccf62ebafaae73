/* indexd_main.c - mailsift-indexd: options, life cycle, signals, loop.
 *
 *   mailsift-indexd [-c plugin.conf] [-f] [-n]
 *
 * -n checks the configuration and exits; -f stays in the foreground and
 * logs to stderr (else syslog). Start-up: daemonize, open the pid file
 * (as root), switch to [indexd] user, open the spool, take the spool's
 * indexd lock (a second indexd on the same spool exits with status 1
 * naming the holder), write the pid, clean stale tmp/ files, watch new/
 * and list it. Signals arrive through a signalfd in the event loop:
 * SIGHUP reloads plugin.conf (batch settings apply at once, [archive]
 * settings after committing the open batch, the spool directory, user
 * and pid file only after a restart); SIGTERM/SIGINT commit the open
 * batch, remove its entries and exit 0. Under systemd (Type=notify) it
 * reports READY once watching, RELOADING..READY around a reload and
 * STOPPING on a stop signal (ms_daemon_notify).
 *
 * Functions: main and file-local helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "indexd.h"
#include "ms_daemon.h"
#include "ms_log.h"

#define CHUNK	       64	      /* entries per loop turn */
#define STALE_TMP_SECS (24 * 60 * 60) /* tmp/ files older are dead */

static const char *conf_path = "/etc/mailsift/plugin.conf";

static int usage(void)
{
	fprintf(stderr, "usage: mailsift-indexd [-c plugin.conf] [-f] [-n]\n");
	return 2;
}

/* Replaces the content of fd with our pid. */
static int write_pid(int fd)
{
	char s[32];
	int n = snprintf(s, sizeof s, "%ld\n", (long)getpid());
	return ftruncate(fd, 0) == 0 && pwrite(fd, s, (size_t)n, 0) == n ? 0
									 : -1;
}

/* Takes <spool>/indexd.lock; returns its fd (kept open) or -1 (logged). */
static int take_lock(const char *spool_dir)
{
	char *path = NULL;
	if (asprintf(&path, "%s/indexd.lock", spool_dir) < 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (fd < 0) {
		ms_log_error("%s: %s", path, strerror(errno));
	} else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		ms_log_error("another mailsift-indexd (pid %s) is already "
			     "indexing %s (lock %s held); exiting",
			     *pid ? pid : "?", spool_dir, path);
		close(fd);
		fd = -1;
	} else if (write_pid(fd) < 0) {
		ms_log_warn("%s: cannot write pid: %s", path, strerror(errno));
	}
	free(path);
	return fd;
}

/* Opens (creating) the pid file while still privileged; -1 if none. */
static int open_pidfile(const char *path)
{
	if (!*path)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		ms_log_warn("cannot open pid file %s: %s", path,
			    strerror(errno));
	return fd;
}

/* The signals indexd handles; blocked first thing in main(), so that one
 * arriving during start-up waits for the event loop. */
static void handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

static int signals_open(void)
{
	sigset_t set;
	handled_signals(&set);
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		ms_log_error("signalfd: %s", strerror(errno));
	return fd;
}

static int archive_differs(const ms_config *a, const ms_config *b)
{
	return strcmp(a->archive_dir, b->archive_dir) != 0 ||
	       a->archive_shard_by != b->archive_shard_by ||
	       a->archive_max_text_per_part != b->archive_max_text_per_part ||
	       a->archive_compression_level != b->archive_compression_level ||
	       strcmp(a->archive_encrypt_key, b->archive_encrypt_key) != 0;
}

/* SIGHUP: re-reads plugin.conf and applies what can change. */
static void reload(ixd *d)
{
	ms_daemon_notify(MS_NOTIFY_RELOADING);
	ms_config *c = ms_daemon_load_config(conf_path);
	if (!c) {
		ms_log_error("SIGHUP: configuration not reloaded, keeping the "
			     "old one");
		ms_daemon_notify(MS_NOTIFY_READY);
		return;
	}
	if (strcmp(c->spool_dir, d->spool_dir) != 0)
		ms_log_warn("SIGHUP: [spool] dir changed to %s; still using "
			    "%s until a restart",
			    c->spool_dir, d->spool_dir);
	if (strcmp(c->indexd_user, d->cfg->indexd_user) != 0 ||
	    strcmp(c->indexd_pidfile, d->cfg->indexd_pidfile) != 0)
		ms_log_warn("SIGHUP: [indexd] user and pidfile apply after a "
			    "restart");
	if (archive_differs(c, d->cfg))
		ixd_archive_release(d); /* reopened with the new settings */
	ms_config_unref(&d->cfg);
	d->cfg = c;
	ixd_metrics_config(c); /* the archive the scrapes count shards of */
	ms_log_info("configuration reloaded from %s: batch_size=%u "
		    "commit_interval=%us",
		    conf_path, c->indexd_batch_size, c->indexd_commit_interval);
	ms_daemon_notify(MS_NOTIFY_READY);
}

/* Drains the signalfd; returns 1 when asked to stop. */
static int on_signals(ixd *d, int sfd)
{
	struct signalfd_siginfo si;
	int stop = 0;
	while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			reload(d);
		} else {
			ms_log_info("%s: stopping", si.ssi_signo == SIGTERM
							    ? "SIGTERM"
							    : "SIGINT");
			ms_daemon_notify(MS_NOTIFY_STOPPING);
			stop = 1;
		}
	}
	return stop;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* How long the loop may sleep (ms; -1 = until an event). */
static int poll_timeout(const ixd *d)
{
	int64_t now = ms_clock_ms();
	if (ixd_queue_ready(d->q) && now >= d->ar_retry)
		return 0;
	int64_t t = min64(ixd_batch_deadline(d), ixd_queue_next_due(d->q));
	t = min64(t, d->next_rescan);
	if (ixd_queue_ready(d->q))
		t = min64(t, d->ar_retry);
	t -= now;
	return t < 0 ? 0 : t > 3600000 ? 3600000 : (int)t;
}

/* The event loop; returns when a stop signal arrived. */
static void run(ixd *d, int sfd)
{
	struct pollfd pf[2] = { { .fd = sfd, .events = POLLIN },
				{ .fd = d->ino_fd, .events = POLLIN } };
	for (;;) {
		int n = poll(pf, d->ino_fd >= 0 ? 2 : 1, poll_timeout(d));
		if (n < 0 && errno != EINTR)
			ms_log_fatal("poll: %s", strerror(errno));
		if (n > 0 && (pf[0].revents & POLLIN) && on_signals(d, sfd))
			return;
		if (n > 0 && d->ino_fd >= 0 && (pf[1].revents & POLLIN))
			ixd_watch_read(d);
		int64_t now = ms_clock_ms();
		if (now >= d->next_rescan)
			ixd_rescan(d);
		ixd_queue_wake(d->q, now);
		ixd_work(d, CHUNK);
		if (ixd_batch_due(d, ms_clock_ms()))
			ixd_commit(d);
		if (!d->n_batch && !ixd_queue_ready(d->q))
			ixd_archive_release(d); /* idle: free shard locks */
	}
}

/* Opens the spool, takes the lock, starts watching. -1 on error. */
static int start(ixd *d, int *lock_fd)
{
	char *err = NULL;
	ms_status_t st = ms_spool_open(d->spool_dir, &d->spool, &err);
	if (st) {
		ms_log_error("cannot open spool %s: %s", d->spool_dir,
			     err ? err : ms_status_str(st));
		free(err);
		return -1;
	}
	if ((*lock_fd = take_lock(d->spool_dir)) < 0)
		return -1;
	unsigned n_stale = 0;
	if (ms_spool_clean_tmp(d->spool, STALE_TMP_SECS, &n_stale) == MS_OK &&
	    n_stale)
		ms_log_warn("removed %u stale files from %s/tmp (older than a "
			    "day)",
			    n_stale, d->spool_dir);
	if (!(d->q = ixd_queue_new()))
		return ms_log_error("out of memory"), -1;
	ixd_watch_open(d);
	long n = ixd_rescan(d);
	ms_log_info("indexing %s into %s: %ld entries waiting, batch_size=%u "
		    "commit_interval=%us",
		    d->spool_dir, d->cfg->archive_dir, n < 0 ? 0 : n,
		    d->cfg->indexd_batch_size, d->cfg->indexd_commit_interval);
	return 0;
}

/* Commits the open batch, closes everything. Returns the exit status. */
static int stop(ixd *d)
{
	int rc = ixd_archive_release(d) == 0 ? 0 : 1;
	ms_log_info("exiting: %llu indexed, %llu moved to bad/, %llu commits, "
		    "%zu left in the spool",
		    (unsigned long long)d->n_indexed,
		    (unsigned long long)d->n_bad,
		    (unsigned long long)d->n_commits,
		    d->q ? ixd_queue_known(d->q) : 0);
	ixd_watch_close(d);
	ixd_queue_free(&d->q);
	ms_spool_close(&d->spool);
	free(d->batch);
	return rc;
}

static int parse_args(int argc, char **argv, int *fg, int *check)
{
	int c;
	while ((c = getopt(argc, argv, "c:fnh")) != -1) {
		if (c == 'c')
			conf_path = optarg;
		else if (c == 'f')
			*fg = 1;
		else if (c == 'n')
			*check = 1;
		else
			return -1;
	}
	return optind == argc ? 0 : -1;
}

static int daemon_main(ixd *d, int foreground)
{
	if (!foreground) {
		if (daemon(0, 0) != 0)
			ms_log_fatal("daemon: %s", strerror(errno));
		ms_log_open_syslog("mailsift-indexd");
	}
	ms_log_set_verbose(1);
	int pid_fd = open_pidfile(d->cfg->indexd_pidfile), lock_fd = -1;
	int sfd = signals_open(), rc = 1;
	if (sfd >= 0 && ms_daemon_drop_privileges(d->cfg->indexd_user) == 0 &&
	    start(d, &lock_fd) == 0) {
		ixd_metrics_start(d); /* [indexd] metrics */
		if (pid_fd >= 0 && write_pid(pid_fd) < 0)
			ms_log_warn("cannot write pid file: %s",
				    strerror(errno));
		ms_daemon_notify(MS_NOTIFY_READY);
		run(d, sfd);
		ixd_metrics_stop(); /* before the spool closes */
		rc = stop(d);
		if (pid_fd >= 0)
			unlink(d->cfg->indexd_pidfile);
	} else {
		stop(d);
	}
	if (pid_fd >= 0)
		close(pid_fd);
	if (lock_fd >= 0)
		close(lock_fd);
	if (sfd >= 0)
		close(sfd);
	return rc;
}

int main(int argc, char **argv)
{
	int foreground = 0, check = 0;
	sigset_t set;
	handled_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (parse_args(argc, argv, &foreground, &check) < 0)
		return usage();
	ms_log_open_stderr("mailsift-indexd");
	ixd d = { .ino_fd = -1, .ino_wd = -1 };
	if (!(d.cfg = ms_daemon_load_config(conf_path)))
		return 1;
	if (check) {
		printf("%s: configuration OK\n", conf_path);
		ms_config_unref(&d.cfg);
		return 0;
	}
	d.conf_path = conf_path;
	if (!(d.spool_dir = strdup(d.cfg->spool_dir)))
		ms_log_fatal("out of memory");
	int rc = daemon_main(&d, foreground);
	free(d.spool_dir);
	ms_config_unref(&d.cfg);
	return rc;
}
