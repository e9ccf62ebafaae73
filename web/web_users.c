/* web_users.c - the accounts file and password hashing (web_users.h).
 *
 * Functions: web_users_load, web_users_save, web_users_find,
 * web_users_add, web_users_del, web_users_free, web_users_hash,
 * web_users_verify, web_users_check_name, web_users_check_scope,
 * web_role_name, web_role_parse.
 */
#include "web_users.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The longest accounts line read (a longer one is an error). */
#define LINE_MAX_BYTES (WEB_HASH_MAX + WEB_SCOPE_MAX + 128)

static const char *const roles[WEB_ROLE_N] = { "auditor", "officer",
					       "security" };

/* Hashed when the account does not exist, so that both cost the same:
 * a real yescrypt hash made once per process. */
static char dummy_hash[WEB_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
	if (web_users_hash("mailsift-no-such-account", dummy_hash,
			   sizeof dummy_hash) < 0)
		strcpy(dummy_hash, "$y$j9T$xxxxxxxxxxxxxxxxxxxxxx$");
}

const char *web_role_name(web_role r)
{
	return r >= 0 && r < WEB_ROLE_N ? roles[r] : "?";
}

int web_role_parse(const char *s)
{
	for (int i = 0; i < WEB_ROLE_N; i++)
		if (strcmp(s, roles[i]) == 0)
			return i;
	return -1;
}

int web_users_check_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > WEB_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	return 1;
}

/* One scope item: local@domain or a domain with a dot. */
static int scope_item_ok(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	const char *dom = at ? at + 1 : s;
	size_t dn = n - (size_t)(dom - s);
	if ((at && at == s) || dn < 3 || !memchr(dom, '.', dn) ||
	    dom[0] == '.' || dom[dn - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int local = at && s + i < at;
		if (!(isalnum(c) || c == '.' || c == '-' || s + i == at ||
		      (local && strchr("_+=", c))))
			return 0;
	}
	return 1;
}

int web_users_check_scope(char *scope)
{
	size_t o = 0;
	for (size_t i = 0; scope[i]; i++)
		if (scope[i] != ' ')
			scope[o++] = (char)tolower((unsigned char)scope[i]);
	scope[o] = '\0';
	for (const char *p = scope; *p;) {
		size_t n = strcspn(p, ",");
		if (!scope_item_ok(p, n))
			return 0;
		p += n;
		if (*p == ',' && !*++p)
			return 0;
	}
	return 1;
}

int web_users_hash(const char *password, char *out, size_t cap)
{
	char *salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
	void *data = NULL;
	int size = 0, rc = -1;
	const char *h = salt ? crypt_ra(password, salt, &data, &size) : NULL;
	if (h && h[0] == '$' && strlen(h) < cap) {
		memcpy(out, h, strlen(h) + 1);
		rc = 0;
	}
	free(salt);
	free(data);
	return rc;
}

int web_users_verify(const char *hash, const char *password)
{
	int ok_hash = hash && strncmp(hash, "$y$", 3) == 0;
	pthread_once(&dummy_once, make_dummy);
	const char *setting = ok_hash ? hash : dummy_hash;
	void *data = NULL;
	int size = 0;
	const char *h = crypt_ra(password, setting, &data, &size);
	size_t n = strlen(setting);
	int ok = ok_hash && h && h[0] == '$' && strlen(h) == n &&
		 CRYPTO_memcmp(h, setting, n) == 0;
	free(data);
	return ok;
}

/* Splits a line "name:hash:role:scope" into acc. 0 or -1. */
static int parse_line(char *line, web_account *acc)
{
	char *f[4] = { NULL };
	char *p = line;
	for (int i = 0; i < 4; i++) {
		f[i] = p;
		p = i < 3 ? strchr(p, ':') : NULL;
		if (i < 3 && !p)
			return -1;
		if (p)
			*p++ = '\0';
	}
	int role = web_role_parse(f[2]);
	if (!web_users_check_name(f[0]) || strlen(f[1]) >= WEB_HASH_MAX ||
	    role < 0 || strlen(f[3]) > WEB_SCOPE_MAX ||
	    !web_users_check_scope(f[3]))
		return -1;
	memset(acc, 0, sizeof *acc);
	strcpy(acc->name, f[0]);
	strcpy(acc->hash, f[1]);
	acc->role = (web_role)role;
	strcpy(acc->scope, f[3]);
	return 0;
}

static int fail(char **err_r, const char *fmt, const char *a, long b)
{
	if (err_r && asprintf(err_r, fmt, a, b) < 0)
		*err_r = NULL;
	return -1;
}

int web_users_load(const char *path, int missing_ok, web_accounts *a,
		   char **err_r)
{
	memset(a, 0, sizeof *a);
	FILE *f = fopen(path, "re");
	if (!f && errno == ENOENT && missing_ok)
		return 0;
	if (!f) {
		if (err_r &&
		    asprintf(err_r, "%s: %s", path, strerror(errno)) < 0)
			*err_r = NULL;
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long no = 0;
	int rc = 0;
	while (!rc && (len = getline(&line, &cap, f)) >= 0) {
		no++;
		if ((size_t)len > LINE_MAX_BYTES)
			rc = fail(err_r, "%s:%ld: line too long", path, no);
		else if (memchr(line, '\0', (size_t)len))
			rc = fail(err_r, "%s:%ld: NUL byte", path, no);
		line[strcspn(line, "\r\n")] = '\0';
		web_account acc;
		if (rc || !line[0] || line[0] == '#')
			continue;
		if (parse_line(line, &acc) < 0)
			rc = fail(err_r, "%s:%ld: bad account line", path, no);
		else if (web_users_find(a, acc.name))
			rc = fail(err_r, "%s:%ld: duplicate account", path, no);
		else if (web_users_add(a, &acc) < 0)
			rc = fail(err_r, "%s:%ld: out of memory", path, no);
	}
	free(line);
	fclose(f);
	if (rc)
		web_users_free(a);
	return rc;
}

static int write_all(int fd, const web_accounts *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (dprintf(fd, "%s:%s:%s:%s\n", a->v[i].name, a->v[i].hash,
			    web_role_name(a->v[i].role), a->v[i].scope) < 0)
			return -1;
	return fsync(fd);
}

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY) : -1;
	int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

int web_users_save(const char *path, const web_accounts *a, char **err_r)
{
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return fail(err_r, "%s: out of memory (%ld)", path, 0);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	int rc = fd >= 0 && fchmod(fd, 0640) == 0 && write_all(fd, a) == 0 ? 0
									   : -1;
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	if (rc == 0 && (rename(tmp, path) != 0 || fsync_dir_of(path) != 0))
		rc = -1;
	if (rc) {
		int e = errno;
		unlink(tmp);
		if (err_r && asprintf(err_r, "%s: %s", path, strerror(e)) < 0)
			*err_r = NULL;
	}
	free(tmp);
	return rc;
}

web_account *web_users_find(web_accounts *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, name) == 0)
			return &a->v[i];
	return NULL;
}

int web_users_add(web_accounts *a, const web_account *acc)
{
	web_account *v = realloc(a->v, (a->n + 1) * sizeof *v);
	if (!v)
		return -1;
	a->v = v;
	a->v[a->n++] = *acc;
	return 0;
}

int web_users_del(web_accounts *a, const char *name)
{
	web_account *acc = web_users_find(a, name);
	if (!acc)
		return 0;
	size_t i = (size_t)(acc - a->v);
	memmove(acc, acc + 1, (a->n - i - 1) * sizeof *acc);
	a->n--;
	return 1;
}

void web_users_free(web_accounts *a)
{
	free(a->v);
	a->v = NULL;
	a->n = 0;
}
