#!/usr/bin/env python3
"""valgrind_imap.py - the FTS backend's code paths under valgrind
(`make valgrind-imap`; not part of make check: it takes minutes).

A private Dovecot with the plugin (tests/imap/test_lifecycle.py's Dovecot)
gets MSIMAP_MESSAGES [150] corpus messages by IMAP APPEND; then doveadm runs
under valgrind (memcheck, full leak check) for each path of the plugin:
indexing, lookups of every kind (one run, several runs, more runs than
are looked up, whole values, one character, NOT, OR), expunge and re-index, rescan, optimize
(compaction). Each run must end with no memcheck error and no definite
leak (valgrind --error-exitcode). Prints "N passed, N failed".
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("MSIMAP_MESSAGES", "150")
import test_equivalence as eq  # noqa: E402
import test_lifecycle as life  # noqa: E402

VALGRIND = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--error-exitcode=9", "-q"]
RUNS = [
    ("index", ["index", "-u", "alice", "INBOX"]),
    ("BODY one run", ["search", "-u", "alice", "mailbox", "INBOX", "BODY", "the"]),
    ("TEXT several runs", ["search", "-u", "alice", "mailbox", "INBOX", "TEXT", "click here"]),
    # more runs than mailsift_key_runs, repeated ones; one that matches
    # nothing (looked up first, the rest skipped)
    ("TEXT many runs", ["search", "-u", "alice", "mailbox", "INBOX", "TEXT",
                        "the and you for the are this that with your have and not from"]),
    ("BODY many runs, one in no message", ["search", "-u", "alice", "mailbox", "INBOX", "BODY",
                                           "the and you for are zzqqxj this that with your have not"]),
    ("FROM whole value", ["search", "-u", "alice", "mailbox", "INBOX", "FROM", "<sp"]),
    ("SUBJECT one character", ["search", "-u", "alice", "mailbox", "INBOX", "SUBJECT", "e"]),
    ("NOT BODY", ["search", "-u", "alice", "mailbox", "INBOX", "NOT", "BODY", "money"]),
    ("OR", ["search", "-u", "alice", "mailbox", "INBOX", "(", "BODY", "free", "OR", "HEADER", "X-Mailer",
                 "a", ")"]),
    ("expunge", ["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "1:5"]),
    ("index again", ["index", "-u", "alice", "INBOX"]),
    ("rescan", ["fts", "rescan", "-u", "alice"]),
    ("optimize", ["fts", "optimize", "-u", "alice"]),
    ("search after optimize", ["search", "-u", "alice", "mailbox", "INBOX", "BODY", "ell"]),
]


def main():
    t = eq.mstest.Test("valgrind-imap")
    if os.geteuid() != 0 or not os.path.exists(eq.PLUGIN) or not shutil.which("valgrind"):
        print("needs root, valgrind and %s (make)" % eq.PLUGIN)
        sys.exit(1)
    base = tempfile.mkdtemp(prefix="msimap-vg-", dir="/tmp")
    os.chmod(base, 0o755)
    dc = life.Dovecot(t, base)
    try:
        dc.start()
        im = dc.login()
        for raw in eq.load_corpus():
            life.append(im, "INBOX", raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        im.logout()
        for what, args in RUNS:
            p = subprocess.run(VALGRIND + ["doveadm", "-c", dc.conf] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=900)
            report = [ln for ln in p.stdout.splitlines() if ln.startswith("==")]
            t.check(p.returncode == 0, "%s under valgrind: exit %d %s" % (what, p.returncode, report[:8] or p.stdout[-300:]))
    finally:
        dc.stop()
        shutil.rmtree(base, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
