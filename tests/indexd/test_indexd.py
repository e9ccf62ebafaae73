#!/usr/bin/env python3
"""test_indexd.py - mailsift-indexd against a private spool and archive.

Spool entries are written from Python in the format of indexer/lib/ms_spool.h
(message, envelope record, 32-byte footer), into tmp/ and renamed into
new/ as the milter does; the archive is checked with build/mailsift.
Covers: -n, entries present at start, envelope fields searchable, raw
message kept byte for byte, bad entries to bad/ with a .why, searches
while indexd writes, SIGHUP reload, a locked shard (one entry, and sixty in the parse
pipeline), SIGTERM with a pending batch, five
SIGKILLs while entries flow (every entry archived exactly once), a second
indexd refused, throughput on 2000 entries, and a valgrind run.
"""
import fcntl
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("indexd")
INDEXD = os.path.join(mstest.BUILD, "mailsift-indexd")


def make_msg(i, tag="plain"):
    return ("From: Bob <bob@example.com>\r\nTo: alice@example.org\r\n"
            "Subject: note %d %s\r\nMessage-ID: <m%d.%s@example.com>\r\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"
            "body word%d %s zebra\r\n" % (i, tag, i, tag, i, tag)).encode()


class Env:
    """A temp dir with plugin.conf, spool/ and archive/; runs indexd."""

    def __init__(self, batch_size=50, commit_interval="1s"):
        self.ar = mstest.Archive()
        self.tmp = self.ar.tmp
        self.spool = os.path.join(self.tmp, "spool")
        for d in ("tmp", "new", "bad"):
            os.makedirs(os.path.join(self.spool, d))
        self.log = os.path.join(self.tmp, "indexd.log")
        self.proc = None
        self.write_conf(batch_size, commit_interval)

    def write_conf(self, batch_size, commit_interval, extra=""):
        with open(self.ar.conf, "w") as f:
            f.write("[spool]\ndir = %s\n[archive]\ndir = %s\nhost = t\n"
                    "[indexd]\nbatch_size = %s\ncommit_interval = %s\n%s"
                    % (self.spool, self.ar.dir, batch_size, commit_interval, extra))

    def entry(self, eid, msg, sender="bob@example.com", rcpts=("alice@example.org",),
              qid=None, client="mx.example.net [192.0.2.7]", verdict="clean",
              virus="", sha=None):
        rec = [("id", eid), ("sender", sender)] + [("rcpt", r) for r in rcpts]
        rec += [("qid", qid or "Q" + eid), ("client", client), ("verdict", verdict),
                ("virus", virus), ("time", str(int(time.time()))),
                ("size", str(len(msg))), ("sha256", sha or hashlib.sha256(msg).hexdigest())]
        mstest.spool_entry(self.spool, eid, msg, rec)

    def raw_entry(self, eid, data):
        path = os.path.join(self.spool, "tmp", eid)
        with open(path, "wb") as f:
            f.write(data)
        os.rename(path, os.path.join(self.spool, "new", eid))

    def new(self):
        return os.listdir(os.path.join(self.spool, "new"))

    def start(self, cmd_prefix=()):
        self.logf = open(self.log, "ab")
        n = self.logtext().count("entries waiting") if os.path.exists(self.log) else 0
        self.proc = subprocess.Popen(list(cmd_prefix) + [INDEXD, "-c", self.ar.conf, "-f"],
                                     stdout=self.logf, stderr=self.logf)
        T.check(wait_for(lambda: self.logtext().count("entries waiting") > n, 30),
                "indexd started")
        return self.proc

    def stop(self, sig=signal.SIGTERM, timeout=20):
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        self.proc = None
        return rc

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def count(self, q):
        rc, out, err = self.ar.run("count", q)
        return int(out) if rc == 0 else -1

    def ids(self):
        rc, out, _ = self.ar.run("search", "--json", "*")
        return [json.loads(l)["id"] for l in out.decode().splitlines() if l.strip()] if rc == 0 else None

    def cleanup(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        self.ar.cleanup()


def wait_for(cond, timeout=15.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def test_check_config():
    e = Env()
    p = subprocess.run([INDEXD, "-c", e.ar.conf, "-n"], capture_output=True, text=True)
    T.check(p.returncode == 0 and "configuration OK" in p.stdout, "-n on a good config: %r" % (p,))
    e.write_conf(0, "1s")
    p = subprocess.run([INDEXD, "-c", e.ar.conf, "-n"], capture_output=True, text=True)
    T.check(p.returncode != 0 and "plugin.conf:" in p.stderr, "-n on batch_size = 0: %r" % (p,))
    e.write_conf(10, "1s", "bogus = 1\n")  # line 9: after [archive] host = t
    p = subprocess.run([INDEXD, "-c", e.ar.conf, "-n"], capture_output=True, text=True)
    T.check(p.returncode != 0 and ":9:" in p.stderr, "-n names the line of an unknown key: %r" % (p,))
    p = subprocess.run([INDEXD, "-x"], capture_output=True, text=True)
    T.check(p.returncode == 2 and "usage" in p.stderr, "bad option -> usage")
    e.cleanup()


def test_basic(e):
    """Entries before start, envelope fields, raw bytes, bad entries."""
    msgs = {}
    for i in range(30):
        msgs["pre%03d" % i] = make_msg(i, "early")
        e.entry("pre%03d" % i, msgs["pre%03d" % i])
    # a stale tmp file (two days old) is cleaned at start; a fresh one is not
    for name, age in (("stale", 2 * 86400), ("fresh", 0)):
        p = os.path.join(e.spool, "tmp", name)
        open(p, "w").close()
        os.utime(p, (time.time() - age, time.time() - age))
    e.start()
    T.check(wait_for(lambda: not e.new()), "entries present at start are consumed")
    T.check(wait_for(lambda: e.count("*") == 30), "30 archived (%d)" % e.count("*"))
    T.check(not os.path.exists(os.path.join(e.spool, "tmp", "stale")) and
            os.path.exists(os.path.join(e.spool, "tmp", "fresh")), "stale tmp/ file removed, fresh kept")
    virus = "Win.Test.EICAR_HDB-1"
    m = make_msg(900, "infected")
    e.entry("vir900", m, sender="mallory@evil.example", rcpts=("carol@example.org", "dave@example.org"),
            qid="4Xyz12AbCd", client="bad.example [198.51.100.9]", verdict="infected", virus=virus)
    msgs["vir900"] = m
    # bad entries: no footer, sha mismatch, empty message, record without id
    e.raw_entry("bad1", b"From: x\r\n\r\ntruncated entry")
    e.entry("bad2", make_msg(901), sha="0" * 64)
    e.entry("bad3", b"")
    m4 = make_msg(902)
    r4 = b"size\t%d\nsha256\t%s\n" % (len(m4), hashlib.sha256(m4).hexdigest().encode())
    e.raw_entry("bad4", m4 + r4 + b"MSSPOOL1%012d%012d" % (len(m4), len(r4)))
    T.check(wait_for(lambda: not e.new()), "new/ drained")
    T.check(wait_for(lambda: e.count("*") == 31), "31 archived")
    for name in ("bad1", "bad2", "bad3", "bad4"):
        why = os.path.join(e.spool, "bad", name + ".why")
        ok = os.path.exists(os.path.join(e.spool, "bad", name)) and os.path.exists(why)
        T.check(ok, "%s in bad/ with a .why" % name)
        if ok:
            reason = open(why).read().strip()
            T.check(reason and name in e.logtext() and "moved to" in e.logtext(),
                    "%s reason logged: %s" % (name, reason))
    T.check("sha256" in open(os.path.join(e.spool, "bad", "bad2.why")).read(), "sha mismatch reason")
    T.check("not a message" in open(os.path.join(e.spool, "bad", "bad3.why")).read(), "empty message reason")
    for q, n in (("rcpt:carol@example.org", 1), ("rcpt:dave@example.org", 1),
                 ("sender:mallory@evil.example", 1), ("verdict:infected", 1),
                 ("virus:eicar_hdb", 1), ("client:198.51.100.9", 1), ("queueid:4Xyz12AbCd", 1),
                 ("id:vir900", 1), ("rcpt:alice@example.org", 30), ("verdict:clean", 30),
                 ("sender:bob@example.com", 30), ("early", 30)):
        T.check(e.count(q) == n, "count %s = %d (got %d)" % (q, n, e.count(q)))
    for eid in ("vir900", "pre007"):
        rc, out, _ = e.ar.run("show", eid)
        T.check(rc == 0 and out == msgs[eid], "show %s returns the message byte for byte" % eid)
    log = e.logtext()
    T.check("4Xyz12AbCd: indexed id=vir900 shard=" in log, "per-message log line with queue id and id")


def test_live_and_search(e):
    """Entries arriving while a search loop reads the archive."""
    base = e.count("*")
    errors, counts, stop = [], [], threading.Event()

    def searcher():
        while not stop.is_set():
            rc, out, err = e.ar.run("count", "*")
            if rc != 0:
                errors.append(err)
            else:
                counts.append(int(out))
            rc, out, err = e.ar.run("search", "--limit", "5", "live")
            if rc != 0:
                errors.append(err)

    th = threading.Thread(target=searcher)
    th.start()
    for i in range(300):
        e.entry("live%04d" % i, make_msg(i, "live"))
        if i % 25 == 0:
            time.sleep(0.05)
    T.check(wait_for(lambda: not e.new() and e.count("*") == base + 300, 20), "300 live entries archived")
    stop.set()
    th.join()
    T.check(not errors, "searches while indexd writes never fail: %s" % errors[:2])
    T.check(len(counts) > 3 and counts == sorted(counts), "counts seen by searchers only grow (%d)" % len(counts))


def test_locked_shard(e):
    """A shard locked by another writer (as by "mailsift import"): kept, retried."""
    os.makedirs(os.path.join(e.ar.dir, "locks"), exist_ok=True)
    lock = os.path.join(e.ar.dir, "locks", time.strftime("t.%Y-%m", time.gmtime()) + ".lock")
    T.check(wait_for(lambda: "0 waiting" in e.logtext().splitlines()[-1]), "indexd idle")
    with open(lock, "a") as f:
        # indexd releases its shard locks when idle, so this succeeds
        T.check(wait_for(lambda: try_lock(f)), "took the shard lock while indexd is idle")
        e.entry("locked1", make_msg(1, "lockedshard"))
        T.check(wait_for(lambda: "spool entry locked1 kept for retry" in e.logtext()),
                "locked shard: entry kept for retry (logged)")
        time.sleep(1.5)
        T.check(e.new() == ["locked1"], "locked shard: entry stays in new/")
    T.check(wait_for(lambda: not e.new() and e.count("lockedshard") == 1, 10),
            "indexed once the lock is released")


def test_locked_many(e):
    """A locked shard while many entries are in the parse pipeline: the
    ones already prepared are held, not lost nor quarantined, and each is
    archived once after the lock is released."""
    os.makedirs(os.path.join(e.ar.dir, "locks"), exist_ok=True)
    lock = os.path.join(e.ar.dir, "locks", time.strftime("t.%Y-%m", time.gmtime()) + ".lock")
    T.check(wait_for(lambda: "0 waiting" in e.logtext().splitlines()[-1]), "indexd idle (many)")
    base, n_bad = e.count("*"), len(os.listdir(os.path.join(e.spool, "bad")))
    with open(lock, "a") as f:
        T.check(wait_for(lambda: try_lock(f)), "took the shard lock (many)")
        for i in range(60):
            e.entry("lockm%03d" % i, make_msg(i, "lockedmany"))
        T.check(wait_for(lambda: "spool entry lockm" in e.logtext() and "kept for retry" in e.logtext()),
                "locked shard, many entries: kept for retry")
        time.sleep(1.5)
        T.check(len(e.new()) == 60, "locked shard: all 60 stay in new/ (%d)" % len(e.new()))
    T.check(wait_for(lambda: not e.new() and e.count("lockedmany") == 60, 15),
            "all 60 indexed once the lock is released (%d)" % e.count("lockedmany"))
    T.check(e.count("*") == base + 60 and len(os.listdir(os.path.join(e.spool, "bad"))) == n_bad,
            "no duplicates, nothing quarantined")


def try_lock(f):
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def test_reload(e):
    e.write_conf(7, "0")
    e.proc.send_signal(signal.SIGHUP)
    T.check(wait_for(lambda: "batch_size=7 commit_interval=0s" in e.logtext()), "SIGHUP reload logged")
    base = e.count("*")
    for i in range(20):
        e.entry("hup%03d" % i, make_msg(i, "afterhup"))
    T.check(wait_for(lambda: not e.new() and e.count("afterhup") == 20), "indexing works after reload")
    T.check(e.count("*") == base + 20, "no duplicates after reload")
    with open(e.ar.conf, "a") as f:
        f.write("nonsense\n")
    e.proc.send_signal(signal.SIGHUP)
    T.check(wait_for(lambda: "configuration not reloaded" in e.logtext()), "bad config on SIGHUP kept old")
    e.write_conf(7, "0")  # good again for the mailsift command (no SIGHUP)
    e.entry("hupbad", make_msg(5, "stillworks"))
    T.check(wait_for(lambda: e.count("stillworks") == 1), "still indexing after a failed reload")


def test_second_instance(e):
    p = subprocess.run([INDEXD, "-c", e.ar.conf, "-f"], capture_output=True, text=True, timeout=10)
    T.check(p.returncode == 1 and "another mailsift-indexd (pid %d)" % e.proc.pid in p.stderr,
            "second indexd refused: %r" % p.stderr.strip()[-200:])
    T.check(e.proc.poll() is None, "first indexd still running")


def test_sigterm_pending(e):
    e.write_conf(1000, "1h")
    e.proc.send_signal(signal.SIGHUP)
    T.check(wait_for(lambda: "batch_size=1000 commit_interval=3600s" in e.logtext()), "reload to a long interval")
    base = e.count("*")
    for i in range(10):
        e.entry("term%03d" % i, make_msg(i, "pendingterm"))
    T.check(wait_for(lambda: e.logtext().count("indexed id=term") == 10), "10 added, not committed")
    T.check(len(e.new()) == 10, "entries stay in new/ until the commit (%d)" % len(e.new()))
    rc = e.stop(signal.SIGTERM)
    T.check(rc == 0, "SIGTERM exits 0 (%s)" % rc)
    T.check(not e.new(), "SIGTERM committed and removed the pending entries")
    T.check(e.count("*") == base + 10 and e.count("pendingterm") == 10, "pending batch committed on SIGTERM")


def test_sigkill():
    e = Env(batch_size=20, commit_interval="1s")
    want, done = [], threading.Event()

    def producer():
        for i in range(400):
            eid = "k%04d" % i
            e.entry(eid, make_msg(i, "crash"))
            want.append(eid)
            time.sleep(0.004)
        done.set()

    th = threading.Thread(target=producer)
    e.start()
    th.start()
    kills = 0
    for _ in range(5):
        time.sleep(random.uniform(0.25, 0.6))
        e.stop(signal.SIGKILL)
        kills += 1
        e.start()
    th.join()
    T.check(wait_for(lambda: not e.new(), 30), "spool drained after 5 SIGKILLs")
    rc = e.stop(signal.SIGTERM)
    T.check(rc == 0, "clean stop after the crashes (%s): %s" % (rc, e.logtext()[-600:]))
    ids = e.ids()
    T.check(ids is not None and len(ids) == 400 and sorted(ids) == sorted(want),
            "every entry archived exactly once after %d kills (%s docs, %s unique)"
            % (kills, ids and len(ids), ids and len(set(ids))))
    T.check(not os.listdir(os.path.join(e.spool, "bad")), "nothing quarantined by the crashes")
    print("sigkill: %d additions for 400 entries (%d re-done after a kill)"
          % (e.logtext().count("indexed id=k"), e.logtext().count("indexed id=k") - 400), flush=True)
    e.cleanup()


def test_throughput():
    e = Env(batch_size=1000, commit_interval="2s")
    pidfile = os.path.join(e.tmp, "indexd.pid")
    e.write_conf(1000, "2s", "pidfile = %s\n" % pidfile)
    n = 2000
    for i in range(n):
        e.entry("t%05d" % i, make_msg(i, "speed"))
    t0 = time.time()
    e.start()
    T.check(wait_for(lambda: not e.new(), 30, 0.01), "2000 entries drained")
    dt = time.time() - t0
    print("throughput: %d entries in %.2f s = %.0f messages/s" % (n, dt, n / dt), flush=True)
    T.check(open(pidfile).read() == "%d\n" % e.proc.pid, "pid file written")
    T.check(e.stop() == 0 and e.count("speed") == n, "2000 archived")
    T.check(not os.path.exists(pidfile), "pid file removed at exit")
    T.check(n / dt > 200, "at least 200 messages/s (%.0f)" % (n / dt))
    e.cleanup()


def test_valgrind():
    if not shutil.which("valgrind"):
        print("valgrind not installed: skipped")
        return
    e = Env(batch_size=5, commit_interval="1s")
    for i in range(8):
        e.entry("vg%02d" % i, make_msg(i, "grind"))
    e.raw_entry("vgbad", b"garbage")
    e.start(["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
             "--error-exitcode=99"])
    T.check(wait_for(lambda: not e.new(), 40), "valgrind: entries consumed")
    e.write_conf(3, "0")
    e.proc.send_signal(signal.SIGHUP)
    T.check(wait_for(lambda: "batch_size=3" in e.logtext(), 20), "valgrind: reload")
    for i in range(4):
        e.entry("vh%02d" % i, make_msg(i, "grind"))
    time.sleep(1.5)
    rc = e.stop(signal.SIGTERM, 60)
    T.check(rc == 0, "valgrind: clean (exit %s)\n%s" % (rc, e.logtext()[-2000:]))
    T.check(e.count("grind") == 12, "valgrind run archived 12")
    e.cleanup()


def main():
    if not os.path.exists(INDEXD):
        print("no %s: run make" % INDEXD)
        sys.exit(1)
    t0 = time.time()
    test_check_config()
    e = Env()
    try:
        test_basic(e)
        test_live_and_search(e)
        test_locked_shard(e)
        test_locked_many(e)
        test_reload(e)
        test_second_instance(e)
        test_sigterm_pending(e)
    finally:
        e.cleanup()
    test_sigkill()
    test_throughput()
    test_valgrind()
    print("time: %.1f s" % (time.time() - t0))
    T.done()


if __name__ == "__main__":
    main()
