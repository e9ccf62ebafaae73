/* fts-mailsift-settings.c - the backend's settings.
 *
 * Functions: fts_mailsift_settings_read.
 *
 * Sources, later ones win: defaults; plugin.conf named by the plugin
 * setting mailsift_config ([imap] batch_size, archive_reuse,
 * user_addresses; [archive] dir, max_text_per_part); the plugin settings
 * mailsift_batch_size, mailsift_lock_timeout (milliseconds) and
 * mailsift_lexicon_max (bytes of distinct words of one field kept in
 * memory per IMAP session, default 24M; more are read from the index for
 * each search instead) and mailsift_key_runs (runs of one search key
 * looked up at most, the cheapest ones, default 8; Dovecot checks the
 * candidates against the whole key). Archive
 * reuse needs mailsift_config (it names the archive).
 *
 * user_addresses file: one line per login, "login: address, address";
 * blank lines and lines starting with '#' are ignored. A user's
 * addresses are their login and the addresses of their line, lower case.
 */
#include "fts-mailsift-plugin.h"

#include "array.h"
#include "mail-user.h"
#include "str.h"

#include <stdio.h>

#include "ms_config.h"

static int read_uint(struct mail_user *user, const char *name, unsigned int min,
		     unsigned int max, unsigned int *val, const char **error_r)
{
	const char *s = mail_user_plugin_getenv(user, name);

	if (s == NULL || *s == '\0')
		return 0;
	if (str_to_uint(s, val) < 0 || *val < min || *val > max) {
		*error_r = t_strdup_printf("%s: invalid value '%s' (%u..%u)",
					   name, s, min, max);
		return -1;
	}
	return 0;
}

static void add_address(struct mail_user *user, ARRAY_TYPE(const_string) * a,
			const char *addr, size_t len)
{
	while (len > 0 && (*addr == ' ' || *addr == '\t')) {
		addr++;
		len--;
	}
	while (len > 0 && (addr[len - 1] == ' ' || addr[len - 1] == '\t' ||
			   addr[len - 1] == '\n' || addr[len - 1] == '\r'))
		len--;
	if (len == 0)
		return;
	const char *s = str_lcase(p_strndup(user->pool, addr, len));
	array_push_back(a, &s);
}

/* Adds the addresses of user's line of the user_addresses file. */
static int read_addresses(struct mail_user *user, const char *path,
			  ARRAY_TYPE(const_string) * a, const char **error_r)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	unsigned int n = 0;

	if (f == NULL) {
		*error_r =
			t_strdup_printf("user_addresses: open(%s): %m", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':'), *p, *q;
		n++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (colon == NULL) {
			*error_r = t_strdup_printf(
				"%s:%u: expected \"login: address, ...\"", path,
				n);
			(void)fclose(f);
			return -1;
		}
		*colon = '\0';
		if (strcmp(t_str_trim(line, " \t"), user->username) != 0)
			continue;
		for (p = colon + 1; (q = strchr(p, ',')) != NULL; p = q + 1)
			add_address(user, a, p, (size_t)(q - p));
		add_address(user, a, p, strlen(p));
	}
	(void)fclose(f);
	return 0;
}

static int read_config_file(struct mail_user *user, const char *path,
			    struct fts_mailsift_settings *set,
			    const char **error_r)
{
	ms_config *cfg = NULL;
	char *err = NULL;
	int ret = 0;

	if (ms_config_load(path, &cfg, &err) != MS_OK) {
		*error_r = t_strdup_printf("mailsift_config: %s",
					   err ? err : "out of memory");
		free(err);
		return -1;
	}
	set->batch_size = cfg->imap_batch_size;
	if (cfg->imap_archive_reuse) {
		set->archive_dir = p_strdup(user->pool, cfg->archive_dir);
		set->archive_text_cap = cfg->archive_max_text_per_part;
		if (*cfg->imap_user_addresses != '\0')
			ret = read_addresses(user, cfg->imap_user_addresses,
					     &set->addresses, error_r);
	}
	ms_config_unref(&cfg);
	return ret;
}

int fts_mailsift_settings_read(struct mail_user *user,
			       struct fts_mailsift_settings *set_r,
			       const char **error_r)
{
	const char *path = mail_user_plugin_getenv(user, "mailsift_config");

	i_zero(set_r);
	set_r->batch_size = 200;
	set_r->lock_timeout_msecs = 30000;
	set_r->lexicon_max = 24 * 1024 * 1024;
	set_r->key_runs = 8;
	p_array_init(&set_r->addresses, user->pool, 4);
	const char *login = str_lcase(p_strdup(user->pool, user->username));
	array_push_back(&set_r->addresses, &login);
	if (path != NULL && *path != '\0' &&
	    read_config_file(user, path, set_r, error_r) < 0)
		return -1;
	if (read_uint(user, "mailsift_batch_size", 1, 100000,
		      &set_r->batch_size, error_r) < 0 ||
	    read_uint(user, "mailsift_lock_timeout", 0, 600000,
		      &set_r->lock_timeout_msecs, error_r) < 0 ||
	    read_uint(user, "mailsift_lexicon_max", 0, 1U << 30,
		      &set_r->lexicon_max, error_r) < 0 ||
	    read_uint(user, "mailsift_key_runs", 1, 100000, &set_r->key_runs,
		      error_r) < 0)
		return -1;
	return 0;
}
