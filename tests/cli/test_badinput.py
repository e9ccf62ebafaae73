#!/usr/bin/env python3
"""test_badinput.py - hostile and broken input through `mailsift import`:
never a crash or a hang, a one-line reason for what cannot be imported,
everything before the damage still searchable, and a 50 MB attachment
imported with peak RSS under 200 MB.
"""
import base64
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("badinput")
HDR = b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: %s\r\n"


def multipart(boundary, parts, close=True):
    out = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=" + boundary + b"\r\n\r\n"
    for p in parts:
        out += b"--" + boundary + b"\r\n" + p + b"\r\n"
    if close:
        out += b"--" + boundary + b"--\r\n"
    return out


def nested(depth):
    inner = b"Content-Type: text/plain\r\n\r\ndeepestword\r\n"
    for i in range(depth):
        b = b"b%d" % i
        inner = (b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b +
                 b"\r\n" + inner + b"\r\n--" + b + b"--\r\n")
    return inner


def cases():
    rnd = random.Random(7)
    yield "empty", b"", None
    yield "garbage", bytes(rnd.getrandbits(8) for _ in range(20000)), None
    yield "truncated", HDR % b"truncmulti" + multipart(
        b"XX", [b"Content-Type: text/plain\r\n\r\nbeforedamage words",
                b"Content-Type: application/pdf; name=x.pdf\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n" + b"QUJD" * 300])[:-500], "beforedamage"
    yield "unclosed", HDR % b"unclosedb" + multipart(
        b"YY", [b"Content-Type: text/plain\r\n\r\nunclosedtext here"], close=False), "unclosedtext"
    yield "nested", HDR % b"nestedten" + nested(10000), "nestedten"
    yield "headers", HDR % b"manyheaders" + b"".join(
        b"X-Junk-%d: value %d\r\n" % (i, i) for i in range(100000)) + b"\r\nheaderbody\r\n", "manyheaders"
    yield "nul", b"From: a\x00b@example.org\r\nSubject: nul\x00here nulsubject\r\n\r\nnulbody\r\n", "nulbody"
    yield "charset", HDR % b"=?x-no-such?Q?caf=E9?= badcharset" + (
        b"Content-Type: text/plain; charset=\"no-such-charset\"\r\n\r\ncaf\xe9 badcharsetbody\r\n"), "badcharsetbody"


def import_one(ar, name, data):
    path = os.path.join(ar.tmp, name + ".eml")
    with open(path, "wb") as f:
        f.write(data)
    try:
        p = subprocess.run([mstest.MAILSIFT, "-c", ar.conf, "import", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    except subprocess.TimeoutExpired:
        T.check(False, "%s: import hangs" % name)
        return None
    T.check(p.returncode in (0, 1), "%s: exit status %d (crash?)" % (name, p.returncode))
    return p


def check_case(ar, name, data, word):
    p = import_one(ar, name, data)
    if p is None:
        return
    err = p.stderr.decode("utf-8", "replace").strip().splitlines()
    if word is None:
        # cannot be a message: one reason line naming the file, then the summary
        bad = [l for l in err if name in l]
        T.check(p.returncode == 1 and len(bad) == 1, "%s: want one error line: %r" % (name, err))
        return
    T.check(p.returncode == 0, "%s: import failed: %r" % (name, err))
    rc, out, _ = ar.run("count", word)
    T.check(rc == 0 and out.strip() == b"1", "%s: %s found %r times" % (name, word, out))


def check_big(ar):
    blob = os.urandom(50 * 1024 * 1024)
    body = base64.encodebytes(blob)
    data = HDR % b"bigattachment" + multipart(b"ZZ", [
        b"Content-Type: text/plain\r\n\r\nsee the bigfile attached",
        b"Content-Type: application/octet-stream; name=big.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body])
    path = os.path.join(ar.tmp, "big.eml")
    with open(path, "wb") as f:
        f.write(data)
    del blob, body
    rc, rss = ar.peak_rss_mb("import", path)
    T.check(rc == 0, "50 MB message: import exit status %d" % rc)
    print("50 MB message: peak RSS %.1f MB" % rss)
    T.check(rss < 200, "50 MB message: peak RSS %.1f MB >= 200 MB" % rss)
    rc, out, _ = ar.run("search", "--json", "attachment:big.bin bigfile")
    T.check(rc == 0 and len(out.splitlines()) == 1, "50 MB message not found: %r" % out[:200])
    if rc != 0 or not out:
        return
    rc, out, _ = ar.run("show", json.loads(out.splitlines()[0])["id"])
    T.check(rc == 0 and out == data, "50 MB message: show differs (%d vs %d bytes)" % (len(out), len(data)))


def main():
    ar = mstest.Archive()
    for name, data, word in cases():
        check_case(ar, name, data, word)
    check_big(ar)
    ar.cleanup()
    T.done()


main()
