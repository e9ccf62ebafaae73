/* ms_log.c - logging facade (see ms_log.h): syslog or stderr backend.
 *
 * Functions: ms_log_open_syslog, ms_log_open_stderr, ms_log_set_verbose,
 * ms_log_info, ms_log_warn, ms_log_error, ms_log_fatal, ms_log_escape. One
 * line per call: the whole line is formatted first, its control characters
 * escaped (so no value can split it or forge another), and written with one
 * call so that threads do not interleave within a line.
 */
#include "ms_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Writes c as it goes into a log line to e (c itself or its escape
 * sequence, at most 4 bytes); returns the length. */
static size_t escape_of(unsigned char c, char e[4])
{
	static const char hex[] = "0123456789abcdef";
	if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
		e[0] = '\\';
		e[1] = c == '\\'   ? '\\'
		       : c == '\n' ? 'n'
		       : c == '\r' ? 'r'
				   : 't';
		return 2;
	}
	if (c >= 0x20 && c != 0x7f) {
		e[0] = (char)c;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[c >> 4];
	e[3] = hex[c & 15];
	return 4;
}

size_t ms_log_escape(const char *in, char *out, size_t n)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		char e[4];
		size_t k = escape_of(*p, e);
		if (o + k >= n)
			break;
		memcpy(out + o, e, k);
		o += k;
	}
	out[o] = '\0';
	return o;
}

static void log_emit(int prio, const char *level, const char *fmt, va_list ap)
{
	char line[2048], safe[4 * sizeof line];
	vsnprintf(line, sizeof line, fmt, ap);
	ms_log_escape(line, safe, sizeof safe);
	if (log_syslog)
		syslog(prio, "%s: %s", level, safe);
	else
		fprintf(stderr, "%s: %s%s%s\n", log_prog,
			prio == LOG_INFO ? "" : level,
			prio == LOG_INFO ? "" : ": ", safe);
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
