/* test_daemon_notify.c - Check tests for ms_daemon_notify (ms_daemon.h).
 *
 * A datagram socket stands in for systemd's NOTIFY_SOCKET: each state is
 * one datagram with the text systemd expects (READY=1, STOPPING=1,
 * RELOADING=1 with MONOTONIC_USEC=<now>), sent from this process; without
 * NOTIFY_SOCKET, or with one nobody listens on, nothing is sent and
 * nothing fails.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ms_daemon.h"
#include "support_util.h"

static char *dir;
static char path[108];
static int fd = -1;

static void setup(void)
{
	dir = ms_test_tmpdir("notify");
	snprintf(path, sizeof path, "%s/notify.sock", dir);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	setenv("NOTIFY_SOCKET", path, 1);
}

static void teardown(void)
{
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	ms_test_tmpdir_free(&dir);
}

/* The next datagram (a NUL-terminated copy in buf), or "" if none. */
static const char *next(char *buf, size_t n)
{
	ssize_t got = recv(fd, buf, n - 1, 0);
	buf[got > 0 ? got : 0] = '\0';
	return buf;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

START_TEST(ready_and_stopping)
{
	char buf[256];
	ms_daemon_notify(MS_NOTIFY_READY);
	ck_assert_str_eq(next(buf, sizeof buf), "READY=1");
	ms_daemon_notify(MS_NOTIFY_STOPPING);
	ck_assert_str_eq(next(buf, sizeof buf), "STOPPING=1");
	ck_assert_str_eq(next(buf, sizeof buf), "");
}
END_TEST

START_TEST(reloading_has_the_time)
{
	char buf[256];
	uint64_t before = now_us();
	ms_daemon_notify(MS_NOTIFY_RELOADING);
	uint64_t after = now_us();
	const char *m = next(buf, sizeof buf);
	uint64_t t = 0;
	ck_assert_int_eq(sscanf(m, "RELOADING=1\nMONOTONIC_USEC=%" SCNu64, &t),
			 1);
	ck_assert(t >= before && t <= after);
	ms_daemon_notify(MS_NOTIFY_READY);
	ck_assert_str_eq(next(buf, sizeof buf), "READY=1");
}
END_TEST

START_TEST(no_socket_no_message)
{
	char buf[256];
	unsetenv("NOTIFY_SOCKET");
	ms_daemon_notify(MS_NOTIFY_READY);
	ck_assert_str_eq(next(buf, sizeof buf), "");
	/* a socket path nobody listens on: ignored */
	setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
	ms_daemon_notify(MS_NOTIFY_STOPPING);
	ck_assert_str_eq(next(buf, sizeof buf), "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon_notify");
	TCase *tc = tcase_create("notify");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ready_and_stopping);
	tcase_add_test(tc, reloading_has_the_time);
	tcase_add_test(tc, no_socket_no_message);
	suite_add_tcase(s, tc);
	return ms_test_run(s);
}
