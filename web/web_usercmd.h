/* web_usercmd.h - "mailsift-web -c plugin.conf user ..." : managing the
 * accounts file.
 *
 *   user add NAME --role auditor|officer|security [--scope A,B,...]
 *   user passwd NAME
 *   user del NAME
 *   user list
 * The password is read from the terminal without echo (twice), or as one
 * line from standard input when that is not a terminal.
 *
 * Functions: web_usercmd.
 */
#ifndef WEB_USERCMD_H
#define WEB_USERCMD_H

#include "ms_config.h"

/* Runs the subcommand in argv[0..argc) (argv[0] is "add", ...). Returns
 * the exit status (0, 1 error, 2 usage) after printing one line. */
int web_usercmd(const ms_config *cfg, int argc, char **argv);

#endif
