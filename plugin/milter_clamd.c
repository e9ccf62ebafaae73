/* milter_clamd.c - clamd zINSTREAM/zFILDES client with timeouts and
 * fail-over (see milter_clamd.h).
 *
 * Functions: ms_clamd_scan, ms_clamd_parse_reply.
 *
 * One scan, per endpoint: non-blocking connect bounded by the connect
 * timeout; "zINSTREAM\0"; chunks read with pread() and sent with a 4-byte
 * big-endian length each (every wait for the socket bounded by the read
 * timeout; an early reply from clamd, such as the size-limit error, stops
 * the sending); a zero-length chunk; then one NUL-terminated reply of at
 * most MAX_REPLY bytes, awaited for at most the read timeout in all.
 * With FILDES (unix endpoints, opts->fildes, files up to
 * MS_CLAMD_FILDES_MAX): "zFILDES\0", then one byte carrying the
 * descriptor (SCM_RIGHTS); the reply "fd[N]: OK" is judged like
 * "stream: OK". clamd reads the file itself: no copy through the socket,
 * no temporary file on clamd's side. A complete reply that is no verdict
 * (an old clamd: "UNKNOWN COMMAND") makes the same endpoint be tried once
 * more with INSTREAM.
 * Diagnostics go into the verdict's reason as "ENDPOINT: what happened".
 */
#include "milter_clamd.h"
#include "milter_metrics.h"
#include "ms_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY      1024
#define DEF_CONNECT_MS 10000
#define DEF_READ_MS    60000
#define DEF_CHUNK      (64 * 1024)
#define MAX_CHUNK      (16 * 1024 * 1024)

/* What one attempt on one endpoint came to. */
typedef enum attempt {
	ATTEMPT_DONE, /* clean or infected: the answer */
	ATTEMPT_NEXT, /* this endpoint failed: try the next one */
	ATTEMPT_STOP  /* local failure (message file): no point going on */
} attempt;

/* What a wait for the socket saw. */
typedef enum io_res { IO_OK, IO_TIMEOUT, IO_ERR, IO_EARLY_REPLY } io_res;

/* One connection's state. */
typedef struct conn {
	const char *ep;
	int sock;
	int connect_ms, read_ms;
	int send_err;  /* errno of a failed send, 0 if none */
	int got_reply; /* a complete reply came (judged not a verdict) */
	ms_scan_verdict *v;
} conn;

/* ---- the reply parser ---- */

/* Copies t[0..n) into out[0..on) (terminated), printable ASCII only. */
static void copy_text(char *out, size_t on, const char *t, size_t n)
{
	if (on == 0)
		return;
	size_t k = n < on - 1 ? n : on - 1;
	for (size_t i = 0; i < k; i++)
		out[i] = t[i] >= 0x20 && t[i] < 0x7f ? t[i] : '?';
	out[k] = '\0';
}

static ms_scan_result failed(char *reason, size_t rn, const char *what,
			     const char *t, size_t n)
{
	char snip[96];
	copy_text(snip, sizeof snip, t, n);
	if (rn)
		snprintf(reason, rn, "%s%s%s%s", what, n ? " \"" : "", snip,
			 n ? "\"" : "");
	return MS_SCAN_FAILED;
}

static int ends_with(const char *t, size_t n, const char *suf)
{
	size_t k = strlen(suf);
	return n >= k && memcmp(t + n - k, suf, k) == 0;
}

ms_scan_result ms_clamd_parse_reply(const char *buf, size_t n, char *virus,
				    size_t vn, char *reason, size_t rn)
{
	static const char pre[] = "stream: ";
	const size_t pl = sizeof pre - 1;
	copy_text(virus, vn, "", 0);
	copy_text(reason, rn, "", 0);
	if (n == 0 || (buf[n - 1] != '\0' && buf[n - 1] != '\n'))
		return failed(reason, rn, "incomplete clamd reply", buf, n);
	n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c >= 0x7f)
			return failed(reason, rn, "garbled clamd reply", buf,
				      n);
	}
	if (n == 0)
		return failed(reason, rn, "empty clamd reply", buf, 0);
	if (ends_with(buf, n, " ERROR"))
		return failed(reason, rn, "clamd error", buf, n);
	if (n < pl || memcmp(buf, pre, pl) != 0)
		return failed(reason, rn, "unexpected clamd reply", buf, n);
	const char *r = buf + pl;
	size_t rl = n - pl;
	if (rl == 2 && memcmp(r, "OK", 2) == 0)
		return MS_SCAN_CLEAN;
	if (ends_with(r, rl, " FOUND") && rl > 6 && r[0] != ' ') {
		copy_text(virus, vn, r, rl - 6);
		return MS_SCAN_INFECTED;
	}
	return failed(reason, rn, "unexpected clamd reply", buf, n);
}

/* ---- time and errors ---- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets the verdict's reason: "ENDPOINT: what[: strerror(e)]". */
static attempt fail_with(conn *c, attempt a, const char *what, int e)
{
	char eb[128] = "", tmp[96];
	if (e)
		snprintf(eb, sizeof eb, ": %s", strerror_r(e, tmp, sizeof tmp));
	snprintf(c->v->reason, sizeof c->v->reason, "%s: %s%s", c->ep, what,
		 eb);
	return a;
}

/* Polls c->sock for ev until deadline (ms, monotonic). */
static io_res wait_for(conn *c, short ev, long long deadline, short *got)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return IO_TIMEOUT;
		struct pollfd p = { .fd = c->sock, .events = ev };
		int k = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return IO_ERR;
		if (k == 0)
			return IO_TIMEOUT;
		*got = p.revents;
		return IO_OK;
	}
}

/* ---- connecting ---- */

static void close_socket(conn *c)
{
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}

/* Connects c to its endpoint (ms_sock.h: the endpoint forms, the connect
 * timeout, the reason's "ENDPOINT: what: strerror"). ATTEMPT_DONE when
 * connected, else ATTEMPT_NEXT with the reason set. */
static attempt connect_ep(conn *c)
{
	char *err = NULL;
	c->sock = ms_sock_connect(c->ep, (unsigned)c->connect_ms, &err);
	if (c->sock >= 0)
		return ATTEMPT_DONE;
	snprintf(c->v->reason, sizeof c->v->reason, "%s",
		 err ? err : "connect failed");
	free(err);
	return ATTEMPT_NEXT;
}

/* ---- sending ---- */

/* Sends p[0..n) completely. IO_EARLY_REPLY if clamd has something to say
 * first (it stopped reading); errno kept on IO_ERR. */
static io_res send_all(conn *c, const char *p, size_t n)
{
	while (n > 0) {
		short got = 0;
		io_res r = wait_for(c, POLLIN | POLLOUT, now_ms() + c->read_ms,
				    &got);
		if (r != IO_OK)
			return r;
		if (got & (POLLIN | POLLHUP))
			return IO_EARLY_REPLY;
		ssize_t k = send(c->sock, p, n, MSG_NOSIGNAL);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return IO_ERR;
		p += k;
		n -= (size_t)k;
	}
	return IO_OK;
}

/* Reads up to n bytes at off fully (short only at end of file). */
static ssize_t pread_full(int fd, char *p, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, p + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* Streams fd[0..len) as INSTREAM chunks plus the terminating empty chunk.
 * *early set when clamd answered before the end. */
static attempt send_stream(conn *c, int fd, uint64_t len, char *buf,
			   size_t chunk, int *early)
{
	io_res r = send_all(c, "zINSTREAM", 10);
	for (uint64_t off = 0; r == IO_OK;) {
		size_t want = len - off < chunk ? (size_t)(len - off) : chunk;
		ssize_t k = want ? pread_full(fd, buf + 4, want, off) : 0;
		if (k < 0)
			return fail_with(c, ATTEMPT_STOP, "reading the message",
					 errno);
		if ((size_t)k != want)
			return fail_with(c, ATTEMPT_STOP,
					 "message file shorter than its size",
					 0);
		buf[0] = (char)(want >> 24);
		buf[1] = (char)(want >> 16);
		buf[2] = (char)(want >> 8);
		buf[3] = (char)want;
		r = send_all(c, buf, 4 + want);
		if (want == 0)
			break;
		off += want;
	}
	if (r == IO_ERR)
		c->send_err = errno;
	*early = r == IO_EARLY_REPLY || r == IO_ERR;
	if (r == IO_TIMEOUT)
		return fail_with(c, ATTEMPT_NEXT, "timed out sending", 0);
	return ATTEMPT_DONE;
}

/* Passes fd to clamd: "zFILDES\0", then one byte with SCM_RIGHTS. */
static attempt send_fildes(conn *c, int fd)
{
	io_res r = send_all(c, "zFILDES", 8);
	short got = 0;
	if (r == IO_OK)
		r = wait_for(c, POLLOUT, now_ms() + c->read_ms, &got);
	if (r == IO_TIMEOUT)
		return fail_with(c, ATTEMPT_NEXT, "timed out sending", 0);
	if (r != IO_OK)
		return fail_with(c, ATTEMPT_NEXT, "sending", errno);
	char byte = 0;
	struct iovec iov = { &byte, 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof u.buf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	ssize_t k;
	do
		k = sendmsg(c->sock, &mh, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k != 1)
		return fail_with(c, ATTEMPT_NEXT, "passing the descriptor",
				 k < 0 ? errno : EIO);
	return ATTEMPT_DONE;
}

/* ---- the reply ---- */

/* Reads one NUL-terminated reply into buf (MAX_REPLY). Returns its length
 * including the NUL, or 0 with the reason set. */
static size_t read_reply(conn *c, char *buf)
{
	size_t n = 0;
	long long deadline = now_ms() + c->read_ms;
	while (n < MAX_REPLY) {
		short got = 0;
		io_res r = wait_for(c, POLLIN, deadline, &got);
		if (r == IO_TIMEOUT) {
			fail_with(c, ATTEMPT_NEXT,
				  "timed out waiting for reply", 0);
			return 0;
		}
		ssize_t k = r == IO_OK
				    ? recv(c->sock, buf + n, MAX_REPLY - n, 0)
				    : -1;
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0) {
			fail_with(c, ATTEMPT_NEXT,
				  k ? "receiving reply"
				    : "connection closed before the end of "
				      "the reply",
				  k ? errno : 0);
			return 0;
		}
		char *nul = memchr(buf + n, '\0', (size_t)k);
		n += (size_t)k;
		if (nul)
			return (size_t)(nul - buf) + 1;
	}
	fail_with(c, ATTEMPT_NEXT, "reply longer than 1 KiB (garbage)", 0);
	return 0;
}

/* A FILDES reply "fd[N]: ..." becomes "stream: ..." (buf holds
 * MAX_REPLY bytes; *n counts the terminator). */
static void fildes_as_stream(char *buf, size_t *n)
{
	size_t d = 3;
	if (*n < 4 || memcmp(buf, "fd[", 3) != 0)
		return;
	while (d < *n && buf[d] >= '0' && buf[d] <= '9')
		d++;
	if (d == 3 || d + 2 > *n || buf[d] != ']' || buf[d + 1] != ':')
		return;
	/* "fd[N]:" (at least 5 bytes) -> "stream:" (7 bytes) */
	size_t rest = *n - (d + 2);
	if (7 + rest > MAX_REPLY)
		return;
	memmove(buf + 7, buf + d + 2, rest);
	memcpy(buf, "stream:", 7);
	*n = 7 + rest;
}

/* Reads and judges the reply. Clean only when the whole stream was sent. */
static attempt judge_reply(conn *c, int early)
{
	char buf[MAX_REPLY];
	size_t n = read_reply(c, buf);
	if (n == 0 && c->send_err)
		return fail_with(c, ATTEMPT_NEXT, "sending", c->send_err);
	if (n == 0)
		return ATTEMPT_NEXT;
	c->got_reply = 1;
	ms_scan_verdict *v = c->v;
	char why[200];
	fildes_as_stream(buf, &n);
	v->result = ms_clamd_parse_reply(buf, n, v->virus, sizeof v->virus, why,
					 sizeof why);
	if (v->result == MS_SCAN_CLEAN && early) {
		v->result = MS_SCAN_FAILED;
		snprintf(why, sizeof why,
			 "clean reply before the whole "
			 "message was sent");
	}
	if (v->result != MS_SCAN_FAILED)
		return ATTEMPT_DONE;
	snprintf(v->reason, sizeof v->reason, "%s: %s", c->ep, why);
	return ATTEMPT_NEXT;
}

/* ---- one endpoint, all endpoints ---- */

static attempt scan_one(conn *c, int fd, uint64_t len, char *buf, size_t chunk,
			int fildes)
{
	int early = 0;
	c->send_err = 0;
	attempt a = connect_ep(c);
	if (a == ATTEMPT_DONE)
		a = fildes ? send_fildes(c, fd)
			   : send_stream(c, fd, len, buf, chunk, &early);
	if (a == ATTEMPT_DONE)
		a = judge_reply(c, early);
	close_socket(c);
	c->got_reply = a == ATTEMPT_NEXT && c->got_reply;
	return a;
}

/* One endpoint: FILDES where it applies, INSTREAM otherwise or when the
 * FILDES answer was a complete reply but no verdict. */
static attempt scan_ep(conn *c, const ms_clamd_opts *o, int fd, uint64_t len,
		       char *buf, size_t chunk)
{
	int fildes = o->fildes && len <= MS_CLAMD_FILDES_MAX &&
		     strncmp(c->ep, "unix:", 5) == 0;
	c->got_reply = 0;
	attempt a = scan_one(c, fd, len, buf, chunk, fildes);
	if (fildes && a == ATTEMPT_NEXT && c->got_reply)
		a = scan_one(c, fd, len, buf, chunk, 0);
	return a;
}

/* A timeout in ms: def when 0, at most about 24 days (poll's int). */
static int ms_or(unsigned ms, int def)
{
	if (ms == 0)
		return def;
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

void ms_clamd_scan(const ms_clamd_opts *o, int fd, uint64_t len,
		   ms_scan_verdict *v)
{
	memset(v, 0, sizeof *v);
	v->result = MS_SCAN_FAILED;
	size_t chunk = o->chunk_size ? o->chunk_size : DEF_CHUNK;
	chunk = chunk > MAX_CHUNK ? MAX_CHUNK : chunk;
	char *buf = malloc(chunk + 4);
	if (!buf) {
		snprintf(v->reason, sizeof v->reason, "out of memory");
		return;
	}
	snprintf(v->reason, sizeof v->reason, "no clamd endpoint configured");
	conn c = { .sock = -1,
		   .connect_ms = ms_or(o->connect_timeout_ms, DEF_CONNECT_MS),
		   .read_ms = ms_or(o->read_timeout_ms, DEF_READ_MS),
		   .v = v };
	for (size_t i = 0; o->endpoints && o->endpoints[i]; i++) {
		c.ep = o->endpoints[i];
		snprintf(v->endpoint, sizeof v->endpoint, "%s", c.ep);
		v->result = MS_SCAN_FAILED;
		attempt a = scan_ep(&c, o, fd, len, buf, chunk);
		if (a == ATTEMPT_NEXT) /* this endpoint failed */
			msm_metrics_clamd_error(c.ep);
		if (a != ATTEMPT_NEXT)
			break;
	}
	if (v->result != MS_SCAN_FAILED)
		v->reason[0] = '\0';
	free(buf);
}
