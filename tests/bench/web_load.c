/* web_load.c - the load generator of `make bench-web` (tests/bench/
 * bench-web.py runs it): closed-loop HTTP/1.1 sessions against
 * mailsift-web on 127.0.0.1, without the GIL and thread switching of a
 * Python client in the measured time.
 *
 * Usage: web_load PORT SECONDS < SCRIPT
 * SCRIPT: lines "sid SESSION_ID" (one session each), then lines "path
 * PATH" (the request mix). Session k runs on its own thread with its own
 * keep-alive connection and cookie, sending paths k, k+1, ... (cyclic)
 * back to back until SECONDS have passed. Each response is checked:
 * status 200, a Content-Length body read in full, and a sane body (a
 * path under /api/ gives JSON starting {"count": and ending ]}; any other
 * an HTML page ending </html>). After a failure the connection is made
 * again.
 *
 * Output, one line per request when all sessions are done: "PATH_INDEX
 * MICROSECONDS OK" (OK 1 or 0), then "wall SECONDS". Exit 0, or 2 on bad
 * usage or input.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS 1024
#define MAX_PATHS    1024
#define LINE_MAX_LEN 4096
#define RESP_MAX     (8 << 20)

typedef struct sample {
	uint32_t path, us;
	uint8_t ok;
} sample;

typedef struct session {
	int k, fd;
	const char *sid;
	sample *v;
	size_t n, cap;
	char *buf; /* the response, RESP_MAX bytes */
} session;

static int port;
static double end_at;
static char *sids[MAX_SESSIONS], *paths[MAX_PATHS];
static size_t n_sids, n_paths;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int connect_local(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Content-Length of the header block hdr (NUL-terminated), or -1. */
static long content_length(const char *hdr)
{
	for (const char *p = hdr; (p = strchr(p, '\n')); p++)
		if (strncasecmp(p + 1, "Content-Length:", 15) == 0)
			return strtol(p + 16, NULL, 10);
	return -1;
}

/* Reads one response into s->buf; returns its status (0 on error) and
 * sets *body / *blen. */
static int read_resp(session *s, const char **body, size_t *blen)
{
	size_t have = 0;
	char *eoh = NULL;
	long clen = -1;
	for (;;) {
		if (!eoh && have >= 4) {
			s->buf[have] = '\0';
			if ((eoh = strstr(s->buf, "\r\n\r\n"))) {
				*eoh = '\0';
				clen = content_length(s->buf);
				if (clen < 0 || clen > RESP_MAX / 2)
					return 0;
			}
		}
		if (eoh && have >= (size_t)(eoh + 4 - s->buf) + (size_t)clen)
			break;
		if (have >= RESP_MAX - 1)
			return 0;
		ssize_t r = recv(s->fd, s->buf + have, RESP_MAX - 1 - have, 0);
		if (r <= 0)
			return 0;
		have += (size_t)r;
	}
	*body = eoh + 4;
	*blen = (size_t)clen;
	int status = 0;
	if (sscanf(s->buf, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	return status;
}

static int ends_with(const char *b, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	return n >= t && memcmp(b + n - t, tail, t) == 0;
}

static int body_ok(const char *path, const char *b, size_t n)
{
	if (strncmp(path, "/api/", 5) == 0)
		return n > 10 && memcmp(b, "{\"count\":", 9) == 0 &&
		       (ends_with(b, n, "]}\n") || ends_with(b, n, "]}"));
	return ends_with(b, n, "</html>\n") || ends_with(b, n, "</html>");
}

/* One request of s for path i: 1 if it was answered 200 with a sane
 * body. */
static int one(session *s, size_t i)
{
	char req[LINE_MAX_LEN + 512];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			 "Cookie: msid=%s\r\n\r\n",
			 paths[i], port, s->sid);
	const char *body = NULL;
	size_t blen = 0;
	if (s->fd < 0 && (s->fd = connect_local()) < 0)
		return 0;
	if (n < 0 || (size_t)n >= sizeof req ||
	    send_all(s->fd, req, (size_t)n) < 0 ||
	    read_resp(s, &body, &blen) != 200 ||
	    !body_ok(paths[i], body, blen)) {
		close(s->fd);
		s->fd = -1;
		return 0;
	}
	return 1;
}

static void record(session *s, size_t i, double secs, int ok)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		sample *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return; /* the sample is lost, not the run */
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] =
		(sample){ (uint32_t)i, (uint32_t)(secs * 1e6), (uint8_t)ok };
}

static void *run(void *arg)
{
	session *s = arg;
	for (size_t k = (size_t)s->k; now() < end_at; k++) {
		size_t i = k % n_paths;
		double t0 = now();
		int ok = one(s, i);
		record(s, i, now() - t0, ok);
	}
	if (s->fd >= 0)
		close(s->fd);
	return NULL;
}

/* Reads the script from stdin. 0, or -1 if it is bad. */
static int read_script(void)
{
	char line[LINE_MAX_LEN];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "sid ", 4) == 0 && n_sids < MAX_SESSIONS)
			sids[n_sids++] = strdup(line + 4);
		else if (strncmp(line, "path ", 5) == 0 &&
			 n_paths < MAX_PATHS && line[5] == '/')
			paths[n_paths++] = strdup(line + 5);
		else if (*line)
			return -1;
	}
	return n_sids && n_paths ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (port = atoi(argv[1])) <= 0 || port > 65535 ||
	    atof(argv[2]) <= 0 || read_script() < 0) {
		fprintf(stderr, "usage: web_load PORT SECONDS < SCRIPT "
				"(sid ID / path PATH lines)\n");
		return 2;
	}
	static session ss[MAX_SESSIONS];
	pthread_t th[MAX_SESSIONS];
	double t0 = now();
	end_at = t0 + atof(argv[2]);
	for (size_t k = 0; k < n_sids; k++) {
		ss[k] = (session){ .k = (int)k, .fd = -1, .sid = sids[k] };
		if (!(ss[k].buf = malloc(RESP_MAX)) ||
		    pthread_create(&th[k], NULL, run, &ss[k]) != 0) {
			fprintf(stderr, "web_load: cannot start session %zu\n",
				k);
			return 2;
		}
	}
	for (size_t k = 0; k < n_sids; k++)
		pthread_join(th[k], NULL);
	double wall = now() - t0;
	for (size_t k = 0; k < n_sids; k++)
		for (size_t j = 0; j < ss[k].n; j++)
			printf("%u %u %u\n", ss[k].v[j].path, ss[k].v[j].us,
			       ss[k].v[j].ok);
	printf("wall %.3f\n", wall);
	return 0;
}
