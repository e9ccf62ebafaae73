/* support_util.h - helpers shared by the Check unit tests (tests/unit/).
 *
 * Functions: ms_test_tmpdir, ms_test_tmpdir_free, ms_test_rmtree, ms_test_run,
 * ms_test_utf8_ok, ms_test_stderr_begin/_end (in support_util.c, linked into
 * every unit test binary) and ms_test_doc_bad, ms_test_str_ok (header-only, so
 * that tests/fuzz, which links no support code, can use them too).
 */
#ifndef MS_TEST_SUPPORT_UTIL_H
#define MS_TEST_SUPPORT_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ms_doc.h"

/* Creates a new empty directory /tmp/<name>.XXXXXX (fails the running
 * test if it cannot). Caller removes it with ms_test_rmtree and frees the
 * returned path with free(); or does both with ms_test_tmpdir_free. */
char *ms_test_tmpdir(const char *name);

/* Removes path and everything below it (symbolic links are not followed).
 * Returns 0 on success, -1 if anything could not be removed. */
int ms_test_rmtree(const char *path);

/* Removes the directory *dir made by ms_test_tmpdir with everything in
 * it, frees the path and sets *dir to NULL (nothing happens if *dir is
 * NULL). Returns what ms_test_rmtree returned (0 if *dir was NULL). */
int ms_test_tmpdir_free(char **dir);

/* Runs every test of s (and frees s); returns EXIT_SUCCESS if all passed,
 * else EXIT_FAILURE: the value for main() to return. */
int ms_test_run(Suite *s);

/* Returns 1 if s[0..n) is valid UTF-8 without NUL bytes, else 0. */
int ms_test_utf8_ok(const char *s, size_t n);

/* Standard error caught in a temporary file between ms_test_stderr_begin
 * and ms_test_stderr_end (fails the running test if it cannot). */
typedef struct ms_test_stderr {
	int saved; /* the real stderr, dup'ed */
	FILE *tmp;
} ms_test_stderr;

/* Sends stderr to a new temporary file from now on. */
void ms_test_stderr_begin(ms_test_stderr *c);

/* Puts stderr back, closes the file; returns how many bytes were written
 * to stderr since ms_test_stderr_begin. */
long ms_test_stderr_end(ms_test_stderr *c);

/* Returns 1 if s is NULL or ok(s, strlen(s)); for ms_test_doc_bad. */
static inline int ms_test_str_ok(const char *s,
				 int (*ok)(const char *s, size_t n))
{
	return !s || ok(s, strlen(s));
}

/* Returns the first string of d that ok() rejects (body with its length,
 * the others up to their NUL) as a short field name, "att.type missing"
 * for an attachment without a type, or NULL when all are fine. ok returns
 * nonzero for good text. The result is a static string. */
static inline const char *ms_test_doc_bad(const ms_doc *d,
					  int (*ok)(const char *s, size_t n))
{
	if (!ok(d->body.data ? d->body.data : "", d->body.len))
		return "body";
	if (!ms_test_str_ok(d->subject, ok))
		return "subject";
	if (!ms_test_str_ok(d->message_id, ok))
		return "message_id";
	for (int i = 0; i < MS_ADDR_N; i++)
		for (size_t k = 0; k < d->addr[i].n; k++)
			if (!ms_test_str_ok(d->addr[i].v[k].name, ok) ||
			    !ms_test_str_ok(d->addr[i].v[k].addr, ok))
				return "address";
	for (size_t k = 0; k < d->n_att; k++) {
		if (!d->att[k].type)
			return "att.type missing";
		if (!ms_test_str_ok(d->att[k].name, ok) ||
		    !ms_test_str_ok(d->att[k].type, ok))
			return "attachment";
	}
	return NULL;
}

#endif
