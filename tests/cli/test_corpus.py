#!/usr/bin/env python3
"""test_corpus.py - imports the whole real corpus and checks, independently
of mailsift's own parser (Python's email package is the oracle), that a
fixed sample of messages is found by a subject word and a body word, that
`show` returns each file's bytes (minus the mbox From line), and that
non-ASCII words from iso-8859-1, gb2312 and koi8-r messages are found.
"""
import collections
import email
import email.header
import email.policy
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

SAMPLE_EVERY = 150
T = mstest.Test("corpus")


def corpus_files():
    out = []
    for d, _, files in os.walk(mstest.CORPUS):
        out += [os.path.join(d, f) for f in files if not f.startswith(".")]
    return sorted(out)


def strip_from(raw):
    if raw.startswith(b"From "):
        nl = raw.find(b"\n")
        return raw[nl + 1:] if nl >= 0 else b""
    return raw


def parse(raw):
    return email.message_from_bytes(strip_from(raw), policy=email.policy.compat32)


def msgid(msg):
    v = msg.get("Message-ID")
    if not v:
        return None
    v = str(v).strip()
    return v[1:-1] if v.startswith("<") and v.endswith(">") else v


def decoded_subject(msg):
    try:
        parts = email.header.decode_header(msg.get("Subject", ""))
        return "".join(p.decode(c or "latin-1", "replace") if isinstance(p, bytes) else p
                       for p, c in parts)
    except Exception:
        return ""


def part_text(part):
    payload = part.get_payload(decode=True) or b""
    cs = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(cs, "replace")
    except LookupError:
        return payload.decode("latin-1", "replace")


def visible_text(msg):
    """Text of text/plain parts, or of HTML parts with markup removed."""
    plain, html = [], []
    for part in msg.walk():
        ct = part.get_content_type()
        if ct == "text/plain":
            plain.append(part_text(part))
        elif ct == "text/html":
            h = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", part_text(part))
            h = re.sub(r"(?s)<[^>]*>", " ", h)
            html.append(re.sub(r"&#?\w+;", " ", h))
    return " ".join(plain) if plain else " ".join(html)


def pick_word(text, minlen):
    words = re.findall(r"(?<![\w&@./-])[A-Za-z]{%d,20}(?![\w@./-])" % minlen, text)
    return max(words, key=len).lower() if words else None


def search_ids(ar, query):
    rc, out, err = ar.run("search", "--json", query)
    if rc != 0:
        T.check(False, "search %r failed: %s" % (query, err.strip()))
        return set(), {}
    hits = [json.loads(line) for line in out.decode().splitlines()]
    return {h["message_id"] for h in hits}, {h["message_id"]: h["id"] for h in hits}


def check_sample(ar, path, raw, msg, mid):
    name = os.path.relpath(path, mstest.CORPUS)
    sw = pick_word(decoded_subject(msg), 4)
    if sw:
        ids, _ = search_ids(ar, "subject:" + sw)
        T.check(mid in ids, "%s: subject:%s does not find %s" % (name, sw, mid))
    bw = pick_word(visible_text(msg), 5)
    if bw:
        ids, idmap = search_ids(ar, "body:" + bw)
        T.check(mid in ids, "%s: body:%s does not find %s" % (name, bw, mid))
    ids, idmap = search_ids(ar, "id:" + mid)
    if T.check(mid in idmap, "%s: id:%s not found" % (name, mid)):
        rc, out, err = ar.run("show", idmap[mid])
        T.check(rc == 0 and out == strip_from(raw),
                "%s: show returns different bytes (%d vs %d) %s" %
                (name, len(out), len(strip_from(raw)), err.strip()))


def part_charset(part):
    """The part's charset: its MIME parameter, or for HTML its <meta>."""
    cs = part.get_content_charset()
    if cs or part.get_content_type() != "text/html":
        return cs or ""
    m = re.search(rb"charset=[\"']?([-\w]+)", part.get_payload(decode=True) or b"", re.I)
    return m.group(1).decode().lower() if m else ""


def find_charset_word(files, charset, pattern):
    """First message with a text part in charset (MIME or HTML <meta>)
    whose visible text has a word matching pattern; returns (path,
    Message-ID, word) or None."""
    for path in files:
        with open(path, "rb") as f:
            raw = f.read()
        if charset.encode() not in raw.lower():
            continue
        msg = parse(raw)
        mid = msgid(msg)
        if not mid:
            continue
        for part in msg.walk():
            ct = part.get_content_type()
            if ct not in ("text/plain", "text/html") or part_charset(part) != charset:
                continue
            payload = part.get_payload(decode=True) or b""
            text = payload.decode(charset, "replace")
            if ct == "text/html":
                text = re.sub(r"(?s)<[^>]*>", " ", text)
            m = re.search(pattern, text)
            if m:
                return path, mid, m.group(0)
    return None


def check_charsets(ar, files, counts):
    cases = [("iso-8859-1", r"\b[a-zA-Z]*[àáâãäåçèéêëìíîïñòóôõöùúûüýÿ][a-zA-Z]{2,}\b"),
             ("gb2312", r"[\u4e00-\u9fff]{3,4}"),
             ("koi8-r", r"[А-Яа-яЁё]{5,}")]
    for charset, pattern in cases:
        found = find_charset_word(files, charset, pattern)
        if not T.check(found is not None, "no %s message in the corpus" % charset):
            continue
        path, mid, word = found
        if counts[mid] > 1:
            continue
        ids, _ = search_ids(ar, "body:" + word)
        T.check(mid in ids, "%s: %s word %r does not find %s" %
                (os.path.basename(path), charset, word, mid))
        ids, _ = search_ids(ar, word.upper())
        T.check(mid in ids, "%s: upper-case %r does not find %s" %
                (os.path.basename(path), word.upper(), mid))


def main():
    files = corpus_files()
    if not T.check(len(files) >= 6000, "corpus has %d files" % len(files)):
        T.done()
    ar = mstest.Archive()
    rc, _, err = ar.run("import", mstest.CORPUS)
    T.check(rc == 0, "import exit status %d: %s" % (rc, err[-500:]))
    T.check(re.search(r"imported %d messages: %d new, 0 already archived, 0 failed"
                      % (len(files), len(files)), err) is not None,
            "import summary: %s" % err.strip()[-300:])
    rc, out, _ = ar.run("count", "*")
    T.check(rc == 0 and int(out) == len(files), "count * = %r" % out)
    rc, _, err = ar.run("import", mstest.CORPUS)
    T.check(rc == 0 and "0 new, %d already archived" % len(files) in err,
            "second import: %s" % err.strip()[-300:])
    rc, out, _ = ar.run("count", "*")
    T.check(rc == 0 and int(out) == len(files), "count * after re-import = %r" % out)
    msgs, counts = {}, collections.Counter()
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            raw = f.read()
        msg = parse(raw)
        mid = msgid(msg)
        counts[mid] += 1
        if i % SAMPLE_EVERY == 0 and mid:
            msgs[path] = (raw, msg, mid)
    for path, (raw, msg, mid) in msgs.items():
        if counts[mid] == 1:
            check_sample(ar, path, raw, msg, mid)
    check_charsets(ar, files, counts)
    ar.cleanup()
    T.done()


main()
