/* cli_main.c - the mailsift command: option parsing and dispatch.
 *
 *   mailsift [-c plugin.conf] import|search|count|show|stats|verify|reindex
 *            |export|hold|expire|audit|doctor|serve ARGS
 *
 * --allow-partial (anywhere before a "--"): search, count, show, export
 * and hold leave out [archive] remote hosts that cannot be reached, with
 * a warning naming their shards, instead of failing.
 *
 * Diagnostics go to stderr as one line each ("mailsift: ..."); exit
 * status 0 on success, 1 on failure, 2 on usage errors. "mailsift --help"
 * (or -h) prints the usage on stdout and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ms_daemon.h"
#include "ms_log.h"

#define DEFAULT_CONF "/etc/mailsift/plugin.conf"

static int allow_partial; /* --allow-partial was given */

static const struct {
	const char *name;
	int (*fn)(const ms_config *, int, char **);
	const char *usage;
} commands[] = {
	{ "import", cli_import,
	  "import PATH...        (files, maildirs, mbox)" },
	{ "search", cli_search, "search [--json] [--limit N] QUERY" },
	{ "count", cli_count, "count QUERY           ('*' = all)" },
	{ "show", cli_show,
	  "show ID               (archive id or Message-ID)" },
	{ "stats", cli_stats, "stats" },
	{ "verify", cli_verify,
	  "verify                (re-hash the store, check the index)" },
	{ "reindex", cli_reindex,
	  "reindex [--force]     (rebuild the index from the store)" },
	{ "export", cli_export,
	  "export --format mbox|eml [--hold NAME] [QUERY] -o PATH\n"
	  "                        (messages + manifest.csv, manifest.sha256)\n"
	  "  export --verify PATH  (re-hash an export against its manifest)" },
	{ "hold", cli_hold,
	  "hold add NAME [--reason TEXT] QUERY  (a legal hold: kept from "
	  "expire)\n"
	  "  hold list [--json]    (every hold: state, messages covered now)\n"
	  "  hold show [--json] NAME  (the messages a hold covers)\n"
	  "  hold release NAME --reason TEXT" },
	{ "expire", cli_expire,
	  "expire [--dry-run] [--json]  (delete mail [retention] lets go, "
	  "unless held)" },
	{ "audit", cli_audit_cmd,
	  "audit verify          (check the audit trail's hash chain)\n"
	  "  audit show [--since DATE] [--json]  (print the audit trail)" },
	{ "serve", cli_serve,
	  "serve --listen HOST:PORT [-n]  (this host's shards to search "
	  "heads:\n"
	  "                        xapian-tcpsrv on PORT, raw messages on "
	  "PORT+1)" },
	{ "doctor", NULL,
	  "doctor [--postfix-config DIR] [--dovecot-config FILE] [--skip "
	  "CHECK,...]\n"
	  "                        (check the set-up: config, spool, archive, "
	  "clamd,\n"
	  "                        milter, Postfix, indexd, Dovecot, audit)" },
};

/* Prints the usage to out; returns rc. */
static int usage_to(FILE *out, int rc)
{
	fprintf(out, "usage: mailsift [-c plugin.conf] COMMAND "
		     "[--allow-partial]\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %s\n", commands[i].usage);
	return rc;
}

static int usage(void)
{
	return usage_to(stderr, 2);
}

/* Opens the archive with options o; NULL after a one-line error. */
static ms_archive *open_with(const ms_config *cfg, const ms_archive_opts *o)
{
	ms_archive *ar = NULL;
	char *err = NULL;
	ms_status_t st = ms_archive_open(o, &ar, &err);
	if (st)
		ms_log_error("cannot open archive %s: %s", cfg->archive_dir,
			     err ? err : ms_status_str(st));
	free(err);
	return ar;
}

ms_archive *cli_open_archive(const ms_config *cfg, int writable)
{
	ms_archive_opts o = ms_archive_opts_from(cfg, writable);
	return open_with(cfg, &o);
}

ms_archive *cli_open_reader(const ms_config *cfg)
{
	ms_archive_opts o = ms_archive_opts_from(cfg, 0);
	ms_archive_opts_remote(&o, cfg, allow_partial);
	return open_with(cfg, &o);
}

void cli_warn_partial(const ms_archive *ar)
{
	if (ar && *ms_archive_partial(ar))
		ms_log_warn("partial results: %s", ms_archive_partial(ar));
}

/* Removes every "--allow-partial" before a "--" from argv[from..]. */
static int take_allow_partial(int argc, char **argv, int from)
{
	int k = from;
	for (int i = from; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			from = argc; /* copy the rest as it is */
		if (i < from || strcmp(argv[i], "--allow-partial") != 0)
			argv[k++] = argv[i];
		else
			allow_partial = 1;
	}
	argv[k] = NULL;
	return k;
}

int main(int argc, char **argv)
{
	const char *conf = getenv("MAILSIFT_CONF");
	ms_log_open_stderr("mailsift");
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage_to(stdout, 0);
	int c;
	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		if (c != 'c')
			return usage();
		conf = optarg;
	}
	if (optind >= argc)
		return usage();
	argc = take_allow_partial(argc, argv, optind + 1);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		if (!commands[i].fn) /* doctor: loading the config is a check */
			return cli_doctor(conf ? conf : DEFAULT_CONF,
					  argc - optind, argv + optind);
		ms_config *cfg =
			ms_daemon_load_config(conf ? conf : DEFAULT_CONF);
		if (!cfg)
			return 1;
		optind++;
		int rc = commands[i].fn(cfg, argc - optind + 1,
					argv + optind - 1);
		ms_config_free(&cfg);
		return rc;
	}
	ms_log_error("unknown command '%s'", argv[optind]);
	return usage();
}
