/* ms_spool_seg.c - appending message entries to the spool's current
 * segment, with group commit (format in ms_spool_int.h).
 *
 * Functions: ms_seg_append, ms_seg_close_writer.
 *
 * One segment is open for appending per spool handle. A committing
 * thread appends its entry under the handle's mutex (one pwritev, or
 * copy_file_range for a message that did not stay in memory), then waits
 * until an fdatasync covers it: the first waiter with no flush running
 * becomes the leader, flushes everything appended so far outside the
 * mutex (others keep appending meanwhile) and, once fdatasync returned,
 * appends a commit entry naming that offset and wakes everybody; those
 * covered return MS_OK, the rest wait for the next flush. A failed write
 * is cut off again (ftruncate); a failed flush fails every entry not yet
 * covered, cuts the segment back to its last commit entry and retires it.
 * A segment is made in tmp/ (header, fdatasync), locked (flock, held while
 * it is open: readers see a segment whose lock they can take as finished)
 * and renamed into seg/ (directory fsync'ed) before its first entry; it is
 * retired after SEG_MAX_BYTES or SEG_MAX_AGE, its descriptor closed once
 * its last waiter left.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ms_spool_int.h"

#define SEG_MAX_BYTES (32ULL * 1024 * 1024)
#define SEG_MAX_AGE   30 /* seconds */
#define COPY_BUF      (64 * 1024)

struct ms_seg_w {
	int fd;
	char *path;
	uint64_t end;	     /* where the next entry goes */
	uint64_t synced;     /* entries before this are flushed, committed */
	uint64_t proof_end;  /* the end of the last commit entry */
	int syncing, failed; /* a leader is flushing; a flush failed */
	int err;	     /* errno of the failure */
	unsigned refs;	     /* waiters, plus one while current */
	time_t created;
};

static void seg_put(ms_seg_w *s)
{
	if (--s->refs > 0)
		return;
	close(s->fd); /* releases the lock: readers may finish it */
	free(s->path);
	free(s);
}

static int set_errf(char **err_r, const char *path, int e)
{
	if (err_r && asprintf(err_r, "%s: %s", path, strerror(e)) < 0)
		*err_r = NULL;
	return e;
}

/* Writes the header of the new segment in tmp/, flushes it, renames it
 * into seg/ and flushes seg/. 0 or an errno (err_r set). */
static int seg_publish(ms_spool *sp, ms_seg_w *s, const char *name,
		       char **err_r)
{
	unsigned char h[MS_SEG_HDR];
	ms_seg_put_header(h, sp->boot, (uint64_t)s->created);
	char *tmp = ms_spool_path(sp->dir, "tmp", name);
	char *dir = ms_spool_path(sp->dir, "seg", NULL);
	s->path = ms_spool_path(sp->dir, "seg", name);
	int e = !tmp || !dir || !s->path ? ENOMEM : 0;
	if (!e && (s->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
				0660)) < 0)
		e = set_errf(err_r, tmp, errno);
	else if (!e && (flock(s->fd, LOCK_EX) < 0 ||
			pwrite(s->fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
			fdatasync(s->fd) < 0))
		e = set_errf(err_r, tmp, errno ? errno : ENOSPC);
	else if (!e && rename(tmp, s->path) < 0)
		e = set_errf(err_r, s->path, errno);
	else if (!e && (e = ms_spool_sync_dir(dir)) != 0)
		set_errf(err_r, dir, e);
	if (e && tmp)
		unlink(tmp);
	if (e && s->path && s->fd >= 0)
		unlink(s->path);
	free(tmp);
	free(dir);
	return e;
}

/* A new current segment "TIME-PID-RANDOM". MS_OK or MS_ERR_IO. */
static ms_status_t seg_new(ms_spool *sp, char **err_r)
{
	ms_seg_w *s = calloc(1, sizeof *s);
	unsigned r = 0;
	if (!s || getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
		free(s);
		return set_errf(err_r, sp->dir, ENOMEM), MS_ERR_IO;
	}
	s->fd = -1;
	s->created = time(NULL);
	char name[MS_SEG_NAME_MAX];
	snprintf(name, sizeof name, "%010lld-%d-%08x", (long long)s->created,
		 (int)getpid(), r);
	if (seg_publish(sp, s, name, err_r) != 0) {
		if (s->fd >= 0)
			close(s->fd);
		free(s->path);
		free(s);
		return MS_ERR_IO;
	}
	s->end = s->synced = s->proof_end = MS_SEG_HDR;
	s->refs = 1;
	sp->cur = s;
	return MS_OK;
}

/* The segment to append to, after retiring one that failed, is full or
 * old. Called with sp->mu held. */
static ms_seg_w *seg_current(ms_spool *sp, char **err_r)
{
	ms_seg_w *c = sp->cur;
	if (c && (c->failed || c->end >= SEG_MAX_BYTES ||
		  time(NULL) - c->created >= SEG_MAX_AGE)) {
		sp->cur = NULL;
		seg_put(c);
	}
	if (!sp->cur && seg_new(sp, err_r) != MS_OK)
		return NULL;
	return sp->cur;
}

/* pwritev of all of v[0..n) at off; 0 or an errno. */
static int pwritev_full(int fd, struct iovec *v, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pwritev(fd, v, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : ENOSPC;
		off += (uint64_t)k;
		while (n > 0 && (size_t)k >= v->iov_len) {
			k -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + k;
			v->iov_len -= (size_t)k;
		}
	}
	return 0;
}

/* Copies src[0..n) to dst at off: in the kernel when it can. */
static int copy_range(int src, int dst, uint64_t n, uint64_t off)
{
	loff_t so = 0, dof = (loff_t)off;
	while (n > 0) {
		ssize_t k = copy_file_range(src, &so, dst, &dof, (size_t)n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EXDEV || errno == EINVAL ||
			      errno == ENOSYS || errno == EOPNOTSUPP))
			break;
		if (k <= 0)
			return k < 0 ? errno : EIO;
		n -= (uint64_t)k;
	}
	char buf[COPY_BUF];
	while (n > 0) {
		size_t want = n < sizeof buf ? (size_t)n : sizeof buf;
		ssize_t k = pread(src, buf, want, so);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EIO;
		struct iovec v = { buf, (size_t)k };
		int e = pwritev_full(dst, &v, 1, (uint64_t)dof);
		if (e)
			return e;
		so += k;
		dof += k;
		n -= (uint64_t)k;
	}
	return 0;
}

/* Appends the entry at s->end; 0 or an errno (the segment cut back). */
static int seg_write(ms_seg_w *s, int fd, const char *mem, uint64_t n_msg,
		     uint32_t crc, const char *rec, size_t n_rec)
{
	ms_seg_ehdr h = { MS_SEG_T_MSG, n_msg, (uint32_t)n_rec,
			  ms_seg_crc(crc, rec, n_rec) };
	unsigned char hb[MS_SEG_EHDR];
	ms_seg_put_ehdr(hb, &h);
	uint64_t off = s->end;
	struct iovec v[3] = { { hb, sizeof hb },
			      { (void *)mem, mem ? (size_t)n_msg : 0 },
			      { (void *)rec, n_rec } };
	int e;
	if (mem) {
		e = pwritev_full(s->fd, v, 3, off);
	} else if (!(e = pwritev_full(s->fd, v, 1, off)) &&
		   !(e = copy_range(fd, s->fd, n_msg, off + MS_SEG_EHDR))) {
		e = pwritev_full(s->fd, v + 2, 1, off + MS_SEG_EHDR + n_msg);
	}
	if (e && ftruncate(s->fd, (off_t)off) < 0)
		s->failed = 1, s->err = e;
	if (!e)
		s->end = off + ms_seg_entry_len(&h);
	return e;
}

/* Appends the commit entry for through; 0 or an errno. */
static int seg_commit_entry(ms_seg_w *s, uint64_t through)
{
	unsigned char b[MS_SEG_COMMIT];
	for (int i = 0; i < 8; i++)
		b[MS_SEG_EHDR + i] = (unsigned char)(through >> (8 * i));
	ms_seg_ehdr h = { MS_SEG_T_COMMIT, 0, 8,
			  ms_seg_crc(0, b + MS_SEG_EHDR, 8) };
	ms_seg_put_ehdr(b, &h);
	struct iovec v = { b, sizeof b };
	int e = pwritev_full(s->fd, &v, 1, s->end);
	if (!e)
		s->proof_end = s->end += sizeof b;
	return e;
}

/* The leader's flush; called and returns with sp->mu held. */
static void seg_flush(ms_spool *sp, ms_seg_w *s)
{
	s->syncing = 1;
	uint64_t target = s->end;
	pthread_mutex_unlock(&sp->mu);
	int e = fdatasync(s->fd) < 0 ? errno : 0;
	pthread_mutex_lock(&sp->mu);
	if (!e)
		e = seg_commit_entry(s, target);
	if (!e) {
		s->synced = target;
	} else {
		s->failed = 1;
		s->err = e;
		if (ftruncate(s->fd, (off_t)s->proof_end) < 0)
			s->err = e; /* best effort: cut what was not kept */
	}
	s->syncing = 0;
	pthread_cond_broadcast(&sp->cv);
}

ms_status_t ms_seg_append(ms_spool *sp, int fd, const char *mem, uint64_t n_msg,
			  uint32_t msg_crc, const char *rec, size_t n_rec,
			  char **err_r)
{
	pthread_mutex_lock(&sp->mu);
	ms_seg_w *s = seg_current(sp, err_r);
	int e = s ? seg_write(s, fd, mem, n_msg, msg_crc, rec, n_rec) : -1;
	if (e) {
		if (e > 0)
			set_errf(err_r, s->path, e);
		pthread_mutex_unlock(&sp->mu);
		return MS_ERR_IO;
	}
	uint64_t mine = s->end;
	s->refs++;
	while (!s->failed && s->synced < mine) {
		if (s->syncing)
			pthread_cond_wait(&sp->cv, &sp->mu);
		else
			seg_flush(sp, s);
	}
	ms_status_t st = s->synced >= mine ? MS_OK : MS_ERR_IO;
	if (st)
		set_errf(err_r, s->path, s->err ? s->err : EIO);
	seg_put(s);
	pthread_mutex_unlock(&sp->mu);
	return st;
}

void ms_seg_close_writer(ms_spool *sp)
{
	pthread_mutex_lock(&sp->mu);
	if (sp->cur) {
		ms_seg_w *c = sp->cur;
		sp->cur = NULL;
		seg_put(c);
	}
	pthread_mutex_unlock(&sp->mu);
}
