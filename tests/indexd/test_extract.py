#!/usr/bin/env python3
"""test_extract.py - attachment text extraction (issue 14), through
"mailsift import" and through mailsift-indexd.

Real documents nobody here wrote - PDFs from Debian packages
(libtasn1-doc, shared-mime-info), OpenDocument files from python-odf-doc,
python3-docx's own template - and files made with Debian's python3-docx,
python3-openpyxl and python3-odf (extract_docs.py), a hand-made PPTX, a
ZIP in a ZIP, JSON and CSV: each message is found by a word that occurs
only inside its attachment (also as attachment:WORD), is extract:yes, and
"search --json" lists the attachment (name, type, size, extracted); with
extract = no none of those words is found, and "reindex" after turning it
on finds them. extract_zip_depth is honoured.

Hostile files through indexd (with extract_cpu = 2): a 10 MB ZIP that
inflates to 10 GiB, a DOCX whose document.xml inflates to 10 GiB, a PDF
whose page tree and form XObject loop, a truncated DOCX, a PDF encrypted
with qpdf, random bytes named .pdf, a legacy .doc, stand-ins for a
password-protected DOCX and ODT (no Debian tool writes those): each
message is archived with the right extract: mark and reason, indexd logs
one line for each attachment it could not read (and none for the rest),
keeps running and indexes a normal message after them, and indexd's peak RSS (VmHWM) stays
under 200 MB. The extractor's memory limit is checked through import.
"""
import email.message
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import hostile_docs  # noqa: E402
import mstest  # noqa: E402

T = mstest.Test("extract")
INDEXD = os.path.join(mstest.BUILD, "mailsift-indexd")
TASN1_PDF = "/usr/share/doc/libtasn1-doc/libtasn1.pdf"
SMI_PDF = "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"
ODF_ODT = "/usr/share/python-odf/api-for-odfpy.odt"
ODF_ODS = "/usr/share/python-odf/examples/countrystatistics.ods"
DOCX_TEMPLATE = "/usr/lib/python3/dist-packages/docx/templates/default.docx"
T_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
T_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
T_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
T_ODT = "application/vnd.oasis.opendocument.text"
T_ODS = "application/vnd.oasis.opendocument.spreadsheet"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def message(n, fname, ctype, data, body="Please see the attached file."):
    m = email.message.EmailMessage()
    m["From"] = "Clerk <clerk@example.org>"
    m["To"] = "officer@example.net"
    m["Subject"] = "document %d" % n
    m["Message-ID"] = "<doc%d@example.org>" % n
    m["Date"] = "Mon, 1 Jan 2024 10:%02d:00 +0000" % (n % 60)
    m.set_content(body)
    main, sub = ctype.split("/")
    m.add_attachment(data, maintype=main, subtype=sub, filename=fname)
    return m.as_bytes()


def pptx(word):
    """A minimal presentation: one slide with word in a text run."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://'
                   'schemas.openxmlformats.org/package/2006/content-types"/>')
        z.writestr("ppt/presentation.xml", '<p:presentation xmlns:p="p"/>')
        z.writestr("ppt/slides/slide1.xml",
                   '<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp>'
                   '<p:txBody><a:p><a:r><a:t>Agenda: the %s budget</a:t></a:r>'
                   '</a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>' % word)
    return b.getvalue()


def nested_zip(docx_bytes):
    """bundle.zip: notes.txt (wombat) and inner.zip holding made.docx."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("deep/made.docx", docx_bytes)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("notes.txt", "meeting notes: bring the wombat figures\n")
        z.writestr("inner.zip", inner.getvalue())
    return outer.getvalue()


def make_docs(tmp):
    d = os.path.join(tmp, "made")
    os.makedirs(d)
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "extract_docs.py"), d],
                   check=True)
    d2 = os.path.join(tmp, "made2")
    os.makedirs(d2)
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "extract_docs.py"), d2,
                    "nightjar", "unused1", "unused2"], check=True)
    return d, d2


# (file name, MIME type, bytes, the word only inside it)
def documents(tmp):
    made, made2 = make_docs(tmp)
    return [
        ("manual.pdf", "application/pdf", read(TASN1_PDF), "Mavrogiannopoulos"),
        ("spec.pdf", "application/octet-stream", read(SMI_PDF), "GEDCOM"),
        ("reference.odt", T_ODT, read(ODF_ODT), "teletype"),
        ("stats.ods", T_ODS, read(ODF_ODS), "Slovenia"),
        ("contract.docx", T_DOCX, read(os.path.join(made, "made.docx")), "zymurgical"),
        ("figures.xlsx", T_XLSX, read(os.path.join(made, "made.xlsx")), "ptarmigan"),
        ("minutes.odt", T_ODT, read(os.path.join(made, "made.odt")), "xylophonist"),
        ("slides.pptx", T_PPTX, pptx("quetzal"), "quetzal"),
        ("bundle.zip", "application/zip",
         nested_zip(read(os.path.join(made2, "made.docx"))), "nightjar"),
        ("data.json", "application/json", b'{"species": "jackalope"}', "jackalope"),
        ("template.docx", T_DOCX, read(DOCX_TEMPLATE), None),
    ]


def import_all(ar, tmp, docs, sub):
    d = os.path.join(tmp, sub)
    os.makedirs(d)
    for n, (fname, ctype, data, _) in enumerate(docs, 1):
        with open(os.path.join(d, "%02d.eml" % n), "wb") as f:
            f.write(message(n, fname, ctype, data))
    with open(os.path.join(d, "csv.eml"), "wb") as f:
        f.write(message(99, "list.csv", "text/csv", b"id,name\n1,aardwolf\n"))
    rc, _, err = ar.run("import", d)
    T.check(rc == 0, "import %s: %s" % (sub, err.strip()[-300:]))


def count(ar, q):
    rc, out, err = ar.run("count", q)
    return int(out) if rc == 0 else "error %s" % err.strip()


def hits(ar, q):
    rc, out, _ = ar.run("search", "--json", q)
    return [json.loads(l) for l in out.decode().splitlines() if l.strip()] if rc == 0 else []


def test_found_with_extraction(tmp, docs):
    ar = mstest.Archive()
    import_all(ar, tmp, docs, "on")
    for n, (fname, ctype, data, word) in enumerate(docs, 1):
        h = hits(ar, "id:doc%d@example.org" % n)
        att = h[0].get("attachments", []) if len(h) == 1 else []
        T.check(len(att) == 1 and att[0]["name"] == fname and att[0]["type"] == ctype
                and att[0]["size"] == len(data) and att[0]["extracted"] == "yes",
                "%s: attachments %r" % (fname, att))
        if not word:
            continue
        T.check(count(ar, word) == 1, "%s: free text %s finds it" % (fname, word))
        T.check(count(ar, "attachment:" + word) == 1, "%s: attachment:%s" % (fname, word))
        T.check(count(ar, "body:" + word) == 0, "%s: %s is not body text" % (fname, word))
    T.check(count(ar, "wombat") == 1, "a text member of a ZIP")
    T.check(count(ar, "attachment:aardwolf") == 1, "a CSV attachment under attachment:")
    T.check(count(ar, "extract:yes") == len(docs) + 1, "every message extract:yes: %r"
            % count(ar, "extract:yes"))
    T.check(count(ar, "extract:failed") == 0, "nothing failed")
    ar.cleanup()


def test_not_found_without(tmp, docs):
    ar = mstest.Archive("extract = no\n")
    import_all(ar, tmp, docs, "off")
    for fname, _, _, word in docs:
        if word:
            T.check(count(ar, word) == 0, "extraction off: %s not found (%s)" % (word, fname))
    T.check(count(ar, "attachment:aardwolf") == 0, "extraction off: CSV not under attachment:")
    T.check(count(ar, "aardwolf") == 1, "extraction off: CSV still in the body, as before")
    T.check(count(ar, "extract:none") == len(docs) + 1 and count(ar, "extract:no") == len(docs) + 1,
            "extraction off: extract:none")
    h = hits(ar, "id:doc1@example.org")
    T.check(h and h[0]["attachments"][0]["extracted"] == "no", "json extracted: no: %r" % h)
    with open(ar.conf, "w") as f:
        f.write("[archive]\ndir = %s\nextract = yes\n" % ar.dir)
    rc, _, err = ar.run("reindex")
    T.check(rc == 0, "reindex: %s" % err.strip()[-200:])
    T.check(count(ar, "Mavrogiannopoulos") == 1 and count(ar, "zymurgical") == 1,
            "reindex with extraction on finds the words")
    ar.cleanup()


def test_zip_depth(tmp, docs):
    ar = mstest.Archive("extract_zip_depth = 1\n")
    bundle = [d for d in docs if d[0] == "bundle.zip"]
    import_all(ar, tmp, bundle, "depth")
    T.check(count(ar, "wombat") == 1, "depth 1: the outer ZIP's member")
    T.check(count(ar, "nightjar") == 0, "depth 1: a ZIP inside the ZIP is not opened")
    ar.cleanup()


def test_memory_limit(tmp, bomb):
    ar = mstest.Archive("extract_memory = 64M\nextract_zip_ratio = 0\nextract_zip_max = 16G\n")
    d = os.path.join(tmp, "mem")
    os.makedirs(d)
    with open(os.path.join(d, "bomb.eml"), "wb") as f:
        f.write(message(1, "bomb.zip", "application/zip", bomb, "memlimit body"))
    rc, _, err = ar.run("import", d)
    T.check(rc == 0 and count(ar, "memlimit") == 1, "memory limit: message archived: %s" % err)
    h = hits(ar, "memlimit")
    att = h[0]["attachments"][0] if h else {}
    T.check(att.get("extracted") == "failed" and "memory" in att.get("reason", ""),
            "memory limit: failed: %r" % att)
    ar.cleanup()


# ---- hostile files through indexd ----

def hostile(tmp, bomb):
    enc = os.path.join(tmp, "encrypted.pdf")
    subprocess.run(["qpdf", "--encrypt", "usersecret", "ownersecret", "256", "--",
                    TASN1_PDF, enc], check=True)
    made = os.path.join(tmp, "made", "made.docx")
    docx = read(made)
    return [  # (name, type, bytes, extract state, a part of the reason)
        ("bomb.zip", "application/zip", bomb, "failed", "zip bomb"),
        ("report.docx", T_DOCX, hostile_docs.docx_bomb(), "failed", "CPU time"),
        ("loop.pdf", "application/pdf", hostile_docs.looping_pdf(), "failed", "PDF"),
        ("cut.docx", T_DOCX, docx[:len(docx) // 2], "failed", "ZIP"),
        ("secret.pdf", "application/pdf", read(enc), "encrypted", "encrypted"),
        ("noise.pdf", "application/pdf", hostile_docs.random_bytes(200000, 3), "failed",
         "PDF"),
        ("old.doc", "application/msword", hostile_docs.legacy_doc(), "none", "legacy"),
        ("locked.docx", T_DOCX, hostile_docs.encrypted_ooxml(), "encrypted", "encrypted"),
        ("locked.odt", T_ODT, hostile_docs.encrypted_odf(), "encrypted", "encrypted"),
    ]


def vm_hwm_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1


def spool(spool_dir, eid, msg):
    """msg into the spool as the milter hands it over."""
    mstest.spool_entry(spool_dir, eid, msg,
                       [("id", eid), ("sender", "clerk@example.org"),
                        ("rcpt", "officer@example.net"), ("verdict", "clean"),
                        ("time", str(int(time.time()))), ("size", str(len(msg))),
                        ("sha256", hashlib.sha256(msg).hexdigest())])


def test_hostile_indexd(tmp, bomb):
    ar = mstest.Archive()
    spool_dir = os.path.join(ar.tmp, "spool")
    for d in ("tmp", "new", "bad"):
        os.makedirs(os.path.join(spool_dir, d))
    with open(ar.conf, "w") as f:
        f.write("[spool]\ndir = %s\n[archive]\ndir = %s\nextract_cpu = 2\n"
                "[indexd]\ncommit_interval = 1s\n" % (spool_dir, ar.dir))
    log = open(os.path.join(ar.tmp, "indexd.log"), "wb")
    proc = subprocess.Popen([INDEXD, "-c", ar.conf, "-f"], stdout=log, stderr=log)
    files = hostile(tmp, bomb)
    try:
        for n, (fname, ctype, data, _, _) in enumerate(files, 1):
            spool(spool_dir, "E%04d" % n,
                  message(100 + n, fname, ctype, data, "hostile%d body" % n))
        T.check(mstest.wait_for(lambda: count(ar, "subject:document") == len(files), 180),
                "indexd archived every hostile message: %r" % count(ar, "subject:document"))
        for n, (fname, _, _, state, why) in enumerate(files, 1):
            h = hits(ar, "hostile%d" % n)
            att = h[0]["attachments"][0] if len(h) == 1 and h[0].get("attachments") else {}
            want = "no" if state == "none" else state
            T.check(att.get("extracted") == want and why in att.get("reason", ""),
                    "%s: extracted %s (%s): %r" % (fname, want, why, att))
            T.check(count(ar, "hostile%d AND extract:%s" % (n, state)) == 1,
                    "%s: extract:%s searchable" % (fname, state))
        T.check(proc.poll() is None, "indexd still running")
        with open(os.path.join(ar.tmp, "indexd.log"), errors="replace") as f:
            lines = f.read().splitlines()
        for fname, _, _, state, why in files:
            said = [ln for ln in lines if 'attachment "%s"' % fname in ln]
            if said and fname in ("bomb.zip", "locked.docx"):
                print("indexd: %s" % said[0].split("]: ", 1)[-1])
            if state in ("failed", "encrypted"):
                T.check(len(said) == 1 and "extract:%s" % state in said[0] and why in said[0],
                        "%s: one indexd log line with extract:%s and why: %r"
                        % (fname, state, said))
            else:
                T.check(not said, "%s: no extraction log line: %r" % (fname, said))
        spool(spool_dir, "E9999", message(999, "ok.json", "application/json",
                                          b'{"after": "okapi"}', "after body"))
        T.check(mstest.wait_for(lambda: count(ar, "okapi") == 1, 60),
                "indexd indexes a normal attachment after the hostile ones")
        hwm = vm_hwm_mb(proc.pid)
        print("indexd peak RSS (VmHWM) over the hostile files: %.1f MB" % hwm)
        T.check(0 < hwm < 200, "indexd VmHWM %.1f MB < 200 MB" % hwm)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        ar.cleanup()


def main():
    for p in (TASN1_PDF, SMI_PDF, ODF_ODT, ODF_ODS, DOCX_TEMPLATE, "/usr/bin/qpdf"):
        if not T.check(os.path.exists(p), "%s present (make deps)" % p):
            T.done()
    tmp = mstest.Archive().tmp  # a scratch dir removed at the end
    try:
        docs = documents(tmp)
        test_found_with_extraction(tmp, docs)
        test_not_found_without(tmp, docs)
        test_zip_depth(tmp, docs)
        bomb = hostile_docs.zip_bomb()
        test_memory_limit(tmp, bomb)
        test_hostile_indexd(tmp, bomb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    T.done()


main()
