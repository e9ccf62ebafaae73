/* cli_hits.c - printing search results and dates, shared by search,
 * hold show, hold list and expire.
 *
 * Functions: cli_format_date, cli_json_field, cli_print_hit. A hit is one
 * line (date, id, from, subject), or with json one JSON object per line
 * (id, message_id, date, date_unix, from, to, cc, subject, size, sha256,
 * and for mail that came through the milter verdict, virus, sender, rcpts,
 * queue_id; attachments: a list of {name, type, size, extracted, reason}
 * with extracted yes, no, failed or encrypted, reason when there is one).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ms_json.h"

void cli_format_date(int64_t t, const char *fmt, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, n, fmt, &tm))
		snprintf(out, n, "?");
}

void cli_json_field(ms_buf *b, const char *key, const char *value)
{
	ms_buf_printf(b, ",\"%s\":", key);
	ms_json_string(b, value);
}

/* Splits one attachments line into its n tab-separated parts (in place;
 * missing parts are ""). */
static void split_tabs(char *line, char **part, int n)
{
	for (int i = 0; i < n; i++) {
		part[i] = line;
		char *tab = line ? strchr(line, '\t') : NULL;
		if (tab)
			*tab = '\0';
		line = tab ? tab + 1 : NULL;
		if (!part[i])
			part[i] = "";
	}
}

/* The "attachments" list from the hit's lines (see ms_hit). */
static void json_attachments(ms_buf *b, const char *lines)
{
	char *copy = strdup(lines), *save = NULL;
	int first = 1;
	ms_buf_puts(b, ",\"attachments\":[");
	for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *p[5];
		split_tabs(l, p, 5);
		const char *state = strcmp(p[0], "none") == 0 ? "no" : p[0];
		ms_buf_puts(b, first ? "{\"name\":" : ",{\"name\":");
		ms_json_string(b, p[3]);
		cli_json_field(b, "type", p[2]);
		ms_buf_printf(b, ",\"size\":%" PRIu64,
			      (uint64_t)strtoull(p[1], NULL, 10));
		cli_json_field(b, "extracted", state);
		if (*p[4])
			cli_json_field(b, "reason", p[4]);
		ms_buf_putc(b, '}');
		first = 0;
	}
	ms_buf_putc(b, ']');
	free(copy);
}

static void print_json(const ms_hit *h)
{
	char date[32];
	cli_format_date(h->date, "%Y-%m-%dT%H:%M:%SZ", date, sizeof date);
	ms_buf b = MS_BUF_INIT;
	ms_buf_puts(&b, "{\"id\":");
	ms_json_string(&b, h->id);
	cli_json_field(&b, "message_id", h->message_id);
	cli_json_field(&b, "date", date);
	ms_buf_printf(&b, ",\"date_unix\":%" PRId64, h->date);
	cli_json_field(&b, "from", h->from);
	cli_json_field(&b, "to", h->to);
	cli_json_field(&b, "cc", h->cc);
	cli_json_field(&b, "subject", h->subject);
	ms_buf_printf(&b, ",\"size\":%" PRIu64, h->size);
	cli_json_field(&b, "sha256", h->sha256);
	json_attachments(&b, h->attachments);
	if (*h->verdict) {
		cli_json_field(&b, "verdict", h->verdict);
		cli_json_field(&b, "virus", h->virus);
		cli_json_field(&b, "sender", h->sender);
		cli_json_field(&b, "rcpts", h->rcpts);
		cli_json_field(&b, "queue_id", h->queue_id);
	}
	ms_buf_puts(&b, "}\n");
	fwrite(b.data, 1, b.len, stdout);
	ms_buf_free(&b);
}

static void print_line(const ms_hit *h)
{
	char date[32];
	cli_format_date(h->date, "%Y-%m-%d %H:%M", date, sizeof date);
	printf("%s  %s  %-32.32s  %s\n", date, h->id, h->from, h->subject);
}

void cli_print_hit(const ms_hit *h, int json)
{
	(json ? print_json : print_line)(h);
}
