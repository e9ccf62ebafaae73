/* fts-mailsift-storage.c - mailbox lifecycle hooks of the mailsift backend:
 * deleting a mailbox removes its index (Dovecot's FTS core has no backend
 * vfunc for that). A rename needs nothing: the index is named by the
 * mailbox GUID, which a rename keeps.
 *
 * Functions: fts_mailsift_storage_init, fts_mailsift_storage_deinit
 * (register / unregister the mail storage hooks); static:
 * mailsift_mailbox_allocated (wraps box->v.delete_box when the user's fts
 * backend is mailsift), mailsift_delete_box.
 */
#include "fts-mailsift-plugin.h"

#include "mail-storage-hooks.h"
#include "mail-storage-private.h"
#include "mail-user.h"
#include "mailbox-list.h"
#include "module-context.h"
#include "unlink-directory.h"

#define MAILSIFT_BOX_CONTEXT(obj)                                              \
	MODULE_CONTEXT_REQUIRE(obj, mailsift_storage_module)

static MODULE_CONTEXT_DEFINE_INIT(mailsift_storage_module,
				  &mail_storage_module_register);

/* Index directory of box, or NULL if box has no GUID (e.g. \Noselect). */
static const char *box_index_path(struct mailbox *box)
{
	const char *guid, *root;

	if (fts_mailbox_get_guid(box, &guid) < 0)
		return NULL;
	root = mailbox_list_get_root_forced(box->list,
					    MAILBOX_LIST_PATH_TYPE_INDEX);
	return t_strdup_printf("%s/" FTS_MAILSIFT_DIR "/%s", root, guid);
}

static void remove_index(struct mailbox *box, const char *path)
{
	const char *error;

	if (unlink_directory(path, UNLINK_DIRECTORY_FLAG_RMDIR, &error) < 0) {
		if (errno != ENOENT)
			e_error(box->event,
				FTS_MAILSIFT_LOG "mailbox %s deleted, but "
						 "removing its index failed: "
						 "%s",
				mailbox_get_vname(box), error);
		return;
	}
	e_debug(box->event, FTS_MAILSIFT_LOG "mailbox %s deleted: removed %s",
		mailbox_get_vname(box), path);
}

static int mailsift_delete_box(struct mailbox *box)
{
	union mailbox_module_context *mbox = MAILSIFT_BOX_CONTEXT(box);
	char *path = NULL;
	int ret;

	/* the GUID is known only while the mailbox exists */
	T_BEGIN
	{
		const char *p = box_index_path(box);
		if (p != NULL)
			path = i_strdup(p);
	}
	T_END;
	ret = mbox->super.delete_box(box);
	if (ret == 0 && path != NULL) {
		T_BEGIN
		{
			remove_index(box, path);
		}
		T_END;
	}
	i_free(path);
	return ret;
}

static void mailsift_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	union mailbox_module_context *mbox;
	const char *backend =
		mail_user_plugin_getenv(box->storage->user, "fts");

	if (backend == NULL || strcmp(backend, FTS_MAILSIFT_NAME) != 0)
		return;
	mbox = p_new(box->pool, union mailbox_module_context, 1);
	mbox->super = *v;
	box->vlast = &mbox->super;
	v->delete_box = mailsift_delete_box;
	MODULE_CONTEXT_SET_SELF(box, mailsift_storage_module, mbox);
}

static struct mail_storage_hooks mailsift_storage_hooks = {
	.mailbox_allocated = mailsift_mailbox_allocated,
};

void fts_mailsift_storage_init(struct module *module)
{
	mail_storage_hooks_add(module, &mailsift_storage_hooks);
}

void fts_mailsift_storage_deinit(void)
{
	mail_storage_hooks_remove(&mailsift_storage_hooks);
}
