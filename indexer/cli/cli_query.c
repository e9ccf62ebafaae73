/* cli_query.c - the reading subcommands: search, count, show, stats.
 *
 * Functions: cli_search, cli_count, cli_show, cli_stats. The query is the
 * remaining arguments joined by spaces. search prints its hits with
 * cli_print_hit (cli_hits.c).
 * search, count and show write their audit line (cli_audit: the query,
 * the number of hits printed or counted, the id shown) before printing
 * anything, and print nothing when it cannot be written. They search
 * across hosts (cli_open_reader: [archive] remote, --allow-partial).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ms_log.h"

int cli_search(const ms_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, c;
	long limit = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+jl:", opts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'l' && (limit = strtol(optarg, NULL, 10)) > 0)
			continue;
		else
			return ms_log_error("usage: mailsift search [--json] "
					    "[--limit N] QUERY"),
			       2;
	}
	char *qs = cli_query_arg(argc, argv, optind);
	ms_qnode *q = qs ? cli_parse_query(qs) : NULL;
	ms_archive *ar = q ? cli_open_reader(cfg) : NULL;
	ms_hits *hits = NULL;
	ms_status_t st = ar ? ms_archive_search(ar, q, (size_t)limit, &hits)
			    : MS_ERR_INVALID;
	if (ar && st)
		ms_log_error("search: %s", ms_archive_error(ar));
	cli_warn_partial(st ? NULL : ar);
	if (!st && cli_audit(cfg, "search", qs, ms_hits_size(hits), NULL, 0))
		st = MS_ERR_IO;
	for (size_t i = 0; !st && i < ms_hits_size(hits); i++)
		cli_print_hit(ms_hits_get(hits, i), json);
	ms_hits_free(&hits);
	ms_archive_close(&ar);
	ms_query_free(&q);
	free(qs);
	return st ? 1 : 0;
}

int cli_count(const ms_config *cfg, int argc, char **argv)
{
	if (argc < 2)
		return ms_log_error("usage: mailsift count QUERY"), 2;
	char *qs = cli_query_arg(argc, argv, 1);
	ms_qnode *q = qs ? cli_parse_query(qs) : NULL;
	ms_archive *ar = q ? cli_open_reader(cfg) : NULL;
	uint64_t n = 0;
	ms_status_t st = ar ? ms_archive_count(ar, q, &n) : MS_ERR_INVALID;
	cli_warn_partial(st ? NULL : ar);
	if (ar && st)
		ms_log_error("count: %s", ms_archive_error(ar));
	else if (!st && cli_audit(cfg, "count", qs, n, NULL, 0))
		st = MS_ERR_IO;
	else if (!st)
		printf("%" PRIu64 "\n", n);
	ms_archive_close(&ar);
	ms_query_free(&q);
	free(qs);
	return st ? 1 : 0;
}

int cli_show(const ms_config *cfg, int argc, char **argv)
{
	if (argc != 2)
		return ms_log_error("usage: mailsift show ID"), 2;
	ms_archive *ar = cli_open_reader(cfg);
	ms_buf msg = MS_BUF_INIT;
	ms_status_t st = ar ? ms_archive_show(ar, argv[1], &msg) : MS_ERR_IO;
	if (ar && st)
		ms_log_error("show: %s", ms_archive_error(ar));
	cli_warn_partial(ar);
	const char *const ids[] = { argv[1] };
	/* a refused look-up is audited too (matched 0) */
	int audit_failed = ar && (!st || st == MS_ERR_NOTFOUND) &&
			   cli_audit(cfg, "show", NULL, st ? 0 : 1, ids, 1);
	if (!st && audit_failed)
		st = MS_ERR_IO;
	if (!st && fwrite(msg.data, 1, msg.len, stdout) != msg.len)
		st = MS_ERR_IO;
	ms_buf_free(&msg);
	ms_archive_close(&ar);
	return st ? 1 : 0;
}

int cli_stats(const ms_config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return ms_log_error("usage: mailsift stats"), 2;
	ms_archive *ar = cli_open_archive(cfg, 0);
	ms_archive_stats s;
	ms_status_t st = ar ? ms_archive_stats_get(ar, &s) : MS_ERR_IO;
	if (ar && st)
		ms_log_error("stats: %s", ms_archive_error(ar));
	if (!st)
		printf("messages: %" PRIu64 "\nshards: %u\nindex bytes: %llu\n"
		       "store bytes: %llu\nstore files: %llu\n",
		       s.messages, s.shards, s.index_bytes, s.store_bytes,
		       s.store_files);
	ms_archive_close(&ar);
	return st ? 1 : 0;
}
