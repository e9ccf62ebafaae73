/* cli_args.c - the query argument shared by the subcommands that take one.
 *
 * Functions: cli_query_arg, cli_parse_query. A query is the remaining
 * arguments joined by single spaces ("from:bob" "date:2024" -> "from:bob
 * date:2024"), so it needs no quoting as a whole.
 */
#include <stdlib.h>

#include "cli.h"
#include "ms_log.h"

char *cli_query_arg(int argc, char **argv, int from)
{
	ms_buf q = MS_BUF_INIT;
	for (int i = from; i < argc; i++)
		if (ms_buf_printf(&q, "%s%s", i > from ? " " : "", argv[i])) {
			ms_buf_free(&q);
			ms_log_error("out of memory");
			return NULL;
		}
	return ms_buf_steal(&q);
}

ms_qnode *cli_parse_query(const char *q)
{
	ms_qnode *root = NULL;
	char *err = NULL;
	ms_status_t st = ms_query_parse(q, &root, &err);
	if (st)
		ms_log_error("%s", err ? err : ms_status_str(st));
	free(err);
	return root;
}
