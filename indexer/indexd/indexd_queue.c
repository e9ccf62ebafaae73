/* indexd_queue.c - the spool entries indexd knows about.
 *
 * Functions: ixd_queue_new, ixd_queue_free, ixd_queue_add, ixd_queue_wake,
 * ixd_queue_take, ixd_queue_defer, ixd_queue_done, ixd_queue_ready,
 * ixd_queue_known, ixd_queue_next_due.
 *
 * Every name seen (by inotify or a rescan) is known until it has been
 * committed and removed, quarantined, or found gone; a name is known at
 * most once, so duplicate events never index an entry twice in a batch.
 * A hash table (chained, power-of-two size) finds names; a doubly linked
 * FIFO holds ready items and a second list deferred ones.
 */
#include "indexd.h"

#include <stdlib.h>
#include <string.h>

typedef struct list {
	ixd_item *head, *tail;
	size_t n;
} list;

struct ixd_queue {
	ixd_item **tab;
	size_t n_tab; /* buckets, a power of two */
	size_t n_known;
	list ready, deferred;
};

static size_t hash_name(const char *s)
{
	size_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void list_push(list *l, ixd_item *it)
{
	it->next = NULL;
	it->prev = l->tail;
	if (l->tail)
		l->tail->next = it;
	else
		l->head = it;
	l->tail = it;
	l->n++;
}

static void list_unlink(list *l, ixd_item *it)
{
	if (it->prev)
		it->prev->next = it->next;
	else
		l->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		l->tail = it->prev;
	it->prev = it->next = NULL;
	l->n--;
}

ixd_queue *ixd_queue_new(void)
{
	ixd_queue *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->n_tab = 256;
	if (!(q->tab = calloc(q->n_tab, sizeof *q->tab))) {
		free(q);
		return NULL;
	}
	return q;
}

void ixd_queue_free(ixd_queue **qp)
{
	ixd_queue *q = *qp;
	if (!q)
		return;
	for (size_t i = 0; i < q->n_tab; i++) {
		for (ixd_item *it = q->tab[i], *nx; it; it = nx) {
			nx = it->hnext;
			free(it->name);
			free(it);
		}
	}
	free(q->tab);
	free(q);
	*qp = NULL;
}

static ixd_item **find_slot(ixd_queue *q, const char *name)
{
	ixd_item **p = &q->tab[hash_name(name) & (q->n_tab - 1)];
	while (*p && strcmp((*p)->name, name) != 0)
		p = &(*p)->hnext;
	return p;
}

/* Doubles the table when it is fuller than one item per bucket. */
static void maybe_grow(ixd_queue *q)
{
	if (q->n_known < q->n_tab)
		return;
	size_t n = q->n_tab * 2;
	ixd_item **tab = calloc(n, sizeof *tab);
	if (!tab)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < q->n_tab; i++) {
		for (ixd_item *it = q->tab[i], *nx; it; it = nx) {
			nx = it->hnext;
			size_t b = hash_name(it->name) & (n - 1);
			it->hnext = tab[b];
			tab[b] = it;
		}
	}
	free(q->tab);
	q->tab = tab;
	q->n_tab = n;
}

int ixd_queue_add(ixd_queue *q, const char *name)
{
	ixd_item **slot = find_slot(q, name);
	if (*slot)
		return 0;
	ixd_item *it = calloc(1, sizeof *it);
	if (!it || !(it->name = strdup(name))) {
		free(it);
		return -1;
	}
	*slot = it;
	q->n_known++;
	it->state = IXD_READY;
	list_push(&q->ready, it);
	maybe_grow(q);
	return 1;
}

void ixd_queue_wake(ixd_queue *q, int64_t now)
{
	for (ixd_item *it = q->deferred.head, *nx; it; it = nx) {
		nx = it->next;
		if (it->not_before > now)
			continue;
		list_unlink(&q->deferred, it);
		it->state = IXD_READY;
		list_push(&q->ready, it);
	}
}

ixd_item *ixd_queue_take(ixd_queue *q)
{
	ixd_item *it = q->ready.head;
	if (!it)
		return NULL;
	list_unlink(&q->ready, it);
	it->state = IXD_TAKEN;
	return it;
}

void ixd_queue_defer(ixd_queue *q, ixd_item *it, int64_t now, int64_t delay)
{
	it->state = IXD_DEFERRED;
	it->not_before = now + delay;
	list_push(&q->deferred, it);
}

void ixd_queue_done(ixd_queue *q, ixd_item *it)
{
	ixd_item **slot = find_slot(q, it->name);
	if (*slot == it) {
		*slot = it->hnext;
		q->n_known--;
	}
	free(it->name);
	free(it);
}

size_t ixd_queue_ready(const ixd_queue *q)
{
	return q->ready.n;
}

size_t ixd_queue_known(const ixd_queue *q)
{
	return q->n_known;
}

int64_t ixd_queue_next_due(const ixd_queue *q)
{
	int64_t t = INT64_MAX;
	for (const ixd_item *it = q->deferred.head; it; it = it->next)
		if (it->not_before < t)
			t = it->not_before;
	return t;
}
