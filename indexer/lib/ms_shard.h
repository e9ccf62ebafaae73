/* ms_shard.h - naming and listing the archive's time shards.
 *
 * A shard is named for the period its messages' dates fall in:
 * "2002-08" (month), "2002" (year) or "all"; messages with no usable date
 * (before 1971 or after 2099) go to "undated". Names sort by time.
 */
#ifndef MS_SHARD_H
#define MS_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "ms_archive.h"

#define MS_SHARD_NAME_MAX 16

/* Writes the shard name for time t into name. */
void ms_shard_name(int64_t t, ms_shard_by by, char name[MS_SHARD_NAME_MAX]);

/* Whether shard name may hold messages dated in [lo, hi] (inclusive). */
int ms_shard_overlaps(const char *name, int64_t lo, int64_t hi);

/* Lists shard directory names under shards_dir, sorted. On MS_OK
 * *names_r is a NULL-terminated array the caller frees with
 * ms_shard_list_free(); *n_r its length. A missing dir is an empty list. */
ms_status_t ms_shard_list(const char *shards_dir, char ***names_r, size_t *n_r);
void ms_shard_list_free(char ***names);

#endif
