/* web_archive.c - archive access for the console (web_archive.h).
 *
 * Functions: web_archive_open, web_archive_get, web_archive_put,
 * web_archive_drop_all, web_filter_parse, web_filter_text,
 * web_query_build, web_scope_text, web_archive_hit, web_audit.
 */
#include "web_archive.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ms_audit.h"
#include "ms_buf.h"
#include "ms_log.h"
#include "web_auditq.h"

static ms_status_t open_ro(const ms_config *cfg, int keep, ms_archive **ar_r,
			   char **err_r)
{
	ms_archive_opts o = ms_archive_opts_from(cfg, 0);
	ms_archive_opts_remote(&o, cfg, 0); /* [archive] remote: all hosts */
	o.keep_reader = keep;
	return ms_archive_open(&o, ar_r, err_r);
}

ms_status_t web_archive_open(const ms_config *cfg, ms_archive **ar_r,
			     char **err_r)
{
	return open_ro(cfg, 0, ar_r, err_r);
}

/* A kept handle and the snapshot (referenced) it was opened on. */
typedef struct kept {
	ms_config *cfg;
	ms_archive *ar;
	struct kept *next;
} kept;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static kept *idle, *lent; /* under pool_mu: free ones, ones in use */
static unsigned n_lent;	  /* under pool_mu */
/* Requests waiting for a handle, in arrival order (under pool_mu): the
 * first is woken when one is given back, so a request never waits while
 * later ones overtake it, and a give-back wakes one thread, not all. */
typedef struct gate_waiter {
	pthread_cond_t cv;
	int go;
	struct gate_waiter *next;
} gate_waiter;
static gate_waiter *wait_head, **wait_tail = &wait_head;

static void kept_free(kept *k)
{
	if (!k)
		return;
	ms_archive_close(&k->ar);
	ms_config_unref(&k->cfg);
	free(k);
}

static unsigned n_readers;
static pthread_once_t readers_once = PTHREAD_ONCE_INIT;

static void readers_init(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	n_readers = cpus < 1 ? 2 : (unsigned)(2 * cpus);
	if (n_readers > WEB_READERS_MAX)
		n_readers = WEB_READERS_MAX;
}

unsigned web_archive_readers(void)
{
	pthread_once(&readers_once, readers_init);
	return n_readers;
}

/* Waits, in arrival order, until fewer than web_archive_readers() are lent;
 * counts one more lent and returns an idle one (NULL: none, the caller makes
 * one). */
static kept *take(void)
{
	pthread_mutex_lock(&pool_mu);
	if (n_lent >= web_archive_readers() || wait_head) {
		gate_waiter w = { .go = 0, .next = NULL };
		pthread_cond_init(&w.cv, NULL);
		*wait_tail = &w;
		wait_tail = &w.next;
		while (!w.go) /* give_back unlinks w and counts it lent */
			pthread_cond_wait(&w.cv, &pool_mu);
		pthread_cond_destroy(&w.cv);
	} else {
		n_lent++;
	}
	kept *k = idle;
	if (k)
		idle = k->next;
	pthread_mutex_unlock(&pool_mu);
	return k;
}

/* k (NULL: none) becomes idle; its slot goes to the first waiter, or
 * counts one less lent. */
static void give_back(kept *k)
{
	pthread_mutex_lock(&pool_mu);
	if (k) {
		k->next = idle;
		idle = k;
	}
	gate_waiter *w = wait_head;
	if (w) {
		if (!(wait_head = w->next))
			wait_tail = &wait_head;
		w->go = 1; /* the slot passes on: n_lent stays */
		pthread_cond_signal(&w->cv);
	} else {
		n_lent--;
	}
	pthread_mutex_unlock(&pool_mu);
}

ms_status_t web_archive_get(ms_config *cfg, ms_archive **ar_r, char **err_r)
{
	kept *k = take();
	*ar_r = NULL;
	if (err_r)
		*err_r = NULL;
	if (k && k->cfg != cfg) /* opened before a reload */
		kept_free(k), k = NULL;
	ms_status_t st = k ? MS_OK : MS_ERR_NOMEM;
	if (!k && (k = calloc(1, sizeof *k)) &&
	    !(st = open_ro(cfg, 1, &k->ar, err_r)))
		k->cfg = ms_config_ref(cfg);
	if (st) {
		kept_free(k);
		give_back(NULL);
		return st;
	}
	*ar_r = k->ar;
	pthread_mutex_lock(&pool_mu);
	k->next = lent;
	lent = k;
	pthread_mutex_unlock(&pool_mu);
	return MS_OK;
}

void web_archive_put(ms_archive **ar)
{
	kept *k = NULL;
	if (!*ar)
		return;
	pthread_mutex_lock(&pool_mu);
	for (kept **pp = &lent; *pp; pp = &(*pp)->next)
		if ((*pp)->ar == *ar) {
			k = *pp;
			*pp = k->next;
			break;
		}
	pthread_mutex_unlock(&pool_mu);
	give_back(k);
	*ar = NULL;
}

void web_archive_drop_all(void)
{
	pthread_mutex_lock(&pool_mu);
	kept *k = idle;
	idle = NULL;
	pthread_mutex_unlock(&pool_mu);
	while (k) {
		kept *next = k->next;
		kept_free(k);
		k = next;
	}
}

static int date_ok(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(s, "%Y-%m-%d", &tm);
	return end && !*end && strlen(s) == 10;
}

int web_filter_parse(const char *from, const char *to, const char *verdict,
		     web_filter *f)
{
	memset(f, 0, sizeof *f);
	if ((*from && !date_ok(from)) || (*to && !date_ok(to)))
		return -1;
	if (*from || *to) {
		snprintf(f->date_term, sizeof f->date_term, "date:%s..%s", from,
			 to);
		f->extra[f->n_extra++] = f->date_term;
	}
	if (*verdict && strcmp(verdict, "clean") &&
	    strcmp(verdict, "infected") && strcmp(verdict, "unscanned"))
		return -1;
	if (*verdict) {
		snprintf(f->verdict_term, sizeof f->verdict_term, "verdict:%s",
			 verdict);
		f->extra[f->n_extra++] = f->verdict_term;
	}
	return 0;
}

char *web_filter_text(const char *q, const web_filter *f)
{
	char *t = NULL;
	if (asprintf(&t, "%s%s%s%s%s", q, *f->date_term ? " " : "",
		     f->date_term, *f->verdict_term ? " " : "",
		     f->verdict_term) < 0)
		return NULL;
	return t;
}

/* Items were checked to be [a-z0-9.@_+=-] only (web_users_check_scope). */
ms_status_t web_scope_text(const char *scope, ms_buf *out)
{
	static const char *const fields[] = { "from", "to",   "cc",
					      "bcc",  "rcpt", "sender" };
	ms_status_t st = MS_OK;
	for (const char *p = scope; *p && !st;) {
		size_t n = strcspn(p, ",");
		const char *at = memchr(p, '@', n) ? "" : "@";
		st = ms_buf_puts(out, out->len ? " OR (" : "(");
		for (size_t i = 0; i < 6 && !st; i++)
			st = ms_buf_printf(out, "%s%s:%s%.*s", i ? " OR " : "",
					   fields[i], at, (int)n, p);
		st = st ? st : ms_buf_puts(out, ")");
		p += n + (p[n] == ',');
	}
	return st;
}

/* Adds the parse of text to and (an AND node). */
static ms_status_t and_parse(ms_qnode *and, const char *text, char **err_r)
{
	ms_qnode *kid = NULL;
	ms_status_t st = ms_query_parse(text, &kid, err_r);
	if (st)
		return st;
	ms_qnode **v = realloc(and->kids, (and->n_kids + 1) * sizeof *v);
	if (!v) {
		ms_query_free(&kid);
		return MS_ERR_NOMEM;
	}
	and->kids = v;
	and->kids[ and->n_kids++] = kid;
	return MS_OK;
}

ms_status_t web_query_build(const char *q, const char *const *extra,
			    size_t n_extra, const char *scope,
			    ms_qnode **root_r, char **err_r)
{
	ms_qnode *and = calloc(1, sizeof *and);
	ms_buf s = MS_BUF_INIT;
	*root_r = NULL;
	if (err_r)
		*err_r = NULL;
	if (!and)
		return MS_ERR_NOMEM;
	and->type = MS_Q_AND;
	q += strspn(q, " \t");
	ms_status_t st = and_parse(and, *q ? q : "*", err_r);
	for (size_t i = 0; i < n_extra && !st; i++)
		st = and_parse(and, extra[i], err_r);
	if (!st && *scope)
		st = web_scope_text(scope, &s);
	if (!st && *scope)
		st = and_parse(and, s.data, err_r);
	ms_buf_free(&s);
	if (st)
		ms_query_free(&and);
	*root_r = and;
	return st;
}

ms_status_t web_archive_hit(ms_archive *ar, const char *scope, const char *id,
			    ms_hits **hits_r)
{
	char term[MS_ARCHIVE_ID_MAX + 8];
	const char *extra[1] = { term };
	ms_qnode *q = NULL;
	*hits_r = NULL;
	if (strlen(id) >= MS_ARCHIVE_ID_MAX)
		return MS_ERR_NOTFOUND;
	snprintf(term, sizeof term, "id:%s", id);
	ms_status_t st = web_query_build("*", extra, 1, scope, &q, NULL);
	if (!st)
		st = ms_archive_search(ar, q, 2, hits_r);
	ms_query_free(&q);
	if (!st && (ms_hits_size(*hits_r) != 1 ||
		    strcmp(ms_hits_get(*hits_r, 0)->id, id) != 0)) {
		ms_hits_free(hits_r);
		st = MS_ERR_NOTFOUND;
	}
	return st;
}

int web_audit(const web_req *r, const char *action, const char *query,
	      uint64_t matched, const char *const *ids, size_t n_ids)
{
	char host[256] = "", *path = NULL, *err = NULL;
	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "?");
	ms_audit_entry e = { .user = r->user.name,
			     .client = r->client,
			     .host = host,
			     .action = action,
			     .query = query,
			     .matched = matched,
			     .ids = ids,
			     .n_ids = ids ? n_ids : 0 };
	ms_status_t st = MS_ERR_NOMEM;
	if ((path = ms_audit_path(r->cfg)))
		st = web_auditq_append(path, &e, &err);
	if (st)
		ms_log_error("audit: %s (refusing %s by %s from %s)",
			     err ? err : ms_status_str(st), action,
			     r->user.name, r->client);
	free(err);
	free(path);
	return st ? -1 : 0;
}
