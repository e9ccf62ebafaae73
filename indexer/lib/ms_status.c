/* ms_status.c - names for ms_status_t values (ms_status_str). */
#include "ms_status.h"

const char *ms_status_str(ms_status_t st)
{
	static const char *const names[] = {
		[MS_OK] = "ok",
		[MS_ERR_NOMEM] = "out of memory",
		[MS_ERR_IO] = "I/O error",
		[MS_ERR_PARSE] = "parse error",
		[MS_ERR_CONFIG] = "configuration error",
		[MS_ERR_NOTFOUND] = "not found",
		[MS_ERR_LOCKED] = "database locked",
		[MS_ERR_MODIFIED] = "database modified",
		[MS_ERR_CORRUPT] = "database or file corrupt",
		[MS_ERR_XAPIAN] = "Xapian error",
		[MS_ERR_INVALID] = "invalid argument",
		[MS_ERR_QUERY] = "query syntax error",
		[MS_ERR_CRYPTO] = "cryptographic error",
		[MS_ERR_LIMIT] = "limit exceeded",
		[MS_ERR_BUSY] = "archive busy with maintenance",
		[MS_ERR_REMOTE] = "remote archive host unreachable",
	};
	if ((unsigned)st < sizeof names / sizeof names[0] && names[st])
		return names[st];
	return "unknown status";
}
