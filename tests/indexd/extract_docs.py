#!/usr/bin/python3
"""extract_docs.py - writes the Office and OpenDocument files the extraction
tests and the bench make with Debian's python3-docx, python3-openpyxl and
python3-odf (run with Debian's /usr/bin/python3, where those live).
usage: extract_docs.py DIR [WORD...]: DIR/made.docx, made.xlsx, made.odt,
each holding the given words (defaults below) among ordinary text."""
import os
import sys

import docx
import openpyxl
from odf.opendocument import OpenDocumentText
from odf.text import H, P


def main():
    out = sys.argv[1]
    words = (sys.argv[2:] + ["zymurgical", "ptarmigan", "xylophonist"])[:3]
    filler = "Quarterly figures were reviewed by the committee on Tuesday."
    d = docx.Document()
    d.add_heading("Contract review", 1)
    d.add_paragraph(filler)
    d.add_paragraph("The %s clause applies." % words[0])
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text = "total"
    t.cell(0, 1).text = "4711"
    d.save(os.path.join(out, "made.docx"))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "region"
    ws["B1"] = words[1]
    ws["A2"] = 12345
    ws["B2"] = filler
    wb.save(os.path.join(out, "made.xlsx"))
    o = OpenDocumentText()
    o.text.addElement(H(outlinelevel=1, text="Minutes"))
    o.text.addElement(P(text=filler))
    o.text.addElement(P(text="Present: the %s delegation." % words[2]))
    o.save(os.path.join(out, "made.odt"))


main()
