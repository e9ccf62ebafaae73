/* indexd_watch.c - finding spool entries: inotify on seg/ and new/ plus
 * rescans.
 *
 * Functions: ixd_watch_open, ixd_watch_close, ixd_rescan, ixd_watch_read.
 *
 * The milter appends entries to segments in seg/ (IN_MODIFY; a new
 * segment is IN_MOVED_TO): any event there reads the segments on from
 * where they were left (ms_spool_poll). Legacy entry files are renamed
 * into new/ (IN_MOVED_TO); a writer that writes in place is seen when it
 * closes the file (IN_CLOSE_WRITE).
 * The watch is set up before the start-up listing, so nothing that
 * arrives in between is missed. A full listing also follows an inotify
 * queue overflow, a lost watch (new/ removed or replaced: the watch is set
 * up again) and runs every RESCAN_MS as a safety net.
 */
#include "indexd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "ms_log.h"

#define RESCAN_MS (60 * 1000)

/* The watch on seg/ (one daemon per process; d->ino_fd holds it too). */
static int seg_wd = -1;

static char *new_dir(const ixd *d)
{
	char *p = NULL;
	return asprintf(&p, "%s/new", d->spool_dir) < 0 ? NULL : p;
}

/* (Re)adds the watch on seg/; -1 (logged) if it cannot. */
static int add_seg_watch(ixd *d)
{
	char *dir = NULL;
	if (asprintf(&dir, "%s/seg", d->spool_dir) < 0)
		return -1;
	seg_wd = inotify_add_watch(d->ino_fd, dir,
				   IN_MODIFY | IN_MOVED_TO | IN_ONLYDIR);
	if (seg_wd < 0)
		ms_log_error("inotify on %s: %s (rescanning every %d s)", dir,
			     strerror(errno), RESCAN_MS / 1000);
	free(dir);
	return seg_wd < 0 ? -1 : 0;
}

/* (Re)adds the watches on new/ and seg/; 0 or -1 (logged). */
static int add_watch(ixd *d)
{
	if (seg_wd < 0)
		add_seg_watch(d);
	char *dir = new_dir(d);
	if (!dir)
		return -1;
	d->ino_wd = inotify_add_watch(
		d->ino_fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
	if (d->ino_wd < 0)
		ms_log_error("inotify on %s: %s (rescanning every %d s)", dir,
			     strerror(errno), RESCAN_MS / 1000);
	free(dir);
	return d->ino_wd < 0 ? -1 : 0;
}

int ixd_watch_open(ixd *d)
{
	d->ino_wd = seg_wd = -1;
	d->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->ino_fd < 0) {
		ms_log_error("inotify: %s (rescanning every %d s)",
			     strerror(errno), RESCAN_MS / 1000);
		return -1;
	}
	return add_watch(d);
}

void ixd_watch_close(ixd *d)
{
	if (d->ino_fd >= 0)
		close(d->ino_fd);
	d->ino_fd = d->ino_wd = seg_wd = -1;
}

long ixd_rescan(ixd *d)
{
	char **names = NULL;
	size_t n = 0;
	d->next_rescan = ms_clock_ms() + RESCAN_MS;
	if (d->ino_fd >= 0 && (d->ino_wd < 0 || seg_wd < 0))
		add_watch(d);
	ms_status_t st = ms_spool_list(d->spool, &names, &n);
	if (st) {
		ms_log_error("cannot list %s/new: %s", d->spool_dir,
			     st == MS_ERR_IO ? strerror(errno)
					     : ms_status_str(st));
		return -1;
	}
	long added = 0;
	for (size_t i = 0; i < n; i++) {
		int r = ixd_queue_add(d->q, names[i]);
		if (r < 0) {
			ms_log_error("out of memory queueing %s", names[i]);
			break;
		}
		added += r;
	}
	ms_spool_names_free(&names);
	return added;
}

/* Queues the segment entries that became ready; -1 on error (logged). */
static int poll_segments(ixd *d)
{
	char **names = NULL;
	size_t n = 0;
	ms_status_t st = ms_spool_poll(d->spool, &names, &n);
	if (st) {
		ms_log_error("cannot read %s/seg: %s", d->spool_dir,
			     st == MS_ERR_IO ? strerror(errno)
					     : ms_status_str(st));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (ixd_queue_add(d->q, names[i]) < 0) {
			ms_log_error("out of memory queueing %s", names[i]);
			break;
		}
	}
	ms_spool_names_free(&names);
	return 0;
}

/* Handles one event; returns 1 when a rescan is needed, 2 when the
 * segments changed. */
static int on_event(ixd *d, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		ms_log_warn("inotify queue overflow: rescanning %s/new",
			    d->spool_dir);
		return 1;
	}
	if (ev->mask & IN_IGNORED) {
		int seg = ev->wd == seg_wd;
		ms_log_warn("%s/%s was removed or replaced: watching again",
			    d->spool_dir, seg ? "seg" : "new");
		*(seg ? &seg_wd : &d->ino_wd) = -1;
		return 1;
	}
	if (ev->wd == seg_wd)
		return 2;
	if (ev->len == 0 || ev->name[0] == '.' || (ev->mask & IN_ISDIR))
		return 0;
	if (ixd_queue_add(d->q, ev->name) < 0) {
		ms_log_error("out of memory queueing %s", ev->name);
		return 1;
	}
	return 0;
}

void ixd_watch_read(ixd *d)
{
	char buf[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	int rescan = 0;
	for (;;) {
		ssize_t n = read(d->ino_fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;
			rescan |= on_event(d, ev);
			p += sizeof *ev + ev->len;
		}
	}
	if (rescan & 1)
		ixd_rescan(d);
	else if (rescan & 2)
		poll_segments(d);
}
