/* fts-mailsift-reuse.c - reuse of the archive's text (DESIGN.md,
 * invariant 3).
 *
 * Functions: fts_mailsift_reuse_words.
 *
 * A message that carries X-Mailsift-Id was archived by mailsift-indexd
 * with its envelope. Its archived body words are reused instead of
 * decoding the body again only when
 *   - the archive holds that id and its envelope recipients (XR terms)
 *     include this user's login or one of their configured addresses
 *     (otherwise the header may be forged or copied: the message is
 *     indexed from itself, and nothing of the archived one is used);
 *   - the archived words are exactly the runs the backend would index
 *     (fts-mailsift-terms.h): the indexer marked the document
 *     MS_TRAIT_ASCII_RUNS (all ASCII, no word skipped for length, no part
 *     cut at the text cap). The caller also checks that every text part
 *     is text/plain in a common transfer encoding (fts_mailsift_extract).
 * Then IMAP SEARCH gives the same answers either way. One debug line per
 * message with X-Mailsift-Id says what was decided.
 */
#include "fts-mailsift-plugin.h"

#include "array.h"
#include "mail-storage-private.h"
#include "mail-user.h"
#include "str.h"
#include "str-sanitize.h"

#include "ms_schema.h"

#define ID_MAX 64

struct archived {
	const ARRAY_TYPE(const_string) * addresses;
	ARRAY_TYPE(const_string) * words;
	bool delivered, ascii_runs;
};

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static void check_rcpt(struct archived *a, const char *addr, size_t len)
{
	const char *const *u;

	array_foreach(a->addresses, u)
	{
		if (strlen(*u) == len && memcmp(*u, addr, len) == 0)
			a->delivered = TRUE;
	}
}

static bool has_prefix(const char *term, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(term, prefix, n) == 0;
}

/* msx_term_fn: body words have no prefix (lower case or digit). */
static int archived_term(const char *term, size_t len, void *ctx)
{
	struct archived *a = ctx;
	const char *trait = MS_PREFIX_TRAIT MS_TRAIT_ASCII_RUNS;
	const char *rcpt = ms_schema_field("rcpt")->prefix;

	if (has_prefix(term, len, rcpt))
		check_rcpt(a, term + strlen(rcpt), len - strlen(rcpt));
	else if (len == strlen(trait) && memcmp(term, trait, len) == 0)
		a->ascii_runs = TRUE;
	if (is_upper(term[0]))
		return 0;
	const char *w = t_strndup(term, len);
	array_push_back(a->words, &w);
	return 0;
}

static int archive_open(struct mailsift_fts_backend *b, msx_db **archive)
{
	char err[512] = "";
	const char *dir;

	if (*archive != NULL)
		return 0;
	dir = t_strconcat(b->set.archive_dir, "/shards", NULL);
	if (msx_archive_open(dir, archive, err, sizeof(err)) != MSX_OK) {
		e_warning(b->backend.ns->user->event,
			  FTS_MAILSIFT_LOG "archive reuse off: %s", err);
		b->set.archive_dir = NULL; /* once per session */
		return -1;
	}
	return 0;
}

/* Why the archived words of id cannot be used (NULL: they can). */
static const char *judge(struct mailsift_fts_backend *b, msx_db *archive,
			 const char *id, struct archived *a)
{
	const char *idterm = t_strconcat(MS_PREFIX_ID, id, NULL);
	int st = msx_archive_doc(archive, idterm, archived_term, a);

	if (st == MSX_NOTFOUND)
		return "not in the archive";
	if (st != MSX_OK)
		return t_strdup_printf("archive: %s", msx_error(archive));
	if (!a->delivered)
		return t_strdup_printf("not delivered to %s",
				       b->backend.ns->user->username);
	if (!a->ascii_runs)
		return "archived text not marked as plain ASCII words";
	return NULL;
}

static bool valid_id(const char *id)
{
	size_t n = strspn(id, "0123456789abcdef");

	return n > 0 && n <= ID_MAX && id[n] == '\0';
}

int fts_mailsift_reuse_words(struct mailsift_fts_backend *b, msx_db **archive,
			     struct mail *mail,
			     ARRAY_TYPE(const_string) * words)
{
	struct archived a = { &b->set.addresses, words, FALSE, FALSE };
	const char *id, *why;
	uoff_t size;

	if (b->set.archive_dir == NULL ||
	    mail_get_first_header(mail, "X-Mailsift-Id", &id) <= 0)
		return 0;
	id = t_str_lcase(t_str_trim(id, " \t"));
	if (!valid_id(id))
		why = "not a mailsift id";
	else if (mail_get_physical_size(mail, &size) < 0 ||
		 size > b->set.archive_text_cap)
		why = "larger than the archive's text cap";
	else if (archive_open(b, archive) < 0)
		return 0;
	else
		why = judge(b, *archive, id, &a);
	if (why != NULL) {
		e_debug(mail->box->event,
			FTS_MAILSIFT_LOG "uid %u: X-Mailsift-Id %s %s: "
					 "indexed from the message",
			mail->uid, str_sanitize(id, ID_MAX), why);
		array_clear(words);
		return 0;
	}
	e_debug(mail->box->event,
		FTS_MAILSIFT_LOG "uid %u: reused archive terms of %s",
		mail->uid, id);
	return 1;
}
