/* ms_daemon.h - what the daemons (mailsift-milter, mailsift-indexd) share
 * about running as a service: dropping root privileges.
 */
#ifndef MS_DAEMON_H
#define MS_DAEMON_H

/* When running as root and user is not "", switches group, supplementary
 * groups and user to those of user. Returns 0, or -1 after logging why
 * (unknown user, setuid failure). */
int ms_daemon_drop_privileges(const char *user);

#endif
