#!/usr/bin/env python3
"""test_doctor.py - `mailsift doctor` on a private stack, healthy and broken.

The whole stack on loopback (tests/stack/stack.sh, random ports): clamd,
mailsift-milter, mailsift-indexd, Dovecot loading our FTS plugin (as
fts = mailsift, mailsift_config = the stack's plugin.conf) and Postfix
with smtpd_milters and non_smtpd_milters = the milter's socket. One
message goes through SMTP and is archived (the count writes an audit
line). Then:

- healthy (mailsift-web too): `mailsift doctor --postfix-config DIR --dovecot-config FILE
  --clamd-config FILE` prints only "ok" lines, one per check at least,
  the closing "0 failed, 0 warnings", and exits 0;
- broken: clamd stopped, the milter socket removed, smtpd_milters unset
  (postconf -e), indexd stopped, one byte of the audit log changed, the
  console's accounts file made world-readable (and the console stopped, a
  warning): doctor
  exits 1 and reports each as a FAIL line with its check's name followed
  by a hint line; the rest stays ok, but for a spool entry left waiting
  (--backlog 0: a backlog warning);
- a milter socket in a directory the user postfix cannot search, and a
  socket whose listener answers like a web server: FAIL milter each;
- smtpd chrooted in master.cf (Debian's default), where the socket's path
  is out of its reach: FAIL postfix, with the chroot in the hint;
- [milter] metrics answering Prometheus text, [indexd] metrics answering
  404 and [web] metrics refusing (stand-in servers): ok, warn, warn;
- doctor changes nothing (an empty spool stays empty, no archive appears);
- a plugin.conf that does not parse: one FAIL config line (file:line),
  exit 1; an unknown option or check name: exit 2.
MAILSIFT_KEEP=1 keeps the temporary directory.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("doctor")
PLUGIN = os.path.join(mstest.BUILD, "lib21_fts_mailsift_plugin.so")
CHECKS = ["config", "spool", "archive", "clamd", "signatures", "milter", "postfix",
          "indexd", "backlog", "dovecot", "web", "metrics", "remotes", "audit"]


class Stack:
    def __init__(self, work):
        self.dir = os.path.join(work, "stack")
        os.makedirs(self.dir)
        mods = os.path.join(work, "modules")
        os.makedirs(mods)
        os.symlink("/usr/lib/dovecot/modules/lib20_fts_plugin.so",
                   os.path.join(mods, "lib20_fts_plugin.so"))
        shutil.copy(PLUGIN, os.path.join(mods, "lib21_fts_mailsift_plugin.so"))
        self.conf = os.path.join(self.dir, "plugin.conf")
        self.sock = os.path.join(self.dir, "milter.sock")
        p = mstest.free_ports(8)
        self.smtp = p[0]
        self.web = "127.0.0.1:%d" % p[4]
        self.metrics = ["127.0.0.1:%d" % n for n in p[5:8]]  # for metrics_endpoints
        self.env = dict(STACK_SMTP_PORT=str(p[0]), STACK_LMTP_PORT=str(p[1]),
                        STACK_IMAP_PORT=str(p[2]), STACK_POP3_PORT=str(p[3]),
                        STACK_USERS="alice bob",
                        STACK_SMTPD_MILTERS="unix:" + self.sock,
                        STACK_POSTFIX_EXTRA="non_smtpd_milters = unix:" + self.sock,
                        STACK_DOVECOT_PLUGIN_DIR=mods,
                        STACK_DOVECOT_MAIL_PLUGINS="fts fts_mailsift",
                        STACK_DOVECOT_PLUGIN_CONF="  fts = mailsift\n  mailsift_config = %s\n"
                                                  % self.conf)
        self.pf = os.path.join(self.dir, "postfix", "etc")
        self.dc = os.path.join(self.dir, "dovecot", "dovecot.conf")
        self.clamd_conf = os.path.join(self.dir, "clamd", "clamd.conf")

    def sh(self, cmd):
        return mstest.stack(self.dir, cmd, self.env)

    def write_conf(self):
        """The stack's plugin.conf plus the console (its port, an accounts
        file with one officer)."""
        self.sh("stack_mailsift_conf 'commit_interval = 1s'")
        users = os.path.join(self.dir, "web.users")
        text = open(self.conf).read() + "[web]\nlisten = %s\nusers = %s\n" % (self.web, users)
        with open(self.conf, "w") as f:
            f.write(text)
        os.chmod(self.conf, 0o644)
        subprocess.run([os.path.join(mstest.BUILD, "mailsift-web"), "-c", self.conf, "user", "add",
                        "officer", "--role", "officer"], input=b"secret\n", check=True,
                       stdout=subprocess.DEVNULL)
        os.chmod(users, 0o640)

    def start(self):
        self.write_conf()
        self.sh("stack_clamd_start && stack_mailsift_start %s mailsift-milter mailsift-indexd "
                "mailsift-web && stack_dovecot_start && stack_postfix_start" % mstest.BUILD)
        T.check(mstest.wait_for(lambda: listening(self.web), 30), "the console listens")

    def stop_web(self):
        self.sh('stack_kill_pidfile "$STACK_DIR/mailsift-web.bg.pid" 20 mailsift-web')

    def stop(self):
        try:
            self.sh('stack_kill_pidfile "$STACK_DIR/mailsift-web.bg.pid" 20 mailsift-web; '
                    "stack_mailsift_stop; stack_down")
        except RuntimeError as e:
            print("warning: %s" % e)

    def mailsift(self, *args):
        p = subprocess.run([mstest.MAILSIFT, "-c", self.conf] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return p.returncode, p.stdout, p.stderr

    def doctor(self, *extra):
        return self.mailsift("doctor", "--postfix-config", self.pf, "--dovecot-config", self.dc,
                             "--clamd-config", self.clamd_conf, *extra)


def listening(addr):
    import socket
    host, port = addr.rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


def verdicts(out):
    """[(verdict, check, detail, hint or None)] from doctor's output."""
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(ok|warn|FAIL) +([a-z]+): (.*)$", line)
        if m:
            rows.append([m.group(1), m.group(2), m.group(3), None])
        elif line.startswith("      hint: ") and rows:
            rows[-1][3] = line[len("      hint: "):]
    return rows


def send_one(st):
    msg = os.path.join(st.dir, "hello.eml")
    with open(msg, "w") as f:
        f.write("From: bob@example.org\nTo: alice@example.org\nSubject: doctor hello\n"
                "Message-ID: <doctor-1@example.org>\n\nhello\n")
    out = st.sh('stack_send bob@example.org alice@example.org "%s"' % msg)
    T.check(out.startswith("250"), "message accepted: %r" % out)
    T.check(mstest.wait_for(lambda: st.mailsift("count", "id:doctor-1@example.org")[1].strip() == "1"),
            "message archived")


def healthy(st):
    rc, out, err = st.doctor()
    rows = verdicts(out)
    T.check(rc == 0, "healthy: exit 0, got %d: %s%s" % (rc, out, err))
    T.check(rows and all(r[0] == "ok" for r in rows), "healthy: every line ok:\n" + out)
    T.check(set(CHECKS) <= {r[1] for r in rows}, "healthy: every check reported:\n" + out)
    T.check(out.rstrip().endswith("0 failed, 0 warnings"), "healthy: closing line:\n" + out)
    T.check(any(r[1] == "milter" and "handshake (protocol 6" in r[2] for r in rows),
            "healthy: the milter answered OPTNEG:\n" + out)
    T.check(any(r[1] == "postfix" and r[2].startswith("smtpd_milters = unix:" + st.sock)
                for r in rows), "healthy: smtpd_milters named:\n" + out)
    T.check([r for r in rows if r[1] == "metrics" and r[2].startswith("none configured")],
            "healthy: no metrics configured:\n" + out)
    print(out, end="")


def break_it(st):
    st.sh("stack_clamd_stop")
    st.stop_web()
    os.chmod(os.path.join(st.dir, "web.users"), 0o644)
    os.unlink(st.sock)
    subprocess.run(["postconf", "-c", st.pf, "-e", "smtpd_milters ="], check=True)
    st.sh('stack_kill_pidfile "$STACK_DIR/indexd.pid" 20 mailsift-indexd; '
          'stack_kill_pidfile "$STACK_DIR/mailsift-indexd.bg.pid" 20 mailsift-indexd; '
          'echo 999999 > "$STACK_DIR/indexd.pid"')
    mstest.spool_entry(os.path.join(st.dir, "spool"), "doctorbacklog1",
                       b"From: a@example.org\r\nSubject: waiting\r\n\r\nhi\r\n",
                       [("id", "doctorbacklog1"), ("sender", "a@example.org")])
    log = os.path.join(st.dir, "archive", "audit.log")
    data = bytearray(open(log, "rb").read())
    data[data.index(b'"action":"') + 10] ^= 0x20  # count -> Count
    open(log, "wb").write(bytes(data))


def broken(st):
    rc, out, err = st.doctor("--backlog", "0")
    print(out, end="")
    rows = verdicts(out)
    T.check(rc == 1, "broken: exit 1, got %d (%s)" % (rc, err))
    want = {"clamd": "connect", "milter": "No such file", "postfix": "smtpd_milters = ''",
            "indexd": "not running", "audit": "DAMAGED", "web": "readable by every user"}
    for check, detail in want.items():
        hit = [r for r in rows if r[0] == "FAIL" and r[1] == check and detail in r[2]]
        T.check(hit, "broken: FAIL %s (%s):\n%s" % (check, detail, out))
        T.check(hit and hit[0][3], "broken: %s has a hint" % check)
    fails = {r[1] for r in rows if r[0] == "FAIL"}
    T.check(fails == set(want), "broken: only those fail: %s" % sorted(fails))
    T.check(any(r[1] == "dovecot" and r[0] == "ok" for r in rows), "broken: dovecot still ok")
    T.check([r for r in rows if r[:2] == ["warn", "backlog"] and r[2].startswith("1 spool entries")
             and r[3] and "mailsift-indexd" in r[3]], "broken: the waiting entry is a backlog warning")
    T.check(re.search(r"^6 failed, \d+ warnings$", out, re.M), "broken: closing line")
    T.check([r for r in rows if r[:2] == ["warn", "web"] and "does not answer" in r[2]],
            "broken: the stopped console is a warning")



def odd_milters(st, work):
    """A socket Postfix cannot reach, and one that is not a milter."""
    import socket
    import threading
    private = os.path.join(work, "private")
    os.makedirs(private, mode=0o700)
    cases = [(os.path.join(private, "m.sock"), "user postfix cannot search " + private),
             (os.path.join(work, "http.sock"), "not a milter")]
    for path, want in cases:
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        os.chmod(path, 0o777)
        srv.listen(1)

        def answer(srv=srv):
            c, _ = srv.accept()
            c.recv(100)
            c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            c.close()
        th = threading.Thread(target=answer, daemon=True)
        th.start()
        conf = os.path.join(work, "odd.conf")
        with open(conf, "w") as f:
            f.write(open(st.conf).read().replace("socket = unix:" + st.sock, "socket = unix:" + path))
        p = subprocess.run([mstest.MAILSIFT, "-c", conf, "doctor", "--timeout", "3", "--skip",
                            "spool,archive,clamd,signatures,postfix,indexd,backlog,dovecot,web,metrics,audit"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rows = [r for r in verdicts(p.stdout) if r[1] == "milter"]
        T.check(p.returncode == 1 and rows and rows[0][0] == "FAIL" and want in rows[0][2]
                and rows[0][3], "odd milter %s: %s" % (want, p.stdout))
        srv.close()


def chrooted(st, work):
    """smtpd chrooted (as in Debian's master.cf) cannot see the socket."""
    pf = os.path.join(work, "pf-chroot")
    shutil.copytree(st.pf, pf)
    subprocess.run(["postconf", "-c", pf, "-e", "smtpd_milters = unix:" + st.sock], check=True)
    subprocess.run(["postconf", "-c", pf, "-F", "127.0.0.1:%d/inet/chroot=y" % st.smtp], check=True)
    rc, out, err = st.mailsift("doctor", "--postfix-config", pf, "--skip",
                               "spool,archive,clamd,signatures,milter,indexd,backlog,dovecot,web,metrics,audit")
    rows = [r for r in verdicts(out) if r[1] == "postfix" and r[0] == "FAIL"]
    T.check(rc == 1 and rows and "smtpd's chroot" in rows[0][2] and "chroot column" in rows[0][3],
            "chrooted smtpd: %s%s" % (out, err))


def read_only(st, work):
    """doctor changes nothing: an empty spool stays empty, no archive or
    audit log appears."""
    spool, archive = os.path.join(work, "ro-spool"), os.path.join(work, "ro-archive")
    os.makedirs(spool)
    conf = os.path.join(work, "ro.conf")
    with open(conf, "w") as f:
        f.write("[spool]\ndir = %s\n[archive]\ndir = %s\n" % (spool, archive))
    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "doctor", "--skip",
                        "clamd,signatures,milter,postfix,indexd,dovecot,web"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rows = verdicts(p.stdout)
    T.check(p.returncode == 1 and ["FAIL", "archive"] in [r[:2] for r in rows]
            and ["warn", "backlog"] in [r[:2] for r in rows], "read-only run: %s" % p.stdout)
    T.check(os.listdir(spool) == [] and not os.path.exists(archive),
            "doctor made nothing: %s" % os.listdir(spool))


def metrics_endpoints(st, work):
    """[milter] metrics answering Prometheus text, [indexd] metrics
    answering 404, [web] metrics refusing: ok, warn, warn."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            good = self.server.server_port == int(st.metrics[0].rsplit(":", 1)[1])
            body = b"# HELP x_total a test\n# TYPE x_total counter\nx_total 1\n"
            self.send_response(200 if good and self.path == "/metrics" else 404)
            self.end_headers()
            self.wfile.write(body if good else b"no\n")

        def log_message(self, *a):
            pass
    servers = [http.server.HTTPServer(("127.0.0.1", int(a.rsplit(":", 1)[1])), Handler)
               for a in st.metrics[:2]]
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    conf = os.path.join(work, "metrics.conf")
    text = open(st.conf).read()
    for section, addr in zip(("milter", "indexd", "web"), st.metrics):
        text = text.replace("[%s]\n" % section, "[%s]\nmetrics = %s\n" % (section, addr), 1)
    with open(conf, "w") as f:
        f.write(text)
    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "doctor", "--timeout", "3", "--skip",
                        "spool,archive,clamd,signatures,milter,postfix,indexd,backlog,dovecot,web,audit"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for srv in servers:
        srv.shutdown()
        srv.server_close()
    rows = [r[0] + " " + r[2] for r in verdicts(p.stdout) if r[1] == "metrics"]
    T.check(p.returncode == 0 and len(rows) == 3 and rows[0].startswith("ok [milter]")
            and "[indexd]" in rows[1] and "no 200 answer" in rows[1] and rows[1].startswith("warn")
            and "[web]" in rows[2] and "Connection refused" in rows[2] and rows[2].startswith("warn"),
            "metrics endpoints: %s" % p.stdout)


def bad_input(st, work):
    bad = os.path.join(work, "bad.conf")
    with open(bad, "w") as f:
        f.write("[milter]\nsocket = unix:/x\nnonsense = 1\n")
    p = subprocess.run([mstest.MAILSIFT, "-c", bad, "doctor"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    rows = verdicts(p.stdout)
    T.check(p.returncode == 1 and len(rows) == 1 and rows[0][:2] == ["FAIL", "config"]
            and (bad + ":3:") in rows[0][2] and rows[0][3], "bad config: %s" % p.stdout)
    for args in (["--nonsense"], ["--skip", "nothing"], ["--backlog", "x"], ["extra"]):
        rc, out, err = st.mailsift("doctor", *args)
        T.check(rc == 2 and "usage: mailsift doctor" in err, "usage error for %s: %d %s" % (args, rc, err))


def main():
    need = [mstest.MAILSIFT, PLUGIN] + [os.path.join(mstest.BUILD, n)
                                        for n in ("mailsift-milter", "mailsift-indexd")]
    missing = [n for n in need if not os.path.exists(n)]
    if missing:
        T.check(False, "not built: %s" % missing)
        T.done()
    work = tempfile.mkdtemp(prefix="mailsift-doctor-")
    os.chmod(work, 0o755)
    st = Stack(work)
    try:
        st.start()
        send_one(st)
        healthy(st)
        break_it(st)
        broken(st)
        odd_milters(st, work)
        chrooted(st, work)
        read_only(st, work)
        metrics_endpoints(st, work)
        bad_input(st, work)
    except RuntimeError as e:
        T.check(False, str(e))
    finally:
        st.stop()
        mstest.keep_or_remove(work)
    T.done()


if __name__ == "__main__":
    main()
