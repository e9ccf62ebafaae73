/* ms_config_table.c - every plugin.conf parameter, declared once.
 *
 * Functions: ms_config_params, ms_config_sections.
 * One row per key: section, key, type, flags, default (config syntax),
 * bounds, enum choices, target member, doc. The parser, the defaults, the
 * dump and the doc-drift test all work from this table; plugin.conf at the
 * top of the repository must list the same keys with the same defaults.
 */
#include "ms_config.h"
#include "ms_addr.h"	  /* the check of the metrics addresses */
#include "ms_extract.h"	  /* the check of extract_types */
#include "ms_retention.h" /* the checks of [retention] */
#include "ms_remote.h"	  /* the check of [archive] remote */
#include "ms_shard.h"	  /* the check of [archive] host */

#include <assert.h>

#define KB 1024ull
#define MB (1024ull * KB)
#define GB (1024ull * MB)

/* Enum members are written through an int; they must be int-sized. */
static_assert(sizeof(ms_on_infected) == sizeof(int), "enum size");
static_assert(sizeof(ms_on_failure) == sizeof(int), "enum size");
static_assert(sizeof(ms_shard_by) == sizeof(int), "enum size");

/* Names in enum value order. */
static const char *const on_infected[] = { "reject", "quarantine", "discard",
					   "tag", NULL };
static const char *const on_failure[] = { "tempfail", "accept", NULL };
static const char *const shard_by[] = { "month", "year", "none", NULL };

/* extract_types: each item a format name. */
static ms_status_t extract_type_check(const char *v, ms_buf *why)
{
	const char *bad = ms_extract_types_check(v);
	if (!bad)
		return MS_OK;
	ms_buf_puts(why, bad);
	return MS_ERR_CONFIG;
}

/* [archive] host: "" or a shard label. */
static ms_status_t host_check(const char *v, ms_buf *why)
{
	if (!*v || ms_shard_host_ok(v))
		return MS_OK;
	ms_buf_puts(why, "1 to 63 letters, digits, '-' or '_' (empty: the "
			 "short host name)");
	return MS_ERR_CONFIG;
}

/* [archive] remote: each item HOST:PORT. */
static ms_status_t remote_check(const char *v, ms_buf *why)
{
	if (ms_remote_addr_ok(v))
		return MS_OK;
	ms_buf_puts(why, "HOST:PORT with PORT 1..65534 (the --listen address "
			 "of mailsift serve)");
	return MS_ERR_CONFIG;
}

static const char *const sections[] = { "milter", "scanner",   "policy",
					"spool",  "archive",   "indexd",
					"imap",	  "retention", "audit",
					"web",	  NULL };

#define OFF(m) offsetof(ms_config, m)
#define P(s_, k_, type_, flags_, def_, lo, hi, ch, doc_)                       \
	{                                                                      \
		.section = #s_, .key = #k_, .type = type_, .flags = flags_,    \
		.def = def_, .min = lo, .max = hi, .choices = ch,              \
		.offset = OFF(s_##_##k_), .doc = doc_                          \
	}

/* A string or lines parameter with a check function. */
#define PC(s_, k_, type_, flags_, def_, check_, doc_)                          \
	{                                                                      \
		.section = #s_, .key = #k_, .type = type_, .flags = flags_,    \
		.def = def_, .offset = OFF(s_##_##k_), .doc = doc_,            \
		.check = check_                                                \
	}

static const ms_config_param params[] = {
	P(milter, socket, MS_CT_STRING, MS_CF_MILTER_SOCKET,
	  "unix:/run/mailsift/milter.sock", 0, 0, NULL,
	  "where the milter listens for Postfix"),
	P(milter, user, MS_CT_STRING, 0, "", 0, 0, NULL,
	  "user to run as after start (empty: do not change)"),
	P(milter, pidfile, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "file to write the process id to (empty: none)"),
	P(milter, max_message_size, MS_CT_SIZE, 0, "0", 0, 4 * GB, NULL,
	  "largest message accepted (0: no limit of our own)"),
	P(milter, timeout, MS_CT_DURATION, 0, "300s", 1, 3600, NULL,
	  "I/O timeout on the connection with Postfix"),
	P(milter, max_connections, MS_CT_UINT, 0, "0", 0, 1000000, NULL,
	  "connections served at once; more are tempfailed (0: sized from "
	  "the descriptor limit)"),
	PC(milter, metrics, MS_CT_STRING, 0, "", ms_addr_check_optional,
	   "HOST:PORT serving Prometheus metrics at /metrics (empty: off)"),

	P(scanner, clamd, MS_CT_LIST, MS_CF_CLAMD, "unix:/run/clamav/clamd.ctl",
	  0, 0, NULL, "clamd endpoints, tried in order"),
	P(scanner, connect_timeout, MS_CT_DURATION, 0, "5s", 1, 300, NULL,
	  "time allowed to connect to clamd"),
	P(scanner, read_timeout, MS_CT_DURATION, 0, "120s", 1, 3600, NULL,
	  "time allowed for clamd to answer"),
	P(scanner, max_scan_size, MS_CT_SIZE, 0, "25M", 1 * KB, 4 * GB, NULL,
	  "largest message sent to clamd; larger is on_oversize"),
	P(scanner, chunk_size, MS_CT_SIZE, 0, "64k", 1 * KB, 1 * MB, NULL,
	  "bytes per INSTREAM chunk sent to clamd"),

	P(policy, blocked_extensions, MS_CT_LIST, MS_CF_EMPTY_OK,
	  "exe, scr, pif, com, bat, cmd, vbs, vbe, js, jse, wsf, wsh, hta, "
	  "cpl, msi, msp, jar, lnk, ps1, reg, iso, img",
	  0, 0, NULL, "attachment file name extensions treated as infected"),
	P(policy, blocklist_file, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "file of SHA-256 hashes of blocked attachment contents (empty: "
	  "none)"),
	P(policy, skip_authenticated, MS_CT_BOOL, 0, "no", 0, 0, NULL,
	  "do not scan mail from SMTP-authenticated senders"),
	P(policy, on_infected, MS_CT_ENUM, 0, "reject", 0, 0, on_infected,
	  "what to do with infected mail"),
	P(policy, on_scan_failure, MS_CT_ENUM, 0, "tempfail", 0, 0, on_failure,
	  "what to do when the scanner fails"),
	P(policy, on_oversize, MS_CT_ENUM, 0, "tempfail", 0, 0, on_failure,
	  "what to do with mail over max_scan_size"),

	P(spool, dir, MS_CT_PATH, 0, "/var/spool/mailsift", 0, 0, NULL,
	  "spool handed from the milter to indexd"),

	P(archive, dir, MS_CT_PATH, 0, "/var/lib/mailsift/archive", 0, 0, NULL,
	  "archive: Xapian shards and the message store"),
	P(archive, shard_by, MS_CT_ENUM, 0, "month", 0, 0, shard_by,
	  "one Xapian shard per month, per year, or one in all"),
	P(archive, max_text_per_part, MS_CT_SIZE, 0, "1M", 1 * KB, 1 * GB, NULL,
	  "text indexed per MIME part at most"),
	P(archive, compression_level, MS_CT_UINT, 0, "1", 1, 9, NULL,
	  "zlib level for stored messages"),
	P(archive, keep_infected, MS_CT_BOOL, 0, "yes", 0, 0, NULL,
	  "archive infected messages too"),
	P(archive, encrypt_key, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "AES-256 key file for encryption at rest (empty: off)"),
	P(archive, extract, MS_CT_BOOL, 0, "yes", 0, 0, NULL,
	  "index the text inside attachments (PDF, Office, ODF, ZIP, JSON)"),
	PC(archive, extract_types, MS_CT_LIST, MS_CF_EMPTY_OK,
	   "pdf, docx, xlsx, pptx, odt, ods, odp, zip, json",
	   extract_type_check, "attachment formats whose text is extracted"),
	P(archive, extract_helper, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "the extractor program (empty: mailsift-extract beside the program, "
	  "else the installed one)"),
	P(archive, extract_max_size, MS_CT_SIZE, 0, "32M", 1 * KB, 1 * GB, NULL,
	  "larger attachments are not extracted (extract:failed)"),
	P(archive, extract_max_text, MS_CT_SIZE, 0, "1M", 1 * KB, 1 * GB, NULL,
	  "text indexed per attachment at most"),
	P(archive, extract_memory, MS_CT_SIZE, 0, "512M", 64 * MB, 16 * GB,
	  NULL, "address space of the extractor process"),
	P(archive, extract_cpu, MS_CT_DURATION, 0, "10s", 1, 3600, NULL,
	  "CPU time of the extractor process per attachment"),
	P(archive, extract_timeout, MS_CT_DURATION, 0, "30s", 1, 3600, NULL,
	  "wall time per attachment before the extractor is killed"),
	P(archive, extract_zip_depth, MS_CT_UINT, 0, "3", 0, 32, NULL,
	  "ZIP archives inside ZIP archives followed this deep"),
	P(archive, extract_zip_ratio, MS_CT_UINT, 0, "100", 0, 100000, NULL,
	  "a ZIP member expanding more than this many times is a zip bomb "
	  "(0: no ratio check)"),
	P(archive, extract_zip_max, MS_CT_SIZE, 0, "256M", 1 * MB, 16 * GB,
	  NULL, "bytes uncompressed from one attachment's ZIP at most"),
	PC(archive, host, MS_CT_STRING, 0, "", host_check,
	   "label of the shards this host writes, HOST.2002-08 (empty: the "
	   "short host name)"),
	PC(archive, remote, MS_CT_LIST, MS_CF_EMPTY_OK, "", remote_check,
	   "HOST:PORT of each mailsift serve whose shards search, count, "
	   "show, export and hold also cover"),
	P(archive, remote_timeout, MS_CT_DURATION, 0, "30s", 1, 3600, NULL,
	  "time a remote archive host has to answer"),
	P(archive, remote_connect_timeout, MS_CT_DURATION, 0, "5s", 1, 300,
	  NULL, "time allowed to connect to a remote archive host"),
	PC(archive, holds_from, MS_CT_LIST, MS_CF_EMPTY_OK, "", remote_check,
	   "HOST:PORT of each mailsift serve (a search head) whose legal "
	   "holds this host's expire also honours"),

	P(indexd, batch_size, MS_CT_UINT, 0, "1000", 1, 100000, NULL,
	  "messages per Xapian commit at most"),
	P(indexd, commit_interval, MS_CT_DURATION, 0, "2s", 0, 3600, NULL,
	  "longest wait before committing a partial batch"),
	P(indexd, user, MS_CT_STRING, 0, "", 0, 0, NULL,
	  "user to run as after start (empty: do not change)"),
	P(indexd, pidfile, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "file to write the process id to (empty: none)"),
	PC(indexd, metrics, MS_CT_STRING, 0, "", ms_addr_check_optional,
	   "HOST:PORT serving Prometheus metrics at /metrics (empty: off)"),

	P(imap, archive_reuse, MS_CT_BOOL, 0, "yes", 0, 0, NULL,
	  "reuse archive terms for messages delivered to the user"),
	P(imap, batch_size, MS_CT_UINT, 0, "200", 1, 100000, NULL,
	  "messages per index commit at most"),
	P(imap, user_addresses, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "file mapping IMAP logins to addresses (empty: none)"),

	PC(retention, default, MS_CT_STRING, 0, "0", ms_period_check,
	   "period after which mail expires (0: never; d, w, m, y)"),
	PC(retention, rule, MS_CT_LINES, 0, "", ms_retention_rule_check,
	   "PERIOD QUERY: a period for matching mail (repeatable)"),

	P(audit, file, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "the audit log (empty: audit.log in the archive directory)"),

	P(web, listen, MS_CT_STRING, 0, "127.0.0.1:8025", 0, 0, NULL,
	  "address and port the web console listens on"),
	P(web, users, MS_CT_PATH, 0, "/etc/mailsift/web.users", 0, 0, NULL,
	  "the web console's accounts file"),
	P(web, user, MS_CT_STRING, 0, "", 0, 0, NULL,
	  "user to run as after start (empty: do not change)"),
	P(web, pidfile, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "file to write the process id to (empty: none)"),
	P(web, session_idle, MS_CT_DURATION, 0, "30m", 60, 86400, NULL,
	  "a web session ends after this long without a request"),
	P(web, tls_cert, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "PEM certificate chain for HTTPS (empty: plain HTTP)"),
	P(web, tls_key, MS_CT_PATH, MS_CF_EMPTY_OK, "", 0, 0, NULL,
	  "PEM private key for HTTPS (empty: plain HTTP)"),
	PC(web, metrics, MS_CT_STRING, 0, "", ms_addr_check_optional,
	   "HOST:PORT serving Prometheus metrics at /metrics (empty: off)"),
};

const ms_config_param *ms_config_params(size_t *n_r)
{
	*n_r = sizeof params / sizeof params[0];
	return params;
}

const char *const *ms_config_sections(void)
{
	return sections;
}
