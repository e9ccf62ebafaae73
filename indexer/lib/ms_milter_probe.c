/* ms_milter_probe.c - the milter protocol's option negotiation as an MTA
 * (see ms_milter_probe.h).
 *
 * Functions: ms_milter_probe, ms_milter_optneg_parse.
 *
 * A packet is a 4-byte big-endian length (of what follows), a command
 * byte and its data; the constants are libmilter's (libmilter/mfdef.h).
 * Answers longer than MAX_PACKET are refused before reading them.
 */
#include "ms_milter_probe.h"

#include <errno.h>
#include <libmilter/mfdef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_sock.h"

#define MAX_PACKET     65536
#define OFFER_VERSION  6
#define OFFER_PROTOCOL 0x001FFFFFu /* every step, SMFIP_NOCONNECT..LEADSPC */

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

int ms_milter_optneg_parse(const unsigned char *p, size_t n,
			   ms_milter_optneg *r, const char **why_r)
{
	if (n < 5 || get32(p) != n - 4)
		return *why_r = "packet length does not match", -1;
	if (p[4] != SMFIC_OPTNEG)
		return *why_r = "answer is not an option negotiation", -1;
	if (n < 5 + 12)
		return *why_r = "option negotiation too short", -1;
	r->version = get32(p + 5);
	r->actions = get32(p + 9);
	r->protocol = get32(p + 13);
	if (r->version < 2)
		return *why_r = "protocol version below 2", -1;
	return 0;
}

/* Reads one packet into *buf_r (malloc'ed; *n_r bytes with the length). */
static ms_status_t read_packet(int fd, int64_t deadline, unsigned char **buf_r,
			       size_t *n_r, const char *ep, char **err_r)
{
	unsigned char len[4];
	if (ms_sock_recv_all(fd, len, 4, deadline) < 0)
		return ms_sock_fail(err_r, MS_ERR_IO, ep, "reading the answer",
				    errno);
	uint32_t k = get32(len);
	if (k == 0 || k > MAX_PACKET)
		return ms_sock_fail(
			err_r, MS_ERR_PARSE, ep,
			"answer length out of range (not a milter?)", 0);
	unsigned char *b = malloc(4 + (size_t)k);
	if (!b)
		return ms_sock_fail(err_r, MS_ERR_NOMEM, ep, "out of memory",
				    0);
	memcpy(b, len, 4);
	if (ms_sock_recv_all(fd, b + 4, k, deadline) < 0) {
		free(b);
		return ms_sock_fail(err_r, MS_ERR_IO, ep, "reading the answer",
				    errno);
	}
	*buf_r = b;
	*n_r = 4 + (size_t)k;
	return MS_OK;
}

/* Sends the offer, reads and parses the answer, says quit. */
static ms_status_t negotiate(int fd, int64_t deadline, ms_milter_optneg *r,
			     const char *ep, char **err_r)
{
	unsigned char offer[17], quit[5];
	put32(offer, 13);
	offer[4] = SMFIC_OPTNEG;
	put32(offer + 5, OFFER_VERSION);
	put32(offer + 9, SMFI_CURR_ACTS);
	put32(offer + 13, OFFER_PROTOCOL);
	if (ms_sock_send(fd, offer, sizeof offer, deadline) < 0)
		return ms_sock_fail(err_r, MS_ERR_IO, ep,
				    "sending SMFIC_OPTNEG", errno);
	unsigned char *b = NULL;
	size_t n = 0;
	ms_status_t st = read_packet(fd, deadline, &b, &n, ep, err_r);
	const char *why = NULL;
	if (!st && ms_milter_optneg_parse(b, n, r, &why) < 0)
		st = ms_sock_fail(err_r, MS_ERR_PARSE, ep, why, 0);
	free(b);
	put32(quit, 1);
	quit[4] = SMFIC_QUIT;
	(void)ms_sock_send(fd, quit, sizeof quit, deadline);
	return st;
}

ms_status_t ms_milter_probe(const char *endpoint, unsigned timeout_ms,
			    ms_milter_optneg *r, char **err_r)
{
	if (err_r)
		*err_r = NULL;
	memset(r, 0, sizeof *r);
	int64_t deadline = ms_sock_deadline(timeout_ms);
	int fd = ms_sock_connect(endpoint, timeout_ms, err_r);
	if (fd < 0)
		return MS_ERR_IO;
	ms_status_t st = negotiate(fd, deadline, r, endpoint, err_r);
	close(fd);
	return st;
}
