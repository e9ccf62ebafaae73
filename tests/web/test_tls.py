#!/usr/bin/env python3
"""test_tls.py - mailsift-web over HTTPS with [web] tls_cert/tls_key: a
self-signed certificate made with openssl req -x509 for 127.0.0.1; Python's
ssl verifies the server against it (and refuses it against another CA);
login works and its cookie is Secure (plus HttpOnly, SameSite=Strict);
Strict-Transport-Security is sent; plain HTTP on the port gets no page; a
missing key file is refused at start with a one-line error."""
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402
import webtest  # noqa: E402

t = mstest.Test("web tls")


def cert(tmp, name):
    key, crt = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    return key, crt


certs = tempfile.mkdtemp(prefix="mailsift-tls-")
key, crt = cert(certs, "server")
_, other = cert(certs, "other")
con = webtest.Console("tls_cert = %s\ntls_key = %s\n" % (crt, key))
con.import_(os.path.join(mstest.CORPUS, "hard_ham"))
con.user("add", "off", "--role", "officer")
con.scheme, con.cafile = "https", crt
t.check(con.start(), "mailsift-web started with TLS")


def req(method, path, body=None, cookie=None, cafile=None):
    c = con.conn(cafile=cafile)
    h = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    if cookie:
        h["Cookie"] = "msid=" + cookie
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


st, h, body = req("GET", "/login")
t.check(st == 200 and b"<form" in body, "HTTPS GET /login verified against the cert (%d)" % st)
t.check("max-age" in h.get("strict-transport-security", ""), "HSTS header")
try:
    req("GET", "/login", cafile=other)
    t.check(False, "another CA must not verify")
except ssl.SSLError as e:
    t.check("CERTIFICATE_VERIFY_FAILED" in str(e), "another CA: verification fails")
st, h, _ = req("POST", "/login", urllib.parse.urlencode({"user": "off", "password": "secret"}))
ck = h.get("set-cookie", "")
t.check(st == 303 and "Secure" in ck and "HttpOnly" in ck and "SameSite=Strict" in ck,
        "login over HTTPS: cookie %s" % ck)
sid = re.search(r"msid=([0-9a-f]+)", ck).group(1)
st, _, body = req("GET", "/api/count?q=%2A", cookie=sid)
t.check(st == 200 and b'"count":249' in body, "search over HTTPS: %s" % body[:60])
try:
    c = http.client.HTTPConnection("127.0.0.1", con.port, timeout=5)
    c.request("GET", "/login")
    r = c.getresponse()
    r.read()
    t.check(r.status >= 400, "plain HTTP on the TLS port -> %d" % r.status)
except (OSError, http.client.HTTPException):
    t.check(True, "plain HTTP on the TLS port gets no page")
t.check(con.stop() == 0, "SIGTERM: clean exit")

os.unlink(key)
p = subprocess.run([webtest.WEB, "-c", con.ar.conf, "-f"], capture_output=True, text=True,
                   timeout=20)
t.check(p.returncode != 0 and key in p.stderr and len(p.stderr.strip().splitlines()) == 1,
        "missing key refused: %s" % p.stderr.strip())
con.cleanup()
shutil.rmtree(certs)
t.done()
