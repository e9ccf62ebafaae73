/* milter_limit.c - file descriptors: the limit and the connection cap.
 *
 * Functions: msm_limit_nofile, msm_limit_connections,
 * msm_slot_take, msm_slot_release, msm_limit_log_refusal.
 *
 * libmilter retries a failing accept() at once, without sleeping or
 * logging, so a worker that runs out of descriptors spins at 100% CPU and
 * serves nobody. The milter therefore never lets its connections use them
 * all: a connection takes a slot when it opens (option negotiation); past
 * [milter] max_connections it is refused (tempfailed at connect, holding
 * only its socket until the MTA closes it), and when as many refused ones
 * are still open it is dropped at once. MSM_FD_RESERVE descriptors are
 * kept for everything else (listening socket, log, configuration and
 * blocklist files, spool directories).
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "milter.h"
#include "milter_metrics.h"
#include "ms_log.h"

#define REFUSAL_LINES 10 /* refusal log lines per second at most */

static atomic_uint n_active, n_refused;

unsigned long msm_limit_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return ULONG_MAX;
	return (unsigned long)rl.rlim_cur;
}

unsigned msm_limit_connections(unsigned configured, unsigned long nofile)
{
	unsigned long budget =
		nofile > MSM_FD_RESERVE ? nofile - MSM_FD_RESERVE : 0;
	unsigned long most = budget / MSM_FDS_PER_CONN;
	if (most < 1)
		most = 1;
	if (most > UINT_MAX)
		most = UINT_MAX;
	return configured && configured < most ? configured : (unsigned)most;
}

/* Adds one to *n if it is below max; returns whether it did. */
static int take_below(atomic_uint *n, unsigned max)
{
	unsigned cur = atomic_load(n);
	while (cur < max)
		if (atomic_compare_exchange_weak(n, &cur, cur + 1))
			return 1;
	return 0;
}

msm_slot msm_slot_take(unsigned max)
{
	if (take_below(&n_active, max))
		return MSM_SLOT_SERVE;
	if (take_below(&n_refused, max))
		return MSM_SLOT_REFUSE;
	return MSM_SLOT_DROP;
}

void msm_slot_release(msm_slot s)
{
	if (s == MSM_SLOT_SERVE)
		atomic_fetch_sub(&n_active, 1);
	else if (s == MSM_SLOT_REFUSE)
		atomic_fetch_sub(&n_refused, 1);
}

/* Whether a refusal line may be logged now; *omitted_r is the number of
 * lines left out since the last one logged. */
static int refusal_log_ok(unsigned long *omitted_r)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static time_t window;
	static unsigned lines;
	static unsigned long omitted;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&mu);
	if (now.tv_sec != window) {
		window = now.tv_sec;
		lines = 0;
	}
	int ok = lines < REFUSAL_LINES;
	if (ok) {
		lines++;
		*omitted_r = omitted;
		omitted = 0;
	} else {
		omitted++;
	}
	pthread_mutex_unlock(&mu);
	return ok;
}

void msm_limit_log_refusal(const char *client, msm_slot s, unsigned max)
{
	msm_metrics_refused();
	unsigned long omitted;
	if (!refusal_log_ok(&omitted))
		return;
	char more[64] = "";
	if (omitted)
		snprintf(more, sizeof more, " (%lu more not logged)", omitted);
	ms_log_warn("connection from %s %s: %u connections in progress, %u "
		    "refused still open (max_connections %u)%s",
		    client ? client : "unknown",
		    s == MSM_SLOT_DROP ? "closed at once" : "refused",
		    atomic_load(&n_active), atomic_load(&n_refused), max, more);
}
