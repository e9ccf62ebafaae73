#!/usr/bin/env python3
"""bench_imap.py - IMAP SEARCH benchmark: mailsift FTS vs fts-xapian vs no FTS.

Runs on two mailboxes, one after the other: corpus A (../shared/corpus/
spamassassin, 6,046 messages) and A plus ../shared/corpus/linaro-mm-sig
(10,046 messages of two kinds). For each, three private Dovecot instances
(tests/stack/stack.sh) share one maildir holding it, each with its own
INDEX= directory:
  mailsift   fts + fts_mailsift (build/lib21_fts_mailsift_plugin.so)
  xapian     fts + fts_xapian (Debian's dovecot-fts-xapian)
  nofts      no FTS plugin (Dovecot reads every message on a body SEARCH)
For each FTS instance `doveadm index` is timed and its index measured on
disk; then one query set generated from the corpus (the generator of
tests/imap/test_equivalence.py: BODY/TEXT/SUBJECT/FROM/TO substrings,
several words, non-ASCII, NOT, OR), topped up with keys of two and three
adjacent words drawn from each corpus until at least a third of all keys
have two or three words, runs on all three over imaplib, each SEARCH timed.
Prints a table (median / p95 / max latency, equivalence with no FTS) and
the ratios the targets (issue 13) are stated in. Missed targets do not
fail the run; only a setup failure exits non-zero. Needs root.

A query's latency is the median of REPEAT [3] runs in a row on the same
connection (no FTS: one run; only its answers and median are used).
Environment: MAILBOXES [A,A+linaro] which mailboxes, MSGS [all] messages
of corpus A loaded, QUERIES [200], NOFTS_QUERIES [all]
queries (an even sample of the set) run on the no-FTS instance,
NOFTS_TIMEOUT [20] seconds per no-FTS SEARCH, SEED [1], KEEP=1 keeps
the temp dir and leaves the servers running (for debugging),
DUMP=file writes every query's latency there,
INSTANCES [mailsift,xapian,nofts] which instances run (skipping xapian
is for development; the ratios then print nan).

Functions: main, mailboxes, run_mailbox, query_set, setup, start_all,
stop_all, index_timed, du, find_dirs, connect, timed_search,
timed_search_once, run_queries, pct, report, fair_medians.
"""
import imaplib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MSGS = os.environ.get("MSGS", "all")
NQ = int(os.environ.get("QUERIES", "200"))
NQ_NOFTS = int(os.environ.get("NOFTS_QUERIES", str(NQ)))
NOFTS_TIMEOUT = float(os.environ.get("NOFTS_TIMEOUT", "20"))
REPEAT = int(os.environ.get("REPEAT", "3"))
MAILBOXES = os.environ.get("MAILBOXES", "A,A+linaro").split(",")
# the equivalence test reads its sizes from the environment when imported
os.environ["MSIMAP_MESSAGES"] = str(10**9 if MSGS == "all" else int(MSGS))
os.environ["MSIMAP_QUERIES"] = str(NQ - NQ // 3)  # the rest: word sequences
os.environ["MSIMAP_SEED"] = os.environ.get("SEED", "1")
sys.path.insert(0, os.path.join(HERE, "..", "imap"))
import test_equivalence as eq  # noqa: E402

PLUGIN = os.path.join(eq.mstest.BUILD, "lib21_fts_mailsift_plugin.so")
XAPIAN = "/usr/lib/dovecot/modules/lib21_fts_xapian_plugin.so"
# INSTANCES=mailsift,nofts skips fts-xapian (~4 minutes of indexing) while
# developing; `make bench-imap` always runs all three
NAMES = tuple(os.environ.get("INSTANCES", "mailsift,xapian,nofts").split(","))


def setup(base, msgs):
    """Writes the maildir, module dir and the three instances' settings;
    returns {name: (dir, env)}."""
    mods = os.path.join(base, "modules")
    os.makedirs(mods)
    for so in ("lib20_fts_plugin.so", os.path.basename(XAPIAN)):
        os.symlink(os.path.join("/usr/lib/dovecot/modules", so), os.path.join(mods, so))
    shutil.copy(PLUGIN, os.path.join(mods, os.path.basename(PLUGIN)))
    conf = os.path.join(base, "plugin.conf")
    shutil.copy(os.path.join(eq.ROOT, "plugin.conf"), conf)
    os.chmod(conf, 0o644)
    os.chmod(mods, 0o755)
    plug = {
        "mailsift": ("fts fts_mailsift", "  fts = mailsift\n  mailsift_config = %s\n" % conf),
        "xapian": ("fts fts_xapian", "  fts = xapian\n  fts_xapian = partial=3 full=20 verbose=0\n"),
        "nofts": ("", ""),
    }
    inst = {}
    for name in NAMES:
        d = os.path.join(base, name)
        os.makedirs(d)
        p = eq.free_ports(3)
        env = {"STACK_USERS": "alice", "STACK_IMAP_PORT": str(p[0]), "STACK_POP3_PORT": str(p[1]),
               "STACK_LMTP_PORT": str(p[2]), "STACK_DOVECOT_INDEX": os.path.join(d, "index"),
               "STACK_DOVECOT_PLUGIN_DIR": mods, "STACK_DOVECOT_MAIL_PLUGINS": plug[name][0],
               "STACK_DOVECOT_PLUGIN_CONF": plug[name][1]}
        inst[name] = (d, env)
    real = os.path.join(base, NAMES[0], "mail")
    os.makedirs(real)
    eq.fill_maildir(os.path.join(real, "alice"), msgs)
    for name in NAMES[1:]:
        os.symlink(real, os.path.join(base, name, "mail"))
    # warm the page cache so that no instance pays for the first read
    subprocess.run("cat %s/alice/cur/* >/dev/null" % real, shell=True, check=True)
    return inst


def start_all(inst, started):
    for name in NAMES:
        d, env = inst[name]
        eq.stack(d, "stack_dovecot_start", env)
        started.append((d, env))


def stop_all(started):
    for d, env in started:
        try:
            eq.stack(d, "stack_dovecot_stop", env)
        except RuntimeError as e:
            print("warning: stopping %s: %s" % (d, e), file=sys.stderr)


def index_timed(d):
    """Runs doveadm index for alice's INBOX; returns the wall time."""
    conf = os.path.join(d, "dovecot", "dovecot.conf")
    t0 = time.perf_counter()
    p = subprocess.run(["doveadm", "-c", conf, "index", "-u", "alice", "INBOX"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t1 = time.perf_counter()
    if p.returncode != 0:
        raise RuntimeError("doveadm index (%s) failed: %s" % (d, p.stdout))
    return t1 - t0


def du(path):
    total = 0
    for top, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(top, f)).st_blocks * 512
            except OSError:
                pass
    return total


def find_dirs(root, name):
    return [os.path.join(t, n) for t, ds, _ in os.walk(root) for n in ds if n == name]


def connect(port, timeout=None):
    im = imaplib.IMAP4("127.0.0.1", port, timeout=timeout)
    im.login("alice", "secret")
    im.select("INBOX", readonly=True)
    return im


def timed_search(conn, q, repeat=REPEAT):
    """UID SEARCH q on conn[0], repeat times in a row (the machine is shared
    and noisy; every instance is measured alike); returns (median seconds,
    sorted UIDs or None). On a timeout the connection is replaced (conn[1]
    makes a new one) and the query is not repeated."""
    runs = []
    for _ in range(repeat):
        dt, r = timed_search_once(conn, q)
        runs.append(dt)
        if r == "timeout":
            break
    return sorted(runs)[len(runs) // 2], r


def timed_search_once(conn, q):
    t0 = time.perf_counter()
    try:
        r = eq.search(conn[0], q)
    except (socket.timeout, TimeoutError):
        dt = time.perf_counter() - t0
        try:
            conn[0].shutdown()
        except OSError:
            pass
        conn[0] = conn[1]()
        return dt, "timeout"
    return time.perf_counter() - t0, r


def run_queries(inst, qs):
    """Runs qs on the FTS instances and an even sample on nofts; returns
    {name: [(query index, seconds, result)]}."""
    port = {n: int(inst[n][1]["STACK_IMAP_PORT"]) for n in NAMES}
    tmo = {"mailsift": None, "xapian": None, "nofts": NOFTS_TIMEOUT}
    conns = {n: [None, (lambda n=n: connect(port[n], tmo[n]))] for n in NAMES}
    for n in NAMES:
        conns[n][0] = conns[n][1]()
        eq.search(conns[n][0], "ALL")
    step = max(1, len(qs) / max(1, NQ_NOFTS))
    sample = {int(i * step) for i in range(min(NQ_NOFTS, len(qs)))}
    out = {n: [] for n in NAMES}
    for i, q in enumerate(qs):
        for n in NAMES:
            if n == "nofts" and i not in sample:
                continue
            dt, r = timed_search(conns[n], q, 1 if n == "nofts" else REPEAT)
            out[n].append((i, dt, r))
    for n in NAMES:
        try:
            conns[n][0].logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    return out


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def ratio(a, b):
    return a / b if b else float("nan")


def show_diffs(n, qs, res, native, most):
    """Prints up to most queries where instance n differs from no FTS."""
    shown = 0
    for i, _, r in res[n]:
        if i in native and r != native[i] and shown < most:
            got = r if not isinstance(r, list) else len(r)
            print("  %s differs: SEARCH %s: %s vs no FTS %d" % (n, qs[i], got, len(native[i])))
            shown += 1


def report(nmsg, qs, idx, res, logs):
    native = {i: r for i, _, r in res["nofts"] if isinstance(r, list)}
    tmo = sum(1 for _, _, r in res["nofts"] if r == "timeout")
    sub = set(i for i, _, _ in res["nofts"])
    nq = len(qs)
    print("messages: %d, queries: %d (no FTS: %d of them, an even sample, %.0f s timeout each; %d timed out);"
          " latency of a query: median of %d runs in a row" % (nmsg, nq, len(sub), NOFTS_TIMEOUT, tmo, REPEAT))
    print()
    print("%-9s %9s %9s %10s %10s %10s %10s %10s %8s %8s %8s" % (
        "instance", "index s", "msg/s", "index MB", "median ms", "p95 ms", "max ms", "med(sub)", "same", "differ",
        "errors"))
    med, medsub, p95, mx = {}, {}, {}, {}
    for n in NAMES:
        lat = [dt for _, dt, _ in res[n]]
        lsub = [dt for i, dt, _ in res[n] if i in sub]
        med[n], medsub[n], p95[n], mx[n] = pct(lat, 50), pct(lsub, 50), pct(lat, 95), max(lat or [0])
        same = sum(1 for i, _, r in res[n] if i in native and r == native[i])
        diff = sum(1 for i, _, r in res[n] if i in native and r != native[i])
        errs = sum(1 for _, _, r in res[n] if r is None)
        it, isz = idx.get(n, (None, None))
        print("%-9s %9s %9s %10s %10.2f %10.2f %10.2f %10.2f %8s %8s %8d" % (
            n, "%.2f" % it if it else "-", "%.0f" % (nmsg / it) if it else "-",
            "%.2f" % (isz / 1e6) if isz is not None else "-",
            med[n] * 1e3, p95[n] * 1e3, mx[n] * 1e3, medsub[n] * 1e3,
            same if n != "nofts" else "-", diff if n != "nofts" else "-", errs))
    print("(med(sub): median over the queries also run without FTS; same/differ: UID sets vs no FTS on those %d;"
          " errors: SEARCH not OK)" % len(native))
    print("log errors (Error/Panic/Fatal lines in dovecot.log): %s" %
          ", ".join("%s %d" % (n, logs[n]) for n in NAMES))
    print()
    (tm, sm), (tx, sx) = idx["mailsift"], idx.get("xapian", (0, 0))
    print("ratio: indexing speed mailsift/fts-xapian %.2fx (target >= 40x on corpus A)" % ratio(tx, tm))
    print("ratio: index size mailsift/fts-xapian %.3fx (target <= 0.15x)" % ratio(sm, sx))
    print("ratio: median latency mailsift/fts-xapian %.2fx (target <= 1.00x, no worse)"
          % ratio(med["mailsift"], med.get("xapian", 0)))
    print("ratio: p95 latency mailsift/fts-xapian %.2fx (target <= 3x on the 10k mailbox)"
          % ratio(p95["mailsift"], p95.get("xapian", 0)))
    print("max latency mailsift %.1f ms (target < 300 ms on the 10k mailbox)" % (mx["mailsift"] * 1e3))
    print("ratio: median latency no-FTS/mailsift on the no-FTS sample %.1fx faster (target >= 50x)"
          % ratio(medsub["nofts"], medsub["mailsift"]))
    if "xapian" in NAMES:
        fair_medians(res, native)
    for n in [n for n in ("mailsift", "xapian") if n in NAMES]:
        same = sum(1 for i, _, r in res[n] if i in native and r == native[i])
        print("equivalence %s vs no FTS: %d same, %d different (of %d compared)"
              % (n, same, len(native) - same, len(native)))
        show_diffs(n, qs, res, native, 10 if n == "mailsift" else 3)


def fair_medians(res, native):
    """Latency medians over the queries fts-xapian answers right (the same
    UIDs as no FTS): its wrong answers are mostly empty, hence cheap."""
    right = {i for i, _, r in res["xapian"] if i in native and r == native[i]}
    med = {n: pct([dt for i, dt, _ in res[n] if i in right], 50) for n in ("mailsift", "xapian")}
    print("median latency over the %d queries fts-xapian answers right: mailsift %.2f ms, fts-xapian %.2f ms"
          " (%.2fx)" % (len(right), med["mailsift"] * 1e3, med["xapian"] * 1e3,
                        ratio(med["mailsift"], med["xapian"])))


def log_errors(d):
    try:
        log = open(os.path.join(d, "dovecot", "dovecot.log"), errors="replace").read()
    except OSError:
        return 0
    return sum(1 for ln in log.splitlines() if "Error" in ln or "Panic" in ln or "Fatal" in ln)


def words(s):
    return len(re.findall(r"\w+", s))


def query_set(msgs, corpora):
    """The generator's queries (an even sample), then keys of two and three
    adjacent words from each corpus until at least a third of all keys (the
    strings of every query's leaves) have two or three words."""
    qs = list(eq.gen_queries(msgs, corpora, phrases=0))
    g = eq._Gen(msgs)
    g.seen = set(qs)
    while True:
        keys = [lf[3] for q in qs for lf in eq.leaves(eq.parse_query(q))]
        multi = sum(1 for k in keys if 2 <= words(k) <= 3)
        if 3 * multi >= len(keys):
            break
        n = len(g.qs)
        eq.add_phrases(g, corpora, 1)
        if len(g.qs) == n:
            break  # nothing more to draw
        qs += g.qs[n:]
    print("query set: %d queries, %d keys, %d of them of two or three words (%.0f%%)"
          % (len(qs), len(keys), multi, 100.0 * multi / max(1, len(keys))))
    return qs


def mailboxes():
    """[(name, messages, corpora)] of MAILBOXES."""
    a = eq.load_corpus()
    out = []
    for name in MAILBOXES:
        if name == "A":
            out.append((name, a, [("A", 0, len(a))]))
        elif name == "A+linaro":
            b = eq.load_corpus2(n=10**9)
            out.append((name, a + b, [("A", 0, len(a)), ("linaro", len(a), len(a) + len(b))]))
    return out


def main():
    if os.geteuid() != 0 or not os.path.exists(PLUGIN) or not os.path.exists(XAPIAN):
        print("bench-imap: needs root, %s (make) and %s" % (PLUGIN, XAPIAN), file=sys.stderr)
        sys.exit(1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    for name, msgs, corpora in mailboxes():
        print("== mailbox %s: %d messages" % (name, len(msgs)))
        run_mailbox(msgs, corpora)
        print()


def run_mailbox(msgs, corpora):
    """Sets the instances up on msgs, indexes, queries, reports; stops them."""
    base = tempfile.mkdtemp(prefix="msbench-imap-", dir="/tmp")
    os.chmod(base, 0o755)
    started = []
    try:
        try:
            t0 = time.perf_counter()
            inst = setup(base, msgs)
            start_all(inst, started)
            idx = {}
            index_timed(inst["nofts"][0])  # mailbox index only, not timed
            for n in ("mailsift", "xapian"):
                if n in NAMES:
                    idx[n] = [index_timed(inst[n][0]), 0]
            idx["mailsift"][1] = du(os.path.join(inst["mailsift"][0], "index", "alice", "mailsift-fts"))
            xd = find_dirs(base, "xapian-indexes")
            if "xapian" in NAMES and not xd:
                raise RuntimeError("no xapian-indexes directory under %s" % base)
            if "xapian" in NAMES:
                idx["xapian"][1] = sum(du(x) for x in xd)
            print("index dirs: mailsift %s; fts-xapian %s" % (
                os.path.join(inst["mailsift"][0], "index", "alice", "mailsift-fts"), ", ".join(xd)))
            print("setup and indexing: %.1f s" % (time.perf_counter() - t0))
            qs = query_set(msgs, corpora)
        except Exception as e:  # a setup failure: the only non-zero exit
            print("bench-imap: setup failed: %s" % e, file=sys.stderr)
            sys.exit(1)
        t1 = time.perf_counter()
        res = run_queries(inst, qs)
        print("queries: %.1f s" % (time.perf_counter() - t1))
        logs = {n: log_errors(inst[n][0]) for n in NAMES}
        if os.environ.get("DUMP"):
            with open(os.environ["DUMP"], "w") as f:
                for n in NAMES:
                    for i, dt, r in res[n]:
                        f.write("%s\t%.2f\t%s\t%s\n" % (n, dt * 1e3, len(r) if isinstance(r, list) else r, qs[i]))
        report(len(msgs), qs, idx, res, logs)
    finally:
        if os.environ.get("KEEP") == "1":
            print("kept %s (servers still running)" % base)
        else:
            stop_all(started)
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
