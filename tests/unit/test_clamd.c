/* test_clamd.c - unit tests for the milter's clamd client (milter_clamd):
 * the reply parser (table, whole and every prefix), the INSTREAM client
 * against tests/tools/fake_clamd.py in every misbehaving mode (with
 * fail-over to a good endpoint after each), unix and inet endpoints, exact
 * streaming (the fake hashes what it got), concurrency, and a real clamd
 * (started once per binary with a one-signature database) when installed.
 *
 * The fake is found at tests/tools/fake_clamd.py (run from the repository
 * root) or at $MS_FAKE_CLAMD.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "milter_clamd.h"
#include "ms_hash.h"
#include "support_util.h"

/* ---- the reply parser ---- */

static const struct {
	const char *reply; /* without the terminating NUL */
	size_t len;	   /* 0 = strlen(reply) */
	ms_scan_result want;
	const char *text; /* virus name, or a piece of the reason */
} replies[] = {
	{ "stream: OK", 0, MS_SCAN_CLEAN, "" },
	{ "stream: OK\n", 0, MS_SCAN_CLEAN, "" },
	{ "stream: Eicar-Test-Signature FOUND", 0, MS_SCAN_INFECTED,
	  "Eicar-Test-Signature" },
	{ "stream: Win.Test.EICAR_HDB-1 FOUND", 0, MS_SCAN_INFECTED,
	  "Win.Test.EICAR_HDB-1" },
	{ "stream: Eicar-Test-Signature.UNOFFICIAL FOUND", 0, MS_SCAN_INFECTED,
	  "Eicar-Test-Signature.UNOFFICIAL" },
	{ "INSTREAM size limit exceeded. ERROR", 0, MS_SCAN_FAILED,
	  "size limit exceeded" },
	{ "stream: Can't allocate memory ERROR", 0, MS_SCAN_FAILED,
	  "allocate memory" },
	{ "stream: OK ERROR", 0, MS_SCAN_FAILED, "clamd error" },
	{ "", 0, MS_SCAN_FAILED, "empty" },
	{ "stream: ", 0, MS_SCAN_FAILED, "unexpected" },
	{ "stream: OK extra", 0, MS_SCAN_FAILED, "unexpected" },
	{ "stream: ok", 0, MS_SCAN_FAILED, "unexpected" },
	{ "stream:  FOUND", 0, MS_SCAN_FAILED, "unexpected" },
	{ "stream: FOUND", 0, MS_SCAN_FAILED, "unexpected" },
	{ "stream:  X FOUND", 0, MS_SCAN_FAILED, "unexpected" },
	{ "OK", 0, MS_SCAN_FAILED, "unexpected" },
	{ "1: stream: OK", 0, MS_SCAN_FAILED, "unexpected" },
	{ "UNKNOWN COMMAND", 0, MS_SCAN_FAILED, "UNKNOWN COMMAND" },
	{ "stream: OK\0junk", 15, MS_SCAN_FAILED, "garbled" },
	{ "stream: OK\n\n", 0, MS_SCAN_FAILED, "garbled" },
	{ "stream: \x01 FOUND", 0, MS_SCAN_FAILED, "garbled" },
	{ "stream: caf\xc3\xa9 FOUND", 0, MS_SCAN_FAILED, "garbled" },
	{ "\x16\x03\x01 HELLO", 0, MS_SCAN_FAILED, "garbled" },
};

static ms_scan_result parse(const char *s, size_t n, char *virus, char *reason)
{
	return ms_clamd_parse_reply(s, n, virus, 128, reason, 256);
}

START_TEST(test_parse_table)
{
	const char *r = replies[_i].reply;
	size_t n = replies[_i].len ? replies[_i].len : strlen(r);
	char with_nul[64], virus[128], reason[256];
	ck_assert_uint_lt(n, sizeof with_nul);
	memcpy(with_nul, r, n);
	with_nul[n] = '\0';
	size_t whole = n && r[n - 1] == '\n' ? n : n + 1;
	{
		ms_scan_result got = parse(with_nul, whole, virus, reason);
		ck_assert_int_eq(got, replies[_i].want);
		if (got == MS_SCAN_INFECTED)
			ck_assert_str_eq(virus, replies[_i].text);
		else
			ck_assert_str_eq(virus, "");
		if (got == MS_SCAN_FAILED)
			ck_assert_msg(strstr(reason, replies[_i].text), "%s",
				      reason);
		else
			ck_assert_str_eq(reason, "");
		ck_assert_ptr_null(strchr(reason, '\n'));
	}
}
END_TEST

/* A reply cut before its terminator is never clean (nor infected), and
 * no prefix crashes. */
START_TEST(test_parse_prefixes)
{
	const char *r = replies[_i].reply;
	size_t n = replies[_i].len ? replies[_i].len : strlen(r);
	char virus[128], reason[256];
	size_t m = strcspn(r, "\n"); /* the reply up to its terminator */
	for (size_t k = 0; k <= m && k <= n; k++) {
		char *copy = malloc(k ? k : 1); /* exact size for ASan */
		memcpy(copy, r, k);
		ms_scan_result got = parse(copy, k, virus, reason);
		ck_assert_msg(got == MS_SCAN_FAILED, "prefix %zu of #%d: %d", k,
			      _i, got);
		free(copy);
	}
}
END_TEST

START_TEST(test_parse_small_buffers)
{
	char name[300] = "stream: ", virus[8], reason[8];
	memset(name + 8, 'V', 200);
	strcpy(name + 208, " FOUND");
	ck_assert_int_eq(ms_clamd_parse_reply(name, strlen(name) + 1, virus,
					      sizeof virus, reason,
					      sizeof reason),
			 MS_SCAN_INFECTED);
	ck_assert_str_eq(virus, "VVVVVVV");
	ck_assert_int_eq(ms_clamd_parse_reply("nonsense", 8, virus, 1, reason,
					      sizeof reason),
			 MS_SCAN_FAILED);
	ck_assert_uint_eq(strlen(reason), 7);
	ck_assert_int_eq(
		ms_clamd_parse_reply("stream: OK", 11, NULL, 0, NULL, 0),
		MS_SCAN_CLEAN);
	ck_assert_int_eq(ms_clamd_parse_reply("stream: OK", 10, virus,
					      sizeof virus, reason,
					      sizeof reason),
			 MS_SCAN_FAILED);
	ck_assert_str_eq(reason, "incompl");
	ck_assert_int_eq(ms_clamd_parse_reply("x", 1, NULL, 0, NULL, 0),
			 MS_SCAN_FAILED);
}
END_TEST

/* ---- helpers: message files and fake servers ---- */

/* A memfd holding data[0..len), its offset left at 3 (or 0). */
static int msg_fd(const char *data, size_t len)
{
	int fd = memfd_create("msg", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	lseek(fd, len >= 3 ? 3 : 0, SEEK_SET);
	return fd;
}

static char *big_data(size_t len)
{
	char *p = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)("Subject: x\r\n"[i % 12] + (i / 7919) % 3);
	return p;
}

typedef struct fake {
	pid_t pid;
	char ep[300];
} fake;

static char *g_tmp; /* per-test directory for unix sockets */

static void fixture_tmp(void)
{
	g_tmp = ms_test_tmpdir("test_clamd");
}

static void fixture_tmp_done(void)
{
	ms_test_rmtree(g_tmp);
	free(g_tmp);
}

static const char *fake_script(void)
{
	const char *s = getenv("MS_FAKE_CLAMD");
	return s ? s : "tests/tools/fake_clamd.py";
}

/* Runs argv with stdout on a pipe (*out_r) or, if out_r is NULL, on
 * /dev/null; the child is killed if this process dies. */
static pid_t spawn(char *const argv[], int *out_r)
{
	int p[2] = { -1, -1 };
	if (out_r)
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	else
		p[1] = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		if (!out_r)
			dup2(p[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	if (out_r)
		*out_r = p[0];
	return pid;
}

/* Starts the fake in mode (arg: virus name or NULL) on a unix socket in
 * g_tmp (tag names it) or, when tcp, on 127.0.0.1. */
static fake fake_start(const char *mode, const char *arg, const char *tag,
		       int tcp)
{
	fake f = { 0 };
	char addr[300];
	if (tcp)
		snprintf(addr, sizeof addr, "127.0.0.1:0");
	else
		snprintf(addr, sizeof addr, "%s/%s.sock", g_tmp, tag);
	char *argv[] = { "python3",    (char *)fake_script(), addr,
			 (char *)mode, (char *)arg,	      NULL };
	int out;
	f.pid = spawn(argv, &out);
	char line[300] = "";
	size_t n = 0;
	struct pollfd pf = { .fd = out, .events = POLLIN };
	while (n < sizeof line - 1 && !memchr(line, '\n', n) &&
	       poll(&pf, 1, 10000) == 1) {
		ssize_t k = read(out, line + n, sizeof line - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		line[n] = '\0';
	}
	close(out);
	ck_assert_msg(strncmp(line, "ready ", 6) == 0, "fake_clamd: \"%s\"",
		      line);
	line[strcspn(line, "\n")] = '\0';
	snprintf(f.ep, sizeof f.ep, "%s", line + 6);
	return f;
}

static void fake_stop(fake *f)
{
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
}

static void scan(const char *const *eps, unsigned read_ms, size_t chunk,
		 const char *data, size_t len, ms_scan_verdict *v)
{
	ms_clamd_opts o = { .endpoints = eps,
			    .connect_timeout_ms = 2000,
			    .read_timeout_ms = read_ms,
			    .chunk_size = chunk };
	int fd = msg_fd(data, len);
	off_t before = lseek(fd, 0, SEEK_CUR);
	ms_clamd_scan(&o, fd, len, v);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), before);
	close(fd);
	ck_assert_ptr_null(strchr(v->reason, '\n'));
}

/* ---- the client against the fake ---- */

static const struct {
	const char *mode, *arg;
	size_t len; /* message size */
	int tcp;    /* fake on 127.0.0.1 instead of a unix socket */
	ms_scan_result want;
	const char *text; /* virus or piece of the reason */
} modes[] = {
	{ "ok", NULL, 100, 0, MS_SCAN_CLEAN, "" },
	{ "ok", NULL, 0, 1, MS_SCAN_CLEAN, "" },
	{ "found", "Evil.Test-1", 100, 1, MS_SCAN_INFECTED, "Evil.Test-1" },
	{ "garbage", NULL, 100, 0, MS_SCAN_FAILED, "garbled" },
	{ "long", NULL, 100, 1, MS_SCAN_FAILED, "longer than 1 KiB" },
	{ "close", NULL, 100, 0, MS_SCAN_FAILED, "closed before the end" },
	{ "sizelimit", NULL, 100, 1, MS_SCAN_FAILED, "size limit exceeded" },
	{ "sizelimit", NULL, 3 << 20, 0, MS_SCAN_FAILED,
	  "size limit exceeded" },
	{ "sizelimit", NULL, 3 << 20, 1, MS_SCAN_FAILED,
	  "size limit exceeded" },
	{ "slow", NULL, 100, 1, MS_SCAN_FAILED, "timed out waiting for reply" },
	{ "slow", NULL, 3 << 20, 0, MS_SCAN_FAILED, "timed out" },
	{ "early-ok", NULL, 4 << 20, 0, MS_SCAN_FAILED, "before the whole" },
};

START_TEST(test_fake_modes)
{
	fake f = fake_start(modes[_i].mode, modes[_i].arg, "m", modes[_i].tcp);
	char *data = big_data(modes[_i].len);
	const char *eps[] = { f.ep, NULL };
	ms_scan_verdict v;
	scan(eps, 700, 0, data, modes[_i].len, &v);
	ck_assert_int_eq(v.result, modes[_i].want);
	ck_assert_str_eq(v.endpoint, f.ep);
	if (v.result == MS_SCAN_INFECTED)
		ck_assert_str_eq(v.virus, modes[_i].text);
	if (v.result == MS_SCAN_FAILED) {
		ck_assert_msg(strstr(v.reason, modes[_i].text), "%s", v.reason);
		ck_assert_msg(strncmp(v.reason, f.ep, strlen(f.ep)) == 0, "%s",
			      v.reason);
	} else {
		ck_assert_str_eq(v.reason, "");
	}
	free(data);
	fake_stop(&f);
}
END_TEST

/* After each failing mode the client moves on to a good endpoint. */
START_TEST(test_fake_failover)
{
	if (modes[_i].want != MS_SCAN_FAILED)
		return;
	fake bad = fake_start(modes[_i].mode, modes[_i].arg, "bad", 0);
	fake good = fake_start("found", "After-Failover", "good", 1);
	char *data = big_data(modes[_i].len);
	const char *eps[] = { bad.ep, good.ep, NULL };
	ms_scan_verdict v;
	scan(eps, 700, 0, data, modes[_i].len, &v);
	ck_assert_int_eq(v.result, MS_SCAN_INFECTED);
	ck_assert_str_eq(v.virus, "After-Failover");
	ck_assert_str_eq(v.endpoint, good.ep);
	free(data);
	fake_stop(&bad);
	fake_stop(&good);
}
END_TEST

/* The fake names the SHA-256 of what it received: the stream must be the
 * file, byte for byte, whatever the chunking. */
START_TEST(test_stream_exact)
{
	static const size_t lens[] = { 0, 1, 999, 1000, 1001, 3005, 70000 };
	fake f = fake_start("hash", NULL, "h", 0);
	const char *eps[] = { f.ep, NULL };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		char *data = big_data(lens[i]);
		char hex[MS_SHA256_HEX], want[128];
		ck_assert_int_eq(ms_sha256_hex(data, lens[i], hex), MS_OK);
		snprintf(want, sizeof want, "SHA256-%s", hex);
		ms_scan_verdict v;
		scan(eps, 5000, i % 2 ? 1000 : 0, data, lens[i], &v);
		ck_assert_int_eq(v.result, MS_SCAN_INFECTED);
		ck_assert_str_eq(v.virus, want);
		free(data);
	}
	fake_stop(&f);
}
END_TEST

START_TEST(test_all_down)
{
	char last[300];
	snprintf(last, sizeof last, "unix:%s/none.sock", g_tmp);
	const char *eps[] = { "unix:/nonexistent/clamd.sock",
			      "inet:127.0.0.1:1", last, NULL };
	ms_scan_verdict v;
	scan(eps, 500, 0, "x", 1, &v);
	ck_assert_int_eq(v.result, MS_SCAN_FAILED);
	ck_assert_str_eq(v.endpoint, last);
	ck_assert_msg(strncmp(v.reason, last, strlen(last)) == 0 &&
			      strstr(v.reason, "connect: No such file"),
		      "%s", v.reason);
	const char *refused[] = { "inet:127.0.0.1:1", NULL };
	scan(refused, 500, 0, "x", 1, &v);
	ck_assert_msg(strstr(v.reason, "inet:127.0.0.1:1: connect: Connection "
				       "refused"),
		      "%s", v.reason);
}
END_TEST

static const struct {
	const char *ep, *text;
} bad_eps[] = {
	{ "tcp:127.0.0.1:3310", "bad endpoint" },
	{ "/run/clamd.sock", "bad endpoint" },
	{ "inet:127.0.0.1", "bad endpoint" },
	{ "inet::3310", "bad endpoint" },
	{ "inet:127.0.0.1:", "bad endpoint" },
	{ "inet:127.0.0.1:http", "bad endpoint" },
	{ "unix:", "bad endpoint" },
};

START_TEST(test_bad_endpoints)
{
	char long_ep[200] = "unix:/";
	memset(long_ep + 6, 'x', 150);
	const char *eps[] = { bad_eps[_i].ep, NULL };
	const char *eps2[] = { long_ep, NULL };
	ms_scan_verdict v;
	scan(eps, 500, 0, "x", 1, &v);
	ck_assert_int_eq(v.result, MS_SCAN_FAILED);
	ck_assert_msg(strstr(v.reason, bad_eps[_i].text), "%s", v.reason);
	scan(eps2, 500, 0, "x", 1, &v);
	ck_assert_msg(strstr(v.reason, "File name too long"), "%s", v.reason);
}
END_TEST

START_TEST(test_no_endpoints)
{
	const char *none[] = { NULL };
	ms_scan_verdict v;
	scan(none, 500, 0, "x", 1, &v);
	ck_assert_int_eq(v.result, MS_SCAN_FAILED);
	ck_assert_str_eq(v.reason, "no clamd endpoint configured");
	ms_clamd_opts o = { 0 };
	ms_clamd_scan(&o, -1, 0, &v);
	ck_assert_int_eq(v.result, MS_SCAN_FAILED);
}
END_TEST

/* A file shorter than the length given is a local failure: no fail-over,
 * never clean. */
START_TEST(test_short_file)
{
	fake f = fake_start("ok", NULL, "s1", 0);
	fake g = fake_start("ok", NULL, "s2", 0);
	const char *eps[] = { f.ep, g.ep, NULL };
	ms_clamd_opts o = { .endpoints = eps, .read_timeout_ms = 2000 };
	int fd = msg_fd("short", 5);
	ms_scan_verdict v;
	ms_clamd_scan(&o, fd, 10, &v);
	ck_assert_int_eq(v.result, MS_SCAN_FAILED);
	ck_assert_str_eq(v.endpoint, f.ep);
	ck_assert_msg(strstr(v.reason, "shorter"), "%s", v.reason);
	close(fd);
	ms_clamd_scan(&o, -1, 10, &v);
	ck_assert_int_eq(v.result, MS_SCAN_FAILED);
	ck_assert_msg(strstr(v.reason, "Bad file descriptor"), "%s", v.reason);
	fake_stop(&f);
	fake_stop(&g);
}
END_TEST

typedef struct job {
	const char *ep;
	size_t len;
	int ok;
} job;

static void *scan_thread(void *arg)
{
	job *j = arg;
	const char *eps[] = { j->ep, NULL };
	ms_clamd_opts o = { .endpoints = eps,
			    .read_timeout_ms = 10000,
			    .chunk_size = 4096 };
	char *data = big_data(j->len);
	int fd = memfd_create("t", MFD_CLOEXEC);
	j->ok = write(fd, data, j->len) == (ssize_t)j->len;
	char hex[MS_SHA256_HEX], want[128];
	ms_sha256_hex(data, j->len, hex);
	snprintf(want, sizeof want, "SHA256-%s", hex);
	for (int k = 0; k < 5 && j->ok; k++) {
		ms_scan_verdict v;
		ms_clamd_scan(&o, fd, j->len, &v);
		j->ok = v.result == MS_SCAN_INFECTED &&
			strcmp(v.virus, want) == 0;
	}
	close(fd);
	free(data);
	return NULL;
}

START_TEST(test_threads)
{
	fake f = fake_start("hash", NULL, "t", 0);
	pthread_t th[8];
	job jobs[8];
	for (int i = 0; i < 8; i++) {
		jobs[i] = (job){ .ep = f.ep, .len = 10000 + 7777 * (size_t)i };
		ck_assert_int_eq(
			pthread_create(&th[i], NULL, scan_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(jobs[i].ok, "thread %d", i);
	}
	fake_stop(&f);
}
END_TEST

/* ---- a real clamd (one per test binary) ---- */

static char *g_clamd_dir;
static char g_clamd_ep[300];
static pid_t g_clamd_pid;
static int g_clamd_up;

/* The EICAR test string, built from two halves so this source never
 * contains it whole. */
static void eicar(char out[69])
{
	static const char a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
	static const char b[] = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
	snprintf(out, 69, "%s%s", a, b);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void write_clamd_files(const char *d)
{
	char e[69], line[256] = "Eicar-Test-Signature:0:*:", conf[2048],
		    db[400];
	eicar(e);
	for (size_t i = 0; e[i]; i++)
		sprintf(line + strlen(line), "%02x", (unsigned char)e[i]);
	strcat(line, "\n");
	snprintf(db, sizeof db, "%s/db", d);
	ck_assert_int_eq(mkdir(db, 0700), 0);
	write_file(db, "test.ndb", line);
	snprintf(conf, sizeof conf,
		 "LocalSocket %s/clamd.sock\nDatabaseDirectory %s\n"
		 "Foreground yes\nUser root\nLogFile %s/clamd.log\n"
		 "TemporaryDirectory %s\nStreamMaxLength 1M\n"
		 "Bytecode no\n",
		 d, db, d, d);
	write_file(d, "clamd.conf", conf);
	snprintf(g_clamd_ep, sizeof g_clamd_ep, "unix:%s/clamd.sock", d);
}

/* Waits up to 60 s until the socket accepts a connection. */
static int wait_socket(const char *path)
{
	for (int i = 0; i < 600; i++) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		size_t n = strlen(path);
		ck_assert_uint_lt(n, sizeof sun.sun_path);
		memcpy(sun.sun_path, path, n + 1);
		int ok = connect(s, (struct sockaddr *)&sun, sizeof sun) == 0;
		close(s);
		if (ok)
			return 1;
		if (waitpid(g_clamd_pid, NULL, WNOHANG) == g_clamd_pid)
			return 0;
		usleep(100000);
	}
	return 0;
}

static void clamd_setup(void)
{
	if (access("/usr/sbin/clamd", X_OK) != 0) {
		printf("test_clamd: real clamd tests SKIPPED (no clamd)\n");
		return;
	}
	g_clamd_dir = ms_test_tmpdir("test_clamd_real");
	write_clamd_files(g_clamd_dir);
	char conf[400];
	snprintf(conf, sizeof conf, "%s/clamd.conf", g_clamd_dir);
	char *argv[] = { "/usr/sbin/clamd", "-c", conf, NULL };
	g_clamd_pid = spawn(argv, NULL);
	g_clamd_up = wait_socket(g_clamd_ep + 5);
	if (!g_clamd_up)
		printf("test_clamd: clamd did not start; see %s/clamd.log\n",
		       g_clamd_dir);
}

static void clamd_teardown(void)
{
	if (g_clamd_pid > 0) {
		kill(g_clamd_pid, SIGTERM);
		waitpid(g_clamd_pid, NULL, 0);
	}
	if (g_clamd_dir && g_clamd_up)
		ms_test_rmtree(g_clamd_dir);
	free(g_clamd_dir);
}

START_TEST(test_real_clean_infected_oversize)
{
	ck_assert_msg(g_clamd_up || !g_clamd_dir, "clamd failed to start");
	if (!g_clamd_up)
		return;
	const char *eps[] = { g_clamd_ep, NULL };
	static const char clean[] = "Subject: hello\r\n\r\nJust a note.\r\n";
	ms_scan_verdict v;
	scan(eps, 20000, 0, clean, sizeof clean - 1, &v);
	ck_assert_msg(v.result == MS_SCAN_CLEAN, "%s", v.reason);
	ck_assert_str_eq(v.endpoint, g_clamd_ep);

	char e[69], msg[256];
	eicar(e);
	int n = snprintf(msg, sizeof msg, "Subject: test\r\n\r\n%s\r\n", e);
	scan(eps, 20000, 16, msg, (size_t)n, &v);
	ck_assert_msg(v.result == MS_SCAN_INFECTED, "%s", v.reason);
	ck_assert_msg(strncmp(v.virus, "Eicar-Test-Signature", 20) == 0, "%s",
		      v.virus);

	size_t big = 2 << 20; /* over StreamMaxLength 1M */
	char *data = big_data(big);
	scan(eps, 20000, 0, data, big, &v);
	ck_assert_int_eq(v.result, MS_SCAN_FAILED);
	ck_assert_msg(strstr(v.reason, "size limit exceeded"), "%s", v.reason);
	free(data);
}
END_TEST

START_TEST(test_real_failover)
{
	if (!g_clamd_up)
		return;
	fake slow = fake_start("slow", NULL, "slow", 0);
	const char *eps[] = { "unix:/nonexistent/clamd.sock", slow.ep,
			      g_clamd_ep, NULL };
	char e[69];
	eicar(e);
	ms_scan_verdict v;
	scan(eps, 700, 0, e, strlen(e), &v);
	ck_assert_msg(v.result == MS_SCAN_INFECTED, "%s", v.reason);
	ck_assert_str_eq(v.endpoint, g_clamd_ep);
	fake_stop(&slow);
}
END_TEST

/* FILDES against the real clamd: verdicts as with INSTREAM (clamd's log
 * names the passed file, /memfd:msg), and a file over MS_CLAMD_FILDES_MAX is
 * streamed, so StreamMaxLength still refuses it instead of a cut-short scan. */
/* Whether clamd's log has a FOUND line for a passed memfd; its head in all. */
static int log_has_found(char *all, size_t size)
{
	char log[600], line[512];
	snprintf(log, sizeof log, "%s/clamd.log", g_clamd_dir);
	FILE *f = fopen(log, "r");
	int seen = 0;
	all[0] = '\0';
	while (f && fgets(line, sizeof line, f)) {
		seen |= strstr(line, "memfd:msg") && strstr(line, "FOUND");
		if (strlen(all) + strlen(line) < size)
			strcat(all, line);
	}
	if (f)
		fclose(f);
	return seen;
}

START_TEST(test_real_fildes)
{
	if (!g_clamd_up)
		return;
	const char *eps[] = { g_clamd_ep, NULL };
	ms_clamd_opts o = { .endpoints = eps,
			    .read_timeout_ms = 20000,
			    .fildes = 1 };
	static const char clean[] = "Subject: hello\r\n\r\nJust a note.\r\n";
	ms_scan_verdict v;
	int fd = msg_fd(clean, sizeof clean - 1);
	ms_clamd_scan(&o, fd, sizeof clean - 1, &v);
	close(fd);
	ck_assert_msg(v.result == MS_SCAN_CLEAN, "%s", v.reason);
	char e[69], msg[256];
	eicar(e);
	int n = snprintf(msg, sizeof msg, "Subject: test\r\n\r\n%s\r\n", e);
	fd = msg_fd(msg, (size_t)n);
	ms_clamd_scan(&o, fd, (uint64_t)n, &v);
	close(fd);
	ck_assert_msg(v.result == MS_SCAN_INFECTED, "%s", v.reason);
	ck_assert_msg(strncmp(v.virus, "Eicar-Test-Signature", 20) == 0, "%s",
		      v.virus);
	char all[4096] = "";
	/* clamd may write its log line after its reply: wait up to 10 s */
	int seen = 0;
	for (int tries = 0; !seen && tries < 100; tries++) {
		if (tries)
			usleep(100 * 1000);
		seen = log_has_found(all, sizeof all);
	}
	ck_assert_msg(seen,
		      "clamd's log has no FOUND line for the passed file: %s",
		      all);
	size_t big = MS_CLAMD_FILDES_MAX + 1;
	char *data = big_data(big);
	fd = msg_fd(data, big);
	ms_clamd_scan(&o, fd, big, &v);
	close(fd);
	free(data);
	ck_assert_int_eq(v.result, MS_SCAN_FAILED);
	ck_assert_msg(strstr(v.reason, "size limit exceeded"), "%s", v.reason);
}
END_TEST

static Suite *clamd_suite(void)
{
	Suite *s = suite_create("clamd");
	TCase *tp = tcase_create("parser");
	tcase_add_loop_test(tp, test_parse_table, 0,
			    sizeof replies / sizeof replies[0]);
	tcase_add_loop_test(tp, test_parse_prefixes, 0,
			    sizeof replies / sizeof replies[0]);
	tcase_add_test(tp, test_parse_small_buffers);
	suite_add_tcase(s, tp);

	TCase *tf = tcase_create("fake");
	tcase_add_checked_fixture(tf, fixture_tmp, fixture_tmp_done);
	tcase_set_timeout(tf, 30);
	tcase_add_loop_test(tf, test_fake_modes, 0,
			    sizeof modes / sizeof modes[0]);
	tcase_add_loop_test(tf, test_fake_failover, 0,
			    sizeof modes / sizeof modes[0]);
	tcase_add_test(tf, test_stream_exact);
	tcase_add_test(tf, test_all_down);
	tcase_add_loop_test(tf, test_bad_endpoints, 0,
			    sizeof bad_eps / sizeof bad_eps[0]);
	tcase_add_test(tf, test_no_endpoints);
	tcase_add_test(tf, test_short_file);
	tcase_add_test(tf, test_threads);
	suite_add_tcase(s, tf);

	TCase *tr = tcase_create("real");
	tcase_add_unchecked_fixture(tr, clamd_setup, clamd_teardown);
	tcase_add_checked_fixture(tr, fixture_tmp, fixture_tmp_done);
	tcase_set_timeout(tr, 120);
	tcase_add_test(tr, test_real_clean_infected_oversize);
	tcase_add_test(tr, test_real_failover);
	tcase_add_test(tr, test_real_fildes);
	suite_add_tcase(s, tr);
	return s;
}

int main(void)
{
	return ms_test_run(clamd_suite());
}
