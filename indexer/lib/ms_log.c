/* ms_log.c - logging facade (see ms_log.h): syslog or stderr backend.
 *
 * Functions: ms_log_open_syslog, ms_log_open_stderr, ms_log_set_verbose,
 * ms_log_info, ms_log_warn, ms_log_error, ms_log_fatal. One line per call;
 * the whole line is formatted first and written with one call so that
 * threads do not interleave within a line.
 */
#include "ms_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

static const char *log_prog = "mailsift";
static int log_syslog;
static int log_verbose;

void ms_log_open_syslog(const char *ident)
{
	log_prog = ident;
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_syslog = 1;
	log_verbose = 1;
}

void ms_log_open_stderr(const char *progname)
{
	log_prog = progname;
	log_syslog = 0;
}

void ms_log_set_verbose(int on)
{
	log_verbose = on;
}

static void log_emit(int prio, const char *level, const char *fmt, va_list ap)
{
	char line[2048];
	vsnprintf(line, sizeof line, fmt, ap);
	if (log_syslog)
		syslog(prio, "%s: %s", level, line);
	else
		fprintf(stderr, "%s: %s%s%s\n", log_prog,
			prio == LOG_INFO ? "" : level,
			prio == LOG_INFO ? "" : ": ", line);
}

#define LOG_BODY(prio, level)                                                  \
	do {                                                                   \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_emit(prio, level, fmt, ap);                                \
		va_end(ap);                                                    \
	} while (0)

void ms_log_info(const char *fmt, ...)
{
	if (log_verbose)
		LOG_BODY(LOG_INFO, "info");
}

void ms_log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, "warning");
}

void ms_log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, "error");
}

void ms_log_fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, "fatal");
	exit(1);
}
