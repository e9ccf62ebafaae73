#!/usr/bin/env python3
"""test_man.py - the man pages in man/ render without warnings and say
what the code and the sample configuration say.

- every page renders with man-db (`man --warnings -l`, UTF-8, 80
  columns), groff (`groff -man -ww -z`) and, when installed, mandoc
  (`mandoc -Tlint`) without a single diagnostic; a page with a broken
  macro is caught by the same checks (so they can fail);
- man/plugin.conf.5 is what man/gen-plugin-conf.py makes of plugin.conf
  now (regenerate with `make man`);
- every key of the config table (indexer/lib/ms_config_table.c) is in
  plugin.conf, in its section, and in plugin.conf(5), in its section;
- every subcommand of indexer/cli/cli_main.c, every check of `mailsift
  doctor` (indexer/cli/cli_doctor.c) and every query field
  (indexer/lib/ms_schema.c) is in mailsift(1);
- every Dovecot plugin setting that imap-ext/fts-mailsift-settings.c reads
  is in dovecot-fts-mailsift(7).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

T = mstest.Test("man")
ROOT = mstest.ROOT
MAN = os.path.join(ROOT, "man")
PAGES = ["mailsift.1", "plugin.conf.5", "dovecot-fts-mailsift.7", "mailsift-milter.8",
         "mailsift-indexd.8", "mailsift-web.8"]


def read(*p):
    with open(os.path.join(ROOT, *p), encoding="utf-8") as f:
        return f.read()


def lint(path):
    """The diagnostics of every renderer for the page at path ("" if none)."""
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    runs = [["man", "--warnings", "-l", "-E", "UTF-8", path], ["groff", "-man", "-ww", "-z", path]]
    if shutil.which("mandoc"):
        runs.append(["mandoc", "-Tlint", path])
    out = ""
    for cmd in runs:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        diag = p.stderr + (p.stdout if cmd[0] == "mandoc" else "")
        if p.returncode or diag.strip():
            out += "%s: exit %d: %s" % (" ".join(cmd[:2]), p.returncode, diag)
    return out


def check_rendering():
    for page in PAGES:
        path = os.path.join(MAN, page)
        if not T.check(os.path.exists(path), "%s exists" % page):
            continue
        diag = lint(path)
        T.check(diag == "", "%s renders without warnings: %s" % (page, diag))
    tmp = tempfile.mkdtemp(prefix="mailsift-man-")
    try:
        bad = os.path.join(tmp, "bad.1")
        with open(bad, "w") as f:
            f.write(".TH BAD 1 2026-12-02\n.SH NAME\nbad \\- a page\n.XYZ nonsense\n\\*[nosuchstring]\n")
        T.check(lint(bad) != "", "a broken page is reported")
    finally:
        shutil.rmtree(tmp)


def check_generated():
    p = subprocess.run([sys.executable, os.path.join(MAN, "gen-plugin-conf.py"),
                        os.path.join(ROOT, "plugin.conf")], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    T.check(p.returncode == 0, "gen-plugin-conf.py runs: %s" % p.stderr)
    T.check(p.stdout == read("man", "plugin.conf.5"),
            "man/plugin.conf.5 is made from plugin.conf as it is now (run make man)")


def table_keys():
    src = re.sub(r"/\*.*?\*/", "", read("indexer", "lib", "ms_config_table.c"), flags=re.S)
    keys = re.findall(r"^\s*PC?\(\s*(\w+),\s*(\w+),", src, re.M)
    T.check(len(keys) > 40, "config table read: %d keys" % len(keys))
    return keys


def by_section(text, head, key_re):
    """{section: set of keys} of a file whose sections start with head."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(head, line)
        if m:
            cur = out.setdefault(m.group(1), set())
            continue
        k = re.match(key_re, line)
        if k and cur is not None:
            cur.add(k.group(1))
    return out


def check_keys():
    conf = by_section(read("plugin.conf"), r"^\[(\w+)\]$", r"^(\w+)\s*=")
    page = by_section(read("man", "plugin.conf.5"), r"^\.SS \[(\w+)\]$", r"^\\fB(\w+)\\fP = ")
    for section, key in table_keys():
        T.check(key in conf.get(section, ()), "plugin.conf documents [%s] %s" % (section, key))
        T.check(key in page.get(section, ()), "plugin.conf(5) documents [%s] %s" % (section, key))


def check_commands():
    page = read("man", "mailsift.1")
    main = read("indexer", "cli", "cli_main.c")
    cmds = re.findall(r'\{ "(\w+)", (?:cli_\w+|NULL),', main)
    T.check(len(cmds) >= 12, "commands read from cli_main.c: %s" % cmds)
    for c in cmds:
        T.check(re.search(r"^\.BI? %s\b" % c, page, re.M), "mailsift(1) describes %s" % c)
    opts = set()
    for f in os.listdir(os.path.join(ROOT, "indexer", "cli")):
        if f.endswith(".c"):
            src = read("indexer", "cli", f)
            opts |= set(re.findall(r'\{ "([a-z-]+)", (?:no_argument|required_argument|[01]),', src))
            opts |= set(re.findall(r'"--([a-z-]+)"', src))
    T.check(len(opts) >= 15, "long options read: %s" % sorted(opts))
    for o in sorted(opts):
        T.check("\\-\\-" + o.replace("-", "\\-") in page, "mailsift(1) describes --%s" % o)
    doctor = read("indexer", "cli", "cli_doctor.c")
    checks = re.findall(r'\{ "(\w+)", doc_check_\w+ \}', doctor)
    T.check(len(checks) >= 10, "doctor checks read: %s" % checks)
    section = page.split(".SH DOCTOR", 1)[-1].split(".SH ENVIRONMENT", 1)[0]
    for c in ["config"] + checks:
        T.check(re.search(r"^\.TP\n\.B %s$" % c, section, re.M), "mailsift(1) describes doctor's %s" % c)
    for opt in re.findall(r'\{ "([a-z-]+)", 1, NULL, O_', doctor):
        T.check("\\-\\-" + opt.replace("-", "\\-") in section, "mailsift(1) describes doctor --%s" % opt)


def check_query_fields():
    fields = re.findall(r'^\s*\{ "(\w+)", ', read("indexer", "lib", "ms_schema.c"), re.M)
    T.check(len(fields) >= 15, "query fields read from ms_schema.c: %s" % fields)
    section = read("man", "mailsift.1").split(".SH QUERY LANGUAGE", 1)[-1].split(".SH DOCTOR", 1)[0]
    for f in fields:
        T.check(re.search(r"\b%s:" % f, section), "mailsift(1) describes the query field %s:" % f)


def check_dovecot():
    src = read("imap-ext", "fts-mailsift-settings.c")
    names = set(re.findall(r'"(mailsift_\w+)"', src))
    T.check(len(names) >= 5, "plugin settings read: %s" % sorted(names))
    page = read("man", "dovecot-fts-mailsift.7")
    for n in sorted(names):
        T.check(re.search(r"^\.BI? %s\b" % n, page, re.M), "dovecot-fts-mailsift(7) describes %s" % n)


def main():
    check_rendering()
    check_generated()
    check_keys()
    check_commands()
    check_query_fields()
    check_dovecot()
    T.done()


main()
