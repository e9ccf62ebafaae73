/* cli_serve_raw.c - the read-only endpoint of `mailsift serve` (at the
 * --listen PORT+1): what a search head needs besides Xapian's remote
 * backend (cli_serve.h; the client is ms_remote.h).
 *
 * Functions: cli_raw_start, cli_raw_stop; file-local on_request, reply,
 * send_raw, send_shards, send_holds. GET /raw/SHA256 answers the stored
 * message (decrypted, decompressed: the bytes show would print) or 404;
 * GET /shards the shard names, one a line; GET /holds the archive's
 * legal holds (for the expire of MX hosts that list this one in
 * [archive] holds_from), loaded and written again, so only a valid list
 * is sent. Anything else is 404 (405 for another method). One log line
 * per message or holds list sent. The listener (ms_httpd.h) runs one
 * internal polling thread, so the archive handle is used by it alone.
 */
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_serve.h"
#include "ms_httpd.h"
#include "ms_hash.h"
#include "ms_hold.h"
#include "ms_log.h"
#include "ms_shard.h"
#include "ms_store.h"

#define MAX_CONNS 64
#define IDLE_SECS 30

struct cli_raw_server {
	struct MHD_Daemon *d;
	ms_archive *ar;
	const char *shards_dir;
	const char *dir; /* the archive directory (its holds) */
};

static enum MHD_Result text(struct MHD_Connection *c, unsigned status,
			    const char *msg)
{
	return ms_httpd_reply(c, status, "text/plain; charset=utf-8", msg,
			      strlen(msg));
}

/* 1 if s is 64 lower-case hex digits. */
static int is_sha(const char *s)
{
	return strlen(s) == MS_SHA256_HEX - 1 &&
	       strspn(s, "0123456789abcdef") == MS_SHA256_HEX - 1;
}

/* The client's numeric address, for the log line. */
static const char *peer_of(struct MHD_Connection *c, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t len = sa && sa->sa_family == AF_INET6
				? sizeof(struct sockaddr_in6)
				: sizeof(struct sockaddr_in);
	if (!sa ||
	    getnameinfo(sa, len, buf, (socklen_t)n, NULL, 0, NI_NUMERICHOST))
		snprintf(buf, n, "?");
	return buf;
}

static enum MHD_Result send_raw(cli_raw_server *s, struct MHD_Connection *c,
				const char *sha)
{
	ms_store *store = ms_archive_store(s->ar);
	ms_buf raw = MS_BUF_INIT;
	char peer[64];
	ms_status_t st = ms_store_get(store, sha, &raw);
	enum MHD_Result ok;
	if (st == MS_ERR_NOTFOUND) {
		ok = text(c, 404, "no such message\n");
	} else if (st) {
		ms_log_error("raw %s: %s", sha, ms_store_error(store));
		ok = text(c, 500, "cannot read the message\n");
	} else {
		ms_log_info("raw %s: %zu bytes to %s", sha, raw.len,
			    peer_of(c, peer, sizeof peer));
		ok = ms_httpd_reply(c, 200, "message/rfc822",
				    raw.data ? raw.data : "", raw.len);
	}
	ms_buf_free(&raw);
	return ok;
}

static enum MHD_Result send_shards(cli_raw_server *s, struct MHD_Connection *c)
{
	char **names = NULL;
	size_t n = 0;
	ms_buf b = MS_BUF_INIT;
	if (ms_shard_list(s->shards_dir, &names, &n))
		return text(c, 500, "cannot list the shards\n");
	for (size_t i = 0; i < n; i++)
		ms_buf_printf(&b, "%s\n", names[i]);
	ms_shard_list_free(&names);
	enum MHD_Result ok = ms_httpd_reply(c, 200, "text/plain; charset=utf-8",
					    b.data ? b.data : "", b.len);
	ms_buf_free(&b);
	return ok;
}

static enum MHD_Result send_holds(cli_raw_server *s, struct MHD_Connection *c)
{
	ms_holds *h = NULL;
	ms_buf b = MS_BUF_INIT;
	char *err = NULL, peer[64];
	enum MHD_Result ok;
	if (ms_holds_load(s->dir, &h, &err) || ms_holds_format(h, &b)) {
		ms_log_error("holds: %s", err ? err : "out of memory");
		ok = text(c, 500, "cannot read the holds\n");
	} else {
		ms_log_info("holds: %zu to %s", h->n,
			    peer_of(c, peer, sizeof peer));
		ok = ms_httpd_reply(c, 200, "text/plain; charset=utf-8",
				    b.data ? b.data : "", b.len);
	}
	free(err);
	ms_holds_free(&h);
	ms_buf_free(&b);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	cli_raw_server *s = cls;
	(void)version;
	(void)data;
	if (!*con_cls) { /* headers only so far */
		*con_cls = s;
		return MHD_YES;
	}
	if (*data_size) { /* a body is not wanted: drop it */
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0)
		return text(c, 405, "only GET\n");
	if (strcmp(url, "/shards") == 0)
		return send_shards(s, c);
	if (strcmp(url, "/holds") == 0)
		return send_holds(s, c);
	if (strncmp(url, "/raw/", 5) == 0 && is_sha(url + 5))
		return send_raw(s, c, url + 5);
	return text(c, 404, "GET /raw/SHA256, /shards or /holds\n");
}

ms_status_t cli_raw_start(ms_archive *ar, const char *shards_dir,
			  const char *dir, const char *addr,
			  cli_raw_server **srv_r, char **err_r)
{
	*srv_r = NULL;
	*err_r = NULL;
	cli_raw_server *s = calloc(1, sizeof *s);
	if (!s)
		return MS_ERR_NOMEM;
	s->ar = ar;
	s->shards_dir = shards_dir;
	s->dir = dir;
	ms_status_t st = ms_httpd_start("raw endpoint", addr, on_request, s,
					MAX_CONNS, IDLE_SECS, &s->d, err_r);
	if (st)
		free(s);
	else
		*srv_r = s;
	return st;
}

void cli_raw_stop(cli_raw_server **srv)
{
	if (!srv || !*srv)
		return;
	MHD_stop_daemon((*srv)->d);
	free(*srv);
	*srv = NULL;
}
