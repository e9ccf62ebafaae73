/* cli_expire.c - `mailsift expire [--dry-run] [--json]`: deletes the mail
 * [retention] says has expired and no active hold covers (ms_expire.h).
 *
 * Functions: cli_expire. The run takes the archive's maintenance locks
 * (like reindex; waiting up to LOCK_WAIT seconds for indexd or an import
 * to let go), first finishes the journal of an interrupted run if there is
 * one, then plans and deletes. The audit line ("expire", every id to be
 * deleted) is written before anything is deleted; if it cannot be, nothing
 * is. --dry-run plans the same way under the same locks and prints what
 * would go, changing nothing (its audit line, action "expire-dry-run",
 * names the ids it lists, so no reader takes it for a deletion). Output:
 * per rule and for the default how many messages expire, per hold how
 * many expired messages it holds back, then what was deleted; --json
 * prints one JSON object per line instead (one for a finished interrupted
 * run, one for this run), with the ids.
 *
 * With [archive] holds_from, the holds of those search heads (GET /holds
 * of their `mailsift serve`) hold too: read when the run starts, and again
 * just before anything is deleted; if a head cannot be reached, or its
 * holds changed in between, nothing is deleted (run it again).
 *
 * Testing aid: the environment variable MAILSIFT_NOW (seconds since the
 * epoch) replaces the current time the periods count back from, so tests
 * can fix "now"; it changes nothing else. MAILSIFT_EXPIRE_PAUSE (seconds)
 * waits that long between planning and deleting, so a test can change the
 * holds of a head meanwhile.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ms_expire.h"
#include "ms_hold.h"
#include "ms_json.h"
#include "ms_log.h"
#include "ms_remote.h"

#define LOCK_WAIT 60 /* seconds to wait for a writer to let go */

typedef struct run_opts {
	int dry, json;
	ms_buf *heads; /* the holds each [archive] holds_from sent */
	size_t n_heads;
} run_opts;

/* The time periods count back from: MAILSIFT_NOW or the clock. */
static int get_now(int64_t *now)
{
	const char *s = getenv("MAILSIFT_NOW");
	char *end = NULL;
	if (!s || !*s) {
		*now = (int64_t)time(NULL);
		return 0;
	}
	long long v = strtoll(s, &end, 10);
	if (*end || v <= 0)
		return ms_log_error("MAILSIFT_NOW: want seconds since the "
				    "epoch, got '%s'",
				    s),
		       -1;
	*now = v;
	return 0;
}

/* Starts the run, waiting while a writer holds the archive. */
static ms_expire *begin(const ms_config *cfg, ms_archive *ar)
{
	ms_expire *ex = NULL;
	char *err = NULL;
	for (int waited = 0;; waited++) {
		ms_status_t st =
			ms_expire_begin(ar, cfg->archive_dir, &ex, &err);
		if (!st)
			return ex;
		if ((st != MS_ERR_LOCKED && st != MS_ERR_BUSY) ||
		    waited >= LOCK_WAIT) {
			ms_log_error("cannot expire: %s",
				     err ? err : ms_status_str(st));
			free(err);
			return NULL;
		}
		if (waited == 0)
			ms_log_warn("%s; waiting up to %d s", err, LOCK_WAIT);
		free(err);
		err = NULL;
		sleep(1);
	}
}

/* ---- the holds of search heads ---- */

/* The holds text search head addr sends, into out. 0 or -1 (reported). */
static int fetch_holds(const ms_config *cfg, const char *addr, ms_buf *out)
{
	char *err = NULL;
	ms_buf_reset(out);
	ms_status_t st = ms_remote_get(
		addr, "/holds", cfg->archive_remote_connect_timeout * 1000,
		cfg->archive_remote_timeout * 1000, MS_HOLDS_MAX_FILE, out,
		&err);
	if (st)
		ms_log_error("cannot expire: the holds of search head %s: %s "
			     "(nothing deleted)",
			     addr, err ? err : ms_status_str(st));
	free(err);
	return st ? -1 : 0;
}

/* Reads every head's holds into the run. 0 or -1 (reported). */
static int add_heads(const ms_config *cfg, ms_expire *ex, run_opts *o)
{
	size_t n = 0;
	while (cfg->archive_holds_from && cfg->archive_holds_from[n])
		n++;
	if (n && !(o->heads = calloc(n, sizeof *o->heads)))
		return ms_log_error("out of memory"), -1;
	for (o->n_heads = 0; o->n_heads < n; o->n_heads++) {
		const char *addr = cfg->archive_holds_from[o->n_heads];
		ms_buf *t = &o->heads[o->n_heads];
		if (fetch_holds(cfg, addr, t))
			return -1;
		if (ms_expire_add_holds(ex, addr, t->data ? t->data : "",
					t->len))
			return ms_log_error("cannot expire: %s",
					    ms_expire_error(ex)),
			       -1;
	}
	return 0;
}

/* Whether every head still has the holds the run began with. 0 or -1
 * (reported: nothing may be deleted). */
static int heads_unchanged(const ms_config *cfg, const run_opts *o)
{
	ms_buf now = MS_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < o->n_heads && !rc; i++) {
		const char *addr = cfg->archive_holds_from[i];
		if ((rc = fetch_holds(cfg, addr, &now)))
			break;
		if (now.len != o->heads[i].len ||
		    (now.len && memcmp(now.data, o->heads[i].data, now.len))) {
			ms_log_error("expire: the holds of search head %s "
				     "changed during the run; nothing deleted "
				     "(run mailsift expire again)",
				     addr);
			rc = -1;
		}
	}
	ms_buf_free(&now);
	return rc;
}

static void heads_free(run_opts *o)
{
	for (size_t i = 0; i < o->n_heads; i++)
		ms_buf_free(&o->heads[i]);
	free(o->heads);
}

/* ---- reports ---- */

static void json_ids(ms_buf *b, const ms_expire_plan *p)
{
	ms_buf_puts(b, ",\"ids\":[");
	for (size_t i = 0; i < p->n_items; i++) {
		if (i)
			ms_buf_putc(b, ',');
		ms_json_string(b, p->items[i].id);
	}
	ms_buf_putc(b, ']');
}

static void json_plan(ms_buf *b, const ms_expire_plan *p, const ms_retention *r)
{
	char when[32], per[16];
	cli_format_date(p->now, "%Y-%m-%dT%H:%M:%SZ", when, sizeof when);
	cli_json_field(b, "now", when);
	ms_buf_printf(b,
		      ",\"examined\":%" PRIu64 ",\"undated\":%" PRIu64
		      ",\"expired\":%zu,\"held\":%" PRIu64 ",\"rules\":[",
		      p->examined, p->undated, p->n_items, p->held_total);
	for (size_t i = 0; r && i < r->n_rules; i++) {
		ms_buf_puts(b, i ? ",{\"rule\":" : "{\"rule\":");
		ms_json_string(b, r->rules[i].text);
		ms_buf_printf(b, ",\"expired\":%" PRIu64 "}", p->by_rule[i]);
	}
	ms_period_format(r ? &r->def : &(ms_period){ 0, 0 }, per);
	ms_buf_puts(b, "],\"default\":{\"period\":");
	ms_json_string(b, r ? per : "");
	ms_buf_printf(b, ",\"expired\":%" PRIu64 "},\"holds\":[",
		      p->by_rule[p->n_rules]);
	for (size_t j = 0; j < p->n_holds; j++) {
		ms_buf_puts(b, j ? ",{\"name\":" : "{\"name\":");
		ms_json_string(b, p->hold_names[j]);
		ms_buf_printf(b, ",\"held\":%" PRIu64 "}", p->held[j]);
	}
	ms_buf_putc(b, ']');
}

/* One JSON object for a plan (r NULL: an interrupted run's journal) and
 * what was done (res NULL: dry run). */
static void print_json(const ms_expire_plan *p, const ms_retention *r,
		       const ms_expire_result *res)
{
	ms_buf b = MS_BUF_INIT;
	ms_buf_printf(&b, "{\"dry_run\":%s,\"interrupted_run\":%s",
		      res ? "false" : "true", r ? "false" : "true");
	json_plan(&b, p, r);
	if (res)
		ms_buf_printf(&b,
			      ",\"deleted\":%" PRIu64 ",\"held_now\":%" PRIu64
			      ",\"store_removed\":%" PRIu64
			      ",\"store_kept\":%" PRIu64
			      ",\"shards_dropped\":%u",
			      res->deleted, res->held_now, res->store_removed,
			      res->store_kept, res->shards_dropped);
	json_ids(&b, p);
	ms_buf_puts(&b, "}\n");
	fwrite(b.data, 1, b.len, stdout);
	ms_buf_free(&b);
}

static void print_plan(const ms_expire_plan *p, const ms_retention *r)
{
	char when[32], per[16];
	cli_format_date(p->now, "%Y-%m-%d %H:%M", when, sizeof when);
	printf("expire: now %s UTC; %" PRIu64 " messages examined, %" PRIu64
	       " without a usable date (kept)\n",
	       when, p->examined, p->undated);
	for (size_t i = 0; i < r->n_rules; i++)
		printf("  rule %zu (%s): %" PRIu64 " expired\n", i + 1,
		       r->rules[i].text, p->by_rule[i]);
	ms_period_format(&r->def, per);
	printf("  default (%s): %" PRIu64 " expired\n", per,
	       p->by_rule[p->n_rules]);
	for (size_t j = 0; j < p->n_holds; j++)
		printf("  hold %s: %" PRIu64 " expired messages held back\n",
		       p->hold_names[j], p->held[j]);
}

static void print_result(const ms_expire_result *res, int dry, size_t n)
{
	if (dry) {
		printf("expire: would delete %zu messages (dry run: nothing "
		       "changed)\n",
		       n);
		return;
	}
	printf("expire: deleted %" PRIu64 " messages, removed %" PRIu64
	       " stored messages (%" PRIu64 " kept: another message has the "
	       "same bytes), dropped %u empty shards",
	       res->deleted, res->store_removed, res->store_kept,
	       res->shards_dropped);
	if (res->held_now)
		printf("; %" PRIu64 " now held, kept", res->held_now);
	putchar('\n');
}

/* ---- running ---- */

/* The audit line (action "expire", or "expire-dry-run" for a plan only
 * listed) for plan p: every id it names. 0 or -1 (reported). */
static int audit(const ms_config *cfg, const char *action,
		 const ms_expire_plan *p, const char *what)
{
	const char **ids = ms_expire_plan_ids(p);
	if (!ids)
		return ms_log_error("out of memory"), -1;
	int rc = cli_audit(cfg, action, what, p->n_items, ids, p->n_items);
	free(ids);
	return rc;
}

/* Audits, then applies p; prints what was done. 0 or -1 (reported). */
static int carry_out(const ms_config *cfg, ms_expire *ex,
		     const ms_expire_plan *p, const ms_retention *r,
		     const run_opts *o)
{
	ms_expire_result res = { 0 };
	const char *pause = getenv("MAILSIFT_EXPIRE_PAUSE");
	if (pause && *pause)
		sleep((unsigned)atoi(pause));
	int rc = heads_unchanged(cfg, o);
	rc = rc ? rc
		: audit(cfg, "expire", p,
			r ? "retention" : "retention (interrupted run)");
	ms_status_t st = rc ? MS_OK : ms_expire_apply(ex, p, &res);
	if (st)
		ms_log_error("expire: %s (run mailsift expire again to finish)",
			     ms_expire_error(ex));
	if (rc || st)
		return -1;
	if (o->json)
		print_json(p, r, &res);
	else if (!r)
		printf("expire: finished an interrupted run: ");
	if (!o->json)
		print_result(&res, 0, p->n_items);
	return 0;
}

/* Finishes an interrupted run's journal (dry run: only says so). */
static int finish_pending(const ms_config *cfg, ms_expire *ex,
			  const run_opts *o)
{
	ms_expire_plan *p = NULL;
	ms_status_t st = ms_expire_pending(ex, &p);
	int rc = 0;
	if (st) {
		ms_log_error("expire: %s", ms_expire_error(ex));
		rc = -1;
	} else if (p && o->dry && o->json)
		print_json(p, NULL, NULL);
	else if (p && o->dry)
		printf("expire: an interrupted run's %zu deletions are pending "
		       "(mailsift expire finishes them)\n",
		       p->n_items);
	else if (p)
		rc = carry_out(cfg, ex, p, NULL, o);
	ms_expire_plan_free(&p);
	return rc;
}

static int run(const ms_config *cfg, ms_expire *ex, const ms_retention *r,
	       int64_t now, const run_opts *o)
{
	ms_expire_plan *p = NULL;
	if (finish_pending(cfg, ex, o))
		return -1;
	if (ms_expire_decide(ex, r, now, &p))
		return ms_log_error("expire: %s", ms_expire_error(ex)), -1;
	int rc = 0;
	if (o->dry && (rc = audit(cfg, "expire-dry-run", p, "retention"))) {
		/* reported */
	} else if (o->dry && o->json) {
		print_json(p, r, NULL);
	} else if (o->dry) {
		print_plan(p, r);
		print_result(NULL, 1, p->n_items);
	} else {
		if (!o->json)
			print_plan(p, r);
		rc = carry_out(cfg, ex, p, r, o);
	}
	ms_expire_plan_free(&p);
	return rc;
}

int cli_expire(const ms_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	run_opts o = { 0, 0, NULL, 0 };
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+nj", opts, NULL)) != -1) {
		if (c == 'n')
			o.dry = 1;
		else if (c == 'j')
			o.json = 1;
		else
			break;
	}
	if (c != -1 || optind != argc)
		return ms_log_error("usage: mailsift expire [--dry-run] "
				    "[--json]"),
		       2;
	int64_t now;
	ms_retention *r = NULL;
	char *err = NULL;
	if (get_now(&now))
		return 1;
	if (ms_retention_load(cfg->retention_default, cfg->retention_rule, &r,
			      &err))
		return ms_log_error("[retention] %s", err ? err : "?"),
		       free(err), 1;
	ms_archive *ar = cli_open_archive(cfg, 0);
	ms_expire *ex = ar ? begin(cfg, ar) : NULL;
	int rc = ex && !add_heads(cfg, ex, &o) ? run(cfg, ex, r, now, &o) : -1;
	heads_free(&o);
	ms_expire_end(&ex);
	ms_archive_close(&ar);
	ms_retention_free(&r);
	return rc ? 1 : 0;
}
