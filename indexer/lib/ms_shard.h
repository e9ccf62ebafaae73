/* ms_shard.h - naming and listing the archive's time shards.
 *
 * A shard is named for the period its messages' dates fall in:
 * "2002-08" (month), "2002" (year) or "all"; messages with no usable date
 * (before 1971 or after 2099) go to "undated". Names sort by time.
 *
 * Scale-out: a shard written on an MX host carries that host's label,
 * "HOST.2002-08" ([archive] host), so two hosts never write the same
 * shard. Unlabelled names (archives written before labels) stay valid:
 * everything that reads a name looks at its period (ms_shard_period).
 */
#ifndef MS_SHARD_H
#define MS_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "ms_archive.h"

#define MS_SHARD_HOST_MAX 64 /* a label of 1..63 bytes, plus NUL */
#define MS_SHARD_NAME_MAX (MS_SHARD_HOST_MAX + 16)

/* Writes the shard name for time t into name. */
void ms_shard_name(int64_t t, ms_shard_by by, char name[MS_SHARD_NAME_MAX]);

/* Writes "host.period" into name, or period alone when host is NULL or
 * "" (both must fit: host a valid label, period from ms_shard_name). */
void ms_shard_label(const char *host, const char *period,
		    char name[MS_SHARD_NAME_MAX]);

/* The period part of shard name ("2002-08" of "mx1.2002-08"; the whole
 * name when it has no label). Points into name. */
const char *ms_shard_period(const char *name);

/* 1 if s is a valid host label: 1..63 bytes of letters, digits, '-'
 * and '_'. */
int ms_shard_host_ok(const char *s);

/* The short host name (up to the first dot) as a label: bytes a label
 * may not hold become '-'; "localhost" if there is none. */
void ms_shard_default_host(char host[MS_SHARD_HOST_MAX]);

/* Whether shard name (labelled or not) may hold messages dated in [lo, hi]
 * (inclusive). */
int ms_shard_overlaps(const char *name, int64_t lo, int64_t hi);

/* Lists shard directory names under shards_dir, sorted. On MS_OK
 * *names_r is a NULL-terminated array the caller frees with
 * ms_shard_list_free(); *n_r its length. A missing dir is an empty list. */
ms_status_t ms_shard_list(const char *shards_dir, char ***names_r, size_t *n_r);
void ms_shard_list_free(char ***names);

#endif
