/* web_html.h - the console's HTML: the one escaping function, the page
 * frame (head with the stylesheet, navigation for the user's role, foot)
 * and the stylesheet itself.
 *
 * Functions: web_esc, web_esc_n, web_html_head, web_html_foot,
 * web_html_csrf, web_html_css, web_html_date. Out-of-memory is ignored (the
 * page comes out short); none of these fail otherwise.
 */
#ifndef WEB_HTML_H
#define WEB_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "web.h"

/* Appends s with & < > " ' escaped (usable in text and in quoted
 * attributes); CRLF becomes LF; invalid UTF-8 and control bytes other
 * than tab/newline become U+FFFD. NULL appends nothing. Every value from mail,
 * the archive or the request goes through here. */
void web_esc(ms_buf *b, const char *s);
void web_esc_n(ms_buf *b, const char *s, size_t n);
/* Opens a page titled title; u (may be NULL: not logged in) gives the
 * navigation and the logout form. */
void web_html_head(ms_buf *b, const char *title, const web_user *u);
void web_html_foot(ms_buf *b);
/* The hidden CSRF field of a state-changing form. */
void web_html_csrf(ms_buf *b, const web_user *u);
/* "YYYY-MM-DD HH:MM" (UTC) of t (seconds since the epoch), or "-" when
 * t <= 0, into out[0..n). */
void web_html_date(char *out, size_t n, int64_t t);
/* The stylesheet served at /style.css (static string). */
const char *web_html_css(void);

#endif
