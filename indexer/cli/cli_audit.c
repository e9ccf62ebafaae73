/* cli_audit.c - the command's side of the audit trail: cli_audit() (one
 * line per access, called by every reading or changing subcommand) and
 * `mailsift audit verify|show`.
 *
 * Functions: cli_audit, cli_operator, cli_audit_cmd. The log is
 * ms_audit_path(): [audit] file, or audit.log in the [archive] dir. The
 * operator is the Unix user of the real uid; when that is root and SUDO_USER is
 * set (sudo), SUDO_USER.
 *
 *   audit verify   exit 0: intact (a crash-cut last line, or a head up to
 *                  one batch behind, is reported as a warning: the next
 *                  append repairs it); 1: damaged (the first bad line is named)
 *                  or unreadable
 *   audit show [--since DATE] [--json]
 *                  one readable line per entry (--json: the lines as
 *                  stored), from DATE (YYYY, YYYY-MM, YYYY-MM-DD, UTC) on
 */
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ms_audit.h"
#include "ms_log.h"

#define SHOW_IDS 5 /* ids on a readable line; the rest are counted */

void cli_operator(char *buf, size_t n)
{
	const char *sudo = getenv("SUDO_USER");
	uid_t uid = getuid();
	struct passwd *pw = getpwuid(uid);
	if (uid == 0 && sudo && *sudo)
		snprintf(buf, n, "%s", sudo);
	else if (pw && pw->pw_name && *pw->pw_name)
		snprintf(buf, n, "%s", pw->pw_name);
	else
		snprintf(buf, n, "uid %lu", (unsigned long)uid);
}

int cli_audit(const ms_config *cfg, const char *action, const char *query,
	      uint64_t matched, const char *const *ids, size_t n_ids)
{
	char user[256];
	cli_operator(user, sizeof user);
	ms_audit_entry e = { .user = user,
			     .action = action,
			     .query = query,
			     .matched = matched,
			     .ids = ids,
			     .n_ids = ids ? n_ids : 0 };
	char *path = ms_audit_path(cfg), *err = NULL;
	ms_status_t st = path ? ms_audit_append(path, &e, &err) : MS_ERR_NOMEM;
	if (st)
		ms_log_error("audit: %s (refusing the %s)",
			     err ? err : ms_status_str(st), action);
	free(err);
	free(path);
	return st ? -1 : 0;
}

/* ---- audit verify ---- */

static int audit_verify(const char *path)
{
	ms_audit_report r;
	char *err = NULL;
	ms_status_t st = ms_audit_verify(path, &r, &err);
	if (st) {
		ms_log_error("audit: %s", err ? err : ms_status_str(st));
		free(err);
		return 1;
	}
	if (r.state == MS_AUDIT_DAMAGED) {
		ms_log_error("audit: %s: DAMAGED: %s", path, r.message);
		return 1;
	}
	if (r.state != MS_AUDIT_INTACT)
		ms_log_warn("audit: %s: %s", path, r.message);
	printf("%s: intact: %" PRIu64 " lines, last %s\n", path, r.lines,
	       r.last);
	return 0;
}

/* ---- audit show ---- */

typedef struct show_ctx {
	const char *since; /* "YYYY-MM-DDTHH:MM:SS" or "" */
	int json;
	uint64_t line;
} show_ctx;

static void print_entry(const ms_audit_rec *r)
{
	char when[20];
	snprintf(when, sizeof when, "%.19s", r->time);
	when[10] = when[10] ? ' ' : '\0';
	printf("%s  %6" PRIu64 "  %s@%s%s%s  %s  matched %" PRIu64, when,
	       r->seq, r->user, r->host, *r->client ? " from " : "", r->client,
	       r->action, r->matched);
	if (r->query)
		printf("  query: %s", r->query);
	for (size_t i = 0; i < r->n_ids && i < SHOW_IDS; i++)
		printf("%s%s", i ? " " : "  ids: ", r->ids[i]);
	if (r->n_ids > SHOW_IDS)
		printf(" (+%zu more)", r->n_ids - SHOW_IDS);
	if (r->repair)
		printf("  repaired: %s", r->repair);
	putchar('\n');
}

static int show_one(const char *line, size_t len, const ms_audit_rec *rec,
		    void *ctx)
{
	show_ctx *c = ctx;
	c->line++;
	if (!rec) {
		ms_log_warn("audit: line %" PRIu64 " is not a valid entry "
			    "(see mailsift audit verify)",
			    c->line);
		return 0;
	}
	if (strcmp(rec->time, c->since) < 0)
		return 0;
	if (c->json)
		printf("%.*s\n", (int)len, line);
	else
		print_entry(rec);
	return 0;
}

static int since_arg(const char *date, char out[32])
{
	int64_t start, end;
	if (ms_query_date(date, &start, &end) != MS_OK)
		return ms_log_error("audit show: bad date '%s' (want YYYY, "
				    "YYYY-MM or YYYY-MM-DD)",
				    date),
		       -1;
	time_t t = (time_t)start;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm))
		return ms_log_error("audit show: bad date '%s'", date), -1;
	return 0;
}

static int show_usage(void)
{
	ms_log_error("usage: mailsift audit show [--since DATE] [--json]");
	return 2;
}

static int audit_show(const char *path, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	char since[32] = "";
	show_ctx c = { since, 0, 0 };
	int o;
	optind = 0;
	while ((o = getopt_long(argc, argv, "+js:", opts, NULL)) != -1) {
		if (o == 'j')
			c.json = 1;
		else if (o != 's')
			return show_usage();
		else if (since_arg(optarg, since) != 0)
			return 2;
	}
	if (optind != argc)
		return show_usage();
	char *err = NULL;
	ms_status_t st = ms_audit_each(path, show_one, &c, &err);
	if (st)
		ms_log_error("audit: %s", err ? err : ms_status_str(st));
	free(err);
	return st ? 1 : 0;
}

int cli_audit_cmd(const ms_config *cfg, int argc, char **argv)
{
	const char *sub = argc >= 2 ? argv[1] : "";
	int verify = !strcmp(sub, "verify"), show = !strcmp(sub, "show");
	if ((!verify && !show) || (verify && argc != 2))
		return ms_log_error("usage: mailsift audit verify | audit show "
				    "[--since DATE] [--json]"),
		       2;
	char *path = ms_audit_path(cfg);
	if (!path)
		return ms_log_error("out of memory"), 1;
	int rc = verify ? audit_verify(path)
			: audit_show(path, argc - 1, argv + 1);
	free(path);
	return rc;
}
