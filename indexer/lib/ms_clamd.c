/* ms_clamd.c - clamd's one-line commands and VERSION replies (see
 * ms_clamd.h).
 *
 * Functions: ms_clamd_command, ms_clamd_version_parse.
 *
 * A command is "z" CMD NUL on a fresh connection; clamd answers one
 * NUL-terminated line and closes.
 */
#include "ms_clamd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ms_sock.h"

/* Reads until a NUL into reply[0..n). Its length, or -1 (errno; EMSGSIZE
 * when it does not fit). */
static ssize_t read_line(int fd, char *reply, size_t n, int64_t deadline)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = ms_sock_recv(fd, reply + got, n - got, deadline);
		if (k <= 0)
			return k == 0 ? (errno = ECONNRESET, -1) : -1;
		char *nul = memchr(reply + got, '\0', (size_t)k);
		if (nul)
			return nul - reply;
		got += (size_t)k;
	}
	return errno = EMSGSIZE, -1;
}

ms_status_t ms_clamd_command(const char *endpoint, const char *cmd,
			     unsigned timeout_ms, char *reply, size_t n,
			     char **err_r)
{
	if (err_r)
		*err_r = NULL;
	reply[0] = '\0';
	int64_t deadline = ms_sock_deadline(timeout_ms);
	int fd = ms_sock_connect(endpoint, timeout_ms, err_r);
	if (fd < 0)
		return MS_ERR_IO;
	char req[64];
	int rl = snprintf(req, sizeof req, "z%s", cmd);
	ms_status_t st = MS_OK;
	ssize_t k = -1;
	if (rl < 0 || (size_t)rl >= sizeof req)
		st = ms_sock_fail(err_r, MS_ERR_INVALID, endpoint,
				  "command too long", 0);
	else if (ms_sock_send(fd, req, (size_t)rl + 1, deadline) < 0)
		st = ms_sock_fail(err_r, MS_ERR_IO, endpoint, "send", errno);
	else if ((k = read_line(fd, reply, n, deadline)) < 0) {
		int e = errno;
		st = e == EMSGSIZE ? ms_sock_fail(err_r, MS_ERR_PARSE, endpoint,
						  "reply too long", 0)
				   : ms_sock_fail(err_r, MS_ERR_IO, endpoint,
						  "reading the reply", e);
	}
	close(fd);
	if (st) {
		reply[0] = '\0';
		return st;
	}
	for (ssize_t i = 0; i < k; i++)
		if ((unsigned char)reply[i] < 0x20 || reply[i] == 0x7f) {
			reply[0] = '\0';
			return ms_sock_fail(err_r, MS_ERR_PARSE, endpoint,
					    "garbled reply", 0);
		}
	return MS_OK;
}

int ms_clamd_version_parse(const char *reply, unsigned long *db_r,
			   int64_t *date_r)
{
	const char *s1 = strchr(reply, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (strncmp(reply, "ClamAV ", 7) != 0 || !s2 || s2 == s1 + 1)
		return -1;
	char *end;
	errno = 0;
	unsigned long db = strtoul(s1 + 1, &end, 10);
	if (errno || end != s2)
		return -1;
	struct tm tm = { .tm_isdst = -1 };
	const char *rest = strptime(s2 + 1, "%a %b %d %H:%M:%S %Y", &tm);
	if (!rest || *rest != '\0' || tm.tm_year < 100)
		return -1; /* a database is younger than 2000 */
	time_t t = mktime(&tm);
	if (t == (time_t)-1)
		return -1;
	*db_r = db;
	*date_r = (int64_t)t;
	return 0;
}
