#!/usr/bin/env python3
"""test_verify.py - `mailsift verify`, `mailsift reindex` and encryption at
rest, at the command level: a clean archive verifies; a damaged, a missing
and an unindexed stored message are each reported (exit 1); reindex keeps
the count and every search result, brings back unindexed messages, refuses
while a writer holds a lock, and leaves the index alone when a message is
missing unless --force; with [archive] encrypt_key no stored file holds
plaintext, show returns the exact bytes, a wrong or missing key fails with
one clear line, key file errors are one line, and a store with files from
before and after switching encryption on reads both.
"""
import fcntl
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("verify")
MARKER = "zanzibarquux"  # in every body, never in a stored file when encrypted


def msg(n):
    month = 7 + n % 2  # two shards
    return ("From: Sender %d <s%d@example.org>\nTo: r%d@example.net\n"
            "Subject: verify message %d\nDate: Fri, %02d %s 2002 10:00:00 +0000\n"
            "Message-ID: <v%d@example.org>\n\nbody %s word%d\n"
            % (n, n, n, n, n % 28 + 1, ("Jul", "Aug")[month - 7], n, MARKER, n)).encode()


def make_maildir(root, numbers):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for n in numbers:
        with open(os.path.join(root, "cur", "%d.host:2,S" % n), "wb") as f:
            f.write(msg(n))
    return root


def store_files(ar):
    out = []
    for top, _, files in os.walk(os.path.join(ar.dir, "store")):
        out += [os.path.join(top, f) for f in files if len(f) == 64]
    return sorted(out)


def search_all(ar):
    rc, out, err = ar.run("search", "--json", "*")
    T.check(rc == 0, "search: %s" % err)
    return sorted(out.decode().splitlines())


def count(ar):
    return ar.run("count", "*")[1].strip()


def problems(out):
    return [l for l in out.decode().splitlines() if not l.startswith("verify:")]


def sha_of(ar, n):
    rc, out, _ = ar.run("search", "--json", "subject:verify AND word%d" % n)
    return json.loads(out.decode().splitlines()[0])


def test_verify(ar):
    rc, out, err = ar.run("verify")
    T.check(rc == 0 and problems(out) == [] and "(clean)" in out.decode(),
            "clean archive: rc %d %r %r" % (rc, out, err))
    T.check("20 stored messages, 20 documents in 2 shards" in out.decode(), "summary: %r" % out)
    hit = sha_of(ar, 3)
    files = {os.path.basename(p): p for p in store_files(ar)}
    path = files[hit["sha256"]]
    keep = open(path, "rb").read()
    # damaged stored file: one byte of the compressed payload
    data = bytearray(keep)
    data[len(data) // 2] ^= 0x55
    open(path, "wb").write(bytes(data))
    rc, out, _ = ar.run("verify")
    lines = problems(out)
    T.check(rc == 1, "damaged: exit %d" % rc)
    T.check(any(l.startswith("store: %s: " % hit["sha256"]) for l in lines), "store line: %r" % lines)
    T.check(any(l.startswith("index: id %s: stored message damaged" % hit["id"]) for l in lines),
            "index line: %r" % lines)
    # same length, other content: a hash mismatch
    other = [p for n, p in files.items() if n != hit["sha256"]][0]
    shutil.copyfile(other, path)
    rc, out, _ = ar.run("verify")
    T.check(rc == 1 and "store: %s: content hash mismatch" % hit["sha256"] in problems(out),
            "hash mismatch: %r" % problems(out))
    # missing stored file
    os.unlink(path)
    rc, out, _ = ar.run("verify")
    T.check(rc == 1 and problems(out) == ["index: id %s: stored message missing" % hit["id"]],
            "missing: %r" % problems(out))
    open(path, "wb").write(keep)
    rc, out, _ = ar.run("verify")
    T.check(rc == 0, "restored: %r" % problems(out))


def test_reindex(ar):
    before, n = search_all(ar), count(ar)
    rc, _, err = ar.run("reindex")
    T.check(rc == 0 and "reindexed 20 messages (20 from the index, 0 unindexed" in err,
            "reindex: rc %d %r" % (rc, err))
    T.check(count(ar) == n and search_all(ar) == before, "reindex keeps every search result")
    left = sorted(f for f in os.listdir(ar.dir) if not f.startswith("audit.log"))
    T.check(left == ["locks", "shards", "store"], "no leftovers: %r" % os.listdir(ar.dir))
    rc, out, _ = ar.run("count", "word7")
    T.check(out.strip() == b"1", "word search after reindex: %r" % out)
    rc, _, _ = ar.run("verify")
    T.check(rc == 0, "verify after reindex")
    # unindexed stored messages: drop one shard, verify names them, reindex
    # brings them back with the same (content-hash) ids
    july = [n for n in os.listdir(os.path.join(ar.dir, "shards")) if n.endswith("2002-07")]
    shutil.rmtree(os.path.join(ar.dir, "shards", july[0]))  # HOST.2002-07
    rc, out, _ = ar.run("verify")
    lines = problems(out)
    T.check(rc == 1 and len(lines) == 10 and all("not in the index" in l for l in lines),
            "unindexed: %r" % lines)
    rc, _, err = ar.run("reindex")
    T.check(rc == 0 and "(10 from the index, 10 unindexed from the store)" in err, "orphans: %r" % err)
    T.check(search_all(ar) == before, "orphans re-added with the same ids and fields")
    # a writer holds a shard lock, or the shared archive lock: refused
    aug = [n for n in os.listdir(os.path.join(ar.dir, "shards")) if n.endswith("2002-08")]
    for name, op in ((aug[0] + ".lock", fcntl.LOCK_EX), (".archive.lock", fcntl.LOCK_SH)):
        with open(os.path.join(ar.dir, "locks", name), "a") as f:
            fcntl.flock(f, op | fcntl.LOCK_NB)
            rc, _, err = ar.run("reindex")
        T.check(rc == 1 and len(err.strip().splitlines()) == 1 and "stop it and retry" in err
                and "another process" in err, "locked %s: %r" % (name, err))
    T.check(search_all(ar) == before, "refused reindex changed nothing")
    # while maintenance holds the archive lock, writers are kept out
    with open(os.path.join(ar.dir, "locks", ".archive.lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        md = make_maildir(os.path.join(ar.tmp, "late"), [99])
        rc, _, err = ar.run("import", md)
    T.check(rc == 1 and "being reindexed" in err and count(ar) == b"20", "writer kept out: %r" % err)
    # a missing stored message: nothing swapped unless --force
    hit = sha_of(ar, 5)
    path = [p for p in store_files(ar) if p.endswith(hit["sha256"])][0]
    os.unlink(path)
    rc, _, err = ar.run("reindex")
    T.check(rc == 1 and "index is unchanged" in err and hit["id"] in err, "missing: %r" % err)
    T.check(search_all(ar) == before and "shards.new" not in os.listdir(ar.dir), "unchanged after refusal")
    # --force drops the document; message 99, stored by the import the
    # lock kept out but never indexed, comes in as an unindexed message
    rc, _, err = ar.run("reindex", "--force")
    T.check(rc == 1 and "(19 from the index, 1 unindexed from the store), 1 failed" in err,
            "--force: %r" % err)
    rc, out, _ = ar.run("count", "word5 OR word99")
    T.check(count(ar) == b"20" and out.strip() == b"1", "--force: word5 gone, word99 there: %r" % out)
    rc, _, err = ar.run("reindex", "--bogus")
    T.check(rc == 2, "usage: %r" % err)


def write_key(path, key, mode=0o600):
    with open(path, "w") as f:
        f.write(key + "\n")
    os.chmod(path, mode)


def test_encryption(tmp):
    key = os.path.join(tmp, "archive.key")
    write_key(key, "8f" * 32)
    ar = mstest.Archive("encrypt_key = %s\n" % key)
    try:
        md = make_maildir(os.path.join(tmp, "enc-md"), range(1, 11))
        rc, _, err = ar.run("import", md)
        T.check(rc == 0, "encrypted import: %r" % err)
        files = store_files(ar)
        T.check(len(files) == 10, "10 stored files")
        leaks = [p for p in files if MARKER.encode() in open(p, "rb").read()
                 or b"Subject" in open(p, "rb").read()]
        T.check(files and leaks == [], "no plaintext in the store: %r" % leaks)
        T.check(all(open(p, "rb").read()[4] == 1 for p in files), "method byte 1")
        rc, out, _ = ar.run("show", "v4@example.org")
        T.check(rc == 0 and out == msg(4), "show decrypts exactly")
        rc, out, _ = ar.run("verify")
        T.check(rc == 0, "verify decrypts: %r" % out)
        before = search_all(ar)
        rc, _, err = ar.run("reindex")
        T.check(rc == 0 and search_all(ar) == before, "encrypted reindex: %r" % err)
        # wrong key
        write_key(key, "90" * 32)
        rc, out, err = ar.run("show", "v4@example.org")
        T.check(rc == 1 and out == b"" and len(err.strip().splitlines()) == 1
                and "wrong key or damaged file" in err, "wrong key: %r" % err)
        rc, out, _ = ar.run("verify")
        T.check(rc == 1 and len([l for l in problems(out) if "wrong key" in l]) == 10,
                "verify with a wrong key: %r" % problems(out)[:2])
        # no key at all
        plain = mstest.Archive()
        plain.dir = ar.dir
        with open(plain.conf, "w") as f:
            f.write("[archive]\ndir = %s\n" % ar.dir)
        rc, out, err = plain.run("show", "v4@example.org")
        T.check(rc == 1 and len(err.strip().splitlines()) == 1
                and "message is encrypted; set [archive] encrypt_key" in err, "no key: %r" % err)
        shutil.rmtree(plain.tmp, ignore_errors=True)
        # key file errors: one line at open
        for content, mode, want in (("8f" * 32, 0o644, "chmod o-rwx"),
                                    ("8f" * 31, 0o600, "32 raw bytes or 64 hex digits")):
            write_key(key, content, mode)
            rc, _, err = ar.run("count", "*")
            T.check(rc == 1 and len(err.strip().splitlines()) == 1 and want in err and key in err,
                    "key file error: %r" % err)
        os.unlink(key)
        rc, _, err = ar.run("count", "*")
        T.check(rc == 1 and len(err.strip().splitlines()) == 1 and "No such file" in err,
                "missing key file: %r" % err)
    finally:
        ar.cleanup()


def test_mixed(tmp):
    """Plain messages stay readable after encryption is switched on."""
    ar = mstest.Archive()
    key = os.path.join(tmp, "mixed.key")
    with open(key, "wb") as f:
        f.write(bytes(range(32)))  # a raw 32-byte key
    os.chmod(key, 0o640)
    try:
        ar.run("import", make_maildir(os.path.join(tmp, "mixed-a"), range(30, 33)), check=True)
        with open(ar.conf, "a") as f:
            f.write("encrypt_key = %s\n" % key)
        ar.run("import", make_maildir(os.path.join(tmp, "mixed-b"), range(40, 43)), check=True)
        methods = sorted(open(p, "rb").read()[4] for p in store_files(ar))
        T.check(methods == [0, 0, 0, 1, 1, 1], "mixed methods: %r" % methods)
        ok = all(ar.run("show", "v%d@example.org" % n)[1] == msg(n) for n in (30, 31, 32, 40, 41, 42))
        T.check(ok, "mixed store: show reads both methods")
        rc, out, _ = ar.run("verify")
        T.check(rc == 0, "mixed verify: %r" % out)
    finally:
        ar.cleanup()


def main():
    ar = mstest.Archive()
    try:
        md = make_maildir(os.path.join(ar.tmp, "Maildir"), range(1, 21))
        rc, _, err = ar.run("import", md)
        T.check(rc == 0 and "20 new" in err, "import: %r" % err)
        test_verify(ar)
        test_reindex(ar)
        test_encryption(ar.tmp)
        test_mixed(ar.tmp)
    finally:
        ar.cleanup()
    T.done()


main()
