/* ms_remote_addr.c - parsing [archive] remote addresses (ms_remote.h);
 * no sockets here, so the Dovecot plugin, which checks plugin.conf with
 * the same table, links it without the network client.
 *
 * Functions: ms_remote_split, ms_remote_addr_ok.
 */
#include "ms_remote.h"

#include <stdlib.h>
#include <string.h>

int ms_remote_split(const char *s, char host[MS_REMOTE_HOST_MAX],
		    unsigned *port_r)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -1;
	size_t hn = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hn < 3 || s[hn - 1] != ']')
			return -1;
		s++;
		hn -= 2;
	} else if (memchr(s, ':', hn)) {
		return -1; /* a bare IPv6 address needs brackets */
	}
	if (hn >= MS_REMOTE_HOST_MAX || strcspn(s, " \t\r\n") < hn)
		return -1;
	char *end;
	const char *p = colon + 1;
	long port = strtol(p, &end, 10);
	if (*p < '0' || *p > '9' || *end || port < 1 || port > 65534)
		return -1;
	memcpy(host, s, hn);
	host[hn] = '\0';
	*port_r = (unsigned)port;
	return 0;
}

int ms_remote_addr_ok(const char *s)
{
	char host[MS_REMOTE_HOST_MAX];
	unsigned port;
	return ms_remote_split(s, host, &port) == 0;
}
