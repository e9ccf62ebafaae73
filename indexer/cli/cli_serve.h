/* cli_serve.h - the parts of `mailsift serve` (cli_serve.c supervises
 * xapian-tcpsrv; cli_serve_raw.c is the read-only HTTP endpoint for the
 * raw messages and the shard listing).
 */
#ifndef CLI_SERVE_H
#define CLI_SERVE_H

#include "ms_archive.h"
#include "ms_status.h"

typedef struct cli_raw_server cli_raw_server;

/* Serves, on a thread of its own, GET /raw/SHA256 (the message's bytes
 * from ar's store, decrypted), GET /shards (the names under shards_dir,
 * one a line) and GET /holds (the legal holds of the archive in dir, as
 * ms_holds_format writes them) at addr (numeric "HOST:PORT"). ar,
 * shards_dir and dir are borrowed until cli_raw_stop; ar is used on that
 * thread only. MS_OK with *srv_r, or MS_ERR_CONFIG / MS_ERR_IO / MS_ERR_NOMEM
 * with *err_r (caller frees) a one-line reason. */
ms_status_t cli_raw_start(ms_archive *ar, const char *shards_dir,
			  const char *dir, const char *addr,
			  cli_raw_server **srv_r, char **err_r);
/* Stops the endpoint (waits for its thread). NULL-safe; sets *srv NULL. */
void cli_raw_stop(cli_raw_server **srv);

#endif
