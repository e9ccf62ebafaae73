#!/usr/bin/env python3
"""test_lifecycle.py - the mailsift FTS index through a mailbox's life
(issue 5), against a private Dovecot with the plugin (tests/stack/stack.sh).

APPEND, SEARCH BODY/SUBJECT substrings (expected UIDs computed from what
was appended), EXPUNGE (gone from SEARCH and from the Xapian DB at once),
RENAME (same GUID directory kept, not re-indexed), DELETE (its index
directory removed), keys checked in the stored text (definite; a message
over its size limit stays maybe), `doveadm fts rescan` + `doveadm index`, `doveadm fts
optimize`, an index of another term scheme (not used, rebuilt), a
corrupted postlist.glass (SEARCH still right, no crash, a
warning in the log, the index rebuilt), and a second session searching
while the first APPENDs 50 messages. Dovecot's log must show no Panic,
Fatal or killed process. Needs root and build/lib21_fts_mailsift_plugin.so.

Environment: MSIMAP_KEEP=1 keeps the temp dir and leaves Dovecot running.
Prints "N passed, N failed".
"""
import imaplib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

ROOT = mstest.ROOT
PLUGIN = os.path.join(mstest.BUILD, "lib21_fts_mailsift_plugin.so")


stack = mstest.stack
free_ports = mstest.free_ports


def message(i, tag):
    """Message i of a mailbox: subject word topic<i%3>, body word zebra<i>."""
    return ("From: Sender %d <s%d@example.org>\r\nTo: alice@example.org\r\n"
            "Subject: %s topic%d note%d\r\nMessage-ID: <%s.%d@example.org>\r\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"
            "Hello, this is the %s body with zebra%d and shared words.\r\n"
            % (i, i, tag, i % 3, i, tag, i, tag, i)).encode()


class Dovecot:
    def __init__(self, t, base):
        self.t = t
        self.base = base
        d = os.path.join(base, "dc")
        mods = os.path.join(base, "modules")
        os.makedirs(mods)
        os.symlink("/usr/lib/dovecot/modules/lib20_fts_plugin.so", os.path.join(mods, "lib20_fts_plugin.so"))
        shutil.copy(PLUGIN, os.path.join(mods, "lib21_fts_mailsift_plugin.so"))
        conf = os.path.join(base, "plugin.conf")
        shutil.copy(os.path.join(ROOT, "plugin.conf"), conf)
        os.chmod(conf, 0o644)
        os.chmod(mods, 0o755)
        p = free_ports(3)
        self.port = p[0]
        self.index = os.path.join(d, "index")
        self.env = {"STACK_USERS": "alice", "STACK_DOVECOT_EXTRA": "mail_debug = yes",
                    "STACK_IMAP_PORT": str(p[0]), "STACK_POP3_PORT": str(p[1]),
                    "STACK_LMTP_PORT": str(p[2]), "STACK_DOVECOT_INDEX": self.index,
                    "STACK_DOVECOT_PLUGIN_DIR": mods,
                    "STACK_DOVECOT_MAIL_PLUGINS": "fts fts_mailsift",
                    "STACK_DOVECOT_PLUGIN_CONF": "  fts = mailsift\n  mailsift_config = %s\n" % conf}
        self.dir = d
        self.conf = os.path.join(d, "dovecot", "dovecot.conf")
        self.log = os.path.join(d, "dovecot", "dovecot.log")
        self.running = False

    def start(self):
        stack(self.dir, "stack_dovecot_start", self.env)
        self.running = True

    def stop(self):
        if self.running:
            try:
                stack(self.dir, "stack_dovecot_stop", self.env)
            except RuntimeError:
                pass

    def doveadm(self, *args):
        p = subprocess.run(["doveadm", "-c", self.conf] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        return p.returncode, p.stdout

    def guid(self, box):
        rc, out = self.doveadm("mailbox", "status", "-u", "alice", "guid", box)
        m = re.search(r"guid=([0-9a-f]{32})", out)
        return m.group(1) if rc == 0 and m else None

    def dbdir(self, guid):
        return os.path.join(self.index, "alice", "mailsift-fts", guid)

    def login(self):
        im = imaplib.IMAP4("127.0.0.1", self.port)
        im.login("alice", "secret")
        return im


def doccount(path):
    p = subprocess.run(["xapian-delve", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    m = re.search(r"number of documents = (\d+)", p.stdout)
    return int(m.group(1)) if m else None


def search(im, q):
    typ, data = im.uid("SEARCH", q)
    if typ != "OK":
        return None
    return sorted(int(x) for x in data[0].split())


def append(im, box, raw):
    typ, _ = im.append(box, None, None, raw)
    return typ == "OK"


def check_searches(t, im, what, uids, n, tag):
    """uids: the UIDs of messages 0..n-1 still present (None = expunged)."""
    live = [u for u in uids if u is not None]
    t.check(search(im, 'BODY "shared"') == live, "%s: BODY shared -> %s (%s)" %
            (what, live, search(im, 'BODY "shared"')))
    t.check(search(im, 'BODY "hared wor"') == live, "%s: BODY substring across words" % what)
    for i in range(n):
        exp = [uids[i]] if uids[i] is not None else []
        got = search(im, 'BODY "zebra%d"' % i)
        t.check(got == exp, "%s: BODY zebra%d -> %s, got %s" % (what, i, exp, got))
    for k in range(3):
        exp = [uids[i] for i in range(n) if i % 3 == k and uids[i] is not None]
        got = search(im, 'SUBJECT "opic%d"' % k)
        t.check(got == exp, "%s: SUBJECT opic%d -> %s, got %s" % (what, k, exp, got))
    got = search(im, 'SUBJECT "%s"' % tag[1:])
    t.check(got == live, "%s: SUBJECT %s -> %s, got %s" % (what, tag[1:], live, got))


def wait_count(path, want, secs=5.0):
    end = time.time() + secs
    while True:
        n = doccount(path)
        if n == want or time.time() > end:
            return n
        time.sleep(0.1)


def concurrent(t, dc):
    """Session A appends 50 messages while session B keeps searching."""
    a, b = dc.login(), dc.login()
    a.create("Busy")
    b.select("Busy")
    errors, done = [], threading.Event()

    def writer():
        try:
            for i in range(50):
                if not append(a, "Busy", message(i, "busy")):
                    errors.append("APPEND %d failed" % i)
        except Exception as e:  # noqa: BLE001
            errors.append("writer: %r" % e)
        done.set()

    th = threading.Thread(target=writer)
    th.start()
    rounds = 0
    while not done.is_set() or rounds == 0:
        try:
            b.noop()
            r = search(b, 'BODY "shared"')
            if r is None:
                errors.append("SEARCH failed")
            rounds += 1
        except Exception as e:  # noqa: BLE001
            errors.append("reader: %r" % e)
            break
    th.join()
    t.check(not errors, "concurrent APPEND/SEARCH: no errors (%s)" % errors[:3])
    b.noop()
    t.check(search(b, 'BODY "shared"') == list(range(1, 51)), "after 50 APPENDs, all 50 found")
    t.check(search(b, 'BODY "zebra49"') == [50], "the last APPEND is found")
    t.check(rounds > 1, "the reader searched %d times during the APPENDs" % rounds)
    for im in (a, b):
        im.logout()


def lifecycle(t, dc):
    im = dc.login()
    n = 6
    im.create("Box1")
    t.check(all(append(im, "Box1", message(i, "xlife")) for i in range(n)), "APPEND %d messages" % n)
    im.select("Box1")
    uids = list(range(1, n + 1))
    check_searches(t, im, "fresh", uids, n, "xlife")
    guid = dc.guid("Box1")
    t.check(guid is not None, "Box1 has a GUID")
    db = dc.dbdir(guid or "none")
    t.check(doccount(db) == n, "index of Box1 holds %d documents (%s)" % (n, doccount(db)))

    # EXPUNGE: gone from SEARCH and from the index at once
    im.uid("STORE", "2", "+FLAGS.SILENT", "(\\Deleted)")
    im.expunge()
    uids[1] = None
    check_searches(t, im, "after EXPUNGE", uids, n, "xlife")
    t.check(wait_count(db, n - 1) == n - 1, "index holds %d documents after EXPUNGE (%s)" %
            (n - 1, doccount(db)))

    # RENAME: same GUID, same directory, not re-indexed
    stamp = os.stat(os.path.join(db, "iamglass")).st_mtime_ns
    im.close()
    t.check(im.rename("Box1", "Box2")[0] == "OK", "RENAME Box1 Box2")
    im.select("Box2")
    t.check(dc.guid("Box2") == guid, "RENAME keeps the GUID")
    check_searches(t, im, "after RENAME", uids, n, "xlife")
    t.check(os.path.isdir(db) and doccount(db) == n - 1, "the index directory is kept")
    t.check(os.stat(os.path.join(db, "iamglass")).st_mtime_ns == stamp, "no re-index after RENAME")

    # DELETE: the index directory goes
    im.create("Gone")
    t.check(all(append(im, "Gone", message(i, "xgone")) for i in range(3)), "APPEND to Gone")
    im.select("Gone")
    t.check(search(im, 'BODY "zebra1"') == [2], "SEARCH in Gone")
    gdb = dc.dbdir(dc.guid("Gone") or "none")
    t.check(doccount(gdb) == 3, "Gone is indexed (%s)" % doccount(gdb))
    im.close()
    t.check(im.delete("Gone")[0] == "OK", "DELETE Gone")
    t.check(not os.path.exists(gdb), "DELETE removed the index directory %s" % gdb)
    t.check(os.path.isdir(db), "DELETE of another mailbox kept Box2's index")
    im.logout()

    # doveadm maintenance
    rc, out = dc.doveadm("fts", "rescan", "-u", "alice")
    t.check(rc == 0, "doveadm fts rescan: %s" % out)
    rc, out = dc.doveadm("index", "-u", "alice", "*")
    t.check(rc == 0, "doveadm index: %s" % out)
    rc, out = dc.doveadm("fts", "optimize", "-u", "alice")
    t.check(rc == 0, "doveadm fts optimize: %s" % out)
    im = dc.login()
    im.select("Box2")
    check_searches(t, im, "after rescan+index", uids, n, "xlife")
    t.check(doccount(db) == n - 1, "index holds %d documents after rescan (%s)" % (n - 1, doccount(db)))
    im.logout()
    return uids, n, db


def meta(db, *args):
    """xapian-metadata get|set on db (as root; ownership kept for vmail)."""
    p = subprocess.run(["xapian-metadata"] + list(args[:1]) + [db] + list(args[1:]),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    subprocess.run(["chown", "-R", "--reference=%s" % os.path.dirname(db), db], check=True)
    return p.stdout.strip() if p.returncode == 0 else None


def plain(subject, body):
    return ("From: s@example.org\r\nTo: alice@example.org\r\nSubject: %s\r\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n%s\r\n" % (subject, body)).encode()


def lookups_since(dc, before):
    """(definite, maybe) of each plugin lookup logged after offset before."""
    new = open(dc.log, errors="replace").read()[before:]
    return [(int(a), int(b)) for a, b in
            re.findall(r"fts-mailsift: lookup: (\d+) definite, (\d+) maybe uids", new)]


def stored_text(t, dc):
    """Keys of several words, and keys without a word, are checked in the
    messages' stored text: the lookup is definite (Dovecot reads nothing)
    except for a message whose text is over the stored limit (8 MiB), which
    stays maybe; every answer is the right one."""
    im = dc.login()
    im.create("Box3")
    filler = ("lorem ipsum dolor sit amet needle " * 30 + "\r\n") * 9000  # ~9.2 MB
    msgs = [plain("big", filler[:len(filler) // 2] + "the needle phrase!" + filler[len(filler) // 2:]),
            plain("small", "a needle phrase, here"),
            plain("apart", "phrase first, then a needle"),
            plain("needle phrase", "only the subject has it"),
            plain("none", "nothing --  at all")]
    t.check(all(append(im, "Box3", m) for m in msgs), "APPEND %d messages (one of 9 MB)" % len(msgs))
    im.select("Box3")
    for q, want, lookup in [('BODY "needle phrase"', [1, 2], (1, 1)),
                            ('BODY "le phr"', [1, 2], (1, 1)),
                            ('TEXT "needle phrase"', [1, 2, 4], (2, 1)),
                            ('TEXT "Subject: needle"', [4], (1, 1)),
                            ('BODY "--  "', [5], (1, 1)),
                            ('NOT BODY "needle phrase"', [3, 4, 5], (3, 1)),
                            ('BODY "phrase first"', [3], (1, 0))]:
        before = len(open(dc.log, errors="replace").read())
        got = search(im, q)
        t.check(got == want, "stored text: %s -> %s, got %s" % (q, want, got))
        seen = lookups_since(dc, before)
        t.check(seen[-1:] == [lookup], "stored text: %s: lookup %s definite/maybe, got %s" %
                (q, lookup, seen))
    im.logout()


def old_scheme(t, dc, uids, n, db):
    """An index written under another term scheme (an older version's, or
    one from before stored text) is not used: SEARCH stays right and the
    index is rebuilt with the current scheme."""
    cur = meta(db, "get", "mailsift.format")
    t.check(cur not in (None, "", "1"), "the index records its term scheme (%r)" % cur)
    meta(db, "set", "mailsift.format", "1")
    before = len(open(dc.log, errors="replace").read())
    im = dc.login()
    im.select("Box2")
    check_searches(t, im, "index of another term scheme", uids, n, "xlife")
    im.logout()
    new = open(dc.log, errors="replace").read()[before:]
    t.check("another term scheme" in new, "the rebuild is logged: %s" % new[-300:])
    t.check(meta(db, "get", "mailsift.format") == cur, "rebuilt under the current scheme")
    t.check(doccount(db) == n - 1, "the index was rebuilt (%s documents)" % doccount(db))


def corruption(t, dc, uids, n, db):
    pl = os.path.join(db, "postlist.glass")
    size = os.path.getsize(pl)
    with open(pl, "r+b") as f:
        f.write(b"\xa5garbage!" * (min(size, 16384) // 9))
    before = len(open(dc.log, errors="replace").read())
    im = dc.login()
    im.select("Box2")
    check_searches(t, im, "corrupt index", uids, n, "xlife")
    check_searches(t, im, "corrupt index, again", uids, n, "xlife")
    im.logout()
    new = open(dc.log, errors="replace").read()[before:]
    t.check(re.search(r"(Warning|Error): .*fts-mailsift: .*corrupt", new) is not None,
            "the corruption is logged: %s" % new[-300:])
    t.check(doccount(db) == n - 1, "the index was rebuilt (%s documents)" % doccount(db))


def temp_base(prefix):
    """Exits unless root with the plugin built; a new world-readable temp
    dir for the test's servers."""
    if os.geteuid() != 0 or not os.path.exists(PLUGIN):
        print("needs root and %s (make)" % PLUGIN)
        sys.exit(1)
    base = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(base, 0o755)
    return base


def cleanup(servers, base):
    """Stops the Dovecots and removes base, unless MSIMAP_KEEP=1."""
    if os.environ.get("MSIMAP_KEEP") == "1":
        print("kept", base)
        return
    for d in servers:
        d.stop()
    shutil.rmtree(base, ignore_errors=True)


def main():
    t = mstest.Test("imap-lifecycle")
    base = temp_base("msimap-life-")
    dc = Dovecot(t, base)
    try:
        dc.start()
        uids, n, db = lifecycle(t, dc)
        stored_text(t, dc)
        old_scheme(t, dc, uids, n, db)
        corruption(t, dc, uids, n, db)
        concurrent(t, dc)
        log = open(dc.log, errors="replace").read()
        bad = [ln for ln in log.splitlines()
               if re.search(r"Panic|Fatal|segfault|killed with signal", ln)]
        t.check(not bad, "no Panic/Fatal/crash in Dovecot's log: %s" % bad[:5])
        t.check("fts-mailsift: lookup" in log, "the plugin answered lookups (mail_debug log)")
    finally:
        cleanup([dc], base)
    t.done()


if __name__ == "__main__":
    main()
