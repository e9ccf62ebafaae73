#!/usr/bin/env python3
"""test_diskfull.py - a full spool: the milter tempfails, loses nothing.

The spool is a 2 MB tmpfs; a private clamd and Postfix (tests/stack/
stack.sh, discard delivery) pass mail to mailsift-milter. With indexd
stopped, 200 KB messages are sent until the milter answers 451 4.7.1
("cannot store the message"); then: every message that got 250 is an
intact spool entry (framing and checksums, sizes, recorded SHA-256,
body as sent), no
partial file is left in spool/tmp, the milter (supervisor and the same
worker) is still alive. Then indexd starts, drains the spool into an
archive on the normal disk, more messages get 250 again, and at the end
every 250'd message is archived exactly once, none that failed is, spool/
bad is empty and `mailsift verify` is clean. Prints "diskfull: N passed,
N failed". Needs root; if a tmpfs cannot be mounted it says so and exits 0
(skipped). KEEP=1 keeps the temp directory (the spool copied to spool.copy).
"""
import collections
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import mstest  # noqa: E402
from test_crash import Daemons, Stack, alive, children, send_one, wait_for  # noqa: E402

T = mstest.Test("diskfull")
MSG_SIZE = 200 * 1024
MAX_FILL = 40      # 2 MB holds about 10 of them: 451 must come long before
AFTER_FULL = 3     # more sends once full: they must fail too, cleanly
RECOVERY = 8       # sent with indexd running: all must get 250


def make_msg(i, rnd):
    """Returns (message bytes, body bytes) of about MSG_SIZE bytes."""
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    lines = ["".join(rnd.choice(letters) for _ in range(76)) for _ in range(MSG_SIZE // 78)]
    body = ("token%dx\r\n%s\r\n" % (i, "\r\n".join(lines))).encode()
    head = ("From: Sender <sender@example.net>\r\nTo: bob@example.org\r\n"
            "Subject: diskfull %d\r\nMessage-ID: <full-%d@test>\r\nDate: %s\r\n\r\n"
            % (i, i, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()))).encode()
    return head + body, body


def parse_entry(e):
    """Returns (message-id, body, problem) of a spool entry (mstest.spool_entries:
    framing and checksums already checked there)."""
    if e["problem"]:
        return None, None, e["problem"]
    msg = e["msg"]
    rec = dict(e["rec"])
    if rec.get("sha256") != hashlib.sha256(msg).hexdigest():
        return None, None, "sha256 mismatch"
    if not rec.get("id") or rec.get("size") != str(len(msg)):
        return None, None, "record id/size wrong: %r" % rec
    head, _, body = msg.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^Message-ID:\s*(<[^>]*>)", head)
    return (m.group(1).decode() if m else None), body, None


def fill(st, dm, rnd, sent):
    """Sends until the milter tempfails; returns the first 451 text."""
    first = None
    for i in range(MAX_FILL):
        msg, body = make_msg(i, rnd)
        code, text = send_one(st.smtp_port, msg)
        sent["<full-%d@test>" % i] = (code, text, body)
        if code != 250 and first is None:
            first = "%d %s" % (code, text)
        if first and sum(1 for c, _, _ in sent.values() if c != 250) > AFTER_FULL:
            break
    return first


def check_full(dm, sent, first, pids):
    ok = {m for m, (c, _, _) in sent.items() if c == 250}
    codes = collections.Counter(c for c, _, _ in sent.values())
    print("filling: %d sent, %d got 250, %d got 451, others %s; first failure: %s"
          % (len(sent), codes[250], codes[451],
             {k: v for k, v in codes.items() if k not in (250, 451)} or "none", first), flush=True)
    T.check(first is not None, "a tempfail came within %d messages of %d KB"
            % (MAX_FILL, MSG_SIZE // 1024))
    T.check(len(ok) >= 5, "the 2 MB spool took some messages (%d)" % len(ok))
    T.check(first is not None and first.startswith("451 4.7.1 Try again later: cannot store")
            and "message" in first, "451 4.7.1 'cannot store the message': %s" % first)
    bad_codes = [(m, c, t) for m, (c, t, _) in sent.items() if c not in (250, 451)]
    T.check(not bad_codes, "only 250 or 451: %s" % bad_codes)
    T.check(not dm.files("tmp"), "no partial files in spool/tmp: %s" % dm.files("tmp"))
    seen = collections.Counter()
    for e in mstest.spool_entries(dm.spool):
        name = e["name"]
        mid, body, why = parse_entry(e)
        T.check(why is None, "spool entry %s intact: %s" % (name, why))
        if why is None:
            seen[mid] += 1
            T.check(mid in sent and body == sent[mid][2],
                    "entry %s (%s): body as sent" % (name, mid))
    T.check(all(seen[m] == 1 for m in ok), "every 250'd message is one spool entry: %s"
            % sorted((m, seen[m]) for m in ok if seen[m] != 1))
    T.check(set(seen) <= ok, "no entry for a 451'd message: %s" % sorted(set(seen) - ok))
    T.check(all(alive(p) for p in pids), "milter supervisor and worker alive")
    T.check(children(pids[0]) == pids[1:], "the same worker (no restart): %s vs %s"
            % (children(pids[0]), pids[1:]))
    with open(os.path.join(dm.d, "milter.out"), errors="replace") as f:
        log = f.read()
    T.check("exited unexpectedly" not in log, "milter worker never died")
    T.check("cannot store" in log or "No space left" in log,
            "milter logged the spool failure: %s" % [l for l in log.splitlines()
                                                     if "action=accept" not in l][-5:])


def spool_used_kb(spool):
    v = os.statvfs(spool)
    return (v.f_blocks - v.f_bfree) * v.f_frsize // 1024


def recover(st, dm, rnd, sent):
    dm.indexd_start()
    T.check(wait_for(lambda: not dm.pending(), 60, 0.1),
            "indexd drained the full spool (left %d)" % len(dm.pending()))
    used = spool_used_kb(dm.spool)
    T.check(used < 100, "space freed once drained (%d KB still used: a descriptor of a "
            "removed spool file kept open?)" % used)
    codes = []
    for i in range(MAX_FILL, MAX_FILL + RECOVERY):
        msg, body = make_msg(i, rnd)
        code, text = send_one(st.smtp_port, msg)
        sent["<full-%d@test>" % i] = (code, text, body)
        codes.append(code if code == 250 else "%d %s" % (code, text))
    T.check(codes == [250] * RECOVERY, "after draining, new messages get 250: %s" % codes)
    T.check(wait_for(lambda: not dm.pending(), 60, 0.1), "spool drained again")
    rc = dm.indexd_stop()
    T.check(rc == 0, "indexd stopped by SIGTERM with status 0 (got %s)" % rc)


def check_archive(dm, sent):
    p = dm.mailsift("search", "--json", "*")
    T.check(p.returncode == 0, "search --json '*': %s" % p.stderr.decode(errors="replace"))
    c = collections.Counter(json.loads(line).get("message_id")
                            for line in p.stdout.decode().splitlines() if line.strip())
    c = collections.Counter({(m if m.startswith("<") else "<%s>" % m): n for m, n in c.items()})
    ok = [m for m, (code, _, _) in sent.items() if code == 250]
    T.check(all(c[m] == 1 for m in ok), "every 250'd message archived exactly once: %s"
            % sorted((m, c[m]) for m in ok if c[m] != 1))
    failed = [m for m in sent if m not in ok and c[m]]
    T.check(not failed, "no 451'd message archived: %s" % failed)
    T.check(set(c) <= set(sent), "no stray documents: %s" % sorted(set(c) - set(sent)))
    print("archive: %d documents for %d accepted messages" % (sum(c.values()), len(ok)))
    T.check(not dm.files("bad"), "nothing in spool/bad: %s" % dm.files("bad"))
    p = dm.mailsift("verify")
    T.check(p.returncode == 0, "verify exits 0: %s %s" % (
        p.stdout.decode(errors="replace")[-2000:], p.stderr.decode(errors="replace")[-500:]))
    print(p.stdout.decode(errors="replace").strip().splitlines()[-1:])


def mount_spool(spool):
    os.makedirs(spool)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0770", "tmpfs", spool],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode == 0, p.stdout.strip()


def umount(spool):
    for _ in range(50):
        if subprocess.run(["umount", spool], stderr=subprocess.DEVNULL).returncode == 0:
            return True
        time.sleep(0.2)
    print("diskfull: cannot unmount %s" % spool)
    return False


def main():
    seed = int(os.environ.get("MAILSIFT_SEED", str(random.randrange(1 << 30))))
    rnd = random.Random(seed)
    d = tempfile.mkdtemp(prefix="mailsift-diskfull.")
    os.chmod(d, 0o755)
    spool = os.path.join(d, "spool")
    mounted, why = mount_spool(spool)
    if not mounted:
        print("diskfull: SKIPPED: cannot mount a tmpfs on %s (%s); needs root and "
              "CAP_SYS_ADMIN" % (spool, why or "mount failed"))
        shutil.rmtree(d, ignore_errors=True)
        sys.exit(0)
    st = dm = None
    t0 = time.time()
    try:
        st = Stack(d)
        dm = Daemons(d, batch_size=20, commit_interval="0s")
        st.sh("stack_clamd_start")
        T.check(dm.milter_start(), "milter started")
        st.sh("stack_postfix_start")
        pids = dm.milter_pids()
        sent = {}
        first = fill(st, dm, rnd, sent)
        check_full(dm, sent, first, pids)
        print("spool tmpfs: %d KB used of 2048" % spool_used_kb(spool))
        recover(st, dm, rnd, sent)
        check_archive(dm, sent)
    except Exception as e:  # noqa: BLE001 - report, then clean up
        T.check(False, "exception: %r" % e)
    finally:
        if dm:
            dm.milter_stop()
            dm.indexd_stop(20)
        if st:
            st.down()
        if os.environ.get("KEEP"):
            shutil.copytree(spool, spool + ".copy", symlinks=True, dirs_exist_ok=True)
        unmounted = umount(spool)
        if os.environ.get("KEEP"):
            print("kept %s" % d)
        elif unmounted:
            shutil.rmtree(d, ignore_errors=True)
    print("diskfull: seed %d, %.0f s" % (seed, time.time() - t0))
    T.done()


if __name__ == "__main__":
    main()
