/* cli.h - the mailsift command's subcommands (cli_*.c), shared helpers.
 *
 * Each subcommand takes the opened configuration and its own argv (argv[0]
 * is the subcommand name) and returns the process exit status.
 */
#ifndef CLI_H
#define CLI_H

#include "ms_archive.h"
#include "ms_config.h"
#include "ms_query.h"

/* Opens the archive named by cfg ([archive] dir), writable or not. Prints
 * a one-line error and returns NULL on failure. */
ms_archive *cli_open_archive(const ms_config *cfg, int writable);

/* Opens the archive read-only for searching across hosts: the local
 * shards plus every [archive] remote (ms_archive_opts_remote), leaving
 * out unreachable remotes when --allow-partial was given. NULL after a
 * one-line error. */
ms_archive *cli_open_reader(const ms_config *cfg);
/* After a search or count on a cli_open_reader archive: prints
 * "mailsift: warning: ..." naming what an --allow-partial search left
 * out, if anything. */
void cli_warn_partial(const ms_archive *ar);

/* The query given as argv[from..argc) joined by single spaces (cli_args.c);
 * "" when there are none. Caller frees with free(). NULL (after printing
 * one line) when out of memory. */
char *cli_query_arg(int argc, char **argv, int from);
/* Parses q with ms_query_parse; prints the one-line syntax error and
 * returns NULL when it does not parse. Caller frees with ms_query_free. */
ms_qnode *cli_parse_query(const char *q);

/* Writes time t (seconds, UTC) with strftime format fmt into out (n
 * bytes); "?" if it cannot be shown. (cli_hits.c) */
void cli_format_date(int64_t t, const char *fmt, char *out, size_t n);
/* Appends ,"key":"value" (value JSON-escaped) to b. */
void cli_json_field(ms_buf *b, const char *key, const char *value);
/* Prints one search hit on stdout: a line (date, id, from, subject), or
 * with json one JSON object per line, as `mailsift search` does. */
void cli_print_hit(const ms_hit *h, int json);

/* The operator: the Unix user of the real uid, or SUDO_USER when that is
 * root and it is set (sudo); into buf (n bytes). (cli_audit.c) */
void cli_operator(char *buf, size_t n);

/* Appends one audit line (ms_audit.h) for action ("search", "count",
 * "show", "export", "hold-add", "hold-release", "expire", "expire-dry-run",
 * "reindex") with
 * the operator (the Unix user; SUDO_USER when run through sudo), host, the
 * query (may be NULL), how many messages matched, and the ids (for
 * show/export/expire; may be NULL/0). The line is fsync'ed before this
 * returns. Returns 0, or -1 after printing one line "mailsift: audit:
 * ..." - then the command must fail (exit 1) without printing or writing
 * its result: no unaudited access. (cli_audit.c) */
int cli_audit(const ms_config *cfg, const char *action, const char *query,
	      uint64_t matched, const char *const *ids, size_t n_ids);

int cli_import(const ms_config *cfg, int argc, char **argv);
int cli_search(const ms_config *cfg, int argc, char **argv);
int cli_count(const ms_config *cfg, int argc, char **argv);
int cli_show(const ms_config *cfg, int argc, char **argv);
int cli_stats(const ms_config *cfg, int argc, char **argv);
int cli_verify(const ms_config *cfg, int argc, char **argv);
int cli_reindex(const ms_config *cfg, int argc, char **argv);
int cli_export(const ms_config *cfg, int argc, char **argv);
int cli_audit_cmd(const ms_config *cfg, int argc, char **argv);
int cli_hold(const ms_config *cfg, int argc, char **argv);
int cli_expire(const ms_config *cfg, int argc, char **argv);
int cli_serve(const ms_config *cfg, int argc, char **argv);
/* `mailsift doctor` loads the configuration itself (that is its first
 * check): conf is its path (cli_doctor.c). */
int cli_doctor(const char *conf, int argc, char **argv);

#endif
