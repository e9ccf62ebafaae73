#!/usr/bin/python3
"""bench_extract_msgs.py - the bench's 200 messages with PDF and Office
attachments: Debian's documents (libtasn1-doc and shared-mime-info PDFs,
python-odf-doc's ODT and ODS) and the DOCX, XLSX and ODT that
tests/indexd/extract_docs.py makes, in turn, one per message.
usage: bench_extract_msgs.py OUTDIR [N]; prints the attachment bytes."""
import email.message
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    made = os.path.join(out, ".made")
    os.makedirs(made, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, "..", "indexd", "extract_docs.py"),
                    made], check=True)
    docs = [
        ("/usr/share/doc/libtasn1-doc/libtasn1.pdf", "application", "pdf"),
        ("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf", "application", "pdf"),
        ("/usr/share/python-odf/api-for-odfpy.odt", "application",
         "vnd.oasis.opendocument.text"),
        ("/usr/share/python-odf/examples/countrystatistics.ods", "application",
         "vnd.oasis.opendocument.spreadsheet"),
        (os.path.join(made, "made.docx"), "application",
         "vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (os.path.join(made, "made.xlsx"), "application",
         "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (os.path.join(made, "made.odt"), "application", "vnd.oasis.opendocument.text"),
    ]
    data = [open(p, "rb").read() for p, _, _ in docs]
    total = 0
    for i in range(n):
        k = i % len(docs)
        m = email.message.EmailMessage()
        m["From"] = "bench%d@example.org" % i
        m["To"] = "archive@example.net"
        m["Subject"] = "attachment bench %d" % i
        m["Message-ID"] = "<bench-att-%d@example.org>" % i
        m["Date"] = "Tue, 2 Jan 2024 09:%02d:00 +0000" % (i % 60)
        m.set_content("Attached, document %d." % i)
        m.add_attachment(data[k], maintype=docs[k][1], subtype=docs[k][2],
                         filename=os.path.basename(docs[k][0]))
        with open(os.path.join(out, "att%03d.eml" % i), "wb") as f:
            f.write(m.as_bytes())
        total += len(data[k])
    print(total)


main()
