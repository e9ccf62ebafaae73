/* cli_export.c - `mailsift export`: archived messages to a directory with
 * a manifest, and `mailsift export --verify` of such a directory.
 *
 *   mailsift export --format mbox|eml [--hold NAME] [QUERY] -o PATH
 *   mailsift export --verify PATH
 *
 * Functions: cli_export. Order: PATH is claimed first (created, or an
 * empty directory; nothing is written yet), then the archive is searched,
 * then the audit line (action "export", the query, the ids) is written
 * and fsynced, and only then are message bytes written: no unaudited
 * export. If any step fails, PATH is removed again (or emptied, if it
 * existed) and the exit status is 1. --hold NAME exports what an active
 * hold covers now (its query, AND'ed with QUERY if given); the audit
 * line's query is then "hold NAME: QUERY-OF-HOLD[ AND QUERY]". Options may
 * follow the query, so a query word starting with '-' goes after "--" (or use
 * NOT). The format is in ms_export.h. --verify prints one line per problem on
 * stdout and a summary; exit 1 if there is any problem.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_progress.h"
#include "ms_export.h"
#include "ms_hold.h"
#include "ms_log.h"

#define USAGE                                                                  \
	"usage: mailsift export --format mbox|eml [--hold NAME] [QUERY] -o "   \
	"PATH | export --verify PATH"

typedef struct export_args {
	const char *format, *hold, *out, *verify;
	char *query; /* the QUERY words joined; "" when none */
} export_args;

/* Parses the options; 0, or 2 after a one-line usage error. */
static int parse_opts(int argc, char **argv, export_args *a)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "hold", required_argument, NULL, 'H' },
		{ "output", required_argument, NULL, 'o' },
		{ "verify", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "f:o:", opts, NULL)) != -1) {
		const char **slot = c == 'f'   ? &a->format
				    : c == 'H' ? &a->hold
				    : c == 'o' ? &a->out
				    : c == 'V' ? &a->verify
					       : NULL;
		if (!slot)
			return ms_log_error(USAGE), 2;
		*slot = optarg;
	}
	int has_query = optind < argc;
	if (a->verify && (a->format || a->hold || a->out || has_query))
		return ms_log_error("export --verify takes only PATH"), 2;
	if (a->verify)
		return 0;
	if (!a->format || !a->out || (!a->hold && !has_query))
		return ms_log_error(USAGE), 2;
	if (!(a->query = cli_query_arg(argc, argv, optind)))
		return 1;
	return 0;
}

typedef struct export_run {
	const ms_config *cfg;
	export_args *a;
	ms_export_format fmt;
	ms_export *ex;
	ms_archive *ar;
	ms_qnode *q;
	ms_hits *hits;
	char *run_q, *audit_q; /* the query searched; its text for the audit */
	uint64_t total;
	cli_progress pr;
} export_run;

static void on_progress(uint64_t done, void *ctx)
{
	export_run *r = ctx;
	cli_progress_draw(&r->pr,
			  r->total ? (double)done / (double)r->total : 1, done,
			  0);
}

/* The query to run, as text: QUERY, or with --hold the hold's query
 * AND'ed with QUERY if there is one; the audit line's text (which names
 * the hold) in r->audit_q. 0, or -1 after printing one line. */
static int effective_query(export_run *r)
{
	const char *q = r->a->query;
	if (!r->a->hold)
		return (r->run_q = strdup(q)) && (r->audit_q = strdup(q))
			       ? 0
			       : (ms_log_error("out of memory"), -1);
	ms_holds *hs = NULL;
	char *err = NULL;
	if (ms_holds_load(r->cfg->archive_dir, &hs, &err)) {
		ms_log_error("export: %s", err ? err : "cannot read the holds");
		free(err);
		return -1;
	}
	const ms_hold *h = ms_holds_find(hs, r->a->hold);
	ms_buf run = MS_BUF_INIT, aud = MS_BUF_INIT;
	int rc = -1;
	if (!h)
		ms_log_error("export: no hold named '%s' (see mailsift hold "
			     "list)",
			     r->a->hold);
	else if (!ms_hold_active(h))
		ms_log_error("export: hold '%s' was released and holds "
			     "nothing; export its query instead: %s",
			     h->name, h->query);
	else if (ms_buf_printf(&run, *q ? "(%s) (%s)" : "%s%s", h->query, q) ||
		 ms_buf_printf(&aud, "hold %s: %s%s%s", h->name, h->query,
			       *q ? " AND " : "", q))
		ms_log_error("out of memory");
	else
		rc = 0, r->run_q = ms_buf_steal(&run),
		r->audit_q = ms_buf_steal(&aud);
	ms_buf_free(&run);
	ms_buf_free(&aud);
	ms_holds_free(&hs);
	return rc;
}

/* Searches the archive. 0 or -1 (printed). */
static int find_messages(export_run *r)
{
	if (!(r->ar = cli_open_reader(r->cfg)))
		return -1;
	ms_status_t st = ms_archive_search(r->ar, r->q, 0, &r->hits);
	if (st)
		return ms_log_error("export: %s", ms_archive_error(r->ar)), -1;
	cli_warn_partial(r->ar);
	r->total = ms_hits_size(r->hits);
	return 0;
}

/* Writes the audit line naming every message about to be exported. */
static int audit(export_run *r)
{
	size_t n = ms_hits_size(r->hits);
	const char **ids = calloc(n + 1, sizeof *ids);
	if (!ids)
		return ms_log_error("out of memory"), -1;
	for (size_t i = 0; i < n; i++)
		ids[i] = ms_hits_get(r->hits, i)->id;
	int rc = cli_audit(r->cfg, "export", r->audit_q, n, ids, n);
	free(ids);
	return rc;
}

static int write_messages(export_run *r)
{
	cli_progress_start(&r->pr);
	ms_status_t st =
		ms_export_add_hits(r->ex, r->ar, r->hits, on_progress, r);
	if (st) {
		cli_progress_break(&r->pr);
		return ms_log_error("export: %s (nothing exported)",
				    ms_export_error(r->ex)),
		       -1;
	}
	return 0;
}

static int finish(export_run *r)
{
	uint64_t n = ms_export_count(r->ex), bytes = ms_export_bytes(r->ex);
	char *err = NULL;
	ms_status_t st = ms_export_finish(&r->ex, &err);
	cli_progress_draw(&r->pr, 1, n, 1);
	if (st)
		ms_log_error("export: %s (nothing exported)",
			     err ? err : ms_status_str(st));
	free(err);
	if (st)
		return -1;
	double el = cli_now() - r->pr.start;
	fprintf(stderr,
		"exported %" PRIu64 " messages (%" PRIu64 " bytes) as %s to "
		"%s in %.1f s (%.0f msg/s)\n",
		n, bytes, r->a->format, r->a->out, el, el > 0 ? n / el : 0.0);
	return 0;
}

static int run_export(const ms_config *cfg, export_args *a)
{
	export_run r = { .cfg = cfg, .a = a };
	if (ms_export_format_parse(a->format, &r.fmt))
		return ms_log_error("export: unknown format '%s' (mbox or eml)",
				    a->format),
		       2;
	if (effective_query(&r) || !(r.q = cli_parse_query(r.run_q))) {
		free(r.run_q);
		free(r.audit_q);
		return 1;
	}
	char *err = NULL;
	ms_status_t st = ms_export_begin(a->out, r.fmt, &r.ex, &err);
	if (st)
		ms_log_error("export: %s", err ? err : ms_status_str(st));
	free(err);
	int rc = st || find_messages(&r) || audit(&r) || write_messages(&r) ||
		 finish(&r);
	ms_export_abort(&r.ex); /* removes the output unless finished */
	ms_hits_free(&r.hits);
	ms_archive_close(&r.ar);
	ms_query_free(&r.q);
	free(r.run_q);
	free(r.audit_q);
	return rc ? 1 : 0;
}

/* ---- --verify ---- */

static void on_problem(const char *line, void *ctx)
{
	cli_progress_break(ctx);
	printf("%s\n", line);
	fflush(stdout);
}

static void on_verify_progress(double frac, uint64_t rows, void *ctx)
{
	cli_progress_draw(ctx, frac, rows, 0);
}

static int run_verify(const char *path)
{
	cli_progress pr;
	cli_progress_start(&pr);
	ms_export_verify_ops ops = { on_problem, on_verify_progress, &pr };
	ms_export_check res;
	char *err = NULL;
	ms_status_t st = ms_export_verify(path, &ops, &res, &err);
	cli_progress_draw(&pr, 1, res.messages, 1);
	if (st) {
		ms_log_error("export --verify: %s",
			     err ? err : ms_status_str(st));
		free(err);
		return 1;
	}
	printf("export verify: %" PRIu64 " messages, %" PRIu64
	       " files hashed: %" PRIu64 " problems%s\n",
	       res.messages, res.files, res.problems,
	       res.problems ? "" : " (clean)");
	return res.problems ? 1 : 0;
}

int cli_export(const ms_config *cfg, int argc, char **argv)
{
	export_args a = { 0 };
	int rc = parse_opts(argc, argv, &a);
	if (!rc)
		rc = a.verify ? run_verify(a.verify) : run_export(cfg, &a);
	free(a.query);
	return rc;
}
