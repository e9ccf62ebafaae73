/* ms_clamd.h - clamd's one-line commands (PING, VERSION, ...) for the
 * tools that check on clamd (`mailsift doctor`), and the signature
 * database date in a VERSION reply. The milter's scanning client
 * (zINSTREAM with fail-over) is plugin/milter_clamd.c.
 */
#ifndef MS_CLAMD_H
#define MS_CLAMD_H

#include <stddef.h>
#include <stdint.h>

#include "ms_status.h"

/* Sends "zCMD\0" to endpoint ("unix:PATH" or "inet:HOST:PORT", as in
 * [scanner] clamd) and reads the NUL-terminated reply into reply[0..n)
 * (terminated, without the NUL; n >= 2), all within timeout_ms. MS_OK;
 * MS_ERR_IO (no connection, timeout, closed early) or MS_ERR_PARSE (a
 * reply longer than n - 1 bytes or with control bytes): *err_r (if err_r;
 * caller frees) is one line naming the endpoint. */
ms_status_t ms_clamd_command(const char *endpoint, const char *cmd,
			     unsigned timeout_ms, char *reply, size_t n,
			     char **err_r);

/* Parses a VERSION reply "ClamAV 1.4.6/27000/Wed Dec  2 08:21:03 2026"
 * (the date is clamd's local time): *db_r gets the database version,
 * *date_r the date in seconds since the epoch. 0, or -1 when the reply
 * has no database part ("ClamAV 1.4.6": only unofficial databases
 * loaded) or it does not parse. */
int ms_clamd_version_parse(const char *reply, unsigned long *db_r,
			   int64_t *date_r);

#endif
