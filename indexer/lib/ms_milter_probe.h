/* ms_milter_probe.h - is a milter there? The first step of the milter
 * protocol as an MTA takes it: SMFIC_OPTNEG, the milter's SMFIC_OPTNEG
 * answer, SMFIC_QUIT. Used by `mailsift doctor` on [milter] socket.
 */
#ifndef MS_MILTER_PROBE_H
#define MS_MILTER_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "ms_status.h"

/* What the milter answered to the option negotiation. */
typedef struct ms_milter_optneg {
	uint32_t version;  /* milter protocol version (Postfix speaks 6) */
	uint32_t actions;  /* SMFIF_* it may take */
	uint32_t protocol; /* SMFIP_* steps it wants skipped */
} ms_milter_optneg;

/* Connects to endpoint ([milter] socket syntax: unix:PATH, local:PATH,
 * inet:PORT@HOST, inet6:PORT@HOST), offers protocol version 6 with every
 * action and step, reads the answer into *r and says SMFIC_QUIT, all
 * within timeout_ms. MS_OK; MS_ERR_IO (no connection, timeout, closed) or
 * MS_ERR_PARSE (not an SMFIC_OPTNEG answer): *err_r (if err_r; caller
 * frees) is one line naming the endpoint. */
ms_status_t ms_milter_probe(const char *endpoint, unsigned timeout_ms,
			    ms_milter_optneg *r, char **err_r);

/* Parses one milter packet p[0..n) (the 4-byte length, the command, its
 * data) as an SMFIC_OPTNEG answer into *r. 0, or -1 with a static
 * one-line reason in *why_r. Extra data after the three numbers (the
 * macro lists of version 6) is allowed. */
int ms_milter_optneg_parse(const unsigned char *p, size_t n,
			   ms_milter_optneg *r, const char **why_r);

#endif
