/* cli_serve.c - `mailsift serve`: publishes this host's shards to the
 * search heads that list it in [archive] remote.
 *
 *   mailsift serve --listen HOST:PORT [-n]
 *
 * Functions: cli_serve; file-local parse_args, write_stub, spawn,
 * reap, serve_loop. It runs and supervises one xapian-tcpsrv (read-only,
 * Xapian's remote backend) on HOST:PORT over a stub database file,
 * ARCHIVE/serve/tcpsrv-PORT.stub, that lists every shard ("auto PATH"
 * lines). xapian-tcpsrv opens its databases anew for each connection, so
 * a new monthly shard is served from the next search on once the stub
 * lists it: the shard directory is listed every second and the stub
 * rewritten (atomically) when it changed, with no restart and no
 * connection refused meanwhile. An archive without shards is served as
 * one empty database (ARCHIVE/serve/empty). The raw messages and the
 * shard listing come from the endpoint at PORT+1 (cli_serve_raw.c).
 * xapian-tcpsrv exiting is logged and it is started again a second later;
 * it runs in a process group of its own (its SIGTERM handler signals its
 * whole group) and dies with serve (PR_SET_PDEATHSIG).
 * SIGTERM/SIGINT: stops both and exits 0; SIGHUP: lists the shards and
 * restarts xapian-tcpsrv. -n checks the configuration, the address and
 * the archive, and exits. One log line per event.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_serve.h"
#include "ms_daemon.h"
#include "ms_file.h"
#include "ms_log.h"
#include "ms_remote.h"
#include "ms_shard.h"
#include "ms_xapian.h"

#define USAGE	     "usage: mailsift serve --listen HOST:PORT [-n]"
#define VERSION_FILE "iamglass" /* Xapian glass's, written at creation */

typedef struct serve {
	const ms_config *cfg;
	const char *listen;
	char host[MS_REMOTE_HOST_MAX];
	unsigned port;
	char raw_addr[MS_REMOTE_HOST_MAX + 8];
	char *serve_dir, *stub, *empty;
	const char *shards_dir;
	ms_buf listed; /* the shard names the stub lists now */
	pid_t child;   /* xapian-tcpsrv, or 0 */
} serve;

/* 0, 1 (-n) or 2 after a usage error. */
static int parse_args(int argc, char **argv, serve *s, int *check_r)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+l:n", opts, NULL)) != -1) {
		if (c == 'l')
			s->listen = optarg;
		else if (c == 'n')
			*check_r = 1;
		else
			return ms_log_error(USAGE), 2;
	}
	if (!s->listen || optind != argc)
		return ms_log_error(USAGE), 2;
	if (ms_remote_split(s->listen, s->host, &s->port))
		return ms_log_error("serve: --listen %s: want HOST:PORT with "
				    "PORT 1..65534 (PORT+1 serves the raw "
				    "messages)",
				    s->listen),
		       2;
	snprintf(s->raw_addr, sizeof s->raw_addr,
		 strchr(s->host, ':') ? "[%s]:%u" : "%s:%u", s->host,
		 s->port + 1);
	return 0;
}

/* 1 if shard name holds a database already (a writer creating it makes
 * the directory first, its version file a moment later). */
static int shard_ready(const serve *s, const char *name)
{
	char *p = NULL;
	struct stat sb;
	int ok =
		asprintf(&p, "%s/%s/" VERSION_FILE, s->shards_dir, name) >= 0 &&
		stat(p, &sb) == 0;
	free(p);
	return ok;
}

/* The ready shards' names, one a line, into out. */
static ms_status_t list_shards(const serve *s, ms_buf *out)
{
	char **names = NULL;
	size_t n = 0;
	ms_status_t st = ms_shard_list(s->shards_dir, &names, &n);
	for (size_t i = 0; !st && i < n; i++)
		if (shard_ready(s, names[i]))
			st = ms_buf_printf(out, "%s\n", names[i]);
	ms_shard_list_free(&names);
	return st;
}

/* The empty database served while there is no shard. */
static ms_status_t make_empty(const serve *s)
{
	ms_xdb *db = NULL;
	char *err = NULL;
	ms_status_t st = ms_xdb_open_write(s->empty, &db, &err);
	if (st)
		ms_log_error("serve: %s: %s", s->empty,
			     err ? err : ms_status_str(st));
	else if ((st = ms_xdb_commit(db)))
		ms_log_error("serve: %s: %s", s->empty, ms_xdb_error(db));
	ms_xdb_close(&db);
	free(err);
	return st;
}

/* Rewrites the stub when the shards changed (or force). 1 if it was
 * rewritten, 0 if nothing changed, -1 after logging an error. */
static int write_stub(serve *s, int force)
{
	ms_buf now = MS_BUF_INIT, stub = MS_BUF_INIT;
	int rc = -1;
	if (list_shards(s, &now)) {
		ms_log_error("serve: %s: cannot list the shards",
			     s->shards_dir);
		goto out;
	}
	rc = 0;
	if (!force && s->listed.data && now.len == s->listed.len &&
	    !memcmp(now.data ? now.data : "", s->listed.data, now.len))
		goto out;
	rc = -1;
	size_t n = 0;
	for (char *p = now.data, *nl; p && (nl = strchr(p, '\n')); p = nl + 1)
		n++, ms_buf_printf(&stub, "auto %s/%.*s\n", s->shards_dir,
				   (int)(nl - p), p);
	if (!n &&
	    (make_empty(s) || ms_buf_printf(&stub, "auto %s\n", s->empty)))
		goto out;
	char *err = NULL;
	if (ms_file_replace(s->stub, stub.data, stub.len, 0640, &err)) {
		ms_log_error("serve: %s", err ? err : "cannot write the stub");
		free(err);
		goto out;
	}
	ms_log_info("serve: %zu shards listed in %s", n, s->stub);
	ms_buf_reset(&s->listed);
	ms_buf_append(&s->listed, now.data ? now.data : "", now.len);
	rc = 1;
out:
	ms_buf_free(&now);
	ms_buf_free(&stub);
	return rc;
}

/* Starts xapian-tcpsrv over the stub; 0 or -1 (logged). */
static int spawn(serve *s)
{
	char port[16];
	snprintf(port, sizeof port, "%u", s->port);
	pid_t pid = fork();
	if (pid < 0)
		return ms_log_error("serve: fork: %s", strerror(errno)), -1;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* xapian-tcpsrv ends on SIGTERM with kill(0, SIGTERM): a
		 * process group of its own keeps that from hitting us; and it
		 * goes with us if we are killed */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execlp("xapian-tcpsrv", "xapian-tcpsrv", "--interface", s->host,
		       "--port", port, "--quiet", s->stub, (char *)NULL);
		fprintf(stderr,
			"mailsift: serve: xapian-tcpsrv: %s (Debian "
			"package xapian-tools)\n",
			strerror(errno));
		_exit(127);
	}
	s->child = pid;
	ms_log_info("serve: xapian-tcpsrv pid %ld on %s:%u (read-only)",
		    (long)pid, s->host, s->port);
	return 0;
}

/* Stops xapian-tcpsrv (connections being served finish in its own
 * children). */
static void stop_child(serve *s)
{
	if (!s->child)
		return;
	kill(s->child, SIGTERM);
	waitpid(s->child, NULL, 0);
	s->child = 0;
}

/* Reaps an exited xapian-tcpsrv; 1 if it had exited. */
static int reap(serve *s)
{
	int status;
	if (!s->child || waitpid(s->child, &status, WNOHANG) != s->child)
		return 0;
	ms_log_warn("serve: xapian-tcpsrv pid %ld %s %d; starting it again",
		    (long)s->child,
		    WIFEXITED(status) ? "exited with status"
				      : "killed by signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	s->child = 0;
	return 1;
}

static int serve_loop(serve *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	ms_daemon_notify(MS_NOTIFY_READY);
	for (;;) {
		struct timespec tick = { 1, 0 };
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			ms_daemon_notify(MS_NOTIFY_STOPPING);
			ms_log_info("serve: signal %d: stopping", sig);
			return 0;
		}
		if (sig == SIGHUP) {
			ms_daemon_notify(MS_NOTIFY_RELOADING);
			ms_log_info("serve: SIGHUP: listing the shards and "
				    "restarting xapian-tcpsrv");
			write_stub(s, 1);
			stop_child(s);
		}
		if (reap(s) && sig != SIGHUP)
			sleep(1); /* do not spin on a tcpsrv that cannot start
				   */
		write_stub(s, 0);
		if (!s->child && spawn(s))
			return 1;
		if (sig == SIGHUP)
			ms_daemon_notify(MS_NOTIFY_READY);
	}
}

/* Paths under ARCHIVE/serve; 0 or -1 (logged). */
static int make_paths(serve *s)
{
	if (asprintf(&s->serve_dir, "%s/serve", s->cfg->archive_dir) < 0 ||
	    asprintf(&s->stub, "%s/tcpsrv-%u.stub", s->serve_dir, s->port) <
		    0 ||
	    asprintf(&s->empty, "%s/empty", s->serve_dir) < 0)
		return ms_log_error("out of memory"), -1;
	if (mkdir(s->serve_dir, 0750) != 0 && errno != EEXIST)
		return ms_log_error("serve: %s: %s", s->serve_dir,
				    strerror(errno)),
		       -1;
	return 0;
}

int cli_serve(const ms_config *cfg, int argc, char **argv)
{
	serve s = { .cfg = cfg };
	int check = 0, rc = parse_args(argc, argv, &s, &check);
	if (rc)
		return rc;
	ms_log_set_verbose(1); /* a daemon: one line per event */
	ms_archive *ar = cli_open_archive(cfg, 0);
	if (!ar)
		return 1;
	s.shards_dir = ms_archive_shards_dir(ar);
	cli_raw_server *raw = NULL;
	char *err = NULL;
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	if (check) {
		printf("serve: configuration ok: %s, xapian-tcpsrv on %s, raw "
		       "messages on %s\n",
		       cfg->archive_dir, s.listen, s.raw_addr);
	} else if (make_paths(&s) || write_stub(&s, 1) < 0) {
		rc = 1;
	} else if (cli_raw_start(ar, s.shards_dir, cfg->archive_dir, s.raw_addr,
				 &raw, &err)) {
		ms_log_error("serve: %s", err ? err : "cannot listen");
		rc = 1;
	} else {
		ms_log_info("serve: raw messages and shard list on %s",
			    s.raw_addr);
		rc = spawn(&s) ? 1 : serve_loop(&s);
	}
	stop_child(&s);
	cli_raw_stop(&raw);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (s.stub && !check)
		unlink(s.stub);
	free(err);
	free(s.serve_dir);
	free(s.stub);
	free(s.empty);
	ms_buf_free(&s.listed);
	ms_archive_close(&ar);
	return rc;
}
