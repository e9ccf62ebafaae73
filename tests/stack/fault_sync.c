/* fault_sync.c - an LD_PRELOAD library that cuts the power in the middle
 * of a group commit, for tests/stack/test_powercut.py.
 *
 * It replaces fdatasync(). MS_FAULT in the environment says what to do
 * with the process's calls, counted from 1:
 *   kill:N[:MS]  call N does not flush: after MS milliseconds (default
 *                1000, so that replies already decided can leave) the
 *                process SIGKILLs itself - every write before that call
 *                is in the page cache, none of it was flushed;
 *   eio:N:K      calls N..N+K-1 fail with EIO without flushing;
 * anything else (or no MS_FAULT): every call is passed on. When a fault
 * fires, the file named by MS_FAULT_MARK (if set) is created.
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long calls;

static void mark(void)
{
	const char *m = getenv("MS_FAULT_MARK");
	if (m) {
		int fd = open(m, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
	}
}

static int real_fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}

int fdatasync(int fd)
{
	long n = atomic_fetch_add(&calls, 1) + 1;
	const char *f = getenv("MS_FAULT");
	long a = 0, b = 0;
	if (f && sscanf(f, "kill:%ld:%ld", &a, &b) >= 1 && n == a) {
		mark();
		struct timespec ts = { (b ? b : 1000) / 1000,
				       (b ? b : 1000) % 1000 * 1000000L };
		nanosleep(&ts, NULL);
		kill(getpid(), SIGKILL);
	}
	if (f && sscanf(f, "eio:%ld:%ld", &a, &b) == 2 && n >= a && n < a + b) {
		mark();
		errno = EIO;
		return -1;
	}
	return real_fdatasync(fd);
}
