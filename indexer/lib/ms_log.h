/* ms_log.h - logging facade: info/warn/error/fatal for daemons and the CLI.
 *
 * Daemons log to syslog (ms_log_open_syslog), the CLI to stderr (the
 * default). Every line should carry its context (queue id, spool id, path)
 * in the message itself. The library proper never logs; only programs do.
 * ms_log_fatal() logs and exits with status 1.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

/* Log to syslog with this ident (a static string). */
void ms_log_open_syslog(const char *ident);
/* Log to stderr, prefixed with "progname: " (a static string). */
void ms_log_open_stderr(const char *progname);
/* Also emit info lines (off by default on stderr, on for syslog). */
void ms_log_set_verbose(int on);

void ms_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ms_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ms_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ms_log_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
