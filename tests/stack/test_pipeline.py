#!/usr/bin/env python3
"""test_pipeline.py - the whole pipeline on loopback: 500 real corpus
messages and a few EICAR ones go through Postfix with mailsift-milter and a
real clamd; mailsift-indexd archives the spool. Every message that got 250
is in the archive exactly once (by its Message-ID), the EICAR ones are
searchable with verdict:infected, virus: and rcpt:, and the spool drains.
"""
import collections
import concurrent.futures
import email.parser
import email.policy
import json
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("pipeline")
STACK = os.path.join(mstest.ROOT, "tests", "stack", "stack.sh")
N_MESSAGES = 500
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
RCPTS = ["alice@example.org", "bob@example.org", "carol@example.org"]


def stack(cmd, env):
    return subprocess.run(["bash", "-c", '. "%s" && %s' % (STACK, cmd)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)


def ports(env):
    p = stack("stack_random_ports && echo $STACK_SMTP_PORT $STACK_LMTP_PORT", env)
    smtp, lmtp = p.stdout.decode().split()[-2:]
    env.update(STACK_SMTP_PORT=smtp, STACK_LMTP_PORT=lmtp)
    return int(smtp)


def corpus_sample():
    files = []
    for d, _, names in os.walk(mstest.CORPUS):
        files += [os.path.join(d, n) for n in names]
    files.sort()
    return files[::max(1, len(files) // N_MESSAGES)][:N_MESSAGES]


def message_id(raw):
    """The message's Message-ID when it is a well-formed one, else None
    (such messages are still counted, just not looked up one by one)."""
    hdr = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    m = re.fullmatch(r"\s*<([^\s<>]+@[^\s<>]+)>\s*", str(hdr.get("Message-ID") or ""))
    return m.group(1) if m else None


def strip_from(raw):
    return raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw


def send(port, rcpt, data):
    """Sends one message; returns the SMTP code of the final reply."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.sendmail("sender@example.net", [rcpt], data)
        return 250
    except smtplib.SMTPResponseException as e:
        return e.smtp_code
    except smtplib.SMTPRecipientsRefused as e:
        return list(e.recipients.values())[0][0]
    except (smtplib.SMTPException, OSError):
        return 0


def eicar_message(i):
    return ("From: mallory@example.net\r\nTo: %s\r\nSubject: invoice %d\r\n"
            "Message-ID: <eicar-%d@example.net>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
            "Content-Type: text/plain\r\n\r\nplease pay\r\n--B\r\n"
            "Content-Type: application/octet-stream; name=readme.txt\r\n\r\n%s\r\n--B--\r\n"
            % (RCPTS[i % 3], i, i, EICAR)).encode()


def wait_drained(spool, ms, timeout=120):
    """Waits until the spool is drained and the archive count is stable."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        left = mstest.spool_entries(spool)
        _, out, _ = ms.run("count", "*")
        if not left and out == last:
            return True
        last = out
        time.sleep(1.5)
    return False


def start(work, env):
    conf = os.path.join(work, "plugin.conf")
    with open(conf, "w") as f:
        f.write("[milter]\nsocket = unix:%s/milter.sock\npidfile = %s/milter.pid\n"
                "[scanner]\nclamd = unix:%s/stack/clamd/clamd.sock\n[spool]\ndir = %s/spool\n"
                "[archive]\ndir = %s/archive\n[indexd]\ncommit_interval = 1s\n"
                % (work, work, work, work, work))
    procs = []
    for name in ("mailsift-milter", "mailsift-indexd"):
        log = open(os.path.join(work, name + ".log"), "w")
        procs.append(subprocess.Popen([os.path.join(mstest.BUILD, name), "-f", "-c", conf],
                                      stdout=log, stderr=subprocess.STDOUT))
    for _ in range(100):
        if os.path.exists(os.path.join(work, "milter.sock")):
            break
        time.sleep(0.1)
    return conf, procs


def check_archive(ms, sent, eicars):
    rc, out, err = ms.run("search", "--json", "*")
    hits = [json.loads(l) for l in out.decode().splitlines()]
    per_mid = collections.Counter(h["message_id"] for h in hits)
    ids = collections.Counter(h["id"] for h in hits)
    T.check(rc == 0 and all(n == 1 for n in ids.values()), "archive ids unique: %r" % err)
    got250 = [m for m, code in sent if code == 250]
    T.check(len(got250) >= N_MESSAGES * 0.95, "only %d of %d corpus messages got 250" % (len(got250), len(sent)))
    missing = [m for m in got250 if m and per_mid[m] == 0]
    twice = [m for m in got250 if m and per_mid[m] > 1]
    T.check(not missing, "250'd messages missing from the archive: %r" % missing[:5])
    T.check(not twice, "250'd messages archived twice: %r" % twice[:5])
    T.check(len(hits) == len(got250) + len(eicars), "archive holds %d documents for %d accepted + %d kept"
            % (len(hits), len(got250), len(eicars)))
    n_infected = sum(1 for code in eicars if code == 550)
    T.check(n_infected == len(eicars), "EICAR replies: %r" % eicars)
    for query, want in (("verdict:infected", n_infected), ("virus:eicar", n_infected),
                        ("verdict:infected rcpt:carol@example.org", n_infected // 3),
                        ("verdict:clean", len(got250))):
        rc, out, _ = ms.run("count", query)
        T.check(rc == 0 and out.strip() == str(want).encode(), "count %s = %r, want %d" % (query, out, want))
    print("pipeline: %d corpus messages, %d got 250, %d archived; %d EICAR rejected and archived"
          % (len(sent), len(got250), len(hits) - n_infected, n_infected))


def main():
    work = tempfile.mkdtemp(prefix="mailsift-pipeline-")
    os.chmod(work, 0o755)
    env = dict(os.environ, STACK_DIR=os.path.join(work, "stack"), STACK_DELIVERY="discard",
               STACK_RCPT_CHECK="no", STACK_SMTPD_MILTERS="unix:%s/milter.sock" % work)
    os.makedirs(env["STACK_DIR"])
    os.chmod(env["STACK_DIR"], 0o755)
    port = ports(env)
    procs = []
    try:
        T.check(stack("stack_clamd_start", env).returncode == 0, "clamd start")
        conf, procs = start(work, env)
        p = stack("stack_postfix_start", env)
        if not T.check(p.returncode == 0, "postfix start: %s" % p.stdout.decode()[-300:]):
            return
        ms = mstest.Archive.__new__(mstest.Archive)
        ms.conf, ms.tmp = conf, work
        files = corpus_sample()
        raws = [strip_from(open(f, "rb").read()) for f in files]
        mids = [message_id(r) for r in raws]
        counts = collections.Counter(mids)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda r: send(port, RCPTS[0], r), raws))
            eicars = list(pool.map(lambda i: send(port, RCPTS[i % 3], eicar_message(i)), range(6)))
        sent = [(m if m and counts[m] == 1 else None, c) for m, c in zip(mids, codes)]
        T.check(wait_drained(os.path.join(work, "spool"), ms), "spool did not drain")
        check_archive(ms, sent, eicars)
        T.check(not os.listdir(os.path.join(work, "spool", "bad")), "entries in spool/bad")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                T.check(p.wait(timeout=30) == 0, "%s exit status" % p.args[0])
            except subprocess.TimeoutExpired:
                p.kill()
        stack("stack_down", env)
        shutil.rmtree(work, ignore_errors=True)
    T.done()


main()
