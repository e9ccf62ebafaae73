#!/usr/bin/env python3
"""bench_imap_reuse.py - IMAP indexing with and without archive reuse.

The corpus goes through the real pipeline on loopback: SMTP into a private
Postfix whose milter is mailsift-milter (clamd scan, X-Mailsift-Id added,
spooled), mailsift-indexd archives it with its envelope, Postfix delivers
it by LMTP into alice's maildir in a private Dovecot that loads our FTS
backend (fts_autoindex off, so delivery indexes nothing). Once every
message is delivered and archived, alice's index is built with
`doveadm index` twice, timed: with [imap] archive_reuse = no (every message
read and decoded by the backend) and with archive_reuse = yes (messages
whose archived words can stand for their bodies take them from the
archive). A third, untimed run with mail_debug counts the reuse decisions.
The same query set then runs against both indexes: the answers must not
differ. Prints the two times, their ratio (target >= 2x) and the counts.
Needs root and a built tree (make). Environment: MSGS [all], SESSIONS [8],
QUERIES [200], KEEP=1 (keep the temp dir, servers stopped).

Functions: main, send_all, wait_archived, doveadm_index, run_queries.
"""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "imap"))
os.environ.setdefault("MSIMAP_MESSAGES", str(10**9 if os.environ.get("MSGS", "all") == "all"
                                             else int(os.environ["MSGS"])))
os.environ.setdefault("MSIMAP_QUERIES", os.environ.get("QUERIES", "200"))
import test_equivalence as eq  # noqa: E402

mstest = eq.mstest
SESSIONS = int(os.environ.get("SESSIONS", "8"))


def send_all(port, msgs):
    """Sends msgs to alice over SESSIONS SMTP sessions; returns the number
    of 250 replies."""
    ok = [0] * SESSIONS

    def worker(k):
        s = smtplib.SMTP("127.0.0.1", port, timeout=120)
        for raw in msgs[k::SESSIONS]:
            try:
                s.sendmail("bench@example.net", ["alice@example.org"], raw)
                ok[k] += 1
            except smtplib.SMTPResponseException:
                s.rset()
        s.quit()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(SESSIONS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(ok)


def wait_archived(sdir, maildir, want, timeout=300):
    """Waits until want messages are in the maildir and the spool is
    empty; returns the delivered count."""
    end = time.time() + timeout
    n = 0
    while time.time() < end:
        n = sum(len(os.listdir(os.path.join(maildir, d))) for d in ("new", "cur")
                if os.path.isdir(os.path.join(maildir, d)))
        spool = os.path.join(sdir, "spool", "new")
        if n >= want and os.path.isdir(spool) and not os.listdir(spool):
            time.sleep(3)  # indexd's last commit
            return n
        time.sleep(1)
    return n


def doveadm_index(conf, index_dir, reuse, debug=False):
    """Builds alice's INBOX index from scratch; returns (seconds, output)."""
    shutil.rmtree(index_dir, ignore_errors=True)
    cmd = ["doveadm"] + (["-D"] if debug else []) + ["-c", conf]
    if not reuse:
        cmd += ["-o", "plugin/mailsift_config=" + conf.replace("dovecot/dovecot.conf", "plugin-noreuse.conf")]
    t0 = time.perf_counter()
    p = subprocess.run(cmd + ["index", "-u", "alice", "INBOX"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("doveadm index: %s" % p.stdout[-500:])
    return dt, p.stdout


def run_queries(port, qs):
    im = eq.imaplib.IMAP4("127.0.0.1", port)
    im.login("alice", "secret")
    im.select("INBOX", readonly=True)
    out = [eq.search(im, q) for q in qs]
    im.logout()
    return out


def write_confs(sdir):
    base = ("[milter]\nsocket = unix:{d}/milter.sock\npidfile = {d}/milter.pid\n"
            "[scanner]\nclamd = unix:{d}/clamd/clamd.sock\n[spool]\ndir = {d}/spool\n"
            "[archive]\ndir = {d}/archive\n[indexd]\npidfile = {d}/indexd.pid\n"
            "commit_interval = 1s\n[imap]\nuser_addresses = {d}/user_addresses\n").format(d=sdir)
    with open(os.path.join(sdir, "plugin.conf"), "w") as f:
        f.write(base + "archive_reuse = yes\n")
    with open(os.path.join(sdir, "plugin-noreuse.conf"), "w") as f:
        f.write(base + "archive_reuse = no\n")
    with open(os.path.join(sdir, "user_addresses"), "w") as f:
        f.write("alice: alice@example.org\n")
    for n in ("plugin.conf", "plugin-noreuse.conf", "user_addresses"):
        os.chmod(os.path.join(sdir, n), 0o644)


def setup(sdir):
    mods = os.path.join(sdir, "modules")
    os.makedirs(mods)
    os.chmod(mods, 0o755)
    os.symlink("/usr/lib/dovecot/modules/lib20_fts_plugin.so", os.path.join(mods, "lib20_fts_plugin.so"))
    shutil.copy(eq.PLUGIN, os.path.join(mods, "lib21_fts_mailsift_plugin.so"))
    write_confs(sdir)
    p = mstest.free_ports(4)
    return {"STACK_USERS": "alice", "STACK_SMTP_PORT": str(p[0]), "STACK_IMAP_PORT": str(p[1]),
            "STACK_POP3_PORT": str(p[2]), "STACK_LMTP_PORT": str(p[3]),
            "STACK_SMTPD_MILTERS": "unix:%s/milter.sock" % sdir,
            "STACK_DOVECOT_PLUGIN_DIR": mods, "STACK_DOVECOT_MAIL_PLUGINS": "fts fts_mailsift",
            "STACK_DOVECOT_PLUGIN_CONF": "  fts = mailsift\n  fts_autoindex = no\n"
                                         "  mailsift_config = %s/plugin.conf\n" % sdir,
            "STACK_MAILSIFT_CONF": os.path.join(sdir, "plugin.conf")}


def measure(sdir, env, msgs):
    t0 = time.time()
    accepted = send_all(int(env["STACK_SMTP_PORT"]), msgs)
    maildir = os.path.join(sdir, "mail", "alice")
    got = wait_archived(sdir, maildir, accepted)
    print("pipeline: %d sent, %d accepted, %d delivered and archived in %.0f s"
          % (len(msgs), accepted, got, time.time() - t0))
    subprocess.run(["chmod", "-R", "a+rX", os.path.join(sdir, "archive")], check=True)
    conf = os.path.join(sdir, "dovecot", "dovecot.conf")
    idx = os.path.join(sdir, "mail", "alice", "mailsift-fts")
    port = int(env["STACK_IMAP_PORT"])
    qs = eq.gen_queries(msgs)
    t_off, _ = doveadm_index(conf, idx, reuse=False)
    r_off = run_queries(port, qs)
    t_on, _ = doveadm_index(conf, idx, reuse=True)
    r_on = run_queries(port, qs)
    _, log = doveadm_index(conf, idx, reuse=True, debug=True)
    reused = len(re.findall(r"reused archive terms", log))
    why = {}
    for m in re.finditer(r"X-Mailsift-Id \S+ (.*?): indexed from the message", log):
        why[m.group(1)] = why.get(m.group(1), 0) + 1
    for m in re.finditer(r"not all text parts are text/plain", log):
        why["not all text parts text/plain"] = why.get("not all text parts text/plain", 0) + 1
    same = sum(1 for a, b in zip(r_off, r_on) if a == b and a is not None)
    print("doveadm index, reuse off: %.2f s (%.0f msg/s)" % (t_off, got / t_off))
    print("doveadm index, reuse on:  %.2f s (%.0f msg/s); archived text reused for %d of %d messages"
          % (t_on, got / t_on, reused, got))
    print("  indexed from the message instead: %s" % (", ".join("%s %d" % kv for kv in sorted(why.items())) or "none"))
    print("ratio: indexing with reuse %.2fx faster than without (target >= 2x)" % (t_off / t_on))
    print("answers with and without reuse: %d of %d queries the same" % (same, len(qs)))
    return same == len(qs)


def main():
    if os.geteuid() != 0 or not os.path.exists(eq.PLUGIN):
        print("bench-imap-reuse: needs root and %s (make)" % eq.PLUGIN, file=sys.stderr)
        sys.exit(1)
    sdir = tempfile.mkdtemp(prefix="msbench-reuse-", dir="/tmp")
    os.chmod(sdir, 0o755)
    env = setup(sdir)
    ok = False
    try:
        msgs = eq.load_corpus()
        mstest.stack(sdir, "stack_clamd_start && stack_dovecot_start && "
                     "stack_mailsift_start %s mailsift-milter mailsift-indexd && stack_postfix_start"
                     % mstest.BUILD, env)
        ok = measure(sdir, env, msgs)
    finally:
        try:
            mstest.stack(sdir, "stack_mailsift_stop; stack_down", env)
        except RuntimeError as e:
            print("warning: %s" % e, file=sys.stderr)
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(sdir, ignore_errors=True)
        else:
            print("kept %s" % sdir)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
