#!/usr/bin/env python3
"""test_access.py - mailsift-web's access rules over plain HTTP on loopback:
no session -> redirect/401, wrong CSRF token -> 403, an auditor cannot reach
officer pages, a scoped user sees nothing outside the scope (search, count,
message, download, a guessed id), path traversal -> 400, bad requests get an
error and never a crash, 20 wrong passwords -> 429. The archive is a sample
of the corpus imported with build/mailsift."""
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402
import webtest  # noqa: E402

WEB = os.path.join(mstest.BUILD, "mailsift-web")
t = mstest.Test("web access")
port = mstest.free_ports(1)[0]
ar = mstest.Archive("[web]\nlisten = 127.0.0.1:%d\nusers = %s/users\n" % (port, "%s"))
with open(ar.conf) as f:
    text = f.read() % ar.tmp
with open(ar.conf, "w") as f:
    f.write(text)
ar.run("import", os.path.join(mstest.CORPUS, "easy_ham"), check=True)


def user(*args, pw="secret"):
    return subprocess.run([WEB, "-c", ar.conf, "user"] + list(args), input=pw + "\n",
                          text=True, capture_output=True).returncode


user("add", "off", "--role", "officer")
user("add", "aud", "--role", "auditor")
user("add", "sec", "--role", "security")
user("add", "sc", "--role", "auditor", "--scope", "taint.org")
user("add", "scoff", "--role", "officer", "--scope", "taint.org")
t.check(user("add", "bad/name", "--role", "auditor") != 0, "bad user name refused")
t.check(user("add", "x", "--role", "auditor", "--scope", "not a domain") != 0, "bad scope refused")
t.check(oct(os.stat(ar.tmp + "/users").st_mode & 0o777) == "0o640", "accounts file mode 0640")
log = open(ar.tmp + "/web.log", "w")
srv = subprocess.Popen([WEB, "-c", ar.conf, "-f"], stdout=log, stderr=log)
for _ in range(50):
    try:
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/login")
        break
    except OSError:
        time.sleep(0.1)


def req(method, path, body=None, cookie=None, headers=None):
    return webtest.request(port, method, path, body, cookie, headers)


def login(name, pw="secret"):
    st, h, _ = req("POST", "/login", urllib.parse.urlencode({"user": name, "password": pw}))
    m = re.search(r"msid=([0-9a-f]+)", h.get("set-cookie", ""))
    return st, (m.group(1) if m else None), h


def csrf(sid):
    _, _, body = req("GET", "/search", cookie=sid)
    m = re.search(rb'name="csrf" value="([0-9a-f]+)"', body)
    return m.group(1).decode() if m else ""


def api(sid, path):
    st, _, body = req("GET", path, cookie=sid)
    return st, (json.loads(body) if body.startswith(b"{") else None)


# without a session
for p in ["/", "/search?q=x", "/message/abc", "/message/abc/raw", "/dashboard", "/audit"]:
    st, h, _ = req("GET", p)
    t.check(st == 303 and h.get("location") == "/login", "no session: %s -> %d" % (p, st))
for p in ["/api/search?q=x", "/api/count?q=*", "/api/message/abc"]:
    st, _, _ = req("GET", p)
    t.check(st == 401, "no session: %s -> 401 (%d)" % (p, st))
st, h, _ = req("GET", "/login")
for k in ["content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options"]:
    t.check(k in h, "security header %s" % k)
t.check("script-src" not in h.get("content-security-policy", "") and
        "default-src 'none'" in h.get("content-security-policy", ""), "strict CSP")

st, sid, h = login("off")
t.check(st == 303 and sid, "officer logs in")
ck = h.get("set-cookie", "")
t.check("HttpOnly" in ck and "SameSite=Strict" in ck and "Secure" not in ck, "cookie flags: " + ck)
st, _, _ = req("POST", "/logout", "csrf=" + "0" * 64, cookie=sid)
t.check(st == 403, "logout with a wrong CSRF token -> 403 (%d)" % st)
st, _, _ = req("POST", "/logout", "", cookie=sid)
t.check(st == 403, "logout without a CSRF token -> 403 (%d)" % st)
st, j = api(sid, "/api/count?q=*")
total = j["count"] if j else -1
t.check(total == 2500, "officer counts everything (%d)" % total)
st, j = api(sid, "/api/search?q=*&limit=3")
t.check(st == 200 and len(j["hits"]) == 3, "api search")
st, _, body = req("GET", "/search?q=*", cookie=sid)
t.check(st == 200 and b"2500</b> messages" in body, "search page count")
for p in ["/dashboard", "/audit"]:
    st, _, _ = req("GET", p, cookie=sid)
    t.check(st == 200, "officer opens %s (%d)" % (p, st))

_, asid, _ = login("aud")
for p in ["/dashboard", "/audit"]:
    st, _, _ = req("GET", p, cookie=asid)
    t.check(st == 403, "auditor refused %s (%d)" % (p, st))
_, ssid, _ = login("sec")
st, _, _ = req("GET", "/dashboard", cookie=ssid)
t.check(st == 200, "security opens the dashboard (%d)" % st)
st, _, _ = req("GET", "/audit", cookie=ssid)
t.check(st == 403, "security refused the audit trail (%d)" % st)

# scope: only mail to/from taint.org (exactly; not spamassassin.taint.org)
_, csid, _ = login("sc")
_, inside = api(sid, "/api/count?q=" + urllib.parse.quote(
    "from:@taint.org OR to:@taint.org OR cc:@taint.org OR bcc:@taint.org"))
st, j = api(csid, "/api/count?q=*")
t.check(st == 200 and j["count"] == inside["count"] and 0 < j["count"] < 100,
        "scoped count %s == %s" % (j and j["count"], inside["count"]))
st, j = api(csid, "/api/search?q=%2A&limit=500")
t.check(all("taint.org" in (h["from"] + h["to"] + h["cc"]).lower() for h in j["hits"]),
        "scoped search stays inside")
st, j = api(csid, "/api/count?q=" + urllib.parse.quote("x) OR (*"))
t.check(st == 400 or (j and j["count"] <= inside["count"]), "query cannot escape the scope")
_, outside = api(sid, "/api/search?q=" + urllib.parse.quote("NOT to:@taint.org NOT from:@taint.org NOT cc:@taint.org") + "&limit=1")
oid = outside["hits"][0]["id"]
for p in ["/message/%s", "/message/%s/raw", "/message/%s/part/1", "/api/message/%s"]:
    st, _, _ = req("GET", p % oid, cookie=csid)
    t.check(st == 404, "scoped user: %s outside -> 404 (%d)" % (p, st))
    st2, _, _ = req("GET", p % oid, cookie=sid)
    t.check(st2 == 200, "officer: %s -> 200 (%d)" % (p, st2))
st, _, _ = req("GET", "/message/0123456789abcdef01234567", cookie=csid)
t.check(st == 404, "guessed id -> 404 (%d)" % st)
st, j = api(csid, "/api/search?q=id:" + oid)
t.check(j["count"] == 0, "id: query outside the scope finds nothing")

# holds and export: roles, CSRF, scope
for p in ["/holds", "/export?format=mbox&q=x"]:
    st, h, _ = req("GET", p)
    t.check(st == 303 and h.get("location") == "/login", "no session: %s -> %d" % (p, st))
st, _, _ = req("POST", "/holds/add", "name=x&query=x")
t.check(st == 303, "no session: POST /holds/add -> login (%d)" % st)
st, _, _ = req("GET", "/holds", cookie=asid)
t.check(st == 200, "auditor sees the holds (%d)" % st)
st, _, _ = req("POST", "/holds/add", "csrf=%s&name=a1&query=x" % csrf(asid), cookie=asid)
t.check(st == 403, "auditor cannot place a hold (%d)" % st)
for p in ["/holds", "/export?format=mbox&q=x"]:
    st, _, _ = req("GET", p, cookie=ssid)
    t.check(st == 403, "security refused %s (%d)" % (p, st))
tok = csrf(sid)
st, _, _ = req("POST", "/holds/add", "name=all-h&query=%2A", cookie=sid)
t.check(st == 403, "hold without CSRF token -> 403 (%d)" % st)
st, _, _ = req("POST", "/holds/add", "csrf=%s&name=all-h&query=%%2A&reason=r" % tok, cookie=sid)
t.check(st == 303, "officer places a hold (%d)" % st)
for body, why in [("name=..%2Fx&query=x", "bad name"), ("name=h2&query=a%29+OR+%28b", "query breaking out"),
                  ("name=all-h&query=x", "duplicate name"), ("name=h3&query=", "empty query")]:
    st, _, _ = req("POST", "/holds/add", "csrf=%s&%s" % (tok, body), cookie=sid)
    t.check(st == 400, "hold refused: %s (%d)" % (why, st))
_, osid, _ = login("scoff")
otok = csrf(osid)
st, _, _ = req("POST", "/holds/add", "csrf=%s&name=sc-h&query=%%2A" % otok, cookie=osid)
t.check(st == 303, "scoped officer places a hold (%d)" % st)
_, _, body = req("GET", "/holds", cookie=sid)
m = re.search(rb'sc-h</td><td class="active">active</td><td class="num">(\d+)<', body)
t.check(m and int(m.group(1)) == inside["count"], "the scoped hold covers only the scope (%s)" % (m and m.group(1)))
_, _, body = req("GET", "/holds", cookie=osid)
t.check(b"sc-h" in body and b"all-h" not in body, "scoped officer sees only holds in the scope")
st, _, _ = req("POST", "/holds/release", "csrf=%s&name=all-h&reason=x" % otok, cookie=osid)
t.check(st == 404, "scoped officer cannot release a hold outside the scope (%d)" % st)
st, _, _ = req("GET", "/export?format=eml&hold=all-h", cookie=osid)
t.check(st == 404, "scoped officer cannot export a hold outside the scope (%d)" % st)
st, _, _ = req("GET", "/export?format=zip&q=x", cookie=sid)
t.check(st == 400, "bad export format -> 400 (%d)" % st)
st, h, body = req("GET", "/export?format=eml&q=%2A", cookie=csid)
t.check(st == 200 and h.get("content-type") == "application/zip", "scoped export is a zip (%d)" % st)
import io, zipfile, csv  # noqa: E401,E402
z = zipfile.ZipFile(io.BytesIO(body))
man = [n for n in z.namelist() if n.endswith("/manifest.csv")]
rows = list(csv.DictReader(io.StringIO(z.read(man[0]).decode()))) if man else []
t.check(len(rows) == inside["count"] and oid not in [r["id"] for r in rows],
        "scoped export holds exactly the scope (%d rows)" % len(rows))
st, _, _ = req("POST", "/holds/release", "csrf=%s&name=all-h&reason=done" % tok, cookie=sid)
t.check(st == 303, "officer releases the hold (%d)" % st)

# path traversal, bad requests
for p in ["/message/..%2f..%2fetc%2fpasswd", "/message/%2e%2e/raw", "/static/../../etc/passwd",
          "/message/abc/part/..%2f1", "/message/a.b"]:
    st, _, _ = req("GET", p, cookie=sid)
    t.check(st == 400, "traversal %s -> 400 (%d)" % (p, st))
st, _, _ = req("GET", "/search?q=x&from=../../etc", cookie=sid)
t.check(st == 400, "bad date -> 400")
st, _, _ = req("DELETE", "/search", cookie=sid)
t.check(st == 405, "DELETE -> 405 (%d)" % st)
st, _, _ = req("GET", "/" + "a" * 70000, cookie=sid)
t.check(st >= 400, "long URL -> %d" % st)
st, _, _ = req("GET", "/search", headers={"X-Big": "b" * 100000})
t.check(st >= 400, "huge header -> %d" % st)
st, _, _ = req("POST", "/login", "user=" + "a" * 40000)
t.check(st == 413, "huge body -> 413 (%d)" % st)
t.check(srv.poll() is None, "server still running")

# throttling: 20 wrong passwords
codes = [login("aud", "wrong%d" % i)[0] for i in range(20)]
t.check(429 in codes and codes[-1] == 429, "20 wrong passwords -> throttled: %s" % codes)
t.check(login("aud")[0] == 429, "right password refused while throttled")

st, _, _ = req("POST", "/logout", "csrf=" + csrf(sid), cookie=sid)
t.check(st == 303, "logout")
st, _ = api(sid, "/api/count?q=*")
t.check(st == 401, "session gone after logout (%d)" % st)
srv.terminate()
t.check(srv.wait(10) == 0, "SIGTERM: clean exit")
log.close()
ar.cleanup()
t.done()
