#!/usr/bin/env python3
"""test_isolation.py - no forged trust through X-Mailsift-Id (DESIGN.md
invariant 3; the issue's isolation test), on the whole stack on loopback.

tests/stack/stack.sh brings up clamd, mailsift-milter, mailsift-indexd,
Postfix (smtpd_milters = our milter, delivery by LMTP) and a Dovecot that
loads fts + fts_mailsift with plugin.conf [imap] archive_reuse = yes and a
user_addresses file (fts_autoindex = no: delivery indexes nothing, so
every message is indexed by the first SEARCH, after the archive has it and
is readable by vmail). Over SMTP: to bob a message whose body holds a
secret word, whose Subject holds another and whose base64 text/plain
attachment holds a third; to alice one with her own word; to alice one
carrying a forged X-Mailsift-Id (bob's id), which the milter must replace.
When all are delivered and archived (`mailsift count id:...`), alice
APPENDs over IMAP a message carrying bob's X-Mailsift-Id whose body lacks
bob's words, and one carrying a random (unknown) id. Checked, each against
the UIDs expected by construction AND against a second Dovecot without FTS
over the same maildirs (the oracle):
  1. alice: BODY/TEXT/SUBJECT searches for bob's words find nothing;
  2. bob: the same searches find his message (positive control);
  3. alice's delivered message is found by her word, and the mail_debug
     log says "fts-mailsift: uid N: reused archive terms of <her id>";
     the forged APPEND is logged "X-Mailsift-Id <bob's id> not delivered
     to alice: indexed from the message", and no alice process logs reuse
     of bob's id;
  4. the APPEND with an unknown id is indexed from itself: its word is
     found, so is the forged one's;
  5. no Error/Panic/Fatal (nor "archive reuse off") in Dovecot's log.
About 10 s. Needs root and a built tree (make: the plugin, mailsift,
mailsift-milter, mailsift-indexd).

Environment: MSIMAP_KEEP=1 keeps the temp dir and leaves the stack running.
Prints "N passed, N failed".
"""
import base64
import imaplib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mstest  # noqa: E402
import test_equivalence as eq  # noqa: E402
import test_lifecycle as life  # noqa: E402

TAG = secrets.token_hex(4)  # makes this run's Message-IDs unique
SECRET, ATTACH, SUBJ = "zebraquartzsecret", "ocelotattachsecret", "subjectonlybobword"
ALICE_W, FORGED_W, RANDOM_W, SMTP_W = ("pelicanalicetoken", "forgedcarrierword",
                                       "randomidcarrierword", "smtpforgedword")


def bob_message():
    att = base64.encodebytes(("Figures attached.\r\nThe code name is %s, keep it.\r\n"
                              % ATTACH).encode()).decode().replace("\n", "\r\n")
    return ("From: Carol <carol@example.net>\r\nTo: bob@example.org\r\n"
            "Subject: quarterly figures %s\r\nMessage-ID: <iso-bob-%s@example.net>\r\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b0undary\"\r\n\r\n"
            "--b0undary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "Hi Bob, the password is %s. Regards, Carol\r\n"
            "--b0undary\r\nContent-Type: text/plain; name=\"notes.txt\"\r\n"
            "Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s--b0undary--\r\n"
            % (SUBJ, TAG, SECRET, att)).encode()


def plain(name, to, subject, word, extra=""):
    return ("From: %s <%s@example.net>\r\nTo: %s@example.org\r\nSubject: %s\r\n"
            "Message-ID: <iso-%s-%s@example.net>\r\nDate: Mon, 1 Jan 2024 11:00:00 +0000\r\n%s\r\n"
            "Hello %s, nothing special here, only %s in this text.\r\n"
            % (name, name, to, subject, name, TAG, extra, to, word)).encode()


def mid(name):
    return "<iso-%s-%s@example.net>" % (name, TAG)


def header(path, name):
    with open(path, "rb") as f:
        head = f.read().split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"(?im)^" + name.encode() + rb":[ \t]*(\S+)", head)
    return m.group(1).decode() if m else None


class Stack:
    """The full stack under base/dc (STACK_DIR) plus the no-FTS oracle."""

    def __init__(self, t, base):
        self.t = t
        self.dc = life.Dovecot(t, base)  # module dir with our plugin, ports, paths
        self.dir = self.dc.dir
        self.conf = os.path.join(self.dir, "plugin.conf")
        self.addresses = os.path.join(self.dir, "user_addresses")
        self.env = dict(self.dc.env, STACK_USERS="alice bob",
                        STACK_SMTP_PORT=str(mstest.free_ports(1)[0]),
                        STACK_SMTPD_MILTERS="unix:%s/milter.sock" % self.dir,
                        STACK_DOVECOT_PLUGIN_CONF="  fts = mailsift\n  fts_autoindex = no\n"
                                                  "  mailsift_config = %s\n" % self.conf)
        self.oracle = life.Dovecot(t, os.path.join(base, "oracle"))
        self.oracle.env["STACK_USERS"] = "alice bob"
        for k in ("STACK_DOVECOT_PLUGIN_DIR", "STACK_DOVECOT_MAIL_PLUGINS", "STACK_DOVECOT_PLUGIN_CONF"):
            del self.oracle.env[k]
        self.started = []

    def sh(self, cmd):
        return mstest.stack(self.dir, cmd, self.env)

    def start(self):
        os.makedirs(self.dir)
        self.started.append("stack")
        self.sh("stack_mailsift_conf 'commit_interval = 1s\n[imap]\narchive_reuse = yes\n"
                "user_addresses = %s'" % self.addresses)
        with open(self.addresses, "w") as f:
            f.write("# login: addresses\nalice: alice@example.org\nbob: bob@example.org\n")
        for p in (self.conf, self.addresses):
            os.chmod(p, 0o644)
        self.sh("stack_clamd_start && stack_mailsift_start %s mailsift-milter mailsift-indexd && "
                "stack_dovecot_start && stack_postfix_start" % mstest.BUILD)
        os.makedirs(self.oracle.dir)
        os.symlink(os.path.join(self.dir, "mail"), os.path.join(self.oracle.dir, "mail"))
        self.oracle.start()

    def stop(self):
        self.oracle.stop()
        if self.started:
            try:
                self.sh("stack_mailsift_stop; stack_down")
            except RuntimeError as e:
                print("warning: %s" % e)

    def send(self, to, raw, name):
        path = os.path.join(self.dir, name + ".eml")
        with open(path, "wb") as f:
            f.write(raw)
        try:
            reply = self.sh("stack_send sender@example.net %s@example.org %s" % (to, path)).strip()
        except RuntimeError as e:
            reply = str(e)
        self.t.check(reply.startswith("250"), "SMTP to %s (%s): %s" % (to, name, reply))

    def delivered(self, user, pattern):
        try:
            return self.sh("stack_wait_mail %s '%s' 30" % (user, pattern)).strip()
        except RuntimeError:
            return None

    def archived(self, ids, secs=30):
        """Waits until every id is in the archive; returns the missing ones."""
        end = time.time() + secs
        while True:
            missing = []
            for i in ids:
                p = subprocess.run([mstest.MAILSIFT, "-c", self.conf, "count", "id:" + i],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                if p.returncode != 0 or p.stdout.strip() != "1":
                    missing.append("%s: %s" % (i, p.stdout.strip()))
            if not missing or time.time() > end:
                return missing
            time.sleep(0.5)


def login(port, user):
    im = imaplib.IMAP4("127.0.0.1", port, timeout=120)
    im.login(user, "secret")
    im.select("INBOX")
    return im


def deliver(t, st):
    """SMTP part; returns {name: (user, X-Mailsift-Id)} or None."""
    st.send("bob", bob_message(), "bob")
    st.send("alice", plain("alice", "alice", "lunch plans", ALICE_W), "alice")
    fb, fa = st.delivered("bob", SECRET), st.delivered("alice", ALICE_W)
    if not t.check(fb and fa, "delivered to bob (%s) and alice (%s)" % (fb, fa)):
        return None
    bob_id, alice_id = header(fb, "X-Mailsift-Id"), header(fa, "X-Mailsift-Id")
    t.check(bob_id and re.fullmatch(r"[0-9a-f]{8,64}", bob_id), "bob's copy has an X-Mailsift-Id: %s" % bob_id)
    t.check(alice_id and alice_id != bob_id, "alice's copy has her own X-Mailsift-Id: %s" % alice_id)
    # a forged X-Mailsift-Id over SMTP: the milter replaces it
    st.send("alice", plain("smtpforger", "alice", "figures", SMTP_W, "X-Mailsift-Id: %s\r\n" % bob_id), "forged")
    fs = st.delivered("alice", SMTP_W)
    smtp_id = header(fs, "X-Mailsift-Id") if fs else None
    t.check(fs and smtp_id not in (None, bob_id) and
            len(re.findall(r"(?im)^X-Mailsift-Id:", open(fs, errors="replace").read().split("\n\n")[0])) == 1,
            "the milter replaced the forged X-Mailsift-Id of a message to alice (got %s)" % smtp_id)
    ids = {"bob": ("bob", bob_id), "alice": ("alice", alice_id), "smtpforger": ("alice", smtp_id)}
    missing = st.archived([i for _, i in ids.values() if i])
    t.check(not missing, "all three messages archived (mailsift count id:...): missing %s" % missing)
    p = subprocess.run([mstest.MAILSIFT, "-c", st.conf, "count", "id:%s rcpt:bob@example.org" % bob_id],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t.check(p.stdout.strip() == "1", "the archive has bob as the recipient of %s: %s" % (bob_id, p.stdout.strip()))
    # the imap processes (user vmail) read the archive
    subprocess.run(["chmod", "-R", "a+rX", os.path.join(st.dir, "archive")], check=True)
    return ids


def append(t, im, raw, what):
    typ, data = im.append("INBOX", None, None, raw)
    m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
    t.check(typ == "OK" and m, "alice APPENDs %s: %s %s" % (what, typ, data))
    return int(m.group(1)) if m else None


def uid_of(im, name):
    r = eq.search(im, "HEADER Message-ID %s" % eq.quote(mid(name)))
    return r[0] if r and len(r) == 1 else None


def searches(t, ids, port_a, port_o):
    bob_id = ids["bob"][1]
    rand_id = secrets.token_hex(12)
    ia, ib = login(port_a, "alice"), login(port_a, "bob")
    oa, ob = login(port_o, "alice"), login(port_o, "bob")
    uf = append(t, ia, plain("mallory", "alice", "re: quarterly figures", FORGED_W,
                             "X-Mailsift-Id: %s\r\n" % bob_id), "a message carrying bob's X-Mailsift-Id")
    ur = append(t, ia, plain("randomid", "alice", "hello", RANDOM_W,
                             "X-Mailsift-Id: %s\r\n" % rand_id), "a message carrying an unknown id")
    for im in (ia, oa, ob):
        im.noop()
    ua, us, ub = uid_of(oa, "alice"), uid_of(oa, "smtpforger"), uid_of(ob, "bob")
    t.check(None not in (ua, us, ub, uf, ur), "UIDs: alice %s, smtp-forged %s, APPENDed %s %s; bob %s"
            % (ua, us, uf, ur, ub))
    cases = [  # (user, query, expected UIDs, what)
        ("alice", 'BODY "%s"' % SECRET, [], "1. bob's body word"),
        ("alice", 'TEXT "%s"' % SECRET, [], "1. bob's body word"),
        ("alice", 'BODY "quartzsecr"', [], "1. part of bob's body word"),
        ("alice", 'BODY "%s"' % ATTACH, [], "1. bob's attachment word"),
        ("alice", 'TEXT "%s"' % ATTACH, [], "1. bob's attachment word"),
        ("alice", 'SUBJECT "%s"' % SUBJ, [], "1. bob's subject word"),
        ("alice", 'TEXT "%s"' % SUBJ, [], "1. bob's subject word"),
        ("alice", 'OR BODY "%s" BODY "%s"' % (SECRET, ATTACH), [], "1. OR of bob's words"),
        ("bob", 'BODY "%s"' % SECRET, [ub], "2. positive control"),
        ("bob", 'TEXT "%s"' % SECRET, [ub], "2. positive control"),
        ("bob", 'BODY "%s"' % ATTACH, [ub], "2. positive control, attachment"),
        ("bob", 'TEXT "%s"' % SUBJ, [ub], "2. positive control, subject"),
        ("bob", 'BODY "%s"' % ALICE_W, [], "2. alice's word in bob's mailbox"),
        ("alice", 'BODY "%s"' % ALICE_W, [ua], "3. alice's own delivered message"),
        ("alice", 'TEXT "%s"' % ALICE_W[3:12], [ua], "3. alice's own delivered message"),
        ("alice", 'BODY "%s"' % RANDOM_W, [ur], "4. APPEND with an unknown id, own word"),
        ("alice", 'BODY "%s"' % FORGED_W, [uf], "4. APPEND with bob's id, own word"),
        ("alice", 'BODY "%s"' % SMTP_W, [us], "4. SMTP with forged id, own word"),
        ("alice", 'TEXT "%s"' % bob_id, [uf], "4. bob's id as header text"),
    ]
    sess = {"alice": (ia, oa), "bob": (ib, ob)}
    for user, q, want, what in cases:
        got, orc = eq.search(sess[user][0], q), eq.search(sess[user][1], q)
        t.check(got == want, "%s: %s SEARCH %s -> %s, want %s" % (what, user, q, got, want))
        t.check(orc == want, "oracle (no FTS): %s SEARCH %s -> %s, want %s" % (user, q, orc, want))
    for im in (ia, ib, oa, ob):
        im.logout()
    return {"ua": ua, "uf": uf, "ur": ur, "rand_id": rand_id}


def check_log(t, st, ids, u):
    log = open(st.dc.log, errors="replace").read()
    lines = [ln for ln in log.splitlines() if "fts-mailsift:" in ln and "(alice)" in ln]
    bob_id, alice_id = ids["bob"][1], ids["alice"][1]

    def has(pat):
        return [ln for ln in lines if re.search(pat, ln)]
    decisions = has(r"archive|X-Mailsift-Id")
    t.check(has(r"uid %d: reused archive terms of %s" % (u["ua"], alice_id)),
            "3. log: alice's delivered message (uid %s) reused archive terms of %s "
            "(archive reuse feature missing?): alice's decision lines %s" % (u["ua"], alice_id, decisions[:5]))
    t.check(not has(r"uid %d: not all text parts" % u["ua"]),
            "3. log: alice's plain-text message was not re-indexed from the message")
    t.check(has(r"uid %d: X-Mailsift-Id %s not delivered to alice: indexed from the message"
                % (u["uf"], bob_id)),
            "3. log: the APPEND with bob's id (uid %s) 'not delivered to alice': %s" % (u["uf"], decisions[:5]))
    t.check(not has(r"reused archive terms of %s" % bob_id), "no alice process reused bob's archive terms")
    t.check(has(r"uid %d: .*%s.*indexed from the message" % (u["ur"], u["rand_id"])),
            "4. log: the APPEND with an unknown id (uid %s) indexed from the message: %s"
            % (u["ur"], decisions[:5]))
    bad = [ln for ln in log.splitlines() if re.search(r"Error|Panic|Fatal|signal|archive reuse off", ln)]
    t.check(not bad, "5. no Error/Panic/Fatal/archive reuse off in Dovecot's log: %s" % bad[:5])
    bob_dec = [ln.split("fts-mailsift: ", 1)[1] for ln in log.splitlines()
               if "(bob)" in ln and "fts-mailsift: uid" in ln]
    print("bob's message was indexed: %s" % (bob_dec or "no decision logged"))


def main():
    t = mstest.Test("imap-isolation")
    need = [life.PLUGIN, mstest.MAILSIFT] + [os.path.join(mstest.BUILD, n)
                                             for n in ("mailsift-milter", "mailsift-indexd")]
    if os.geteuid() != 0 or not all(os.path.exists(p) for p in need):
        print("needs root and %s (make)" % " ".join(need))
        sys.exit(1)
    t0 = time.time()
    base = tempfile.mkdtemp(prefix="msimap-iso-", dir="/tmp")
    os.chmod(base, 0o755)
    st = None
    try:
        st = Stack(t, base)
        st.start()
        ids = deliver(t, st)
        if ids:
            u = searches(t, ids, st.dc.port, st.oracle.port)
            check_log(t, st, ids, u)
    finally:
        if os.environ.get("MSIMAP_KEEP") != "1":
            if st:
                st.stop()
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("kept", base)
    print("imap-isolation: %.0f s" % (time.time() - t0))
    t.done()


if __name__ == "__main__":
    main()
