/* cli_doctor.c - `mailsift doctor [OPTIONS]`: checks that this mail
 * server's mailsift set-up works, one line per finding.
 *
 *   mailsift -c plugin.conf doctor [--postfix-config DIR]
 *       [--dovecot-config FILE] [--clamd-config FILE] [--skip CHECK,...]
 *       [--signature-age DAYS] [--backlog N] [--backlog-age SECONDS]
 *       [--timeout SECONDS]
 *
 * Checks, in order: config (plugin.conf parses; nothing else runs
 * without it), spool, archive, clamd, signatures, milter, postfix, indexd,
 * backlog, dovecot, web, metrics, remotes, audit. Exit status 0 when nothing
 * failed (warnings allowed), 1 when a check failed, 2 on usage errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_doctor.h"
#include "ms_log.h"

static const struct {
	const char *name;
	void (*fn)(doctor *);
} checks[] = {
	{ "spool", doc_check_spool },
	{ "archive", doc_check_archive },
	{ "clamd", doc_check_clamd },
	{ "signatures", doc_check_signatures },
	{ "milter", doc_check_milter },
	{ "postfix", doc_check_postfix },
	{ "indexd", doc_check_indexd },
	{ "backlog", doc_check_backlog },
	{ "dovecot", doc_check_dovecot },
	{ "web", doc_check_web },
	{ "metrics", doc_check_metrics },
	{ "remotes", doc_check_remotes },
	{ "audit", doc_check_audit },
};
#define N_CHECKS (sizeof checks / sizeof checks[0])

static int usage(void)
{
	ms_log_error("usage: mailsift doctor [--postfix-config DIR] "
		     "[--dovecot-config FILE] [--clamd-config FILE] "
		     "[--skip CHECK,...] [--signature-age DAYS] [--backlog N] "
		     "[--backlog-age SECONDS] [--timeout SECONDS]");
	return 2;
}

/* Marks the checks named in the list s (commas) in skip[]. -1 for an
 * unknown name. */
static int parse_skip(const char *s, int skip[N_CHECKS])
{
	while (*s) {
		size_t n = strcspn(s, ",");
		size_t i = 0;
		while (i < N_CHECKS && (strlen(checks[i].name) != n ||
					strncmp(checks[i].name, s, n) != 0))
			i++;
		if (i == N_CHECKS) {
			ms_log_error("doctor: unknown check '%.*s'", (int)n, s);
			return -1;
		}
		skip[i] = 1;
		s += n + (s[n] == ',');
	}
	return 0;
}

static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *v)
{
	char *end;
	*v = strtoull(s, &end, 10);
	return *s >= '0' && *s <= '9' && !*end && *v <= max ? 0 : -1;
}

enum {
	O_POSTFIX = 256,
	O_DOVECOT,
	O_CLAMD,
	O_SKIP,
	O_SIGAGE,
	O_BACKLOG,
	O_BACKAGE,
	O_TIMEOUT
};

/* Sets the numeric option c from optarg. 0, or -1 after a message. */
static int set_number(doctor *d, int c)
{
	static const unsigned long long max[] = { 36500, 1000000000, 31536000,
						  600 };
	unsigned long long v;
	if (parse_uint(optarg, max[c - O_SIGAGE], &v) < 0) {
		ms_log_error("doctor: bad number '%s'", optarg);
		return -1;
	}
	if (c == O_SIGAGE)
		d->sig_days = (unsigned)v;
	else if (c == O_BACKLOG)
		d->max_backlog = v;
	else if (c == O_BACKAGE)
		d->max_backlog_age = (unsigned)v;
	else
		d->timeout_ms = v ? (unsigned)v * 1000 : 1000;
	return 0;
}

static int parse_opts(doctor *d, int argc, char **argv, int skip[N_CHECKS])
{
	static const struct option opts[] = {
		{ "postfix-config", 1, NULL, O_POSTFIX },
		{ "dovecot-config", 1, NULL, O_DOVECOT },
		{ "clamd-config", 1, NULL, O_CLAMD },
		{ "skip", 1, NULL, O_SKIP },
		{ "signature-age", 1, NULL, O_SIGAGE },
		{ "backlog", 1, NULL, O_BACKLOG },
		{ "backlog-age", 1, NULL, O_BACKAGE },
		{ "timeout", 1, NULL, O_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	int c, bad = 0;
	optind = 1;
	while (!bad && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == O_POSTFIX)
			d->postfix_dir = optarg;
		else if (c == O_DOVECOT)
			d->dovecot_conf = optarg;
		else if (c == O_CLAMD)
			d->clamd_conf = optarg;
		else if (c == O_SKIP)
			bad = parse_skip(optarg, skip) < 0;
		else if (c >= O_SIGAGE && c <= O_TIMEOUT)
			bad = set_number(d, c) < 0;
		else
			bad = 1;
	}
	return !bad && optind == argc ? 0 : -1;
}

/* The config check: the one that must pass for any other to run. */
static ms_config *check_config(doctor *d)
{
	ms_config *cfg = NULL;
	char *err = NULL;
	ms_status_t st = ms_config_load(d->conf_path, &cfg, &err);
	if (st)
		doc_report(d, DOC_FAIL, "config",
			   "fix the line it names (plugin.conf(5) describes "
			   "every key); the other checks need the file",
			   "%s", err ? err : ms_status_str(st));
	else
		doc_report(d, DOC_OK, "config", NULL, "%s parses",
			   d->conf_path);
	free(err);
	return cfg;
}

int cli_doctor(const char *conf, int argc, char **argv)
{
	doctor d = { .conf_path = conf,
		     .clamd_conf = "/etc/clamav/clamd.conf",
		     .sig_days = 7,
		     .max_backlog = 1000,
		     .max_backlog_age = 600,
		     .timeout_ms = 5000 };
	int skip[N_CHECKS] = { 0 };
	if (parse_opts(&d, argc, argv, skip) < 0)
		return usage();
	ms_config *cfg = check_config(&d);
	if (!cfg)
		return 1;
	d.cfg = cfg;
	for (size_t i = 0; i < N_CHECKS; i++)
		if (!skip[i])
			checks[i].fn(&d);
	ms_config_free(&cfg);
	printf("%u failed, %u warnings\n", d.failed, d.warned);
	return d.failed ? 1 : 0;
}
