"""hostile_docs.py - hostile attachments for the extraction tests, made
here: a zip bomb (about 10 MB that inflates to 10 GiB, with honest zip64
sizes and CRC), a DOCX whose document.xml is such a bomb, a PDF whose page
tree loops, a truncated DOCX, random bytes, and stand-ins for a legacy
.doc and for password-protected DOCX and ODT files.
The encrypted PDF is made with qpdf from a Debian PDF (see the test)."""
import os
import struct
import zlib

MIB = 1 << 20


def _crc_repeated(head, chunk, n, tail):
    crc = zlib.crc32(head)
    for _ in range(n):
        crc = zlib.crc32(chunk, crc)
    return zlib.crc32(tail, crc)


def zip_bomb(name="zeros.txt", size_gib=10, chunk=b"\0" * MIB, head=b"", tail=b"",
             extra_members=()):
    """A ZIP whose member name inflates to size_gib GiB of chunk (between
    head and tail), plus small extra (name, bytes) members stored first."""
    n = size_gib * 1024 * MIB // len(chunk) + 1
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    c2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = c2.compress(chunk) + c2.flush(zlib.Z_FULL_FLUSH)
    same = c2.compress(chunk) + c2.flush(zlib.Z_FULL_FLUSH)
    assert c2.compress(chunk) + c2.flush(zlib.Z_FULL_FLUSH) == same
    body += one + same * (n - 1)
    c3 = zlib.compressobj(9, zlib.DEFLATED, -15)
    body += c3.compress(tail) + c3.flush()
    usize = len(head) + n * len(chunk) + len(tail)
    crc = _crc_repeated(head, chunk, n, tail)
    out, central = b"", b""
    for mname, mdata in extra_members:
        mname = mname.encode()
        mcrc = zlib.crc32(mdata)
        local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 0, 0, 0, mcrc,
                            len(mdata), len(mdata), len(mname), 0)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 0, 0,
                               0, mcrc, len(mdata), len(mdata), len(mname), 0, 0,
                               0, 0, 0, len(out)) + mname
        out += local + mname + mdata
    bname = name.encode()
    extra_l = struct.pack("<HHQQ", 1, 16, usize, len(body))
    local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 8, 0, 0, crc,
                        0xFFFFFFFF, 0xFFFFFFFF, len(bname), len(extra_l))
    extra_c = struct.pack("<HHQQ", 1, 16, usize, len(body))
    central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 8, 0, 0,
                           crc, 0xFFFFFFFF, 0xFFFFFFFF, len(bname), len(extra_c),
                           0, 0, 0, 0, len(out)) + bname + extra_c
    out += local + bname + extra_l + body
    n_members = len(extra_members) + 1
    eocd = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, n_members, n_members,
                       len(central), len(out), 0)
    return out + central + eocd


def docx_bomb():
    """A DOCX whose word/document.xml is 10 GiB of empty runs in a body."""
    ct = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
          b'package/2006/content-types"></Types>')
    head = (b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.'
            b'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
            b'<w:t>start</w:t></w:r></w:p>')
    return zip_bomb("word/document.xml", 10, b"<w:r/>" * (MIB // 6), head,
                    b"</w:body></w:document>", [("[Content_Types].xml", ct)])


def looping_pdf():
    """A PDF whose page tree is a cycle (2 -> 3 -> 2) and whose one content
    stream draws a form XObject that draws itself."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Pages /Kids [2 0 R 4 0 R] /Count 1 /Parent 2 0 R >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 100 100] "
        b"/Resources << /XObject << /F 5 0 R >> >> /Contents 6 0 R >>",
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 100 100] "
        b"/Resources << /XObject << /F 5 0 R >> >> /Length 7 >>\nstream\n/F Do\n\nendstream",
        b"<< /Length 7 >>\nstream\n/F Do\n\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, o)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, xref)
    return out


def random_bytes(n, seed):
    out, x = bytearray(), seed
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


def legacy_doc():
    """An OLE compound file header followed by junk: a legacy .doc."""
    return b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + random_bytes(4088, 7)


def encrypted_ooxml():
    """A stand-in for a password-protected DOCX as Office writes it: an OLE
    compound file whose directory names the EncryptionInfo and
    EncryptedPackage streams (no generator in Debian can write one)."""
    d = b"".join((n.encode("utf-16-le") + b"\0\0").ljust(128, b"\0")
                 for n in ("EncryptionInfo", "EncryptedPackage"))
    return b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + b"\0" * 504 + d + random_bytes(3584, 11)


def encrypted_odf():
    """An OpenDocument text as LibreOffice saves it with a password: the
    manifest carries manifest:encryption-data, content.xml is ciphertext."""
    import io
    import zipfile
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
                'manifest:full-path="content.xml" manifest:media-type="text/xml">'
                '<manifest:encryption-data manifest:checksum-type="SHA1/1K" '
                'manifest:checksum="x"><manifest:algorithm manifest:algorithm-name='
                '"Blowfish CFB" manifest:initialisation-vector="x"/></manifest:encryption-data>'
                '</manifest:file-entry></manifest:manifest>')
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("META-INF/manifest.xml", manifest)
        z.writestr("content.xml", random_bytes(2000, 5))
    return b.getvalue()
