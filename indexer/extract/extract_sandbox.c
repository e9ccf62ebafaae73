/* extract_sandbox.c - the resource limits and the seccomp filter of
 * mailsift-extract (see extract.h), applied before any hostile byte is
 * parsed.
 *
 * Functions: ex_limits, ex_seccomp. The filter is an allow-list built
 * with libseccomp: memory management, reading and writing descriptors
 * already open, time, futexes, signal returns and exit. open/openat fail
 * with EACCES instead of killing (libraries probe for optional data
 * files); everything else kills the process (SIGSYS), which the caller
 * records as extract:failed.
 */
#include "extract.h"

#include <errno.h>
#include <seccomp.h>
#include <sys/resource.h>

static int set_limit(int what, rlim_t soft, rlim_t hard)
{
	struct rlimit r = { soft, hard };
	return setrlimit(what, &r);
}

int ex_limits(unsigned cpu, uint64_t memory)
{
	int bad = 0;
	/* SIGXCPU at the soft limit; SIGKILL a second later if ignored */
	if (cpu)
		bad |= set_limit(RLIMIT_CPU, cpu, (rlim_t)cpu + 1);
	if (memory)
		bad |= set_limit(RLIMIT_AS, (rlim_t)memory, (rlim_t)memory);
	bad |= set_limit(RLIMIT_FSIZE, 0, 0);
	bad |= set_limit(RLIMIT_CORE, 0, 0);
	return bad ? -1 : 0;
}

static const int allowed[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(close),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(lseek),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(brk),
	SCMP_SYS(madvise),
	SCMP_SYS(mprotect),
	SCMP_SYS(futex),
	SCMP_SYS(getrandom),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(sched_yield),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(tgkill),
	SCMP_SYS(fcntl),
	SCMP_SYS(sysinfo),
	SCMP_SYS(getrusage),
	SCMP_SYS(prlimit64),
};

int ex_seccomp(void)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int bad = !f;
	for (size_t i = 0; !bad && i < sizeof allowed / sizeof *allowed; i++)
		bad = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0) < 0;
	if (!bad)
		bad = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES),
				       SCMP_SYS(openat), 0) < 0 ||
		      seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES),
				       SCMP_SYS(open), 0) < 0;
	if (!bad)
		bad = seccomp_load(f) < 0;
	if (f)
		seccomp_release(f);
	return bad ? -1 : 0;
}
