"""mstest.py - shared helpers for mailsift's command-level tests.

A Test collects named checks and prints "N passed, N failed" at the end;
an Archive is a private plugin.conf + archive directory in a temp dir,
with run() calling build/mailsift -c that config.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("MAILSIFT_BUILD", "build"))
MAILSIFT = os.path.join(BUILD, "mailsift")
CORPUS = os.environ.get("MAILSIFT_CORPUS",
                        os.path.join(ROOT, "..", "shared", "corpus", "spamassassin"))


class Test:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: %s: %s" % (self.name, what), flush=True)
        return ok

    def done(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed or not self.passed else 0)


class Archive:
    def __init__(self, extra=""):
        self.tmp = tempfile.mkdtemp(prefix="mailsift-test-")
        self.dir = os.path.join(self.tmp, "archive")
        self.conf = os.path.join(self.tmp, "plugin.conf")
        with open(self.conf, "w") as f:
            f.write("[archive]\ndir = %s\n%s" % (self.dir, extra))

    def run(self, *args, input=None, check=False):
        """Runs mailsift; returns (exit status, stdout bytes, stderr text)."""
        p = subprocess.run([MAILSIFT, "-c", self.conf] + list(args), input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if check and p.returncode != 0:
            raise RuntimeError("mailsift %s failed: %s" % (args, p.stderr.decode()))
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def peak_rss_mb(self, *args):
        """Runs mailsift in a child and returns (status, peak RSS in MB)."""
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.execv(MAILSIFT, [MAILSIFT, "-c", self.conf] + list(args))
        _, status, ru = os.wait4(pid, 0)
        return os.waitstatus_to_exitcode(status), ru.ru_maxrss / 1024.0

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def spool_record(fields):
    """An envelope record (indexer/lib/ms_spool.h) from (key, value) pairs."""
    esc = lambda v: v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return "".join("%s\t%s\n" % (k, esc(v)) for k, v in fields).encode()


def spool_entry(spool, eid, msg, fields):
    """Writes a spool entry (message, envelope record from fields, footer)
    into spool/tmp and renames it into spool/new, as the milter does."""
    r = spool_record(fields)
    path = os.path.join(spool, "tmp", eid)
    with open(path, "wb") as f:
        f.write(msg + r + b"MSSPOOL1" + b"%012d%012d" % (len(msg), len(r)))
    os.rename(path, os.path.join(spool, "new", eid))


STACK_SH = os.path.join(ROOT, "tests", "stack", "stack.sh")


def stack(base, cmd, env):
    """Runs cmd (shell) with tests/stack/stack.sh sourced, STACK_DIR=base and
    env added; returns its stdout, raises RuntimeError on failure."""
    e = dict(os.environ, STACK_DIR=base, **env)
    p = subprocess.run(["bash", "-c", '. "$0"; ' + cmd, STACK_SH], env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s: %s%s" % (cmd, p.stdout, p.stderr))
    return p.stdout


def wait_for(cond, secs=90, step=0.5):
    """True as soon as cond() is, False after secs seconds of it not."""
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return False


def keep_or_remove(work):
    """Removes a test's temporary directory, or with MAILSIFT_KEEP=1
    says where it was kept."""
    if os.environ.get("MAILSIFT_KEEP"):
        print("kept %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)


def free_ports(n):
    """n free TCP ports on 127.0.0.1, chosen by the kernel."""
    import socket
    ss = [socket.socket() for _ in range(n)]
    for s in ss:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in ss]
    for s in ss:
        s.close()
    return ports
