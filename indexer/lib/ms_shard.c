/* ms_shard.c - time shard names and listing (see ms_shard.h).
 *
 * Functions: ms_shard_name, ms_shard_label, ms_shard_period,
 * ms_shard_host_ok, ms_shard_default_host, ms_shard_overlaps,
 * ms_shard_list, ms_shard_list_free. Dates are UTC, computed without the TZ
 * database.
 */
#include "ms_shard.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIN_DATED 31536000LL   /* 1971-01-01 */
#define MAX_DATED 4102444799LL /* 2099-12-31 23:59:59 */

void ms_shard_name(int64_t t, ms_shard_by by, char name[MS_SHARD_NAME_MAX])
{
	if (by == MS_SHARD_BY_NONE) {
		snprintf(name, MS_SHARD_NAME_MAX, "all");
		return;
	}
	if (t < MIN_DATED || t > MAX_DATED) {
		snprintf(name, MS_SHARD_NAME_MAX, "undated");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	unsigned y = (unsigned)(tm.tm_year + 1900) % 10000;
	unsigned m = (unsigned)(tm.tm_mon + 1) % 100;
	if (by == MS_SHARD_BY_YEAR)
		snprintf(name, MS_SHARD_NAME_MAX, "%04u", y);
	else
		snprintf(name, MS_SHARD_NAME_MAX, "%04u-%02u", y, m);
}

void ms_shard_label(const char *host, const char *period,
		    char name[MS_SHARD_NAME_MAX])
{
	if (host && *host)
		snprintf(name, MS_SHARD_NAME_MAX, "%.63s.%s", host, period);
	else
		snprintf(name, MS_SHARD_NAME_MAX, "%s", period);
}

const char *ms_shard_period(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot && dot != name ? dot + 1 : name;
}

static int label_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int ms_shard_host_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= MS_SHARD_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!label_byte((unsigned char)s[i]))
			return 0;
	return 1;
}

void ms_shard_default_host(char host[MS_SHARD_HOST_MAX])
{
	char buf[256] = "";
	if (gethostname(buf, sizeof buf - 1) != 0)
		buf[0] = '\0';
	buf[strcspn(buf, ".")] = '\0';
	buf[MS_SHARD_HOST_MAX - 1] = '\0';
	for (char *p = buf; *p; p++)
		if (!label_byte((unsigned char)*p))
			*p = '-';
	const char *h = *buf ? buf : "localhost";
	size_t n = strlen(h); /* at most MS_SHARD_HOST_MAX - 1: cut above */
	memcpy(host, h, n + 1);
}

/* Seconds since the epoch of 00:00 UTC on the first of month m (1-based)
 * of year y (m may be 13 = January of y+1). */
static int64_t month_start(int y, int m)
{
	if (m > 12) {
		y++;
		m -= 12;
	}
	/* days from civil (Howard Hinnant's algorithm) */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400;
}

int ms_shard_overlaps(const char *name, int64_t lo, int64_t hi)
{
	int y, m;
	name = ms_shard_period(name);
	int64_t start, end;
	if (strlen(name) == 7 && sscanf(name, "%4d-%2d", &y, &m) == 2) {
		start = month_start(y, m);
		end = month_start(y, m + 1) - 1;
	} else if (strlen(name) == 4 && sscanf(name, "%4d", &y) == 1) {
		start = month_start(y, 1);
		end = month_start(y + 1, 1) - 1;
	} else if (strcmp(name, "undated") == 0) {
		/* undated messages carry date values outside the dated range */
		return lo < MIN_DATED || hi > MAX_DATED;
	} else {
		return 1;
	}
	return start <= hi && end >= lo;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a copy of s to the growing array. */
static int push_name(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n + 2 > *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, nc * sizeof *nv);
		if (!nv)
			return -1;
		*v = nv;
		*cap = nc;
	}
	if (!((*v)[*n] = strdup(s)))
		return -1;
	(*v)[++*n] = NULL;
	return 0;
}

ms_status_t ms_shard_list(const char *shards_dir, char ***names_r, size_t *n_r)
{
	char **v = calloc(1, sizeof *v);
	size_t n = 0, cap = 1;
	if (!v)
		return MS_ERR_NOMEM;
	DIR *d = opendir(shards_dir);
	if (!d && errno != ENOENT) {
		free(v);
		return MS_ERR_IO;
	}
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		if (push_name(&v, &n, &cap, e->d_name)) {
			closedir(d);
			ms_shard_list_free(&v);
			return MS_ERR_NOMEM;
		}
	}
	if (d)
		closedir(d);
	qsort(v, n, sizeof *v, cmp_names);
	*names_r = v;
	*n_r = n;
	return MS_OK;
}

void ms_shard_list_free(char ***names)
{
	if (!*names)
		return;
	for (char **p = *names; *p; p++)
		free(*p);
	free(*names);
	*names = NULL;
}
