/* cli_hold.c - `mailsift hold`: legal holds (ms_hold.h).
 *
 *   hold add NAME [--reason TEXT] QUERY    place a hold (the query is the
 *                                          remaining arguments)
 *   hold list [--json]                     every hold, released ones too:
 *                                          name, state, messages it covers
 *                                          now, when, who, query, reason
 *   hold show [--json] NAME                the messages it covers, as search
 *                                          prints them
 *   hold release NAME --reason TEXT        release it (kept, as released)
 *
 * Functions: cli_hold. The operator (cli_operator) is recorded as who
 * placed or released a hold. Audit lines (cli_audit): add and release
 * write "hold-add"/"hold-release" under the holds lock, after the change
 * was checked and before it is written (no line, no change); show writes
 * "search" and list "count" before printing. The audit query is
 * "hold NAME: QUERY"; matched is the number of messages the hold covers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ms_hold.h"
#include "ms_json.h"
#include "ms_log.h"

#define USAGE                                                                  \
	"usage: mailsift hold add NAME [--reason TEXT] QUERY | hold list "     \
	"[--json] | hold show [--json] NAME | hold release NAME --reason TEXT"

/* What the before-change hook needs. */
typedef struct hold_ctx {
	const ms_config *cfg;
	ms_archive *ar;
	const char *action;
} hold_ctx;

/* "hold NAME: QUERY" for the audit line; caller frees. */
static char *audit_query(const ms_hold *h)
{
	char *s = NULL;
	return asprintf(&s, "hold %s: %s", h->name, h->query) < 0 ? NULL : s;
}

/* Messages q (text) matches now; 0 and a message if it cannot count. */
static uint64_t covered(ms_archive *ar, const char *q)
{
	ms_qnode *root = NULL;
	uint64_t n = 0;
	if (ms_query_parse(q, &root, NULL) == MS_OK &&
	    ms_archive_count(ar, root, &n) != MS_OK)
		ms_log_warn("counting: %s", ms_archive_error(ar));
	ms_query_free(&root);
	return n;
}

/* The hook ms_hold_add/ms_hold_release call before writing. */
static int before_change(const ms_hold *h, void *ctx)
{
	hold_ctx *c = ctx;
	char *q = audit_query(h);
	int rc = q ? cli_audit(c->cfg, c->action, q, covered(c->ar, h->query),
			       NULL, 0)
		   : -1;
	free(q);
	return rc;
}

/* Reports a failed change (the audit failure was reported already). */
static int change_failed(ms_status_t st, char *err)
{
	if (st != MS_ERR_LIMIT)
		ms_log_error("hold: %s", err ? err : ms_status_str(st));
	free(err);
	return 1;
}

/* Splits add/release arguments: NAME, --reason TEXT (or --reason=TEXT)
 * before the query; returns the index where the query starts, or -1. */
static int split_args(int argc, char **argv, const char **name,
		      const char **reason)
{
	int i = 2;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			*reason = argv[++i];
		else if (strncmp(argv[i], "--reason=", 9) == 0)
			*reason = argv[i] + 9;
		else if (!*name && argv[i][0] != '-')
			*name = argv[i];
		else
			break;
	}
	return *name ? i : -1;
}

static int hold_add(const ms_config *cfg, int argc, char **argv)
{
	const char *name = NULL, *reason = "";
	int at = split_args(argc, argv, &name, &reason);
	if (at < 0 || at >= argc)
		return ms_log_error("%s", USAGE), 2;
	char *q = cli_query_arg(argc, argv, at), *err = NULL, who[256];
	hold_ctx c = { cfg, q ? cli_open_reader(cfg) : NULL, "hold-add" };
	if (!c.ar) {
		free(q);
		return 1;
	}
	cli_operator(who, sizeof who);
	ms_hold h = { .name = (char *)name,
		      .query = q,
		      .reason = (char *)reason,
		      .by = who,
		      .at = (int64_t)time(NULL) };
	ms_status_t st =
		ms_hold_add(cfg->archive_dir, &h, before_change, &c, &err);
	if (!st)
		printf("hold %s placed: %" PRIu64 " messages match now\n", name,
		       covered(c.ar, q));
	ms_archive_close(&c.ar);
	free(q);
	return st ? change_failed(st, err) : 0;
}

static int hold_release(const ms_config *cfg, int argc, char **argv)
{
	const char *name = NULL, *reason = NULL;
	int at = split_args(argc, argv, &name, &reason);
	if (at != argc || !reason)
		return ms_log_error("%s", USAGE), 2;
	char *err = NULL, who[256];
	hold_ctx c = { cfg, cli_open_reader(cfg), "hold-release" };
	if (!c.ar)
		return 1;
	cli_operator(who, sizeof who);
	ms_status_t st = ms_hold_release(cfg->archive_dir, name, who,
					 (int64_t)time(NULL), reason,
					 before_change, &c, &err);
	if (!st)
		printf("hold %s released\n", name);
	ms_archive_close(&c.ar);
	return st ? change_failed(st, err) : 0;
}

/* Loads the holds, reporting a failure. */
static ms_holds *load(const ms_config *cfg)
{
	ms_holds *h = NULL;
	char *err = NULL;
	ms_status_t st = ms_holds_load(cfg->archive_dir, &h, &err);
	if (st)
		ms_log_error("hold: %s", err ? err : ms_status_str(st));
	free(err);
	return h;
}

static void list_json(const ms_hold *h, int64_t n)
{
	char at[32];
	ms_buf b = MS_BUF_INIT;
	ms_buf_puts(&b, "{\"name\":");
	ms_json_string(&b, h->name);
	cli_json_field(&b, "state", ms_hold_active(h) ? "active" : "released");
	cli_json_field(&b, "query", h->query);
	cli_json_field(&b, "reason", h->reason);
	cli_json_field(&b, "by", h->by);
	cli_format_date(h->at, "%Y-%m-%dT%H:%M:%SZ", at, sizeof at);
	cli_json_field(&b, "at", at);
	ms_buf_printf(&b, ",\"at_unix\":%" PRId64, h->at);
	if (n >= 0)
		ms_buf_printf(&b, ",\"messages\":%" PRId64, n);
	if (!ms_hold_active(h)) {
		cli_json_field(&b, "released_by", h->released_by);
		cli_format_date(h->released_at, "%Y-%m-%dT%H:%M:%SZ", at,
				sizeof at);
		cli_json_field(&b, "released_at", at);
		cli_json_field(&b, "release_reason", h->release_reason);
	}
	ms_buf_puts(&b, "}\n");
	fwrite(b.data, 1, b.len, stdout);
	ms_buf_free(&b);
}

static void list_line(const ms_hold *h, int64_t n)
{
	char at[32], cnt[24] = "-";
	cli_format_date(h->at, "%Y-%m-%d %H:%M", at, sizeof at);
	if (n >= 0)
		snprintf(cnt, sizeof cnt, "%" PRId64, n);
	printf("%-20s %-8s %8s  %s  %-12s %s%s%s%s\n", h->name,
	       ms_hold_active(h) ? "active" : "released", cnt, at, h->by,
	       h->query, *h->reason ? "  (" : "", h->reason,
	       *h->reason ? ")" : "");
	if (!ms_hold_active(h)) {
		cli_format_date(h->released_at, "%Y-%m-%d %H:%M", at,
				sizeof at);
		printf("%-20s released %s by %s: %s\n", "", at, h->released_by,
		       h->release_reason);
	}
}

static int hold_list(const ms_config *cfg, int argc, char **argv)
{
	int json = argc == 3 && strcmp(argv[2], "--json") == 0;
	if (argc > 3 || (argc == 3 && !json))
		return ms_log_error("%s", USAGE), 2;
	ms_holds *hs = load(cfg);
	ms_archive *ar = hs ? cli_open_reader(cfg) : NULL;
	int64_t *n = hs ? calloc(hs->n + 1, sizeof *n) : NULL;
	uint64_t total = 0;
	for (size_t i = 0; n && ar && i < hs->n; i++) {
		const ms_hold *h = &hs->v[i];
		n[i] = ms_hold_active(h) ? (int64_t)covered(ar, h->query) : -1;
		total += n[i] > 0 ? (uint64_t)n[i] : 0;
	}
	int rc = !n || !ar ||
		 cli_audit(cfg, "count", "hold list", total, NULL, 0);
	for (size_t i = 0; !rc && i < hs->n; i++)
		(json ? list_json : list_line)(&hs->v[i], n[i]);
	if (!rc && !json && !hs->n)
		printf("no holds\n");
	free(n);
	ms_archive_close(&ar);
	ms_holds_free(&hs);
	return rc ? 1 : 0;
}

/* Prints the messages of an active hold (audited as a search). */
static int show_hits(const ms_config *cfg, const ms_hold *h, int json)
{
	ms_qnode *q = cli_parse_query(h->query);
	ms_archive *ar = q ? cli_open_reader(cfg) : NULL;
	ms_hits *hits = NULL;
	ms_status_t st =
		ar ? ms_archive_search(ar, q, 0, &hits) : MS_ERR_INVALID;
	if (ar && st)
		ms_log_error("hold show: %s", ms_archive_error(ar));
	cli_warn_partial(st ? NULL : ar);
	char *aq = st ? NULL : audit_query(h);
	if (!st &&
	    (!aq || cli_audit(cfg, "search", aq, ms_hits_size(hits), NULL, 0)))
		st = MS_ERR_IO;
	for (size_t i = 0; !st && i < ms_hits_size(hits); i++)
		cli_print_hit(ms_hits_get(hits, i), json);
	free(aq);
	ms_hits_free(&hits);
	ms_archive_close(&ar);
	ms_query_free(&q);
	return st ? 1 : 0;
}

static int hold_show(const ms_config *cfg, int argc, char **argv)
{
	int json = argc == 4 && strcmp(argv[2], "--json") == 0;
	if (argc != 3 + json || argv[argc - 1][0] == '-')
		return ms_log_error("%s", USAGE), 2;
	const char *name = argv[argc - 1];
	ms_holds *hs = load(cfg);
	const ms_hold *h = hs ? ms_holds_find(hs, name) : NULL;
	int rc = 1;
	if (hs && !h) {
		ms_log_error("hold: no hold named %s", name);
	} else if (h && !ms_hold_active(h)) {
		char at[32];
		cli_format_date(h->released_at, "%Y-%m-%d %H:%M", at,
				sizeof at);
		ms_log_warn("hold %s was released %s by %s: it holds nothing",
			    name, at, h->released_by);
		rc = 0;
	} else if (h) {
		rc = show_hits(cfg, h, json);
	}
	ms_holds_free(&hs);
	return rc;
}

int cli_hold(const ms_config *cfg, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const ms_config *, int, char **);
	} subs[] = {
		{ "add", hold_add },
		{ "list", hold_list },
		{ "show", hold_show },
		{ "release", hold_release },
	};
	for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof subs[0]; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(cfg, argc, argv);
	return ms_log_error("%s", USAGE), 2;
}
