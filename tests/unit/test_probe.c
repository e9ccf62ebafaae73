/* test_probe.c - Check tests for the probes `mailsift doctor` uses: the
 * sockets (ms_sock.h), clamd's one-line commands and VERSION dates
 * (ms_clamd.h) and the milter handshake (ms_milter_probe.h).
 *
 * Parsers are fed each case whole and cut at every length; the network
 * calls talk to a one-shot unix socket server on a thread that sends a
 * canned answer.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ms_clamd.h"
#include "ms_milter_probe.h"
#include "ms_sock.h"
#include "support_util.h"

/* ---- clamd VERSION ---- */

static const struct {
	const char *reply;
	int ok;
	unsigned long db;
} versions[] = {
	{ "ClamAV 1.4.6/27000/Wed Dec  2 08:21:03 2026", 0, 27000 },
	{ "ClamAV 0.103.8/26800/Mon Feb  6 09:24:35 2023", 0, 26800 },
	{ "ClamAV 1.4.6", -1, 0 },
	{ "ClamAV 1.4.6/", -1, 0 },
	{ "ClamAV 1.4.6//Wed Dec  2 08:21:03 2026", -1, 0 },
	{ "ClamAV 1.4.6/x/Wed Dec  2 08:21:03 2026", -1, 0 },
	{ "ClamAV 1.4.6/27000/yesterday", -1, 0 },
	{ "ClamAV 1.4.6/27000/Wed Dec  2 08:21:03 2026 trailing", -1, 0 },
	{ "clamav 1.4.6/27000/Wed Dec  2 08:21:03 2026", -1, 0 },
	{ "PONG", -1, 0 },
	{ "", -1, 0 },
};

START_TEST(test_version_parse)
{
	unsigned long db = 0;
	int64_t t = 0;
	const char *r = versions[_i].reply;
	ck_assert_int_eq(ms_clamd_version_parse(r, &db, &t), versions[_i].ok);
	if (versions[_i].ok == 0) {
		ck_assert_uint_eq(db, versions[_i].db);
		ck_assert_int_gt(t, 1600000000);
	}
	/* every prefix of a good reply but the whole is no full date */
	char cut[128];
	for (size_t n = 0; versions[_i].ok == 0 && n < strlen(r); n++) {
		snprintf(cut, sizeof cut, "%.*s", (int)n, r);
		ck_assert_int_eq(ms_clamd_version_parse(cut, &db, &t), -1);
	}
}
END_TEST

START_TEST(test_version_date)
{
	unsigned long db;
	int64_t t;
	ck_assert_int_eq(ms_clamd_version_parse("ClamAV 1.4.6/1/Thu Jan  1 "
						"00:00:00 2026",
						&db, &t),
			 0);
	struct tm tm = { .tm_year = 126, .tm_mday = 1, .tm_isdst = -1 };
	ck_assert_int_eq(t, (int64_t)mktime(&tm)); /* clamd's local time */
}
END_TEST

/* ---- the milter's OPTNEG answer ---- */

static const unsigned char optneg_ok[] = { 0,	 0, 0,	  13,	'O', 0,
					   0,	 0, 6,	  0,	0,   0,
					   0x31, 0, 0x1c, 0xb3, 0x80 };
static const unsigned char optneg_macros[] = { 0, 0, 0, 18,  'O',  0, 0, 0,
					       6, 0, 0, 0,   0x1f, 0, 0, 0,
					       0, 0, 0, 'j', 0,	   0 };
static const unsigned char not_optneg[] = { 0, 0, 0, 1, 'c' };
static const unsigned char short_optneg[] = { 0, 0, 0, 5, 'O', 0, 0, 0, 6 };
static const unsigned char old_version[] = { 0, 0, 0, 13, 'O', 0, 0, 0, 1,
					     0, 0, 0, 0,  0,   0, 0, 0 };

static const struct {
	const unsigned char *p;
	size_t n;
	int ok;
	const char *why;
} optnegs[] = {
	{ optneg_ok, sizeof optneg_ok, 0, NULL },
	{ optneg_macros, sizeof optneg_macros, 0, NULL },
	{ not_optneg, sizeof not_optneg, -1, "not an option negotiation" },
	{ short_optneg, sizeof short_optneg, -1, "too short" },
	{ old_version, sizeof old_version, -1, "below 2" },
};

START_TEST(test_optneg_parse)
{
	ms_milter_optneg r;
	const char *why = NULL;
	int got =
		ms_milter_optneg_parse(optnegs[_i].p, optnegs[_i].n, &r, &why);
	ck_assert_int_eq(got, optnegs[_i].ok);
	if (got == 0) {
		ck_assert_uint_eq(r.version, 6);
		ck_assert_uint_ne(r.actions, 0);
	} else
		ck_assert_ptr_nonnull(strstr(why, optnegs[_i].why));
	for (size_t n = 0; n < optnegs[_i].n; n++) /* cut: length mismatch */
		ck_assert_int_eq(
			ms_milter_optneg_parse(optnegs[_i].p, n, &r, &why), -1);
}
END_TEST

/* ---- endpoints ---- */

START_TEST(test_bad_endpoints)
{
	static const char *const bad[] = { "",	       "unix:",	    "tcp:1@x",
					   "inet:",    "inet:host", "inet:@x",
					   "inet6:@x", "local:",    NULL };
	for (size_t i = 0; bad[i]; i++) {
		char *err = NULL;
		ck_assert_int_eq(ms_sock_connect(bad[i], 1000, &err), -1);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, "bad endpoint"), "%s", err);
		free(err);
	}
	char *err = NULL;
	ck_assert_int_eq(
		ms_sock_connect("unix:/nonexistent/x.sock", 1000, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unix:/nonexistent/x.sock: connect: "
					  "No such file"));
	free(err);
	ck_assert_int_eq(ms_sock_connect("inet:127.0.0.1:1", 1000, NULL), -1);
}
END_TEST

/* ---- a one-shot server ---- */

typedef struct server {
	char path[100];
	int fd;
	const void *answer; /* sent after the first read */
	size_t n;
	char got[64]; /* what the client sent first */
	pthread_t th;
} server;

static void *serve(void *arg)
{
	server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	ssize_t k = read(c, s->got, sizeof s->got - 1);
	s->got[k > 0 ? k : 0] = '\0';
	if (s->n && write(c, s->answer, s->n) < 0)
		s->got[0] = '!';
	close(c);
	return NULL;
}

static void server_start(server *s, const char *dir, const void *answer,
			 size_t n)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	snprintf(s->path, sizeof s->path, "%s/s.sock", dir);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->path);
	unlink(s->path);
	s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(s->fd, 0);
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(s->fd, 1), 0);
	s->answer = answer;
	s->n = n;
	ck_assert_int_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(server *s)
{
	pthread_join(s->th, NULL);
	close(s->fd);
}

static const struct {
	const char *answer;
	size_t n;
	ms_status_t st;
	const char *reply_or_err;
} clamds[] = {
	{ "PONG", 5, MS_OK, "PONG" },
	{ "ClamAV 1.4.6", 13, MS_OK, "ClamAV 1.4.6" },
	{ "PONG", 4, MS_ERR_IO, "connection reset" }, /* closed, no NUL */
	{ "", 0, MS_ERR_IO, "reading the reply" },
	{ "PO\nNG", 6, MS_ERR_PARSE, "garbled reply" },
	{ "0123456789012345678901234567890123456789", 41, MS_ERR_PARSE,
	  "reply too long" },
};

START_TEST(test_clamd_command)
{
	char *dir = ms_test_tmpdir("test_probe"), ep[300], reply[32];
	char *err = NULL;
	server s;
	server_start(&s, dir, clamds[_i].answer, clamds[_i].n);
	snprintf(ep, sizeof ep, "unix:%s", s.path);
	ms_status_t st =
		ms_clamd_command(ep, "PING", 2000, reply, sizeof reply, &err);
	server_stop(&s);
	ck_assert_str_eq(s.got, "zPING");
	ck_assert_int_eq(st, clamds[_i].st);
	if (st == MS_OK) {
		ck_assert_str_eq(reply, clamds[_i].reply_or_err);
		ck_assert_ptr_null(err);
	} else {
		ck_assert_str_eq(reply, "");
		ck_assert_ptr_nonnull(strstr(err, ep));
		ck_assert_msg(strstr(err, clamds[_i].reply_or_err) ||
				      strstr(err, "Connection reset"),
			      "%s", err);
	}
	free(err);
	ms_test_tmpdir_free(&dir);
}
END_TEST

START_TEST(test_milter_probe)
{
	char *dir = ms_test_tmpdir("test_probe"), ep[300], *err = NULL;
	server s;
	ms_milter_optneg r;
	server_start(&s, dir, optneg_ok, sizeof optneg_ok);
	snprintf(ep, sizeof ep, "local:%s", s.path);
	ck_assert_int_eq(ms_milter_probe(ep, 2000, &r, &err), MS_OK);
	server_stop(&s);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(r.version, 6);
	ck_assert_uint_eq(r.actions, 0x31);
	ck_assert_int_eq(s.got[4], 'O'); /* the offer: SMFIC_OPTNEG, v6 */
	ck_assert_int_eq(s.got[8], 6);
	server_start(&s, dir, "HTTP/1.0 400 Bad\r\n", 18);
	ck_assert_int_eq(ms_milter_probe(ep, 2000, &r, &err), MS_ERR_PARSE);
	server_stop(&s);
	ck_assert_ptr_nonnull(strstr(err, "not a milter"));
	free(err);
	server_start(&s, dir, "", 0); /* closes without a word */
	ck_assert_int_eq(ms_milter_probe(ep, 2000, &r, &err), MS_ERR_IO);
	server_stop(&s);
	free(err);
	ms_test_tmpdir_free(&dir);
}
END_TEST

static Suite *probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_version_parse, 0,
			    sizeof versions / sizeof versions[0]);
	tcase_add_test(tc, test_version_date);
	tcase_add_loop_test(tc, test_optneg_parse, 0,
			    sizeof optnegs / sizeof optnegs[0]);
	tcase_add_test(tc, test_bad_endpoints);
	tcase_add_loop_test(tc, test_clamd_command, 0,
			    sizeof clamds / sizeof clamds[0]);
	tcase_add_test(tc, test_milter_probe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ms_test_run(probe_suite());
}
