/* fts-backend-mailsift.c - the "mailsift" FTS backend: the vfunc table,
 * the last indexed UID, and index updates.
 *
 * Functions (all static, reached through fts_backend_mailsift): alloc,
 * init, deinit, get_last_uid, update_init, update_deinit,
 * update_set_mailbox, update_expunge, update_set_build_key,
 * update_unset_build_key, update_build_more, refresh, lookup_done.
 *
 * Updates: one writer on the current mailbox's database. A message's
 * build keys (headers, MIME headers, text body parts; Dovecot's html
 * parser already turned HTML into text) accumulate terms in one document,
 * stored when the next UID starts. Text is tokenized in MSF_CHUNK steps at
 * whitespace, so memory is bounded whatever the message size; the database
 * is committed every batch_size messages together with the last indexed
 * UID (invariant 5), and at the end. A changed UIDVALIDITY drops the
 * mailbox's documents first. Errors are logged and make update_deinit
 * return -1; the IMAP process never dies for an index problem.
 */
#include "fts-mailsift-plugin.h"

#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "mailbox-list.h"
#include "message-address.h"
#include "str.h"
#include "fts-user.h"

#include "fts-mailsift-terms.h"

struct mailsift_fts_update_context {
	struct fts_backend_update_context ctx;
	struct mailsift_fts_backend *b;
	struct mailbox *box; /* current mailbox, NULL if none */
	msx_db *db;	     /* its writer, NULL if none or it failed */
	uint32_t last_uid;   /* highest UID indexed in box */
	uint32_t doc_uid;    /* UID of the document being built, 0 none */
	unsigned int batch;  /* documents since the last commit */

	char prefix[MSF_HDR_MAX + 4]; /* field of the open build key */
	bool key_open, key_is_address;
	string_t *text; /* pending text of the open build key */
};

/* ---- lifecycle ---- */

static struct fts_backend *mailsift_alloc(void)
{
	struct mailsift_fts_backend *b;
	pool_t pool = pool_alloconly_create("fts mailsift", 1024);

	b = p_new(pool, struct mailsift_fts_backend, 1);
	b->pool = pool;
	b->backend = fts_backend_mailsift;
	return &b->backend;
}

static int mailsift_init(struct fts_backend *backend, const char **error_r)
{
	struct mailsift_fts_backend *b = (struct mailsift_fts_backend *)backend;
	struct mailbox_list *list = backend->ns->list;
	const char *root;

	if (fts_mailsift_settings_read(backend->ns->user, &b->set, error_r) < 0)
		return -1;
	/* Dovecot 2.3.19's fts core needs the fts user context even for
	   backends without tokenized input (fts_user_get_data_lang). */
	if (fts_mail_user_init(backend->ns->user, FALSE, error_r) < 0)
		return -1;
	b->user_inited = TRUE;
	root = mailbox_list_get_root_forced(list, MAILBOX_LIST_PATH_TYPE_INDEX);
	b->root = p_strdup_printf(b->pool, "%s/" FTS_MAILSIFT_DIR, root);
	return 0;
}

static void mailsift_deinit(struct fts_backend *backend)
{
	struct mailsift_fts_backend *b = (struct mailsift_fts_backend *)backend;

	if (b->user_inited)
		fts_mail_user_deinit(backend->ns->user);
	pool_unref(&b->pool);
}

/* Reads the last indexed UID; 0 if the mailbox has no index yet or its
 * UIDVALIDITY changed (the next update rebuilds it). */
static int mailsift_get_last_uid(struct fts_backend *backend,
				 struct mailbox *box, uint32_t *last_uid_r)
{
	struct mailsift_fts_backend *b = (struct mailsift_fts_backend *)backend;
	struct mailbox_status status;
	uint32_t validity;
	msx_db *db;
	int ret;

	*last_uid_r = 0;
	T_BEGIN
	{
		ret = fts_mailsift_db_open(b, box, FALSE, &db);
	}
	T_END;
	if (ret <= 0)
		return ret;
	ret = mailbox_get_status(box, STATUS_UIDVALIDITY, &status);
	if (ret == 0)
		ret = fts_mailsift_db_get_u32(db, META_UIDVALIDITY, &validity);
	if (ret == 0 && validity == status.uidvalidity)
		ret = fts_mailsift_db_get_u32(db, META_LAST_UID, last_uid_r);
	if (ret < 0) {
		fts_mailsift_error(b, box, "reading the last UID: %s",
				   msx_error(db));
		fts_mailsift_db_drop_if_corrupt(b, box, &db);
	}
	msx_close(&db);
	return ret;
}

/* ---- updates: the current mailbox ---- */

static void update_fail(struct mailsift_fts_update_context *u, const char *what)
{
	fts_mailsift_error(u->b, u->box, "%s: %s", what,
			   u->db != NULL ? msx_error(u->db) : "no index");
	u->ctx.failed = TRUE;
	/* a corrupt index is dropped: the next update rebuilds it */
	if (u->box != NULL)
		fts_mailsift_db_drop_if_corrupt(u->b, u->box, &u->db);
}

/* Stores the document being built. */
static void doc_finish(struct mailsift_fts_update_context *u)
{
	if (u->doc_uid == 0 || u->db == NULL)
		return;
	if (msx_doc_end(u->db) != MSX_OK)
		update_fail(u, "storing a message");
	else if (u->doc_uid > u->last_uid)
		u->last_uid = u->doc_uid;
	u->doc_uid = 0;
	u->batch++;
}

static int commit_batch(struct mailsift_fts_update_context *u)
{
	if (u->db == NULL)
		return 0;
	if (fts_mailsift_db_set_u32(u->db, META_LAST_UID, u->last_uid) < 0 ||
	    msx_commit(u->db) != MSX_OK) {
		update_fail(u, "commit");
		return -1;
	}
	u->batch = 0;
	return 0;
}

static void mailbox_finish(struct mailsift_fts_update_context *u)
{
	doc_finish(u);
	(void)commit_batch(u);
	msx_close(&u->db);
	u->box = NULL;
}

/* Opens box's writer; drops an index made under another UIDVALIDITY. */
static int mailbox_start(struct mailsift_fts_update_context *u,
			 struct mailbox *box)
{
	struct mailbox_status status;
	uint32_t validity = 0;
	const char *path;

	u->box = box;
	if (fts_mailsift_db_open(u->b, box, TRUE, &u->db) <= 0)
		return -1;
	if (mailbox_get_status(box, STATUS_UIDVALIDITY, &status) < 0 ||
	    fts_mailsift_db_get_u32(u->db, META_UIDVALIDITY, &validity) < 0 ||
	    fts_mailsift_db_get_u32(u->db, META_LAST_UID, &u->last_uid) < 0)
		return -1;
	if (validity != 0 && validity != status.uidvalidity) {
		msx_close(&u->db);
		if (fts_mailsift_db_path(u->b, box, &path) < 0 ||
		    fts_mailsift_db_remove(u->b, box, path,
					   "UIDVALIDITY changed") < 0 ||
		    fts_mailsift_db_open(u->b, box, TRUE, &u->db) <= 0)
			return -1;
		u->last_uid = 0;
	}
	if (fts_mailsift_db_set_u32(u->db, META_UIDVALIDITY,
				    status.uidvalidity) < 0)
		return -1;
	return 0;
}

static struct fts_backend_update_context *
mailsift_update_init(struct fts_backend *backend)
{
	struct mailsift_fts_update_context *u;

	u = i_new(struct mailsift_fts_update_context, 1);
	u->ctx.backend = backend;
	u->b = (struct mailsift_fts_backend *)backend;
	u->text = str_new(default_pool, 4096);
	return &u->ctx;
}

static int mailsift_update_deinit(struct fts_backend_update_context *ctx)
{
	struct mailsift_fts_update_context *u =
		(struct mailsift_fts_update_context *)ctx;
	int ret;

	T_BEGIN
	{
		mailbox_finish(u);
	}
	T_END;
	ret = ctx->failed ? -1 : 0;
	str_free(&u->text);
	i_free(u);
	return ret;
}

static void mailsift_update_set_mailbox(struct fts_backend_update_context *ctx,
					struct mailbox *box)
{
	struct mailsift_fts_update_context *u =
		(struct mailsift_fts_update_context *)ctx;

	T_BEGIN
	{
		mailbox_finish(u);
		if (box != NULL && mailbox_start(u, box) < 0) {
			if (u->db != NULL)
				update_fail(u, "opening the index");
			else
				ctx->failed = TRUE;
			msx_close(&u->db);
		}
	}
	T_END;
}

static void mailsift_update_expunge(struct fts_backend_update_context *ctx,
				    uint32_t uid)
{
	struct mailsift_fts_update_context *u =
		(struct mailsift_fts_update_context *)ctx;

	if (u->db == NULL)
		return;
	if (uid == u->doc_uid)
		u->doc_uid = 0;
	if (msx_delete(u->db, uid) != MSX_OK)
		update_fail(u, "expunge");
}

/* ---- updates: text of one build key ---- */

static int add_term(const char *term, size_t len, void *ctx)
{
	struct mailsift_fts_update_context *u = ctx;

	if (u->db == NULL) /* dropped after an error */
		return -1;
	return msx_doc_add_term(u->db, term, len) == MSX_OK ? 0 : -1;
}

static void index_text(struct mailsift_fts_update_context *u, const char *text,
		       size_t len)
{
	if (u->db == NULL || len == 0)
		return;
	if (msf_add_text(u->prefix, text, len, add_term, u) < 0)
		update_fail(u, "indexing text");
}

/* Marks the open key's field: every lookup on it includes this message. */
static void mark_field(struct mailsift_fts_update_context *u)
{
	char mark[sizeof(u->prefix) + 1];

	i_snprintf(mark, sizeof(mark), "L%s", u->prefix);
	(void)add_term(mark, strlen(mark), u);
}

/* Address headers: Dovecot's own SEARCH FROM/TO/CC/BCC matches the
 * address list as message_address_write() prints it after parsing the raw
 * value with FILL_MISSING. The value given to a backend is already
 * normalised, differently for malformed lists (e.g. <C:`x.txt@host> comes
 * as <C@MISSING_DOMAIN>): when an address lacks a mailbox or domain or is
 * malformed, the field is marked ("L" term: always a candidate); otherwise
 * the words of our own rewritten form are added too. */
static bool address_incomplete(const struct message_address *a)
{
	for (; a != NULL; a = a->next) {
		if (a->domain == NULL)
			continue; /* group start or end */
		if (a->invalid_syntax || a->mailbox == NULL ||
		    *a->mailbox == '\0' || strcmp(a->mailbox, "\"\"") == 0 ||
		    *a->domain == '\0')
			return TRUE;
	}
	return FALSE;
}

static void index_address_form(struct mailsift_fts_update_context *u)
{
	struct message_address *addr;
	string_t *str = t_str_new(str_len(u->text) + 64);

	addr = message_address_parse(pool_datastack_create(), str_data(u->text),
				     str_len(u->text), UINT_MAX, 0);
	if (addr == NULL || address_incomplete(addr))
		mark_field(u);
	message_address_write(str, addr);
	index_text(u, str_c(str), str_len(str));
}

/* SEARCH TEXT (and BODY, for MIME part headers) matches whole header
 * lines, names included: index the words of the name, as "N" terms for a
 * top-level header and as body words for a MIME part header. */
static void index_header_name(struct mailsift_fts_update_context *u,
			      const struct fts_backend_build_key *key)
{
	const char *prefix = key->type == FTS_BACKEND_BUILD_KEY_HDR ? "N" : "B";

	if (msf_add_text(prefix, key->hdr_name, strlen(key->hdr_name), add_term,
			 u) < 0)
		update_fail(u, "indexing a header name");
}

static bool
mailsift_update_set_build_key(struct fts_backend_update_context *ctx,
			      const struct fts_backend_build_key *key)
{
	struct mailsift_fts_update_context *u =
		(struct mailsift_fts_update_context *)ctx;

	if (u->db == NULL ||
	    key->type == FTS_BACKEND_BUILD_KEY_BODY_PART_BINARY)
		return FALSE;
	if (key->uid != u->doc_uid) {
		doc_finish(u);
		if (u->batch >= u->b->set.batch_size)
			(void)commit_batch(u);
		if (u->db == NULL)
			return FALSE;
		if (msx_doc_begin(u->db, key->uid) != MSX_OK) {
			update_fail(u, "starting a message");
			return FALSE;
		}
		u->doc_uid = key->uid;
	}
	u->key_is_address = FALSE;
	if (key->hdr_name != NULL)
		index_header_name(u, key);
	if (key->type == FTS_BACKEND_BUILD_KEY_HDR) {
		msf_header_prefix(key->hdr_name, u->prefix, sizeof(u->prefix));
		u->key_is_address = message_header_is_address(key->hdr_name);
	} else {
		/* MIME part headers count as body: SEARCH BODY/TEXT may
		   match them, HEADER never does. */
		i_strocpy(u->prefix, "B", sizeof(u->prefix));
		/* Dovecot's html parser may drop visible text (e.g. after a
		   stray quote) that its native search finds in the source:
		   HTML parts stay candidates for every body lookup. */
		if (key->type == FTS_BACKEND_BUILD_KEY_BODY_PART &&
		    key->body_content_type != NULL &&
		    strcasecmp(key->body_content_type, "text/html") == 0)
			mark_field(u);
	}
	str_truncate(u->text, 0);
	u->key_open = TRUE;
	return TRUE;
}

static int mailsift_update_build_more(struct fts_backend_update_context *ctx,
				      const unsigned char *data, size_t size)
{
	struct mailsift_fts_update_context *u =
		(struct mailsift_fts_update_context *)ctx;
	size_t cut;

	str_append_data(u->text, data, size);
	if (str_len(u->text) < MSF_CHUNK || u->key_is_address)
		return u->db == NULL ? -1 : 0;
	cut = msf_safe_cut(str_c(u->text), str_len(u->text));
	if (cut == 0) {
		/* no whitespace in a whole chunk: cut at a character
		   boundary and mark the field (see fts-mailsift-terms.h) */
		cut = str_len(u->text);
		while (cut > 0 && (str_data(u->text)[cut] & 0xC0) == 0x80)
			cut--;
		mark_field(u);
	}
	index_text(u, str_c(u->text), cut);
	str_delete(u->text, 0, cut);
	return ctx->failed ? -1 : 0;
}

static void
mailsift_update_unset_build_key(struct fts_backend_update_context *ctx)
{
	struct mailsift_fts_update_context *u =
		(struct mailsift_fts_update_context *)ctx;

	if (!u->key_open)
		return;
	T_BEGIN
	{
		index_text(u, str_c(u->text), str_len(u->text));
		if (u->key_is_address && u->db != NULL)
			index_address_form(u);
	}
	T_END;
	str_truncate(u->text, 0);
	u->key_open = FALSE;
}

/* ---- the rest ---- */

static int mailsift_refresh(struct fts_backend *backend ATTR_UNUSED)
{
	/* lookups open the latest revision each time */
	return 0;
}

static void mailsift_lookup_done(struct fts_backend *backend ATTR_UNUSED)
{
}

struct fts_backend fts_backend_mailsift = {
	.name = FTS_MAILSIFT_NAME,
	.flags = 0, /* raw text and raw search strings: see README.md */
	.v = {
		.alloc = mailsift_alloc,
		.init = mailsift_init,
		.deinit = mailsift_deinit,
		.get_last_uid = mailsift_get_last_uid,
		.update_init = mailsift_update_init,
		.update_deinit = mailsift_update_deinit,
		.update_set_mailbox = mailsift_update_set_mailbox,
		.update_expunge = mailsift_update_expunge,
		.update_set_build_key = mailsift_update_set_build_key,
		.update_unset_build_key = mailsift_update_unset_build_key,
		.update_build_more = mailsift_update_build_more,
		.refresh = mailsift_refresh,
		.rescan = fts_mailsift_rescan,
		.optimize = fts_mailsift_optimize,
		.can_lookup = fts_backend_default_can_lookup,
		.lookup = fts_mailsift_lookup,
		.lookup_multi = fts_mailsift_lookup_multi,
		.lookup_done = mailsift_lookup_done,
	},
};
