/* ms_doc.c - the parsed-message document (see ms_doc.h).
 *
 * Functions: ms_doc_new, ms_doc_free, ms_addrlist_format. Documents are
 * filled in by ms_mime_parse(); this file only allocates, frees and
 * formats them.
 */
#include "ms_doc.h"

#include <stdlib.h>

ms_doc *ms_doc_new(void)
{
	return calloc(1, sizeof(ms_doc));
}

static void addrlist_free(ms_addrlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].addr);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void ms_doc_free(ms_doc **doc)
{
	if (!doc || !*doc)
		return;
	ms_doc *d = *doc;
	free(d->message_id);
	free(d->subject);
	for (int i = 0; i < MS_ADDR_N; i++)
		addrlist_free(&d->addr[i]);
	ms_buf_free(&d->body);
	for (size_t i = 0; i < d->n_att; i++) {
		free(d->att[i].name);
		free(d->att[i].type);
		free(d->att[i].reason);
		free(d->att[i].text);
	}
	free(d->att);
	free(d);
	*doc = NULL;
}

/* One mailbox: "Name <addr>", "addr" or "Name". */
static ms_status_t addr_format(const ms_addr *a, ms_buf *out)
{
	int has_name = a->name && *a->name;
	int has_addr = a->addr && *a->addr;
	if (has_name && has_addr)
		return ms_buf_printf(out, "%s <%s>", a->name, a->addr);
	if (has_addr)
		return ms_buf_puts(out, a->addr);
	if (has_name)
		return ms_buf_puts(out, a->name);
	return MS_OK;
}

ms_status_t ms_addrlist_format(const ms_addrlist *l, ms_buf *out)
{
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0 && ms_buf_puts(out, ", ") != MS_OK)
			return MS_ERR_NOMEM;
		if (addr_format(&l->v[i], out) != MS_OK)
			return MS_ERR_NOMEM;
	}
	return MS_OK;
}
