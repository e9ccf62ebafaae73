/* ms_xapian_fts.cc - the plugin's Xapian layer (see fts-mailsift-xapian.h):
 * per-mailbox databases whose docids are IMAP UIDs.
 *
 * Functions: msx_open, msx_close, msx_error, msx_status, msx_reopen,
 * msx_meta_get, msx_meta_set, msx_doc_begin, msx_doc_add_term, msx_doc_end,
 * msx_doc_set_text, msx_texts,
 * msx_delete, msx_commit, msx_terms, msx_postlist, msx_revision,
 * msx_each_uid, msx_doccount, msx_archive_open, msx_archive_doc, msx_compact.
 *
 * Every entry point runs its body through guard(), the one place where
 * exceptions become statuses and messages.
 */
#include "fts-mailsift-xapian.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include <dirent.h>

#include <xapian.h>

static const size_t TERM_MAX = 245;

struct msx_db {
	Xapian::Database db; /* reads (the writer itself if writable) */
	Xapian::WritableDatabase wdb; /* writes, if writable */
	bool writable = false;
	/* under construction; a term added again costs Document's map
	   lookup (a hash set of the terms seen in front of it was no faster
	   once pair terms were gone: corpus A 5.7 vs 6.0 s, the 10,046
	   messages 15.3 vs 15.4-16.5 s) */
	Xapian::Document doc;
	uint32_t doc_uid = 0; /* 0: none */
	std::string err;
	int st = MSX_OK; /* status of the last call on this handle */
};

/* ---- the one exception -> status mapping ---- */

static int status_of(const Xapian::Error &e)
{
	const std::string t = e.get_type();
	if (t == "DatabaseLockError")
		return MSX_LOCKED;
	if (t == "DatabaseModifiedError")
		return MSX_MODIFIED;
	if (t == "DatabaseCorruptError" || t == "DatabaseVersionError")
		return MSX_CORRUPT;
	if (t == "DatabaseNotFoundError" || t == "DocNotFoundError")
		return MSX_NOTFOUND;
	return MSX_ERROR;
}

template <typename F> static int guard(std::string *err, F body) noexcept
{
	try {
		if (err)
			err->clear();
		body();
		return MSX_OK;
	} catch (const Xapian::Error &e) {
		if (err) {
			try {
				*err = e.get_description();
			} catch (...) {
			}
		}
		return status_of(e);
	} catch (const std::bad_alloc &) {
		if (err)
			err->clear();
		return MSX_ERROR;
	} catch (...) {
		return MSX_ERROR;
	}
}

/* guard() for calls on db: also records the status (msx_status). */
template <typename F> static int run(msx_db *db, F body) noexcept
{
	db->st = guard(&db->err, body);
	return db->st;
}

static void copy_err(const std::string &msg, char *err, size_t errlen)
{
	if (err == NULL || errlen == 0)
		return;
	size_t n = msg.size() < errlen - 1 ? msg.size() : errlen - 1;
	memcpy(err, msg.data(), n);
	err[n] = '\0';
}

/* ---- open / close ---- */

int msx_open(const char *path, int writable, msx_db **db_r, char *err,
	     size_t errlen)
{
	*db_r = NULL;
	msx_db *db = new (std::nothrow) msx_db;
	if (db == NULL) {
		copy_err("out of memory", err, errlen);
		return MSX_ERROR;
	}
	std::string msg;
	int st = guard(&msg, [&] {
		if (writable) {
			db->wdb = Xapian::WritableDatabase(
				path, Xapian::DB_CREATE_OR_OPEN);
			db->db = db->wdb;
			db->writable = true;
		} else {
			db->db = Xapian::Database(path);
		}
	});
	if (st != MSX_OK) {
		copy_err(msg, err, errlen);
		delete db;
		return st;
	}
	*db_r = db;
	return MSX_OK;
}

void msx_close(msx_db **db)
{
	if (db == NULL || *db == NULL)
		return;
	(void)guard(NULL, [&] {
		if ((*db)->writable)
			(*db)->wdb.close();
	});
	delete *db;
	*db = NULL;
}

const char *msx_error(const msx_db *db)
{
	return db->err.c_str();
}

int msx_status(const msx_db *db)
{
	return db->st;
}

int msx_reopen(msx_db *db)
{
	return run(db, [&] { db->db.reopen(); });
}

/* ---- metadata ---- */

int msx_meta_get(msx_db *db, const char *key, char **val_r)
{
	*val_r = NULL;
	std::string v;
	int st = run(db, [&] { v = db->db.get_metadata(key); });
	if (st != MSX_OK)
		return st;
	*val_r = strdup(v.c_str());
	return *val_r == NULL ? MSX_ERROR : MSX_OK;
}

int msx_meta_set(msx_db *db, const char *key, const char *val)
{
	if (!db->writable)
		return MSX_ERROR;
	return run(db, [&] { db->wdb.set_metadata(key, val); });
}

/* ---- documents ---- */

int msx_doc_begin(msx_db *db, uint32_t uid)
{
	return run(db, [&] {
		db->doc = Xapian::Document();
		db->doc_uid = uid;
	});
}

int msx_doc_add_term(msx_db *db, const char *term, size_t len)
{
	if (db->doc_uid == 0 || len == 0)
		return MSX_OK;
	if (len > TERM_MAX) { /* cut at a UTF-8 character boundary */
		len = TERM_MAX;
		while (len > 0 && (term[len] & 0xC0) == 0x80)
			len--;
	}
	return run(db,
		   [&] { db->doc.add_boolean_term(std::string(term, len)); });
}

int msx_doc_end(msx_db *db)
{
	if (db->doc_uid == 0 || !db->writable)
		return MSX_OK;
	uint32_t uid = db->doc_uid;
	db->doc_uid = 0;
	return run(db, [&] {
		db->wdb.replace_document(uid, db->doc);
		db->doc = Xapian::Document();
	});
}

int msx_doc_set_text(msx_db *db, const char *data, size_t len)
{
	if (db->doc_uid == 0)
		return MSX_OK;
	return run(db, [&] {
		db->doc.add_value(MSX_TEXT_SLOT, std::string(data, len));
	});
}

int msx_delete(msx_db *db, uint32_t uid)
{
	if (!db->writable)
		return MSX_ERROR;
	return run(db, [&] {
		try {
			db->wdb.delete_document(uid);
		} catch (const Xapian::DocNotFoundError &) {
		}
	});
}

int msx_commit(msx_db *db)
{
	if (!db->writable)
		return MSX_OK;
	return run(db, [&] { db->wdb.commit(); });
}

/* ---- reading ---- */

int msx_texts(msx_db *db, const uint32_t *uids, size_t n, msx_text_fn *fn,
	      void *ctx)
{
	return run(db, [&] {
		auto v = db->db.valuestream_begin(MSX_TEXT_SLOT);
		auto end = db->db.valuestream_end(MSX_TEXT_SLOT);
		for (size_t i = 0; i < n && v != end; i++) {
			v.skip_to(uids[i]);
			if (v == end)
				break;
			if (v.get_docid() != uids[i])
				continue;
			const std::string &t = *v;
			if (fn(uids[i], t.data(), t.size(), ctx) != 0)
				break;
		}
	});
}

int msx_terms(msx_db *db, const char *prefix, msx_term_fn *fn, void *ctx)
{
	return run(db, [&] {
		for (auto t = db->db.allterms_begin(prefix);
		     t != db->db.allterms_end(prefix); ++t) {
			const std::string &s = *t;
			if (fn(s.data(), s.size(), ctx))
				break;
		}
	});
}

int msx_postlist(msx_db *db, const char *term, size_t len, msx_uid_fn *uid,
		 void *ctx)
{
	return run(db, [&] {
		const std::string t(term, len);
		for (auto p = db->db.postlist_begin(t);
		     p != db->db.postlist_end(t); ++p)
			uid(*p, ctx);
	});
}

int msx_revision(msx_db *db, uint64_t *rev_r)
{
	*rev_r = 0;
	return run(db, [&] { *rev_r = db->db.get_revision(); });
}

int msx_each_uid(msx_db *db, msx_uid_fn *uid, void *ctx)
{
	return run(db, [&] {
		for (auto p = db->db.postlist_begin("");
		     p != db->db.postlist_end(""); ++p)
			uid(*p, ctx);
	});
}

int msx_doccount(msx_db *db, uint32_t *n_r)
{
	*n_r = 0;
	return run(db, [&] { *n_r = db->db.get_doccount(); });
}

/* ---- the archive ---- */

int msx_archive_open(const char *shards_dir, msx_db **db_r, char *err,
		     size_t errlen)
{
	*db_r = NULL;
	DIR *dir = opendir(shards_dir);
	if (dir == NULL) {
		copy_err(std::string(shards_dir) + ": " + strerror(errno), err,
			 errlen);
		return errno == ENOENT ? MSX_NOTFOUND : MSX_ERROR;
	}
	msx_db *db = new (std::nothrow) msx_db;
	std::string msg;
	size_t shards = 0;
	int st = db == NULL ? MSX_ERROR : guard(&msg, [&] {
		for (struct dirent *d; (d = readdir(dir)) != NULL;) {
			if (d->d_name[0] == '.')
				continue;
			db->db.add_database(Xapian::Database(
				std::string(shards_dir) + "/" + d->d_name));
			shards++;
		}
	});
	closedir(dir);
	if (st == MSX_OK && shards == 0) {
		msg = std::string(shards_dir) + ": no shards";
		st = MSX_NOTFOUND;
	}
	if (st != MSX_OK) {
		copy_err(db == NULL ? "out of memory" : msg, err, errlen);
		delete db;
		return st;
	}
	*db_r = db;
	return MSX_OK;
}

int msx_archive_doc(msx_db *db, const char *idterm, msx_term_fn *fn, void *ctx)
{
	return run(db, [&] {
		auto p = db->db.postlist_begin(idterm);
		if (p == db->db.postlist_end(idterm))
			throw Xapian::DocNotFoundError(idterm);
		Xapian::Document doc = db->db.get_document(*p);
		for (auto t = doc.termlist_begin(); t != doc.termlist_end();
		     ++t) {
			const std::string &s = *t;
			if (fn(s.data(), s.size(), ctx))
				break;
		}
	});
}

int msx_compact(const char *src, const char *dst, char *err, size_t errlen)
{
	std::string msg;
	int st = guard(&msg, [&] {
		Xapian::Database in(src);
		in.compact(dst);
	});
	if (st != MSX_OK)
		copy_err(msg, err, errlen);
	return st;
}
