#!/usr/bin/env python3
"""bench-web.py - `make bench-web`: mailsift-web under 50 concurrent sessions.

Imports corpus A (the whole spamassassin corpus) into a private archive,
starts build/mailsift-web on a free loopback port, logs in SESSIONS (50)
sessions and runs each in its own thread, with its own keep-alive
connection, for SECONDS (60) (after 10 s of one session alone, the
service time without queueing): a bounded loop of searches from a fixed list
of varied queries (words, phrases, fields, domains, date ranges, prefixes,
OR/NOT, verdict filters), alternating the JSON API and the HTML search page
(every search is audited with its fsync'ed line, as in production). Prints
requests, errors (any status but 200, any exception), throughput and the
p50/p95/p99 latency and the slowest queries; exits 1 on any error. Target: p95 under 100 ms.
"""
import http.client
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402
import webtest  # noqa: E402

SESSIONS = int(os.environ.get("SESSIONS", "50"))
SECONDS = float(os.environ.get("SECONDS", "60"))
QUERIES = [
    "razor", "spamassassin", "subject:razor", "from:@spamassassin.taint.org",
    "\"free money\"", "money OR cash", "linux -windows", "perl*", "date:2002-08-01..2002-08-31",
    "to:@example.com", "subject:re", "body:unsubscribe", "attachment:pdf", "size:>10k",
    "from:yyyy@spamassassin.taint.org date:2002-09", "click here", "mortgage rates",
    "subject:(viagra OR pills)", "\"mailing list\"", "python", "exmh", "zzznotaword",
]
FILTERS = ["", "&verdict=clean", "&from=2002-08-01&to=2002-09-30", ""]


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p / 100.0))] if v else float("nan")


def main():
    con = webtest.Console()
    t0 = time.time()
    con.import_(*[os.path.join(mstest.CORPUS, d) for d in sorted(os.listdir(mstest.CORPUS))])
    print("bench-web: imported %d messages in %.1f s" % (con.count("*"), time.time() - t0))
    con.user("add", "bench", "--role", "officer")
    if not con.start():
        print("bench-web: mailsift-web did not start")
        return 1
    sids = []
    for _ in range(SESSIONS):
        c = con.conn()
        c.request("POST", "/login", urllib.parse.urlencode({"user": "bench", "password": "secret"}),
                  {"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        r.read()
        sids.append(re.search(r"msid=([0-9a-f]+)", r.getheader("Set-Cookie", "")).group(1))
    rc = 0
    for n_sessions, secs in ((1, min(10.0, SECONDS)), (SESSIONS, SECONDS)):
        rc |= run(con, sids[:n_sessions], secs)
    con.stop()
    con.cleanup()
    return rc


def run(con, sids, seconds):
    """len(sids) sessions searching for seconds; prints the figures."""
    lat, errors, lock = [], [], threading.Lock()
    end = time.time() + seconds

    def session(k):
        c, mine, n = con.conn(), [], k
        while time.time() < end:
            q = urllib.parse.quote(QUERIES[n % len(QUERIES)]) + FILTERS[n % len(FILTERS)]
            path = ("/api/search?limit=50&q=" if n % 2 else "/search?q=") + q
            n += 1
            s = time.perf_counter()
            try:
                c.request("GET", path, headers={"Cookie": "msid=" + sids[k]})
                r = c.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException) as e:
                ok, r = False, e
                c.close()
                c = con.conn()
            mine.append((time.perf_counter() - s, path.split("q=", 1)[1]))
            if not ok:
                with lock:
                    errors.append("%s: %s" % (path, getattr(r, "status", r)))
        with lock:
            lat.extend(mine)

    th = [threading.Thread(target=session, args=(k,)) for k in range(len(sids))]
    s0 = time.time()
    for x in th:
        x.start()
    for x in th:
        x.join()
    wall = time.time() - s0
    lat.sort()
    ms = [x[0] * 1000 for x in lat]
    by_q = {}
    for x, q in lat:
        by_q.setdefault(urllib.parse.unquote(q.split("&")[0]), []).append(x * 1000)
    print("bench-web: %d sessions, %.0f s: %d requests (%.0f/s), %d errors"
          % (len(sids), wall, len(ms), len(ms) / wall, len(errors)))
    print("bench-web: latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms (target p95 < 100 ms: %s)"
          % (pct(ms, 50), pct(ms, 95), pct(ms, 99), ms[-1] if ms else 0,
             "met" if pct(ms, 95) < 100 else "NOT met"))
    slow = sorted(by_q.items(), key=lambda kv: -pct(sorted(kv[1]), 50))[:3]
    print("bench-web: slowest queries (p50): " + ", ".join(
        "%s %.0f ms" % (q, pct(sorted(v), 50)) for q, v in slow))
    for e in errors[:5]:
        print("bench-web: error " + e)
    return 1 if errors or not ms else 0


if __name__ == "__main__":
    sys.exit(main())
