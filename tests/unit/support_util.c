/* support_util.c - helpers shared by the Check unit tests: temporary
 * directories (ms_test_tmpdir, ms_test_tmpdir_free, ms_test_rmtree), the
 * srunner boilerplate of main() (ms_test_run) and a UTF-8 check
 * (ms_test_utf8_ok). See support_util.h for each one's contract.
 */
#include <ftw.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support_util.h"

char *ms_test_tmpdir(const char *name)
{
	char *dir = NULL;
	ck_assert_int_ge(asprintf(&dir, "/tmp/%s.XXXXXX", name), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int ms_test_rmtree(const char *path)
{
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int ms_test_tmpdir_free(char **dir)
{
	int rc = *dir ? ms_test_rmtree(*dir) : 0;
	free(*dir);
	*dir = NULL;
	return rc;
}

int ms_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

int ms_test_utf8_ok(const char *s, size_t n)
{
	return g_utf8_validate(s, (gssize)n, NULL) ? 1 : 0;
}

void ms_test_stderr_begin(ms_test_stderr *c)
{
	fflush(stderr);
	c->saved = dup(2);
	c->tmp = tmpfile();
	ck_assert_int_ge(c->saved, 0);
	ck_assert_ptr_nonnull(c->tmp);
	dup2(fileno(c->tmp), 2);
}

long ms_test_stderr_end(ms_test_stderr *c)
{
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	long n = ftell(c->tmp);
	fclose(c->tmp);
	return n;
}
