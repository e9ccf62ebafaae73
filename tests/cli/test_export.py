#!/usr/bin/env python3
"""test_export.py - `mailsift export` and `mailsift export --verify` on a
real archive (hard_ham of corpus A, a few spam messages with quoted
">From " lines and CRLF, and made-up messages with "From " body lines, no
final newline, commas, quotes and non-ASCII in headers):

- mbox: Python's mailbox module reads back exactly the mboxrd-quoted
  archived bytes (`mailsift show ID`), plus one newline for a message that
  had none; undoing the quoting and keeping `size` bytes gives show's
  bytes; eml: every <id>.eml is show's bytes, and no other file is there;
- manifest.csv (Python csv) has one row per message, in search order,
  with the fields of `search --json` and the SHA-256 of show's bytes;
  `sha256sum -c manifest.sha256` passes;
- --verify: clean on a fresh export; one flipped byte, a missing file, an
  extra file and a changed manifest are each reported (exit 1);
- an existing non-empty PATH is refused and left alone; a query matching
  nothing gives an empty but valid export; usage errors are one line;
- --hold NAME exports what the hold covers (narrowed by a QUERY), audited
  as "hold NAME: ..."; an unknown or released hold is one line, no output;
- the export is audited (the ids in the audit log), and an unwritable
  audit log fails it with nothing written; a progress bar on a terminal;
- memory: exporting 60 MB of 3 MB messages, and verifying that export,
  each stay under 60 MB of RSS.
"""
import csv
import hashlib
import json
import os
import pty
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402
import mailbox  # noqa: E402

T = mstest.Test("export")
COLUMNS = ["id", "message_id", "date", "from", "to", "subject", "size", "sha256", "file", "offset"]
SPAM = ["spam/00155.1c37ce73590cc67186717a491ed0db5f",   # ">From " lines
        "spam/00181.a9ce64eb710cb3f00a7d7db7911291ab",
        "spam_2/00083.1aead789d4b4c7022c51bc632e4f2445"]  # CRLF

MADE_UP = [
    # "From " and ">From " lines in the body and no final newline
    b"From: Eve <eve@example.org>\nTo: a@example.org\nSubject: from lines\n"
    b"Date: Mon, 05 Aug 2002 10:00:00 +0000\nMessage-ID: <fl@example.org>\n\n"
    b"From the start\n>From one\n>>From two\nFromage\n\nFrom here, no final newline",
    # commas, quotes, a folded subject and UTF-8 in headers
    b"From: \"Doe, John\" <jd@example.org>\nTo: x@example.org, y@example.org\n"
    b"Subject: =?utf-8?q?caf=C3=A9=2C_=22quoted=22?=\n  and folded\n"
    b"Date: Tue, 06 Aug 2002 10:00:00 +0000\nMessage-ID: <q@example.org>\n\nbody\n",
    # ends with an empty line
    b"From: a@example.org\nSubject: trailing blank\nDate: Wed, 07 Aug 2002 10:00:00 +0000\n"
    b"Message-ID: <tb@example.org>\n\nbody\n\n",
]


def unquote(b):
    return re.sub(rb"(?m)^>(>*From )", rb"\1", b)


def quote(b):
    q = re.sub(rb"(?m)^(>*From )", rb">\1", b)
    return q if q.endswith(b"\n") or not q else q + b"\n"


def build(ar):
    md = os.path.join(ar.tmp, "in")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    for i, raw in enumerate(MADE_UP):
        with open(os.path.join(md, "cur", "m%d:2,S" % i), "wb") as f:
            f.write(raw)
    for i, rel in enumerate(SPAM):
        shutil.copy(os.path.join(mstest.CORPUS, rel), os.path.join(md, "cur", "s%d:2,S" % i))
    rc, _, err = ar.run("import", md, os.path.join(mstest.CORPUS, "hard_ham"))
    T.check(rc == 0, "import: %s" % err[-300:])


def hits(ar, query="*"):
    rc, out, err = ar.run("search", "--json", query)
    T.check(rc == 0, "search: %s" % err)
    return [json.loads(l) for l in out.decode().splitlines()]


def shows(ar, hs):
    out = {}
    for h in hs:
        rc, raw, err = ar.run("show", h["id"])
        T.check(rc == 0, "show %s: %s" % (h["id"], err))
        out[h["id"]] = raw
    return out


def manifest(path):
    with open(os.path.join(path, "manifest.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0] if rows else [], [dict(zip(COLUMNS, r)) for r in rows[1:]]


def export(ar, fmt, out, *query):
    return ar.run("export", "--format", fmt, *query, "-o", out)


def verify(ar, path):
    rc, out, err = ar.run("export", "--verify", path)
    lines = out.decode().splitlines()
    return rc, [l for l in lines if not l.startswith("export verify:")], lines, err


def check_rows(hs, raws, rows, fmt):
    T.check(len(rows) == len(hs), "%s: %d rows for %d hits" % (fmt, len(rows), len(hs)))
    for h, r in zip(hs, rows):
        want = {"id": h["id"], "message_id": h["message_id"], "date": h["date"],
                "from": h["from"], "to": h["to"], "subject": h["subject"],
                "size": str(len(raws[h["id"]])),
                "sha256": hashlib.sha256(raws[h["id"]]).hexdigest()}
        got = {k: r[k] for k in want}
        if not T.check(got == want, "%s row %s: %r != %r" % (fmt, h["id"], got, want)):
            return
        T.check(h["sha256"] == want["sha256"], "show's bytes hash to the archived SHA-256")
        if fmt == "eml":
            T.check(r["file"] == h["id"] + ".eml" and r["offset"] == "", "eml row file: %r" % r)
        else:
            T.check(r["file"] == "messages.mbox" and r["offset"].isdigit(), "mbox row file: %r" % r)


def test_mbox(ar, hs, raws, out):
    rc, _, err = export(ar, "mbox", out, "*")
    T.check(rc == 0 and re.search(r"exported %d messages \(\d+ bytes\) as mbox to " % len(hs), err),
            "mbox export: rc %d %r" % (rc, err))
    T.check("\r" not in err, "no progress bar when stderr is not a terminal")
    T.check(sorted(os.listdir(out)) == ["manifest.csv", "manifest.sha256", "messages.mbox"],
            "mbox export files: %r" % os.listdir(out))
    header, rows = manifest(out)
    T.check(header == COLUMNS, "header: %r" % header)
    check_rows(hs, raws, rows, "mbox")
    box = mailbox.mbox(os.path.join(out, "messages.mbox"), create=False)
    keys = list(box.keys())
    T.check(len(keys) == len(hs), "Python reads %d messages, want %d" % (len(keys), len(hs)))
    data = open(os.path.join(out, "messages.mbox"), "rb").read()
    bad = []
    for k, r in zip(keys, rows):
        raw = raws[r["id"]]
        got = box.get_bytes(k)
        # exactly what Python gives back: the quoted bytes, one newline added if none
        if got != quote(raw) or unquote(got)[:int(r["size"])] != raw:
            bad.append(r["id"])
        if not data[int(r["offset"]):].startswith(b"From "):
            bad.append("offset " + r["offset"])
    T.check(bad == [], "mbox round trip differs for %r" % bad[:5])
    nonl = [r for r in rows if r["message_id"] == "fl@example.org"][0]
    got = unquote(box.get_bytes(keys[rows.index(nonl)]))
    T.check(got == MADE_UP[0] + b"\n", "no final newline: Python gives one added: %r" % got[-40:])
    quoted = [r for r in rows if b"\n>From " in raws[r["id"]]]
    T.check(len(quoted) >= 2, "messages with >From lines exported: %d" % len(quoted))
    p = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=out, capture_output=True, text=True)
    T.check(p.returncode == 0 and "manifest.csv: OK" in p.stdout and "messages.mbox: OK" in p.stdout,
            "sha256sum -c: %r" % p.stdout)
    return rows


def test_eml(ar, hs, raws, out):
    rc, _, err = export(ar, "eml", out, "*")
    T.check(rc == 0 and "as eml to" in err, "eml export: rc %d %r" % (rc, err))
    header, rows = manifest(out)
    check_rows(hs, raws, rows, "eml")
    files = sorted(os.listdir(out))
    T.check(files == sorted(["manifest.csv", "manifest.sha256"] + [h["id"] + ".eml" for h in hs]),
            "eml files: %d for %d hits" % (len(files), len(hs)))
    bad = [h["id"] for h in hs if open(os.path.join(out, h["id"] + ".eml"), "rb").read() != raws[h["id"]]]
    T.check(bad == [], ".eml differs from show: %r" % bad[:5])
    mode = os.stat(os.path.join(out, hs[0]["id"] + ".eml")).st_mode & 0o777
    T.check(mode == 0o600 and os.stat(out).st_mode & 0o777 == 0o700, "modes: %o" % mode)


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        c = f.read(1)
        f.seek(off)
        f.write(bytes([c[0] ^ 0x20]))


def test_verify_mbox(ar, out, rows):
    rc, probs, lines, err = verify(ar, out)
    T.check(rc == 0 and probs == [] and lines[-1].endswith("0 problems (clean)"),
            "fresh mbox verifies: %r %r" % (lines[-2:], err))
    victim = rows[len(rows) // 2]
    nxt = rows[len(rows) // 2 + 1]
    off = (int(victim["offset"]) + int(nxt["offset"])) // 2
    mb = os.path.join(out, "messages.mbox")
    flip(mb, off)
    rc, probs, _, _ = verify(ar, out)
    want = ["messages.mbox: SHA-256 does not match manifest.sha256",
            "messages.mbox: id %s at offset %s: SHA-256 mismatch" % (victim["id"], victim["offset"])]
    T.check(rc == 1 and probs == want, "flipped mbox byte: %r" % probs)
    flip(mb, off)
    T.check(verify(ar, out)[0] == 0, "restored mbox verifies")


def test_verify_eml(ar, out, hs):
    rc, probs, lines, _ = verify(ar, out)
    T.check(rc == 0 and probs == [] and "%d messages, %d files hashed" % (len(hs), len(hs) + 1) in lines[-1],
            "fresh eml verifies: %r" % lines[-1:])
    a, b = hs[3]["id"], hs[7]["id"]
    flip(os.path.join(out, a + ".eml"), 100)
    rc, probs, _, _ = verify(ar, out)
    T.check(rc == 1 and probs == ["%s.eml: id %s: SHA-256 mismatch" % (a, a)], "flipped eml byte: %r" % probs)
    flip(os.path.join(out, a + ".eml"), 100)
    keep = open(os.path.join(out, b + ".eml"), "rb").read()
    os.unlink(os.path.join(out, b + ".eml"))
    rc, probs, _, _ = verify(ar, out)
    T.check(rc == 1 and probs == ["%s.eml: missing (id %s)" % (b, b)], "missing eml: %r" % probs)
    open(os.path.join(out, b + ".eml"), "wb").write(keep)
    open(os.path.join(out, "smuggled.eml"), "wb").write(b"Subject: not exported\n\n")
    rc, probs, _, _ = verify(ar, out)
    T.check(rc == 1 and probs == ["smuggled.eml: extra file (not in the manifest)"], "extra: %r" % probs)
    os.unlink(os.path.join(out, "smuggled.eml"))
    man = os.path.join(out, "manifest.csv")
    text = open(man, "rb").read()
    open(man, "wb").write(text.replace(hs[5]["id"].encode(), b"f" * len(hs[5]["id"]), 1))
    rc, probs, _, _ = verify(ar, out)
    T.check(rc == 1 and "manifest.csv: SHA-256 does not match manifest.sha256" in probs,
            "changed manifest: %r" % probs[:3])
    open(man, "wb").write(text)
    T.check(verify(ar, out)[0] == 0, "restored eml export verifies")
    rc, _, _, err = verify(ar, os.path.join(ar.tmp, "nowhere"))
    T.check(rc == 1 and len(err.strip().splitlines()) == 1 and "No such file" in err, "verify missing: %r" % err)


def test_refusals(ar, base):
    full = os.path.join(base, "full")
    os.makedirs(full)
    open(os.path.join(full, "keep.txt"), "w").write("mine")
    rc, _, err = export(ar, "mbox", full, "*")
    T.check(rc == 1 and len(err.strip().splitlines()) == 1 and "refusing to overwrite" in err,
            "non-empty dir: %r" % err)
    T.check(os.listdir(full) == ["keep.txt"] and open(os.path.join(full, "keep.txt")).read() == "mine",
            "non-empty dir left alone")
    rc, _, err = export(ar, "eml", os.path.join(full, "keep.txt"), "*")
    T.check(rc == 1 and "refusing to overwrite" in err, "existing file: %r" % err)
    empty = os.path.join(base, "empty")
    os.makedirs(empty)
    rc, _, err = export(ar, "mbox", empty, "zzzznomatchzzzz")
    T.check(rc == 0 and "exported 0 messages" in err, "nothing matches: %r" % err)
    header, rows = manifest(empty)
    T.check(header == COLUMNS and rows == [], "empty manifest: %r %r" % (header, rows))
    T.check(len(mailbox.mbox(os.path.join(empty, "messages.mbox"), create=False)) == 0, "empty mbox")
    T.check(verify(ar, empty)[0] == 0, "empty export verifies")
    usage = [(["export", "--format", "maildir", "*", "-o", os.path.join(base, "u1")], 2, "unknown format"),
             (["export", "--format", "mbox", "*"], 2, "usage:"),
             (["export", "-o", os.path.join(base, "u2"), "*"], 2, "usage:"),
             (["export", "--format", "mbox", "-o", os.path.join(base, "u3")], 2, "usage:"),
             (["export", "--bogus"], 2, "usage:"),
             (["export", "--verify", base, "*"], 2, "only PATH"),
             (["export", "--format", "mbox", "from:(", "-o", os.path.join(base, "u4")], 1, "column")]
    for args, want_rc, want in usage:
        rc, out, err = ar.run(*args)
        T.check(rc == want_rc and len(err.strip().splitlines()) == 1 and want in err and out == b"",
                "%s: rc %d %r" % (args[1:3], rc, err))
    T.check(sorted(os.listdir(base)) == ["empty", "full"], "usage errors leave nothing: %r" % os.listdir(base))


def test_audit(ar, base, hs):
    os.makedirs(base)
    out = os.path.join(base, "audited")
    rc, _, _ = export(ar, "eml", out, "subject:from")
    lines = open(os.path.join(ar.dir, "audit.log"), "rb").read().splitlines()
    rec = json.loads(lines[-1])
    ids = sorted(h["id"] for h in hits(ar, "subject:from"))
    T.check(rc == 0 and rec["action"] == "export" and rec["query"] == "subject:from"
            and sorted(rec["ids"]) == ids and rec["matched"] == len(ids) and ids,
            "audit line: %r" % rec)
    bad = mstest.Archive()
    with open(bad.conf, "w") as f:
        f.write("[archive]\ndir = %s\n[audit]\nfile = %s/no/such/dir/audit.log\n" % (ar.dir, ar.tmp))
    out = os.path.join(base, "unaudited")
    rc, _, err = export(bad, "mbox", out, "*")
    T.check(rc == 1 and "audit" in err and len(err.strip().splitlines()) == 1 and not os.path.exists(out),
            "unwritable audit log: rc %d %r, output exists: %s" % (rc, err, os.path.exists(out)))
    shutil.rmtree(bad.tmp, ignore_errors=True)


def test_hold(ar, base):
    os.makedirs(base)
    rc, _, err = ar.run("hold", "add", "matter-1", "--reason", "case 1", "date:2002-09")
    T.check(rc == 0, "hold add: %r" % err)
    want = sorted(h["id"] for h in hits(ar, "date:2002-09"))
    narrow = sorted(h["id"] for h in hits(ar, "date:2002-09 subject:re"))
    T.check(len(want) > len(narrow) > 0, "hold test data: %d / %d" % (len(want), len(narrow)))
    for out, query, ids in (("all", [], want), ("narrow", ["subject:re"], narrow)):
        d = os.path.join(base, out)
        rc, _, err = ar.run("export", "--format", "eml", "--hold", "matter-1", *query, "-o", d)
        got = sorted(r["id"] for r in manifest(d)[1]) if rc == 0 else []
        T.check(rc == 0 and got == ids, "export --hold %s: rc %d, %d ids for %d: %r" % (query, rc, len(got), len(ids), err))
        rec = json.loads(open(os.path.join(ar.dir, "audit.log"), "rb").read().splitlines()[-1])
        T.check(rec["action"] == "export" and sorted(rec["ids"]) == ids and rec["query"] ==
                "hold matter-1: date:2002-09" + (" AND subject:re" if query else ""), "audit of a hold export: %r" % rec["query"])
    for name, want_err in (("no-such", "no hold named 'no-such'"), ("matter-1", "was released")):
        if name == "matter-1":
            ar.run("hold", "release", "matter-1", "--reason", "closed", check=True)
        d = os.path.join(base, "x-" + name)
        rc, _, err = ar.run("export", "--format", "mbox", "--hold", name, "-o", d)
        T.check(rc == 1 and want_err in err and len(err.strip().splitlines()) == 1 and not os.path.exists(d),
                "export --hold %s: rc %d %r" % (name, rc, err))


def test_progress(ar, base):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(mstest.MAILSIFT, [mstest.MAILSIFT, "-c", ar.conf, "export", "--format", "eml",
                                   "*", "-o", os.path.join(base, "tty")])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    T.check(os.waitstatus_to_exitcode(status) == 0 and b"\r[" in out and b"100%" in out and b"msg/s" in out,
            "progress bar on a terminal: %r" % out[-200:])


def test_memory(tmp):
    ar = mstest.Archive()
    md = os.path.join(ar.tmp, "big")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    line = (b"x" * 75 + b"\n")
    for i in range(20):
        with open(os.path.join(md, "cur", "b%d:2,S" % i), "wb") as f:
            f.write(b"From: big@example.org\nSubject: big %d\nMessage-ID: <big%d@example.org>\n\n" % (i, i))
            f.write(line * (3 * 1024 * 1024 // 76))
    try:
        ar.run("import", md, check=True)
        rc, rss = ar.peak_rss_mb("export", "--format", "mbox", "*", "-o", os.path.join(ar.tmp, "out"))
        size = os.path.getsize(os.path.join(ar.tmp, "out", "messages.mbox")) / 1048576.0
        T.check(rc == 0 and size > 59 and rss < 60, "bounded memory: %.0f MB export, peak RSS %.0f MB" % (size, rss))
        rc, vrss = ar.peak_rss_mb("export", "--verify", os.path.join(ar.tmp, "out"))
        T.check(rc == 0 and vrss < 60, "verify in bounded memory: peak RSS %.0f MB" % vrss)
        print("export: peak RSS of a 60 MB mbox export %.0f MB, of its verify %.0f MB" % (rss, vrss))
    finally:
        ar.cleanup()


def main():
    ar = mstest.Archive()
    try:
        build(ar)
        hs = hits(ar)
        T.check(len(hs) == 249 + len(SPAM) + len(MADE_UP), "archive has %d messages" % len(hs))
        raws = shows(ar, hs)
        base = os.path.join(ar.tmp, "exports")
        os.makedirs(base)
        rows = test_mbox(ar, hs, raws, os.path.join(ar.tmp, "mbox"))
        test_eml(ar, hs, raws, os.path.join(ar.tmp, "eml"))
        test_verify_mbox(ar, os.path.join(ar.tmp, "mbox"), rows)
        test_verify_eml(ar, os.path.join(ar.tmp, "eml"), hs)
        test_refusals(ar, base)
        test_audit(ar, os.path.join(ar.tmp, "audit"), hs)
        test_hold(ar, os.path.join(ar.tmp, "holds"))
        test_progress(ar, ar.tmp)
        test_memory(ar.tmp)
    finally:
        ar.cleanup()
    T.done()


main()
