#!/usr/bin/env python3
"""test_holds.py - `mailsift hold` on an archive of real corpus mail:
add (the hold file's record, the output, an audit line naming the hold),
list (text and --json: name, state, query, reason, who, when, how many
messages it covers now, as `count` says), show (the same messages as
`search` prints, in both forms), release (reason required, kept as released
with who/when/why, no longer shown or holding), refusals with one-line
errors that leave the holds file byte for byte as it was (duplicate names,
released ones included; bad names; bad queries; a missing reason; an
unwritable audit log), holds surviving `mailsift reindex`, and a hold placed
before its mail arrives: mail imported afterwards that matches it is kept by
`expire` while everything else around it goes (and a released hold keeps
nothing).
"""
import email
import email.policy
import email.utils
import getpass
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("holds")
NOW = 1768478400  # 2026-01-15 12:00 UTC: "1d" lets all corpus mail go


def corpus(folder, n):
    d = os.path.join(mstest.CORPUS, folder)
    return [os.path.join(d, f) for f in sorted(os.listdir(d))[:n]]


def link_dir(root, files):
    os.makedirs(root)
    for f in files:
        os.symlink(f, os.path.join(root, os.path.basename(f)))
    return root


def from_domain(path):
    raw = open(path, "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.compat32)
    addrs = email.utils.getaddresses([str(x) for x in m.get_all("From", [])])
    return next((a.rsplit("@", 1)[1].lower() for _, a in addrs if "@" in a), None)


def holds_bytes(ar):
    p = os.path.join(ar.dir, "holds")
    return open(p, "rb").read() if os.path.exists(p) else None


def ids(out):
    return [json.loads(l)["id"] for l in out.decode().splitlines() if l.strip()]


def count(ar, q):
    rc, out, err = ar.run("count", q)
    return int(out) if rc == 0 else -1


def listing(ar):
    rc, out, err = ar.run("hold", "list", "--json")
    T.check(rc == 0, "hold list --json: %r" % err)
    return {h["name"]: h for h in (json.loads(l) for l in out.decode().splitlines())}


def audit_lines(ar):
    p = os.path.join(ar.dir, "audit.log")
    return [json.loads(l) for l in open(p)] if os.path.exists(p) else []


def refused(ar, args, want, status=1):
    """A refusal: exit status, one line naming the problem, no change."""
    before = holds_bytes(ar)
    rc, out, err = ar.run(*args)
    lines = err.strip().splitlines()
    T.check(rc == status and len(lines) == 1 and want in err and out == b"",
            "%s: rc %d %r" % (" ".join(args), rc, err))
    T.check(holds_bytes(ar) == before, "%s changed the holds file" % " ".join(args))


def test_add_list_show(ar, dom):
    q = "from:@" + dom
    n = count(ar, q)
    T.check(n > 0, "the sample has mail from %s" % dom)
    t0 = int(time.time())
    rc, out, err = ar.run("hold", "add", "matter-1", "--reason", "case 1: audit", q)
    T.check(rc == 0 and out.decode() == "hold matter-1 placed: %d messages match now\n" % n,
            "add: %r %r" % (out, err))
    last = audit_lines(ar)[-1]
    T.check(last["action"] == "hold-add" and last["query"] == "hold matter-1: " + q
            and last["matched"] == n, "audit line: %r" % last)
    h = listing(ar).get("matter-1", {})
    who = os.environ.get("SUDO_USER") if os.getuid() == 0 and os.environ.get("SUDO_USER") \
        else getpass.getuser()
    T.check(h.get("state") == "active" and h.get("query") == q and h.get("reason") == "case 1: audit"
            and h.get("by") == who and h.get("messages") == n
            and t0 - 1 <= h.get("at_unix", 0) <= int(time.time()) + 1, "list --json: %r" % h)
    rc, out, _ = ar.run("hold", "list")
    line = [l for l in out.decode().splitlines() if l.startswith("matter-1 ")]
    T.check(rc == 0 and len(line) == 1 and " active " in line[0] and " %d " % n in line[0]
            and q in line[0] and "(case 1: audit)" in line[0], "list: %r" % out)
    # show prints what search prints, both forms
    for form in ([], ["--json"]):
        rc, got, _ = ar.run("hold", "show", *form, "matter-1")
        _, want, _ = ar.run("search", *form, q)
        T.check(rc == 0 and got == want and len(got.splitlines()) == n, "show %s" % form)
    T.check(audit_lines(ar)[-2]["action"] == "search"
            and audit_lines(ar)[-2]["query"] == "hold matter-1: " + q, "show is audited")
    # a second hold with a date range and no reason
    rc, out, err = ar.run("hold", "add", "matter-2", "date:2002-08-01..2002-08-10")
    T.check(rc == 0 and listing(ar)["matter-2"]["reason"] == "", "add without reason: %r" % err)


def test_refusals(ar):
    refused(ar, ("hold", "add", "matter-1", "x"), "a hold named matter-1 already exists")
    for name in ("bad name", "a/b", ".hidden", "x" * 65, "caf\u00e9", "semi;colon"):
        refused(ar, ("hold", "add", name, "x"), "bad hold name")
    refused(ar, ("hold", "add", "-dash", "x"), "usage:", 2)
    refused(ar, ("hold", "add", "q1", "nosuch:x"), "bad query: unknown field 'nosuch'")
    refused(ar, ("hold", "add", "q2", "(a", "OR"), "bad query:")
    refused(ar, ("hold", "add", "q3"), "usage:", 2)
    refused(ar, ("hold", "add", "q4", "--reason", "r" * 1001, "x"), "reason longer than 1000")
    refused(ar, ("hold", "release", "matter-1"), "usage:", 2)
    refused(ar, ("hold", "release", "matter-1", "--reason", ""), "needs a reason")
    refused(ar, ("hold", "release", "nosuch", "--reason", "r"), "no hold named nosuch")
    refused(ar, ("hold", "show", "nosuch"), "no hold named nosuch")
    refused(ar, ("hold", "frobnicate"), "usage:", 2)
    # no audit, no change
    conf = os.path.join(ar.tmp, "noaudit.conf")
    with open(conf, "w") as f:
        f.write("[archive]\ndir = %s\n[audit]\nfile = %s/no/such/dir/audit.log\n"
                % (ar.dir, ar.tmp))
    before = holds_bytes(ar)
    for args in (("add", "unaudited", "x"), ("release", "matter-1", "--reason", "r")):
        p = subprocess.run([mstest.MAILSIFT, "-c", conf, "hold"] + list(args),
                           capture_output=True, text=True)
        T.check(p.returncode == 1 and "audit" in p.stderr and len(p.stderr.strip().splitlines()) == 1
                and holds_bytes(ar) == before, "unwritable audit log, %s: %r" % (args[0], p.stderr))


def test_release(ar):
    rc, out, err = ar.run("hold", "release", "matter-2", "--reason", "matter closed")
    T.check(rc == 0 and out == b"hold matter-2 released\n", "release: %r" % err)
    T.check(audit_lines(ar)[-1]["action"] == "hold-release", "release audited")
    h = listing(ar)["matter-2"]
    T.check(h["state"] == "released" and h["release_reason"] == "matter closed"
            and h["released_by"] and h["released_at"] and "messages" not in h,
            "released hold kept with who/when/why: %r" % h)
    rc, out, err = ar.run("hold", "show", "matter-2")
    T.check(rc == 0 and out == b"" and "released" in err, "show of a released hold: %r" % err)
    refused(ar, ("hold", "release", "matter-2", "--reason", "again"), "already released")
    refused(ar, ("hold", "add", "matter-2", "x"), "already exists (released)")


def test_reindex(ar):
    before, lst = holds_bytes(ar), listing(ar)
    rc, _, err = ar.run("reindex")
    T.check(rc == 0, "reindex: %r" % err)
    T.check(holds_bytes(ar) == before and listing(ar) == lst, "holds survive reindex")


def test_later_mail(ar, tmp):
    """A hold placed before its mail arrives holds that mail at expiry."""
    later = corpus("spam_2", 200)
    doms = {}
    for f in later:
        doms.setdefault(from_domain(f), []).append(f)
    dom = next(d for d, fs in sorted(doms.items(), key=lambda kv: -len(kv[1]))
               if d and count(ar, "from:@" + d) == 0)
    q = "from:@" + dom
    rc, out, err = ar.run("hold", "add", "before-arrival", q)
    T.check(rc == 0 and "0 messages match now" in out.decode(), "hold on no mail yet: %r" % out)
    rc, out, err = ar.run("hold", "add", "short-lived", "from:@" + next(
        d for d, fs in doms.items() if d and d != dom and count(ar, "from:@" + d) == 0))
    ar.run("hold", "release", "short-lived", "--reason", "not needed")
    rc, _, err = ar.run("import", link_dir(os.path.join(tmp, "later"), later))
    T.check(rc == 0, "import later mail: %r" % err)
    n_new, kept1 = count(ar, q), count(ar, listing(ar)["matter-1"]["query"])
    T.check(n_new == len(doms[dom]), "the later mail matches: %d of %d" % (n_new, len(doms[dom])))
    with open(ar.conf, "a") as f:
        f.write("[retention]\ndefault = 1d\n")
    os.environ["MAILSIFT_NOW"] = str(NOW)
    keep = set(ids(ar.run("search", "--json", q)[1])) | set(
        ids(ar.run("search", "--json", listing(ar)["matter-1"]["query"])[1]))
    rc, out, err = ar.run("expire", "--json")
    T.check(rc == 0, "expire: %r" % err)
    res = json.loads(out.decode().splitlines()[-1])
    held = {h["name"]: h["held"] for h in res["holds"]}
    dated = " date:1971..2099"  # mail with no usable date never expires
    want = {"before-arrival": count(ar, q + dated),
            "matter-1": count(ar, listing(ar)["matter-1"]["query"] + dated)}
    T.check(held == want and want["before-arrival"] > 0, "held per hold: %r, want %r" % (held, want))
    T.check(res["ids"] and not keep & set(res["ids"]) and res["deleted"] == len(res["ids"]),
            "no held id planned or deleted")
    T.check(count(ar, q) == n_new and count(ar, listing(ar)["matter-1"]["query"]) == kept1,
            "held mail kept")
    total = count(ar, "*")
    T.check(total == sum(want.values()) + res["undated"], "all else expired: %d left" % total)
    rc, out, _ = ar.run("verify")
    T.check(rc == 0, "verify after expire: %r" % out[-200:])


def main():
    ar = mstest.Archive()
    try:
        sample = corpus("easy_ham", 300)
        rc, _, err = ar.run("import", link_dir(os.path.join(ar.tmp, "in"), sample))
        T.check(rc == 0 and "300 new" in err, "import: %r" % err)
        test_add_list_show(ar, "spamassassin.taint.org")
        test_refusals(ar)
        test_release(ar)
        test_reindex(ar)
        test_later_mail(ar, ar.tmp)
    finally:
        ar.cleanup()
    T.done()


main()
