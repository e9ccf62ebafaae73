#!/usr/bin/env python3
"""test_powercut.py - the power is cut in the middle of a group commit.

A private clamd and Postfix (tests/stack/stack.sh, discard delivery) with
mailsift-milter running under tests/stack/fault_sync.c (LD_PRELOAD over
fdatasync) and mailsift-indexd archiving the spool. 8 smtplib threads send
messages (unique Message-ID <cut-N@test>), never retried, while the
milter is started again and again with a fault planned at a random
fdatasync call (the N-th of the worker's life):
  kill  - that call never flushes: the worker SIGKILLs itself right after
          its last write, before the flush (what was written is in the
          page cache, none of it on disk); the milter is then restarted;
  eio   - that call and the next few fail with EIO (a disk that lost the
          data): the milter must tempfail every message they covered and
          go on with a new segment.
At the end (spool drained, indexd stopped with SIGTERM): every message
that got 250 is in the archive exactly once, none the milter tempfailed
is in it at all (one whose reply a kill lost may be, once), nothing is
in spool/bad, no segment without a writer is left, and `mailsift
verify` is clean. Prints the counts, then "powercut: N
passed, N failed". Needs root. MAILSIFT_SEED fixes the random choices;
KEEP=1 keeps the temp directory.
"""
import collections
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mstest  # noqa: E402
from test_crash import Daemons, Stack, archive_counts, children, send_one, wait_for  # noqa: E402

T = mstest.Test("powercut")
N_THREADS = 8
ROUNDS = [("kill", None)] * 6 + [("eio", 3)] * 2  # shuffled
MIN_SENT = 1200  # messages sent at least, whatever the rounds took
OUR_TEMPFAIL = "cannot store the message"  # the milter's reply to a failed flush


def make_msg(i, rnd):
    body = " ".join(rnd.choice("alpha bravo charlie delta echo foxtrot".split())
                    for _ in range(rnd.randint(10, 400)))
    return ("From: <sender@example.net>\r\nTo: bob@example.org\r\nSubject: cut %d\r\n"
            "Message-ID: <cut-%d@test>\r\n\r\ntoken%dx\r\n%s\r\n" % (i, i, i, body)).encode()


class Senders:
    def __init__(self, port, seed):
        self.port, self.seed = port, seed
        self.result, self.next, self.stop = {}, 0, False
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(N_THREADS)]

    def run(self, k):
        rnd = random.Random(self.seed * 100 + k)
        while True:
            with self.lock:
                if self.stop and self.next >= MIN_SENT:
                    return
                i = self.next
                self.next += 1
            res = send_one(self.port, make_msg(i, rnd))
            with self.lock:
                self.result["<cut-%d@test>" % i] = res
            if res[0] != 250:
                time.sleep(rnd.uniform(0.05, 0.2))

    def accepted(self):
        with self.lock:
            return sum(1 for c, _ in self.result.values() if c == 250)


def build_preload(d):
    so = os.path.join(d, "fault_sync.so")
    p = subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                        "-o", so, os.path.join(HERE, "fault_sync.c"), "-ldl"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    T.check(p.returncode == 0, "fault_sync.so builds: %s" % p.stdout)
    return so


def start_faulty(dm, so, fault, mark):
    """Starts the milter with the fault planned; True when it listens."""
    env = {"LD_PRELOAD": so, "MS_FAULT": fault, "MS_FAULT_MARK": mark}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return dm.milter_start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def one_round(dm, so, kind, arg, rnd, mark, stats):
    n = rnd.randint(2, 40)
    fault = "kill:%d" % n if kind == "kill" else "eio:%d:%d" % (n, arg)
    if os.path.exists(mark):
        os.unlink(mark)
    T.check(start_faulty(dm, so, fault, mark), "milter started (%s)" % fault)
    pids = dm.milter_pids()
    fired = wait_for(lambda: os.path.exists(mark), 120, 0.05)
    T.check(fired, "fault %s fired" % fault)
    if kind == "kill":
        worker_gone = wait_for(lambda: not any(p in children(pids[0]) for p in pids[1:]), 30, 0.05)
        T.check(worker_gone, "worker killed itself at fdatasync %d" % n)
        stats["kills"] += 1
    else:
        time.sleep(rnd.uniform(0.5, 1.5))  # the worker goes on after the errors
        T.check(children(pids[0]) == pids[1:], "worker survived %s" % fault)
        stats["eio"] += 1
    dm.milter_kill9()
    time.sleep(rnd.uniform(0.1, 0.4))


def check(dm, snd, stats):
    ok = {m for m, (code, _) in snd.result.items() if code == 250}
    codes = collections.Counter(code for code, _ in snd.result.values())
    print("sent %d: %d got 250, %d got 451, others %s; %d kills before a flush, %d EIO rounds"
          % (len(snd.result), codes[250], codes[451],
             {k: v for k, v in codes.items() if k not in (250, 451)} or "none",
             stats["kills"], stats["eio"]), flush=True)
    T.check(codes[451] > 0 and codes[250] > len(snd.result) // 3,
            "both 250 and 451 replies (%d, %d)" % (codes[250], codes[451]))
    other = [(m, r) for m, r in snd.result.items() if r[0] not in (250, 451)]
    T.check(not other, "only 250 or 451 replies: %s" % other[:5])
    c = archive_counts(dm)
    missing = sorted(m for m in ok if c[m] != 1)
    # A 451 of ours ("cannot store the message") means the entry was cut
    # off: it must not be archived. A 451 from Postfix because the milter
    # was killed may come after the commit that made the entry durable (the
    # reply was lost, not the message): such an entry may be archived, once.
    refused = {m for m, (code, text) in snd.result.items() if code == 451 and OUR_TEMPFAIL in text}
    unacked = sorted(m for m in refused if c[m])
    lost_reply = sorted(m for m in snd.result if m not in ok and m not in refused and c[m])
    strays = sorted(m for m in c if m not in snd.result)
    T.check(not missing, "every 250'd message archived exactly once: %d wrong %s"
            % (len(missing), [(m, c[m]) for m in missing[:10]]))
    T.check(not unacked, "no message the milter tempfailed archived: %d %s" % (len(unacked), unacked[:10]))
    T.check(all(c[m] == 1 for m in lost_reply),
            "a message whose reply the kill lost is archived once: %s" % lost_reply[:10])
    T.check(len(refused) > 0, "the EIO rounds tempfailed messages themselves (%d)" % len(refused))
    print("%d messages archived whose 250 the milter's kill lost: %s" % (len(lost_reply), lost_reply[:10]))
    T.check(not strays, "no documents that were never sent: %s" % strays[:10])
    print("archive: %d documents for %d accepted messages" % (sum(c.values()), len(ok)))


def main():
    seed = int(os.environ.get("MAILSIFT_SEED", str(random.randrange(1 << 30))))
    rnd = random.Random(seed)
    d = tempfile.mkdtemp(prefix="mailsift-powercut.")
    os.chmod(d, 0o755)
    st = dm = snd = None
    t0 = time.time()
    try:
        so = build_preload(d)
        st = Stack(d)
        dm = Daemons(d, batch_size=50, commit_interval="1s")
        st.sh("stack_clamd_start")
        st.sh("stack_postfix_start")
        dm.indexd_start()
        snd = Senders(st.smtp_port, seed)
        for t in snd.threads:
            t.start()
        stats = {"kills": 0, "eio": 0}
        mark = os.path.join(d, "fault.fired")
        rounds = list(ROUNDS)
        rnd.shuffle(rounds)
        for kind, arg in rounds:
            one_round(dm, so, kind, arg, rnd, mark, stats)
        T.check(dm.milter_start(), "milter started without faults")
        snd.stop = True
        for t in snd.threads:
            t.join()
        T.check(wait_for(lambda: not dm.pending(), 120, 0.2),
                "spool drained (left: %d)" % len(dm.pending()))
        rc = dm.indexd_stop()
        T.check(rc == 0, "indexd stopped by SIGTERM with status 0 (got %s)" % rc)
        dm.milter_stop()
        dm.indexd_start()  # once more: segments without a writer go
        time.sleep(1)
        dm.indexd_stop()
        left = [f for f in dm.files("seg") if not f.endswith(".done")]
        T.check(not left, "no segment left once no writer holds one: %s" % left)
        check(dm, snd, stats)
        T.check(not dm.files("bad"), "nothing in spool/bad: %s" % dm.files("bad")[:5])
        p = dm.mailsift("verify")
        T.check(p.returncode == 0, "verify exits 0: %s" % p.stdout.decode(errors="replace")[-1500:])
    except Exception as e:  # noqa: BLE001 - report, then clean up
        T.check(False, "exception: %r" % e)
    finally:
        if snd:
            snd.stop = True
        mstest.stack_teardown(dm, st, d)
    print("powercut: seed %d, %.0f s" % (seed, time.time() - t0))
    T.done()


if __name__ == "__main__":
    main()
