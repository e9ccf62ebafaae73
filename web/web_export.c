/* web_export.c - exports as downloads (web_pages.h): the messages of a
 * search or of a hold, within the user's scope, as one zip file holding
 * the export of ms_export.h (messages.mbox or one .eml per message,
 * manifest.csv, manifest.sha256) under one folder.
 *
 *   GET /export?q=&from=&to=&verdict=&format=mbox|eml   a search
 *   GET /export?hold=NAME&format=mbox|eml                a hold's query
 *
 * Order: the query is built (scope ANDed), the messages are found, the
 * audit line "export" with every id is written (no line, no download),
 * then the export is written into a private temporary directory
 * ($TMPDIR or /tmp, mode 0700), zipped (libzip) beside it, and the zip is
 * sent from an open, already unlinked file, so memory does not grow with
 * the export and nothing is left on disk whatever happens to the
 * connection. At most WEB_EXPORT_MAX messages per export.
 *
 * Functions: web_export_download; file-local export_query, find,
 * write_export, zip_dir, remove_tree, send_zip.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "ms_export.h"
#include "ms_hold.h"
#include "ms_log.h"
#include "web_archive.h"
#include "web_html.h"
#include "web_pages.h"
#include "web_resp.h"

#define WEB_EXPORT_MAX 100000
#define Q_MAX	       2048

static const char *arg(const web_req *r, const char *name)
{
	const char *v = r->arg(r, name);
	return v ? v : "";
}

/* The query text of the request (a hold's, or q and the filters) into
 * *text_r (caller frees). 0, 400 (bad parameters) or 404 (no such
 * hold). */
static unsigned export_query(const web_req *r, char **text_r)
{
	const char *hold = arg(r, "hold"), *q = arg(r, "q");
	web_filter f;
	*text_r = NULL;
	if (!*hold) {
		if (strlen(q) > Q_MAX ||
		    web_filter_parse(arg(r, "from"), arg(r, "to"),
				     arg(r, "verdict"), &f) < 0)
			return 400;
		return (*text_r = web_filter_text(q, &f)) ? 0 : 500;
	}
	ms_holds *h = NULL;
	char *err = NULL;
	if (ms_hold_name_check(hold, NULL))
		return 400;
	if (ms_holds_load(r->cfg->archive_dir, &h, &err)) {
		ms_log_error("web export: %s", err ? err : "cannot read holds");
		free(err);
		return 500;
	}
	const ms_hold *one = ms_holds_find(h, hold);
	if (one && !web_hold_visible(&r->user, one))
		one = NULL;
	if (one)
		*text_r = strdup(one->query);
	ms_holds_free(&h);
	return !one ? 404 : *text_r ? 0 : 500;
}

/* The messages text matches in r's scope (newest first) into *hits_r.
 * 0, or an HTTP status with *msg_r (static). */
static unsigned find(web_req *r, ms_archive *ar, const char *text,
		     ms_hits **hits_r, const char **msg_r)
{
	ms_qnode *q = NULL;
	uint64_t n = 0;
	unsigned status = 0;
	*msg_r = "The archive cannot be searched.";
	if (web_query_build(text, NULL, 0, r->user.scope, &q, NULL)) {
		*msg_r = "Bad query.";
		status = 400;
	} else if (ms_archive_count(ar, q, &n)) {
		status = 500;
	} else if (n > WEB_EXPORT_MAX) {
		*msg_r = "Too many messages for one export: narrow the search.";
		status = 413;
	} else if (ms_archive_search(ar, q, n ? (size_t)n : 1, hits_r)) {
		status = 500;
	}
	ms_query_free(&q);
	return status;
}

/* The audit line "export" with every id of hits; the query is text, or
 * "hold NAME: text" for a hold's export. 0 or -1. */
static int audit_export(const web_req *r, const char *hold, const char *text,
			const ms_hits *hits)
{
	size_t n = ms_hits_size(hits);
	const char **ids = calloc(n ? n : 1, sizeof *ids);
	char *q = NULL;
	int rc = -1;
	if (ids && (!*hold || asprintf(&q, "hold %s: %s", hold, text) >= 0)) {
		for (size_t i = 0; i < n; i++)
			ids[i] = ms_hits_get(hits, i)->id;
		rc = web_audit(r, "export", q ? q : text, n, ids, n);
	}
	free(q);
	free(ids);
	return rc;
}

/* Writes the export of hits into dir. 0 or -1 (logged). */
static int write_export(ms_archive *ar, const ms_hits *hits, const char *dir,
			ms_export_format fmt)
{
	ms_export *ex = NULL;
	char *err = NULL;
	ms_status_t st = ms_export_begin(dir, fmt, &ex, &err);
	if (!st && (st = ms_export_add_hits(ex, ar, hits, NULL, NULL))) {
		ms_log_error("web export: %s", ms_export_error(ex));
		ms_export_abort(&ex);
		return -1;
	}
	if (!st)
		st = ms_export_finish(&ex, &err);
	if (st)
		ms_log_error("web export: %s", err ? err : ms_status_str(st));
	free(err);
	return st ? -1 : 0;
}

/* Zips every file of dir as "folder/NAME" into zip_path. 0 or -1. */
static int zip_dir(const char *dir, const char *folder, const char *zip_path)
{
	int zerr = 0, rc = 0;
	zip_t *z = zip_open(zip_path, ZIP_CREATE | ZIP_EXCL, &zerr);
	DIR *d = z ? opendir(dir) : NULL;
	struct dirent *e;
	while (d && !rc && (e = readdir(d))) {
		char path[1400], name[400];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		snprintf(name, sizeof name, "%s/%s", folder, e->d_name);
		zip_source_t *src = zip_source_file(z, path, 0, -1);
		if (!src || zip_file_add(z, name, src, ZIP_FL_ENC_UTF_8) < 0) {
			zip_source_free(src);
			rc = -1;
		}
	}
	if (d)
		closedir(d);
	if (!z || !d || rc || zip_close(z) < 0) {
		ms_log_error("web export: cannot zip %s: %s", dir,
			     z ? zip_strerror(z) : "zip_open failed");
		if (z)
			zip_discard(z);
		return -1;
	}
	return 0;
}

/* Removes the files of dir and dir (one level: an export is flat). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[1400];
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Exports hits as a zip into rs (file response). 0 or -1. */
static int send_zip(web_resp *rs, ms_archive *ar, const ms_hits *hits,
		    ms_export_format fmt)
{
	const char *tmp = getenv("TMPDIR");
	char base[1024], dir[1100], zpath[1100], folder[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(base, sizeof base, "%s/mailsift-web-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base))
		return ms_log_error("web export: mkdtemp %s: %s", base,
				    strerror(errno)),
		       -1;
	/* the time and the temporary directory's random part: two exports
	 * in one second still get two names */
	size_t n = strftime(folder, sizeof folder,
			    "mailsift-export-%Y%m%d-%H%M%S-", &tm);
	snprintf(folder + n, sizeof folder - n, "%s", base + strlen(base) - 6);
	snprintf(dir, sizeof dir, "%s/%s", base, folder);
	snprintf(zpath, sizeof zpath, "%s/%s.zip", base, folder);
	int fd = -1;
	struct stat sb;
	if (!write_export(ar, hits, dir, fmt) && !zip_dir(dir, folder, zpath) &&
	    (fd = open(zpath, O_RDONLY | O_CLOEXEC)) >= 0 &&
	    fstat(fd, &sb) == 0) {
		rs->file_fd = fd;
		rs->file_size = (uint64_t)sb.st_size;
		rs->ctype = "application/zip";
		snprintf(rs->disposition, sizeof rs->disposition,
			 "attachment; filename=\"%s.zip\"", folder);
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	remove_tree(dir);
	unlink(zpath);
	rmdir(base);
	return rs->file_fd >= 0 ? 0 : -1;
}

void web_export_download(web_req *r, web_resp *rs)
{
	ms_export_format fmt;
	char *text = NULL, *err = NULL;
	const char *msg = "Bad export parameters.";
	ms_archive *ar = NULL;
	ms_hits *hits = NULL;
	unsigned status = ms_export_format_parse(arg(r, "format"), &fmt)
				  ? 400
				  : export_query(r, &text);
	if (status == 404)
		msg = "No such hold.";
	if (!status && web_archive_open(r->cfg, &ar, &err)) {
		msg = "The archive cannot be opened.";
		status = 500;
	}
	if (!status)
		status = find(r, ar, text, &hits, &msg);
	if (!status && audit_export(r, arg(r, "hold"), text, hits) < 0) {
		msg = "The audit trail cannot be written.";
		status = 500;
	}
	if (!status && send_zip(rs, ar, hits, fmt) < 0) {
		msg = "The export failed.";
		status = 500;
	}
	if (status)
		web_resp_error(rs, status, msg);
	ms_hits_free(&hits);
	ms_archive_close(&ar);
	free(text);
	free(err);
}
