#!/usr/bin/python3
"""test_hostile.py - hostile mail in the console, in headless Chromium.

The archive holds messages whose HTML has <script> (setting document.title,
the top page's title, a cookie, and loading from a listener), onload= and
onerror= handlers, javascript: links, a <form> posting to the listener,
remote images, <link rel=stylesheet>, @import, style="background:url()",
a nested iframe, <meta refresh>, <object>, <video poster>, SVG <image>, all
pointing at a local HTTP listener on a free loopback port; and messages
whose headers (Subject, From, To, an encoded-word Subject, an attachment
file name) carry HTML and quotes. Proved: with the message page and its
sandboxed iframe loaded and waited on, after clicking the link and the
form's button inside the frame, and with the mail's HTML opened as a top
level page, no marker is set and the listener saw no request; the header
values' DOM text equals the raw header on the search results, the message
page (and its title) and the audit view, with no injected element.
"""
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402
import webtest  # noqa: E402

t = mstest.Test("web hostile")
hits = []


class Listener(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        hits.append(self.command + " " + self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"x")

    do_POST = do_GET

    def log_message(self, *a):
        pass


lsn = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
threading.Thread(target=lsn.serve_forever, daemon=True).start()
L = "http://127.0.0.1:%d" % lsn.server_address[1]

HTML = """<html><head><title>mail title</title>
<link rel="stylesheet" href="{L}/link-css">
<style>@import url("{L}/import-css"); body {{ background: url({L}/css-bg) }}</style>
<meta http-equiv="refresh" content="0;url={L}/refresh">
<script>document.title = "PWNED"; try {{ parent.document.title = "PWNED"; }} catch (e) {{}}
document.cookie = "pwned=1"; new Image().src = "{L}/script";</script>
<script src="{L}/script-src"></script></head>
<body onload="fetch('{L}/onload')">
<p>Dear customer, please pay.</p>
<img src="{L}/img" alt="remote image">
<img src="nonexistent.png" onerror="new Image().src='{L}/onerror'; document.title='PWNED'">
<div style="background:url({L}/style-attr)">styled block</div>
<a id="js" href="javascript:parent.document.title='PWNED';new Image().src='{L}/js-link'">click me</a>
<a id="remote" href="{L}/link" target="_top">remote link</a>
<form id="f" action="{L}/form" method="post"><input name="card" value="4111">
<button id="sub" type="submit">Send</button></form>
<iframe src="{L}/iframe"></iframe>
<object data="{L}/object"></object><video poster="{L}/poster"></video>
<svg><image href="{L}/svg-image" width="10" height="10"/></svg>
</body></html>""".format(L=L)

SUBJ = "<img src=x onerror=\"document.title='PWNED'\"> \"quoted\" 'single' & <b>bold</b>"
FROM_NAME = "<script>document.title='PWNED'</script> \"Evil\""
FILENAME = "<img src=x onerror=alert(1)>.pdf"
ENC_SUBJ_TEXT = "<svg onload=alert(1)> encoded"
RAW_FROM = "\"%s\" <evil@attacker.example>" % FROM_NAME.replace('"', '\\"')
RAW_TO = "<b>victim</b> <victim@example.org>"


def build():
    d = os.path.join(con.tmp, "mail")
    os.makedirs(d)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    m1 = ("From: %s\r\nTo: %s\r\n"
          "Subject: %s\r\nMessage-ID: <hostile1@attacker.example>\r\nDate: %s\r\n"
          "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
          "--BB\r\nContent-Type: multipart/alternative; boundary=\"AA\"\r\n\r\n"
          "--AA\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDear customer, please pay.\r\n"
          "--AA\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--AA--\r\n"
          "--BB\r\nContent-Type: application/pdf; name=\"%s\"\r\n"
          "Content-Disposition: attachment; filename=\"%s\"\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--BB--\r\n"
          % (RAW_FROM, RAW_TO, SUBJ, date, HTML.replace("\n", "\r\n"),
             FILENAME, FILENAME))
    import base64
    enc = "=?UTF-8?B?%s?=" % base64.b64encode(ENC_SUBJ_TEXT.encode()).decode()
    m2 = ("From: html-only@attacker.example\r\nTo: victim@example.org\r\nSubject: %s\r\n"
          "Message-ID: <hostile2@attacker.example>\r\nDate: %s\r\nMIME-Version: 1.0\r\n"
          "Content-Type: text/html; charset=utf-8\r\n\r\n%s\r\n"
          % (enc, date, HTML.replace("\n", "\r\n")))
    for i, m in enumerate([m1, m2]):
        with open(os.path.join(d, "m%d.eml" % i), "w") as f:
            f.write(m)
    return d


con = webtest.Console()
con.import_(build())
t.check(con.count("*") == 2, "hostile messages archived")
con.user("add", "off", "--role", "officer")
t.check(con.start(), "mailsift-web started")

from selenium.webdriver.common.by import By  # noqa: E402

d = webtest.browser()
t.check(webtest.login(d, con, "off"), "logged in")


def settle():
    """Waits for the page and every frame to finish loading, then a bit."""
    webtest.wait_for(lambda: d.execute_script("return document.readyState") == "complete", 20)
    for f in d.find_elements(By.TAG_NAME, "iframe"):
        d.switch_to.frame(f)
        webtest.wait_for(lambda: d.execute_script("return document.readyState") == "complete", 20)
        d.switch_to.default_content()
    time.sleep(1.5)


def no_marker(where, title):
    t.check(d.title == title, "%s: title unchanged (%s)" % (where, d.title))
    t.check(not [c for c in d.get_cookies() if c["name"] == "pwned"], "%s: no cookie set" % where)
    t.check(hits == [], "%s: the listener saw no request %s" % (where, hits))


def no_injected(root_css, where):
    els = d.find_elements(By.CSS_SELECTOR, " ".join([root_css, "img"]) + ", " +
                          ", ".join("%s %s" % (root_css, tag) for tag in ("script", "svg", "b")))
    t.check(not els, "%s: no element injected (%s)" % (where, [e.tag_name for e in els]))


# search results: header fields escaped
d.get(con.url("/search?q=%2A"))
settle()
rows = d.find_elements(By.CSS_SELECTOR, "main table tbody tr")
t.check(len(rows) == 2, "two results")
subjects = sorted(r.find_elements(By.TAG_NAME, "td")[3].text for r in rows)
t.check(subjects == sorted([SUBJ, ENC_SUBJ_TEXT]), "subjects as text: %s" % subjects)
froms = [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows]
t.check(any(FROM_NAME in f for f in froms), "From as text: %s" % froms)
tos = [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows]
c = http.client.HTTPConnection("127.0.0.1", con.port, timeout=10)
c.request("GET", "/api/search?q=%2A", headers={"Cookie": "msid=" + [
    k for k in d.get_cookies() if k["name"] == "msid"][0]["value"]})
api = json.loads(c.getresponse().read())["hits"]
t.check(sorted(tos) == sorted(h["to"] for h in api) and any("</b>" in x for x in tos),
        "To as the archive has it, as text: %s %s" % (tos, [h["to"] for h in api]))
t.check(sorted(froms) == sorted(h["from"] for h in api), "From as the archive has it")
no_injected("main table tbody", "search results")
no_marker("search results", "Search - mailsift")
webtest.screenshot(d, "hostile-search")

# the message page and its sandboxed iframe
link = [r for r in rows if SUBJ in r.text][0].find_element(By.TAG_NAME, "a")
link.click()
settle()
t.check(d.find_element(By.TAG_NAME, "h1").text == SUBJ, "message h1 is the raw subject")
t.check(d.title == SUBJ + " - mailsift", "page title is the raw subject: %s" % d.title)
hdr = {r.find_element(By.TAG_NAME, "th").text: r.find_element(By.TAG_NAME, "td").text
       for r in d.find_elements(By.CSS_SELECTOR, "table.headers tr")}
t.check(hdr.get("Subject") == SUBJ, "Subject header row as text")
t.check(hdr.get("From") == RAW_FROM, "From header row is the raw header: %s" % hdr.get("From"))
t.check(hdr.get("To") == RAW_TO, "To header row is the raw header: %s" % hdr.get("To"))
att = d.find_elements(By.CSS_SELECTOR, "main table:not(.headers) tbody a")
t.check(att and att[0].text == FILENAME, "attachment name as text: %s" % [a.text for a in att])
no_injected("main h1", "message title")
no_injected("table.headers", "message headers")
no_injected("main table:not(.headers)", "attachment list")
frames = d.find_elements(By.CSS_SELECTOR, "iframe.mail")
t.check(len(frames) == 1 and frames[0].get_attribute("sandbox") == "", "one iframe, empty sandbox")
pre = d.find_elements(By.CSS_SELECTOR, "pre.text")
t.check(any("please pay" in p.text for p in pre), "the HTML part's text shown")
no_marker("message page", SUBJ + " - mailsift")
webtest.screenshot(d, "hostile-message")

# inside the frame: click the javascript: link and submit the form
d.switch_to.frame(frames[0])
t.check("Dear customer" in d.find_element(By.TAG_NAME, "body").text, "the frame shows the mail")
ftitle = d.find_element(By.TAG_NAME, "title").get_attribute("textContent")
t.check(ftitle == "mail title", "the frame's script did not run (title %s)" % ftitle)
for el in ("js", "sub", "remote"):
    try:
        d.find_element(By.ID, el).click()
    except Exception:  # a blocked navigation may raise; what counts is below
        pass
    time.sleep(1)
d.switch_to.default_content()
settle()
t.check(d.current_url.startswith(con.url("/message/")), "still on the message page")
no_marker("after clicking in the frame", SUBJ + " - mailsift")

# the mail's HTML opened as a top-level page
st_csp = None
frame_src = frames[0].get_attribute("src") if frames else ""
path = urllib.parse.urlparse(frame_src).path
sid = [c for c in d.get_cookies() if c["name"] == "msid"][0]["value"]
c = http.client.HTTPConnection("127.0.0.1", con.port, timeout=10)
c.request("GET", path, headers={"Cookie": "msid=" + sid})
r = c.getresponse()
r.read()
csp = r.getheader("Content-Security-Policy", "")
t.check("sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
        and "form-action 'none'" in csp, "the HTML part's CSP: %s" % csp)
d.get(con.url(path))
settle()
no_marker("HTML part as a top-level page", "mail title")
t.check("Dear customer" in d.find_element(By.TAG_NAME, "body").text, "top-level HTML part shown")
webtest.screenshot(d, "hostile-html-part")

# the HTML-only message with an encoded-word subject
d.get(con.url("/search?q=" + urllib.parse.quote("from:html-only@attacker.example")))
d.find_element(By.CSS_SELECTOR, "main table tbody a").click()
settle()
t.check(d.find_element(By.TAG_NAME, "h1").text == ENC_SUBJ_TEXT, "encoded-word subject as text")
no_injected("main h1", "encoded subject")
no_marker("HTML-only message", ENC_SUBJ_TEXT + " - mailsift")

# the audit view: a query with HTML and quotes
hq = 'subject:"<img src=x onerror=alert(1)>" OR "\'quoted\'"'
d.get(con.url("/search?q=" + urllib.parse.quote(hq)))
d.get(con.url("/audit"))
settle()
cells = [r.find_elements(By.TAG_NAME, "td")[4].text
         for r in d.find_elements(By.CSS_SELECTOR, "main table tbody tr")]
t.check(hq in cells, "audit view shows the query as text")
no_injected("main table", "audit view")
no_marker("audit view", "Audit trail - mailsift")
webtest.screenshot(d, "hostile-audit")

d.quit()
t.check(hits == [], "the listener saw no request at all: %s" % hits)
# the listener works (so the checks above could fail)
c = http.client.HTTPConnection("127.0.0.1", lsn.server_address[1], timeout=5)
c.request("GET", "/probe")
c.getresponse().read()
t.check(hits == ["GET /probe"], "the listener records requests")
lsn.shutdown()
t.check(con.stop() == 0, "mailsift-web exits 0")
con.cleanup()
t.done()
