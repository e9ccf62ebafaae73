/* ms_log.h - logging facade: info/warn/error/fatal for daemons and the CLI.
 *
 * Daemons log to syslog (ms_log_open_syslog), the CLI to stderr (the
 * default). Every line should carry its context (queue id, spool id, path)
 * in the message itself. The library proper never logs; only programs do.
 * ms_log_fatal() logs and exits with status 1.
 *
 * Each call is exactly one line in every sink: the formatted text is passed
 * through ms_log_escape(), so values from the network (a sender address, a
 * queue id macro) can be logged as they are without splitting or forging
 * lines.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

#include <stddef.h>

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

/* Copies the NUL-terminated in to out (n bytes, n >= 1), escaping what could
 * split or disguise a log line: backslash as \\, LF, CR and TAB as \n, \r,
 * \t, every other byte below 0x20 and 0x7f as \xHH. Other bytes (UTF-8
 * included) are copied. Only whole escape sequences are written: what does
 * not fit in n - 1 bytes is dropped. out is always NUL-terminated. Returns
 * the length of out. */
size_t ms_log_escape(const char *in, char *out, size_t n);

#endif
