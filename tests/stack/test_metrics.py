#!/usr/bin/env python3
"""test_metrics.py - the Prometheus metrics of the three daemons after real
traffic: clean, EICAR (real clamd), blocked (.exe attachment) and oversize
(tempfail) messages go through a private Postfix into mailsift-milter; the
first [scanner] clamd endpoint does not exist, so every scan fails over
once. mailsift-indexd first runs with an archive it cannot open (the
backlog metrics see the spool fill up), then with a good one (it drains;
a garbage spool entry goes to bad/). mailsift-web gets logins (right,
wrong, throttled) and page requests. Each daemon's /metrics must pass
`promtool check metrics` and its counters must equal what was sent; the
milter moves its listener on SIGHUP; contrib/grafana/mailsift.json must
parse and use only metric names the daemons serve.
"""
import http.client
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
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("metrics")
EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
N_CLEAN, N_EICAR, N_BLOCKED = 5, 3, 2
DASHBOARD = os.path.join(mstest.ROOT, "contrib", "grafana", "mailsift.json")


def msg(i, subject, body, extra=""):
    return ("From: sender@example.net\r\nTo: alice@example.org\r\nSubject: %s %d\r\n"
            "Message-ID: <m%d-%s@example.net>\r\nMIME-Version: 1.0\r\n%s\r\n%s\r\n"
            % (subject, i, i, subject, extra, body)).encode()


def multipart(i, subject, name, content):
    return msg(i, subject, "--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n"
               "Content-Type: application/octet-stream; name=\"%s\"\r\n"
               "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n%s\r\n--B--"
               % (name, name, content), "Content-Type: multipart/mixed; boundary=B\r\n")


def send(port, data):
    """Sends one message; returns the SMTP code of the final reply."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.sendmail("sender@example.net", ["alice@example.org"], data)
        return 250
    except smtplib.SMTPResponseException as e:
        return e.smtp_code
    except (smtplib.SMTPException, OSError):
        return 0


def scrape(port):
    """GET /metrics: (text, {(name, frozenset(labels)): value}) or (None, {})."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/metrics")
        r = c.getresponse()
        text = r.read().decode()
        ctype = r.getheader("Content-Type", "")
        c.close()
    except OSError:
        return None, {}
    T.check(r.status == 200 and ctype.startswith("text/plain; version=0.0.4"),
            "scrape :%d -> %d %s" % (port, r.status, ctype))
    dump = os.environ.get("MAILSIFT_METRICS_DUMP")  # a directory: keep each scrape
    if dump:
        with open(os.path.join(dump, "scrape-%d-%.3f.txt" % (port, time.time())), "w") as f:
            f.write(text)
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)', line)
        if not T.check(m, "unparsable line %r" % line):
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        series[(m.group(1), labels)] = float(m.group(3))
    return text, series


def val(series, name, **labels):
    return series.get((name, frozenset(labels.items())), None)


def promtool(text, what):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                       capture_output=True)
    T.check(p.returncode == 0, "promtool check metrics (%s): %s%s" % (what, p.stdout, p.stderr))


def wait_for(fn, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.3)
    return bool(fn())


def port_open(port):
    import socket
    s = socket.socket()
    s.settimeout(1)
    ok = s.connect_ex(("127.0.0.1", port)) == 0
    s.close()
    return ok


class Run:
    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="mailsift-metrics-")
        os.chmod(self.work, 0o755)
        w = self.work
        self.env = {"STACK_DELIVERY": "discard", "STACK_RCPT_CHECK": "no",
                    "STACK_SMTPD_MILTERS": "unix:%s/milter.sock" % w}
        self.stack_dir = os.path.join(w, "stack")
        (self.p_milter, self.p_milter2, self.p_indexd, self.p_web,
         self.p_webm) = mstest.free_ports(5)
        self.conf = os.path.join(w, "plugin.conf")
        self.bogus_clamd = "unix:%s/no-clamd.sock" % w
        self.procs = {}
        open(os.path.join(w, "archive-is-a-file"), "w").close()
        self.write_conf(os.path.join(w, "archive-is-a-file"), self.p_milter)

    def write_conf(self, archive, milter_port):
        w = self.work
        with open(self.conf, "w") as f:
            f.write("[milter]\nsocket = unix:%s/milter.sock\npidfile = %s/milter.pid\n"
                    "metrics = 127.0.0.1:%d\n"
                    "[scanner]\nclamd = %s, unix:%s/clamd/clamd.sock\nmax_scan_size = 64k\n"
                    "[spool]\ndir = %s/spool\n[archive]\ndir = %s\n"
                    "[indexd]\ncommit_interval = 1s\nmetrics = 127.0.0.1:%d\n"
                    "[web]\nlisten = 127.0.0.1:%d\nusers = %s/users\nmetrics = 127.0.0.1:%d\n"
                    % (w, w, milter_port, self.bogus_clamd, self.stack_dir, w, archive,
                       self.p_indexd, self.p_web, w, self.p_webm))

    def stack(self, cmd):
        return mstest.stack(self.stack_dir, cmd, self.env)

    def start(self, name, *args):
        log = open(os.path.join(self.work, name + ".log"), "a")
        self.procs[name] = subprocess.Popen(
            [os.path.join(mstest.BUILD, name), "-f", "-c", self.conf] + list(args),
            stdout=log, stderr=subprocess.STDOUT)

    def stop(self, name):
        p = self.procs.pop(name, None)
        if not p:
            return
        p.send_signal(signal.SIGTERM)
        try:
            T.check(p.wait(timeout=30) == 0, "%s exit status" % name)
        except subprocess.TimeoutExpired:
            p.kill()
            T.check(False, "%s did not stop" % name)

    def cleanup(self):
        for name in list(self.procs):
            self.stop(name)
        try:
            self.stack("stack_down")
        except RuntimeError:
            pass
        shutil.rmtree(self.work, ignore_errors=True)


def check_bad_config(r):
    bad = os.path.join(r.work, "bad.conf")
    for key, value in (("milter", "localhost:9101"), ("indexd", "127.0.0.1"),
                       ("web", "[::1:9101")):
        with open(bad, "w") as f:
            f.write("[%s]\nmetrics = %s\n" % (key, value))
        p = subprocess.run([os.path.join(mstest.BUILD, "mailsift-milter"), "-n", "-c", bad],
                           capture_output=True, text=True)
        T.check(p.returncode != 0 and "bad.conf:2: bad value" in p.stderr and
                "metrics" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
                "[%s] metrics = %s refused in one line: %r" % (key, value, p.stderr))


def traffic(port):
    """Sends the messages; returns the list of messages and their codes."""
    mails = [("clean", msg(i, "hello", "just text %d" % i)) for i in range(N_CLEAN)]
    mails += [("infected", multipart(i, "invoice", "readme.txt", EICAR)) for i in range(N_EICAR)]
    mails += [("blocked", multipart(i, "payroll", "payroll.exe", "TVqQAAMAAAAEAAAA"))
              for i in range(N_BLOCKED)]
    mails += [("oversize", msg(0, "big", ("x" * 76 + "\r\n") * 1400))]
    return [(kind, raw, send(port, raw)) for kind, raw in mails]


def check_milter(r, sent):
    want = {"clean": 250, "infected": 550, "blocked": 550, "oversize": 451}
    for kind, _, code in sent:
        T.check(code == want[kind], "%s message got %d, want %d" % (kind, code, want[kind]))
    text, s = scrape(r.p_milter)
    if not T.check(text, "milter metrics reachable"):
        return None
    promtool(text, "milter")
    M = "mailsift_milter_messages_total"
    for outcome, action, n in (("clean", "accept", N_CLEAN), ("infected", "reject", N_EICAR),
                               ("blocked", "reject", N_BLOCKED), ("oversize", "tempfail", 1)):
        T.check(val(s, M, outcome=outcome, action=action) == n, "%s{%s,%s} = %r, want %d"
                % (M, outcome, action, val(s, M, outcome=outcome, action=action), n))
    total = sum(v for (name, _), v in s.items() if name == M)
    T.check(total == len(sent), "messages_total sums to %r, want %d" % (total, len(sent)))
    scanned = N_CLEAN + N_EICAR  # blocked and oversize never reach clamd
    T.check(val(s, "mailsift_milter_clamd_errors_total", server=r.bogus_clamd) == scanned,
            "clamd errors for the missing endpoint: %r, want %d"
            % (val(s, "mailsift_milter_clamd_errors_total", server=r.bogus_clamd), scanned))
    good = "unix:%s/clamd/clamd.sock" % r.stack_dir
    T.check(val(s, "mailsift_milter_clamd_errors_total", server=good) is None,
            "no errors for the real clamd")
    T.check(val(s, "mailsift_milter_scan_duration_seconds_count") == scanned,
            "scan histogram count %r" % val(s, "mailsift_milter_scan_duration_seconds_count"))
    T.check(val(s, "mailsift_milter_scan_duration_seconds_bucket", le="+Inf") == scanned,
            "scan +Inf bucket")
    T.check(val(s, "mailsift_milter_eom_duration_seconds_count") == len(sent),
            "eom histogram count %r" % val(s, "mailsift_milter_eom_duration_seconds_count"))
    raw_bytes = sum(len(raw) for _, raw, _ in sent)
    got = val(s, "mailsift_milter_received_bytes_total") or 0
    T.check(raw_bytes <= got < raw_bytes + 2000 * len(sent),
            "received bytes %r for %d bytes sent" % (got, raw_bytes))
    T.check(val(s, "mailsift_milter_connections_refused_total") == 0, "no refused connections")
    return s


def check_milter_reload(r):
    """SIGHUP with a new [milter] metrics address: served there, not on the old one."""
    r.write_conf(os.path.join(r.work, "archive"), r.p_milter2)
    with open(os.path.join(r.work, "milter.pid")) as f:
        os.kill(int(f.read()), signal.SIGHUP)
    T.check(wait_for(lambda: port_open(r.p_milter2), 20), "milter metrics moved on SIGHUP")
    T.check(wait_for(lambda: not port_open(r.p_milter), 20), "old milter metrics port closed")
    _, s = scrape(r.p_milter2)
    T.check(val(s, "mailsift_milter_messages_total", outcome="clean", action="accept") == N_CLEAN,
            "counters kept across the reload")
    return s


def check_backlog(r):
    """indexd cannot open its archive: everything waits in the spool."""
    time.sleep(1.2)
    text, s = scrape(r.p_indexd)
    if not T.check(text, "indexd metrics reachable"):
        return
    promtool(text, "indexd, archive down")
    n = N_CLEAN + N_EICAR + N_BLOCKED + 1  # + the garbage entry
    T.check(val(s, "mailsift_indexd_spool_entries") == n,
            "backlog %r entries, want %d" % (val(s, "mailsift_indexd_spool_entries"), n))
    age = val(s, "mailsift_indexd_spool_oldest_age_seconds")
    T.check(age is not None and age >= 1, "oldest entry age %r >= 1 s" % age)
    T.check(val(s, "mailsift_indexd_messages_indexed_total") == 0, "nothing indexed yet")


def shard_dirs(archive):
    d = os.path.join(archive, "shards")
    return [n for n in os.listdir(d) if not n.startswith(".")] if os.path.isdir(d) else []


def check_indexed(r):
    n = N_CLEAN + N_EICAR + N_BLOCKED

    def drained():
        _, s = scrape(r.p_indexd)
        return (val(s, "mailsift_indexd_spool_entries") == 0 and
                val(s, "mailsift_indexd_messages_indexed_total") == n)
    T.check(wait_for(drained, 90), "spool drained, %d indexed" % n)
    text, s = scrape(r.p_indexd)
    if not text:
        return None
    promtool(text, "indexd")
    for name, want in (("mailsift_indexd_messages_indexed_total", n),
                       ("mailsift_indexd_parse_failures_total", 1),
                       ("mailsift_indexd_spool_entries", 0),
                       ("mailsift_indexd_spool_oldest_age_seconds", 0),
                       ("mailsift_indexd_commit_failures_total", 0),
                       ("mailsift_indexd_retries_total", 0),
                       ("mailsift_indexd_archive_shards",
                        len(shard_dirs(os.path.join(r.work, "archive"))))):
        T.check(val(s, name) == want, "%s = %r, want %r" % (name, val(s, name), want))
    T.check(val(s, "mailsift_indexd_archive_shards") >= 1, "at least one shard")
    commits = val(s, "mailsift_indexd_commit_duration_seconds_count")
    T.check(commits is not None and 1 <= commits <= n, "commits %r" % commits)
    T.check(len(os.listdir(os.path.join(r.work, "spool", "bad"))) == 2, "garbage in bad/ (+ .why)")
    return s


def http_req(port, method, path, body=None, cookie=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Cookie": "msid=" + cookie} if cookie else {}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=h)
    resp = c.getresponse()
    resp.read()
    c.close()
    return resp.status, resp.getheader("Set-Cookie", "")


def web_traffic(r):
    """Logins and pages; returns what the counters must say."""
    login = lambda u, p: http_req(r.p_web, "POST", "/login", urllib.parse.urlencode(
        {"user": u, "password": p}))
    codes = [http_req(r.p_web, "GET", "/login")[0]]
    codes += [login("officer", "wrong")[0] for _ in range(2)]
    st, ck = login("officer", "secret")
    codes.append(st)
    m = re.search(r"msid=([0-9a-f]+)", ck)
    sid = m.group(1) if m else None
    T.check(st == 303 and sid, "officer logs in (%d)" % st)
    search = http_req(r.p_web, "GET", "/search?q=%2A", cookie=sid)[0]
    missing = http_req(r.p_web, "GET", "/no-such-page", cookie=sid)[0]
    T.check(search == 200 and missing == 404, "search %d, missing page %d" % (search, missing))
    mallory = []
    while len(mallory) < 15 and 429 not in mallory:
        mallory.append(login("mallory", "guess")[0])
    T.check(429 in mallory, "throttled after wrong passwords: %r" % mallory)
    posts = codes[1:] + mallory
    return {"ok": 1, "failed": posts.count(401), "throttled": posts.count(429),
            "login_posts": posts, "search": search, "missing": missing}


def check_web(r, want):
    text, s = scrape(r.p_webm)
    if not T.check(text, "web metrics reachable"):
        return None
    promtool(text, "web")
    for result in ("ok", "failed", "throttled"):
        got = val(s, "mailsift_web_logins_total", result=result)
        T.check(got == want[result], "logins %s = %r, want %r" % (result, got, want[result]))
    R = "mailsift_web_requests_total"
    for code in (303, 401, 429):
        n = want["login_posts"].count(code)
        T.check(val(s, R, page="login", code=str(code)) == n,
                "requests login/%d = %r, want %d" % (code, val(s, R, page="login", code=str(code)), n))
    T.check(val(s, R, page="login", code="200") == 1, "GET /login counted")
    T.check(val(s, R, page="search", code="200") == 1, "search page counted")
    T.check(val(s, R, page="other", code="404") == 1, "unknown page counted as other")
    n_login = 1 + len(want["login_posts"])
    T.check(val(s, "mailsift_web_request_duration_seconds_count", page="login") == n_login,
            "login latency count %r, want %d"
            % (val(s, "mailsift_web_request_duration_seconds_count", page="login"), n_login))
    total = sum(v for (name, _), v in s.items() if name == R)
    T.check(total == n_login + 2, "requests sum to %r, want %d" % (total, n_login + 2))
    return s


def check_dashboard(served):
    """The dashboard parses and every metric it queries is served."""
    try:
        with open(DASHBOARD) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        T.check(False, "dashboard: %s" % e)
        return
    panels = dash.get("panels", [])
    exprs = [t.get("expr", "") for p in panels for t in p.get("targets", [])]
    T.check(len(exprs) >= 9, "dashboard has queries (%d)" % len(exprs))
    names = set(re.findall(r"mailsift_\w+", " ".join(exprs)))
    for daemon in ("milter", "indexd", "web"):
        T.check(any(n.startswith("mailsift_%s_" % daemon) for n in names),
                "dashboard has %s panels" % daemon)
    unknown = sorted(n for n in names if n not in served)
    T.check(not unknown, "dashboard queries metrics nobody serves: %r" % unknown)


def main():
    r = Run()
    served = set()
    try:
        check_bad_config(r)
        os.makedirs(r.stack_dir)
        smtp = r.stack("stack_random_ports && echo $STACK_SMTP_PORT $STACK_LMTP_PORT").split()
        r.env.update(STACK_SMTP_PORT=smtp[-2], STACK_LMTP_PORT=smtp[-1])
        r.stack("stack_clamd_start")
        r.start("mailsift-milter")
        T.check(wait_for(lambda: os.path.exists(os.path.join(r.work, "milter.sock")), 20),
                "milter socket")
        r.start("mailsift-indexd")
        r.stack("stack_postfix_start")
        with open(os.path.join(r.work, "spool", "new", "garbage"), "wb") as f:
            f.write(b"not a spool entry\n")
        sent = traffic(int(smtp[-2]))
        for s in (check_milter(r, sent), check_milter_reload(r)):
            served.update(name for name, _ in (s or {}))
        check_backlog(r)
        r.stop("mailsift-indexd")
        r.start("mailsift-indexd")
        served.update(name for name, _ in (check_indexed(r) or {}))
        p = subprocess.run([os.path.join(mstest.BUILD, "mailsift-web"), "-c", r.conf, "user",
                            "add", "officer", "--role", "officer"], input="secret\n",
                           text=True, capture_output=True)
        T.check(p.returncode == 0, "web user add: %s" % p.stderr)
        r.start("mailsift-web")
        T.check(wait_for(lambda: port_open(r.p_web) and port_open(r.p_webm), 20), "web up")
        served.update(name for name, _ in (check_web(r, web_traffic(r)) or {}))
        served = {re.sub(r"_(bucket|sum|count)$", "", n) for n in served} | served
        check_dashboard(served)
    except RuntimeError as e:
        T.check(False, str(e)[-1500:])
    finally:
        r.cleanup()
    T.done()


main()
