/* ms_file.h - small durable-file helpers: replacing a file atomically and
 * making a directory entry durable.
 *
 * Messages (*err_r) are one line, "path: what: strerror", malloc'ed and
 * freed by the caller (with free()). Nothing prints.
 */
#ifndef MS_FILE_H
#define MS_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "ms_buf.h"
#include "ms_status.h"

/* Replaces (or creates) path with data[0..len) so that a crash leaves the
 * old or the new content, never a mix: writes path.tmp (mode), fsyncs it,
 * renames it over path and fsyncs the directory. MS_OK, MS_ERR_IO (*err_r
 * set; path unchanged, path.tmp may be left over and is replaced by the
 * next call), MS_ERR_NOMEM. */
ms_status_t ms_file_replace(const char *path, const void *data, size_t len,
			    mode_t mode, char **err_r);

/* Writes all n bytes to fd, retrying short writes and EINTR. 0, or -1
 * with errno. */
int ms_file_write_all(int fd, const void *data, size_t n);

/* Fsyncs the directory holding path (after a rename or unlink in it).
 * MS_OK or MS_ERR_IO (*err_r). */
ms_status_t ms_file_sync_dir(const char *path, char **err_r);

/* Appends the whole content of path to out. MS_OK, MS_ERR_NOTFOUND (no
 * such file; *err_r NULL), MS_ERR_IO (*err_r), MS_ERR_NOMEM, MS_ERR_LIMIT
 * (larger than max bytes; *err_r). */
ms_status_t ms_file_read(const char *path, size_t max, ms_buf *out,
			 char **err_r);

#endif
