/* web_session.c - sessions and login throttling (web_session.h).
 *
 * Functions: web_session_init, web_session_new, web_session_get,
 * web_session_end, web_session_prune, web_throttle_check,
 * web_throttle_fail, web_throttle_ok. One mutex guards both tables;
 * callers get copies, never pointers into them.
 */
#include "web_session.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ms_clock.h"

typedef struct slot {
	web_user u;
	int64_t seen; /* ms_clock_ms of the last request; 0 = free */
} slot;

typedef struct tkey {
	char key[WEB_NAME_MAX + WEB_ADDR_MAX + 4];
	unsigned fails;
	int64_t until, last; /* ms */
} tkey;

static slot sessions[WEB_SESSIONS_MAX];
static tkey keys[WEB_THROTTLE_KEYS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

void web_session_init(void)
{
	memset(sessions, 0, sizeof sessions);
	memset(keys, 0, sizeof keys);
}

static int random_hex(char out[WEB_TOKEN_HEX])
{
	unsigned char b[32];
	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	for (size_t i = 0; i < sizeof b; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* The slot holding sid, or NULL; constant-time compare of each id. */
static slot *find(const char *sid)
{
	if (strlen(sid) != WEB_TOKEN_HEX - 1)
		return NULL;
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++)
		if (sessions[i].seen &&
		    CRYPTO_memcmp(sessions[i].u.sid, sid, WEB_TOKEN_HEX) == 0)
			return &sessions[i];
	return NULL;
}

/* A free slot, or the least recently used one. */
static slot *free_slot(void)
{
	slot *lru = &sessions[0];
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		if (!sessions[i].seen)
			return &sessions[i];
		if (sessions[i].seen < lru->seen)
			lru = &sessions[i];
	}
	return lru;
}

int web_session_new(const web_account *acc, web_user *u)
{
	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "%s", acc->name);
	snprintf(u->scope, sizeof u->scope, "%s", acc->scope);
	u->role = acc->role;
	if (random_hex(u->sid) < 0 || random_hex(u->csrf) < 0)
		return -1;
	pthread_mutex_lock(&mu);
	slot *s = free_slot();
	s->u = *u;
	s->seen = ms_clock_ms();
	pthread_mutex_unlock(&mu);
	return 0;
}

int web_session_get(const char *sid, unsigned idle_secs, web_user *u)
{
	int found = 0;
	int64_t now = ms_clock_ms();
	pthread_mutex_lock(&mu);
	slot *s = find(sid);
	if (s && now - s->seen > (int64_t)idle_secs * 1000) {
		memset(s, 0, sizeof *s);
	} else if (s) {
		s->seen = now;
		*u = s->u;
		found = 1;
	}
	pthread_mutex_unlock(&mu);
	return found;
}

void web_session_end(const char *sid)
{
	pthread_mutex_lock(&mu);
	slot *s = find(sid);
	if (s)
		memset(s, 0, sizeof *s);
	pthread_mutex_unlock(&mu);
}

void web_session_prune(web_accounts *a)
{
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		if (!sessions[i].seen)
			continue;
		const web_account *acc = web_users_find(a, sessions[i].u.name);
		if (!acc || acc->role != sessions[i].u.role ||
		    strcmp(acc->scope, sessions[i].u.scope) != 0)
			memset(&sessions[i], 0, sizeof sessions[i]);
	}
	pthread_mutex_unlock(&mu);
}

/* The entry for key; with create, a new or the oldest reused one. */
static tkey *tfind(const char *key, int create)
{
	tkey *old = &keys[0];
	for (size_t i = 0; i < WEB_THROTTLE_KEYS; i++) {
		if (keys[i].key[0] && strcmp(keys[i].key, key) == 0)
			return &keys[i];
		if (keys[i].last < old->last)
			old = &keys[i];
	}
	if (!create)
		return NULL;
	memset(old, 0, sizeof *old);
	snprintf(old->key, sizeof old->key, "%s", key);
	return old;
}

unsigned web_throttle_check(const char *key)
{
	int64_t now = ms_clock_ms();
	pthread_mutex_lock(&mu);
	tkey *t = tfind(key, 0);
	int64_t wait = t && t->until > now ? t->until - now : 0;
	pthread_mutex_unlock(&mu);
	return (unsigned)((wait + 999) / 1000);
}

void web_throttle_fail(const char *key, unsigned free_fails)
{
	int64_t now = ms_clock_ms();
	pthread_mutex_lock(&mu);
	tkey *t = tfind(key, 1);
	t->fails++;
	t->last = now;
	if (t->fails >= free_fails) {
		unsigned k = t->fails - free_fails;
		int64_t secs = k >= 10 ? WEB_THROTTLE_MAX_SECS : 1ll << k;
		if (secs > WEB_THROTTLE_MAX_SECS)
			secs = WEB_THROTTLE_MAX_SECS;
		t->until = now + secs * 1000;
	}
	pthread_mutex_unlock(&mu);
}

void web_throttle_ok(const char *key)
{
	pthread_mutex_lock(&mu);
	tkey *t = tfind(key, 0);
	if (t)
		memset(t, 0, sizeof *t);
	pthread_mutex_unlock(&mu);
}
