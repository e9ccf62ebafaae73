#!/usr/bin/env python3
"""test_crash.py - invariant 1 (nothing accepted is lost) under SIGKILL.

A private clamd and Postfix (tests/stack/stack.sh, discard delivery) with
mailsift-milter as smtpd_milters and mailsift-indexd draining the spool
into an archive. 2,000 messages (unique Message-ID <crash-N@test>, small
random body) are sent by 8 smtplib threads, one SMTP session each, never
retried; the final reply code of each is recorded. While they flow,
indexd is SIGKILLed 20 times at random moments (restarted right after
each kill) and the milter at least 3 times (supervisor and worker child
both, then restarted; meanwhile Postfix tempfails with 451 because
milter_default_action = tempfail). At the end (spool drained, indexd
stopped with SIGTERM): every message that got 250 is in the archive
exactly once, none other more than once, nothing in spool/bad, and
`mailsift verify` is clean. Prints the 250/451 counts and kill counts,
then "crash: N passed, N failed". Needs root. MAILSIFT_SEED fixes the
random choices; KEEP=1 keeps the temp directory.
"""
import collections
import json
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("crash")
STACK_SH = os.path.join(mstest.ROOT, "tests", "stack", "stack.sh")
MILTER = os.path.join(mstest.BUILD, "mailsift-milter")
INDEXD = os.path.join(mstest.BUILD, "mailsift-indexd")
N_MSGS = int(os.environ.get("CRASH_MSGS", "2000"))
N_THREADS = 8
N_INDEXD_KILLS = 20
N_MILTER_KILLS = 4
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo "
         "lima mike november oscar papa quebec romeo sierra tango").split()


def wait_for(cond, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def children(pid):
    p = subprocess.run(["pgrep", "-P", str(pid)], stdout=subprocess.PIPE, text=True)
    return [int(x) for x in p.stdout.split()]


def unix_accepts(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Stack:
    """stack.sh driven through bash -c, with STACK_* in the environment."""

    def __init__(self, d):
        self.env = dict(os.environ, STACK_DIR=d, STACK_DELIVERY="discard",
                        STACK_RCPT_CHECK="no", STACK_DOVECOT="no",
                        STACK_SMTPD_MILTERS="unix:%s/milter.sock" % d,
                        STACK_POSTFIX_EXTRA="default_process_limit = 100\n"
                        "smtpd_client_connection_count_limit = 0\n"
                        "smtpd_client_message_rate_limit = 0")
        out = self.sh("stack_random_ports && echo $STACK_SMTP_PORT $STACK_LMTP_PORT "
                      "$STACK_IMAP_PORT $STACK_POP3_PORT", capture=True).split()
        for k, v in zip(("SMTP", "LMTP", "IMAP", "POP3"), out):
            self.env["STACK_%s_PORT" % k] = v
        self.smtp_port = int(out[0])

    def sh(self, cmd, capture=False):
        p = subprocess.run(["bash", "-c", ". '%s'; %s" % (STACK_SH, cmd)], env=self.env,
                           stdout=subprocess.PIPE if capture else None, text=True)
        if p.returncode != 0:
            raise RuntimeError("stack: %s failed (status %d)" % (cmd, p.returncode))
        return p.stdout if capture else ""

    def down(self):
        subprocess.run(["bash", "-c", ". '%s'; stack_down" % STACK_SH], env=self.env)


class Daemons:
    """The milter (supervisor + worker) and indexd, started with -f."""

    def __init__(self, d, batch_size=50, commit_interval="1s"):
        self.d = d
        self.conf = os.path.join(d, "plugin.conf")
        self.sock = os.path.join(d, "milter.sock")
        self.spool = os.path.join(d, "spool")
        self.milter = None
        self.indexd = None
        with open(self.conf, "w") as f:
            f.write("[milter]\nsocket = unix:%s\npidfile = %s/milter.pid\n"
                    "[scanner]\nclamd = unix:%s/clamd/clamd.sock\n"
                    "[spool]\ndir = %s\n[archive]\ndir = %s/archive\n"
                    "[indexd]\npidfile = %s/indexd.pid\nbatch_size = %d\n"
                    "commit_interval = %s\n" % (self.sock, d, d, self.spool, d, d,
                                                batch_size, commit_interval))

    def _spawn(self, path, name):
        log = open(os.path.join(self.d, name + ".out"), "ab")
        try:
            return subprocess.Popen([path, "-f", "-c", self.conf], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()

    def milter_start(self, timeout=30):
        self.milter = self._spawn(MILTER, "milter")
        ok = wait_for(lambda: self.milter.poll() is None and unix_accepts(self.sock), timeout)
        return ok and wait_for(lambda: children(self.milter.pid), 5)

    def milter_pids(self):
        if not self.milter:
            return []
        return [self.milter.pid] + children(self.milter.pid)

    def milter_kill9(self):
        """SIGKILLs the supervisor, then its worker(s); waits until gone."""
        pids = self.milter_pids()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.milter.wait()
        ok = wait_for(lambda: not any(alive(p) for p in pids[1:]), 10)
        self.milter = None
        return len(pids) >= 2 and ok

    def milter_stop(self):
        if not self.milter:
            return
        pids = self.milter_pids()
        self.milter.send_signal(signal.SIGTERM)
        try:
            self.milter.wait(20)
        except subprocess.TimeoutExpired:
            pass
        for p in pids:
            if alive(p):
                os.kill(p, signal.SIGKILL)
        self.milter.wait()
        self.milter = None

    def indexd_start(self):
        self.indexd = self._spawn(INDEXD, "indexd")

    def indexd_kill9(self):
        self.indexd.kill()
        self.indexd.wait()

    def indexd_stop(self, timeout=60):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if not self.indexd:
            return None
        self.indexd.send_signal(signal.SIGTERM)
        try:
            rc = self.indexd.wait(timeout)
        except subprocess.TimeoutExpired:
            self.indexd.kill()
            self.indexd.wait()
            rc = None
        self.indexd = None
        return rc

    def pending(self):
        """The spool entries waiting to be archived (segments and new/)."""
        return [e["name"] for e in mstest.spool_entries(self.spool)]

    def files(self, sub):
        try:
            return [f for f in os.listdir(os.path.join(self.spool, sub)) if not f.startswith(".")]
        except FileNotFoundError:
            return []

    def mailsift(self, *args):
        return subprocess.run([mstest.MAILSIFT, "-c", self.conf] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def make_msg(i, rnd):
    words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(20, 300)))
    lines = [words[k:k + 72] for k in range(0, len(words), 72)]
    return ("From: Sender %d <sender@example.net>\r\nTo: bob@example.org\r\n"
            "Subject: crash test %d\r\nMessage-ID: <crash-%d@test>\r\n"
            "Date: %s\r\n\r\ntoken%dx\r\n%s\r\n"
            % (i, i, i, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
               i, "\r\n".join(lines))).encode()


def send_one(port, msg):
    """One SMTP session; returns (code, text) of the outcome (0: no reply)."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.ehlo("crash.test")
            code, resp = s.mail("sender@example.net")
            if code != 250:
                return code, resp.decode(errors="replace")
            code, resp = s.rcpt("bob@example.org")
            if code not in (250, 251):
                return code, resp.decode(errors="replace")
            code, resp = s.data(msg)
            return code, resp.decode(errors="replace")
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, str(e.smtp_error)
    except (OSError, smtplib.SMTPException) as e:
        return 0, repr(e)


class Senders:
    def __init__(self, port, seed):
        self.port = port
        self.seed = seed
        self.result = {}
        self.next = 0
        self.done = 0
        self.accepted = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(N_THREADS)]

    def run(self, k):
        rnd = random.Random(self.seed * 100 + k)
        while True:
            with self.lock:
                i = self.next
                self.next += 1
            if i >= N_MSGS:
                return
            res = send_one(self.port, make_msg(i, rnd))
            with self.lock:
                self.result["<crash-%d@test>" % i] = res
                self.done += 1
                self.accepted += res[0] == 250
            if res[0] != 250:  # a client backs off; the message is not retried
                time.sleep(rnd.uniform(0.1, 0.3))

    def start(self):
        for t in self.threads:
            t.start()

    def running(self):
        return any(t.is_alive() for t in self.threads)

    def join(self):
        for t in self.threads:
            t.join()


def chaos(dm, snd, rnd, kills):
    """Kills indexd and the milter at random points of the flow (counted in
    accepted messages, so that a milter outage does not use up the plan)."""
    ix_at = sorted(rnd.sample(range(30, N_MSGS * 3 // 4), N_INDEXD_KILLS))
    mi_at = sorted(rnd.sample(range(N_MSGS // 20, N_MSGS * 3 // 4, N_MSGS // 20), N_MILTER_KILLS))
    while snd.running():
        time.sleep(0.01)
        if ix_at and snd.accepted >= ix_at[0]:
            ix_at.pop(0)
            time.sleep(rnd.uniform(0, 0.2))
            dm.indexd_kill9()
            kills["indexd"] += 1
            dm.indexd_start()
        if mi_at and snd.accepted >= mi_at[0]:
            mi_at.pop(0)
            if not T.check(dm.milter_kill9(), "milter supervisor and worker SIGKILLed"):
                print("milter pids were %s" % dm.milter_pids())
            kills["milter"] += 1
            time.sleep(rnd.uniform(0.3, 1.0))
            T.check(dm.milter_start(), "milter restarted after kill %d" % kills["milter"])
    # the flow may end before every planned kill: do the rest now
    for _ in ix_at:
        time.sleep(rnd.uniform(0.05, 0.5))
        dm.indexd_kill9()
        kills["indexd"] += 1
        dm.indexd_start()


def archive_counts(dm):
    p = dm.mailsift("search", "--json", "*")
    T.check(p.returncode == 0, "search --json '*' (%s)" % p.stderr.decode(errors="replace"))
    c = collections.Counter()
    for line in p.stdout.decode().splitlines():
        if line.strip():
            mid = json.loads(line).get("message_id") or ""
            c[mid if mid.startswith("<") else "<%s>" % mid] += 1
    return c


def check_archive(dm, snd, kills):
    ok = [m for m, (code, _) in snd.result.items() if code == 250]
    codes = collections.Counter(code for code, _ in snd.result.values())
    print("sent %d: %d got 250, %d got 451, others %s; indexd killed %d times, milter %d times"
          % (len(snd.result), codes[250], codes[451],
             {k: v for k, v in codes.items() if k not in (250, 451)} or "none",
             kills["indexd"], kills["milter"]), flush=True)
    T.check(len(snd.result) == N_MSGS, "every message attempted")
    T.check(kills["indexd"] >= N_INDEXD_KILLS, "indexd killed %d times" % kills["indexd"])
    T.check(kills["milter"] >= 3, "milter killed %d times" % kills["milter"])
    T.check(codes[451] > 0, "some messages tempfailed while the milter was down")
    T.check(codes[250] > N_MSGS // 2, "most messages accepted (%d)" % codes[250])
    other = [(m, r) for m, r in snd.result.items() if r[0] not in (250, 451)]
    T.check(not other, "only 250 or 451 replies: %s" % other[:5])
    c = archive_counts(dm)
    missing = [m for m in ok if c[m] == 0]
    dup_ok = [m for m in ok if c[m] > 1]
    dup_fail = [m for m in snd.result if c[m] > 1 and m not in ok]
    strays = [m for m in c if m not in snd.result]
    T.check(not missing, "%d accepted messages missing from the archive: %s"
            % (len(missing), missing[:10]))
    T.check(not dup_ok, "accepted messages archived twice: %s" % dup_ok[:10])
    T.check(not dup_fail, "failed messages archived twice: %s" % dup_fail[:10])
    T.check(not strays, "documents that were never sent: %s" % strays[:10])
    extra = sum(1 for m in snd.result if c[m] == 1 and m not in ok)
    print("archive: %d documents; %d of them for messages whose SMTP attempt failed"
          % (sum(c.values()), extra))


def finish(dm):
    T.check(wait_for(lambda: not dm.pending(), 120, 0.2),
            "spool drained (left: %d)" % len(dm.pending()))
    time.sleep(0.5)
    rc = dm.indexd_stop()
    T.check(rc == 0, "indexd stopped by SIGTERM with status 0 (got %s)" % rc)
    bad = dm.files("bad")
    T.check(not bad, "nothing in spool/bad: %s" % bad[:5])
    tmp = dm.files("tmp")
    if tmp:
        print("note: %d stale files in spool/tmp (left by killed milter workers)" % len(tmp))


def main():
    seed = int(os.environ.get("MAILSIFT_SEED", str(random.randrange(1 << 30))))
    print("crash: seed %d (MAILSIFT_SEED)" % seed, flush=True)
    rnd = random.Random(seed)
    d = tempfile.mkdtemp(prefix="mailsift-crash.")
    os.chmod(d, 0o755)
    st = dm = None
    t0 = time.time()
    try:
        st = Stack(d)
        dm = Daemons(d)
        st.sh("stack_clamd_start")
        T.check(dm.milter_start(), "milter started")
        dm.indexd_start()
        st.sh("stack_postfix_start")
        snd = Senders(st.smtp_port, seed)
        kills = collections.Counter()
        snd.start()
        chaos(dm, snd, rnd, kills)
        snd.join()
        print("flow done in %.1f s" % (time.time() - t0), flush=True)
        finish(dm)
        check_archive(dm, snd, kills)
        p = dm.mailsift("verify")
        T.check(p.returncode == 0, "verify exits 0: %s %s" % (
            p.stdout.decode(errors="replace")[-2000:], p.stderr.decode(errors="replace")[-500:]))
        print(p.stdout.decode(errors="replace").strip().splitlines()[-1:])
    except Exception as e:  # noqa: BLE001 - report, then clean up
        T.check(False, "exception: %r" % e)
    finally:
        mstest.stack_teardown(dm, st, d)
    print("crash: %.0f s" % (time.time() - t0))
    T.done()


if __name__ == "__main__":
    main()
