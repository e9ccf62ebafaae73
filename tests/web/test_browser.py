#!/usr/bin/python3
"""test_browser.py - the console driven by headless Chromium (Debian's
chromium + chromium-driver, python3-selenium) over a corpus A archive (the
whole spamassassin corpus imported with build/mailsift) plus mail that went
through the spool and indexd with verdicts (clean, infected with two virus
names, unscanned): an officer logs in through the form, searches, opens a
message, places a hold from the search, exports the hold (.eml zip) and a
search (mbox zip) and checks each download against its manifest (every
SHA-256 recomputed, mbox unquoted by its offsets), sees an audit line for
each step, releases the hold, sees the dashboard's verdict counts equal the
archive's (build/mailsift count), and logs out; an auditor sees the holds
but no forms. Screenshots of every page go to $MAILSIFT_BUILD/screenshots/.
"""
import csv
import hashlib
import io
import os
import re
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402
import webtest  # noqa: E402

t = mstest.Test("web browser")
con = webtest.Console()
t0 = time.time()
con.import_(*[os.path.join(mstest.CORPUS, d) for d in sorted(os.listdir(mstest.CORPUS))])
t.check(con.count("*") >= 6000, "corpus A imported (%d messages, %.1f s)"
        % (con.count("*"), time.time() - t0))


def msg(i, subject, body="hello"):
    return ("From: Mallory <mallory@evil.example>\r\nTo: alice@example.org\r\n"
            "Subject: %s\r\nMessage-ID: <v%d@evil.example>\r\n"
            "Date: %s\r\n\r\n%s %d\r\n"
            % (subject, i, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
               body, i)).encode()


for i in range(6):
    con.spool(msg(i, "invoice %d" % i, "payload"), verdict="infected",
              virus="Eicar-Test-Signature" if i < 4 else "Win.Trojan.Agent-1",
              client="bad.example [198.51.100.9]", sender="mallory@evil.example",
              rcpts=("alice@example.org", "bob@example.org"))
for i in range(6, 16):
    con.spool(msg(i, "weekly report %d" % i), verdict="clean")
for i in range(16, 19):
    con.spool(msg(i, "too big to scan %d" % i), verdict="unscanned")
t.check(con.index_spool(), "spool entries archived by indexd")
counts = {v: con.count("verdict:" + v) for v in ("clean", "infected", "unscanned")}
t.check(counts == {"clean": 10, "infected": 6, "unscanned": 3}, "verdicts in the archive %s" % counts)

con.user("add", "officer", "--role", "officer")
con.user("add", "aud", "--role", "auditor")
t.check(con.start(), "mailsift-web started")

from selenium.webdriver.common.by import By  # noqa: E402

dl = tempfile.mkdtemp(prefix="mailsift-dl-", dir=con.tmp)
d = webtest.browser(dl)


def text(css):
    return d.find_element(By.CSS_SELECTOR, css).text


def wait_download(suffix, before):
    def done():
        fs = [f for f in os.listdir(dl) if f.endswith(suffix) and f not in before]
        return fs if fs and not any(f.endswith(".crdownload") for f in os.listdir(dl)) else None
    webtest.wait_for(done, 60)
    fs = done()
    return os.path.join(dl, fs[0]) if fs else None


def check_zip(path, n, kind):
    """The zip's manifest against its messages: n rows, every hash right."""
    z = zipfile.ZipFile(path)
    names = z.namelist()
    folder = names[0].split("/")[0]
    files = {nm.split("/", 1)[1]: z.read(nm) for nm in names}
    rows = list(csv.DictReader(io.StringIO(files["manifest.csv"].decode("utf-8"))))
    t.check(len(rows) == n, "%s: manifest has %d rows (%d)" % (kind, n, len(rows)))
    sums = dict(reversed(ln.split("  ", 1)) for ln in files["manifest.sha256"].decode().splitlines())
    t.check(sums.get("manifest.csv") == hashlib.sha256(files["manifest.csv"]).hexdigest(),
            "%s: manifest.csv matches manifest.sha256" % kind)
    bad = 0
    for row in rows:
        data = files.get(row["file"], b"")
        if kind == "mbox":
            off = int(row["offset"])
            body = data[data.index(b"\n", off) + 1:]
            lines, out = body.split(b"\n"), []
            for ln in lines:
                out.append(ln[1:] if re.match(rb"^>+From ", ln) else ln)
            data = b"\n".join(out)[:int(row["size"])]
        if hashlib.sha256(data).hexdigest() != row["sha256"] or len(data) != int(row["size"]):
            bad += 1
    t.check(bad == 0 and rows, "%s: every message's SHA-256 and size match (%d bad)" % (kind, bad))
    if kind == "mbox":
        t.check(sums.get("messages.mbox") == hashlib.sha256(files["messages.mbox"]).hexdigest(),
                "mbox: messages.mbox matches manifest.sha256")
    return folder, rows


# login
d.get(con.url("/login"))
webtest.screenshot(d, "login")
t.check(webtest.login(d, con, "officer"), "officer logs in through the form")
cookies = {c["name"]: c for c in d.get_cookies()}
t.check(cookies.get("msid", {}).get("httpOnly") and cookies["msid"].get("sameSite") == "Strict",
        "session cookie HttpOnly, SameSite=Strict")
webtest.screenshot(d, "search-empty")

# search the archive
q = "subject:invoice"
box = d.find_element(By.NAME, "q")
box.send_keys(q)
d.find_element(By.CSS_SELECTOR, "form.search button").click()
meta = text("p.meta")
t.check(meta.startswith("6 messages"), "search page count: " + meta)
rows = d.find_elements(By.CSS_SELECTOR, "main table tbody tr")
t.check(len(rows) == 6 and all("infected" in r.text for r in rows), "6 infected rows")
webtest.screenshot(d, "search-results")
d.get(con.url("/search?q=%2A"))
t.check(text("p.meta").startswith("%d messages" % con.count("*")), "search * counts the whole archive")
t.check(len(d.find_elements(By.CSS_SELECTOR, "main table tbody tr")) == 50, "first page of 50")
older = d.find_elements(By.LINK_TEXT, "older \u2192")
t.check(len(older) == 1, "a link to older results")
older[0].click()
t.check("showing 51-100" in text("p.meta"), "page 2: " + text("p.meta"))
webtest.screenshot(d, "search-page2")
d.get(con.url("/search?q=zzzznothingmatches"))
t.check("No message matches" in text("main table tbody"), "empty result says so")
webtest.screenshot(d, "search-none")

# open a message
d.get(con.url("/search?q=" + q))
d.find_element(By.CSS_SELECTOR, "main table tbody tr a").click()
t.check(text("h1").startswith("invoice "), "message page: " + text("h1"))
page = text("main")
t.check("Eicar-Test-Signature" in page or "Win.Trojan.Agent-1" in page, "envelope shows the virus")
t.check("198.51.100.9" in page and "bob@example.org" in page, "envelope: client and recipients")
mid = d.current_url.rsplit("/", 1)[1]
webtest.screenshot(d, "message")

# place a hold from the search
d.get(con.url("/search?q=" + q + "&verdict=infected"))
d.find_element(By.CSS_SELECTOR, "details.hold summary").click()
form = d.find_element(By.CSS_SELECTOR, "form.hold")
t.check(form.find_element(By.NAME, "query").get_attribute("value") == q + " verdict:infected",
        "hold form carries the search's query and filters")
form.find_element(By.NAME, "name").send_keys("case-42")
form.find_element(By.NAME, "reason").send_keys("litigation <b>42</b> \"quoted\"")
webtest.screenshot(d, "search-hold-form")
form.find_element(By.CSS_SELECTOR, "button").click()
t.check(d.current_url.endswith("/holds"), "back on the holds page")
row = d.find_element(By.CSS_SELECTOR, "table.holds tbody tr")
t.check("case-42" in row.text and "active" in row.text, "the hold is listed active")
t.check(row.find_element(By.CSS_SELECTOR, "td.num").text == "6", "it covers 6 messages")
t.check("litigation <b>42</b> \"quoted\"" in row.text, "reason shown as text")
rc, out, err = con.run("hold", "list", check=False)
if "unknown command" not in err:  # mailsift hold (issue 9) may land later
    t.check(b"case-42" in out and b"active" in out, "mailsift hold list sees it")
webtest.screenshot(d, "holds")
# a duplicate name is refused with a message
d.find_element(By.CSS_SELECTOR, "form.hold input[name=name]").send_keys("case-42")
d.find_element(By.CSS_SELECTOR, "form.hold input[name=query]").send_keys("subject:x")
d.find_element(By.CSS_SELECTOR, "form.hold button").click()
t.check("case-42" in text("p.err"), "duplicate hold refused: " + text("p.err"))

# export the hold (.eml files) and a search (mbox)
held_rows = []
d.get(con.url("/holds"))
before = set(os.listdir(dl))
d.find_element(By.LINK_TEXT, "export .eml").click()
z = wait_download(".zip", before)
t.check(z is not None, "hold export downloaded")
if z:
    folder, rows = check_zip(z, 6, "eml")
    held_rows = rows
    t.check(folder.startswith("mailsift-export-"), "one folder in the zip")
    t.check(all(r["subject"].startswith("invoice") for r in rows), "the held messages")
before = set(os.listdir(dl))
d.get(con.url("/search?q=subject%3Areport"))
n_report = con.count("subject:report")
d.find_element(By.PARTIAL_LINK_TEXT, "mbox").click()
z = wait_download(".zip", before)
t.check(z is not None, "search export downloaded: %s" % os.listdir(dl))
if z:
    check_zip(z, n_report, "mbox")
t.check(not [f for f in os.listdir(tempfile.gettempdir()) if f.startswith("mailsift-web-")],
        "no export left in the temporary directory")

# release the hold
d.get(con.url("/holds"))
rel = d.find_element(By.CSS_SELECTOR, "form[action='/holds/release']")
rel.find_element(By.NAME, "reason").send_keys("case closed")
rel.find_element(By.CSS_SELECTOR, "button").click()
row = d.find_element(By.CSS_SELECTOR, "table.holds tbody tr")
t.check("released" in row.text and "case closed" in row.text, "hold released, reason kept")
t.check(not d.find_elements(By.CSS_SELECTOR, "form[action='/holds/release']"), "no release form left")
webtest.screenshot(d, "holds-released")

# the audit trail shows each step, by the web user from 127.0.0.1
d.get(con.url("/audit"))
t.check("chain: intact" in text("p.meta"), "audit chain intact: " + text("p.meta"))
lines = [r.text for r in d.find_elements(By.CSS_SELECTOR, "main table tbody tr")]
for action, needle in [("search", q), ("show", mid), ("hold-add", "hold case-42: " + q),
                       ("export", "subject:report"), ("export", q + " verdict:infected"),
                       ("hold-release", "hold case-42")]:
    t.check(any(("officer 127.0.0.1 %s" % action) in ln and needle in ln for ln in lines),
            "audit line: %s %s" % (action, needle))
rc, out, _ = con.run("audit", "show", "--json")
exp = [ln for ln in out.decode().splitlines() if '"action":"export"' in ln and "infected" in ln]
t.check(len(exp) == 1 and all(r["id"] in exp[0] for r in held_rows),
        "the hold's export line carries every exported id")
t.check(any(("export" in ln and "+3 more" in ln) for ln in lines), "audit view: ids shown, the rest counted")
rc, out, err = con.run("audit", "verify")
t.check(rc == 0, "mailsift audit verify: " + (out.decode() + err).strip())
webtest.screenshot(d, "audit")

# the dashboard's verdict counts are the archive's
d.get(con.url("/dashboard"))
cards = {}
for v in ("total", "clean", "infected", "unscanned"):
    els = d.find_elements(By.CSS_SELECTOR, "#v-%s b" % v)
    cards[v] = int(els[0].text) if els else -1
t.check(cards == {"total": con.count("*"), **counts}, "dashboard verdict counts %s" % cards)
t.check(text("#p-total b") == "19" and text("#p-infected b") == "6",
        "this period's cards: the 19 messages that came through the spool today")
vt = [r.text for r in d.find_elements(By.XPATH, "//h2[.='Top virus names']/following-sibling::table[1]/tbody/tr")]
t.check(vt == ["Eicar-Test-Signature 4", "Win.Trojan.Agent-1 2"], "top virus names and counts: %s" % vt)
t.check(d.find_elements(By.CSS_SELECTOR, "svg rect"), "per-day chart drawn")
webtest.screenshot(d, "dashboard")
d.find_element(By.LINK_TEXT, "Eicar-Test-Signature").click()
t.check(text("main").count("alice@example.org") >= 4, "recipients of the virus")
webtest.screenshot(d, "dashboard-virus")

# log out
d.find_element(By.CSS_SELECTOR, "form.logout button").click()
t.check(d.current_url.endswith("/login"), "logged out")
d.get(con.url("/holds"))
t.check(d.current_url.endswith("/login"), "holds need a session again")

# an auditor sees the holds, without forms
t.check(webtest.login(d, con, "aud"), "auditor logs in")
d.get(con.url("/holds"))
t.check("case-42" in text("table.holds") and not d.find_elements(By.CSS_SELECTOR, "form.hold")
        and not d.find_elements(By.CSS_SELECTOR, "form[action='/holds/release']"),
        "auditor: holds listed, no hold or release form")
d.get(con.url("/search?q=" + q))
t.check(not d.find_elements(By.CSS_SELECTOR, "details.hold") and
        d.find_elements(By.PARTIAL_LINK_TEXT, "mbox"), "auditor: export links, no hold form")
d.get(con.url("/audit"))
t.check("403" in text("h1"), "auditor: audit trail refused")

d.quit()
t.check(con.stop() == 0, "mailsift-web exits 0 on SIGTERM")
con.cleanup()
t.done()
