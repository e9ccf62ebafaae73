/* ms_spool_int.h - internals shared by the spool's files, from the top:
 * ms_spool.c (the public API: the handle, the message writer, legacy entry
 * files, dispatch), ms_spool_seg.c (appending to segments, group commit),
 * ms_spool_scan.c (reading, listing and retiring segments), ms_spool_fmt.c
 * (the segment format: pure functions over bytes), ms_spool_util.c (paths,
 * ids, decoding an entry's envelope record).
 *
 * Segment format (all numbers little-endian):
 *   segment header, 64 bytes: "MSSPSEG1", the writer's boot id (40 bytes,
 *   NUL-padded), creation time (u64, Unix seconds), u32 0, u32 CRC-32 of
 *   bytes 0..59;
 *   then entries, each a 32-byte header: "MSE1", u32 type (1 = message,
 *   2 = commit), u64 message length, u32 record length, u32 CRC-32 of the
 *   payload (message then record), u32 0, u32 CRC-32 of header bytes
 *   0..27; then the payload.
 *   A message entry's payload is the message and its envelope record (as
 *   in a legacy entry file); a commit entry's payload is a u64 offset: the
 *   writer's fdatasync returned for every byte before it.
 * In the boot that wrote it, a message entry counts only once a later
 * commit entry covers it (a SIGKILLed writer leaves page-cached entries
 * that were never flushed, never answered: they are dropped). After a
 * reboot, every entry with valid checksums before the first invalid byte
 * counts (the last commit entry itself may not have reached the disk).
 */
#ifndef MS_SPOOL_INT_H
#define MS_SPOOL_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ms_spool.h"

#define MS_SEG_HDR	64
#define MS_SEG_EHDR	32
#define MS_SEG_COMMIT	(MS_SEG_EHDR + 8)
#define MS_SEG_T_MSG	1
#define MS_SEG_T_COMMIT 2
#define MS_SEG_BOOT	40
#define MS_SEG_NAME_MAX 64
#define MS_SEG_REC_MAX	(64u * 1024 * 1024)
#define MS_SEG_LEN_MAX	999999999999ULL

/* ---- ms_spool_fmt.c: the format ---- */

typedef struct ms_seg_ehdr {
	uint32_t type;
	uint64_t msg_len;
	uint32_t rec_len;
	uint32_t crc; /* of the payload */
} ms_seg_ehdr;

void ms_seg_put_header(unsigned char out[MS_SEG_HDR], const char *boot,
		       uint64_t created);
/* 0 and boot (NUL-terminated) and *created filled, or -1: not a header. */
int ms_seg_get_header(const unsigned char *p, size_t n,
		      char boot[MS_SEG_BOOT + 1], uint64_t *created);
void ms_seg_put_ehdr(unsigned char out[MS_SEG_EHDR], const ms_seg_ehdr *h);
/* 0 when p[0..n) starts with a valid entry header whose entry fits in
 * room bytes (from its start), else -1. */
int ms_seg_get_ehdr(const unsigned char *p, size_t n, uint64_t room,
		    ms_seg_ehdr *h);
uint64_t ms_seg_entry_len(const ms_seg_ehdr *h);
uint32_t ms_seg_crc(uint32_t crc, const void *p, size_t n);
/* The commit payload's offset, or 0 (invalid) for a bad payload. */
uint64_t ms_seg_commit_through(const ms_seg_ehdr *h, const unsigned char *p);

/* Decodes a message entry's payload p[0..h->msg_len + h->rec_len) (CRC,
 * record) into a new entry named name. MS_OK, MS_ERR_PARSE (*why_r a
 * static reason), MS_ERR_NOMEM. The entry's msg points into p, so p must
 * outlive it; map/map_len (may be NULL/0) are unmapped by
 * ms_spool_entry_free (also on error). */
ms_status_t ms_seg_decode(const char *name, const ms_seg_ehdr *h, const char *p,
			  void *map, size_t map_len, ms_spool_entry **e_r,
			  const char **why_r);

/* ---- ms_spool_scan.c: walking a segment ---- */

/* What a walk of a segment's entries found. */
typedef struct ms_seg_walk {
	uint64_t off;	 /* next offset not understood */
	uint64_t proven; /* highest commit offset seen */
	int strict;	 /* same boot: only proven entries count */
	int stuck;	 /* stopped at bytes that are not an entry */
	void (*on_msg)(void *ctx, uint64_t off, uint64_t len);
	void *ctx;
} ms_seg_walk;

/* Reads n bytes at off into buf; returns bytes read or -1. */
typedef long (*ms_seg_read_fn)(void *src, uint64_t off, void *buf, size_t n);

/* Walks entries from w->off up to size; message entries go to on_msg.
 * Outside a strict walk, message payloads are checked (CRC) and the walk
 * stops at the first bad one (a torn tail). */
void ms_seg_walk_run(ms_seg_walk *w, ms_seg_read_fn rd, void *src,
		     uint64_t size);

/* ---- ms_spool.c: the handle ---- */

typedef struct ms_seg_w ms_seg_w; /* the segment being appended */
typedef struct ms_seg_r ms_seg_r; /* a segment being read */

struct ms_spool {
	char *dir;
	char boot[MS_SEG_BOOT + 1];
	pthread_mutex_t mu; /* writers: cur and every ms_seg_w */
	pthread_cond_t cv;
	ms_seg_w *cur;
	pthread_mutex_t rmu; /* readers: the segment table */
	ms_seg_r *segs;
};

/* ---- ms_spool_util.c ---- */

/* "a/b[/c]" (caller frees) or NULL. */
char *ms_spool_path(const char *a, const char *b, const char *c);
/* fsyncs a directory; 0 or an errno. */
int ms_spool_sync_dir(const char *path);
int ms_spool_id_ok(const char *id);
/* Names a reader accepts for a legacy file in new/. */
int ms_spool_name_ok(const char *name);
/* Makes an entry named name from msg[0..msg_len) and a copy of the record
 * rec[0..rec_len); id_is_name: the record's id must equal name (legacy
 * files), else it must be a valid id. map/map_len are the entry's to
 * unmap. MS_OK, MS_ERR_PARSE (*why_r static), MS_ERR_NOMEM; on error map
 * is unmapped too. */
ms_status_t ms_spool_entry_make(const char *name, const char *msg,
				size_t msg_len, const char *rec, size_t rec_len,
				int id_is_name, void *map, size_t map_len,
				ms_spool_entry **e_r, const char **why_r);

/* ---- ms_spool_seg.c: appending, group commit ---- */

/* Appends one message entry: hdr-less payload pieces msg (n_msg bytes
 * from fd at offset 0, or mem when not NULL) and rec, then waits until an
 * fdatasync covers it. MS_OK only then; MS_ERR_IO with *err_r (caller
 * frees) otherwise. Thread-safe. */
ms_status_t ms_seg_append(ms_spool *sp, int fd, const char *mem, uint64_t n_msg,
			  uint32_t msg_crc, const char *rec, size_t n_rec,
			  char **err_r);
/* Seals and closes the current segment (no waiter may be left). */
void ms_seg_close_writer(ms_spool *sp);

/* ---- ms_spool_scan.c: the reader side ---- */

/* Segment entry names are "SEGMENT/OFFSET"; 1 if name is one (seg_r gets
 * the segment part, off_r the offset). */
int ms_seg_name_parse(const char *name, char seg_r[MS_SEG_NAME_MAX],
		      uint64_t *off_r);
/* Adds the names of segment entries (not yet handed out when only_new)
 * to the array *v (*n names, room for *cap). MS_OK, MS_ERR_IO, MS_ERR_NOMEM. */
ms_status_t ms_seg_list(ms_spool *sp, int only_new, char ***v, size_t *n,
			size_t *cap);
ms_status_t ms_seg_read(ms_spool *sp, const char *name, ms_spool_entry **e_r,
			char **err_r);
ms_status_t ms_seg_remove(ms_spool *sp, const char *name, int sync);
ms_status_t ms_seg_quarantine(ms_spool *sp, const char *name,
			      const char *reason);
/* Adds the ready entries not yet archived to *n; *oldest: the creation
 * time of the oldest segment holding one (if older, or *oldest is 0). */
void ms_seg_backlog(ms_spool *sp, uint64_t *n, int64_t *oldest);
void ms_seg_close_readers(ms_spool *sp);

#endif
