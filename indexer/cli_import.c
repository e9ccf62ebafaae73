/* cli_import.c - `mailsift import PATH...`: bulk import of existing mail.
 *
 * Functions: cli_import. PATHs may be message files, mbox files, maildirs
 * (cur/ and new/ are read, tmp/ skipped, Maildir++ subfolders followed) or
 * any directory tree. A first walk lists the files and their sizes (for
 * the progress bar's ETA); then each message is added and the archive
 * committed every IMPORT_BATCH messages. A message that cannot be added
 * is reported as "path: reason" (mbox: "path#N") and the rest continue;
 * exit status 1 if any failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ms_log.h"
#include "ms_mbox.h"

#define IMPORT_BATCH 5000

typedef struct file_ent {
	char *path;
	off_t size;
} file_ent;

typedef struct import_ctx {
	file_ent *files;
	size_t n_files, cap_files;
	unsigned long long total_bytes, done_bytes;
	unsigned long long added, present, failed, since_commit;
	ms_archive *ar;
	int tty;
	double start, last_draw;
} import_ctx;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int add_file(import_ctx *ic, const char *path, off_t size)
{
	if (ic->n_files == ic->cap_files) {
		size_t nc = ic->cap_files ? ic->cap_files * 2 : 1024;
		file_ent *nf = realloc(ic->files, nc * sizeof *nf);
		if (!nf)
			return -1;
		ic->files = nf;
		ic->cap_files = nc;
	}
	if (!(ic->files[ic->n_files].path = strdup(path)))
		return -1;
	ic->files[ic->n_files++].size = size;
	ic->total_bytes += (unsigned long long)size;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(import_ctx *ic, const char *path, int depth);

/* Whether dir is a maildir (has cur/ and new/). */
static int is_maildir(const char *dir)
{
	char p[4096];
	struct stat sb;
	snprintf(p, sizeof p, "%s/cur", dir);
	if (stat(p, &sb) || !S_ISDIR(sb.st_mode))
		return 0;
	snprintf(p, sizeof p, "%s/new", dir);
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Whether entry name of directory dir should be walked. In a maildir
 * only cur, new and Maildir++ subfolders (".name") count. */
static int wanted(const char *name, int maildir)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (maildir)
		return strcmp(name, "cur") == 0 || strcmp(name, "new") == 0 ||
		       name[0] == '.';
	return 1;
}

static int walk_dir(import_ctx *ic, const char *path, int depth)
{
	DIR *d = opendir(path);
	if (!d)
		return ms_log_error("%s: %s", path, strerror(errno)), -1;
	int maildir = is_maildir(path), rc = 0;
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (!wanted(e->d_name, maildir))
			continue;
		if (n == cap && !(names = realloc(names,
						  (cap = cap ? cap * 2 : 64) *
							  sizeof *names)))
			return closedir(d), -1;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		char sub[4096];
		snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
		if (walk(ic, sub, depth + 1))
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

static int walk(import_ctx *ic, const char *path, int depth)
{
	struct stat sb;
	if (depth > 64)
		return ms_log_error("%s: directories nested too deeply", path),
		       -1;
	if (stat(path, &sb))
		return ms_log_error("%s: %s", path, strerror(errno)), -1;
	if (S_ISDIR(sb.st_mode))
		return walk_dir(ic, path, depth);
	if (!S_ISREG(sb.st_mode))
		return 0;
	return add_file(ic, path, sb.st_size);
}

static void draw_progress(import_ctx *ic, int final)
{
	double t = now();
	if (!ic->tty || (!final && t - ic->last_draw < 0.2))
		return;
	ic->last_draw = t;
	double el = t - ic->start, frac = ic->total_bytes
						  ? (double)ic->done_bytes / (double)ic->total_bytes
						  : 1;
	unsigned long long msgs = ic->added + ic->present + ic->failed;
	double rate = el > 0 ? msgs / el : 0;
	double eta = frac > 0 ? el / frac - el : 0;
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3.0f%%  %llu msgs  %.0f msg/s  ETA %d:%02d ",
		bar, frac * 100, msgs, rate, (int)eta / 60, (int)eta % 60);
	if (final)
		fputc('\n', stderr);
}

/* Adds one message; where names it for diagnostics. */
static void import_one(import_ctx *ic, const char *data, size_t n,
		       const char *path, unsigned idx, int multi)
{
	ms_add_result res;
	ms_status_t st = ms_archive_add(ic->ar, data, n, NULL, &res, NULL);
	if (st == MS_OK) {
		res == MS_ADD_NEW ? ic->added++ : ic->present++;
		if (res == MS_ADD_NEW && ++ic->since_commit >= IMPORT_BATCH) {
			if (ms_archive_commit(ic->ar))
				ms_log_fatal("commit failed: %s",
					     ms_archive_error(ic->ar));
			ic->since_commit = 0;
		}
		return;
	}
	ic->failed++;
	if (ic->tty)
		fputc('\n', stderr);
	if (multi)
		ms_log_error("%s#%u: %s", path, idx, ms_archive_error(ic->ar));
	else
		ms_log_error("%s: %s", path, ms_archive_error(ic->ar));
}

static void import_file(import_ctx *ic, const file_ent *f)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ic->failed++;
		ms_log_error("%s: %s", f->path, strerror(errno));
		return;
	}
	size_t len = (size_t)f->size;
	const char *data = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)
			       : "";
	close(fd);
	if (data == MAP_FAILED) {
		ic->failed++;
		ms_log_error("%s: %s", f->path, strerror(errno));
		return;
	}
	size_t off = 0, start, n;
	unsigned idx = 0;
	if (!len)
		import_one(ic, data, 0, f->path, 0, 0);
	while (ms_mbox_next(data, len, &off, &start, &n)) {
		idx++;
		import_one(ic, data + start, n, f->path, idx, off < len || idx > 1);
		draw_progress(ic, 0);
	}
	if (len)
		munmap((void *)data, len);
	ic->done_bytes += (unsigned long long)f->size;
}

int cli_import(const ms_config *cfg, int argc, char **argv)
{
	if (argc < 2)
		return ms_log_error("usage: mailsift import PATH..."), 2;
	import_ctx ic = { .tty = isatty(2) };
	int walk_failed = 0;
	for (int i = 1; i < argc; i++)
		walk_failed |= walk(&ic, argv[i], 0) != 0;
	if (!(ic.ar = cli_open_archive(cfg, 1)))
		return 1;
	ic.start = now();
	for (size_t i = 0; i < ic.n_files; i++) {
		import_file(&ic, &ic.files[i]);
		free(ic.files[i].path);
	}
	free(ic.files);
	ms_status_t st = ms_archive_close(&ic.ar);
	draw_progress(&ic, 1);
	double el = now() - ic.start;
	unsigned long long total = ic.added + ic.present + ic.failed;
	fprintf(stderr,
		"imported %llu messages: %llu new, %llu already archived, "
		"%llu failed in %.1f s (%.0f msg/s)\n",
		total, ic.added, ic.present, ic.failed, el,
		el > 0 ? total / el : 0.0);
	if (st)
		ms_log_error("final commit failed: %s", ms_status_str(st));
	return st || ic.failed || walk_failed ? 1 : 0;
}
