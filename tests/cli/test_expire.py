#!/usr/bin/env python3
"""test_expire.py - `mailsift expire` on an archive of ~2,000 real corpus
messages, against an independent computation in Python of which ids must
go: ids are the first 24 hex digits of each file's SHA-256 (minus the mbox
From line), dates come from email.utils, addresses from
email.utils.getaddresses, and the rules and holds used (from:@domain,
to:@domain, OR, date ranges) are evaluated in Python. Periods count back
from a fixed now (MAILSIFT_NOW = 2026-01-15 12:00 UTC) in months, which
splits the corpus's 2002 mail. Checked: the --dry-run set and its counts
per rule, for the default and per hold; --dry-run changes no byte of the
archive; the real run deletes exactly the dry run's set; what is left
(search), which shards are left (emptied ones dropped with their lock
files) and which stored files are left (by SHA-256) match the oracle;
verify is clean; a rerun deletes nothing. Stored messages shared by two
archived messages (the same bytes under two X-Mailsift-Ids, through
mailsift-indexd, which runs on, idle, while expire works and archives the
next message after it) stay while one of them is left. Then SIGKILL of expire at
10 random moments on copies of the archive, each followed by a rerun: the
same final set as an uninterrupted run, no held message gone, verify
clean, no journal left.

The sample leaves out the few files the oracle cannot judge the way the
archive does: a Date header not in RFC 5322 form (e.g. "2002/09/14",
"+0000" without sign) or group syntax (":;") in From/To.
"""
import calendar
import datetime
import email
import email.policy
import email.utils
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("expire")
NOW = 1768478400  # 2026-01-15 12:00:00 UTC
EVERY = 3	  # every third corpus file: ~2,000 messages
RULES = [  # (months or 0 = for ever, query, Python predicate on a message)
    (279, "from:@hotmail.com", lambda m: "hotmail.com" in m["from"]),
    (283, "to:@spamassassin.taint.org", lambda m: "spamassassin.taint.org" in m["to"]),
    (0, "from:@perl.org", lambda m: "perl.org" in m["from"]),
    (282, "from:@yahoo.com OR from:@aol.com", lambda m: m["from"] & {"yahoo.com", "aol.com"}),
]
DEFAULT = 281
HOLDS = [  # (name, query, predicate)
    ("h-slack", "from:@slack.net", lambda m: "slack.net" in m["from"]),
    ("h-july", "date:2002-07-20..2002-07-25",
     lambda m: m["date"] is not None and "2002-07-20" <= day(m["date"]) <= "2002-07-25"),
]
RELEASED = ("h-gone", "from:@canada.com")
RFC_DATE = re.compile(r"^\s*([A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d\d(:\d\d)?"
                      r"\s+([+-]\d{4}|UT|GMT|[ECMP][SD]T|[A-Z])(\s|\(|$)")


def day(t):
    return datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%d")


def months_back(n):
    """NOW minus n calendar months (NOW is the 15th: no month-end cases)."""
    t = datetime.datetime.utcfromtimestamp(NOW)
    k = t.year * 12 + t.month - 1 - n
    return calendar.timegm(t.replace(year=k // 12, month=k % 12 + 1).timetuple())


def domains(msg, header):
    addrs = email.utils.getaddresses([str(x) for x in msg.get_all(header, [])])
    return {a.rsplit("@", 1)[1].lower() for _, a in addrs if "@" in a}


def load(path):
    """One corpus file as the oracle sees it, or None if it cannot judge it."""
    raw = open(path, "rb").read()
    if raw.startswith(b"From "):
        raw = raw[raw.find(b"\n") + 1:]
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    d = msg.get("Date")
    heads = " ".join(str(x) for h in ("From", "To") for x in msg.get_all(h, []))
    if (d is not None and not RFC_DATE.match(str(d))) or ":;" in heads:
        return None
    tup = email.utils.parsedate_tz(str(d)) if d else None
    if d and not tup:
        return None
    t = calendar.timegm(tup[:9]) - (tup[9] or 0) if tup else None  # no zone: UTC
    if t is not None and not 31536000 <= t <= 4102444799:
        t = None  # no usable date: the archive's "undated"
    sha = hashlib.sha256(raw).hexdigest()
    return {"id": sha[:24], "sha": sha, "date": t, "path": path,
            "from": domains(msg, "From"), "to": domains(msg, "To")}


def sample():
    files = []
    for top, _, names in os.walk(mstest.CORPUS):
        files += [os.path.join(top, f) for f in names if not f.startswith(".")]
    msgs = {}
    for f in sorted(files)[::EVERY]:
        m = load(f)
        if m:
            msgs.setdefault(m["id"], m)
    return msgs


def oracle(msgs):
    """ids that must go, per rule/default counts, per hold counts."""
    gone, by_rule, held, undated = set(), [0] * (len(RULES) + 1), {h[0]: 0 for h in HOLDS}, 0
    for m in msgs.values():
        if m["date"] is None:
            undated += 1
            continue
        best = None  # (cutoff, rule index); the longest period wins
        for i, (months, _, pred) in enumerate(RULES):
            if pred(m):
                cut = -2 ** 63 if months == 0 else months_back(months)
                if best is None or cut < best[0]:
                    best = (cut, i)
        cut, rule = best if best else (months_back(DEFAULT), len(RULES))
        if not m["date"] < cut:
            continue
        holders = [name for name, _, pred in HOLDS if pred(m)]
        for name in holders:
            held[name] += 1
        if not holders:
            gone.add(m["id"])
            by_rule[rule] += 1
    return gone, by_rule, held, undated


def conf_text(ar_dir):
    rules = "".join("rule = %s %s\n" % ("%dm" % mo if mo else "0", q) for mo, q, _ in RULES)
    return "[archive]\ndir = %s\n[retention]\ndefault = %dm\n%s" % (ar_dir, DEFAULT, rules)


def run(conf, *args):
    p = subprocess.run([mstest.MAILSIFT, "-c", conf] + list(args), capture_output=True)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def snapshot(ar_dir):
    """Every file of the archive (but the audit trail and lock files) with
    its SHA-256."""
    out = {}
    for top, _, names in os.walk(ar_dir):
        for n in names:
            p = os.path.join(top, n)
            rel = os.path.relpath(p, ar_dir)
            if not rel.startswith(("audit.log", "locks")) and not n.endswith(".lock"):
                out[rel] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def state(conf, ar_dir):
    """(ids left, stored digests, shards) of an archive."""
    rc, out, _ = run(conf, "search", "--json", "*")
    ids = {json.loads(l)["id"] for l in out.decode().splitlines()}
    store = {n for _, _, ns in os.walk(os.path.join(ar_dir, "store")) for n in ns if len(n) == 64}
    return ids, store, {period(n) for n in os.listdir(os.path.join(ar_dir, "shards"))}


def period(name):
    """A shard's period: "2002-08" of "HOST.2002-08" ([archive] host label)."""
    return name.split(".", 1)[1] if "." in name[1:] else name


def clean(conf):
    rc, out, _ = run(conf, "verify")
    return rc == 0 and b"(clean)" in out


def test_oracle(conf, ar_dir, msgs):
    gone, by_rule, held, undated = oracle(msgs)
    print("expire: %d messages, %d must go (per rule and default %r), held back %r, %d undated"
          % (len(msgs), len(gone), by_rule, held, undated))
    T.check(len(gone) > 300 and len(msgs) - len(gone) > 300 and all(held.values()),
            "the rules split the sample: %d of %d go, held %r" % (len(gone), len(msgs), held))
    before = snapshot(ar_dir)
    rc, out, err = run(conf, "expire", "--dry-run", "--json")
    T.check(rc == 0, "dry run: %r" % err)
    dry = json.loads(out.decode().splitlines()[-1])
    T.check(set(dry["ids"]) == gone, "dry-run ids = the oracle's: %d extra, %d missing"
            % (len(set(dry["ids"]) - gone), len(gone - set(dry["ids"]))))
    T.check([r["expired"] for r in dry["rules"]] + [dry["default"]["expired"]] == by_rule,
            "per rule: %r, want %r" % ([r["expired"] for r in dry["rules"]], by_rule))
    T.check({h["name"]: h["held"] for h in dry["holds"]} == held, "per hold: %r" % dry["holds"])
    T.check(dry["examined"] == len(msgs) and dry["undated"] == undated and dry["dry_run"],
            "examined %d undated %d" % (dry["examined"], dry["undated"]))
    T.check(snapshot(ar_dir) == before, "--dry-run changed nothing")
    rc, out, _ = run(conf, "expire", "--dry-run")
    text = out.decode()
    T.check("rule 1 (279m from:@hotmail.com): %d expired" % by_rule[0] in text
            and "default (281m): %d expired" % by_rule[-1] in text
            and "hold h-slack: %d expired messages held back" % held["h-slack"] in text
            and "would delete %d messages" % len(gone) in text, "dry-run text: %r" % text)
    rc, out, err = run(conf, "expire", "--json")
    res = json.loads(out.decode().splitlines()[-1]) if rc == 0 else {}
    T.check(rc == 0 and res.get("ids") == dry["ids"] and res.get("deleted") == len(gone),
            "the run deletes the dry run's set: %r" % err)
    left = {i: m for i, m in msgs.items() if i not in gone}
    ids, store, shards = state(conf, ar_dir)
    T.check(ids == set(left), "what is left: %d extra, %d missing" % (len(ids - set(left)),
                                                                      len(set(left) - ids)))
    T.check(store == {m["sha"] for m in left.values()}, "stored files left = the messages left")
    want = {"undated" if m["date"] is None else day(m["date"])[:7] for m in left.values()}
    locks = {period(n[:-5]) for n in os.listdir(os.path.join(ar_dir, "locks"))
             if n.endswith(".lock") and not n.startswith(".")}
    T.check(shards == want and locks <= want and res.get("shards_dropped", 0) > 0,
            "emptied shards dropped: extra %r, missing %r, locks %r"
            % (shards - want, want - shards, locks - want))
    T.check(not os.path.exists(os.path.join(ar_dir, "expire.journal")), "no journal left")
    T.check(clean(conf), "verify clean after expire")
    rc, out, _ = run(conf, "expire", "--json")
    T.check(rc == 0 and json.loads(out.decode().splitlines()[-1])["ids"] == [], "rerun: nothing")


def wait_count(conf, spool, n):
    """Waits (up to 30 s) until spool/new is empty and the archive has n."""
    for _ in range(300):
        if not os.listdir(os.path.join(spool, "new")) and \
                run(conf, "count", "*")[1] == b"%d\n" % n:
            return True
        time.sleep(0.1)
    return False


def test_shared_store(tmp):
    """The same bytes under two ids: the stored file stays while one is left."""
    spool, ar_dir = os.path.join(tmp, "spool"), os.path.join(tmp, "shared")
    for d in ("tmp", "new", "bad"):
        os.makedirs(os.path.join(spool, d))
    conf = os.path.join(tmp, "shared.conf")
    with open(conf, "w") as f:
        f.write("[spool]\ndir = %s\n[archive]\ndir = %s\n[indexd]\ncommit_interval = 0\n"
                "[retention]\ndefault = 1y\n" % (spool, ar_dir))
    m1 = b"From: a@example.org\nTo: b@example.org\nSubject: twin\n\nsame bytes\n"
    m2 = b"From: a@example.org\nTo: b@example.org\nSubject: pair\n\nother bytes\n"
    old, new = calendar.timegm((2002, 6, 1, 0, 0, 0)), NOW - 86400 * 20
    for eid, msg, t in (("dupold", m1, old), ("dupnew", m1, new),
                        ("pair1", m2, old), ("pair2", m2, old + 86400)):
        mstest.spool_entry(spool, eid, msg, [
            ("id", eid), ("sender", "a@example.org"), ("rcpt", "b@example.org"),
            ("qid", "Q" + eid), ("verdict", "clean"), ("time", str(t)),
            ("size", str(len(msg))), ("sha256", hashlib.sha256(msg).hexdigest())])
    p = subprocess.Popen([os.path.join(mstest.BUILD, "mailsift-indexd"), "-c", conf, "-f"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    T.check(wait_count(conf, spool, 4), "indexd archived the four entries")
    s1, s2 = hashlib.sha256(m1).hexdigest(), hashlib.sha256(m2).hexdigest()
    path = lambda s: os.path.join(ar_dir, "store", s[:2], s)
    T.check(os.path.exists(path(s1)) and os.path.exists(path(s2)), "one stored file per body")
    rc, out, err = run(conf, "expire", "--json")
    res = json.loads(out.decode().splitlines()[-1]) if rc == 0 else {}
    T.check(not os.path.exists(path(s2)), "a body no message names any more is removed")
    T.check(sorted(res.get("ids", [])) == ["dupold", "pair1", "pair2"]
            and res.get("store_removed") == 1 and res.get("store_kept") == 1, "expire: %r %r" % (res, err))
    # indexd ran (idle) all along; mail arriving now is archived as usual
    mstest.spool_entry(spool, "late", m2, [("id", "late"), ("time", str(NOW)),
                                          ("size", str(len(m2))),
                                          ("sha256", hashlib.sha256(m2).hexdigest())])
    T.check(wait_count(conf, spool, 2), "indexd goes on after expire")
    p.send_signal(signal.SIGTERM)
    p.wait(30)
    rc, out, _ = run(conf, "show", "dupnew")
    T.check(rc == 0 and out == m1 and os.path.exists(path(s1)), "the shared body stays for dupnew")
    T.check(run(conf, "show", "late")[1] == m2, "the late copy of the removed body is stored anew")
    T.check("2002-06" not in state(conf, ar_dir)[2], "its emptied shard dropped")
    T.check(clean(conf), "verify clean")


def copy_archive(src, tmp, name):
    dst = os.path.join(tmp, name)
    shutil.copytree(src, dst, symlinks=True)
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(conf_text(dst))
    return conf, dst


def kill_once(pristine, tmp, name, rng, took):
    """Starts expire on a fresh copy and SIGKILLs it after a random delay
    below took; when it was done before that, tries again on a new copy
    with a shorter bound (machine load changes how long a run takes).
    Returns (conf, dir, whether the kill hit a running expire)."""
    for attempt in range(8):
        conf, d = copy_archive(pristine, tmp, name)
        p = subprocess.Popen([mstest.MAILSIFT, "-c", conf, "expire"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        time.sleep(rng.uniform(0.0, took))
        running = p.poll() is None
        p.send_signal(signal.SIGKILL)
        if p.wait() == -signal.SIGKILL and running:
            return conf, d, True
        took = 0.8 * min(took, time.monotonic() - t0)
        if attempt < 7:
            shutil.rmtree(d)
    return conf, d, False


def test_sigkill(pristine, tmp, msgs):
    conf, ref_dir = copy_archive(pristine, tmp, "ref")
    t0 = time.monotonic()
    rc, _, err = run(conf, "expire")
    took = time.monotonic() - t0
    T.check(rc == 0, "uninterrupted run: %r" % err)
    ref = state(conf, ref_dir)
    held = set()
    for _, q, _ in HOLDS:
        held |= {json.loads(l)["id"] for l in run(conf, "search", "--json", q)[1].decode().splitlines()}
    rng = random.Random(int(os.environ.get("EXPIRE_KILL_SEED", "0")) or None)
    killed = journals = 0
    for k in range(10):
        conf, d, hit = kill_once(pristine, tmp, "kill%d" % k, rng, took)
        killed += hit
        journals += os.path.exists(os.path.join(d, "expire.journal"))
        rc, _, err = run(conf, "expire")
        got = state(conf, d)
        T.check(rc == 0 and got == ref, "kill %d: rerun reaches the same final set (rc %d %r)"
                % (k, rc, err))
        T.check(held <= got[0], "kill %d: no held message gone" % k)
        T.check(clean(conf) and not os.path.exists(os.path.join(d, "expire.journal")),
                "kill %d: verify clean, journal finished" % k)
        shutil.rmtree(d)
    print("expire: uninterrupted run %.1f s; %d of 10 kills hit a running expire, %d left a "
          "journal to finish" % (took, killed, journals))
    T.check(killed == 10 and journals >= 3, "the kills landed mid-run")


def main():
    os.environ["MAILSIFT_NOW"] = str(NOW)
    msgs = sample()
    ar = mstest.Archive()
    try:
        ar_dir = os.path.join(ar.tmp, "archive")
        with open(ar.conf, "w") as f:
            f.write(conf_text(ar_dir))
        src = os.path.join(ar.tmp, "in")
        os.makedirs(src)
        for i, m in enumerate(msgs.values()):
            os.symlink(m["path"], os.path.join(src, "%05d" % i))
        rc, _, err = ar.run("import", src)
        T.check(rc == 0 and "%d new" % len(msgs) in err, "import: %r" % err)
        for name, q in [h[:2] for h in HOLDS] + [RELEASED]:
            T.check(ar.run("hold", "add", name, q)[0] == 0, "hold add %s" % name)
        T.check(ar.run("hold", "release", RELEASED[0], "--reason", "done")[0] == 0, "release")
        pristine = os.path.join(ar.tmp, "pristine")
        shutil.copytree(ar_dir, pristine, symlinks=True)
        test_oracle(ar.conf, ar_dir, msgs)
        test_shared_store(ar.tmp)
        test_sigkill(pristine, ar.tmp, msgs)
    finally:
        ar.cleanup()
    T.done()


main()
