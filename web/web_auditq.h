/* web_auditq.h - group commit of the console's audit lines: the request
 * threads' lines share one lock, write, fdatasync and head replacement
 * (ms_audit_append_batch) instead of paying ~3 fsyncs each.
 *
 * Functions: web_auditq_append.
 */
#ifndef WEB_AUDITQ_H
#define WEB_AUDITQ_H

#include "ms_audit.h"

/* Appends e (borrowed until this returns) to the log at path as part of
 * the next batch, and returns once the batch holding it is on disk: the
 * same promise as ms_audit_append (the line is fdatasync'ed, and the head
 * updated, before MS_OK), and the same statuses and *err_r (caller frees
 * with free(); may be NULL on error when out of memory). An error of the
 * batch is returned to every request in it. Safe from any number of
 * threads; entries for different paths (a reload) go in different
 * batches. */
ms_status_t web_auditq_append(const char *path, const ms_audit_entry *e,
			      char **err_r);

#endif
