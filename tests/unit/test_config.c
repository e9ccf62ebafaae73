/* test_config.c - Check tests for plugin.conf parsing (ms_config.h).
 *
 * Table-driven: every error message (file:line: text), every value type
 * good and bad (sizes, durations, bools, enums, uints, strings, paths,
 * endpoints, lists, quoting, comments), line endings, relative path
 * resolution, loading files (missing, directory, too large), the parameter
 * table's own sanity, dump round trips, reference counting across threads.
 * The sample plugin.conf (env MS_PLUGIN_CONF, default "plugin.conf", tests
 * run from the repository root) must parse to exactly the defaults and list
 * exactly the table's keys, each under a comment; every byte prefix and
 * many one-byte mutations of it must parse or fail without crashing.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_buf.h"
#include "ms_config.h"
#include "support_util.h"

#define NAME "/etc/ms/plugin.conf"

/* ---- helpers ---- */

static const char *sample_path(void)
{
	const char *p = getenv("MS_PLUGIN_CONF");
	return p && *p ? p : "plugin.conf";
}

/* Reads a whole file into a ms_buf (test fails if unreadable). */
static void slurp(const char *path, ms_buf *b)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		ck_assert_int_eq(ms_buf_append(b, chunk, n), MS_OK);
	fclose(f);
}

static char *dump_of(const ms_config *cfg)
{
	ms_buf b = MS_BUF_INIT;
	ck_assert_int_eq(ms_config_dump(cfg, &b), MS_OK);
	return ms_buf_steal(&b);
}

static char *defaults_dump(void)
{
	ms_config *cfg = NULL;
	ck_assert_int_eq(ms_config_defaults(&cfg), MS_OK);
	char *d = dump_of(cfg);
	ms_config_free(&cfg);
	ck_assert_ptr_null(cfg);
	return d;
}

/* Parses text (NUL-terminated) under NAME; fails the test on error. */
static ms_config *parse_ok(const char *text)
{
	ms_config *cfg = NULL;
	char *err = NULL;
	ms_status_t st =
		ms_config_parse_string(text, strlen(text), NAME, &cfg, &err);
	ck_assert_msg(st == MS_OK, "parse of <%s> failed: %s", text,
		      err ? err : "?");
	ck_assert_ptr_null(err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* The value of section/key as ms_config_dump writes it (malloc'ed). */
static char *dumped_value(const ms_config *cfg, const char *section,
			  const char *key)
{
	char *d = dump_of(cfg), hdr[64], *res = NULL;
	snprintf(hdr, sizeof hdr, "[%s]\n", section);
	char *s = strstr(d, hdr);
	ck_assert_ptr_nonnull(s);
	s += strlen(hdr);
	size_t klen = strlen(key);
	while (*s && *s != '[' && !res) {
		char *nl = strchr(s, '\n');
		ck_assert_ptr_nonnull(nl);
		if (!strncmp(s, key, klen) && !strncmp(s + klen, " = ", 3))
			res = strndup(s + klen + 3,
				      (size_t)(nl - s) - klen - 3);
		s = nl + 1;
	}
	free(d);
	ck_assert_msg(res != NULL, "no %s in [%s]", key, section);
	return res;
}

/* ---- defaults and the table ---- */

START_TEST(test_defaults)
{
	ms_config *cfg = NULL;
	ck_assert_int_eq(ms_config_defaults(&cfg), MS_OK);
	ck_assert_str_eq(cfg->milter_socket, "unix:/run/mailsift/milter.sock");
	ck_assert_str_eq(cfg->milter_user, "");
	ck_assert_str_eq(cfg->milter_pidfile, "");
	ck_assert_uint_eq(cfg->milter_max_message_size, 0);
	ck_assert_uint_eq(cfg->milter_timeout, 300);
	ck_assert_uint_eq(cfg->milter_max_connections, 0);
	ck_assert_str_eq(cfg->scanner_clamd[0], "unix:/run/clamav/clamd.ctl");
	ck_assert_ptr_null(cfg->scanner_clamd[1]);
	ck_assert_uint_eq(cfg->scanner_connect_timeout, 5);
	ck_assert_uint_eq(cfg->scanner_read_timeout, 120);
	ck_assert_uint_eq(cfg->scanner_max_scan_size, 25 * 1024 * 1024);
	ck_assert_uint_eq(cfg->scanner_chunk_size, 64 * 1024);
	size_t n = 0;
	while (cfg->policy_blocked_extensions[n])
		n++;
	ck_assert_uint_eq(n, 22);
	ck_assert_str_eq(cfg->policy_blocked_extensions[0], "exe");
	ck_assert_str_eq(cfg->policy_blocked_extensions[21], "img");
	ck_assert_str_eq(cfg->policy_blocklist_file, "");
	ck_assert(!cfg->policy_skip_authenticated);
	ck_assert_int_eq(cfg->policy_on_infected, MS_ON_INFECTED_REJECT);
	ck_assert_int_eq(cfg->policy_on_scan_failure, MS_ON_FAILURE_TEMPFAIL);
	ck_assert_int_eq(cfg->policy_on_oversize, MS_ON_FAILURE_TEMPFAIL);
	ck_assert_str_eq(cfg->spool_dir, "/var/spool/mailsift");
	ck_assert_str_eq(cfg->archive_dir, "/var/lib/mailsift/archive");
	ck_assert_int_eq(cfg->archive_shard_by, MS_SHARD_BY_MONTH);
	ck_assert_uint_eq(cfg->archive_max_text_per_part, 1024 * 1024);
	ck_assert_uint_eq(cfg->archive_compression_level, 1);
	ck_assert(cfg->archive_keep_infected);
	ck_assert_str_eq(cfg->archive_encrypt_key, "");
	ck_assert_uint_eq(cfg->indexd_batch_size, 1000);
	ck_assert_uint_eq(cfg->indexd_commit_interval, 2);
	ck_assert_str_eq(cfg->indexd_user, "");
	ck_assert_str_eq(cfg->indexd_pidfile, "");
	ck_assert(cfg->imap_archive_reuse);
	ck_assert_uint_eq(cfg->imap_batch_size, 200);
	ck_assert_str_eq(cfg->imap_user_addresses, "");
	ck_assert_str_eq(cfg->retention_default, "0");
	ck_assert_ptr_nonnull(cfg->retention_rule);
	ck_assert_ptr_null(cfg->retention_rule[0]);
	ck_assert_str_eq(cfg->audit_file, "");
	ms_config_free(&cfg);
}
END_TEST

static int in_sections(const char *s)
{
	for (const char *const *sec = ms_config_sections(); *sec; sec++)
		if (!strcmp(*sec, s))
			return 1;
	return 0;
}

START_TEST(test_table_sane)
{
	size_t n;
	const ms_config_param *p = ms_config_params(&n);
	ck_assert_uint_ge(n, 30);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(in_sections(p[i].section), "%s", p[i].key);
		ck_assert(p[i].doc && *p[i].doc && p[i].def);
		ck_assert(p[i].offset < sizeof(ms_config));
		ck_assert_uint_le(p[i].min, p[i].max);
		if (p[i].type == MS_CT_UINT || p[i].type == MS_CT_DURATION)
			ck_assert_uint_le(p[i].max, UINT_MAX);
		ck_assert((p[i].type == MS_CT_ENUM) == (p[i].choices != NULL));
		for (size_t j = 0; j < i; j++) {
			ck_assert(p[i].offset != p[j].offset);
			ck_assert(strcmp(p[i].section, p[j].section) ||
				  strcmp(p[i].key, p[j].key));
		}
		/* grouped by section, in section order */
		if (i && strcmp(p[i].section, p[i - 1].section)) {
			for (size_t j = 0; j < i; j++)
				ck_assert_str_ne(p[j].section, p[i].section);
		}
	}
}
END_TEST

/* ---- the sample file ---- */

START_TEST(test_sample_is_defaults)
{
	ms_config *cfg = NULL;
	char *err = NULL;
	ms_status_t st = ms_config_load(sample_path(), &cfg, &err);
	ck_assert_msg(st == MS_OK, "%s", err ? err : "?");
	char *got = dump_of(cfg), *want = defaults_dump();
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	ms_config_free(&cfg);
}
END_TEST

typedef struct seen_key {
	char section[32];
	char key[64];
} seen_key;

/* Collects the section/key pairs of the sample; checks each key line has
 * a comment line right above it. Returns the count. */
static size_t sample_keys(seen_key *keys, size_t max)
{
	ms_buf b = MS_BUF_INIT;
	slurp(sample_path(), &b);
	char section[32] = "", *save = NULL, *prev = NULL;
	size_t n = 0;
	for (char *l = strtok_r(b.data, "\n", &save); l;
	     prev = l, l = strtok_r(NULL, "\n", &save)) {
		char k[64];
		if (l[0] == '[') {
			ck_assert_int_eq(sscanf(l, "[%31[^]]]", section), 1);
		} else if (l[0] != '#' && l[0] != ';' && l[0] &&
			   sscanf(l, "%63[a-z_] =", k) == 1) {
			ck_assert_msg(prev && prev[0] == '#',
				      "%s: key %s has no comment above",
				      sample_path(), k);
			ck_assert_uint_lt(n, max);
			strcpy(keys[n].section, section);
			strcpy(keys[n++].key, k);
		}
	}
	ms_buf_free(&b);
	return n;
}

START_TEST(test_sample_lists_every_key)
{
	seen_key keys[128];
	size_t nk = sample_keys(keys, 128), np;
	const ms_config_param *p = ms_config_params(&np);
	ck_assert_uint_eq(nk, np);
	for (size_t i = 0; i < np; i++) {
		int found = 0;
		for (size_t j = 0; j < nk; j++)
			found += !strcmp(keys[j].section, p[i].section) &&
				 !strcmp(keys[j].key, p[i].key);
		ck_assert_msg(found == 1, "[%s] %s appears %d times in %s",
			      p[i].section, p[i].key, found, sample_path());
	}
	for (size_t j = 0; j < nk; j++) {
		int found = 0;
		for (size_t i = 0; i < np; i++)
			found += !strcmp(keys[j].section, p[i].section) &&
				 !strcmp(keys[j].key, p[i].key);
		ck_assert_msg(found, "[%s] %s is not in the table",
			      keys[j].section, keys[j].key);
	}
}
END_TEST

static void parse_any(const char *text, size_t len)
{
	ms_config *cfg = NULL;
	char *err = NULL;
	ms_status_t st = ms_config_parse_string(text, len, NAME, &cfg, &err);
	if (st == MS_OK) {
		ck_assert_ptr_null(err);
		ms_config_free(&cfg);
	} else {
		ck_assert_int_eq(st, MS_ERR_CONFIG);
		ck_assert_ptr_null(cfg);
		ck_assert_ptr_nonnull(err);
		ck_assert_ptr_null(strchr(err, '\n'));
		ck_assert(!strncmp(err, NAME ":", strlen(NAME) + 1));
		free(err);
	}
}

START_TEST(test_sample_prefixes)
{
	ms_buf b = MS_BUF_INIT;
	slurp(sample_path(), &b);
	/* exact-length copies so ASan sees any read past the end */
	for (size_t n = 0; n <= b.len; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, b.data, n);
		parse_any(copy, n);
		free(copy);
	}
	ms_buf_free(&b);
}
END_TEST

START_TEST(test_sample_mutations)
{
	static const char bytes[] = { '\0', '"', '[', '=', '\n', '#', '\\' };
	ms_buf b = MS_BUF_INIT;
	slurp(sample_path(), &b);
	for (size_t i = 0; i < b.len; i += 3) {
		char keep = b.data[i];
		for (size_t k = 0; k < sizeof bytes; k++) {
			b.data[i] = bytes[k];
			parse_any(b.data, b.len);
		}
		b.data[i] = keep;
	}
	ms_buf_free(&b);
}
END_TEST

/* ---- errors ---- */

typedef struct err_case {
	const char *text;
	const char *want; /* after "plugin.conf:" */
} err_case;

static const err_case err_cases[] = {
	/* structure */
	{ "[milter]\nsockett = x\n", "2: unknown key 'sockett' in [milter]" },
	{ "[milter]\nSocket = x\n", "2: unknown key 'Socket' in [milter]" },
	{ "[milter]\nus\x01r = x\n", "2: unknown key 'us?r' in [milter]" },
	{ "[milter]\ndir = /x\n", "2: unknown key 'dir' in [milter]" },
	{ "\n# c\nuser = x\n", "3: key outside any section" },
	{ "[foo]\n", "1: unknown section [foo]" },
	{ "[Milter]\n", "1: unknown section [Milter]" },
	{ "[]\n", "1: unknown section []" },
	{ "[milter\n", "1: missing ']' in section header" },
	{ "[milter] x\n", "1: unexpected text after section header" },
	{ "[archive]\ndir = /a\n\n[spool]\n[archive]\ndir = /b\n",
	  "6: duplicate key 'dir' in [archive]" },
	{ "[milter]\nuser\n", "2: expected 'key = value', got 'user'" },
	{ "[milter]\n = x\n", "2: missing key before '='" },
	{ "[milter]\nuser = \"abc\n", "2: missing closing '\"'" },
	{ "[milter]\nuser = \"abc\\\"\n", "2: missing closing '\"'" },
	{ "[milter]\nuser = \"abc\" d\n",
	  "2: unexpected text after quoted value" },
	{ "[milter]\r\nuser = x\r\nbad\r\n",
	  "3: expected 'key = value', got 'bad'" },
	{ "[milter]\nuser = a\nfoo = b", "3: unknown key 'foo' in [milter]" },
	/* the first error only */
	{ "[foo]\n[bar]\n", "1: unknown section [foo]" },
	/* enum */
	{ "[policy]\non_infected = maybe\n",
	  "2: bad value 'maybe' for on_infected (want reject, quarantine, "
	  "discard or tag)" },
	{ "[policy]\non_scan_failure = reject\n",
	  "2: bad value 'reject' for on_scan_failure (want tempfail or "
	  "accept)" },
	{ "[policy]\non_oversize =\n",
	  "2: bad value '' for on_oversize (want tempfail or accept)" },
	{ "[archive]\nshard_by = week\n",
	  "2: bad value 'week' for shard_by (want month, year or none)" },
	/* bool */
	{ "[policy]\nskip_authenticated = maybe\n",
	  "2: bad value 'maybe' for skip_authenticated (want yes or no)" },
	{ "[policy]\nskip_authenticated = 2\n",
	  "2: bad value '2' for skip_authenticated (want yes or no)" },
	{ "[imap]\narchive_reuse = yess\n",
	  "2: bad value 'yess' for archive_reuse (want yes or no)" },
	/* uint */
	{ "[milter]\nmax_connections = 1000001\n",
	  "2: value out of range for max_connections (0..1000000)" },
	{ "[milter]\nmax_connections = -1\n",
	  "2: bad value '-1' for max_connections (want a whole number)" },
	{ "[indexd]\nbatch_size = 0\n",
	  "2: value out of range for batch_size (1..100000)" },
	{ "[indexd]\nbatch_size = 100001\n",
	  "2: value out of range for batch_size (1..100000)" },
	{ "[indexd]\nbatch_size = 99999999999999999999999\n",
	  "2: value out of range for batch_size (1..100000)" },
	{ "[indexd]\nbatch_size = 4294967297\n",
	  "2: value out of range for batch_size (1..100000)" },
	{ "[indexd]\nbatch_size = -5\n",
	  "2: bad value '-5' for batch_size (want a whole number)" },
	{ "[indexd]\nbatch_size = +5\n",
	  "2: bad value '+5' for batch_size (want a whole number)" },
	{ "[indexd]\nbatch_size = 10k\n",
	  "2: bad value '10k' for batch_size (want a whole number)" },
	{ "[indexd]\nbatch_size = 1.5\n",
	  "2: bad value '1.5' for batch_size (want a whole number)" },
	{ "[indexd]\nbatch_size = 0x10\n",
	  "2: bad value '0x10' for batch_size (want a whole number)" },
	{ "[indexd]\nbatch_size = \"\"\n",
	  "2: bad value '' for batch_size (want a whole number)" },
	{ "[archive]\ncompression_level = 10\n",
	  "2: value out of range for compression_level (1..9)" },
	/* size */
	{ "[scanner]\nmax_scan_size = 99999999999999G\n",
	  "2: value out of range for max_scan_size (1k..4G)" },
	{ "[scanner]\nmax_scan_size = 18446744073709551616\n",
	  "2: value out of range for max_scan_size (1k..4G)" },
	{ "[scanner]\nmax_scan_size = 5G\n",
	  "2: value out of range for max_scan_size (1k..4G)" },
	{ "[scanner]\nmax_scan_size = 1023\n",
	  "2: value out of range for max_scan_size (1k..4G)" },
	{ "[scanner]\nmax_scan_size = -1\n",
	  "2: bad value '-1' for max_scan_size (want a size like 64k, 25M or "
	  "1G)" },
	{ "[scanner]\nmax_scan_size = 5T\n",
	  "2: bad value '5T' for max_scan_size (want a size like 64k, 25M or "
	  "1G)" },
	{ "[scanner]\nmax_scan_size = 25MB\n",
	  "2: bad value '25MB' for max_scan_size (want a size like 64k, 25M or "
	  "1G)" },
	{ "[scanner]\nmax_scan_size = 25 M\n",
	  "2: bad value '25 M' for max_scan_size (want a size like 64k, 25M "
	  "or 1G)" },
	{ "[scanner]\nmax_scan_size = M\n",
	  "2: bad value 'M' for max_scan_size (want a size like 64k, 25M or "
	  "1G)" },
	{ "[scanner]\nchunk_size = 2M\n",
	  "2: value out of range for chunk_size (1k..1M)" },
	{ "[milter]\nmax_message_size = 4294967297\n",
	  "2: value out of range for max_message_size (0..4G)" },
	/* duration */
	{ "[indexd]\ncommit_interval = 2d\n",
	  "2: bad value '2d' for commit_interval (want a duration like 30s, 5m "
	  "or 2h)" },
	{ "[indexd]\ncommit_interval = -1s\n",
	  "2: bad value '-1s' for commit_interval (want a duration like 30s, "
	  "5m or 2h)" },
	{ "[indexd]\ncommit_interval = 1h30m\n",
	  "2: bad value '1h30m' for commit_interval (want a duration like 30s, "
	  "5m or 2h)" },
	{ "[indexd]\ncommit_interval = 2h\n",
	  "2: value out of range for commit_interval (0..1h)" },
	{ "[indexd]\ncommit_interval = 3601\n",
	  "2: value out of range for commit_interval (0..1h)" },
	{ "[scanner]\nconnect_timeout = 0\n",
	  "2: value out of range for connect_timeout (1s..5m)" },
	{ "[scanner]\nread_timeout = 99999999999999999h\n",
	  "2: value out of range for read_timeout (1s..1h)" },
	/* path */
	{ "[spool]\ndir = \n", "2: bad value '' for dir (want a path)" },
	{ "[archive]\ndir = \"\"\n", "2: bad value '' for dir (want a path)" },
	/* endpoints */
	{ "[milter]\nsocket = /run/x.sock\n",
	  "2: bad value '/run/x.sock' for socket (want unix:/path or "
	  "inet:port@host)" },
	{ "[milter]\nsocket = inet:localhost:25\n",
	  "2: bad value 'inet:localhost:25' for socket (want unix:/path or "
	  "inet:port@host)" },
	{ "[milter]\nsocket = inet:99999@localhost\n",
	  "2: bad value 'inet:99999@localhost' for socket (want unix:/path or "
	  "inet:port@host)" },
	{ "[milter]\nsocket = inet:0\n",
	  "2: bad value 'inet:0' for socket (want unix:/path or "
	  "inet:port@host)" },
	{ "[milter]\nsocket = inet:25@\n",
	  "2: bad value 'inet:25@' for socket (want unix:/path or "
	  "inet:port@host)" },
	{ "[milter]\nsocket = unix:\n",
	  "2: bad value 'unix:' for socket (want unix:/path or "
	  "inet:port@host)" },
	{ "[milter]\nsocket = \n",
	  "2: bad value '' for socket (want unix:/path or inet:port@host)" },
	{ "[scanner]\nclamd = inet:localhost\n",
	  "2: bad value 'inet:localhost' for clamd (want unix:/path or "
	  "inet:host:port)" },
	{ "[scanner]\nclamd = unix:/a, inet::3310\n",
	  "2: bad value 'inet::3310' for clamd (want unix:/path or "
	  "inet:host:port)" },
	{ "[scanner]\nclamd = local:/a\n",
	  "2: bad value 'local:/a' for clamd (want unix:/path or "
	  "inet:host:port)" },
	{ "[scanner]\nclamd = inet:h:3310x\n",
	  "2: bad value 'inet:h:3310x' for clamd (want unix:/path or "
	  "inet:host:port)" },
	{ "[scanner]\nclamd =\n",
	  "2: empty list for clamd (want at least one value)" },
	{ "[scanner]\nclamd = \" , \"\n",
	  "2: empty list for clamd (want at least one value)" },
	/* retention: periods and rules are checked where they are read */
	{ "[retention]\ndefault = 7x\n",
	  "2: bad value '7x' for default (period: want 0 or a count with d, "
	  "w, m or y, e.g. 90d or 7y)" },
	{ "[retention]\ndefault = 10000d\n",
	  "2: bad value '10000d' for default (period: want 0 or a count with "
	  "d, w, m or y, e.g. 90d or 7y)" },
	{ "[retention]\ndefault = 1y\ndefault = 2y\n",
	  "3: duplicate key 'default' in [retention]" },
	{ "[retention]\nrule = 90d\n",
	  "2: bad value '90d' for rule (want PERIOD QUERY, e.g. 90d "
	  "verdict:infected)" },
	{ "[retention]\nrule = 0d verdict:infected\n",
	  "2: bad value '0d verdict:infected' for rule (period: want 0 or a "
	  "count with d, w, m or y, e.g. 90d or 7y)" },
	{ "[retention]\nrule = 1y from:a\n\nrule = 90d verdct:infected\n",
	  "4: bad value '90d verdct:infected' for rule (query: unknown field "
	  "'verdct' at column 1)" },
	{ "[retention]\nrule = 5y (a OR\n",
	  "2: bad value '5y (a OR' for rule (query: missing term after 'OR' at "
	  "column 4)" },
	/* long values are cut short in messages */
	{ "[archive]\nshard_by = "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aa"
	  "aaaaaaaaaa\n",
	  "2: bad value '"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aa"
	  "aa...' for shard_by (want month, year or none)" },
};

START_TEST(test_errors)
{
	const err_case *c = &err_cases[_i];
	ms_config *cfg = (ms_config *)&cfg; /* must be reset to NULL */
	char *err = NULL, want[512];
	ms_status_t st = ms_config_parse_string(c->text, strlen(c->text),
						"plugin.conf", &cfg, &err);
	ck_assert_int_eq(st, MS_ERR_CONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(err);
	snprintf(want, sizeof want, "plugin.conf:%s", c->want);
	ck_assert_str_eq(err, want);
	free(err);
	/* err_r may be NULL */
	st = ms_config_parse_string(c->text, strlen(c->text), "plugin.conf",
				    &cfg, NULL);
	ck_assert_int_eq(st, MS_ERR_CONFIG);
}
END_TEST

static void expect_error(const char *text, size_t len, const char *want)
{
	ms_config *cfg = NULL;
	char *err = NULL;
	ck_assert_int_eq(
		ms_config_parse_string(text, len, "t.conf", &cfg, &err),
		MS_ERR_CONFIG);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, want);
	free(err);
}

START_TEST(test_nul_byte)
{
	static const char text[] = "[milter]\nuser = a\0b\n";
	expect_error(text, sizeof text - 1, "t.conf:2: NUL byte in line");
	expect_error("\0", 1, "t.conf:1: NUL byte in line");
	/* NUL in a comment is an error too */
	static const char c[] = "# x\0y\n[milter]\n";
	expect_error(c, sizeof c - 1, "t.conf:1: NUL byte in line");
}
END_TEST

START_TEST(test_long_lines)
{
	size_t max = MS_CONFIG_MAX_LINE;
	char *t = malloc(max + 64);
	/* exactly max bytes: fine, also with CRLF */
	t[0] = '#';
	memset(t + 1, 'x', max - 1);
	memcpy(t + max, "\r\n[milter]\n", 12);
	parse_any(t, strlen(t));
	ms_config *cfg = NULL;
	ck_assert_int_eq(ms_config_parse_string(t, strlen(t), "t", &cfg, NULL),
			 MS_OK);
	ms_config_free(&cfg);
	/* one more: error, with and without a newline after it */
	memset(t + 1, 'x', max);
	strcpy(t + max + 1, "\n");
	expect_error(t, strlen(t),
		     "t.conf:1: line too long (more than 4096 bytes)");
	expect_error(t, max + 1,
		     "t.conf:1: line too long (more than 4096 bytes)");
	/* a long value on line 3 */
	strcpy(t, "[milter]\n\nuser = ");
	size_t n = strlen(t);
	memset(t + n, 'u', max);
	t[n + max] = '\0';
	expect_error(t, strlen(t),
		     "t.conf:3: line too long (more than 4096 bytes)");
	free(t);
	/* a huge input is no problem either */
	size_t big = 3 * 1024 * 1024;
	char *h = malloc(big);
	memset(h, '\n', big);
	ck_assert_int_eq(ms_config_parse_string(h, big, "t", &cfg, NULL),
			 MS_OK);
	ms_config_free(&cfg);
	free(h);
}
END_TEST

/* ---- good values ---- */

typedef struct val_case {
	const char *section;
	const char *line; /* "key = value" as written in the file */
	const char *want; /* the value as ms_config_dump writes it */
} val_case;

static const val_case val_cases[] = {
	/* size */
	{ "scanner", "max_scan_size = 25M", "25M" },
	{ "scanner", "max_scan_size = 25m", "25M" },
	{ "scanner", "max_scan_size = 1024k", "1M" },
	{ "scanner", "max_scan_size = 1k", "1k" },
	{ "scanner", "max_scan_size = 1K", "1k" },
	{ "scanner", "max_scan_size = 1024", "1k" },
	{ "scanner", "max_scan_size = 1025", "1025" },
	{ "scanner", "max_scan_size = 1536k", "1536k" },
	{ "scanner", "max_scan_size = 4G", "4G" },
	{ "scanner", "max_scan_size = 4g", "4G" },
	{ "scanner", "max_scan_size = 4194304k", "4G" },
	{ "scanner", "max_scan_size = 0004096", "4k" },
	{ "milter", "max_message_size = 0", "0" },
	{ "milter", "max_message_size = 0G", "0" },
	{ "archive", "max_text_per_part = 1G", "1G" },
	/* duration */
	{ "indexd", "commit_interval = 0", "0" },
	{ "indexd", "commit_interval = 0s", "0" },
	{ "indexd", "commit_interval = 90", "90s" },
	{ "indexd", "commit_interval = 90s", "90s" },
	{ "indexd", "commit_interval = 120s", "2m" },
	{ "indexd", "commit_interval = 2M", "2m" },
	{ "indexd", "commit_interval = 60m", "1h" },
	{ "indexd", "commit_interval = 3600", "1h" },
	{ "indexd", "commit_interval = 1H", "1h" },
	{ "milter", "timeout = 300s", "5m" },
	{ "scanner", "connect_timeout = 1", "1s" },
	/* uint */
	{ "archive", "compression_level = 9", "9" },
	{ "archive", "compression_level = 007", "7" },
	{ "indexd", "batch_size = 100000", "100000" },
	{ "imap", "batch_size = 1", "1" },
	{ "milter", "max_connections = 0", "0" },
	{ "milter", "max_connections = 1000000", "1000000" },
	/* bool */
	{ "policy", "skip_authenticated = yes", "yes" },
	{ "policy", "skip_authenticated = YES", "yes" },
	{ "policy", "skip_authenticated = true", "yes" },
	{ "policy", "skip_authenticated = On", "yes" },
	{ "policy", "skip_authenticated = 1", "yes" },
	{ "archive", "keep_infected = no", "no" },
	{ "archive", "keep_infected = False", "no" },
	{ "archive", "keep_infected = off", "no" },
	{ "archive", "keep_infected = 0", "no" },
	{ "imap", "archive_reuse = \"no\"", "no" },
	/* enum */
	{ "policy", "on_infected = quarantine", "quarantine" },
	{ "policy", "on_infected = Discard", "discard" },
	{ "policy", "on_infected = TAG", "tag" },
	{ "policy", "on_scan_failure = accept", "accept" },
	{ "policy", "on_oversize = accept", "accept" },
	{ "archive", "shard_by = none", "none" },
	{ "archive", "shard_by = year", "year" },
	/* strings, quotes, comments */
	{ "milter", "user = mail", "mail" },
	{ "milter", "user=mail", "mail" },
	{ "milter", "  user   =   mail   ", "mail" },
	{ "milter", "\tuser\t=\tmail\t", "mail" },
	{ "milter", "user = mail # the mail user", "mail" },
	{ "milter", "user = mail\t; the mail user", "mail" },
	{ "milter", "user = mail#x", "\"mail#x\"" },
	{ "milter", "user = mail;x", "\"mail;x\"" },
	{ "milter", "user = # only a comment", "\"\"" },
	{ "milter", "user =", "\"\"" },
	{ "milter", "user = \"\"", "\"\"" },
	{ "milter", "user = \"mail\"", "mail" },
	{ "milter", "user = \"a # b\" # comment", "\"a # b\"" },
	{ "milter", "user = \" padded \"", "\" padded \"" },
	{ "milter", "user = \"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\"" },
	{ "milter", "user = \"back\\\\slash\"", "back\\slash" },
	{ "milter", "user = a\\b", "a\\b" },
	{ "milter", "user = \"a\\b\"", "a\\b" },
	{ "milter", "user = a \"b\" c", "\"a \\\"b\\\" c\"" },
	{ "milter", "user = two words", "two words" },
	{ "milter", "user = x=y", "x=y" },
	{ "milter", "user = caf\xc3\xa9", "caf\xc3\xa9" },
	/* paths (the file is NAME, so relative means /etc/ms/...) */
	{ "spool", "dir = /var/spool/x", "/var/spool/x" },
	{ "spool", "dir = /var//spool/./x/", "/var/spool/x" },
	{ "spool", "dir = /", "/" },
	{ "spool", "dir = //", "/" },
	{ "spool", "dir = var/spool", "/etc/ms/var/spool" },
	{ "spool", "dir = ./var/spool", "/etc/ms/var/spool" },
	{ "spool", "dir = .", "/etc/ms" },
	{ "spool", "dir = ../lib/x", "/etc/ms/../lib/x" },
	{ "spool", "dir = \"with space\"", "/etc/ms/with space" },
	{ "archive", "encrypt_key = \"\"", "\"\"" },
	{ "archive", "encrypt_key = key.bin", "/etc/ms/key.bin" },
	{ "milter", "pidfile = run/milter.pid", "/etc/ms/run/milter.pid" },
	{ "imap", "user_addresses = /etc/a", "/etc/a" },
	{ "audit", "file = log/audit.log", "/etc/ms/log/audit.log" },
	{ "audit", "file = \"\"", "\"\"" },
	/* retention */
	{ "retention", "default = 7y", "7y" },
	{ "retention", "default = 0", "0" },
	{ "retention", "default = 12m", "12m" },
	{ "retention", "rule = 90d verdict:infected", "90d verdict:infected" },
	{ "retention", "rule = 0 from:ceo@example.org",
	  "0 from:ceo@example.org" },
	{ "retention", "rule = 2w subject:\"a b\" # c",
	  "\"2w subject:\\\"a b\\\"\"" },
	{ "retention", "rule = \"\"", "\"\"" },
	/* endpoints */
	{ "milter", "socket = inet:8890@127.0.0.1", "inet:8890@127.0.0.1" },
	{ "milter", "socket = inet:8890", "inet:8890" },
	{ "milter", "socket = inet6:8890@::1", "inet6:8890@::1" },
	{ "milter", "socket = local:/run/m.sock", "local:/run/m.sock" },
	{ "milter", "socket = unix:m.sock", "unix:/etc/ms/m.sock" },
	{ "milter", "socket = unix:./var//m.sock", "unix:/etc/ms/var/m.sock" },
	{ "scanner", "clamd = inet:127.0.0.1:3310", "inet:127.0.0.1:3310" },
	{ "scanner", "clamd = inet:[::1]:3310", "inet:[::1]:3310" },
	{ "scanner", "clamd = unix:/a,inet:h:1", "unix:/a, inet:h:1" },
	{ "scanner", "clamd = unix:c.sock inet:h:65535",
	  "unix:/etc/ms/c.sock, inet:h:65535" },
	/* lists */
	{ "policy", "blocked_extensions = exe", "exe" },
	{ "policy", "blocked_extensions = exe,scr", "exe, scr" },
	{ "policy", "blocked_extensions =   exe ,  scr\tcom  ",
	  "exe, scr, com" },
	{ "policy", "blocked_extensions = exe,,scr,", "exe, scr" },
	{ "policy", "blocked_extensions = ,", "\"\"" },
	{ "policy", "blocked_extensions =", "\"\"" },
	{ "policy", "blocked_extensions = \"\"", "\"\"" },
	{ "policy", "blocked_extensions = \"exe; scr\"", "\"exe;, scr\"" },
	{ "policy", "blocked_extensions = \"exe, #scr\"", "\"exe, #scr\"" },
	{ "policy", "blocked_extensions = exe # , scr", "exe" },
};

START_TEST(test_values)
{
	const val_case *c = &val_cases[_i];
	char text[256];
	snprintf(text, sizeof text, "[%s]\n%s\n", c->section, c->line);
	ms_config *cfg = parse_ok(text);
	char *key = strndup(c->line + strspn(c->line, " \t"),
			    strcspn(c->line + strspn(c->line, " \t"), " \t="));
	char *got = dumped_value(cfg, c->section, key);
	ck_assert_msg(!strcmp(got, c->want), "<%s>: got <%s>, want <%s>",
		      c->line, got, c->want);
	/* the dumped form reads back to the same */
	char *d1 = dump_of(cfg);
	ms_config *again = parse_ok(d1);
	char *d2 = dump_of(again);
	ck_assert_str_eq(d1, d2);
	free(d1);
	free(d2);
	free(got);
	free(key);
	ms_config_free(&again);
	ms_config_free(&cfg);
}
END_TEST

START_TEST(test_members)
{
	ms_config *cfg =
		parse_ok("\xef\xbb\xbf# BOM, CRLF and no newline at the end\r\n"
			 "[scanner]\r\n"
			 "clamd = unix:/a.sock, inet:10.0.0.1:3310\r\n"
			 "max_scan_size = 99M\r\n"
			 "read_timeout = 30m # out of order is fine\r\n"
			 "[policy]\r\n"
			 "blocked_extensions = \"  exe  zip \"\r\n"
			 "on_infected = tag\r\n"
			 "[archive]\r\n"
			 "shard_by = year\r\n"
			 "[scanner]\r\n"
			 "chunk_size = 1M\r\n"
			 "[milter]\r\n"
			 "max_message_size = 3G");
	ck_assert_str_eq(cfg->scanner_clamd[0], "unix:/a.sock");
	ck_assert_str_eq(cfg->scanner_clamd[1], "inet:10.0.0.1:3310");
	ck_assert_ptr_null(cfg->scanner_clamd[2]);
	ck_assert_uint_eq(cfg->scanner_max_scan_size, 99ull << 20);
	ck_assert_uint_eq(cfg->scanner_read_timeout, 1800);
	ck_assert_uint_eq(cfg->scanner_chunk_size, 1 << 20);
	ck_assert_str_eq(cfg->policy_blocked_extensions[0], "exe");
	ck_assert_str_eq(cfg->policy_blocked_extensions[1], "zip");
	ck_assert_ptr_null(cfg->policy_blocked_extensions[2]);
	ck_assert_int_eq(cfg->policy_on_infected, MS_ON_INFECTED_TAG);
	ck_assert_int_eq(cfg->archive_shard_by, MS_SHARD_BY_YEAR);
	ck_assert_uint_eq(cfg->milter_max_message_size, 3ull << 30);
	/* untouched keys keep their defaults */
	ck_assert_uint_eq(cfg->scanner_connect_timeout, 5);
	ck_assert_str_eq(cfg->spool_dir, "/var/spool/mailsift");
	ms_config_free(&cfg);
	/* an empty list is an array holding only NULL */
	cfg = parse_ok("[policy]\nblocked_extensions =\n");
	ck_assert_ptr_nonnull(cfg->policy_blocked_extensions);
	ck_assert_ptr_null(cfg->policy_blocked_extensions[0]);
	ms_config_free(&cfg);
}
END_TEST

START_TEST(test_empty_inputs)
{
	static const char *const texts[] = {
		"",	    "\n",     "\r\n",	  "# x",	  "; x\n",
		"   \t \n", "[imap]", "[imap]\n", "\xef\xbb\xbf", "[ imap ] # c"
	};
	char *want = defaults_dump();
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		ms_config *cfg = parse_ok(texts[i]);
		char *got = dump_of(cfg);
		ck_assert_str_eq(got, want);
		free(got);
		ms_config_free(&cfg);
	}
	free(want);
}
END_TEST

/* A repeatable key: every occurrence is one item, in order; "" adds
 * none; the dump writes one line per item and reads back the same. */
START_TEST(test_lines)
{
	ms_config *cfg = parse_ok("[retention]\nrule = 90d verdict:infected\n"
				  "default = 7y\n"
				  "rule = \"\"\n"
				  "[archive]\ndir = /a\n"
				  "[retention]\nrule =   1y  from:x@y  # c\n");
	ck_assert_str_eq(cfg->retention_default, "7y");
	ck_assert_str_eq(cfg->retention_rule[0], "90d verdict:infected");
	ck_assert_str_eq(cfg->retention_rule[1], "1y  from:x@y");
	ck_assert_ptr_null(cfg->retention_rule[2]);
	char *d1 = dump_of(cfg);
	ck_assert_ptr_nonnull(strstr(d1, "[retention]\ndefault = 7y\n"
					 "rule = 90d verdict:infected\n"
					 "rule = 1y  from:x@y\n"));
	ck_assert_ptr_null(strstr(strstr(d1, "x@y\n"), "\nrule = "));
	ms_config *again = parse_ok(d1);
	ck_assert_ptr_null(again->retention_rule[2]);
	char *d2 = dump_of(again);
	ck_assert_str_eq(d1, d2);
	free(d1);
	free(d2);
	ms_config_free(&again);
	ms_config_free(&cfg);
	/* "" alone: no rules */
	cfg = parse_ok("[retention]\nrule = \"\"\n");
	ck_assert_ptr_null(cfg->retention_rule[0]);
	ms_config_free(&cfg);
}
END_TEST

/* A config with unusual values survives dump -> parse -> dump. */
START_TEST(test_dump_round_trip)
{
	ms_config *cfg = parse_ok("[milter]\nuser = \"  x#y;z\\\\\\\"\"\n"
				  "socket = unix:rel/m.sock\n"
				  "[policy]\nblocked_extensions = \";a, b\"\n"
				  "[archive]\ndir = \"a;b\"\n");
	ck_assert_str_eq(cfg->milter_user, "  x#y;z\\\"");
	ck_assert_str_eq(cfg->archive_dir, "/etc/ms/a;b");
	char *d1 = dump_of(cfg);
	ms_config *again = parse_ok(d1);
	ck_assert_str_eq(again->milter_user, "  x#y;z\\\"");
	ck_assert_str_eq(again->policy_blocked_extensions[0], ";a");
	char *d2 = dump_of(again);
	ck_assert_str_eq(d1, d2);
	ck_assert_ptr_nonnull(strstr(d1, "\n\n[scanner]\nclamd = "));
	ck_assert(!strncmp(d1, "[milter]\nsocket = unix:/etc/ms/rel/m.sock\n",
			   41));
	free(d1);
	free(d2);
	ms_config_free(&again);
	ms_config_free(&cfg);
}
END_TEST

/* ---- relative names and files ---- */

static char *tmpdir;

static void setup(void)
{
	tmpdir = ms_test_tmpdir("test_config");
}

static void teardown(void)
{
	ms_test_tmpdir_free(&tmpdir);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_relative_names)
{
	char cwd[PATH_MAX], want[PATH_MAX + 64];
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	static const char text[] = "[spool]\ndir = ./var/spool\n";
	static const char *const names[] = { "plugin.conf", "./plugin.conf",
					     "sub/plugin.conf", NULL };
	static const char *const dirs[] = { "", "", "/sub" };
	for (int i = 0; i < 4; i++) {
		ms_config *cfg = NULL;
		ck_assert_int_eq(ms_config_parse_string(text, sizeof text - 1,
							names[i], &cfg, NULL),
				 MS_OK);
		snprintf(want, sizeof want, "%s%s/var/spool",
			 strcmp(cwd, "/") ? cwd : "", i < 3 ? dirs[i] : "");
		ck_assert_str_eq(cfg->spool_dir, want);
		ms_config_free(&cfg);
	}
	ms_config *cfg = NULL;
	ck_assert_int_eq(ms_config_parse_string(text, sizeof text - 1,
						"/plugin.conf", &cfg, NULL),
			 MS_OK);
	ck_assert_str_eq(cfg->spool_dir, "/var/spool");
	ms_config_free(&cfg);
}
END_TEST

START_TEST(test_load_file)
{
	char path[128], want[256];
	snprintf(path, sizeof path, "%s/plugin.conf", tmpdir);
	write_file(path, "[spool]\ndir = var/spool\n[milter]\n"
			 "socket = unix:var/run/milter.sock\n");
	ms_config *cfg = NULL;
	char *err = (char *)path; /* must be reset to NULL */
	ck_assert_int_eq(ms_config_load(path, &cfg, &err), MS_OK);
	ck_assert_ptr_null(err);
	snprintf(want, sizeof want, "%s/var/spool", tmpdir);
	ck_assert_str_eq(cfg->spool_dir, want);
	snprintf(want, sizeof want, "unix:%s/var/run/milter.sock", tmpdir);
	ck_assert_str_eq(cfg->milter_socket, want);
	ms_config_free(&cfg);
	/* errors carry the path given */
	write_file(path, "[milter]\n\nsockett = x\n");
	ck_assert_int_eq(ms_config_load(path, &cfg, &err), MS_ERR_CONFIG);
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof want, "%s:3: unknown key 'sockett' in [milter]",
		 path);
	ck_assert_str_eq(err, want);
	free(err);
}
END_TEST

START_TEST(test_load_errors)
{
	char path[128], want[256];
	ms_config *cfg = (ms_config *)&cfg;
	char *err = NULL;
	snprintf(path, sizeof path, "%s/missing.conf", tmpdir);
	ck_assert_int_eq(ms_config_load(path, &cfg, &err), MS_ERR_IO);
	ck_assert_ptr_null(cfg);
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
	free(err);
	ck_assert_int_eq(ms_config_load(tmpdir, &cfg, &err), MS_ERR_IO);
	snprintf(want, sizeof want, "%s: Is a directory", tmpdir);
	ck_assert_str_eq(err, want);
	free(err);
	ck_assert_int_eq(ms_config_load(path, &cfg, NULL), MS_ERR_IO);
	/* an empty file is all defaults */
	snprintf(path, sizeof path, "%s/empty.conf", tmpdir);
	write_file(path, "");
	ck_assert_int_eq(ms_config_load(path, &cfg, &err), MS_OK);
	ms_config_free(&cfg);
	/* too large */
	snprintf(path, sizeof path, "%s/big.conf", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < MS_CONFIG_MAX_FILE / 64 + 1; i++)
		fprintf(f, "%063d\n", 0);
	fclose(f);
	ck_assert_int_eq(ms_config_load(path, &cfg, &err), MS_ERR_CONFIG);
	snprintf(want, sizeof want, "%s: file too large (more than 1 MiB)",
		 path);
	ck_assert_str_eq(err, want);
	free(err);
	/* a file of exactly the limit loads */
	f = fopen(path, "w");
	for (int i = 0; i < MS_CONFIG_MAX_FILE / 64; i++)
		fprintf(f, "#%062d\n", 0);
	fclose(f);
	ck_assert_int_eq(ms_config_load(path, &cfg, &err), MS_OK);
	ms_config_free(&cfg);
}
END_TEST

/* ---- references ---- */

static void *ref_worker(void *arg)
{
	ms_config *cfg = arg;
	for (int i = 0; i < 20000; i++) {
		ms_config *mine = ms_config_ref(cfg);
		ck_assert_ptr_eq(mine, cfg);
		ms_config_unref(&mine);
		ck_assert_ptr_null(mine);
	}
	return NULL;
}

START_TEST(test_refcount)
{
	ms_config *cfg = NULL;
	ck_assert_int_eq(ms_config_defaults(&cfg), MS_OK);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, ref_worker, cfg),
				 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* a reader keeps the snapshot alive after the owner drops it */
	ms_config *reader = ms_config_ref(cfg);
	ms_config_unref(&cfg);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(reader->spool_dir, "/var/spool/mailsift");
	ms_config_unref(&reader);
	/* NULLs are no-ops */
	ck_assert_ptr_null(ms_config_ref(NULL));
	ms_config_unref(NULL);
	ms_config_unref(&reader);
	ms_config_free(&reader);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_table_sane);
	tcase_add_test(tc, test_sample_is_defaults);
	tcase_add_test(tc, test_sample_lists_every_key);
	tcase_add_test(tc, test_sample_prefixes);
	tcase_add_test(tc, test_sample_mutations);
	tcase_add_loop_test(tc, test_errors, 0,
			    sizeof err_cases / sizeof err_cases[0]);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_long_lines);
	tcase_add_loop_test(tc, test_values, 0,
			    sizeof val_cases / sizeof val_cases[0]);
	tcase_add_test(tc, test_members);
	tcase_add_test(tc, test_empty_inputs);
	tcase_add_test(tc, test_dump_round_trip);
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_relative_names);
	tcase_add_test(tc, test_refcount);
	suite_add_tcase(s, tc);
	TCase *files = tcase_create("files");
	tcase_add_checked_fixture(files, setup, teardown);
	tcase_add_test(files, test_load_file);
	tcase_add_test(files, test_load_errors);
	suite_add_tcase(s, files);
	return s;
}

int main(void)
{
	return ms_test_run(config_suite());
}
