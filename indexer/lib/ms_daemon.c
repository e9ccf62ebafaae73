/* ms_daemon.c - start-up helpers for the programs (see ms_daemon.h):
 * ms_daemon_load_config, ms_daemon_drop_privileges, ms_daemon_raise_nofile,
 * ms_daemon_notify (sd_notify of libsystemd). Diagnostics go through ms_log.
 */
#include "ms_daemon.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "ms_log.h"

ms_config *ms_daemon_load_config(const char *path)
{
	ms_config *cfg = NULL;
	char *err = NULL;
	ms_status_t st = ms_config_load(path, &cfg, &err);
	if (st)
		ms_log_error("%s", err ? err : ms_status_str(st));
	free(err);
	return cfg;
}

int ms_daemon_drop_privileges(const char *user)
{
	if (!*user || geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return ms_log_error("unknown user '%s'", user), -1;
	if (setgid(pw->pw_gid) || initgroups(user, pw->pw_gid) ||
	    setuid(pw->pw_uid))
		return ms_log_error("cannot become %s: %s", user,
				    strerror(errno)),
		       -1;
	return 0;
}

unsigned long ms_daemon_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return ULONG_MAX;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = { rl.rlim_max, rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	return rl.rlim_cur == RLIM_INFINITY ? ULONG_MAX
					    : (unsigned long)rl.rlim_cur;
}

void ms_daemon_notify(ms_notify_t what)
{
	if (what == MS_NOTIFY_READY) {
		sd_notify(0, "READY=1");
	} else if (what == MS_NOTIFY_STOPPING) {
		sd_notify(0, "STOPPING=1");
	} else {
		/* MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload)
		 * match the reload; older ones ignore it */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
			   (unsigned long long)ts.tv_sec * 1000000ULL +
				   (unsigned long long)ts.tv_nsec / 1000);
	}
}
