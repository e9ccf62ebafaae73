/* cli_doctor_http.c - the checks of `mailsift doctor` on what is served
 * over HTTP: the console ([web] listen accepts connections; its accounts
 * file [web] users exists and is not readable by every user: it holds
 * password hashes) and the Prometheus endpoints ([milter], [indexd] and
 * [web] metrics, where set, answer GET /metrics with 200 and metrics),
 * and the other hosts' `mailsift serve`: each [archive] remote answers
 * through Xapian's remote backend (its document count) and GET /shards on
 * its endpoint; each [archive] holds_from answers GET /holds with a valid
 * holds list.
 *
 * Functions: doc_check_web, doc_check_metrics, doc_check_remotes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_doctor.h"
#include "ms_hold.h"
#include "ms_remote.h"
#include "ms_sock.h"
#include "ms_xapian.h"

/* ---- the console ---- */

static void check_accounts(doctor *d)
{
	const char *f = d->cfg->web_users;
	char own[160];
	struct stat st;
	if (stat(f, &st) < 0)
		doc_report(d, DOC_WARN, "web",
			   "add an account: mailsift-web user add NAME --role "
			   "officer",
			   "[web] users %s: %s", f, strerror(errno));
	else if (st.st_mode & S_IROTH)
		doc_report(d, DOC_FAIL, "web",
			   "chmod o-r it (0640, group mailsift): it holds the "
			   "password hashes",
			   "[web] users %s is readable by every user (%s)", f,
			   doc_owner(&st, own, sizeof own));
	else
		doc_report(d, DOC_OK, "web", NULL, "[web] users %s (%s)", f,
			   doc_owner(&st, own, sizeof own));
}

void doc_check_web(doctor *d)
{
	char ep[300], *err = NULL;
	snprintf(ep, sizeof ep, "inet:%s", d->cfg->web_listen);
	int fd = ms_sock_connect(ep, d->timeout_ms, &err);
	if (fd < 0)
		doc_report(d, DOC_WARN, "web",
			   "start mailsift-web (systemctl start mailsift-web), "
			   "or --skip web where the console does not run",
			   "the console does not answer: %s", err);
	else
		doc_report(d, DOC_OK, "web", NULL,
			   "the console accepts connections on %s (%s)",
			   d->cfg->web_listen,
			   *d->cfg->web_tls_cert ? "HTTPS" : "plain HTTP");
	if (fd >= 0)
		close(fd);
	free(err);
	check_accounts(d);
}

/* ---- the metrics ---- */

/* GET /metrics on addr: NULL when it answered 200 with a TYPE line, else
 * a static reason (errno-based ones in *err_r, malloc'ed). */
static const char *scrape(doctor *d, const char *addr, char **err_r)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	char ep[300], buf[4096];
	snprintf(ep, sizeof ep, "inet:%s", addr);
	int64_t deadline = ms_sock_deadline(d->timeout_ms);
	int fd = ms_sock_connect(ep, d->timeout_ms, err_r);
	if (fd < 0)
		return "no connection";
	size_t got = 0;
	ssize_t k =
		ms_sock_send(fd, req, sizeof req - 1, deadline) < 0 ? -1 : 1;
	while (k > 0 && got < sizeof buf - 1) {
		k = ms_sock_recv(fd, buf + got, sizeof buf - 1 - got, deadline);
		got += k > 0 ? (size_t)k : 0;
	}
	close(fd);
	buf[got] = '\0';
	if (k < 0 && got == 0)
		return "no answer";
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4))
		return "no 200 answer";
	return strstr(buf, "\n# TYPE ") ? NULL : "no metrics in the answer";
}

void doc_check_metrics(doctor *d)
{
	const struct {
		const char *section, *addr;
	} eps[] = { { "milter", d->cfg->milter_metrics },
		    { "indexd", d->cfg->indexd_metrics },
		    { "web", d->cfg->web_metrics } };
	int any = 0;
	for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
		char *err = NULL;
		if (!*eps[i].addr)
			continue;
		any = 1;
		const char *why = scrape(d, eps[i].addr, &err);
		if (why)
			doc_report(d, DOC_WARN, "metrics",
				   "is the daemon running? A listener that "
				   "cannot start is logged and the daemon runs "
				   "on without it",
				   "[%s] metrics http://%s/metrics: %s%s%s",
				   eps[i].section, eps[i].addr, why,
				   err ? ": " : "", err ? err : "");
		else
			doc_report(d, DOC_OK, "metrics", NULL,
				   "[%s] metrics http://%s/metrics answers",
				   eps[i].section, eps[i].addr);
		free(err);
	}
	if (!any)
		doc_report(d, DOC_OK, "metrics", NULL,
			   "none configured ([milter], [indexd], [web] "
			   "metrics are \"\")");
}

/* ---- other hosts ---- */

static const char serve_hint[] =
	"start mailsift serve --listen HOST:PORT on that host (systemctl "
	"start mailsift-serve@HOST:PORT) and let this host through its "
	"IPAddressAllow=, or correct the address";

/* The documents remote addr serves through xapian-tcpsrv: MS_OK with
 * *n_r, else *err_r (malloc'ed) says why. */
static ms_status_t remote_docs(doctor *d, const char *addr, uint64_t *n_r,
			       char **err_r)
{
	char host[MS_REMOTE_HOST_MAX];
	unsigned port = 0;
	ms_xdb *db = NULL;
	ms_status_t st = ms_remote_split(addr, host, &port)
				 ? MS_ERR_INVALID
				 : ms_xdb_open_read(NULL, 0, &db, err_r);
	if (!st && (st = ms_xdb_add_remote(db, host, port, d->timeout_ms,
					   d->timeout_ms)) == MS_OK)
		st = ms_xdb_doccount(db, n_r);
	if (st && db && !*err_r)
		*err_r = strdup(ms_xdb_error(db));
	ms_xdb_close(&db);
	return st;
}

static void check_remote(doctor *d, const char *addr)
{
	uint64_t docs = 0;
	char *err = NULL;
	ms_buf names = MS_BUF_INIT;
	ms_status_t st = remote_docs(d, addr, &docs, &err);
	if (!st) {
		free(err);
		err = NULL;
		st = ms_remote_get(addr, "/shards", d->timeout_ms,
				   d->timeout_ms, 1u << 20, &names, &err);
	}
	size_t n = 0;
	for (size_t i = 0; i < names.len; i++)
		n += names.data[i] == '\n';
	if (st)
		doc_report(d, DOC_FAIL, "remotes", serve_hint,
			   "[archive] remote %s: %s", addr,
			   err ? err : ms_status_str(st));
	else
		doc_report(d, DOC_OK, "remotes", NULL,
			   "[archive] remote %s serves %llu messages in %zu "
			   "shards",
			   addr, (unsigned long long)docs, n);
	free(err);
	ms_buf_free(&names);
}

static void check_holds_from(doctor *d, const char *addr)
{
	ms_buf text = MS_BUF_INIT;
	ms_holds *h = NULL;
	char *err = NULL;
	ms_status_t st =
		ms_remote_get(addr, "/holds", d->timeout_ms, d->timeout_ms,
			      MS_HOLDS_MAX_FILE, &text, &err);
	if (!st) {
		ms_buf_putc(&text, '\0');
		st = ms_holds_parse(text.data, text.len - 1, addr, &h, &err);
	}
	size_t active = 0;
	for (size_t i = 0; h && i < h->n; i++)
		active += ms_hold_active(&h->v[i]) != 0;
	if (st)
		doc_report(d, DOC_FAIL, "remotes",
			   "expire stops with nothing deleted while it cannot "
			   "read them; see the hint for [archive] remote",
			   "[archive] holds_from %s: %s", addr,
			   err ? err : ms_status_str(st));
	else
		doc_report(d, DOC_OK, "remotes", NULL,
			   "[archive] holds_from %s: %zu active holds", addr,
			   active);
	free(err);
	ms_holds_free(&h);
	ms_buf_free(&text);
}

void doc_check_remotes(doctor *d)
{
	char *const *r = d->cfg->archive_remote,
		    *const *h = d->cfg->archive_holds_from;
	for (size_t i = 0; r && r[i]; i++)
		check_remote(d, r[i]);
	for (size_t i = 0; h && h[i]; i++)
		check_holds_from(d, h[i]);
	if (!(r && r[0]) && !(h && h[0]))
		doc_report(d, DOC_OK, "remotes", NULL,
			   "none configured ([archive] remote and holds_from "
			   "are \"\")");
}
