/* cli_doctor_http.c - the checks of `mailsift doctor` on what is served
 * over HTTP: the console ([web] listen accepts connections; its accounts
 * file [web] users exists and is not readable by every user: it holds
 * password hashes) and the Prometheus endpoints ([milter], [indexd] and
 * [web] metrics, where set, answer GET /metrics with 200 and metrics).
 *
 * Functions: doc_check_web, doc_check_metrics.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_doctor.h"
#include "ms_sock.h"

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
