/* cli_doctor_util.c - the report lines of `mailsift doctor` and the
 * runner of the programs it asks (postconf, doveconf).
 *
 * Functions: doc_report, doc_run, doc_user_may, doc_owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_doctor.h"

extern char **environ;

void doc_report(doctor *d, doc_verdict v, const char *check, const char *hint,
		const char *fmt, ...)
{
	static const char *const names[] = { "ok", "warn", "FAIL" };
	va_list ap;
	printf("%-4s  %s: ", names[v], check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (v != DOC_OK && hint)
		printf("      hint: %s\n", hint);
	fflush(stdout);
	d->failed += v == DOC_FAIL;
	d->warned += v == DOC_WARN;
}

/* Drops the lines of out that start with "NAME: warning:". */
static void drop_warnings(ms_buf *out, const char *name)
{
	char pre[128];
	snprintf(pre, sizeof pre, "%s: warning:", name);
	size_t w = 0, pl = strlen(pre);
	for (size_t r = 0; r < out->len;) {
		char *nl = memchr(out->data + r, '\n', out->len - r);
		size_t n = nl ? (size_t)(nl - out->data) - r + 1 : out->len - r;
		if (n < pl || memcmp(out->data + r, pre, pl) != 0) {
			memmove(out->data + w, out->data + r, n);
			w += n;
		}
		r += n;
	}
	ms_buf_truncate(out, w);
}

/* Reads fd to its end into out. */
static void slurp_fd(int fd, ms_buf *out)
{
	char buf[4096];
	ssize_t k;
	while ((k = read(fd, buf, sizeof buf)) > 0 || (k < 0 && errno == EINTR))
		if (k > 0 && ms_buf_append(out, buf, (size_t)k) != MS_OK)
			break;
}

int doc_run(char *const argv[], ms_buf *out)
{
	ms_buf_reset(out);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return 127;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	pid_t pid;
	int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (e == 0)
		slurp_fd(p[0], out);
	close(p[0]);
	if (e != 0) {
		ms_buf_printf(out, "%s: %s", argv[0], strerror(e));
		return 127;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	const char *base = strrchr(argv[0], '/');
	drop_warnings(out, base ? base + 1 : argv[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* 1 if pw is in group gid (primary or supplementary). */
static int in_group(const struct passwd *pw, gid_t gid)
{
	gid_t groups[256];
	int n = 256;
	if (pw->pw_gid == gid)
		return 1;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int doc_user_may(const struct passwd *pw, const struct stat *st, unsigned want)
{
	unsigned m = (unsigned)st->st_mode;
	if (pw->pw_uid == 0)
		return 1;
	if (pw->pw_uid == st->st_uid)
		return ((m >> 6) & want) == want;
	if (in_group(pw, st->st_gid))
		return ((m >> 3) & want) == want;
	return (m & want) == want;
}

const char *doc_owner(const struct stat *st, char *buf, size_t n)
{
	struct passwd *pw = getpwuid(st->st_uid);
	struct group *gr = getgrgid(st->st_gid);
	char u[16], g[16];
	snprintf(u, sizeof u, "%u", (unsigned)st->st_uid);
	snprintf(g, sizeof g, "%u", (unsigned)st->st_gid);
	snprintf(buf, n, "owner %s:%s, mode %04o", pw ? pw->pw_name : u,
		 gr ? gr->gr_name : g, (unsigned)(st->st_mode & 07777));
	return buf;
}
