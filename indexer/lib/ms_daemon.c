/* ms_daemon.c - service helpers for the daemons (see ms_daemon.h):
 * ms_daemon_drop_privileges. Diagnostics go through ms_log.
 */
#include "ms_daemon.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "ms_log.h"

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
