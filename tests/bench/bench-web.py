#!/usr/bin/env python3
"""bench-web.py - `make bench-web`: mailsift-web under 50 concurrent sessions.

Imports corpus A (the whole spamassassin corpus) into a private archive,
starts build/mailsift-web on a free loopback port, logs in SESSIONS (50)
sessions, and for each client runs one session alone for 10 s (the service
time without queueing), then all of them for SECONDS (60): each session with
its own login cookie and keep-alive connection, back to back, a bounded loop
of searches from a fixed list of varied queries (words, phrases, fields,
domains, date ranges, prefixes, OR/NOT, verdict filters), alternating the
JSON API and the HTML search page (every search is audited with its
fsync'ed line, as in production). Every response is checked: status 200
and a sane body (JSON with a count and hits, or a whole HTML page).

Clients (CLIENT=c, python or both; default both): c is build/web_load
(tests/bench/web_load.c, a thread per session on plain sockets), the load
of record; python is the same loop on http.client threads, whose GIL and
thread switching on a small machine add their own queueing to what it
measures. Prints per run: requests, errors, throughput, the client's
p50/p95/p99 latency, the server's own time per request (from its log line:
request complete to answer ready, without the network or queueing before
the request is read) and the slowest queries; exits 1 on any error.
Target: p95 under 100 ms.
"""
import http.client
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402
import webtest  # noqa: E402

SESSIONS = int(os.environ.get("SESSIONS", "50"))
SECONDS = float(os.environ.get("SECONDS", "60"))
CLIENTS = {"both": ["c", "python"]}.get(os.environ.get("CLIENT", "both"),
                                        [os.environ.get("CLIENT", "both")])
WEB_LOAD = os.path.join(mstest.BUILD, "web_load")
QUERIES = [
    "razor", "spamassassin", "subject:razor", "from:@spamassassin.taint.org",
    "\"free money\"", "money OR cash", "linux -windows", "perl*", "date:2002-08-01..2002-08-31",
    "to:@example.com", "subject:re", "body:unsubscribe", "attachment:pdf", "size:>10k",
    "from:yyyy@spamassassin.taint.org date:2002-09", "click here", "mortgage rates",
    "subject:(viagra OR pills)", "\"mailing list\"", "python", "exmh", "zzznotaword",
]
FILTERS = ["", "&verdict=clean", "&from=2002-08-01&to=2002-09-30", ""]
# request n of every session: JSON and HTML alternate over queries and filters
PATHS = [("/api/search?limit=50&q=" if n % 2 else "/search?q=")
         + urllib.parse.quote(QUERIES[n % len(QUERIES)]) + FILTERS[n % len(FILTERS)]
         for n in range(2 * len(QUERIES) * len(FILTERS))]


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p / 100.0))] if v else float("nan")


def body_ok(path, body):
    """The checks web_load.c makes: JSON with a count and hits, or a page."""
    if path.startswith("/api/"):
        return body.startswith(b'{"count":') and body.rstrip().endswith(b"]}")
    return body.rstrip().endswith(b"</html>")


def main():
    if "c" in CLIENTS and not os.access(WEB_LOAD, os.X_OK):
        print("bench-web: %s missing (make %s)" % (WEB_LOAD, WEB_LOAD))
        return 1
    con = webtest.Console()
    t0 = time.time()
    con.import_(*[os.path.join(mstest.CORPUS, d) for d in sorted(os.listdir(mstest.CORPUS))])
    print("bench-web: imported %d messages in %.1f s" % (con.count("*"), time.time() - t0))
    con.user("add", "bench", "--role", "officer")
    if not con.start():
        print("bench-web: mailsift-web did not start")
        return 1
    sids = [login(con) for _ in range(SESSIONS)]
    rc = 0
    for client in CLIENTS:
        for n_sessions, secs in ((1, min(10.0, SECONDS)), (SESSIONS, SECONDS)):
            log0 = len(con.weblog().splitlines())
            samples, wall = (run_c if client == "c" else run_python)(con, sids[:n_sessions], secs)
            server = server_ms(con.weblog().splitlines()[log0:])
            rc |= report(client, n_sessions, samples, wall, server)
    con.stop()
    con.cleanup()
    return rc


def login(con):
    c = con.conn()
    c.request("POST", "/login", urllib.parse.urlencode({"user": "bench", "password": "secret"}),
              {"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    return re.search(r"msid=([0-9a-f]+)", r.getheader("Set-Cookie", "")).group(1)


def run_c(con, sids, seconds):
    """web_load with sids for seconds: [(seconds, path index, ok)], wall."""
    script = "".join("sid %s\n" % s for s in sids) + "".join("path %s\n" % p for p in PATHS)
    p = subprocess.run([WEB_LOAD, str(con.port), str(seconds)], input=script.encode(),
                       stdout=subprocess.PIPE, check=True)
    samples, wall = [], float("nan")
    for line in p.stdout.decode().splitlines():
        f = line.split()
        if f[0] == "wall":
            wall = float(f[1])
        else:
            samples.append((int(f[1]) / 1e6, int(f[0]), f[2] == "1"))
    return samples, wall


def run_python(con, sids, seconds):
    """The same loop on http.client threads."""
    samples, lock = [], threading.Lock()
    end = time.time() + seconds

    def session(k):
        c, mine, n = con.conn(), [], k
        while time.time() < end:
            i = n % len(PATHS)
            n += 1
            s = time.perf_counter()
            try:
                c.request("GET", PATHS[i], headers={"Cookie": "msid=" + sids[k]})
                r = c.getresponse()
                ok = r.status == 200 and body_ok(PATHS[i], r.read())
            except (OSError, http.client.HTTPException):
                ok = False
            if not ok:
                c.close()
                c = con.conn()
            mine.append((time.perf_counter() - s, i, ok))
        with lock:
            samples.extend(mine)

    th = [threading.Thread(target=session, args=(k,)) for k in range(len(sids))]
    s0 = time.time()
    for x in th:
        x.start()
    for x in th:
        x.join()
    return samples, time.time() - s0


def server_ms(lines):
    """The server's time (ms) of each search in its log lines."""
    return sorted(int(m.group(1)) for m in
                  (re.search(r" GET /(?:api/)?search\S* \d+ \d+ (\d+)ms$", x) for x in lines) if m)


def report(client, n_sessions, samples, wall, server):
    ms = sorted(x[0] * 1000 for x in samples)
    errors = [PATHS[x[1]] for x in samples if not x[2]]
    by_q = {}
    for secs, i, _ in samples:
        q = urllib.parse.unquote(PATHS[i].split("q=", 1)[1].split("&")[0])
        by_q.setdefault(q, []).append(secs * 1000)
    tag = "bench-web [%s client]" % client
    print("%s: %d sessions, %.0f s: %d requests (%.0f/s), %d errors"
          % (tag, n_sessions, wall, len(ms), len(ms) / wall, len(errors)))
    print("%s: latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (target p95 < 100 ms: %s)"
          % (tag, pct(ms, 50), pct(ms, 95), pct(ms, 99), ms[-1] if ms else 0,
             "met" if pct(ms, 95) < 100 else "NOT met"))
    print("%s: server's own time p50 %s ms, p95 %s ms (%d log lines)"
          % (tag, pct(server, 50), pct(server, 95), len(server)))
    slow = sorted(by_q.items(), key=lambda kv: -pct(sorted(kv[1]), 50))[:3]
    print("%s: slowest queries (p50): " % tag + ", ".join(
        "%s %.0f ms" % (q, pct(sorted(v), 50)) for q, v in slow))
    for e in errors[:5]:
        print("%s: error %s" % (tag, e))
    return 1 if errors or not ms else 0


if __name__ == "__main__":
    sys.exit(main())
