#!/usr/bin/env python3
"""test_pop3.py - the POP3 case, the reason for a server-side archive: mail
a POP3 client downloaded and deleted is still in the archive, byte for byte.

The whole stack on loopback (tests/stack/stack.sh: clamd, mailsift-milter,
mailsift-indexd, Postfix delivering by LMTP to Dovecot, random ports):
corpus messages (a "From " body line, ">From " lines, CRLF, the rest
sampled) and two made up ones ("From " and "." lines, a UTF-8 subject)
go over SMTP to alice. When all are delivered and archived, Python's
poplib logs in as alice, RETRs and DELEs every message and QUITs; a
second login finds STAT 0 and the maildir is empty. Then, for every
message the client downloaded (found in the archive by the X-Mailsift-Id
the milter put on the delivered copy):

- `mailsift search id:<Message-ID>` finds it, once;
- the archived bytes (`mailsift show`) are the message as it reached the
  milter: its body is the body sent (line ends as Postfix's smtpd reads
  them: CRs before a LF dropped), its header fields those sent, in order,
  minus the Return-Path Postfix drops (values may be canonicalised by
  Postfix's cleanup, e.g. <1.@x> -> <"1."@x>);
- the downloaded copy is exactly: trace headers that Postfix and Dovecot
  put on top (only Return-Path, Delivered-To, Received), then the archived
  header block, then the milter's X-Virus-Scanned, X-Virus-Status: Clean
  and X-Mailsift-Id (the archive id), then the archived body, byte for
  byte (POP3 gives CRLF lines, as the archive holds them) - except that
  Postfix's LMTP client breaks lines longer than 998 bytes by inserting
  CRLF SPACE (lmtp_line_length_limit): the archive keeps such lines whole,
  the delivered copy has them broken, and the test applies exactly that
  rule to the archived bytes before comparing;
- `export --format eml` gives show's bytes for each; `export --format
  mbox` read back with Python's mailbox module and unquoted gives them
  too; `export --verify` passes on both.
MAILSIFT_KEEP=1 keeps the temporary directory (archive, maildirs, logs).
"""
import csv
import json
import mailbox
import os
import poplib
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("pop3")
FIXED = ["hard_ham/00108.c616dad1b875643b5f48452beadf54b0",   # "From " in the body
         "spam/00155.1c37ce73590cc67186717a491ed0db5f",       # ">From " lines
         "spam/00181.a9ce64eb710cb3f00a7d7db7911291ab",
         "spam_2/00083.1aead789d4b4c7022c51bc632e4f2445"]     # CRLF in the file
SAMPLE_EVERY = 600
TRACE = {b"return-path", b"delivered-to", b"received"}
MILTER = [b"x-virus-scanned", b"x-virus-status", b"x-mailsift-id"]
LINE_LIMIT = 998  # Postfix lmtp_line_length_limit


def made_up():
    return [b"From: Eve <eve@example.net>\nTo: alice@example.org\nSubject: pop3 from lines\n"
            b"Message-ID: <pop3-a@example.net>\nDate: Mon, 05 Aug 2002 10:00:00 +0000\n\n"
            b"From the start\n>From quoted\n.leading dot\n..two dots\n.\nend\n",
            "From: Zoë <zoe@example.net>\nTo: alice@example.org\nSubject: =?utf-8?q?r=C3=A9sum=C3=A9?=\n"
            "Message-ID: <pop3-b@example.net>\nDate: Tue, 06 Aug 2002 10:00:00 +0000\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            "Grüße aus Köln.\n".encode()]


def messages():
    """The messages to send, as SMTP carries them: CRLF lines, ending in CRLF."""
    files = []
    for d, _, names in os.walk(mstest.CORPUS):
        files += [os.path.relpath(os.path.join(d, n), mstest.CORPUS) for n in names]
    picked = FIXED + [f for f in sorted(files)[::SAMPLE_EVERY] if f not in FIXED]
    raws = []
    for rel in picked:
        raw = open(os.path.join(mstest.CORPUS, rel), "rb").read()
        raws.append(raw.split(b"\n", 1)[1] if raw.startswith(b"From ") else raw)
    out = []
    for raw in raws + made_up():
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        out.append(crlf if crlf.endswith(b"\r\n") else crlf + b"\r\n")
    return out


def split(msg):
    head, sep, body = msg.partition(b"\r\n\r\n")
    return head + b"\r\n", body


def fields(head):
    """The header block as a list of whole fields (continuation lines kept)."""
    out = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b"\r\n" + line
        else:
            out.append(line)
    return [f + b"\r\n" for f in out]


def name(field):
    return field.split(b":", 1)[0].strip().lower()


def differ(a, b):
    """Where a and b first differ, for failure messages."""
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
    return "lengths %d/%d, first difference at %d: %r vs %r" % (len(a), len(b), i, a[i - 20:i + 20],
                                                                  b[i - 20:i + 20])


def fold(msg):
    """What Postfix's LMTP client does to lines over lmtp_line_length_limit
    (998): breaks them by inserting CRLF SPACE."""
    out = []
    for line in msg.split(b"\r\n"):
        while len(line) > LINE_LIMIT:
            out.append(line[:LINE_LIMIT])
            line = b" " + line[LINE_LIMIT:]
        out.append(line)
    return b"\r\n".join(out)


def bare_cr(b):
    """Line ends as Postfix's smtpd reads them: CRs before a LF dropped."""
    return re.sub(rb"\r+\n", b"\n", b)


def message_id(raw):
    m = re.search(rb"(?im)^message-id:\s*<([^>\s]+)>", split(raw)[0])
    return m.group(1).decode() if m else None


class Stack:
    def __init__(self, work):
        self.dir = os.path.join(work, "stack")
        os.makedirs(self.dir)
        p = mstest.free_ports(4)
        self.smtp, self.pop3 = p[0], p[3]
        self.env = dict(STACK_SMTP_PORT=str(p[0]), STACK_LMTP_PORT=str(p[1]),
                        STACK_IMAP_PORT=str(p[2]), STACK_POP3_PORT=str(p[3]),
                        STACK_USERS="alice bob",
                        STACK_SMTPD_MILTERS="unix:%s/milter.sock" % self.dir)
        self.ms = mstest.Archive.__new__(mstest.Archive)
        self.ms.conf, self.ms.tmp = os.path.join(self.dir, "plugin.conf"), work

    def start(self):
        mstest.stack(self.dir, "stack_mailsift_conf 'commit_interval = 1s' && stack_clamd_start && "
                     "stack_mailsift_start %s mailsift-milter mailsift-indexd && "
                     "stack_dovecot_start && stack_postfix_start" % mstest.BUILD, self.env)

    def stop(self):
        try:
            mstest.stack(self.dir, "stack_mailsift_stop; stack_down", self.env)
        except RuntimeError as e:
            print("warning: %s" % e)

    def maildir_count(self):
        m = os.path.join(self.dir, "mail", "alice")
        return sum(len(os.listdir(os.path.join(m, s))) for s in ("new", "cur") if os.path.isdir(os.path.join(m, s)))

    def archived(self):
        rc, out, _ = self.ms.run("count", "rcpt:alice@example.org")
        return int(out) if rc == 0 else -1


def pop3_take_all(st, n):
    """RETR + DELE of every message, QUIT; returns the downloaded bytes."""
    c = poplib.POP3("127.0.0.1", st.pop3, timeout=60)
    c.user("alice")
    c.pass_("secret")
    count, _ = c.stat()
    T.check(count == n, "POP3 STAT: %d messages, sent %d" % (count, n))
    got = []
    for i in range(1, count + 1):
        _, lines, _ = c.retr(i)
        got.append(b"\r\n".join(lines) + b"\r\n")
        c.dele(i)
    T.check(c.quit().startswith(b"+OK"), "POP3 QUIT")
    c = poplib.POP3("127.0.0.1", st.pop3, timeout=60)
    c.user("alice")
    c.pass_("secret")
    T.check(c.stat() == (0, 0), "second login: mailbox empty")
    c.quit()
    T.check(st.maildir_count() == 0, "alice's maildir is empty")
    return got


def check_message(st, sent, pop):
    """One downloaded message against the archive and what was sent."""
    m = re.search(rb"(?im)^x-mailsift-id:\s*(\S+)", split(pop)[0])
    if not T.check(m is not None, "downloaded copy carries X-Mailsift-Id"):
        return None
    aid = m.group(1).decode()
    rc, arch, err = st.ms.run("show", aid)
    if not T.check(rc == 0, "show %s after POP3 deleted it: %s" % (aid, err)):
        return None
    mid = message_id(arch)
    rc, out, _ = st.ms.run("search", "--json", "id:%s" % mid)
    found = [json.loads(l)["id"] for l in out.decode().splitlines()]
    T.check(rc == 0 and found == [aid], "search id:%s finds %r, want [%s]" % (mid, found, aid))
    src = [s for s in sent if message_id(s) == mid]
    if T.check(len(src) == 1, "the sent message of %s" % mid):
        sh, sb = split(src[0])
        ah, ab = split(arch)
        T.check(bare_cr(ab) == bare_cr(sb), "%s: archived body is the sent body: %s" % (mid, differ(ab, sb)))
        want = [name(f) for f in fields(sh) if name(f) != b"return-path"]
        T.check([name(f) for f in fields(ah)] == want,
                "%s: archived header fields are the sent ones minus Return-Path" % mid)
    ah, ab = split(fold(arch))
    ph, pb = split(pop)
    T.check(pb == ab, "%s: downloaded body is the archived body, byte for byte: %s" % (mid, differ(pb, ab)))
    pf, af = fields(ph), fields(ah)
    k = next((i for i in range(len(pf)) if pf[i:i + len(af)] == af), None)
    if not T.check(k is not None, "%s: archived header block inside the downloaded one" % mid):
        return aid
    top, tail = pf[:k], pf[k + len(af):]
    T.check(top and all(name(f) in TRACE for f in top), "%s: only trace headers on top: %r"
            % (mid, [name(f) for f in top]))
    T.check([name(f) for f in tail] == MILTER and tail[1].strip() == b"X-Virus-Status: Clean"
            and tail[2].split(b":", 1)[1].strip() == aid.encode(),
            "%s: the milter's headers after it: %r" % (mid, tail))
    return aid


def check_exports(st, ids, work):
    raws = {i: st.ms.run("show", i)[1] for i in ids}
    eml, mb = os.path.join(work, "eml"), os.path.join(work, "mbox")
    rc, _, err = st.ms.run("export", "--format", "eml", "rcpt:alice@example.org", "-o", eml)
    T.check(rc == 0 and ("exported %d messages" % len(ids)) in err, "eml export: %r" % err)
    T.check(all(open(os.path.join(eml, i + ".eml"), "rb").read() == raws[i] for i in ids),
            "every .eml is the archived message")
    rc, _, err = st.ms.run("export", "--format", "mbox", "rcpt:alice@example.org", "-o", mb)
    T.check(rc == 0, "mbox export: %r" % err)
    with open(os.path.join(mb, "manifest.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    box = mailbox.mbox(os.path.join(mb, "messages.mbox"), create=False)
    back = {r["id"]: re.sub(rb"(?m)^>(>*From )", rb"\1", box.get_bytes(k))[:int(r["size"])]
            for k, r in zip(box.keys(), rows)}
    T.check(back == raws, "mbox read back by Python and unquoted: the archived messages")
    for d in (eml, mb):
        rc, out, _ = st.ms.run("export", "--verify", d)
        T.check(rc == 0 and b"(clean)" in out, "verify %s: %r" % (d, out[-200:]))


def main():
    work = tempfile.mkdtemp(prefix="mailsift-pop3-")
    os.chmod(work, 0o755)
    st = Stack(work)
    try:
        st.start()
        sent = messages()
        with smtplib.SMTP("127.0.0.1", st.smtp, timeout=120) as s:
            for raw in sent:
                T.check(s.sendmail("sender@example.net", ["alice@example.org"], raw) == {}, "SMTP 250")
        n = len(sent)
        T.check(mstest.wait_for(lambda: st.maildir_count() == n and st.archived() == n),
                "delivered %d and archived %d of %d" % (st.maildir_count(), st.archived(), n))
        got = pop3_take_all(st, n)
        T.check(st.archived() == n, "the archive still has all %d after POP3 deleted them" % n)
        ids = [check_message(st, sent, pop) for pop in got]
        T.check(len(set(i for i in ids if i)) == n, "every download matched one archived message")
        check_exports(st, [i for i in ids if i], work)
    finally:
        st.stop()
        if os.environ.get("MAILSIFT_KEEP"):
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    T.done()


main()
