/* cli.h - the mailsift command's subcommands (cli_*.c), shared helpers.
 *
 * Each subcommand takes the opened configuration and its own argv (argv[0]
 * is the subcommand name) and returns the process exit status.
 */
#ifndef CLI_H
#define CLI_H

#include "ms_archive.h"
#include "ms_config.h"

/* Opens the archive named by cfg ([archive] dir), writable or not. Prints
 * a one-line error and returns NULL on failure. */
ms_archive *cli_open_archive(const ms_config *cfg, int writable);

int cli_import(const ms_config *cfg, int argc, char **argv);
int cli_search(const ms_config *cfg, int argc, char **argv);
int cli_count(const ms_config *cfg, int argc, char **argv);
int cli_show(const ms_config *cfg, int argc, char **argv);
int cli_stats(const ms_config *cfg, int argc, char **argv);
int cli_verify(const ms_config *cfg, int argc, char **argv);
int cli_reindex(const ms_config *cfg, int argc, char **argv);

#endif
