/* fts-backend-mailsift.c - the "mailsift" FTS backend: the vfunc table,
 * the last indexed UID, and index updates.
 *
 * Functions (all static, reached through fts_backend_mailsift): alloc,
 * init, deinit, get_last_uid, update_init, update_deinit,
 * update_set_mailbox, update_expunge, update_set_build_key,
 * update_unset_build_key, update_build_more, refresh, lookup_done.
 *
 * Updates: one writer on the current mailbox's database. The first build
 * key of a UID makes the backend read that message itself
 * (fts-mailsift-extract.c: the text native SEARCH reads, which differs
 * from what the FTS core feeds) into one document; every key is then
 * declined, so the core does not decode bodies or run its HTML parser
 * for nothing. A message whose archived text may be reused
 * (fts-mailsift-reuse.c) takes its body words from the archive. The
 * document is stored when the next UID starts; the database is committed
 * every batch_size messages together with the last indexed UID
 * (invariant 5), and at the end; an update that grew the database by a
 * quarter compacts it. A changed UIDVALIDITY drops the mailbox's
 * documents first. Errors are logged and make update_deinit return -1; the
 * IMAP process never dies for an index problem.
 */
#include "fts-mailsift-plugin.h"

#include "mail-namespace.h"
#include "mail-storage-private.h"
#include "mail-user.h"
#include "mailbox-list.h"
#include "str.h"
#include "fts-user.h"

#include "fts-mailsift-terms.h"

#define COMPACT_MIN_DOCS 200

struct mailsift_fts_update_context {
	struct fts_backend_update_context ctx;
	struct mailsift_fts_backend *b;
	struct mailbox *box; /* current mailbox, NULL if none */
	msx_db *db;	     /* its writer, NULL if none or it failed */
	struct mailbox_transaction_context *trans; /* reads box's mail */
	struct mail *mail;
	msx_db *archive; /* archive reader for reuse, NULL until needed */
	struct msf_text_codec *codec; /* packs stored texts, made on use */
	ms_buf packed;		      /* a stored text packed */
	uint32_t last_uid;	      /* highest UID indexed in box */
	uint32_t doc_uid;   /* UID of the document being built, 0 none */
	uint32_t seen_uid;  /* UID whose build keys are being declined */
	unsigned int batch; /* documents since the last commit */
	unsigned int added; /* documents stored in box by this update */
};

/* ---- lifecycle ---- */

/* Malloc'ed: Dovecot's fts core i_free()s a backend whose init failed
 * (a pool-allocated one crashed doveadm on a bad plugin.conf); the pool
 * comes with a successful init. */
static struct fts_backend *mailsift_alloc(void)
{
	struct mailsift_fts_backend *b = i_new(struct mailsift_fts_backend, 1);

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
	b->pool = pool_alloconly_create("fts mailsift", 1024);
	root = mailbox_list_get_root_forced(list, MAILBOX_LIST_PATH_TYPE_INDEX);
	b->root = p_strdup_printf(b->pool, "%s/" FTS_MAILSIFT_DIR, root);
	return 0;
}

static void mailsift_deinit(struct fts_backend *backend)
{
	struct mailsift_fts_backend *b = (struct mailsift_fts_backend *)backend;

	if (b->user_inited)
		fts_mail_user_deinit(backend->ns->user);
	fts_mailsift_lexicon_cache_free(b);
	fts_mailsift_db_reader_close(b);
	pool_unref(&b->pool);
	i_free(b);
}

/* Reads the last indexed UID; 0 if the mailbox has no index yet, its
 * UIDVALIDITY changed or it holds another term scheme's terms (the next
 * update rebuilds it). */
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
		ret = fts_mailsift_db_reader(b, box, &db);
	}
	T_END;
	if (ret <= 0)
		return ret;
	ret = mailbox_get_status(box, STATUS_UIDVALIDITY, &status);
	if (ret == 0)
		ret = fts_mailsift_db_get_u32(db, META_UIDVALIDITY, &validity);
	/* another scheme's terms: nothing is indexed (rebuilt on update) */
	if (ret == 0 && validity == status.uidvalidity &&
	    (ret = fts_mailsift_db_format_ok(db)) > 0)
		ret = fts_mailsift_db_get_u32(db, META_LAST_UID, last_uid_r);
	if (ret < 0) {
		fts_mailsift_error(b, box, "reading the last UID: %s",
				   msx_error(db));
		fts_mailsift_db_drop_if_corrupt(b, box, &b->reader);
	}
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
	u->added++;
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

/* After an update that grew the index by a quarter (e.g. a first
 * `doveadm index`), a compacted copy replaces it: about half the size. */
static void maybe_compact(struct mailsift_fts_update_context *u)
{
	uint32_t docs;

	if (u->db == NULL || u->added < COMPACT_MIN_DOCS ||
	    msx_doccount(u->db, &docs) != MSX_OK || u->added * 4 < docs)
		return;
	(void)fts_mailsift_db_compact(u->b, u->box, &u->db);
}

static void mailbox_finish(struct mailsift_fts_update_context *u)
{
	doc_finish(u);
	if (commit_batch(u) == 0)
		maybe_compact(u);
	msx_close(&u->db);
	u->added = 0;
	if (u->mail != NULL)
		mail_free(&u->mail);
	if (u->trans != NULL)
		mailbox_transaction_rollback(&u->trans);
	u->box = NULL;
}

/* Why box's index (its UIDVALIDITY validity, 0 if new) must be rebuilt,
 * or NULL; *error_r set on a read error. */
static const char *stale_reason(msx_db *db, uint32_t validity,
				const struct mailbox_status *status,
				bool *error_r)
{
	int ok;

	*error_r = FALSE;
	if (validity == 0)
		return NULL;
	if (validity != status->uidvalidity)
		return "UIDVALIDITY changed";
	if ((ok = fts_mailsift_db_format_ok(db)) < 0)
		*error_r = TRUE;
	return ok == 0 ? "written under another term scheme" : NULL;
}

/* Opens box's writer; drops an index made under another UIDVALIDITY or
 * term scheme. */
static int mailbox_start(struct mailsift_fts_update_context *u,
			 struct mailbox *box)
{
	struct mailbox_status status;
	uint32_t validity = 0;
	const char *path, *why;
	bool error;

	u->box = box;
	if (fts_mailsift_db_open(u->b, box, TRUE, &u->db) <= 0)
		return -1;
	if (mailbox_get_status(box, STATUS_UIDVALIDITY, &status) < 0 ||
	    fts_mailsift_db_get_u32(u->db, META_UIDVALIDITY, &validity) < 0 ||
	    fts_mailsift_db_get_u32(u->db, META_LAST_UID, &u->last_uid) < 0)
		return -1;
	why = stale_reason(u->db, validity, &status, &error);
	if (error)
		return -1;
	if (why != NULL) {
		msx_close(&u->db);
		if (fts_mailsift_db_path(u->b, box, &path) < 0 ||
		    fts_mailsift_db_remove(u->b, box, path, why) < 0 ||
		    fts_mailsift_db_open(u->b, box, TRUE, &u->db) <= 0)
			return -1;
		u->last_uid = 0;
	}
	if (fts_mailsift_db_set_u32(u->db, META_UIDVALIDITY,
				    status.uidvalidity) < 0 ||
	    fts_mailsift_db_set_u32(u->db, META_FORMAT, MSF_INDEX_FORMAT) < 0)
		return -1;
	u->trans = mailbox_transaction_begin(box, 0, "fts-mailsift");
	u->mail = mail_alloc(u->trans, 0, NULL);
	return 0;
}

static struct fts_backend_update_context *
mailsift_update_init(struct fts_backend *backend)
{
	struct mailsift_fts_update_context *u;

	u = i_new(struct mailsift_fts_update_context, 1);
	u->ctx.backend = backend;
	u->b = (struct mailsift_fts_backend *)backend;
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
	msx_close(&u->archive);
	msf_text_codec_free(&u->codec);
	ms_buf_free(&u->packed);
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

/* ---- updates: one message ---- */

static int add_term(const char *term, size_t len, void *ctx)
{
	struct mailsift_fts_update_context *u = ctx;

	if (u->db == NULL) /* dropped after an error */
		return -1;
	return msx_doc_add_term(u->db, term, len) == MSX_OK ? 0 : -1;
}

/* Fills the started document of mail from the message, with its text. */
static int doc_fill_text(struct mailsift_fts_update_context *u,
			 const char **error_r)
{
	struct msf_text text;
	int ret;

	if (u->codec == NULL && (u->codec = msf_text_codec_new()) == NULL)
		i_fatal_status(FATAL_OUTOFMEM,
			       "msf_text_codec_new: out of memory");
	msf_text_init(&text);
	ret = fts_mailsift_extract(u->mail, NULL, add_term, u, &text, error_r);
	if (ret == 0 && msf_text_pack(&text, u->codec, &u->packed) > 0 &&
	    msx_doc_set_text(u->db, u->packed.data, u->packed.len) != MSX_OK) {
		*error_r = "storing the text failed";
		ret = -1;
	}
	msf_text_free(&text);
	return ret;
}

/* Fills the started document of mail: from the archive's words when they
 * can serve, else from the message. */
static int doc_fill(struct mailsift_fts_update_context *u, uint32_t uid,
		    const char **error_r)
{
	ARRAY_TYPE(const_string) words;
	int ret;

	t_array_init(&words, 256);
	if (fts_mailsift_reuse_words(u->b, &u->archive, u->mail, &words) > 0) {
		ret = fts_mailsift_extract(u->mail, &words, add_term, u, NULL,
					   error_r);
		if (ret <= 0)
			return ret;
		e_debug(u->box->event,
			FTS_MAILSIFT_LOG "uid %u: not all text parts are "
					 "text/plain: indexed from the message",
			uid);
		if (msx_doc_begin(u->db, uid) != MSX_OK) /* start again */
			return -1;
	}
	return doc_fill_text(u, error_r);
}

/* Starts uid's document and fills it. */
static void doc_build(struct mailsift_fts_update_context *u, uint32_t uid)
{
	const char *error = "storing terms failed";

	if (msx_doc_begin(u->db, uid) != MSX_OK) {
		update_fail(u, "starting a message");
		return;
	}
	u->doc_uid = uid;
	if (!mail_set_uid(u->mail, uid))
		return; /* expunged meanwhile: an empty document */
	if (doc_fill(u, uid, &error) < 0) {
		if (u->mail->expunged)
			return;
		fts_mailsift_error(u->b, u->box, "indexing UID %u: %s", uid,
				   error);
		u->ctx.failed = TRUE;
		u->doc_uid = 0; /* not stored */
	}
}

/* Every key is declined: the message was read by doc_build(). */
static bool
mailsift_update_set_build_key(struct fts_backend_update_context *ctx,
			      const struct fts_backend_build_key *key)
{
	struct mailsift_fts_update_context *u =
		(struct mailsift_fts_update_context *)ctx;

	if (u->db == NULL || u->mail == NULL || key->uid == u->seen_uid)
		return FALSE;
	u->seen_uid = key->uid;
	doc_finish(u);
	if (u->batch >= u->b->set.batch_size)
		(void)commit_batch(u);
	if (u->db != NULL) {
		T_BEGIN
		{
			doc_build(u, key->uid);
		}
		T_END;
	}
	return FALSE;
}

static int mailsift_update_build_more(struct fts_backend_update_context *ctx,
				      const unsigned char *data ATTR_UNUSED,
				      size_t size ATTR_UNUSED)
{
	return ctx->failed ? -1 : 0;
}

static void mailsift_update_unset_build_key(
	struct fts_backend_update_context *ctx ATTR_UNUSED)
{
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
