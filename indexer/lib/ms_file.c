/* ms_file.c - durable-file helpers (see ms_file.h).
 *
 * Functions: ms_file_write_all, ms_file_replace, ms_file_sync_dir,
 * ms_file_read.
 */
#include "ms_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sets *err_r to "path: what: strerror(errno)"; returns MS_ERR_IO. */
static ms_status_t io_fail(char **err_r, const char *path, const char *what)
{
	int e = errno;
	if (err_r && asprintf(err_r, "%s: %s: %s", path, what, strerror(e)) < 0)
		*err_r = NULL;
	return MS_ERR_IO;
}

int ms_file_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ms_status_t ms_file_sync_dir(const char *path, char **err_r)
{
	char *copy = strdup(path);
	if (!copy)
		return MS_ERR_NOMEM;
	const char *dir = dirname(copy);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ms_status_t st = MS_OK;
	if (fd < 0 || fsync(fd) != 0)
		st = io_fail(err_r, dir, fd < 0 ? "open" : "fsync");
	if (fd >= 0)
		close(fd);
	free(copy);
	return st;
}

ms_status_t ms_file_replace(const char *path, const void *data, size_t len,
			    mode_t mode, char **err_r)
{
	char *tmp = NULL;
	if (err_r)
		*err_r = NULL;
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return MS_ERR_NOMEM;
	ms_status_t st = MS_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		st = io_fail(err_r, tmp, "open");
	else if (ms_file_write_all(fd, data, len) || fsync(fd))
		st = io_fail(err_r, tmp, "write");
	if (fd >= 0 && close(fd) != 0 && !st)
		st = io_fail(err_r, tmp, "close");
	if (!st && rename(tmp, path) != 0)
		st = io_fail(err_r, path, "rename");
	if (!st)
		st = ms_file_sync_dir(path, err_r);
	free(tmp);
	return st;
}

ms_status_t ms_file_read(const char *path, size_t max, ms_buf *out,
			 char **err_r)
{
	if (err_r)
		*err_r = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? MS_ERR_NOTFOUND
				       : io_fail(err_r, path, "open");
	ms_status_t st = MS_OK;
	size_t start = out->len;
	for (;;) {
		if ((st = ms_buf_reserve(out, 65536)))
			break;
		ssize_t n = read(fd, out->data + out->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			st = io_fail(err_r, path, "read");
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (out->len - start > max) {
			errno = EFBIG;
			st = io_fail(err_r, path, "read");
			st = MS_ERR_LIMIT;
			break;
		}
	}
	close(fd);
	if (st)
		ms_buf_truncate(out, start);
	return st;
}
