/* fts-mailsift-settings.c - the backend's settings.
 *
 * Functions: fts_mailsift_settings_read.
 *
 * Sources, later ones win: defaults; plugin.conf named by the plugin
 * setting mailsift_config ([imap] batch_size); the plugin settings
 * mailsift_batch_size and mailsift_lock_timeout (milliseconds).
 */
#include "fts-mailsift-plugin.h"

#include "mail-user.h"

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

static int read_config_file(const char *path, struct fts_mailsift_settings *set,
			    const char **error_r)
{
	ms_config *cfg = NULL;
	char *err = NULL;

	if (ms_config_load(path, &cfg, &err) != MS_OK) {
		*error_r = t_strdup_printf("mailsift_config: %s",
					   err ? err : "out of memory");
		free(err);
		return -1;
	}
	set->batch_size = cfg->imap_batch_size;
	ms_config_unref(&cfg);
	return 0;
}

int fts_mailsift_settings_read(struct mail_user *user,
			       struct fts_mailsift_settings *set_r,
			       const char **error_r)
{
	const char *path = mail_user_plugin_getenv(user, "mailsift_config");

	i_zero(set_r);
	set_r->batch_size = 500;
	set_r->lock_timeout_msecs = 30000;
	if (path != NULL && *path != '\0' &&
	    read_config_file(path, set_r, error_r) < 0)
		return -1;
	if (read_uint(user, "mailsift_batch_size", 1, 100000,
		      &set_r->batch_size, error_r) < 0 ||
	    read_uint(user, "mailsift_lock_timeout", 0, 600000,
		      &set_r->lock_timeout_msecs, error_r) < 0)
		return -1;
	return 0;
}
