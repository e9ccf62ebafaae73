#!/bin/bash
# bench-pipeline.sh - the whole accept path under load: SMTP -> Postfix ->
# mailsift-milter (clamd scan, durable spool) -> mailsift-indexd -> archive.
#
# Starts a private clamd, mailsift-milter, mailsift-indexd and Postfix
# (smtpd_milters = our milter, discard delivery) on loopback, then sends
# $MSGS real corpus messages (default 8000, each given a unique Message-ID)
# over $SESSIONS concurrent SMTP sessions (default 20) from a threaded
# Python client that records when each 250 reply arrived and its queue id.
# indexd runs in the foreground under the same Python process, which
# time-stamps its log lines as they are written: "QID: indexed id=..." puts
# a message in the open batch, "committed N messages" makes the batch
# searchable (the line comes after the commit and the spool removal, so the
# delay is, if anything, overstated). Meanwhile the spool backlog (entries
# not yet archived, read from the segments by tests/lib/mstest.py) is
# sampled every 0.5 s. At the end one `mailsift search --json '*'` checks that every 250'd
# Message-ID is in the archive exactly once.
#
# Prints: messages sent / 250 / archived once; SMTP rate; sustained
# SMTP->searchable rate (from the first 250 to the last message committed);
# p50/p95/max delay from 250 to committed; spool backlog max and at the end.
# Exits 1 if a 250'd message is missing or duplicated in the archive, or
# the run could not be set up. Stops everything it started (trap).
#
# usage: bench-pipeline.sh [BUILD]   (env: MSGS, SESSIONS, BENCH_TIMEOUT)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:-build}" && pwd) || exit 1
MSGS=${MSGS:-8000}
SESSIONS=${SESSIONS:-20}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-90} # s after the last 250 for the archive to catch up
CORPUS=${MAILSIFT_CORPUS:-$top/../shared/corpus/spamassassin}
# shellcheck source=tests/stack/stack.sh
. "$top/tests/stack/stack.sh"

for b in mailsift mailsift-milter mailsift-indexd; do
	[ -x "$build/$b" ] || { echo "bench-pipeline: no $build/$b (run make)" >&2; exit 1; }
done
[ -d "$CORPUS" ] || { echo "bench-pipeline: no corpus at $CORPUS" >&2; exit 1; }

export STACK_DIR
STACK_DIR=$(mktemp -d /tmp/mailsift-bench-pipeline.XXXXXX)
chmod 755 "$STACK_DIR"
stack_random_ports || exit 1
# discard delivery; clamd spills each INSTREAM to tmpfs, as admins do
stack_bench_settings
STACK_SMTPD_MILTERS=unix:$STACK_DIR/milter.sock
CONF=$STACK_DIR/plugin.conf

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	stack_mailsift_stop
	stack_down
	rm -rf "$STACK_DIR" "$STACK_CLAMD_TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

t_setup=$(date +%s)
stack_clamd_start >/dev/null || exit 1
{ stack_mailsift_conf && stack_mailsift_start "$build" mailsift-milter; } || exit 1
stack_postfix_start >/dev/null || exit 1
echo "bench-pipeline: clamd, mailsift-milter, Postfix up in $(($(date +%s) - t_setup)) s;" \
	"sending $MSGS corpus messages over $SESSIONS sessions"

MSTEST_LIB=$top/tests/lib python3 - "$build" "$CONF" "$STACK_DIR" "$STACK_SMTP_PORT" "$CORPUS" "$MSGS" \
	"$SESSIONS" "$BENCH_TIMEOUT" <<'PY'
import collections, json, os, re, signal, smtplib, subprocess, sys, threading, time

build, conf, sdir, port, corpus = sys.argv[1:6]
sys.path.insert(0, os.environ["MSTEST_LIB"])
import mstest
port, n_msgs, n_sessions, catchup = int(port), int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8])
spool_dir = os.path.join(sdir, "spool")
now = time.monotonic
tag = "bench%d" % os.getpid()


def corpus_files():
    files = []
    for d, _, names in os.walk(corpus):
        files += [os.path.join(d, n) for n in names if not n.startswith(".")]
    files.sort()
    step = max(1, len(files) // n_msgs)
    files = files[::step] or files
    return [files[i % len(files)] for i in range(n_msgs)]


def with_message_id(raw, mid):
    """raw without an mbox From line, its Message-ID header(s) replaced."""
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    m = re.search(rb"\r?\n\r?\n", raw)
    head, body = (raw[:m.start()], raw[m.start():]) if m else (raw, b"\r\n\r\n")
    out, skip = [], False
    for line in re.split(rb"(?<=\n)", head):
        if line[:1] in (b" ", b"\t") and skip:
            continue
        skip = line[:11].lower() == b"message-id:"
        if not skip:
            out.append(line)
    return b"Message-ID: <%s>\r\n" % mid.encode() + b"".join(out) + body


msgs = []
for i, f in enumerate(corpus_files()):
    mid = "%s.%05d@mailsift.test" % (tag, i)
    with open(f, "rb") as fh:
        msgs.append((mid, with_message_id(fh.read(), mid)))

# ---- indexd, its log lines time-stamped as they arrive
indexd = subprocess.Popen([os.path.join(build, "mailsift-indexd"), "-f", "-c", conf],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
committed = {}        # queue id -> time its batch was committed
pending = []          # queue ids indexed, not yet committed
log_lines = []
started = threading.Event()
lock = threading.Lock()
indexed_re = re.compile(r"^mailsift-indexd: (\S+): indexed id=(\S+)")


def read_log():
    with open(os.path.join(sdir, "indexd.out"), "w") as out:
        for raw in indexd.stderr:
            t = now()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            out.write("%.3f %s\n" % (t, line))
            with lock:
                m = indexed_re.match(line)
                if m:
                    pending.append(m.group(1))
                elif "committed " in line and " messages in " in line:
                    for q in pending:
                        committed.setdefault(q, t)
                    pending.clear()
                elif "commit of " in line and "failed" in line:
                    pending.clear()  # those entries stay in the spool, redone
                elif "entries waiting" in line:
                    started.set()
                if " error: " in line or " warning: " in line or "fatal" in line:
                    log_lines.append(line)


reader = threading.Thread(target=read_log, daemon=True)
reader.start()
if not started.wait(30):
    print("bench-pipeline: mailsift-indexd did not start", file=sys.stderr)
    sys.exit(1)

# ---- spool backlog sampler
backlog, stop_sampling = [], threading.Event()


def sample():
    while not stop_sampling.is_set():
        try:
            n = mstest.spool_backlog(spool_dir)
            with lock:
                waiting = len(pending)
            backlog.append((now(), n, max(0, n - waiting)))
        except OSError:
            pass
        stop_sampling.wait(0.5)


sampler = threading.Thread(target=sample, daemon=True)
sampler.start()

# ---- SMTP: SESSIONS threads, each one session sending its share
results = [None] * len(msgs)  # (code, time of the reply, queue id)
queued_re = re.compile(rb"queued as ([0-9A-Za-z]+)")


def session(k):
    s = None
    for i in range(k, len(msgs), n_sessions):
        try:
            if s is None:
                s = smtplib.SMTP("127.0.0.1", port, timeout=120)
                s.ehlo("bench.test")
            code, _ = s.mail("sender@example.net")
            if code == 250:
                code, _ = s.rcpt("bob@example.org")
            if code not in (250, 251):
                results[i] = (code, now(), None)
                s.rset()
                continue
            code, resp = s.data(msgs[i][1])
            m = queued_re.search(resp)
            results[i] = (code, now(), m.group(1).decode() if m else None)
        except smtplib.SMTPResponseException as e:
            results[i] = (e.smtp_code, now(), None)
            try:
                s.rset()
            except (smtplib.SMTPException, OSError):
                s = None
        except (smtplib.SMTPException, OSError) as e:
            results[i] = (0, now(), str(e))
            s = None
    if s is not None:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


t_send = now()
threads = [threading.Thread(target=session, args=(k,)) for k in range(n_sessions)]
for th in threads:
    th.start()
for th in threads:
    th.join()
t_sent = now()
ok = [(i, r) for i, r in enumerate(results) if r and r[0] == 250]
want = {r[2] for _, r in ok if r[2]}


def caught_up():
    with lock:
        return want.issubset(committed.keys())


end = now() + catchup
while now() < end and not (caught_up() and not mstest.spool_backlog(spool_dir)):
    time.sleep(0.05)
time.sleep(0.6)  # one more backlog sample at the end
stop_sampling.set()
sampler.join()
t_end = now()
indexd.send_signal(signal.SIGTERM)
try:
    rc_indexd = indexd.wait(30)
except subprocess.TimeoutExpired:
    indexd.kill()
    rc_indexd = indexd.wait()
reader.join(5)

# ---- the archive: every 250'd Message-ID exactly once
t0 = now()
p = subprocess.run([os.path.join(build, "mailsift"), "-c", conf, "search", "--json", "*"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
t_search = now() - t0
hits = [json.loads(l) for l in p.stdout.decode("utf-8", "replace").splitlines() if l.strip()]
per_mid = collections.Counter(h.get("message_id", "") for h in hits)
mids_ok = [msgs[i][0] for i, _ in ok]
missing = [m for m in mids_ok if per_mid[m] == 0]
twice = [m for m in mids_ok if per_mid[m] > 1]
once = len(mids_ok) - len(missing) - len(twice)


def pct(v, q):
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))] if v else float("nan")


delays = sorted(committed[r[2]] - r[1] for _, r in ok if r[2] in committed)
t_first = min((r[1] for _, r in ok), default=t_send)
t_last = max((committed[r[2]] for _, r in ok if r[2] in committed), default=t_end)
codes = collections.Counter(r[0] if r else None for r in results)
others = ", ".join("%s x%d" % (c, n) for c, n in sorted(codes.items(), key=str) if c != 250)
n_ok = len(ok)
spool_max = max((n for _, n, _ in backlog), default=0)
unindexed_max = max((u for _, _, u in backlog), default=0)
spool_end = backlog[-1][1] if backlog else -1
every = max(1, len(backlog) // 15)
over_time = " ".join("%d/%d" % (n, u) for _, n, u in backlog[::every])
n_noqid = sum(1 for _, r in ok if not r[2])

print("pipeline: %d messages, %d got 250%s, %d archived once (%d missing, %d duplicated)"
      % (len(msgs), n_ok, " (others: %s)" % others if others else "", once, len(missing), len(twice)))
print("SMTP: %.0f msg/s (%d sessions, %.1f s)"
      % (n_ok / (t_sent - t_send) if t_sent > t_send else 0, n_sessions, t_sent - t_send))
if delays:
    print("SMTP->searchable: %.0f msg/s sustained (%.1f s from first 250 to last commit); "
          "delay p50 %.2f s, p95 %.2f s, max %.2f s; spool backlog max %d, end %d"
          % (len(delays) / (t_last - t_first) if t_last > t_first else 0, t_last - t_first,
             pct(delays, 0.5), pct(delays, 0.95), delays[-1], spool_max, spool_end))
print("spool backlog every %.1f s (entries / of which not yet indexed; the rest wait for "
      "their batch's commit): %s; not yet indexed max %d" % (0.5 * every, over_time, unindexed_max))
if len(delays) != n_ok:
    print("bench-pipeline: %d of %d 250'd messages never seen committed in indexd's log "
          "(%d without a queue id in the reply)" % (n_ok - len(delays), n_ok, n_noqid))
print("(indexd exit %s; final search of %d hits took %.1f s)" % (rc_indexd, len(hits), t_search))
for l in log_lines[:5]:
    print("indexd: " + l)
bad = missing or twice or p.returncode != 0 or n_ok == 0
if missing:
    print("bench-pipeline: missing from the archive: %s" % missing[:5], file=sys.stderr)
if twice:
    print("bench-pipeline: archived more than once: %s" % twice[:5], file=sys.stderr)
if p.returncode != 0:
    print("bench-pipeline: search failed: %s" % p.stderr.decode()[-300:], file=sys.stderr)
sys.exit(1 if bad else 0)
PY
rc=$?
[ "$rc" -eq 0 ] || echo "bench-pipeline: FAILED (logs were in $STACK_DIR)" >&2
exit $rc
