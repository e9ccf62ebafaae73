/* extract_main.c - mailsift-extract: the text of one attachment, read
 * from standard input, written to standard output, in a sandbox.
 *
 *   mailsift-extract --format FMT [--max-text N] [--cpu S] [--memory N]
 *                    [--zip-depth N] [--zip-ratio N] [--zip-max N]
 *
 * FMT is a name of ms_extract_types(), "text", or "sandbox-test" (which
 * checks the filter: no file opens, a socket kills). Started by
 * ms_extract_run
 * (indexer/lib/ms_extract.c) for each attachment; not meant for people.
 * Order: arguments, resource limits, the whole input into memory, the
 * seccomp filter, then parsing. Exit: 0 (text written), 3 encrypted, 4
 * failed, 5 not a format it reads; the reason is one line on standard
 * error (what the libraries print there goes to /dev/null).
 *
 * Functions: main. File-local: arguments (parse_args), input (read_all),
 * the dispatcher (dispatch), the reason and output at the end (finish).
 */
#include "extract.h"
#include "ms_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_TEXT (1u << 20)

/* Format "sandbox-test" (for the tests): a file must not open, and a
 * socket must get the process killed by the seccomp filter (SIGSYS). */
static int sandbox_test(ex_ctx *c)
{
	int fd = open("/etc/passwd", O_RDONLY);
	if (fd >= 0)
		return ex_reason(c, EX_FAIL, "sandbox-test: a file opened");
	if (socket(AF_INET, SOCK_STREAM, 0) >= 0)
		return ex_reason(c, EX_FAIL, "sandbox-test: a socket opened");
	return ex_reason(c, EX_FAIL, "sandbox-test: socket() returned");
}

static int dispatch(ex_ctx *c, const char *fmt, const char *data, size_t n,
		    unsigned depth)
{
	if (depth == 0 && strcmp(fmt, "sandbox-test") == 0)
		return sandbox_test(c);
	if (strcmp(fmt, "pdf") == 0)
		return ex_pdf(c, data, n);
	if (strcmp(fmt, "text") == 0 || strcmp(fmt, "json") == 0) {
		ex_put(c, data, n);
		return EX_OK;
	}
	for (const char *const *t = ms_extract_types(); *t; t++)
		if (strcmp(fmt, *t) == 0)
			return ex_zip(c, fmt, data, n, depth);
	return ex_reason(c, EX_UNKNOWN, "unknown format %s", fmt);
}

typedef struct args {
	const char *fmt;
	unsigned cpu;
	uint64_t memory;
} args;

static int parse_num(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*v = x;
	return 0;
}

static int parse_args(int argc, char **argv, args *a, ex_ctx *c)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		uint64_t x = 0;
		if (strcmp(k, "--format") == 0) {
			a->fmt = v;
			continue;
		}
		if (parse_num(v, &x))
			return -1;
		if (strcmp(k, "--max-text") == 0)
			c->max_text = x ? (size_t)x : DEFAULT_MAX_TEXT;
		else if (strcmp(k, "--cpu") == 0)
			a->cpu = (unsigned)x;
		else if (strcmp(k, "--memory") == 0)
			a->memory = x;
		else if (strcmp(k, "--zip-depth") == 0)
			c->zip_depth = (unsigned)x;
		else if (strcmp(k, "--zip-ratio") == 0)
			c->zip_ratio = (unsigned)x;
		else if (strcmp(k, "--zip-max") == 0)
			c->zip_max = x;
		else
			return -1;
	}
	return a->fmt && argc % 2 == 1 ? 0 : -1;
}

/* Reads standard input to its end into b. 0 or -1. */
static int read_all(ms_buf *b)
{
	for (;;) {
		if (ms_buf_reserve(b, 1 << 16) != MS_OK)
			return -1;
		ssize_t n = read(0, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		b->len += (size_t)n;
	}
}

/* Keeps the real standard error for the reason; the rest to /dev/null. */
static int quiet_stderr(void)
{
	int keep = dup(2), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 2);
		close(null);
	}
	return keep >= 0 ? keep : 2;
}

static int finish(ex_ctx *c, int code, int rfd)
{
	if (code == EX_OK)
		return ms_file_write_all(1, c->out.data, c->out.len) ? EX_FAIL
								     : EX_OK;
	dprintf(rfd, "%s\n", c->reason[0] ? c->reason : "failed");
	return code;
}

int main(int argc, char **argv)
{
	ex_ctx c = { .max_text = DEFAULT_MAX_TEXT,
		     .zip_depth = 3,
		     .zip_ratio = 100,
		     .zip_max = 256u << 20,
		     .dispatch = dispatch };
	args a = { 0 };
	ms_buf in = MS_BUF_INIT;
	int rfd = quiet_stderr();
	if (parse_args(argc, argv, &a, &c))
		return finish(&c,
			      ex_reason(&c, EX_FAIL,
					"usage: %s --format "
					"FMT [--max-text N ...]",
					argv[0]),
			      rfd);
	if (ex_limits(a.cpu, a.memory))
		return finish(&c, ex_reason(&c, EX_FAIL, "setrlimit failed"),
			      rfd);
	if (read_all(&in))
		return finish(&c,
			      ex_reason(&c, EX_FAIL,
					"input over the memory "
					"limit"),
			      rfd);
	if (ex_seccomp())
		return finish(&c, ex_reason(&c, EX_FAIL, "seccomp failed"),
			      rfd);
	int code = dispatch(&c, a.fmt, in.data ? in.data : "", in.len, 0);
	return finish(&c, code, rfd);
}
