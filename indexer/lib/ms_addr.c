/* ms_addr.c - numeric "HOST:PORT" addresses (ms_addr.h).
 *
 * Functions: ms_addr_parse, ms_addr_check_optional.
 */
#include "ms_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* The port after the last ':' of s: 1..65535, digits only; else -1. */
static long port_of(const char *colon)
{
	char *end = NULL;
	const char *p = colon + 1;
	if (*p < '0' || *p > '9')
		return -1;
	long port = strtol(p, &end, 10);
	return *end || port <= 0 || port > 65535 ? -1 : port;
}

int ms_addr_parse(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	size_t hn = colon ? (size_t)(colon - s) : 0;
	long port = colon ? port_of(colon) : -1;
	if (port < 0 || hn == 0 || hn >= sizeof host)
		return -1;
	memcpy(host, s, hn);
	host[hn] = '\0';
	memset(ss, 0, sizeof *ss);
	if (host[0] == '[') {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
		if (hn < 3 || host[hn - 1] != ']')
			return -1;
		host[hn - 1] = '\0';
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1 ? 0
									  : -1;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &v4->sin_addr) == 1 ? 0 : -1;
}

ms_status_t ms_addr_check_optional(const char *value, ms_buf *why)
{
	struct sockaddr_storage ss;
	if (!*value || ms_addr_parse(value, &ss) == 0)
		return MS_OK;
	ms_buf_puts(why, "want \"\" (off) or a numeric HOST:PORT, e.g. "
			 "127.0.0.1:9101 or [::1]:9101");
	return MS_ERR_CONFIG;
}
