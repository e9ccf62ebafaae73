#!/usr/bin/env python3
"""test_concurrency.py - one user's two IMAP sessions at once: session 1
APPENDs 1,000 corpus messages to INBOX while session 2 keeps searching
(DESIGN.md invariants 4 and 6; the issue's concurrency test).

Two private Dovecots (tests/stack/stack.sh) share alice's maildir with
separate INDEX= directories: A loads fts + fts_mailsift with fts_autoindex
= yes (appends are indexed as they arrive), B has no FTS plugin and is the
oracle. Session 1 (a thread) APPENDs a deterministic corpus sample (mbox
"From " line stripped, CRLF) to A; session 2 (own connection to A) loops
NOOP, UID SEARCH ALL, UID SEARCH <query>, UID SEARCH ALL over ~20 rotating
queries (BODY/TEXT/SUBJECT/FROM substrings of the messages' words, one
letter, NOT, OR). Every response must be OK (no NO/BAD/BYE, no
exception). Each answer given during the APPENDs is checked afterwards
against the oracle's final answer for that query: nothing outside it or
outside the UIDs visible after the command, nothing of it missing among
the UIDs visible before the command. After the APPENDs sessions 1 and 2
and a fresh session 3 run the whole query set: each UID set must equal
B's. Misses allowed by invariant 4 (the words occur only inside HTML
markup, test_equivalence.markup_only) are counted and printed. Also:
Dovecot's log has no Error/Panic/Fatal/signal line, the plugin answered
lookups, and alice's INBOX index holds 1,000 documents (xapian-delve,
when installed) and covers UIDs 1..1000 (a NOT lookup logged by
mail_debug as "fts-mailsift: lookup: 1000 definite"). Prints how many
searches ran during the APPENDs. About 10-15 s. Needs root and
build/lib21_fts_mailsift_plugin.so (make).

Environment: MSIMAP_CONC_MESSAGES [1000], MSIMAP_SEED [1],
MSIMAP_KEEP=1 keeps the temp dir and leaves both Dovecots running.
Prints "N passed, N failed".
"""
import email
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mstest  # noqa: E402
import test_equivalence as eq  # noqa: E402
import test_lifecycle as life  # noqa: E402

NMSG = int(os.environ.get("MSIMAP_CONC_MESSAGES", "1000"))
NOWORD = "qzxqvjkwyy"  # in no message: NOT BODY of it is every indexed UID


def sample():
    """NMSG corpus messages, deterministic (test_equivalence's MSIMAP_SEED
    shuffle), CRLF line ends."""
    eq.NMSG = NMSG
    return [r.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for r in eq.load_corpus()]


WORD = re.compile(r"[A-Za-z0-9]{4,}")


def words_of(raw, field):
    """ASCII words of at least 4 characters of a message's field."""
    if field in ("BODY", "TEXT"):
        text = eq.visible_text(raw, False)
    else:
        text = " ".join(eq.decode_hdr(v) for v in email.message_from_bytes(raw).get_all(field, []))
    return WORD.findall(text)


def queries(msgs):
    """~20 queries: fixed ones (one letter, NOT, OR) and substrings of words
    of messages spread over the whole APPEND run."""
    rng = random.Random(7)
    qs = ['BODY "e"', 'TEXT "x"', 'SUBJECT "re"', 'NOT BODY "the"',
          'OR SUBJECT "free" BODY "money"', 'NOT BODY "%s"' % NOWORD]
    fields = ["BODY", "TEXT", "SUBJECT", "FROM"]
    k = 0
    while len(qs) < 20:
        field = fields[k % 4]
        words = words_of(msgs[rng.randrange(len(msgs))], field)
        if not words:
            continue
        w = rng.choice(words)
        a = rng.randrange(len(w) - 2)
        s = w[a:a + rng.randint(3, 7)]
        q = "%s %s" % (field, eq.quote(s))
        if k == 5:
            q = "NOT " + q
        elif k == 9:
            q = "OR %s FROM %s" % (q, eq.quote(rng.choice(words)[:4]))
        qs.append(q)
        k += 1
    return qs


def imap_ok(im):
    """No untagged NO, BAD or BYE seen on the connection since the last call."""
    bad = {k: im.untagged_responses.pop(k) for k in ("NO", "BAD", "BYE") if k in im.untagged_responses}
    return bad


def uid_all(im):
    r = eq.search(im, "ALL")
    return set(r) if r is not None else None


class Run:
    def __init__(self, t, dc, msgs, qs):
        self.t, self.dc, self.msgs, self.qs = t, dc, msgs, qs
        self.errors = []
        self.records = []  # (query, uids visible before, answer, uids visible after)
        self.uids = [None] * len(msgs)  # APPENDUID of message i
        self.done = threading.Event()

    def writer(self, im):
        try:
            for i, raw in enumerate(self.msgs):
                typ, data = im.append("INBOX", None, None, raw)
                m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
                if typ != "OK" or not m:
                    self.errors.append("APPEND %d: %s %s" % (i, typ, data))
                    continue
                self.uids[i] = int(m.group(1))
                bad = imap_ok(im)
                if bad:
                    self.errors.append("APPEND %d: untagged %s" % (i, bad))
        except Exception as e:  # noqa: BLE001
            self.errors.append("writer: %r" % e)
        finally:
            self.done.set()

    def reader(self, im):
        k = 0
        while not self.done.is_set():
            q = self.qs[k % len(self.qs)]
            k += 1
            try:
                typ, _ = im.noop()
                before = uid_all(im)
                got = eq.search(im, q)
                after = uid_all(im)
                bad = imap_ok(im)
            except Exception as e:  # noqa: BLE001
                self.errors.append("reader, SEARCH %s: %r" % (q, e))
                return
            if typ != "OK" or before is None or got is None or after is None or bad:
                self.errors.append("reader, SEARCH %s: NOOP %s, answers %s %s %s, untagged %s"
                                   % (q, typ, before is not None, got is not None, after is not None, bad))
                continue
            self.records.append((q, before, got, after))


def markup(msgs_by_uid, q, uids):
    """The UIDs of uids whose match lies only inside HTML markup."""
    if not q.startswith(("BODY ", "TEXT ")):
        return set()
    return {u for u in uids if u in msgs_by_uid and eq.markup_only(msgs_by_uid[u], q)}


def compare(t, what, qs, answers, oracle, msgs_by_uid):
    allowed = 0
    for q, got, want in zip(qs, answers, oracle):
        want = set(want or [])
        got_s = set(got or [])
        extra = sorted(got_s - want)
        missed = want - got_s
        ok_missed = markup(msgs_by_uid, q, missed)
        allowed += len(ok_missed)
        missed = sorted(missed - ok_missed)
        t.check(got is not None and not extra and not missed,
                "%s: SEARCH %s: %s UIDs, oracle %d (missed %s, extra %s)"
                % (what, q, len(got) if got is not None else "NO/BAD", len(want), missed[:10], extra[:10]))
    return allowed


def check_during(t, run, qs, oracle, msgs_by_uid):
    """Each answer given during the APPENDs against the oracle's final one."""
    final = dict(zip(qs, (set(o or []) for o in oracle)))
    wrong = []
    allowed = 0
    for q, before, got, after in run.records:
        got = set(got)
        extra = got - (final[q] & after)
        missed = (final[q] & before) - got
        ok_missed = markup(msgs_by_uid, q, missed)
        allowed += len(ok_missed)
        missed -= ok_missed
        if extra or missed:
            wrong.append("SEARCH %s with %d..%d UIDs visible: extra %s, missed %s"
                         % (q, len(before), len(after), sorted(extra)[:5], sorted(missed)[:5]))
    t.check(not wrong, "%d of %d answers during the APPENDs differ from the oracle: %s"
            % (len(wrong), len(run.records), wrong[:5]))
    return allowed


def log_lines(path, pat):
    return [ln for ln in open(path, errors="replace").read().splitlines() if re.search(pat, ln)]


def main():
    t = mstest.Test("imap-concurrency")
    if os.geteuid() != 0 or not os.path.exists(life.PLUGIN):
        print("needs root and %s (make)" % life.PLUGIN)
        sys.exit(1)
    t0 = time.time()
    base = tempfile.mkdtemp(prefix="msimap-conc-", dir="/tmp")
    os.chmod(base, 0o755)
    fa, fb = os.path.join(base, "fts"), os.path.join(base, "oracle")
    os.makedirs(fa)
    os.makedirs(fb)
    sessions, servers = [], []
    try:
        dc = life.Dovecot(t, fa)
        dc.env["STACK_DOVECOT_PLUGIN_CONF"] += "  fts_autoindex = yes\n"
        oracle = life.Dovecot(t, fb)
        for k in ("STACK_DOVECOT_PLUGIN_DIR", "STACK_DOVECOT_MAIL_PLUGINS", "STACK_DOVECOT_PLUGIN_CONF"):
            del oracle.env[k]
        servers = [oracle, dc]
        msgs = sample()
        qs = queries(msgs)
        dc.start()
        os.makedirs(oracle.dir)
        os.symlink(os.path.join(dc.dir, "mail"), os.path.join(oracle.dir, "mail"))
        oracle.start()
        s1, s2 = dc.login(), dc.login()
        sessions += [s1, s2]
        s1.select("INBOX")
        s2.select("INBOX")
        run = Run(t, dc, msgs, qs)
        th = threading.Thread(target=run.writer, args=(s1,))
        t1 = time.time()
        th.start()
        run.reader(s2)
        th.join()
        t_append = time.time() - t1
        t.check(not run.errors, "no NO/BAD/BYE/exception during the APPENDs (%d): %s"
                % (len(run.errors), run.errors[:5]))
        t.check(all(u is not None for u in run.uids), "every APPEND answered with its UID")
        n_during = len(run.records)
        sizes = [len(r[1]) for r in run.records]
        print("%d APPENDs in %.1f s; %d searches answered during them, with %s..%s messages visible"
              % (NMSG, t_append, n_during, min(sizes, default="-"), max(sizes, default="-")))
        t.check(n_during >= len(qs), "session 2 searched %d times during the APPENDs (want >= %d)"
                % (n_during, len(qs)))
        msgs_by_uid = {u: m for u, m in zip(run.uids, msgs) if u is not None}

        so = oracle.login()
        sessions.append(so)
        so.select("INBOX", readonly=True)
        t.check(eq.search(so, "ALL") == sorted(msgs_by_uid), "the oracle sees the %d appended UIDs" % NMSG)
        want = [eq.search(so, q) for q in qs]
        t.check(all(w is not None for w in want), "the oracle answered every query")
        allowed = check_during(t, run, qs, want, msgs_by_uid)

        s3 = dc.login()
        sessions.append(s3)
        s3.select("INBOX")
        for name, im in (("session 1", s1), ("session 2", s2), ("session 3", s3)):
            im.noop()
            t.check(eq.search(im, "ALL") == sorted(msgs_by_uid), "%s sees all %d messages" % (name, NMSG))
            allowed += compare(t, name, qs, [eq.search(im, q) for q in qs], want, msgs_by_uid)
            t.check(not imap_ok(im), "%s: no untagged NO/BAD/BYE" % name)
        print("matches only inside HTML markup (allowed by invariant 4): %d" % allowed)

        # the index: every UID indexed, one document each
        mark = len(open(dc.log, errors="replace").read())
        t.check(eq.search(s3, 'NOT BODY "%s"' % NOWORD) == sorted(msgs_by_uid), "NOT BODY %s -> all" % NOWORD)
        new = open(dc.log, errors="replace").read()[mark:]
        m = re.findall(r"fts-mailsift: lookup: (\d+) definite, (\d+) maybe", new)
        t.check(m and m[-1] == (str(NMSG), "0"),
                "the index covers UIDs 1..%d: NOT lookup logged %s" % (NMSG, m[-1:] or "nothing"))
        guid = dc.guid("INBOX")
        if shutil.which("xapian-delve") and t.check(guid is not None, "INBOX has a GUID"):
            n = life.doccount(dc.dbdir(guid))
            t.check(n == NMSG, "alice's INBOX index holds %s documents, want %d" % (n, NMSG))
        else:
            print("xapian-delve not installed: document count not checked")
        for im in sessions:
            im.logout()
        sessions = []
        bad = log_lines(dc.log, r"Error|Panic|Fatal|signal")
        t.check(not bad, "no Error/Panic/Fatal/signal in Dovecot's log (%d): %s" % (len(bad), bad[:5]))
        bad = log_lines(oracle.log, r"Error|Panic|Fatal|signal")
        t.check(not bad, "no Error/Panic/Fatal/signal in the oracle's log: %s" % bad[:5])
        t.check(log_lines(dc.log, r"fts-mailsift: lookup"), "the plugin answered lookups (mail_debug log)")
        t.check(log_lines(dc.log, r"^\S+ \S+ \S+ indexer-worker\(alice\)"),
                "fts_autoindex: indexer-worker indexed for alice")
    finally:
        for im in sessions:
            try:
                im.logout()
            except Exception:  # noqa: BLE001
                pass
        if os.environ.get("MSIMAP_KEEP") != "1":
            for d in servers:
                d.stop()
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("kept", base)
    print("imap-concurrency: %.0f s" % (time.time() - t0))
    t.done()


if __name__ == "__main__":
    main()
