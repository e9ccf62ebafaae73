/* milter_msg.c - the per-message context of mailsift-milter.
 *
 * Functions: msm_msg_new, msm_msg_free, msm_msg_add_rcpt, msm_msg_header,
 * msm_msg_write. The message is streamed into a spool entry as it
 * arrives (headers rebuilt as "Name: value\r\n", then the body), so memory
 * does not grow with its size. A spool write error is remembered and turns
 * into a temporary failure at end of message. Incoming X-Virus-* and
 * X-Mailsift-* headers are noted (whole name and index) for removal,
 * whatever the length of their names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "milter.h"

/* Fills id with 96 random bits as lower-case hex. */
static int make_id(char id[MSM_ID_LEN + 1])
{
	unsigned char r[MSM_ID_LEN / 2];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return -1;
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(id + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* A copy of an SMTP path without its angle brackets ("<>" -> ""). */
static char *bare_addr(const char *path)
{
	size_t n = strlen(path);
	if (n >= 2 && path[0] == '<' && path[n - 1] == '>')
		return strndup(path + 1, n - 2);
	return strdup(path);
}

msm_msg *msm_msg_new(msm_conf *conf, const char *sender, char **err_r)
{
	msm_msg *m = calloc(1, sizeof *m);
	*err_r = NULL;
	if (!m || make_id(m->id) || !(m->sender = bare_addr(sender))) {
		msm_msg_free(&m);
		*err_r = strdup("out of memory or no randomness");
		return NULL;
	}
	m->time = time(NULL);
	if (ms_spool_begin(conf->spool, m->id, &m->w, err_r)) {
		msm_msg_free(&m);
		return NULL;
	}
	return m;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void msm_msg_free(msm_msg **mp)
{
	msm_msg *m = *mp;
	if (!m)
		return;
	ms_spool_abort(&m->w);
	free(m->spool_err);
	free(m->sender);
	free(m->auth);
	free_list(m->rcpts, m->n_rcpts);
	for (size_t i = 0; i < m->n_strip; i++)
		free(m->strip[i].name);
	free(m->strip);
	free(m);
	*mp = NULL;
}

/* Appends a copy of s to the list v of n strings. */
static int push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof *nv);
	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

int msm_msg_add_rcpt(msm_msg *m, const char *rcpt)
{
	char *bare = bare_addr(rcpt);
	int rc = bare ? push(&m->rcpts, &m->n_rcpts, bare) : -1;
	free(bare);
	return rc;
}

static int forged(const char *name)
{
	return strncasecmp(name, "X-Virus-", 8) == 0 ||
	       strncasecmp(name, "X-Mailsift-", 11) == 0;
}

/* Notes a forged header: its whole name and its index among the headers
 * of the same name (compared without regard to case, as the MTA does). A
 * name too long to name in a delete request marks the message
 * unremovable; it is then refused at end of message. */
static void note_forged(msm_msg *m, const char *name)
{
	size_t len = strlen(name);
	if (len > MSM_DEL_NAME_MAX) {
		m->unremovable = 1;
		return;
	}
	unsigned idx = 1;
	for (size_t i = 0; i < m->n_strip; i++)
		if (m->strip[i].len == len &&
		    strcasecmp(m->strip[i].name, name) == 0)
			idx++;
	msm_forged *v = realloc(m->strip, (m->n_strip + 1) * sizeof *v);
	char *copy = v ? strdup(name) : NULL;
	if (v)
		m->strip = v;
	if (!copy) {
		if (!m->spool_err)
			m->spool_err = strdup("out of memory");
		return;
	}
	m->strip[m->n_strip++] = (msm_forged){ copy, len, idx };
}

void msm_msg_write(msm_msg *m, const void *p, size_t n)
{
	if (m->spool_err || !n)
		return;
	if (ms_spool_write(m->w, p, n) != MS_OK)
		m->spool_err = strdup(ms_spool_error(m->w));
}

/* Writes text with bare LF turned into CRLF. */
static void write_crlf(msm_msg *m, const char *s)
{
	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (nl && n > 0 && p[n - 1] == '\r')
			n--;
		msm_msg_write(m, p, n);
		if (!nl)
			break;
		msm_msg_write(m, "\r\n", 2);
		p = nl + 1;
	}
}

void msm_msg_header(msm_msg *m, const char *name, const char *value,
		    int leadspc)
{
	if (forged(name))
		note_forged(m, name);
	write_crlf(m, name);
	msm_msg_write(m, leadspc ? ":" : ": ", leadspc ? 1 : 2);
	write_crlf(m, value);
	msm_msg_write(m, "\r\n", 2);
}
