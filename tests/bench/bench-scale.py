#!/usr/bin/env python3
"""bench-scale.py - search latency of one archive split over 1, 2 and 4
xapian-tcpsrv "hosts" on this machine, and the import rate that built it.

usage: MAILSIFT_BUILD=build tests/bench/bench-scale.py [N]   (N: 1,000,000)

Builds a synthetic archive of N messages from corpus A: each message is a
corpus message with a new Message-ID, a date spread uniformly over
2020-01-01..2024-12-31 (in time order within a host, as an MX host
archives them) and its body mixed with 40 words drawn from the
whole corpus (so it is not N/6046 copies of the same text), written as mbox
files and imported with `mailsift import` into 4 archives of N/4, PAR
imports at once (default: online CPUs; the rate printed is all N over the
wall time, and each import's own rate). The 4 archives' shards are then
served by 1, 2 or 4 xapian-tcpsrv (each over a stub database of its
shards, as mailsift serve does) and a search head with those remotes runs
a fixed set of queries (QUERIES, each REPEAT times, as whole `mailsift
search --limit 20` and `count` commands): p50 and p95 per split. Ports from
SCALE_PORT_BASE (41100). The work dir is kept when KEEP=1; REUSE=DIR (a
kept work dir) measures its archives again without building them.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

QUERIES = ["money", "subject:free", "body:viagra OR body:mortgage", "from:@yahoo.com",
           "date:2022-03", "date:2021-01..2021-06 subject:re", "\"click here\"",
           "unsubscribe NOT remove", "size:>20k", "linux AND kernel", "spam*",
           "subject:(meeting OR lunch)", "attachment:zip", "*", "razor date:2024"]
REPEAT = int(os.environ.get("REPEAT", "5"))
YEARS = (1577836800, 1735689599)  # 2020-01-01 .. 2024-12-31


def corpus():
    out = []
    for d, _, files in os.walk(mstest.CORPUS):
        for f in sorted(files):
            with open(os.path.join(d, f), "rb") as fh:
                raw = fh.read()
            if raw.startswith(b"From "):
                raw = raw[raw.find(b"\n") + 1:]
            out.append(raw)
    return out


def synth(msgs, words, i, t, rnd):
    raw = msgs[i % len(msgs)]
    sep = raw.find(b"\n\n")
    head, body = (raw, b"") if sep < 0 else (raw[:sep], raw[sep:])
    head = re.sub(rb"(?im)^(message-id|date):.*(\n[ \t].*)*\n?", b"", head + b"\n")
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t)).encode()
    mix = b" ".join(rnd.choice(words) for _ in range(40))
    return (b"From synth@example.com Mon Jan  1 00:00:00 2024\n" + head +
            b"Message-ID: <synth-%d@bench.example>\nDate: %s" % (i, date) +
            body.replace(b"\nFrom ", b"\n>From ") + b"\n" + mix + b"\n\n")


def build(work, n):
    """Writes each host's mbox files, then imports the 4 hosts, PAR at once
    (default: online CPUs, as separate MX hosts would); returns the archives,
    the import wall time and each import's own seconds."""
    msgs = corpus()
    words = sorted({w for m in msgs[:800] for w in re.findall(rb"[A-Za-z]{4,10}", m)})
    rnd = random.Random(1)
    per = n // 4
    hosts = []
    for h in range(4):
        d = os.path.join(work, "h%d" % h)
        os.makedirs(os.path.join(d, "in"))
        conf = os.path.join(d, "plugin.conf")
        with open(conf, "w") as f:
            f.write("[archive]\ndir = %s/archive\nhost = h%d\n" % (d, h))
        # an MX host archives its mail in time order: dates sorted per host
        dates = sorted(rnd.randint(*YEARS) for _ in range(per))
        for c in range(0, per, 20000):
            with open(os.path.join(d, "in", "%06d.mbox" % c), "wb") as f:
                for k in range(c, min(per, c + 20000)):
                    f.write(synth(msgs, words, h * per + k, dates[k], rnd))
        hosts.append((d, conf))
    par = int(os.environ.get("PAR", str(os.cpu_count() or 1)))
    running, own = [], []
    t0 = time.time()
    for d, conf in hosts:
        while len(running) >= par:
            own.append(finish(running.pop(0)))
        running.append((d, time.time(), subprocess.Popen(
            [mstest.MAILSIFT, "-c", conf, "import", os.path.join(d, "in")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    while running:
        own.append(finish(running.pop(0)))
    return [os.path.join(d, "archive") for d, _ in hosts], time.time() - t0, own, par


def finish(job):
    d, start, p = job
    err = p.communicate()[1]
    if p.returncode:
        sys.exit("import failed: %s" % err.decode()[-400:])
    shutil.rmtree(os.path.join(d, "in"))
    return time.time() - start


def shards(archive):
    s = os.path.join(archive, "shards")
    return [os.path.join(s, x) for x in sorted(os.listdir(s)) if not x.startswith(".")]


def run_split(work, archives, k, base):
    groups = [archives[i::k] for i in range(k)]
    procs, remotes = [], []
    for g, arcs in enumerate(groups):
        stub = os.path.join(work, "split%d-%d.stub" % (k, g))
        with open(stub, "w") as f:
            for a in arcs:
                f.writelines("auto %s\n" % s for s in shards(a))
        port = base + 2 * g
        if mstest.can_connect(port):
            stop(procs)
            sys.exit("bench-scale: port %d is in use (SCALE_PORT_BASE picks others)" % port)
        # its own session: xapian-tcpsrv's SIGTERM handler signals its group
        procs.append(subprocess.Popen(["xapian-tcpsrv", "--interface", "127.0.0.1",
                                       "--port", str(port), "--quiet", stub],
                                      start_new_session=True, stderr=subprocess.DEVNULL))
        mstest.wait_for(lambda: mstest.can_connect(port), 10)
        remotes.append("127.0.0.1:%d" % port)
    head = os.path.join(work, "head%d" % k)
    os.makedirs(os.path.join(head, "archive"), exist_ok=True)
    conf = os.path.join(head, "plugin.conf")
    with open(conf, "w") as f:
        f.write("[archive]\ndir = %s/archive\nremote = %s\n" % (head, " ".join(remotes)))
    try:
        return measure(conf)
    finally:
        stop(procs)


def stop(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def measure(conf):
    lat = []
    total = None
    for _ in range(REPEAT):
        for q in QUERIES:
            for cmd in (["search", "--limit", "20", q], ["count", q]):
                t0 = time.time()
                p = subprocess.run([mstest.MAILSIFT, "-c", conf] + cmd,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                lat.append(time.time() - t0)
                if p.returncode:
                    sys.exit("%s failed: %s" % (cmd, p.stderr.decode()[-300:]))
                if cmd[0] == "count" and q == "*":
                    total = int(p.stdout)
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.95)], total, len(lat)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    reuse = os.environ.get("REUSE")
    work = reuse or tempfile.mkdtemp(prefix="mailsift-bench-scale-")
    base = int(os.environ.get("SCALE_PORT_BASE", "41100"))
    try:
        if reuse:
            archives = [os.path.join(work, "h%d" % h, "archive") for h in range(4)]
            print("bench-scale: the archives of %s again (not imported now)" % work)
        else:
            archives, secs, own, par = build(work, n)
            print("bench-scale: %d messages imported into 4 archives, %d imports at once, "
                  "in %.0f s wall: %.0f msg/s in all; each import %s s (%.0f msg/s per "
                  "import)" % (n, par, secs, n / secs, "/".join("%.0f" % x for x in own),
                               (n // 4) / (sum(own) / len(own))))
        one = None
        for k in (1, 2, 4):
            p50, p95, total, runs = run_split(work, archives, k, base)
            one = one or (p50, p95)
            print("bench-scale: %d tcpsrv host(s): %d commands (search --limit 20 and "
                  "count, %d queries x %d): p50 %.0f ms, p95 %.0f ms (%.2fx, %.2fx one "
                  "host's); count * = %s"
                  % (k, runs, len(QUERIES), REPEAT, p50 * 1000, p95 * 1000,
                     p50 / one[0], p95 / one[1], total))
    finally:
        if os.environ.get("KEEP") == "1" or reuse:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


main()
