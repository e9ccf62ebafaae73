/* ms_spool_util.c - the spool's small shared pieces: paths, directory
 * sync, id and name checks, and making an ms_spool_entry from a message
 * and its envelope record (legacy files and segment entries alike).
 *
 * Functions: ms_spool_path, ms_spool_sync_dir, ms_spool_id_ok,
 * ms_spool_name_ok, ms_spool_entry_make, ms_spool_entry_free.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ms_record.h"
#include "ms_spool_int.h"

char *ms_spool_path(const char *a, const char *b, const char *c)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "") < 0)
		return NULL;
	return p;
}

int ms_spool_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int e = fsync(fd) < 0 ? errno : 0;
	close(fd);
	return e;
}

/* Entry ids: 1..MS_SPOOL_ID_MAX of [A-Za-z0-9_-]. */
int ms_spool_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > MS_SPOOL_ID_MAX)
		return 0;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "0123456789-_") == n;
}

/* Anything a writer or an admin may have put in new/: not empty, no '/',
 * not a dot file, fits a file name. */
int ms_spool_name_ok(const char *name)
{
	return name && name[0] && name[0] != '.' && !strchr(name, '/') &&
	       strlen(name) < 240;
}

/* ---- entries ---- */

typedef struct entry_priv {
	ms_spool_entry e;
	void *map;
	size_t map_len;
	char *rec;	    /* private copy of the record; env points here */
	const char **rcpts; /* env.rcpts */
	size_t rcpt_cap;
	const char *size; /* "size" as recorded */
	int nomem;
} entry_priv;

static void add_rcpt(entry_priv *p, const char *v)
{
	ms_envelope *env = &p->e.env;
	if (env->n_rcpts == p->rcpt_cap) {
		size_t cap = p->rcpt_cap ? 2 * p->rcpt_cap : 8;
		const char **nv = reallocarray(p->rcpts, cap, sizeof *nv);
		if (!nv) {
			p->nomem = 1;
			return;
		}
		p->rcpts = nv;
		p->rcpt_cap = cap;
		env->rcpts = nv;
	}
	p->rcpts[env->n_rcpts++] = v;
}

/* ms_record_fn: one envelope line. Empty values stay NULL. */
static void on_field(const char *k, const char *v, void *ctx)
{
	entry_priv *p = ctx;
	ms_envelope *env = &p->e.env;
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
		{ "id", offsetof(ms_envelope, id) },
		{ "sender", offsetof(ms_envelope, sender) },
		{ "qid", offsetof(ms_envelope, queue_id) },
		{ "client", offsetof(ms_envelope, client) },
		{ "helo", offsetof(ms_envelope, helo) },
		{ "auth", offsetof(ms_envelope, auth_user) },
		{ "verdict", offsetof(ms_envelope, verdict) },
		{ "virus", offsetof(ms_envelope, virus) },
	};
	if (strcmp(k, "rcpt") == 0) {
		add_rcpt(p, v);
	} else if (strcmp(k, "time") == 0) {
		env->time = strtoll(v, NULL, 10);
	} else if (strcmp(k, "size") == 0) {
		p->size = v;
	} else if (strcmp(k, "sha256") == 0) {
		p->e.sha256 = v;
	} else {
		for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
			if (strcmp(k, strs[i].key) == 0 && v[0])
				*(const char **)((char *)env + strs[i].off) = v;
	}
}

/* Checks what the record must say about the entry. */
static const char *check_record(entry_priv *p, int id_is_name)
{
	char want[24];
	snprintf(want, sizeof want, "%zu", p->e.msg_len);
	if (id_is_name ? !p->e.env.id || strcmp(p->e.env.id, p->e.name) != 0
		       : !ms_spool_id_ok(p->e.env.id))
		return id_is_name ? "envelope id does not match the entry name"
				  : "envelope has no valid id";
	if (!p->size || strcmp(p->size, want) != 0)
		return "envelope size does not match the message";
	if (!p->e.sha256 || strlen(p->e.sha256) != MS_SHA256_HEX - 1 ||
	    strspn(p->e.sha256, "0123456789abcdef") != MS_SHA256_HEX - 1)
		return "envelope has no valid sha256";
	return NULL;
}

ms_status_t ms_spool_entry_make(const char *name, const char *msg,
				size_t msg_len, const char *rec, size_t rec_len,
				int id_is_name, void *map, size_t map_len,
				ms_spool_entry **e_r, const char **why_r)
{
	*e_r = NULL;
	*why_r = "out of memory";
	entry_priv *p = calloc(1, sizeof *p);
	if (!p) {
		if (map)
			munmap(map, map_len);
		return MS_ERR_NOMEM;
	}
	p->e.priv = p;
	p->map = map;
	p->map_len = map_len;
	p->e.msg = msg;
	p->e.msg_len = msg_len;
	ms_spool_entry *e = &p->e;
	if (!(p->e.name = strdup(name)) || !(p->rec = malloc(rec_len + 1))) {
		ms_spool_entry_free(&e);
		return MS_ERR_NOMEM;
	}
	memcpy(p->rec, rec, rec_len);
	p->rec[rec_len] = '\0';
	ms_record_parse(p->rec, rec_len, on_field, p);
	ms_status_t st = MS_ERR_NOMEM;
	if (!p->nomem) {
		*why_r = check_record(p, id_is_name);
		st = *why_r ? MS_ERR_PARSE : MS_OK;
	}
	if (st)
		ms_spool_entry_free(&e);
	*e_r = e;
	return st;
}

void ms_spool_entry_free(ms_spool_entry **e)
{
	if (!e || !*e)
		return;
	entry_priv *p = (*e)->priv;
	if (p->map)
		munmap(p->map, p->map_len);
	free(p->rec);
	free(p->rcpts);
	free(p->e.name);
	free(p);
	*e = NULL;
}
