/* cli_hits.c - printing search results and dates, shared by search,
 * hold show, hold list and expire.
 *
 * Functions: cli_format_date, cli_json_field, cli_print_hit. A hit is one
 * line (date, id, from, subject), or with json one JSON object per line
 * (id, message_id, date, date_unix, from, to, cc, subject, size, sha256,
 * and for mail that came through the milter verdict, virus, sender, rcpts,
 * queue_id).
 */
#include <inttypes.h>
#include <stdio.h>
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
