/* fts-mailsift-plugin.c - entry points of lib21_fts_mailsift_plugin.so:
 * registers the "mailsift" FTS backend with Dovecot's fts plugin and the
 * mailbox hooks of fts-mailsift-storage.c.
 *
 * Functions: fts_mailsift_plugin_init, fts_mailsift_plugin_deinit.
 * Exported symbols: those two, fts_mailsift_plugin_version,
 * fts_mailsift_plugin_dependencies.
 */
#include "fts-mailsift-plugin.h"

#include "module-context.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT const char *fts_mailsift_plugin_version = DOVECOT_ABI_VERSION;
EXPORT const char *fts_mailsift_plugin_dependencies[] = { "fts", NULL };

EXPORT void fts_mailsift_plugin_init(struct module *module);
EXPORT void fts_mailsift_plugin_deinit(void);

void fts_mailsift_plugin_init(struct module *module)
{
	fts_backend_register(&fts_backend_mailsift);
	fts_mailsift_storage_init(module);
}

void fts_mailsift_plugin_deinit(void)
{
	fts_mailsift_storage_deinit();
	fts_backend_unregister(fts_backend_mailsift.name);
}
