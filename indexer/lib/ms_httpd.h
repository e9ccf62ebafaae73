/* ms_httpd.h - the small HTTP listeners of the daemons (the metrics
 * endpoints, ms_metrics_http.c; the raw-message endpoint of mailsift
 * serve) on libmicrohttpd: starting one on a numeric address, answering
 * from a buffer.
 *
 * A listener runs one internal polling thread, started with every signal
 * blocked, so a daemon's signals (SIGTERM for libmilter's sigwait, a
 * signalfd, sigtimedwait) never land in it. libmicrohttpd's own error log
 * is off: a failure to listen comes back as one line.
 */
#ifndef MS_HTTPD_H
#define MS_HTTPD_H

#include <microhttpd.h>
#include <stddef.h>

#include "ms_status.h"

/* Starts a listener on addr (ms_addr.h: "A.B.C.D:PORT" or "[V6]:PORT")
 * calling handler(cls, ...) for each request; at most max_conns
 * connections, each dropped after idle_secs without traffic. what names
 * it in errors ("metrics", "raw endpoint"). MS_OK with *d_r (stop it with
 * MHD_stop_daemon), or MS_ERR_CONFIG (addr not numeric) / MS_ERR_IO with
 * *err_r (if err_r; caller frees) "WHAT ADDR: why". */
ms_status_t ms_httpd_start(const char *what, const char *addr,
			   MHD_AccessHandlerCallback handler, void *cls,
			   unsigned max_conns, unsigned idle_secs,
			   struct MHD_Daemon **d_r, char **err_r);

/* Queues a response of status with the n bytes at p (copied) and the
 * Content-Type type; "Cache-Control: no-store" too. */
enum MHD_Result ms_httpd_reply(struct MHD_Connection *c, unsigned status,
			       const char *type, const char *p, size_t n);

#endif
