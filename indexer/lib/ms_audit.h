/* ms_audit.h - the tamper-evident audit trail: one hash-chained JSON line
 * per access to or change of the archive.
 *
 * The log (by default <archive dir>/audit.log) holds one JSON object per
 * line, fields in this order:
 *   {"seq":N,"time":"2024-05-01T12:00:00.123456Z","operator":"alice",
 *    "client":"","host":"mx1","pid":123,"uid":0,"action":"search",
 *    "query":"from:bob","matched":3,"ids":["..."],"prev":"<64 hex>"}
 * seq counts lines from 1; query is null when there was none; prev is the
 * SHA-256 (lower-case hex) of the previous line's bytes, newline included;
 * the first line's prev is MS_AUDIT_GENESIS (64 zeros). client is the web
 * console's client address ("" from the command line). A line whose
 * append repaired the log (see below) says what in "repair":"..." just
 * before prev, so every repair is itself in the chain.
 *
 * The chain head is kept beside the log in <log>.head, replaced atomically
 * (tmp + fsync + rename + directory fsync) after every append:
 *   mailsift-audit-head 1\nlines N\nbytes B\nlast <hex of line N>\n
 * Appends from every process are serialised by flock(LOCK_EX) on the log;
 * the line is fdatasync'ed before ms_audit_append() returns. A batch
 * (ms_audit_append_batch: the web console's group commit) takes the lock
 * once, writes all its lines in one write, syncs once and replaces the
 * head once: the same lines, chain and head as that many single appends.
 *
 * Crash repair (done by the next append, under the lock): complete lines
 * after the head's end that continue the chain (a crash after the line's
 * fsync, before the head's rename) are taken into the head; a partial last
 * line (no newline) that follows exactly what the head describes is a
 * crash-cut append and is truncated away. Anything else is never removed:
 * a foreign fragment is closed with a newline and left for verify to name,
 * and the new line's prev still comes from the head, so the break stays
 * visible. The library never prints; errors come back in *err_r.
 *
 * Functions: ms_audit_path, ms_audit_append, ms_audit_append_batch,
 * ms_audit_verify,
 * ms_audit_each, ms_audit_line_format, ms_audit_line_parse,
 * ms_audit_rec_free.
 */
#ifndef MS_AUDIT_H
#define MS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_config.h"
#include "ms_hash.h"
#include "ms_status.h"

#define MS_AUDIT_GENESIS                                                       \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* What happened: borrowed strings, none owned by the library. */
typedef struct ms_audit_entry {
	const char *user;	/* the operator: Unix user, or the web user */
	const char *client;	/* web client address; NULL or "" = none */
	const char *host;	/* host name; NULL = this host's */
	const char *action;	/* "search", "count", "show", "export", ... */
	const char *query;	/* NULL = none (written as null) */
	uint64_t matched;	/* messages matched / affected */
	const char *const *ids; /* ids shown/exported/expired; may be NULL */
	size_t n_ids;
} ms_audit_entry;

/* One line read back. Every string is malloc'ed and never NULL (query is
 * NULL only when the line had null, repair when it had none); free with
 * ms_audit_rec_free(). */
typedef struct ms_audit_rec {
	uint64_t seq, pid, uid, matched;
	char *time, *user, *client, *host, *action, *query, *repair;
	char **ids; /* n_ids strings */
	size_t n_ids;
	char prev[MS_SHA256_HEX];
} ms_audit_rec;

/* The log's path: [audit] file, or audit.log in the [archive] dir.
 * Caller frees with free(); NULL when out of memory. */
char *ms_audit_path(const ms_config *cfg);

/* Appends one line for e to the log at path (created with mode 0600 if
 * missing, as is its head), repairing a crash-cut tail first (see above).
 * time and pid are the caller's; seq and prev come from the head. Returns
 * once the line and the new head are on disk:
 *   MS_OK
 *   MS_ERR_INVALID  e->user or e->action missing/empty
 *   MS_ERR_IO       the log or head could not be opened, locked, read,
 *                   written or synced: *err_r says which and why; the log
 *                   may then hold a partial line the next append repairs
 *   MS_ERR_NOMEM
 * On failure *err_r (if err_r) is a one-line malloc'ed message the caller
 * frees with free(); on MS_OK it is NULL. */
ms_status_t ms_audit_append(const char *path, const ms_audit_entry *e,
			    char **err_r);

/* The most lines one batch may hold; also how far behind the log the head
 * may be after a crash (lines synced, head not yet replaced) before
 * verify calls the extra lines inserted rather than HEAD_BEHIND. */
#define MS_AUDIT_BATCH_MAX 64

/* Appends es[0..n) (borrowed; n = 0: nothing, MS_OK) as n consecutive
 * lines in that order, under one lock, with one write, one fdatasync and
 * one head replacement, repairing a crash-cut tail first as
 * ms_audit_append does (the repair is noted on the batch's first line).
 * All or nothing for the caller: MS_OK means every line and the new head
 * are on disk; any error (statuses and *err_r as for ms_audit_append)
 * holds for the whole batch, and nothing is written when an entry lacks
 * user or action or n > MS_AUDIT_BATCH_MAX (MS_ERR_INVALID). A write or sync
 * error may leave a partial batch after the head; the next append repairs it as
 * a crash (complete lines that continue the chain are kept: they were written,
 * just not confirmed). ms_audit_append(p, e) is this with n = 1. */
ms_status_t ms_audit_append_batch(const char *path,
				  const ms_audit_entry *const *es, size_t n,
				  char **err_r);

typedef enum ms_audit_state {
	MS_AUDIT_INTACT = 0,  /* chain and head agree */
	MS_AUDIT_CRASH_CUT,   /* intact, plus a partial last line (crash
				 during an append); the next append repairs */
	MS_AUDIT_HEAD_BEHIND, /* intact, but the head misses the last lines
				 (crash between a batch's lines and its head:
				 at most MS_AUDIT_BATCH_MAX); repaired too */
	MS_AUDIT_DAMAGED      /* changed, removed, inserted or cut lines */
} ms_audit_state;

typedef struct ms_audit_report {
	ms_audit_state state;
	uint64_t lines;		  /* complete lines in the log */
	uint64_t head_lines;	  /* lines according to the head */
	uint64_t bad_line;	  /* DAMAGED: first bad line (1-based; 0 = the
				     head file itself) */
	char message[256];	  /* one line for people; "" when intact */
	char last[MS_SHA256_HEX]; /* hash of the last complete line */
} ms_audit_report;

/* Recomputes the chain of the log at path under a shared lock (so no
 * append is seen half-written) and compares it with the head; fills *r.
 * A missing log and head is an intact empty trail. MS_OK whatever the
 * state (read r->state); MS_ERR_IO when the log cannot be read (*err_r as
 * for ms_audit_append); MS_ERR_NOMEM. */
ms_status_t ms_audit_verify(const char *path, ms_audit_report *r, char **err_r);

/* Calls fn for each complete line of the log in order, with the line's
 * bytes (without newline) and its parse (rec NULL when the line is not a
 * valid entry). fn returns 0 to go on, nonzero to stop (returned as
 * MS_ERR_INVALID). A missing log has no lines. MS_OK, MS_ERR_IO (*err_r),
 * MS_ERR_NOMEM. */
ms_status_t ms_audit_each(const char *path,
			  int (*fn)(const char *line, size_t len,
				    const ms_audit_rec *rec, void *ctx),
			  void *ctx, char **err_r);

/* What a line says about itself (ms_audit_append fills it in). */
typedef struct ms_audit_stamp {
	uint64_t seq;
	int64_t now_us; /* the time, epoch microseconds */
	uint64_t pid, uid;
	const char *prev;   /* 64 hex digits */
	const char *repair; /* what this append repaired; NULL = nothing */
} ms_audit_stamp;

/* Appends e as one line (with newline) to out, stamped with s; time is
 * written in UTC, ISO 8601 with microseconds. MS_OK, MS_ERR_INVALID
 * (user/action missing), MS_ERR_NOMEM (out as it was). */
ms_status_t ms_audit_line_format(ms_buf *out, const ms_audit_entry *e,
				 const ms_audit_stamp *s);

/* Parses line[0..len) (without newline) into *rec (caller frees with
 * ms_audit_rec_free). Accepts exactly the flat objects this module
 * writes: keys in any order, unknown keys with string, number, null or
 * string-array values ignored; seq, time, user ("operator"), action and a
 * 64-hex prev are required. MS_OK, MS_ERR_PARSE (*rec zeroed),
 * MS_ERR_NOMEM. */
ms_status_t ms_audit_line_parse(const char *line, size_t len,
				ms_audit_rec *rec);

/* Frees what rec holds and zeroes it. NULL-safe. */
void ms_audit_rec_free(ms_audit_rec *rec);

#endif
