/* web_usercmd.c - the accounts subcommands (web_usercmd.h).
 *
 * Functions: web_usercmd; file-local read_password, cmd_add, cmd_passwd,
 * cmd_del, cmd_list, save.
 */
#include "web_usercmd.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "web_users.h"

#define PW_MAX 256

static int usage(void)
{
	fprintf(stderr,
		"usage: mailsift-web [-c plugin.conf] user add NAME --role "
		"auditor|officer|security [--scope ADDR_OR_DOMAIN,...]\n"
		"       mailsift-web [-c plugin.conf] user passwd NAME | del "
		"NAME | list\n");
	return 2;
}

/* One line from f into pw (without newline). 0, or -1 (empty/too long). */
static int read_line(FILE *f, char *pw, size_t cap)
{
	if (!fgets(pw, (int)cap, f))
		return -1;
	size_t n = strcspn(pw, "\r\n");
	if (pw[n] == '\0' && n == cap - 1)
		return -1;
	pw[n] = '\0';
	return n ? 0 : -1;
}

static int read_tty(const char *prompt, char *pw, size_t cap)
{
	struct termios old, quiet;
	fprintf(stderr, "%s", prompt);
	if (tcgetattr(0, &old) != 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(0, TCSAFLUSH, &quiet);
	int rc = read_line(stdin, pw, cap);
	tcsetattr(0, TCSAFLUSH, &old);
	fprintf(stderr, "\n");
	return rc;
}

/* The new password: twice from a terminal, or one line of stdin. */
static int read_password(char *pw, size_t cap)
{
	char again[PW_MAX];
	if (!isatty(0))
		return read_line(stdin, pw, cap);
	if (read_tty("Password: ", pw, cap) < 0 ||
	    read_tty("Again: ", again, sizeof again) < 0)
		return -1;
	int same = strcmp(pw, again) == 0;
	OPENSSL_cleanse(again, sizeof again);
	if (!same)
		fprintf(stderr, "mailsift-web: the passwords differ\n");
	return same ? 0 : -1;
}

static int set_password(web_account *acc)
{
	char pw[PW_MAX];
	int rc = read_password(pw, sizeof pw);
	if (rc < 0)
		fprintf(stderr,
			"mailsift-web: no password given (one line, "
			"1..%d bytes)\n",
			PW_MAX - 2);
	else if ((rc = web_users_hash(pw, acc->hash, sizeof acc->hash)) < 0)
		fprintf(stderr, "mailsift-web: cannot hash the password\n");
	OPENSSL_cleanse(pw, sizeof pw);
	return rc;
}

static int save(const ms_config *cfg, web_accounts *a, const char *what)
{
	char *err = NULL;
	int rc = web_users_save(cfg->web_users, a, &err);
	if (rc < 0)
		fprintf(stderr, "mailsift-web: %s\n",
			err ? err : "cannot save");
	else
		printf("%s\n", what);
	free(err);
	return rc < 0 ? 1 : 0;
}

static int cmd_add(const ms_config *cfg, web_accounts *a, int argc, char **argv)
{
	web_account acc;
	memset(&acc, 0, sizeof acc);
	int role = -1;
	const char *scope = "";
	for (int i = 2; i + 1 < argc + 1; i += 2) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--role") == 0)
			role = web_role_parse(argv[i + 1]);
		else if (strcmp(argv[i], "--scope") == 0)
			scope = argv[i + 1];
		else
			return usage();
	}
	if (role < 0 || argc < 2)
		return usage();
	snprintf(acc.name, sizeof acc.name, "%s", argv[1]);
	snprintf(acc.scope, sizeof acc.scope, "%s", scope);
	if (!web_users_check_name(argv[1]) || strlen(scope) > WEB_SCOPE_MAX ||
	    !web_users_check_scope(acc.scope)) {
		fprintf(stderr, "mailsift-web: bad name or scope (names: "
				"[A-Za-z0-9._-]; scope: addresses or domains, "
				"comma-separated)\n");
		return 1;
	}
	if (web_users_find(a, acc.name)) {
		fprintf(stderr, "mailsift-web: user %s exists\n", acc.name);
		return 1;
	}
	acc.role = (web_role)role;
	if (set_password(&acc) < 0 || web_users_add(a, &acc) < 0)
		return 1;
	return save(cfg, a, "user added");
}

static int cmd_passwd(const ms_config *cfg, web_accounts *a, const char *n)
{
	web_account *acc = web_users_find(a, n);
	if (!acc) {
		fprintf(stderr, "mailsift-web: no user %s\n", n);
		return 1;
	}
	return set_password(acc) < 0 ? 1 : save(cfg, a, "password changed");
}

static int cmd_del(const ms_config *cfg, web_accounts *a, const char *n)
{
	if (!web_users_del(a, n)) {
		fprintf(stderr, "mailsift-web: no user %s\n", n);
		return 1;
	}
	return save(cfg, a, "user deleted");
}

static int cmd_list(const web_accounts *a)
{
	for (size_t i = 0; i < a->n; i++)
		printf("%s %s %s\n", a->v[i].name, web_role_name(a->v[i].role),
		       *a->v[i].scope ? a->v[i].scope : "-");
	return 0;
}

int web_usercmd(const ms_config *cfg, int argc, char **argv)
{
	web_accounts a;
	char *err = NULL;
	if (argc < 1)
		return usage();
	if (web_users_load(cfg->web_users, 1, &a, &err) < 0) {
		fprintf(stderr, "mailsift-web: %s\n", err ? err : "?");
		free(err);
		return 1;
	}
	int rc;
	if (strcmp(argv[0], "add") == 0 && argc >= 2)
		rc = cmd_add(cfg, &a, argc, argv);
	else if (strcmp(argv[0], "passwd") == 0 && argc == 2)
		rc = cmd_passwd(cfg, &a, argv[1]);
	else if (strcmp(argv[0], "del") == 0 && argc == 2)
		rc = cmd_del(cfg, &a, argv[1]);
	else if (strcmp(argv[0], "list") == 0 && argc == 1)
		rc = cmd_list(&a);
	else
		rc = usage();
	web_users_free(&a);
	return rc;
}
