/* cli_import.c - `mailsift import PATH...`: bulk import of existing mail.
 *
 * Functions: cli_import. PATHs may be message files, mbox files, maildirs
 * (cur/ and new/ are read, tmp/ skipped, Maildir++ subfolders followed) or
 * any directory tree. A first walk lists the files and their sizes (for
 * the progress bar's ETA); then messages are parsed on one worker thread
 * per CPU (ms_archive_prepare) and inserted in order on the main thread,
 * which commits every IMPORT_BATCH messages. At the end, shards the import
 * grew by a quarter or more are compacted (about half the size). A message that
 * cannot be added is reported as "path: reason" (mbox: "path#N") and the rest
 * continue; exit status 1 if any failed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_progress.h"
#include "ms_log.h"
#include "ms_mbox.h"
#include "ms_pool.h"

#define IMPORT_BATCH	    5000
#define COMPACT_MIN_PERCENT 25 /* compact shards this import grew by 25% */
#define LOCK_WAIT	    120 /* seconds to wait for a shard another writer holds */

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
	ms_pool *pool;
	cli_progress pr;
} import_ctx;

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
		if (n == cap &&
		    !(names = realloc(names, (cap = cap ? cap * 2 : 64) *
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
	double frac = ic->total_bytes
			      ? (double)ic->done_bytes / (double)ic->total_bytes
			      : 1;
	cli_progress_draw(&ic->pr, frac, ic->added + ic->present + ic->failed,
			  final);
}

/* One mapped input file, released when its last message is collected. */
typedef struct file_map {
	const char *path;
	const char *data;
	size_t len;
	unsigned refs;
} file_map;

/* One message travelling through the pool. */
typedef struct imp_job {
	file_map *fm;
	const char *data;
	size_t len;
	unsigned idx; /* 1-based position in an mbox; 0 = whole file */
	ms_prep *prep;
} imp_job;

static void map_release(file_map *fm)
{
	if (--fm->refs)
		return;
	if (fm->len)
		munmap((void *)fm->data, fm->len);
	free(fm);
}

/* Inserts a prepared message and accounts for the result. */
/* Inserts a prepared message, waiting (up to LOCK_WAIT seconds) while
 * another writer (indexd, reindex) holds the shard it belongs to. */
static ms_status_t insert_waiting(import_ctx *ic, imp_job *j,
				  ms_add_result *res)
{
	ms_status_t st;
	for (int waited = 0;; waited++) {
		st = ms_archive_insert(ic->ar, j->prep, res, NULL);
		if (st != MS_ERR_LOCKED || waited >= LOCK_WAIT)
			return st;
		if (waited == 0)
			ms_log_warn("%s; waiting up to %d s",
				    ms_archive_error(ic->ar), LOCK_WAIT);
		sleep(1);
	}
}

static void finish_job(import_ctx *ic, imp_job *j)
{
	ms_add_result res;
	ms_status_t st = insert_waiting(ic, j, &res);
	if (st == MS_OK) {
		res == MS_ADD_NEW ? ic->added++ : ic->present++;
		if (res == MS_ADD_NEW && ++ic->since_commit >= IMPORT_BATCH) {
			if (ms_archive_commit(ic->ar))
				ms_log_fatal("commit failed: %s",
					     ms_archive_error(ic->ar));
			ic->since_commit = 0;
		}
	} else {
		ic->failed++;
		cli_progress_break(&ic->pr);
		if (j->idx)
			ms_log_error("%s#%u: %s", j->fm->path, j->idx,
				     ms_archive_error(ic->ar));
		else
			ms_log_error("%s: %s", j->fm->path,
				     ms_archive_error(ic->ar));
	}
	ms_prep_free(&j->prep);
	map_release(j->fm);
	free(j);
	draw_progress(ic, 0);
}

static void collect_one(import_ctx *ic)
{
	imp_job *j = ms_pool_collect(ic->pool);
	if (j)
		finish_job(ic, j);
}

static void submit(import_ctx *ic, file_map *fm, size_t start, size_t n,
		   unsigned idx)
{
	imp_job *j = calloc(1, sizeof *j);
	if (!j)
		ms_log_fatal("out of memory");
	*j = (imp_job){ fm, fm->data + start, n, idx, NULL };
	fm->refs++;
	if (ms_pool_full(ic->pool))
		collect_one(ic);
	ms_pool_submit(ic->pool, j);
}

/* Maps f; returns NULL (after reporting) if it cannot be read. */
static file_map *map_file(import_ctx *ic, const file_ent *f)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	file_map *fm = fd >= 0 ? calloc(1, sizeof *fm) : NULL;
	if (fm) {
		fm->path = f->path;
		fm->len = (size_t)f->size;
		fm->data = fm->len ? mmap(NULL, fm->len, PROT_READ, MAP_PRIVATE,
					  fd, 0)
				   : "";
		fm->refs = 1;
	}
	if (fd >= 0)
		close(fd);
	if (!fm || fm->data == MAP_FAILED) {
		ic->failed++;
		ms_log_error("%s: %s", f->path, strerror(errno));
		free(fm);
		return NULL;
	}
	return fm;
}

static void import_file(import_ctx *ic, const file_ent *f)
{
	file_map *fm = map_file(ic, f);
	if (!fm)
		return;
	size_t off = 0, start, n;
	unsigned idx = 0;
	if (!fm->len)
		submit(ic, fm, 0, 0, 0);
	while (ms_mbox_next(fm->data, fm->len, &off, &start, &n)) {
		idx++;
		submit(ic, fm, start, n, off < fm->len || idx > 1 ? idx : 0);
	}
	map_release(fm);
	ic->done_bytes += (unsigned long long)f->size;
}

/* ---- the worker threads ---- */

typedef struct worker_set {
	ms_archive_worker **w;
	unsigned n;
	atomic_uint next;
} worker_set;

static void *worker_ctx(void *arg)
{
	worker_set *ws = arg;
	return ws->w[atomic_fetch_add(&ws->next, 1) % ws->n];
}

static void worker_run(void *job, void *ctx)
{
	imp_job *j = job;
	if (ms_archive_prepare(ctx, j->data, j->len, NULL, &j->prep))
		ms_log_fatal("out of memory");
}

static int start_workers(import_ctx *ic, worker_set *ws)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ws->n = cpus < 1 ? 1 : cpus > 8 ? 8 : (unsigned)cpus;
	ws->w = calloc(ws->n, sizeof *ws->w);
	atomic_init(&ws->next, 0);
	for (unsigned i = 0; ws->w && i < ws->n; i++)
		if (ms_archive_worker_new(ic->ar, &ws->w[i]))
			return ms_log_error("%s", ms_archive_error(ic->ar)), -1;
	ms_pool_ops ops = { worker_ctx, NULL, worker_run, ws };
	ic->pool = ws->w ? ms_pool_new(ws->n, 16 * ws->n, &ops) : NULL;
	return ic->pool ? 0 : -1;
}

/* Inserts whatever is still in flight, then stops the threads. */
static void stop_workers(import_ctx *ic, worker_set *ws)
{
	imp_job *j;
	while (ic->pool && (j = ms_pool_collect(ic->pool)))
		finish_job(ic, j);
	ms_pool_free(&ic->pool);
	for (unsigned i = 0; ws->w && i < ws->n; i++)
		ms_archive_worker_free(&ws->w[i]);
	free(ws->w);
}

int cli_import(const ms_config *cfg, int argc, char **argv)
{
	if (argc < 2)
		return ms_log_error("usage: mailsift import PATH..."), 2;
	import_ctx ic = { 0 };
	worker_set ws = { 0 };
	int walk_failed = 0;
	for (int i = 1; i < argc; i++)
		walk_failed |= walk(&ic, argv[i], 0) != 0;
	if (!(ic.ar = cli_open_archive(cfg, 1)))
		return 1;
	if (start_workers(&ic, &ws))
		ms_log_fatal("cannot start worker threads");
	cli_progress_start(&ic.pr);
	for (size_t i = 0; i < ic.n_files; i++)
		import_file(&ic, &ic.files[i]);
	stop_workers(&ic, &ws);
	for (size_t i = 0; i < ic.n_files; i++)
		free(ic.files[i].path);
	free(ic.files);
	ms_status_t st = ms_archive_compact(ic.ar, COMPACT_MIN_PERCENT);
	if (st)
		ms_log_error("compacting: %s", ms_archive_error(ic.ar));
	ms_status_t cst = ms_archive_close(&ic.ar);
	st = st ? st : cst;
	draw_progress(&ic, 1);
	double el = cli_now() - ic.pr.start;
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
