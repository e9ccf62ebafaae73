/* web_resp.c - filling a web_resp (web_resp.h).
 *
 * Functions: web_resp_init, web_resp_free, web_resp_redirect,
 * web_resp_error, web_resp_json_error.
 */
#include "web_resp.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ms_json.h"
#include "web_html.h"

void web_resp_init(web_resp *rs)
{
	memset(rs, 0, sizeof *rs);
	rs->status = 200;
	rs->ctype = "text/html; charset=utf-8";
	rs->file_fd = -1;
}

void web_resp_free(web_resp *rs)
{
	ms_buf_free(&rs->body);
	if (rs->file_fd >= 0)
		close(rs->file_fd);
	rs->file_fd = -1;
}

void web_resp_redirect(web_resp *rs, const char *location)
{
	rs->status = 303;
	snprintf(rs->location, sizeof rs->location, "%s", location);
	ms_buf_reset(&rs->body);
}

void web_resp_error(web_resp *rs, unsigned status, const char *msg)
{
	rs->status = status;
	rs->ctype = "text/html; charset=utf-8";
	rs->disposition[0] = '\0';
	rs->csp = NULL;
	if (rs->file_fd >= 0)
		close(rs->file_fd);
	rs->file_fd = -1;
	ms_buf_reset(&rs->body);
	web_html_head(&rs->body, "Error", NULL);
	ms_buf_printf(&rs->body, "<h1>%u</h1><p class=\"err\">", status);
	web_esc(&rs->body, msg);
	ms_buf_puts(&rs->body, "</p>");
	web_html_foot(&rs->body);
}

void web_resp_json_error(web_resp *rs, unsigned status, const char *msg)
{
	rs->status = status;
	rs->ctype = "application/json";
	ms_buf_reset(&rs->body);
	ms_buf_puts(&rs->body, "{\"error\":");
	ms_json_string(&rs->body, msg);
	ms_buf_puts(&rs->body, "}\n");
}
