#!/usr/bin/env python3
"""test_milter.py - mailsift-milter against real clamd through miltertest.

Each case is a miltertest Lua script (generated here) run against the real
build/mailsift-milter binary; the spool it leaves is then checked. clamd is
the real one (tests/stack/stack.sh, one-signature EICAR database, 55 MB
stream limit); misbehaving scanners are tests/tools/fake_clamd.py. Cases
that need header names longer than miltertest can send, or many
connections held open at once, speak the milter protocol themselves
(tests/milter/rawmilter.py).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mstest  # noqa: E402
import rawmilter  # noqa: E402

T = mstest.Test("milter")
MILTER = os.path.join(mstest.BUILD, "mailsift-milter")
STACK = os.path.join(mstest.ROOT, "tests", "stack", "stack.sh")
FAKE = os.path.join(mstest.ROOT, "tests", "tools", "fake_clamd.py")
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")

LUA_PRELUDE = r'''
local function check(cond, what)
  if not cond then error(what, 2) end
end
local function start(sock)
  local conn = mt.connect(sock, 40, 0.25)
  check(conn ~= nil, "cannot connect to " .. sock)
  check(mt.conninfo(conn, "client.example.net", "192.0.2.7") == nil, "conninfo")
  check(mt.helo(conn, "client.example.net") == nil, "helo")
  return conn
end
local function envelope(conn, from, rcpts, qid)
  check(mt.macro(conn, SMFIC_MAIL, "i", qid) == nil, "macro")
  check(mt.mailfrom(conn, from) == nil, "mailfrom")
  for _, r in ipairs(rcpts) do check(mt.rcptto(conn, r) == nil, "rcptto") end
end
local function headers(conn, list)
  for _, h in ipairs(list) do check(mt.header(conn, h[1], h[2]) == nil, "header " .. h[1]) end
  check(mt.eoh(conn) == nil, "eoh")
end
local function finish(conn)
  check(mt.eom(conn) == nil, "eom")
  return mt.getreply(conn)
end
local function expect_accept(conn)
  local r = finish(conn)
  check(r == SMFIR_ACCEPT or r == SMFIR_CONTINUE, "reply not accept: " .. tostring(r))
  check(mt.eom_check(conn, MT_HDRADD, "X-Virus-Scanned"), "no X-Virus-Scanned")
  -- with SMFIP_HDR_LEADSPC negotiated, values carry their leading space
  local id = mt.getheader(conn, "X-Mailsift-Id", 0)
  check(id ~= nil, "no X-Mailsift-Id")
  id = id:gsub("^ ", "")
  mt.echo("ID=" .. id)
  mt.echo("STATUS=" .. tostring(mt.getheader(conn, "X-Virus-Status", 0)):gsub("^ ", ""))
  return id
end
local function expect_reply(conn, code, xcode, text)
  local r = finish(conn)
  check(r == SMFIR_REPLYCODE, "reply not a reply code: " .. tostring(r))
  check(mt.eom_check(conn, MT_SMTPREPLY, code, xcode, text),
        "reply is not " .. code .. " " .. xcode .. " " .. text)
  check(not mt.eom_check(conn, MT_HDRADD), "headers added to a refused message")
end
'''


def lua_run(name, body):
    """Runs a Lua test body (with the prelude); returns (ok, stdout lines)."""
    path = os.path.join(WORK, name + ".lua")
    with open(path, "w") as f:
        f.write(LUA_PRELUDE + "local ok, err = pcall(function()\n" + body +
                "\nend)\nif not ok then mt.echo('LUAFAIL: ' .. tostring(err)) end\n")
    p = subprocess.run(["miltertest", "-s", path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    out = p.stdout.decode("utf-8", "replace").splitlines()
    fails = [l for l in out if "LUAFAIL" in l]
    ok = p.returncode == 0 and not fails
    T.check(ok, "%s: %s" % (name, fails or out[-5:]))
    return ok, out


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def value(out, key):
    for l in out:
        if l.startswith(key + "="):
            return l[len(key) + 1:]
    return None


class Milter:
    """A running mailsift-milter with its own plugin.conf and spool."""

    def __init__(self, name, scanner, extra="", milter_extra="", preexec=None):
        self.milter_extra = milter_extra
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "milter.sock")
        self.spool = os.path.join(self.dir, "spool")
        self.conf = os.path.join(self.dir, "plugin.conf")
        self.write_conf(scanner, extra)
        self.log = open(os.path.join(self.dir, "milter.log"), "w")
        wrap = os.environ.get("MILTER_WRAPPER", "").split()
        self.proc = subprocess.Popen(wrap + [MILTER, "-f", "-c", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=preexec)
        for _ in range(200):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)
        T.check(os.path.exists(self.sock), "%s: milter socket never appeared" % name)

    def write_conf(self, scanner, extra):
        """extra: more lines; "[scanner]" lines in it go to that section."""
        scan_extra = ""
        if extra.startswith("[scanner]\n"):
            rest = extra[len("[scanner]\n"):]
            cut = rest.find("[")
            scan_extra, extra = (rest, "") if cut < 0 else (rest[:cut], rest[cut:])
        if "read_timeout" not in scan_extra:
            scan_extra += "read_timeout = 3s\n"
        with open(self.conf, "w") as f:
            f.write("[milter]\nsocket = unix:%s\n%s[scanner]\nclamd = %s\n"
                    "connect_timeout = 2s\n%s"
                    "[spool]\ndir = %s\n%s" % (self.sock, getattr(self, "milter_extra", ""), scanner,
                                                scan_extra, self.spool, extra))

    def log_lines(self):
        with open(os.path.join(self.dir, "milter.log"), encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()

    def entries(self):
        """The ids of the spool's entries (segment entries a commit covers)."""
        return sorted(e["id"] or e["name"] for e in mstest.spool_entries(self.spool))

    def envelope(self, ident):
        """Spool entry ident: (message, envelope record as (key, value) pairs)."""
        for e in mstest.spool_entries(self.spool):
            if e["id"] == ident and not e["problem"]:
                return e["msg"], e["rec"]
        return None, None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
        self.log.close()
        T.check(rc == 0, "milter exit status on SIGTERM: %s" % rc)


def clean_message(conn="conn", subject="hello", extra_headers=""):
    return ('headers(%s, {{"From", "alice@example.net"}, {"To", "bob@example.org"}, '
            '{"Subject", %s}%s})\n'
            'check(mt.bodystring(%s, "Hello Bob,\\r\\nplain text.\\r\\n") == nil, "body")\n'
            % (conn, lua_str(subject), extra_headers, conn))


def attachment_message(name, content):
    import base64
    b64 = base64.b64encode(content.encode()).decode()
    body = ("--BB\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--BB\r\n"
            "Content-Type: application/octet-stream; name=\"%s\"\r\n"
            "Content-Disposition: attachment; filename=\"%s\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--BB--\r\n" % (name, name, b64))
    return ('headers(conn, {{"From", "mallory@example.net"}, {"To", "bob@example.org"}, '
            '{"Subject", "attachment"}, {"MIME-Version", "1.0"}, '
            '{"Content-Type", "multipart/mixed; boundary=BB"}})\n'
            'check(mt.bodystring(conn, %s) == nil, "body")\n' % lua_str(body))


def start_clamd():
    env = dict(os.environ, STACK_DIR=os.path.join(WORK, "stack"), STACK_CLAMD_STREAM_MAX="55M")
    p = subprocess.run(["bash", "-c", '. "%s" && stack_clamd_start' % STACK], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    ok = T.check(p.returncode == 0, "clamd did not start: %s" % p.stdout.decode()[-500:])
    return os.path.join(WORK, "stack", "clamd", "clamd.sock") if ok else None


def stop_clamd():
    env = dict(os.environ, STACK_DIR=os.path.join(WORK, "stack"))
    subprocess.run(["bash", "-c", '. "%s" && stack_clamd_stop' % STACK], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def fake_clamd(mode):
    sock = os.path.join(WORK, "fake-%s.sock" % mode.split()[0])
    p = subprocess.Popen([sys.executable, FAKE, sock] + mode.split(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    FAKES.append(p)
    return sock


WORK = tempfile.mkdtemp(prefix="mailsift-milter-")
FAKES = []


def case_clean(m):
    ok, out = lua_run("clean", '''
local conn = start(%s)
envelope(conn, "<alice@example.net>", {"<bob@example.org>", "<carol@example.org>", "<dave@example.org>"}, "4QID1")
%s
expect_accept(conn)
mt.disconnect(conn)''' % (lua_str(m.sock), clean_message()))
    ident = value(out, "ID")
    T.check(value(out, "STATUS") == "Clean", "clean: X-Virus-Status %r" % value(out, "STATUS"))
    if not T.check(ident and ident in m.entries(), "clean: spool entry %s missing (%s)" % (ident, m.entries())):
        return
    msg, env = m.envelope(ident)
    keys = dict(env)
    T.check([v for k, v in env if k == "rcpt"] == ["bob@example.org", "carol@example.org", "dave@example.org"],
            "clean: recipients %r" % env)
    for k, v in (("id", ident), ("sender", "alice@example.net"), ("qid", "4QID1"), ("verdict", "clean"),
                 ("helo", "client.example.net"), ("size", str(len(msg)))):
        T.check(keys.get(k) == v, "clean: envelope %s = %r, want %r" % (k, keys.get(k), v))
    T.check("192.0.2.7" in keys.get("client", ""), "clean: client %r" % keys.get("client"))
    T.check(len(keys.get("sha256", "")) == 64 and keys.get("time", "").isdigit(), "clean: sha256/time %r" % keys)
    T.check(msg.startswith(b"From: alice@example.net\r\n") and msg.endswith(b"plain text.\r\n"),
            "clean: spooled message %r" % msg[:80])


def case_two_messages_and_abort(m):
    before = set(m.entries())
    ok, out = lua_run("two", '''
local conn = start(%s)
envelope(conn, "<a@example.net>", {"<bob@example.org>"}, "QA")
%s
expect_accept(conn)
envelope(conn, "<b@example.net>", {"<bob@example.org>"}, "QB")
headers(conn, {{"Subject", "aborted"}})
check(mt.bodystring(conn, "half a message") == nil, "body")
check(mt.abort(conn) == nil, "abort")
envelope(conn, "<c@example.net>", {"<bob@example.org>"}, "QC")
%s
expect_accept(conn)
mt.disconnect(conn)''' % (lua_str(m.sock), clean_message(subject="first"), clean_message(subject="third")))
    ids = [l[3:] for l in out if l.startswith("ID=")]
    new = set(m.entries()) - before
    T.check(len(ids) == 2 and ids[0] != ids[1] and new == set(ids), "two messages: ids %r spool %r" % (ids, new))
    tmp = os.listdir(os.path.join(m.spool, "tmp"))
    T.check(tmp == [], "abort left temporary files: %r" % tmp)


def case_forged(m):
    ok, out = lua_run("forged", '''
local conn = start(%s)
envelope(conn, "<a@example.net>", {"<bob@example.org>"}, "QF")
%s
expect_accept(conn)
check(mt.eom_check(conn, MT_HDRDELETE, "X-Virus-Status"), "forged X-Virus-Status kept")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Virus-Scanned"), "forged X-Virus-Scanned kept")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Mailsift-Id"), "forged X-Mailsift-Id kept")
check(mt.eom_check(conn, MT_HDRDELETE, "x-mailsift-verdict"), "forged x-mailsift-verdict kept")
check(mt.getheader(conn, "X-Mailsift-Id", 0) ~= "forged", "our id is the forged one")
mt.disconnect(conn)''' % (lua_str(m.sock), clean_message(extra_headers=(
        ', {"X-Virus-Status", "Clean"}, {"X-Virus-Scanned", "fake"}, {"X-Mailsift-Id", "forged"}, '
        '{"x-mailsift-verdict", "clean"}, {"X-Virus-Status", "Clean again"}'))))


def case_forged_long_lua(m):
    """Issue 16: a forged header whose name is over 200 characters, twice."""
    lua_run("forged-long", '''
local long = "X-Virus-Status-" .. string.rep("A", 186)
local longer = "x-mailsift-" .. string.rep("b", 900)
local conn = start(%s)
envelope(conn, "<a@example.net>", {"<bob@example.org>"}, "QFL")
%s
expect_accept(conn)
check(mt.eom_check(conn, MT_HDRDELETE, long), "201-character forged header kept")
check(mt.eom_check(conn, MT_HDRDELETE, longer), "911-character forged header kept")
mt.disconnect(conn)''' % (lua_str(m.sock), clean_message(extra_headers=(
        ', {long, "Clean"}, {long, "Clean again"}, {longer, "forged"}'))))


def raw_message(m, headers, qid="QRAW"):
    """Sends a plain message with headers [(name, value)] (bytes) with the
    raw protocol (miltertest cannot send long headers); returns (final
    reply command, [actions])."""
    c = rawmilter.Conn(m.sock, timeout=30)
    try:
        c.start_message(qid=qid)
        for name, value in headers:
            c.header(name, value)
        c.step(b"N")
        c.step(b"B", b"Hello Bob,\r\nplain text.\r\n")
        return c.eom()
    finally:
        c.close()


def case_forged_long_raw(m):
    """Issue 16: forged names up to the longest a delete request can carry
    are removed with their exact index (same name in another case counts);
    a longer forged name refuses the message."""
    most = 65535 - 6
    for n in (201, 1000, 5000, 65000, most):
        name = b"X-Virus-Status-" + b"A" * (n - 15)
        value = b" Clean" if n <= 65000 else b""
        final, actions = raw_message(m, [(b"From", b" a@example.net"), (name, value),
                                         (b"X-Virus-Status", b" Clean"), (name.lower(), value)])
        got = rawmilter.deletes(actions)
        want = [(name.lower(), 2), (b"X-Virus-Status", 1), (name, 1)]
        T.check(final == b"a" and got == want, "forged name of %d bytes: reply %r, deletes %r" % (
            n, final, [(len(a), i) for a, i in got]))
        T.check(any(cmd == b"h" and d.startswith(b"X-Virus-Status\0") for cmd, d in actions),
                "forged name of %d bytes: no X-Virus-Status added" % n)
    before = set(m.entries())
    final, actions = raw_message(m, [(b"X-Mailsift-" + b"B" * (most + 1 - 11), b"")])
    T.check(final == b"y" and actions == [], "unremovable forged name: reply %r %r" % (final, actions))
    T.check(set(m.entries()) == before, "unremovable forged name: message spooled")


def case_log_injection(m):
    """Issue 16: line feeds (and other control bytes) in MAIL FROM or in the
    queue id macro cannot add a line to the log."""
    fake = "\nmailsift-milter: QFAKE%d: id=0 from=<> nrcpt=1 size=1 status=Clean action=accept"
    qid = "QINJ\r" + fake % 1  # the log keeps 64 bytes of a queue id
    sender = "<eve@example.net>" + fake % 2 + "\x1b[2K"
    lua_run("log-injection", '''
local conn = start(%s)
envelope(conn, %s, {"<bob@example.org>"}, %s)
%s
expect_accept(conn)
mt.disconnect(conn)''' % (lua_str(m.sock), lua_str(sender), lua_str(qid), clean_message()))
    lines = m.log_lines()
    forged = [l for l in lines if "QFAKE" in l and not l.startswith("mailsift-milter: QINJ")]
    ours = [l for l in lines if l.startswith("mailsift-milter: QINJ")]
    T.check(not forged, "log injection: forged lines %r" % forged)
    T.check(len(ours) == 1 and "QINJ\\r\\nmailsift-milter: QFAKE1" in ours[0]
            and "\\x1b" in ours[0] and ours[0].endswith(" status=Clean action=accept"),
            "log injection: our line %r" % ours)
    with open(os.path.join(m.dir, "milter.log"), "rb") as f:
        raw = f.read()
    T.check(b"\r" not in raw and b"\x1b" not in raw, "log injection: control bytes in the log")


def low_nofile():
    """preexec_fn: the milter starts with 64 descriptors (hard limit 256)."""
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 256))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def half_message(c, i):
    """Opens a message and stops in its body: the milter holds the
    connection and a spool file. Returns the connect reply (None: served)."""
    c.negotiate()
    r = c.connect()
    if r is None or r == b"c":
        c.step(b"H", b"client.example.net\0")
        c.macro(b"M", i="QHALF%d" % i)
        c.step(b"M", b"<a@example.net>\0")
        c.step(b"R", b"<bob@example.org>\0")
        c.header(b"Subject", b" half")
        c.step(b"N")
        c.step(b"B", b"half a message")
    return r


def open_half_messages(m, n):
    """n connections: returns (served, refused, dropped, failed) lists; a
    connection the milter does not answer within 3 s is failed (and stops)."""
    served, refused, dropped, failed = [], [], [], []
    for i in range(n):
        try:
            c = rawmilter.Conn(m.sock, timeout=3)
        except OSError as e:
            failed.append(e)
            break
        try:
            r = half_message(c, i)
            if r is None or r == b"c":
                served.append(c)
            elif r == b"y":
                refused.append(c)
            else:
                failed.append(r)
        except rawmilter.MilterError:
            dropped.append(c)  # closed at once by the milter
        except OSError as e:
            failed.append(e)
            c.sock.close()
            break
    return served, refused, dropped, failed


def refused_reply(m):
    """A new connection's answer to connect, and how long it took."""
    t = time.time()
    c = rawmilter.Conn(m.sock, timeout=5)
    try:
        c.negotiate()
        c.send(b"C", b"client.example.net\0" + b"4" + b"\0\x19" + b"192.0.2.7\0")
        cmd, data = c.recv()
    except (rawmilter.MilterError, OSError) as e:
        cmd, data = None, repr(e).encode()
    c.sock.close()
    return cmd, data, time.time() - t


def case_fd_limit(scanner):
    """Issue 16: with few descriptors (ulimit -n 256), 124 half-sent messages
    neither starve nor spin the worker: the limit is raised to the hard one,
    connections past max_connections are tempfailed (past as many refused
    ones, closed at once) with a log line, and the milter recovers."""
    m = Milter("fdlimit", scanner, preexec=low_nofile)
    valgrind = bool(os.environ.get("MILTER_WRAPPER"))
    try:
        limit = [l for l in m.log_lines() if "descriptor limit" in l]
        cap = int(limit[0].split("at most ")[1].split()[0]) if limit else 0
        T.check(cap > 0 and (valgrind or "descriptor limit 256 (was 64): at most 56 " in limit[0]),
                "fd limit: start line %r" % limit)
        served, refused, dropped, failed = open_half_messages(m, 124)
        counts = (len(served), len(refused), len(dropped), len(failed))
        T.check(not failed and counts[:2] == (cap, cap) and sum(counts) == 124,
                "fd limit: served/refused/dropped/failed %r (cap %d): %r" % (counts, cap, failed[:2]))
        cmd, data, took = refused_reply(m)
        T.check(cmd is None and took < 2, "fd limit: a connection past the refusals: %r %r after %.1f s"
                % (cmd, data, took))
        pid = worker_pid(m)
        before = cpu_seconds(pid)
        time.sleep(3)
        spent = cpu_seconds(pid) - before
        T.check(spent < 0.3, "fd limit: idle worker used %.2f s of CPU in 3 s" % spent)
        for c in refused:
            c.close()
        time.sleep(0.5)
        cmd, data, took = refused_reply(m)
        T.check(cmd == b"y" and data.startswith(b"451 4.7.1 Try again later: too many connections")
                and took < 2, "fd limit: refusal %r %r after %.1f s" % (cmd, data, took))
        lines = m.log_lines()
        refusals = [l for l in lines if " refused: %d connections in progress" % cap in l
                    or " closed at once: " in l]
        omitted = [l for l in refusals if " more not logged)" in l]
        T.check(refusals and omitted and len(refusals) <= 10 * 6,
                "fd limit: %d refusal log lines, %d counting omitted ones" % (len(refusals), len(omitted)))
        for c in served:
            c.close()
        time.sleep(0.5)
        final, actions = raw_message(m, [(b"Subject", b" after")], qid="QAFTER")
        T.check(final == b"a", "fd limit: no message accepted after the load: %r" % final)
        tmp = os.listdir(os.path.join(m.spool, "tmp"))
        T.check(tmp == [], "fd limit: spool files left after the connections closed: %d" % len(tmp))
    finally:
        m.stop()


def case_eicar(m):
    before = set(m.entries())
    lua_run("eicar", '''
local conn = start(%s)
envelope(conn, "<mallory@example.net>", {"<bob@example.org>"}, "QE")
%s
expect_reply(conn, "550", "5.7.1", "Message rejected: virus found: Eicar-Test-Signature.UNOFFICIAL")
mt.disconnect(conn)''' % (lua_str(m.sock), attachment_message("readme.txt", EICAR)))
    new = sorted(set(m.entries()) - before)
    if T.check(len(new) == 1, "eicar: kept infected message not spooled: %r" % new):
        _, env = m.envelope(new[0])
        keys = dict(env)
        T.check(keys.get("verdict") == "infected" and keys.get("virus") == "Eicar-Test-Signature.UNOFFICIAL",
                "eicar: envelope %r" % keys)


def case_policy(m, name, attach, reason, content="harmless content 42"):
    lua_run(name, '''
local conn = start(%s)
envelope(conn, "<mallory@example.net>", {"<bob@example.org>"}, "QP")
%s
expect_reply(conn, "550", "5.7.1", %s)
mt.disconnect(conn)''' % (lua_str(m.sock), attachment_message(attach, content), lua_str(reason)))


SCANNER_DOWN = "Try again later: virus scanner unavailable"
CANNOT_STORE = "Try again later: cannot store the message"


def case_tempfail(m, name, message=None, text=SCANNER_DOWN):
    before = set(m.entries())
    lua_run(name, '''
local conn = start(%s)
envelope(conn, "<a@example.net>", {"<bob@example.org>"}, "QT")
%s
local r = finish(conn)
check(r == SMFIR_REPLYCODE, "reply not a reply code: " .. tostring(r))
check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", %s), "not 451 4.7.1 " .. %s)
check(not mt.eom_check(conn, MT_HDRADD), "headers added to a tempfailed message")
mt.disconnect(conn)''' % (lua_str(m.sock), message or clean_message(), lua_str(text), lua_str(text)))
    new = set(m.entries()) - before
    T.check(not new, "%s: tempfailed message spooled: %r" % (name, new))


def big_message(size):
    """Lua for a plain message with a body of about size bytes, sent in
    chunks below the milter protocol's 64 KiB limit."""
    chunk = ("x" * 76 + "\r\n") * 800
    return (clean_message().split("check(mt.bodystring")[0] +
            'local chunk = %s\nfor i = 1, %d do check(mt.bodystring(conn, chunk) == nil, "body") end\n'
            % (lua_str(chunk), size // len(chunk) + 1))


def proc_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def worker_pid(m):
    with open("/proc/%d/task/%d/children" % (m.proc.pid, m.proc.pid)) as f:
        kids = f.read().split()
    return int(kids[0]) if kids else None


def case_50mb(m):
    pid = worker_pid(m)
    if not T.check(pid is not None, "50 MB: no worker process"):
        return
    before = proc_kb(pid, "VmRSS")
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    ok, out = lua_run("50mb", '''
mt.set_timeout(120)
local conn = start(%s)
envelope(conn, "<a@example.net>", {"<bob@example.org>"}, "QBIG")
%s
expect_accept(conn)
mt.disconnect(conn)''' % (lua_str(m.sock), big_message(50 * 1024 * 1024)))
    peak = proc_kb(pid, "VmHWM")
    print("50 MB message: milter worker RSS %d kB before, peak %d kB (+%d kB)" % (before, peak, peak - before))
    T.check(value(out, "STATUS") == "Clean", "50 MB: not scanned clean: %r" % value(out, "STATUS"))
    if not os.environ.get("MILTER_WRAPPER"):  # valgrind's own memory would count
        T.check(peak - before < 10 * 1024, "50 MB: RSS grew by %d kB (limit 10 MB)" % (peak - before))


def case_check_flag():
    p = subprocess.run([MILTER, "-n", "-c", MILTERS[0].conf], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    T.check(p.returncode == 0 and b"OK" in p.stdout, "-n on a good config: %r" % p.stderr)
    bad = os.path.join(WORK, "bad.conf")
    with open(bad, "w") as f:
        f.write("[milter]\nsocket = unix:/tmp/x.sock\n[scanner]\nclamd = tcp:nowhere\n")
    p = subprocess.run([MILTER, "-n", "-c", bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = p.stderr.decode()
    T.check(p.returncode != 0 and "bad.conf:4:" in err and len(err.strip().splitlines()) == 1,
            "-n on a bad config must give one file:line error: %r" % err)


def case_reload(m, scanner):
    m.write_conf(scanner, "")
    m.proc.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    T.check(m.proc.poll() is None, "reload: milter died on SIGHUP")
    ok, out = lua_run("reload", '''
local conn = start(%s)
envelope(conn, "<a@example.net>", {"<bob@example.org>"}, "QR")
%s
expect_accept(conn)
mt.disconnect(conn)''' % (lua_str(m.sock), clean_message()))
    T.check(value(out, "STATUS") == "Clean", "after reload the new scanner is used: %r" % out[-3:])


def case_spool_unwritable(m):
    seg = os.path.join(m.spool, "seg")  # where the milter's segments go
    shutil.rmtree(seg)
    with open(seg, "w") as f:
        f.write("not a directory\n")
    case_tempfail(m, "spool-unwritable", text=CANNOT_STORE)
    tmp = os.listdir(os.path.join(m.spool, "tmp"))
    T.check(tmp == [], "spool-unwritable left temporary files: %r" % tmp)


def case_auth_skip(m):
    ok, out = lua_run("auth-skip", '''
local conn = start(%s)
check(mt.macro(conn, SMFIC_MAIL, "i", "QAUTH", "{auth_authen}", "alice") == nil, "macro")
check(mt.mailfrom(conn, "<alice@example.org>") == nil, "mailfrom")
check(mt.rcptto(conn, "<bob@example.org>") == nil, "rcptto")
%s
expect_accept(conn)
mt.disconnect(conn)''' % (lua_str(m.sock), clean_message()))
    T.check(value(out, "STATUS") == "Unscanned (authenticated sender)", "auth-skip: status %r" % value(out, "STATUS"))
    case_tempfail(m, "auth-skip-unauthenticated")


def case_oversize(m_accept, m_default):
    ok, out = lua_run("oversize-accept", '''
local conn = start(%s)
envelope(conn, "<a@example.net>", {"<bob@example.org>"}, "QOV")
%s
expect_accept(conn)
mt.disconnect(conn)''' % (lua_str(m_accept.sock), big_message(4096)))
    st = value(out, "STATUS") or ""
    T.check(st.startswith("Unscanned (size ") and "Clean" not in st, "oversize accept: status %r" % st)
    T.check(len(m_accept.entries()) == 1, "oversize accept: not spooled")
    case_tempfail(m_default, "oversize-default", big_message(4096), "Try again later: message too large to scan")


def case_too_big(m):
    before = set(m.entries())
    lua_run("too-big", '''
local conn = start(%s)
envelope(conn, "<a@example.net>", {"<bob@example.org>"}, "QBIG2")
%s
expect_reply(conn, "552", "5.3.4", "Message size exceeds fixed limit")
mt.disconnect(conn)''' % (lua_str(m.sock), big_message(4096)))
    T.check(set(m.entries()) == before, "too-big: a refused message was spooled")


def case_infected_actions(tag, quarantine, discard):
    msg = attachment_message("readme.txt", EICAR)
    ok, out = lua_run("infected-tag", '''
local conn = start(%s)
envelope(conn, "<m@example.net>", {"<bob@example.org>"}, "QTAG")
%s
expect_accept(conn)
mt.disconnect(conn)''' % (lua_str(tag.sock), msg))
    T.check(value(out, "STATUS") == "Infected (Eicar-Test-Signature.UNOFFICIAL)", "tag: status %r" % value(out, "STATUS"))
    lua_run("infected-quarantine", '''
local conn = start(%s)
envelope(conn, "<m@example.net>", {"<bob@example.org>"}, "QQ")
%s
expect_accept(conn)
check(mt.eom_check(conn, MT_QUARANTINE), "not quarantined")
mt.disconnect(conn)''' % (lua_str(quarantine.sock), msg))
    lua_run("infected-discard", '''
local conn = start(%s)
envelope(conn, "<m@example.net>", {"<bob@example.org>"}, "QD")
%s
check(finish(conn) == SMFIR_DISCARD, "not discarded")
mt.disconnect(conn)''' % (lua_str(discard.sock), msg))
    for m in (tag, quarantine, discard):
        T.check(len(m.entries()) == 1, "%s: infected message not archived" % m.dir)


def main():
    import hashlib
    global MILTERS
    clamd = start_clamd()
    if not clamd:
        T.done()
    blocked = b"blocklisted payload 7"
    digest = hashlib.sha256(blocked).hexdigest()
    blocklist = os.path.join(WORK, "blocklist")
    with open(blocklist, "w") as f:
        f.write("# test blocklist\n%s  # payload 7\n" % digest)
    real = "unix:" + clamd
    m1 = Milter("main", real, "[policy]\nblocklist_file = %s\n" % blocklist)
    down = Milter("down", "unix:" + os.path.join(WORK, "no-such-clamd.sock"))
    garbage = Milter("garbage", "unix:" + fake_clamd("garbage"))
    closer = Milter("close", "unix:" + fake_clamd("close"))
    sizelimit = Milter("sizelimit", real, "[scanner]\nmax_scan_size = 100M\nread_timeout = 60s\n")
    big = Milter("big", real, "[scanner]\nmax_scan_size = 100M\nread_timeout = 60s\n")
    failover = Milter("failover", "unix:%s, unix:%s, %s" % (
        os.path.join(WORK, "no-such-clamd.sock"), fake_clamd("garbage2 garbage"), real))
    spoolfail = Milter("spoolfail", real)
    authskip = Milter("authskip", "unix:" + os.path.join(WORK, "no-such-clamd.sock"),
                      "[policy]\nskip_authenticated = yes\n")
    ov_accept = Milter("ov-accept", real, "[scanner]\nmax_scan_size = 1k\n[policy]\non_oversize = accept\n")
    ov_default = Milter("ov-default", real, "[scanner]\nmax_scan_size = 1k\n")
    tag = Milter("tag", real, "[policy]\non_infected = tag\n")
    quarantine = Milter("quarantine", real, "[policy]\non_infected = quarantine\n")
    discard = Milter("discard", real, "[policy]\non_infected = discard\n")
    toobig = Milter("toobig", real, milter_extra="max_message_size = 1k\n")
    MILTERS = [m1, down, garbage, closer, sizelimit, big, failover, spoolfail, authskip, ov_accept,
               ov_default, tag, quarantine, discard, toobig]
    try:
        case_clean(m1)
        case_two_messages_and_abort(m1)
        case_forged(m1)
        case_forged_long_lua(m1)
        case_forged_long_raw(m1)
        case_log_injection(m1)
        case_fd_limit(real)
        case_eicar(m1)
        case_policy(m1, "extension", "invoice.pdf.exe",
                    "Message rejected: blocked: blocked attachment type .exe: invoice.pdf.exe")
        case_policy(m1, "blocklist", "data.bin",
                    "Message rejected: blocked: blocklisted attachment %s: data.bin" % digest,
                    blocked.decode())
        case_tempfail(down, "clamd-down")
        case_tempfail(garbage, "clamd-garbage")
        case_tempfail(closer, "clamd-close")
        case_tempfail(sizelimit, "clamd-sizelimit", big_message(56 * 1024 * 1024))
        case_50mb(big)
        case_clean(failover)
        case_spool_unwritable(spoolfail)
        case_auth_skip(authskip)
        case_oversize(ov_accept, ov_default)
        case_infected_actions(tag, quarantine, discard)
        case_too_big(toobig)
        case_check_flag()
        case_reload(down, real)
    finally:
        for m in MILTERS:
            m.stop()
        for p in FAKES:
            p.kill()
        stop_clamd()
        shutil.rmtree(WORK, ignore_errors=True)
    T.done()


main()
