/* ms_xapian.cc - the Xapian shim (see ms_xapian.h): database handles,
 * documents, search, count and check behind a C API.
 *
 * Functions: ms_xdb_open_write, ms_xdb_open_read, ms_xdb_subset, ms_xdb_reopen,
 * ms_xdb_close, ms_xdb_error, ms_xdoc_new, ms_xdoc_free, ms_xdoc_add_text,
 * ms_xdoc_add_term, ms_xdoc_set_value, ms_xdoc_set_data, ms_xdb_replace,
 * ms_xdb_delete, ms_xdb_has_term, ms_xdb_commit, ms_xdb_doccount,
 * ms_xdb_search, ms_xdb_count, ms_xresults_size, ms_xresults_total,
 * ms_xresults_data,
 * ms_xresults_part, ms_xresults_free, ms_xdb_each, ms_xdb_check,
 * ms_xdb_compact.
 *
 * Every entry point runs its body through guard(), the one place where
 * exceptions become statuses (and messages); no exception leaves this
 * file. Query translation lives in ms_xapian_query.cc.
 */
#include "ms_xapian.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include <xapian.h>

extern "C" { /* these C headers have no C++ guards of their own */
#include "ms_schema.h"
#include "ms_token.h"
}

/* From ms_xapian_query.cc. */
Xapian::Query ms_xquery_build(const ms_qnode *q);
void ms_xterm_clip(std::string &t);

/* Positions skipped between two ms_xdoc_add_text() calls. */
static const Xapian::termpos POS_GAP = 100;
static const size_t TERM_MAX = 245;

struct ms_xdb {
	Xapian::Database db; /* reads (the writer itself if writable) */
	Xapian::WritableDatabase wdb;	     /* writes, if writable */
	std::vector<Xapian::Database> parts; /* a reader's, in path order */
	bool writable = false;
	bool subset = false; /* its parts belong to another handle */
	bool empty = false;  /* db is a stand-in (no parts yet) */
	std::string err;
};

struct ms_xdoc {
	Xapian::Document doc;
	Xapian::termpos pos = 1; /* next text starts here */
	std::string term;	 /* reused prefix+term buffer */
	size_t plen = 0;	 /* prefix length in term */
	ms_status_t cb_status = MS_OK;
};

struct ms_xresults {
	std::vector<std::string> data;
	std::vector<size_t> part; /* the sub-database of each hit */
	uint64_t total = 0;	  /* every match, not only the page */
};

/* ---- the one exception -> status mapping ---- */

static ms_status_t fail(std::string *err, ms_status_t st,
			const char *msg) noexcept
{
	if (err) {
		try {
			*err = msg;
		} catch (...) {
			err->clear();
		}
	}
	return st;
}

static ms_status_t fail(std::string *err, ms_status_t st,
			const Xapian::Error &e) noexcept
{
	if (err) {
		try {
			*err = e.get_description();
		} catch (...) {
			err->clear();
		}
	}
	return st;
}

/* Runs body (returning ms_status_t); maps any exception to a status and
 * keeps its message in *err (if err). Clears *err first. */
template <typename F> static ms_status_t guard(std::string *err, F &&body)
{
	if (err)
		err->clear();
	try {
		return body();
	} catch (const Xapian::DatabaseLockError &e) {
		return fail(err, MS_ERR_LOCKED, e);
	} catch (const Xapian::DatabaseModifiedError &e) {
		return fail(err, MS_ERR_MODIFIED, e);
	} catch (const Xapian::DatabaseCorruptError &e) {
		return fail(err, MS_ERR_CORRUPT, e);
	} catch (const Xapian::DatabaseNotFoundError &e) {
		return fail(err, MS_ERR_NOTFOUND, e);
	} catch (const Xapian::DocNotFoundError &e) {
		return fail(err, MS_ERR_NOTFOUND, e);
	} catch (const Xapian::DatabaseOpeningError &e) {
		return fail(err, MS_ERR_IO, e);
	} catch (const Xapian::DatabaseCreateError &e) {
		return fail(err, MS_ERR_IO, e);
	} catch (const Xapian::InvalidArgumentError &e) {
		return fail(err, MS_ERR_INVALID, e);
	} catch (const Xapian::InvalidOperationError &e) {
		return fail(err, MS_ERR_INVALID, e);
	} catch (const Xapian::NetworkError &e) {
		return fail(err, MS_ERR_REMOTE, e);
	} catch (const Xapian::Error &e) {
		return fail(err, MS_ERR_XAPIAN, e);
	} catch (const std::bad_alloc &) {
		return fail(err, MS_ERR_NOMEM, "out of memory");
	} catch (const std::exception &e) {
		return fail(err, MS_ERR_XAPIAN, e.what());
	} catch (...) {
		return fail(err, MS_ERR_XAPIAN, "unknown C++ exception");
	}
}

static void need_writer(const ms_xdb *db)
{
	if (!db->writable)
		throw Xapian::InvalidOperationError("database is read-only");
}

static Xapian::doccount clamp_count(size_t n)
{
	return n > UINT_MAX ? UINT_MAX : static_cast<Xapian::doccount>(n);
}

static std::string clipped(const char *term)
{
	std::string t(term);
	ms_xterm_clip(t);
	return t;
}

/* ---- open / close ---- */

/* Hands a new handle (or the error) to the caller of an open function. */
static ms_status_t opened(ms_status_t st, ms_xdb *db, const std::string &err,
			  ms_xdb **db_r, char **err_r)
{
	*db_r = st == MS_OK ? db : nullptr;
	if (err_r)
		*err_r = st == MS_OK ? nullptr : strdup(err.c_str());
	return st;
}

extern "C" ms_status_t ms_xdb_open_write(const char *path, ms_xdb **db_r,
					 char **err_r)
{
	std::string err;
	ms_xdb *db = nullptr;
	ms_status_t st = guard(&err, [&] {
		std::unique_ptr<ms_xdb> h(new ms_xdb);
		h->wdb = Xapian::WritableDatabase(path,
						  Xapian::DB_CREATE_OR_OPEN);
		h->db = h->wdb;
		h->writable = true;
		db = h.release();
		return MS_OK;
	});
	return opened(st, db, err, db_r, err_r);
}

extern "C" ms_status_t ms_xdb_open_read(const char *const *paths, size_t n,
					ms_xdb **db_r, char **err_r)
{
	std::string err;
	ms_xdb *db = nullptr;
	ms_status_t st = guard(&err, [&] {
		std::unique_ptr<ms_xdb> h(new ms_xdb);
		if (n == 0) { /* Enquire needs at least one subdatabase */
			h->db = Xapian::Database(std::string(),
						 Xapian::DB_BACKEND_INMEMORY);
			h->empty = true;
		}
		for (size_t i = 0; i < n; i++) {
			h->parts.emplace_back(paths[i]);
			h->db.add_database(h->parts.back());
		}
		db = h.release();
		return MS_OK;
	});
	return opened(st, db, err, db_r, err_r);
}

extern "C" ms_status_t ms_xdb_subset(ms_xdb *db, const size_t *idx, size_t n,
				     ms_xdb **sub_r)
{
	*sub_r = nullptr;
	return guard(&db->err, [&] {
		std::unique_ptr<ms_xdb> h(new ms_xdb);
		h->subset = true;
		if (n == 0) /* Enquire needs at least one subdatabase */
			h->db = Xapian::Database(std::string(),
						 Xapian::DB_BACKEND_INMEMORY);
		for (size_t i = 0; i < n; i++) {
			if (idx[i] >= db->parts.size())
				throw Xapian::InvalidArgumentError(
					"subset: no such database");
			h->parts.push_back(db->parts[idx[i]]);
			h->db.add_database(h->parts.back());
		}
		*sub_r = h.release();
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdb_add_remote(ms_xdb *db, const char *host,
					 unsigned port, unsigned timeout_ms,
					 unsigned connect_ms)
{
	return guard(&db->err, [&] {
		if (db->writable || db->subset)
			throw Xapian::InvalidOperationError(
				"remote: only a reader of its own takes one");
		Xapian::Database r = Xapian::Remote::open(
			host, port, timeout_ms, connect_ms);
		r.get_doccount(); /* fails now if the server is not there */
		if (db->empty) {
			db->db = Xapian::Database();
			db->empty = false;
		}
		db->parts.push_back(r);
		db->db.add_database(r);
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdb_reopen(ms_xdb *db)
{
	return guard(&db->err, [&] {
		db->db.reopen();
		return MS_OK;
	});
}

extern "C" void ms_xdb_close(ms_xdb **db)
{
	if (!db || !*db)
		return;
	ms_xdb *h = *db;
	guard(&h->err, [&] {
		if (!h->subset)	       /* a subset's files are its parent's */
			h->db.close(); /* a writer commits here */
		return MS_OK;
	});
	guard(nullptr, [&] {
		delete h;
		return MS_OK;
	});
	*db = nullptr;
}

extern "C" const char *ms_xdb_error(const ms_xdb *db)
{
	return db ? db->err.c_str() : "";
}

/* ---- documents ---- */

extern "C" ms_xdoc *ms_xdoc_new(void)
{
	try {
		ms_xdoc *d = new ms_xdoc;
		d->term.reserve(TERM_MAX + MS_TOKEN_MAX + 16);
		return d;
	} catch (...) {
		return nullptr;
	}
}

extern "C" void ms_xdoc_free(ms_xdoc **doc)
{
	if (!doc || !*doc)
		return;
	guard(nullptr, [&] {
		delete *doc;
		return MS_OK;
	});
	*doc = nullptr;
}

/* ms_tokenize callback: adds prefix+term at pos. Stops on an exception
 * (which must not unwind through C) and records the status. */
static int add_posting(const char *term, size_t len, unsigned pos, void *ctx)
{
	ms_xdoc *d = static_cast<ms_xdoc *>(ctx);
	d->cb_status = guard(nullptr, [&] {
		d->term.resize(d->plen);
		d->term.append(term, len);
		if (d->term.size() <= TERM_MAX && len > 0)
			d->doc.add_posting(d->term, pos);
		return MS_OK;
	});
	return d->cb_status != MS_OK;
}

extern "C" ms_status_t ms_xdoc_add_text(ms_xdoc *doc, const char *prefix,
					const char *text, size_t len)
{
	ms_status_t st = guard(nullptr, [&] {
		doc->term.assign(prefix);
		return MS_OK;
	});
	if (st != MS_OK)
		return st;
	doc->plen = doc->term.size();
	doc->cb_status = MS_OK;
	unsigned pos = doc->pos;
	ms_tokenize(text, len, &pos, add_posting, doc);
	doc->pos = pos + POS_GAP;
	return doc->cb_status;
}

extern "C" ms_status_t ms_xdoc_add_term(ms_xdoc *doc, const char *prefix,
					const char *term)
{
	return guard(nullptr, [&] {
		doc->term.assign(prefix);
		doc->term.append(term);
		ms_xterm_clip(doc->term);
		if (!doc->term.empty())
			doc->doc.add_boolean_term(doc->term);
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdoc_set_value(ms_xdoc *doc, unsigned slot, double v)
{
	return guard(nullptr, [&] {
		doc->doc.add_value(slot, Xapian::sortable_serialise(v));
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdoc_set_data(ms_xdoc *doc, const void *data,
					size_t len)
{
	return guard(nullptr, [&] {
		if (len)
			doc->doc.set_data(std::string(
				static_cast<const char *>(data), len));
		else
			doc->doc.set_data(std::string());
		return MS_OK;
	});
}

/* ---- writing ---- */

extern "C" ms_status_t ms_xdb_replace(ms_xdb *db, const char *idterm,
				      ms_xdoc *doc)
{
	return guard(&db->err, [&] {
		need_writer(db);
		std::string id = clipped(idterm);
		doc->doc.add_boolean_term(id);
		db->wdb.replace_document(id, doc->doc);
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdb_delete(ms_xdb *db, const char *term)
{
	return guard(&db->err, [&] {
		need_writer(db);
		db->wdb.delete_document(clipped(term));
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdb_has_term(ms_xdb *db, const char *term, int *yes_r)
{
	*yes_r = 0;
	return guard(&db->err, [&] {
		*yes_r = db->db.term_exists(clipped(term)) ? 1 : 0;
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdb_commit(ms_xdb *db)
{
	return guard(&db->err, [&] {
		need_writer(db);
		db->wdb.commit();
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdb_doccount(ms_xdb *db, uint64_t *n_r)
{
	*n_r = 0;
	return guard(&db->err, [&] {
		*n_r = db->db.get_doccount();
		return MS_OK;
	});
}

/* ---- searching ---- */

/* The exact number of matches of enq, whose mset ms checked at least all
 * documents (normally exact already; else every match is looked at). */
static Xapian::doccount
exact_total(Xapian::Enquire &enq, const Xapian::MSet &ms, Xapian::doccount all)
{
	if (ms.get_matches_lower_bound() == ms.get_matches_upper_bound())
		return ms.get_matches_lower_bound();
	return enq.get_mset(0, all, all).get_matches_lower_bound();
}

/* An Enquire for q, unweighted (results are ordered by value). */
static Xapian::Enquire enquire(ms_xdb *db, const ms_qnode *q)
{
	Xapian::Enquire enq(db->db);
	enq.set_query(ms_xquery_build(q));
	enq.set_weighting_scheme(Xapian::BoolWeight());
	return enq;
}

extern "C" ms_status_t ms_xdb_search(ms_xdb *db, const ms_qnode *q,
				     size_t offset, size_t limit,
				     ms_xresults **res_r)
{
	*res_r = nullptr;
	return guard(&db->err, [&] {
		Xapian::Enquire enq = enquire(db, q);
		enq.set_sort_by_value(MS_SLOT_DATE, true);
		enq.set_docid_order(Xapian::Enquire::DESCENDING);
		Xapian::doccount all = db->db.get_doccount();
		Xapian::doccount max = limit ? clamp_count(limit) : all;
		/* sorting by date looks at every match anyway: checking them
		 * all makes the total exact at no extra cost */
		Xapian::MSet ms = enq.get_mset(clamp_count(offset), max, all);
		std::unique_ptr<ms_xresults> res(new ms_xresults);
		res->total = exact_total(enq, ms, all);
		res->data.reserve(ms.size());
		res->part.reserve(ms.size());
		/* Xapian interleaves the sub-databases' document ids */
		size_t n_parts = db->parts.empty() ? 1 : db->parts.size();
		for (Xapian::MSetIterator it = ms.begin(); it != ms.end();
		     ++it) {
			res->data.push_back(it.get_document().get_data());
			res->part.push_back((*it - 1) % n_parts);
		}
		*res_r = res.release();
		return MS_OK;
	});
}

extern "C" ms_status_t ms_xdb_count(ms_xdb *db, const ms_qnode *q,
				    uint64_t *n_r)
{
	*n_r = 0;
	return guard(&db->err, [&] {
		Xapian::doccount all = db->db.get_doccount();
		if (q && q->type == MS_Q_ALL) {
			*n_r = all;
			return MS_OK;
		}
		Xapian::Enquire enq = enquire(db, q);
		/* checking every candidate makes the estimate exact */
		*n_r = exact_total(enq, enq.get_mset(0, 0, all), all);
		return MS_OK;
	});
}

extern "C" size_t ms_xresults_size(const ms_xresults *res)
{
	return res ? res->data.size() : 0;
}

extern "C" uint64_t ms_xresults_total(const ms_xresults *res)
{
	return res ? res->total : 0;
}

extern "C" const char *ms_xresults_data(const ms_xresults *res, size_t i,
					size_t *len_r)
{
	if (!res || i >= res->data.size()) {
		if (len_r)
			*len_r = 0;
		return nullptr;
	}
	if (len_r)
		*len_r = res->data[i].size();
	return res->data[i].data();
}

extern "C" size_t ms_xresults_part(const ms_xresults *res, size_t i)
{
	return res && i < res->part.size() ? res->part[i] : 0;
}

extern "C" void ms_xresults_free(ms_xresults **res)
{
	if (!res || !*res)
		return;
	delete *res;
	*res = nullptr;
}

/* ---- every document ---- */

extern "C" ms_status_t ms_xdb_each(ms_xdb *db, ms_xdb_each_fn fn, void *ctx)
{
	return guard(&db->err, [&] {
		std::string data;
		for (Xapian::PostingIterator it = db->db.postlist_begin("");
		     it != db->db.postlist_end(""); ++it) {
			data = db->db.get_document(*it).get_data();
			ms_status_t st = fn(data.data(), data.size(), ctx);
			if (st != MS_OK)
				return st;
		}
		return MS_OK;
	});
}

/* ---- check ---- */

extern "C" ms_status_t ms_xdb_check(const char *path, char **report_r)
{
	std::string err;
	std::ostringstream out;
	size_t errors = 0;
	*report_r = nullptr;
	ms_status_t st = guard(&err, [&] {
		errors = Xapian::Database::check(path, 0, &out);
		return errors ? MS_ERR_CORRUPT : MS_OK;
	});
	if (st == MS_OK)
		return st;
	guard(nullptr, [&] {
		std::string report = out.str();
		if (!err.empty())
			report += err + "\n";
		*report_r = strdup(report.c_str());
		return MS_OK;
	});
	return st;
}

/* ---- compact ---- */

extern "C" ms_status_t ms_xdb_compact(const char *src, const char *dst,
				      char **err_r)
{
	std::string err;
	*err_r = nullptr;
	ms_status_t st = guard(&err, [&] {
		Xapian::Database(src).compact(dst, Xapian::Compactor::FULL);
		return MS_OK;
	});
	if (st != MS_OK)
		*err_r = strdup(err.c_str());
	return st;
}
