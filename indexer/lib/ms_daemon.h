/* ms_daemon.h - what the programs (mailsift, mailsift-milter,
 * mailsift-indexd, mailsift-web) share about starting: loading the
 * configuration with a logged error, dropping root privileges, raising
 * the open files limit, telling systemd how the service is doing.
 */
#ifndef MS_DAEMON_H
#define MS_DAEMON_H

#include "ms_config.h"

/* Loads plugin.conf at path; on failure logs the one-line reason
 * (ms_log_error) and returns NULL. The caller drops the snapshot with
 * ms_config_free(). */
ms_config *ms_daemon_load_config(const char *path);

/* When running as root and user is not "", switches group, supplementary
 * groups and user to those of user. Returns 0, or -1 after logging why
 * (unknown user, setuid failure). */
int ms_daemon_drop_privileges(const char *user);

/* Raises the soft limit on open files to the hard limit (a refusal keeps
 * the old one). Returns the soft limit now in force (ULONG_MAX when
 * unlimited or unknown). */
unsigned long ms_daemon_raise_nofile(void);

/* What a daemon tells its service manager (systemd, Type=notify). */
typedef enum {
	MS_NOTIFY_READY,     /* serving: start-up or a reload is done */
	MS_NOTIFY_RELOADING, /* SIGHUP: re-reading the configuration */
	MS_NOTIFY_STOPPING,  /* asked to stop, finishing the work */
} ms_notify_t;

/* Sends the state to $NOTIFY_SOCKET with libsystemd's sd_notify; does
 * nothing when the variable is not set (not started by systemd) and
 * ignores failures (a service manager that went away). */
void ms_daemon_notify(ms_notify_t what);

#endif
