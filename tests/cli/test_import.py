#!/usr/bin/env python3
"""test_import.py - the mailsift command's behaviour: maildir, mbox and
plain-file import, per-message failure lines and exit status, no
duplicates on re-import, --json fields, --limit, show, stats, and one-line
errors for bad queries, bad config and unknown ids.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("import")


def msg(n, subject, body, date="Fri, 23 Aug 2002 10:00:%02d +0000"):
    return ("From: Sender %d <s%d@example.org>\nTo: r%d@example.net\n"
            "Subject: %s\nDate: %s\nMessage-ID: <m%d@example.org>\n\n%s\n"
            % (n, n, n, subject, date % (n % 60), n, body)).encode()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make_tree(root):
    md = os.path.join(root, "Maildir")
    write(os.path.join(md, "cur", "1.host:2,S"), msg(1, "maildir cur", "alpha"))
    write(os.path.join(md, "new", "2.host"), msg(2, "maildir new", "bravo"))
    write(os.path.join(md, "tmp", "3.host"), msg(3, "maildir tmp", "charlie"))
    write(os.path.join(md, "dovecot-uidlist"), b"3 V1 N4\n")
    write(os.path.join(md, ".Sent", "cur", "4.host:2,S"), msg(4, "sent folder", "delta"))
    mbox = b""
    for n in (5, 6, 7):
        mbox += b"From s%d@example.org Fri Aug 23 10:00:00 2002\n" % n
        mbox += msg(n, "mbox message", "echo%d" % n) + b"\n"
    write(os.path.join(root, "archive.mbox"), mbox)
    write(os.path.join(root, "loose", "one.eml"), msg(8, "loose file", "foxtrot"))
    write(os.path.join(root, "loose", "empty.eml"), b"")


def test_import(ar, root):
    rc, _, err = ar.run("import", root)
    lines = err.strip().splitlines()
    T.check(rc == 1, "import with a bad file must exit 1, got %d" % rc)
    bad = [l for l in lines if "empty.eml" in l]
    T.check(len(bad) == 1, "one error line for empty.eml: %r" % lines)
    T.check("7 new, 0 already archived, 1 failed" in err, "summary: %r" % lines[-1:])
    rc, out, _ = ar.run("count", "*")
    T.check(out.strip() == b"7", "count * = %r (tmp/ and dovecot files skipped)" % out)
    for word, n in (("alpha", 1), ("bravo", 1), ("charlie", 0), ("delta", 1),
                    ("echo6", 1), ("subject:mbox", 3), ("foxtrot", 1)):
        rc, out, _ = ar.run("count", word)
        T.check(rc == 0 and out.strip() == str(n).encode(), "count %s = %r, want %d" % (word, out, n))
    rc, _, err = ar.run("import", os.path.join(root, "Maildir"), os.path.join(root, "archive.mbox"))
    T.check(rc == 0 and "0 new, 6 already archived, 0 failed" in err, "re-import: %r" % err)
    rc, out, _ = ar.run("count", "*")
    T.check(out.strip() == b"7", "count after re-import = %r" % out)


def test_search(ar):
    rc, out, _ = ar.run("search", "--json", "subject:mbox")
    hits = [json.loads(l) for l in out.decode().splitlines()]
    T.check(rc == 0 and len(hits) == 3, "search --json: %r" % out)
    keys = {"id", "message_id", "date", "from", "to", "subject", "size"}
    T.check(all(keys <= set(h) for h in hits), "json keys: %r" % (hits[:1],))
    T.check([h["message_id"] for h in hits] == ["m7@example.org", "m6@example.org", "m5@example.org"],
            "newest first: %r" % [h["message_id"] for h in hits])
    rc, out, _ = ar.run("search", "--limit", "2", "subject:mbox")
    T.check(rc == 0 and len(out.splitlines()) == 2, "--limit 2: %r" % out)
    rc, out, _ = ar.run("show", hits[0]["id"])
    T.check(rc == 0 and out == msg(7, "mbox message", "echo7"), "show mbox message: %r" % out[:80])
    rc, out, _ = ar.run("show", "m1@example.org")
    T.check(rc == 0 and out == msg(1, "maildir cur", "alpha"), "show by Message-ID")
    rc, out, err = ar.run("show", "nosuchid")
    T.check(rc == 1 and out == b"" and len(err.strip().splitlines()) == 1, "show unknown: %r" % err)
    rc, out, _ = ar.run("stats")
    T.check(rc == 0 and b"messages: 7" in out and b"shards: 1" in out, "stats: %r" % out)


def test_errors(ar):
    for q in ('"unclosed', "from:", "(a OR", "nosuchfield:x", "date:2002-13-01"):
        rc, out, err = ar.run("search", q)
        T.check(rc != 0 and out == b"" and len(err.strip().splitlines()) == 1,
                "bad query %r: rc=%d err=%r" % (q, rc, err))
    with open(ar.conf, "a") as f:
        f.write("[archive]\nbogus_key = 1\n")
    rc, _, err = ar.run("count", "*")
    T.check(rc != 0 and ":4: " in err and len(err.strip().splitlines()) == 1,
            "bad config must name file:line: %r" % err)
    p = mstest.Archive()
    rc, _, err = p.run("nosuchcommand")
    T.check(rc == 2, "unknown command exit %d" % rc)
    p.cleanup()


def test_lock_wait(ar, root):
    """import waits for a shard another writer (indexd) holds, then goes on."""
    import fcntl
    import subprocess
    import time
    shard = [n for n in os.listdir(os.path.join(ar.dir, "shards")) if n.endswith("2002-08")]
    T.check(len(shard) == 1, "one shard for 2002-08 (with the host label): %r" % shard)
    lock = open(os.path.join(ar.dir, "locks", shard[0] + ".lock"), "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    write(os.path.join(root, "later", "9.eml"), msg(9, "written while locked", "golf"))
    p = subprocess.Popen([mstest.MAILSIFT, "-c", ar.conf, "import", os.path.join(root, "later")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)
    T.check(p.poll() is None, "import did not wait for the locked shard")
    fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()
    out, err = p.communicate(timeout=60)
    err = err.decode()
    T.check(p.returncode == 0 and "waiting" in err and "1 new" in err, "import after the lock: %r" % err)
    rc, out, _ = ar.run("count", "golf")
    T.check(out.strip() == b"1", "message imported after the wait: %r" % out)


def main():
    ar = mstest.Archive()
    root = os.path.join(ar.tmp, "mail")
    make_tree(root)
    test_import(ar, root)
    test_search(ar)
    test_lock_wait(ar, root)
    test_errors(ar)
    ar.cleanup()
    T.done()


main()
