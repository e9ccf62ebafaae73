/* ms_sock.c - client stream sockets with timeouts (see ms_sock.h).
 *
 * Functions: ms_sock_fail, ms_sock_deadline, ms_sock_connect, ms_sock_send,
 * ms_sock_recv, ms_sock_recv_all.
 *
 * A connect is a non-blocking connect() and a poll() for writability
 * bounded by the timeout, then SO_ERROR. Every wait is a poll() against
 * the deadline, restarted on EINTR.
 */
#include "ms_sock.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ms_clock.h"

/* An endpoint taken apart. */
typedef struct target {
	const char *path; /* unix socket, or NULL */
	char host[256];
	char port[16];
	int family; /* AF_UNSPEC, AF_INET6 for inet6: */
} target;

int64_t ms_sock_deadline(unsigned timeout_ms)
{
	return ms_clock_ms() + (int64_t)timeout_ms;
}

ms_status_t ms_sock_fail(char **err_r, ms_status_t st, const char *ep,
			 const char *what, int e)
{
	if (err_r && asprintf(err_r, "%s: %s%s%s", ep, what, e ? ": " : "",
			      e ? strerror(e) : "") < 0)
		*err_r = NULL;
	return st;
}

static void set_err(char **err_r, const char *ep, const char *what, int e)
{
	(void)ms_sock_fail(err_r, MS_ERR_IO, ep, what, e);
}

/* Waits for ev on fd until deadline. 0 when ready, -1 with errno. */
static int wait_for(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - ms_clock_ms();
		if (left <= 0)
			return errno = ETIMEDOUT, -1;
		struct pollfd p = { .fd = fd, .events = ev };
		int k = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			return errno = ETIMEDOUT, -1;
		return 0;
	}
}

/* ---- endpoints ---- */

static int copy_part(char *out, size_t on, const char *p, size_t n)
{
	if (n == 0 || n >= on)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT" */
static int parse_host_port(const char *s, target *t)
{
	const char *colon = strrchr(s, ':');
	if (!colon)
		return -1;
	size_t hn = (size_t)(colon - s);
	if (hn >= 2 && s[0] == '[' && s[hn - 1] == ']') {
		s++;
		hn -= 2;
	}
	return copy_part(t->host, sizeof t->host, s, hn) ||
	       copy_part(t->port, sizeof t->port, colon + 1, strlen(colon + 1));
}

/* "PORT@HOST" or "PORT" (loopback) */
static int parse_port_at(const char *s, target *t, int v6)
{
	const char *at = strchr(s, '@');
	size_t pn = at ? (size_t)(at - s) : strlen(s);
	const char *h = at ? at + 1 : v6 ? "::1" : "127.0.0.1";
	t->family = v6 ? AF_INET6 : AF_UNSPEC;
	return copy_part(t->port, sizeof t->port, s, pn) ||
	       copy_part(t->host, sizeof t->host, h, strlen(h));
}

/* 0 if t->port is a port number (1..65535). */
static int port_ok(const target *t)
{
	char *end;
	long p = strtol(t->port, &end, 10);
	if (t->port[0] < '0' || t->port[0] > '9' || *end)
		return -1;
	return p > 0 && p < 65536 ? 0 : -1;
}

static int parse_target(const char *ep, target *t)
{
	memset(t, 0, sizeof *t);
	if (!strncmp(ep, "unix:", 5) || !strncmp(ep, "local:", 6)) {
		t->path = strchr(ep, ':') + 1;
		return *t->path ? 0 : -1;
	}
	int r;
	if (!strncmp(ep, "inet6:", 6))
		r = parse_port_at(ep + 6, t, 1);
	else if (strncmp(ep, "inet:", 5) != 0)
		return -1;
	else if (strchr(ep + 5, '@') || !strchr(ep + 5, ':'))
		r = parse_port_at(ep + 5, t, 0);
	else
		r = parse_host_port(ep + 5, t);
	return r ? r : port_ok(t);
}

/* ---- connecting ---- */

/* Waits for a non-blocking connect on fd to end. 0 or its errno. */
static int finish_connect(int fd, int64_t deadline)
{
	int e = 0;
	socklen_t el = sizeof e;
	if (wait_for(fd, POLLOUT, deadline) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		return errno;
	return e;
}

/* Connects a new socket of family to sa. The descriptor, or -1 (errno). */
static int connect_addr(int family, const struct sockaddr *sa, socklen_t len,
			int64_t deadline)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int e = connect(fd, sa, len) < 0 ? errno : 0;
	if (e == EINPROGRESS)
		e = finish_connect(fd, deadline);
	if (e) {
		close(fd);
		return errno = e, -1;
	}
	return fd;
}

static int connect_unix(const char *path, int64_t deadline)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sun.sun_path)
		return errno = ENAMETOOLONG, -1;
	strcpy(sun.sun_path, path);
	return connect_addr(AF_UNIX, (struct sockaddr *)&sun, sizeof sun,
			    deadline);
}

static int connect_tcp(const char *ep, const target *t, int64_t deadline,
		       char **err_r)
{
	struct addrinfo hints = { .ai_family = t->family,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV },
			*res = NULL;
	int g = getaddrinfo(t->host, t->port, &hints, &res);
	if (g) {
		char what[300];
		snprintf(what, sizeof what, "resolve %s: %s", t->host,
			 gai_strerror(g));
		set_err(err_r, ep, what, 0);
		return -1;
	}
	int fd = -1;
	errno = EADDRNOTAVAIL;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next)
		fd = connect_addr(a->ai_family, a->ai_addr, a->ai_addrlen,
				  deadline);
	int e = errno;
	freeaddrinfo(res);
	if (fd < 0)
		set_err(err_r, ep, "connect", e);
	return fd;
}

int ms_sock_connect(const char *endpoint, unsigned timeout_ms, char **err_r)
{
	if (err_r)
		*err_r = NULL;
	target t;
	if (parse_target(endpoint, &t) != 0) {
		set_err(err_r, endpoint,
			"bad endpoint (want unix:PATH, inet:HOST:PORT or "
			"inet:PORT@HOST)",
			0);
		return -1;
	}
	int64_t deadline = ms_sock_deadline(timeout_ms);
	if (!t.path)
		return connect_tcp(endpoint, &t, deadline, err_r);
	int fd = connect_unix(t.path, deadline);
	if (fd < 0)
		set_err(err_r, endpoint, "connect", errno);
	return fd;
}

/* ---- sending and receiving ---- */

int ms_sock_send(int fd, const void *p, size_t n, int64_t deadline)
{
	const char *c = p;
	while (n > 0) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			if (wait_for(fd, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		if (k < 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

ssize_t ms_sock_recv(int fd, void *p, size_t n, int64_t deadline)
{
	for (;;) {
		ssize_t k = recv(fd, p, n, 0);
		if (k >= 0 || (errno != EAGAIN && errno != EINTR))
			return k;
		if (errno == EAGAIN && wait_for(fd, POLLIN, deadline) < 0)
			return -1;
	}
}

int ms_sock_recv_all(int fd, void *p, size_t n, int64_t deadline)
{
	char *c = p;
	while (n > 0) {
		ssize_t k = ms_sock_recv(fd, c, n, deadline);
		if (k < 0)
			return -1;
		if (k == 0)
			return errno = ECONNRESET, -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}
