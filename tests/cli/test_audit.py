#!/usr/bin/env python3
"""test_audit.py - the audit trail at the command level, on an archive of
300 messages from the SpamAssassin corpus: every search, count, show and
reindex (and hold, export, expire) appends one line with the right fields
(operator = the Unix user, or SUDO_USER under sudo; matched = what the
command printed; the ids shown); the chain is recomputed here in Python,
independently of the C code, after many appends and after appends from
several processes at once (no line lost); `audit verify` names the first
bad line for a changed byte, a deleted line, an inserted line and a
truncated tail, tells a crash-cut last line apart, and the next append
repairs it; an unwritable audit log makes search, count and show fail with
one line and no result; `audit show` prints the trail, `--json` the lines
as stored, and `--since` filters by date (on a log written by this test,
which also shows that the format is what README.md documents).
"""
import datetime
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("audit")
SAMPLE = 300
GENESIS = "0" * 64
FIELDS = ["seq", "time", "operator", "client", "host", "pid", "uid", "action",
          "query", "matched", "ids", "prev"]


def sample_files():
    files = []
    for d, _, names in os.walk(mstest.CORPUS):
        files += [os.path.join(d, n) for n in names if not n.startswith(".")]
    files.sort()
    step = max(1, len(files) // SAMPLE)
    return files[::step][:SAMPLE]


def log_path(ar):
    return os.path.join(ar.dir, "audit.log")


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return f.read().splitlines(keepends=True)


def entries(ar):
    return [json.loads(l) for l in read_lines(log_path(ar))]


def chain_ok(path):
    """Recomputes the chain and the head in Python; returns a problem or None."""
    prev, total = GENESIS, 0
    lines = read_lines(path)
    for i, raw in enumerate(lines, 1):
        if not raw.endswith(b"\n"):
            return "line %d has no newline" % i
        e = json.loads(raw)
        if [k for k in e if k != "repair"] != FIELDS or list(e)[-2:-1] not in (["ids"], ["repair"]):
            return "line %d: fields %s" % (i, list(e))
        if e["seq"] != i or e["prev"] != prev:
            return "line %d: seq %s prev %s" % (i, e["seq"], e["prev"])
        prev = hashlib.sha256(raw).hexdigest()
        total += len(raw)
    with open(path + ".head") as f:
        head = f.read()
    want = "mailsift-audit-head 1\nlines %d\nbytes %d\nlast %s\n" % (len(lines), total, prev)
    return None if head == want else "head %r, want %r" % (head, want)


def last_entry(ar, n_before, what):
    es = entries(ar)
    T.check(len(es) == n_before + 1, "%s: one line appended (%d -> %d)" % (what, n_before, len(es)))
    return es[-1] if es else {}


def check_fields(e, action, query, matched, ids, what, operator=None):
    T.check(e.get("action") == action, "%s: action %s" % (what, e.get("action")))
    T.check(e.get("query") == query, "%s: query %r" % (what, e.get("query")))
    T.check(e.get("matched") == matched, "%s: matched %s, want %s" % (what, e.get("matched"), matched))
    T.check(e.get("ids") == ids, "%s: ids %s" % (what, e.get("ids")))
    want_op = operator or pwd.getpwuid(os.getuid()).pw_name
    T.check(e.get("operator") == want_op, "%s: operator %s" % (what, e.get("operator")))
    T.check(e.get("host") == socket.gethostname(), "%s: host %s" % (what, e.get("host")))
    T.check(e.get("client") == "" and isinstance(e.get("pid"), int), "%s: client, pid" % what)
    t = e.get("time", "")
    try:
        when = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
        age = abs((datetime.datetime.utcnow() - when).total_seconds())
        T.check(age < 300, "%s: time %s is now" % (what, t))
    except ValueError:
        T.check(False, "%s: time %r is ISO 8601 UTC with fraction" % (what, t))


def test_reads(ar):
    rc, out, err = ar.run("search", "from:org")
    n = len(out.splitlines())
    T.check(rc == 0 and n > 0, "search from:org: %s" % err)
    check_fields(last_entry(ar, 0, "search"), "search", "from:org", n, [], "search")
    before = len(entries(ar))
    rc, out, err = ar.run("search", "--json", "--limit", "5", "subject:re", "OR", "body:money")
    T.check(rc == 0 and len(out.splitlines()) == 5, "search --limit 5: %s" % err)
    check_fields(last_entry(ar, before, "search --limit"), "search",
                 "subject:re OR body:money", 5, [], "search --limit")
    ids = [json.loads(l)["id"] for l in out.splitlines()]
    before = len(entries(ar))
    rc, out, err = ar.run("count", "*")
    T.check(rc == 0 and int(out) > 0, "count: %s" % err)
    check_fields(last_entry(ar, before, "count"), "count", "*", int(out or 0), [], "count")
    before = len(entries(ar))
    rc, out, err = ar.run("search", "zzzznosuchwordzzzz")
    T.check(rc == 0 and out == b"", "search with no hits")
    check_fields(last_entry(ar, before, "no hits"), "search", "zzzznosuchwordzzzz", 0, [], "no hits")
    before = len(entries(ar))
    rc, out, err = ar.run("show", ids[0])
    T.check(rc == 0 and len(out) > 100, "show: %s" % err)
    check_fields(last_entry(ar, before, "show"), "show", None, 1, [ids[0]], "show")
    before = len(entries(ar))
    rc, out, err = ar.run("show", "nosuchid")
    T.check(rc == 1 and out == b"", "show of a missing id fails")
    check_fields(last_entry(ar, before, "show missing"), "show", None, 0, ["nosuchid"], "show missing")
    # a bad query reads nothing and is not an access
    before = len(entries(ar))
    rc, out, err = ar.run("search", "subject:(")
    T.check(rc != 0 and len(entries(ar)) == before, "a query error writes no line")


def test_sudo(ar):
    before = len(entries(ar))
    env = dict(os.environ, SUDO_USER="alice")
    p = subprocess.run([mstest.MAILSIFT, "-c", ar.conf, "count", "from:org"], env=env,
                       capture_output=True)
    T.check(p.returncode == 0, "count under SUDO_USER")
    e = last_entry(ar, before, "sudo")
    want = "alice" if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
    check_fields(e, "count", "from:org", int(p.stdout or 0), [], "sudo", operator=want)


def test_reindex(ar):
    total = int(ar.run("count", "*")[1])
    before = len(entries(ar))
    rc, _, err = ar.run("reindex")
    T.check(rc == 0, "reindex: %s" % err)
    # reindex's own line, then count's
    e = entries(ar)[before] if len(entries(ar)) > before else {}
    check_fields(e, "reindex", None, total, [], "reindex")


def has_command(name):
    p = subprocess.run([mstest.MAILSIFT, "--help"], capture_output=True)
    return ("\n  %s " % name) in p.stdout.decode()


def test_help():
    p = subprocess.run([mstest.MAILSIFT, "--help"], capture_output=True)
    out = p.stdout.decode()
    T.check(p.returncode == 0 and not p.stderr, "--help: exit 0, usage on stdout")
    T.check("\n  audit verify " in out and "\n  audit show [--since DATE] [--json]" in out,
            "--help lists the audit commands: %r" % out)


def test_compliance_commands(ar, files):
    """hold, export and expire write their lines too."""
    T.check(has_command("hold") and has_command("expire") and has_command("export"),
            "hold, expire and export are in --help")
    before = len(entries(ar))
    rc, _, err = ar.run("hold", "add", "matter1", "--reason", "case 1", "from:org")
    T.check(rc == 0, "hold add: %s" % err)
    es = entries(ar)[before:]
    T.check([e["action"] for e in es] == ["hold-add"], "hold add: %s" % [e["action"] for e in es])
    before = len(entries(ar))
    out_dir = os.path.join(ar.tmp, "export")
    rc, _, err = ar.run("export", "--format", "eml", "subject:re", "-o", out_dir)
    T.check(rc == 0, "export: %s" % err)
    es = entries(ar)[before:]
    T.check(len(es) == 1 and es[0]["action"] == "export", "export line: %s" % es)
    if es:
        n = int(ar.run("count", "subject:re")[1])
        T.check(es[0]["matched"] == n and len(es[0]["ids"]) == n, "export: matched and ids")
    before = len(entries(ar))
    rc, _, err = ar.run("hold", "release", "matter1", "--reason", "closed")
    T.check(rc == 0, "hold release: %s" % err)
    es = entries(ar)[before:]
    T.check([e["action"] for e in es] == ["hold-release"], "hold release: %s" % es)
    before = len(entries(ar))
    rc, _, err = ar.run("expire", "--dry-run")
    es = entries(ar)[before:]
    T.check(rc == 0 and [e["action"] for e in es] == ["expire-dry-run"],
            "expire --dry-run is audited as a listing, not a deletion: %s" % [e["action"] for e in es])
    before = len(entries(ar))
    rc, _, err = ar.run("expire")
    T.check(rc == 0, "expire: %s" % err)
    es = entries(ar)[before:]
    T.check(len(es) >= 1 and all(e["action"] == "expire" for e in es),
            "expire: %s" % [e["action"] for e in es])


def test_many_and_concurrent(ar):
    for i in range(30):
        ar.run("count", "from:user%d" % i)
    T.check(chain_ok(log_path(ar)) is None, "chain after many appends: %s" % chain_ok(log_path(ar)))
    before = len(entries(ar))
    procs = [subprocess.Popen([mstest.MAILSIFT, "-c", ar.conf, "search", "--limit", "1",
                               "w%d" % i], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for i in range(48)]
    codes = [p.wait() for p in procs]
    T.check(codes == [0] * 48, "48 concurrent searches succeed: %s" % codes)
    es = entries(ar)
    T.check(len(es) == before + 48, "no line lost: %d -> %d" % (before, len(es)))
    T.check(sorted(e["query"] for e in es[before:]) == sorted("w%d" % i for i in range(48)),
            "each concurrent search has its line")
    T.check(chain_ok(log_path(ar)) is None, "chain after concurrent appends: %s" % chain_ok(log_path(ar)))
    rc, out, err = ar.run("audit", "verify")
    T.check(rc == 0 and b"intact" in out and not err, "audit verify clean: %s" % err)


def verify_copy(ar, lines, extra=b""):
    """audit verify on a copy of the log (lines + extra) with the real head."""
    d = os.path.join(ar.tmp, "copy")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    path = os.path.join(d, "audit.log")
    with open(path, "wb") as f:
        f.write(b"".join(lines) + extra)
    shutil.copy(log_path(ar) + ".head", path + ".head")
    conf = os.path.join(d, "plugin.conf")
    with open(conf, "w") as f:
        f.write("[archive]\ndir = %s\n[audit]\nfile = %s\n" % (ar.dir, path))
    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "audit", "verify"], capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode(), conf


def flip(line):
    i = line.index(b'"time":"') + 9  # a digit of the year: still valid JSON
    return line[:i] + bytes([line[i] ^ 1]) + line[i + 1:]


def test_damage(ar):
    lines = read_lines(log_path(ar))
    n = len(lines)
    cases = [
        ("changed byte in line 5", lines[:4] + [flip(lines[4])] + lines[5:], 5, "changed"),
        ("changed byte in the last line", lines[:-1] + [flip(lines[-1])], n, "changed"),
        ("deleted line 5", lines[:4] + lines[5:], 5, "removed"),
        ("inserted line at 5", lines[:4] + [lines[1]] + lines[4:], 5, "inserted"),
        ("truncated tail", lines[:-2], n - 1, "truncated"),
        ("cut inside the last line", lines[:-1] + [lines[-1][:40]], n, "truncated"),
    ]
    for what, damaged, bad, word in cases:
        rc, out, err, _ = verify_copy(ar, damaged)
        T.check(rc == 1, "%s: exit %d" % (what, rc))
        T.check(("line %d:" % bad) in err and word in err and err.count("\n") == 1,
                "%s: names line %d: %r" % (what, bad, err))
        T.check("intact" not in out, "%s: not intact" % what)
    # crash-cut: half a line, everything before matches the head
    half = lines[-1][:len(lines[-1]) // 2].replace(b'"seq":%d' % n, b'"seq":%d' % (n + 1))
    rc, out, err, conf = verify_copy(ar, lines, extra=half)
    T.check(rc == 0 and "incomplete (crash during append?)" in err and "intact" in out,
            "crash-cut tail is a warning: %d %r" % (rc, err))
    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "count", "*"], capture_output=True)
    T.check(p.returncode == 0, "the next append works")
    repaired = json.loads(read_lines(os.path.join(ar.tmp, "copy", "audit.log"))[-1])
    T.check(repaired.get("repair") == "removed a partial last line (%d bytes)" % len(half),
            "the repairing line says so: %s" % repaired.get("repair"))
    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "audit", "show"], capture_output=True)
    T.check(b"repaired: removed a partial" in p.stdout.splitlines()[-1], "audit show shows the repair")
    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "audit", "verify"], capture_output=True)
    T.check(p.returncode == 0 and not p.stderr, "repaired: verify clean: %r" % p.stderr)
    T.check(chain_ok(os.path.join(ar.tmp, "copy", "audit.log")) is None, "repaired chain (Python)")
    T.check(len(read_lines(os.path.join(ar.tmp, "copy", "audit.log"))) == n + 1,
            "the partial line is gone, the new one is line %d" % (n + 1))


def test_unwritable(ar):
    cases = [("parent is a file", os.path.join(ar.conf, "audit.log")),
             ("no such directory", os.path.join(ar.tmp, "nodir", "audit.log")),
             ("a directory", ar.tmp)]
    some_id = json.loads(ar.run("search", "--json", "--limit", "1", "*")[1])["id"]
    for what, path in cases:
        conf = os.path.join(ar.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("[archive]\ndir = %s\n[audit]\nfile = %s\n" % (ar.dir, path))
        for args in (["search", "from:org"], ["count", "*"], ["show", some_id],
                     ["search", "--json", "*"]):
            p = subprocess.run([mstest.MAILSIFT, "-c", conf] + args, capture_output=True)
            err = p.stderr.decode()
            T.check(p.returncode == 1 and p.stdout == b"", "%s: %s fails with no output" % (what, args[0]))
            T.check(err.count("\n") == 1 and "audit:" in err and path in err,
                    "%s: %s: one clear line: %r" % (what, args[0], err))
    # changes and exports: refused, nothing changed or written
    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "hold", "add", "unaudited", "from:org"],
                       capture_output=True)
    T.check(p.returncode == 1 and b"audit:" in p.stderr, "hold add fails without audit")
    rc, out, _ = ar.run("hold", "list")
    T.check(rc == 0 and b"unaudited" not in out, "no hold placed without its audit line")
    dest = os.path.join(ar.tmp, "unaudited-export")
    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "export", "--format", "eml", "*", "-o", dest],
                       capture_output=True)
    T.check(p.returncode == 1 and not (os.path.isdir(dest) and os.listdir(dest)),
            "export fails without audit and writes no message")


def write_log(path, times):
    """A log written here, to the format README.md documents."""
    prev, out = GENESIS, b""
    for i, t in enumerate(times, 1):
        e = {"seq": i, "time": t, "operator": "op%d" % i, "client": "", "host": "h",
             "pid": 1, "uid": 0, "action": "search", "query": "q%d" % i, "matched": i,
             "ids": [], "prev": prev}
        raw = (json.dumps(e, separators=(",", ":")) + "\n").encode()
        prev = hashlib.sha256(raw).hexdigest()
        out += raw
    with open(path, "wb") as f:
        f.write(out)
    with open(path + ".head", "w") as f:
        f.write("mailsift-audit-head 1\nlines %d\nbytes %d\nlast %s\n" % (len(times), len(out), prev))


def test_show(ar):
    rc, out, err = ar.run("audit", "show")
    lines = out.decode().splitlines()
    T.check(rc == 0 and len(lines) == len(entries(ar)), "audit show: a line per entry")
    T.check("search" in lines[0] and "from:org" in lines[0], "readable line: %s" % lines[:1])
    rc, out, err = ar.run("audit", "show", "--json")
    T.check(out.splitlines(keepends=True) == read_lines(log_path(ar)), "--json: the lines as stored")
    d = os.path.join(ar.tmp, "since")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "audit.log")
    write_log(path, ["2023-12-31T23:59:59.999999Z", "2024-01-01T00:00:00.000000Z",
                     "2024-01-15T08:00:00.500000Z", "2024-02-01T00:00:00.000001Z"])
    conf = os.path.join(d, "plugin.conf")
    with open(conf, "w") as f:
        f.write("[archive]\ndir = %s\n[audit]\nfile = %s\n" % (ar.dir, path))

    def show(*args):
        p = subprocess.run([mstest.MAILSIFT, "-c", conf, "audit", "show"] + list(args),
                           capture_output=True)
        return p.returncode, p.stdout.decode().splitlines(), p.stderr.decode()

    p = subprocess.run([mstest.MAILSIFT, "-c", conf, "audit", "verify"], capture_output=True)
    T.check(p.returncode == 0 and not p.stderr, "a log written to the documented format verifies")
    for since, want in [("2024", ["op2", "op3", "op4"]), ("2024-01", ["op2", "op3", "op4"]),
                        ("2024-01-15", ["op3", "op4"]), ("2024-01-16", ["op4"]),
                        ("2024-02", ["op4"]), ("2025", []), ("2023-12-31", ["op1", "op2", "op3", "op4"])]:
        rc, out, err = show("--since", since)
        got = [l.split()[3].split("@")[0] for l in out]
        T.check(rc == 0 and got == want, "--since %s: %s, want %s" % (since, got, want))
    rc, out, err = show("--since", "2024-01", "--json")
    T.check([json.loads(l)["operator"] for l in out] == ["op2", "op3", "op4"], "--since with --json")
    for bad in ("2024-13", "yesterday", "2024-1-5"):
        rc, out, err = show("--since", bad)
        T.check(rc == 2 and not out and "bad date" in err, "--since %s refused: %r" % (bad, err))


def main():
    ar = mstest.Archive()
    try:
        files = sample_files()
        rc, _, err = ar.run("import", *files)
        T.check(rc == 0, "import: %s" % err)
        T.check(not entries(ar), "import itself writes no audit line")
        test_help()
        test_reads(ar)
        test_sudo(ar)
        test_reindex(ar)
        test_compliance_commands(ar, files)
        test_many_and_concurrent(ar)
        test_damage(ar)
        test_unwritable(ar)
        test_show(ar)
    finally:
        ar.cleanup()
    T.done()


main()
