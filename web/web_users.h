/* web_users.h - the console's accounts file ([web] users) and passwords.
 *
 * One line per account: "name:hash:role:scope" (scope: comma-separated
 * addresses "alice@example.org" and domains "example.org"; empty = the
 * whole archive). Lines starting with '#' and blank lines are skipped.
 * Hashes are yescrypt ("$y$...", libxcrypt's crypt_gensalt_ra/crypt_ra):
 * memory-hard like argon2id, and it is the system's own password hash
 * (Debian's /etc/shadow default), so no extra library is needed.
 * Saving writes a temporary file in the same directory, fsyncs it, renames
 * it over the old one and fsyncs the directory: a crash leaves the old or
 * the new file, never a mix. Mode 0640.
 *
 * Functions: web_users_load, web_users_save, web_users_find,
 * web_users_add, web_users_del, web_users_free, web_users_hash,
 * web_users_verify, web_users_check_name, web_users_check_scope,
 * web_role_name, web_role_parse.
 */
#ifndef WEB_USERS_H
#define WEB_USERS_H

#include <stddef.h>

#include "web.h"

#define WEB_HASH_MAX 256

typedef struct web_account {
	char name[WEB_NAME_MAX + 1];
	char hash[WEB_HASH_MAX];
	web_role role;
	char scope[WEB_SCOPE_MAX + 1];
} web_account;

typedef struct web_accounts {
	web_account *v;
	size_t n;
} web_accounts;

/* Reads path into *a (freed with web_users_free). A missing file is an
 * empty list when missing_ok. 0, or -1 with *err_r a one-line message
 * ("path:line: ...") the caller frees with free(). */
int web_users_load(const char *path, int missing_ok, web_accounts *a,
		   char **err_r);
/* Writes a to path atomically (see above). 0 or -1 with *err_r. */
int web_users_save(const char *path, const web_accounts *a, char **err_r);
/* The account named name, or NULL. Borrowed from a. */
web_account *web_users_find(web_accounts *a, const char *name);
/* Appends a copy of acc. 0 or -1 (ENOMEM). */
int web_users_add(web_accounts *a, const web_account *acc);
/* Removes the account named name. 1 removed, 0 no such account. */
int web_users_del(web_accounts *a, const char *name);
void web_users_free(web_accounts *a);

/* Hashes password with a new random yescrypt salt into out[0..cap).
 * 0, or -1 (libxcrypt failed). */
int web_users_hash(const char *password, char *out, size_t cap);
/* 1 if password matches hash (compared in constant time), else 0. A NULL
 * or malformed hash still costs one hashing, so a missing account takes
 * as long as a wrong password. */
int web_users_verify(const char *hash, const char *password);

/* 1 if name is 1..WEB_NAME_MAX bytes of [A-Za-z0-9._-] not starting
 * with '.' or '-'. */
int web_users_check_name(const char *name);
/* Normalises a scope list in place (lower case, ", " -> ","); 1 if every
 * item is an address (local@domain) or a domain of [a-z0-9.-] with a dot,
 * 0 otherwise. "" is valid (no scope). */
int web_users_check_scope(char *scope);

/* "auditor", "officer", "security" (static). */
const char *web_role_name(web_role r);
/* The role named s, or -1. */
int web_role_parse(const char *s);

#endif
