/* ms_config.h - plugin.conf, the one configuration file of every component.
 *
 * Syntax (INI style): "[section]" headers, "key = value" lines, blank lines,
 * full-line comments starting with '#' or ';', trailing comments (a '#' or
 * ';' after whitespace), surrounding whitespace trimmed, optional
 * double-quoted values (inside quotes '#' and ';' are literal, \" and \\
 * are escapes). CRLF line endings are accepted. A line may hold at most
 * MS_CONFIG_MAX_LINE bytes; NUL bytes are an error.
 *
 * Every parameter is declared once in a table (ms_config_table.c): section,
 * key, type, default, bounds, target member, one-line doc. ms_config_params()
 * exposes that table. Types: string, path (absolute; a relative value is made
 * absolute against the directory of the config file), bool
 * (yes/no/true/false/on/off/1/0), uint (bounds), size (bytes, k/M/G suffix,
 * 1024-based; bounds), duration (seconds, s/m/h suffix; bounds), enum (one
 * of a list), list (comma/space-separated; NULL-terminated char ** array),
 * lines (a repeatable key: every occurrence is one item of a NULL-terminated
 * char ** array, in file order; a file that sets it replaces the default).
 * A parameter may name a check function that validates each value.
 *
 * Errors name the FIRST problem only, on one line: "file:line: message"
 * for bad content (MS_ERR_CONFIG), "path: strerror" when the file cannot be
 * read (MS_ERR_IO).
 *
 * A loaded config is an immutable, reference-counted snapshot: a daemon
 * that reloads on SIGHUP loads a new one, swaps its pointer, and each user
 * drops its reference with ms_config_unref(). Strings, paths and lists in
 * the struct are never NULL ("" or an empty list when unset) and belong to
 * the snapshot: do not free or modify them.
 */
#ifndef MS_CONFIG_H
#define MS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_status.h"

#define MS_CONFIG_MAX_LINE 4096	     /* bytes per line, without newline */
#define MS_CONFIG_MAX_FILE (1 << 20) /* bytes per config file */

/* [policy] on_infected */
typedef enum ms_on_infected {
	MS_ON_INFECTED_REJECT = 0, /* 550 5.7.1 */
	MS_ON_INFECTED_QUARANTINE, /* accept into the quarantine */
	MS_ON_INFECTED_DISCARD,	   /* accept and drop silently */
	MS_ON_INFECTED_TAG	   /* deliver with X-Virus-Status: Infected */
} ms_on_infected;

/* [policy] on_scan_failure and on_oversize */
typedef enum ms_on_failure {
	MS_ON_FAILURE_TEMPFAIL = 0, /* 451 4.7.1 (fail closed) */
	MS_ON_FAILURE_ACCEPT	    /* accept unscanned (never "Clean") */
} ms_on_failure;

/* [archive] shard_by */
typedef enum ms_shard_by {
	MS_SHARD_BY_MONTH = 0,
	MS_SHARD_BY_YEAR,
	MS_SHARD_BY_NONE
} ms_shard_by;

/* One member per key, named section_key. Sizes are bytes, durations
 * seconds. See plugin.conf for what each key means. */
typedef struct ms_config {
	/* [milter] */
	char *milter_socket;  /* "unix:/path", "inet:port@host", ... */
	char *milter_user;    /* "" = do not change user */
	char *milter_pidfile; /* "" = none */
	uint64_t milter_max_message_size; /* 0 = unlimited */
	unsigned milter_timeout;
	unsigned milter_max_connections; /* 0 = from the descriptor limit */
	char *milter_metrics;		 /* "HOST:PORT" (ms_addr.h); "" = off */
	/* [scanner] */
	char **scanner_clamd; /* "unix:/path" or "inet:host:port"; >= 1 */
	unsigned scanner_connect_timeout;
	unsigned scanner_read_timeout;
	uint64_t scanner_max_scan_size;
	uint64_t scanner_chunk_size;
	/* [policy] */
	char **policy_blocked_extensions; /* without the dot; may be empty */
	char *policy_blocklist_file;	  /* "" = none */
	bool policy_skip_authenticated;
	ms_on_infected policy_on_infected;
	ms_on_failure policy_on_scan_failure;
	ms_on_failure policy_on_oversize;
	/* [spool] */
	char *spool_dir;
	/* [archive] */
	char *archive_dir;
	ms_shard_by archive_shard_by;
	uint64_t archive_max_text_per_part;
	unsigned archive_compression_level;
	bool archive_keep_infected;
	char *archive_encrypt_key;    /* "" = no encryption */
	bool archive_extract;	      /* attachment text extraction */
	char **archive_extract_types; /* names of ms_extract_types() */
	char *archive_extract_helper; /* "" = beside the program */
	uint64_t archive_extract_max_size;
	uint64_t archive_extract_max_text;
	uint64_t archive_extract_memory;
	unsigned archive_extract_cpu;
	unsigned archive_extract_timeout;
	unsigned archive_extract_zip_depth;
	unsigned archive_extract_zip_ratio;
	uint64_t archive_extract_zip_max;
	char *archive_host;    /* shard label; "" = the short host name */
	char **archive_remote; /* "HOST:PORT" of `mailsift serve`s; may be
				  empty */
	unsigned archive_remote_timeout;
	unsigned archive_remote_connect_timeout;
	char **archive_holds_from; /* "HOST:PORT" of the search heads whose
				      holds expire honours; may be empty */
	/* [indexd] */
	unsigned indexd_batch_size;
	unsigned indexd_commit_interval;
	char *indexd_user;
	char *indexd_pidfile;
	char *indexd_metrics; /* "HOST:PORT" (ms_addr.h); "" = off */
	/* [imap] */
	bool imap_archive_reuse;
	unsigned imap_batch_size;
	char *imap_user_addresses; /* "" = none */
	/* [retention] */
	char *retention_default; /* a period (ms_retention.h); "0" = for ever */
	char **retention_rule;	 /* "PERIOD QUERY" each; may be empty */
	/* [audit] */
	char *audit_file; /* "" = <archive_dir>/audit.log */
	/* [web] */
	char *web_listen;	   /* "HOST:PORT" (IPv4) or "[ADDR]:PORT" */
	char *web_users;	   /* the accounts file */
	char *web_user;		   /* "" = do not change user */
	char *web_pidfile;	   /* "" = none */
	unsigned web_session_idle; /* seconds */
	char *web_tls_cert;	   /* "" = plain HTTP */
	char *web_tls_key;
	char *web_metrics; /* "HOST:PORT" (ms_addr.h); "" = off */
} ms_config;

/* ---- the parameter table ---- */

typedef enum ms_config_type {
	MS_CT_STRING,	/* char * */
	MS_CT_PATH,	/* char *, absolute (or "" with MS_CF_EMPTY_OK) */
	MS_CT_BOOL,	/* bool */
	MS_CT_UINT,	/* unsigned, min..max */
	MS_CT_SIZE,	/* uint64_t bytes, min..max */
	MS_CT_DURATION, /* unsigned seconds, min..max */
	MS_CT_ENUM,	/* an enum (int-sized), index into choices */
	MS_CT_LIST,	/* char **, NULL-terminated */
	MS_CT_LINES	/* char **, NULL-terminated: the key may repeat, each
			   occurrence appends its whole value ("" adds none) */
} ms_config_type;

/* flags */
#define MS_CF_EMPTY_OK 0x1u /* path: "" allowed; list: may be empty */
#define MS_CF_MILTER_SOCKET                                                    \
	0x2u		 /* string: unix:PATH, local:PATH,                     \
			     inet:PORT[@HOST], inet6:PORT[@HOST] */
#define MS_CF_CLAMD 0x4u /* list items: unix:PATH, inet:HOST:PORT */

typedef struct ms_config_param {
	const char *section;
	const char *key;
	ms_config_type type;
	unsigned flags;
	const char *def;	    /* default, written in config syntax */
	uint64_t min, max;	    /* uint, size, duration */
	const char *const *choices; /* enum: NULL-terminated names */
	size_t offset;		    /* of the member in ms_config */
	const char *doc;	    /* one line for people */
	/* string, lines, list: checks a value (each line or item) after
	 * parsing;
	 * MS_OK, or MS_ERR_CONFIG with what is wanted appended to why.
	 * NULL = no check. */
	ms_status_t (*check)(const char *value, ms_buf *why);
} ms_config_param;

/* The table, in file order (grouped by section); *n_r gets its length.
 * Static storage, never freed. */
const ms_config_param *ms_config_params(size_t *n_r);
/* The section names, in file order, NULL-terminated. Static storage. */
const char *const *ms_config_sections(void);

/* ---- loading ---- */

/* Reads and parses the file at path; keys not in the file keep their
 * defaults. Relative path values are made absolute against the directory
 * of path. On MS_OK, *cfg_r holds one reference (drop it with
 * ms_config_unref or ms_config_free) and *err_r is NULL. Otherwise
 * *cfg_r is NULL and *err_r (if err_r is not NULL) is a malloc'ed
 * one-line message the caller frees with free():
 *   MS_ERR_CONFIG  bad content: "path:line: message"
 *                  (or "path: file too large ..." over MS_CONFIG_MAX_FILE)
 *   MS_ERR_IO      unreadable: "path: strerror(errno)"
 *   MS_ERR_NOMEM   *err_r is NULL */
ms_status_t ms_config_load(const char *path, ms_config **cfg_r, char **err_r);

/* Builds a config holding every default. MS_OK or MS_ERR_NOMEM (*cfg_r
 * NULL). Release with ms_config_unref/ms_config_free. */
ms_status_t ms_config_defaults(ms_config **cfg_r);

/* Parses text[0..len) as if it had been read from the file name (used in
 * messages and for resolving relative paths; NULL means "(string)" in the
 * current directory). Same results as ms_config_load, without MS_ERR_IO. */
ms_status_t ms_config_parse_string(const char *text, size_t len,
				   const char *name, ms_config **cfg_r,
				   char **err_r);

/* ---- references ---- */

/* Adds a reference (atomic; any thread) and returns cfg. NULL stays NULL. */
ms_config *ms_config_ref(ms_config *cfg);
/* Drops a reference (atomic; any thread), freeing the snapshot with the
 * last one, and sets *cfg to NULL. NULL or *cfg == NULL is a no-op. */
void ms_config_unref(ms_config **cfg);
/* The same as ms_config_unref (for single-owner code). */
void ms_config_free(ms_config **cfg);

/* ---- output ---- */

/* Appends every key with its effective value, by section, in a form that
 * ms_config_parse_string() reads back to the same config:
 *   "[milter]\nsocket = unix:/run/mailsift/milter.sock\n...".
 * MS_OK or MS_ERR_NOMEM (out may hold part of the text). */
ms_status_t ms_config_dump(const ms_config *cfg, ms_buf *out);

#endif
