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
import zlib

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


def _u32(b, i):
    return int.from_bytes(b[i:i + 4], "little")


def _u64(b, i):
    return int.from_bytes(b[i:i + 8], "little")


def boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def spool_segment(path):
    """The entries of a spool segment (format: indexer/lib/ms_spool_int.h),
    read independently of the C code: a list of dicts (off, msg, rec (the
    envelope as (key, value) pairs), ready (a commit entry covers it; after
    a reboot every intact entry), done (before NAME.done's mark), crc_ok).
    None if path is not a segment."""
    try:
        with open(path + ".done") as f:
            done = int(f.read().strip() or 0)
    except (OSError, ValueError):
        done = 0
    with open(path, "rb") as f:
        head = f.read(64)
        base = max(64, done)  # the space before the mark may be a hole
        f.seek(base)
        data = f.read()
    if len(head) < 64 or head[:8] != b"MSSPSEG1" or zlib.crc32(head[:60]) != _u32(head, 60):
        return None
    boot = head[8:48].rstrip(b"\0").decode("ascii", "replace")
    strict = bool(boot) and boot == boot_id()
    off, proven, out = 0, 0, []
    while off + 32 <= len(data):
        h = data[off:off + 32]
        if h[:4] != b"MSE1" or zlib.crc32(h[:28]) != _u32(h, 28):
            break
        kind, mlen, rlen, crc = _u32(h, 4), _u64(h, 8), _u32(h, 16), _u32(h, 20)
        end = off + 32 + mlen + rlen
        if end > len(data):
            break
        payload = data[off + 32:end]
        ok = zlib.crc32(payload) == crc
        if kind == 2:
            if not ok:
                break
            proven = max(proven, _u64(payload, 0) - base)
        elif kind == 1:
            if not ok and not strict:
                break  # a torn tail after a reboot
            rec = [tuple(l.split("\t", 1)) for l in payload[mlen:].decode("utf-8", "replace").splitlines()
                   if "\t" in l]
            out.append(dict(off=base + off, end=base + end, msg=payload[:mlen], rec=rec, crc_ok=ok,
                            done=base + off < done))
        else:
            break
        off = end
    for e in out:
        e["ready"] = not strict or e["end"] - base <= proven
    return out


def spool_entries(spool, pending_only=True):
    """Every message entry of the spool: legacy files in new/ and the ready
    entries of the segments in seg/ (only those not yet archived when
    pending_only). A list of dicts (name, id, msg, rec, problem)."""
    res = []
    new = os.path.join(spool, "new")
    for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
        if name.startswith("."):
            continue
        with open(os.path.join(new, name), "rb") as f:
            data = f.read()
        foot, problem, msg, rec = data[-32:], None, b"", []
        if len(data) < 32 or foot[:8] != b"MSSPOOL1" or not foot[8:].isdigit():
            problem = "no footer"
        else:
            mlen, rlen = int(foot[8:20]), int(foot[20:32])
            if mlen + rlen + 32 != len(data):
                problem = "sizes %d+%d+32 != %d" % (mlen, rlen, len(data))
            msg = data[:mlen]
            rec = [tuple(l.split("\t", 1)) for l in data[mlen:mlen + rlen].decode("utf-8", "replace").splitlines()
                   if "\t" in l]
        res.append(dict(name=name, id=dict(rec).get("id"), msg=msg, rec=rec, problem=problem))
    segdir = os.path.join(spool, "seg")
    for seg in sorted(os.listdir(segdir)) if os.path.isdir(segdir) else []:
        if seg.startswith(".") or seg.endswith(".done"):
            continue
        ents = spool_segment(os.path.join(segdir, seg))
        if ents is None:
            res.append(dict(name=seg, id=None, msg=b"", rec=[], problem="not a segment"))
            continue
        for e in ents:
            if not e["ready"] or (pending_only and e["done"]):
                continue
            res.append(dict(name="%s/%d" % (seg, e["off"]), id=dict(e["rec"]).get("id"), msg=e["msg"],
                            rec=e["rec"], problem=None if e["crc_ok"] else "checksum"))
    return res


def spool_backlog(spool):
    """How many entries wait to be archived (see spool_entries)."""
    return len(spool_entries(spool))


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
    """Removes a test's temporary directory, or with MAILSIFT_KEEP=1 (or
    KEEP=1) says where it was kept."""
    if os.environ.get("MAILSIFT_KEEP") or os.environ.get("KEEP"):
        print("kept %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)


def stack_teardown(dm, st, work):
    """The end of a pipeline test: stops the milter and indexd of dm and
    the stack st (either may be None), then keep_or_remove(work)."""
    if dm:
        dm.milter_stop()
        dm.indexd_stop(20)
    if st:
        st.down()
    keep_or_remove(work)


def _port_range():
    """(first, last) of MSTEST_PORTS ("LO-HI": tests that share a machine
    keep to their own ports), or None: the kernel chooses."""
    spec = os.environ.get("MSTEST_PORTS", "")
    if not spec:
        return None
    try:
        lo, hi = (int(x) for x in spec.split("-"))
    except ValueError:
        raise SystemExit("MSTEST_PORTS=%r: expected LO-HI, e.g. 42000-42999" % spec)
    if not 0 < lo <= hi < 65536:
        raise SystemExit("MSTEST_PORTS=%r: not a port range" % spec)
    return lo, hi


# where the search in MSTEST_PORTS goes on: ports just handed out are not
# handed out again; two test processes start at different places
_next_port = [os.getpid() * 7]


def can_connect(port, timeout=1.0):
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    import socket
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(n):
    """n free TCP ports on 127.0.0.1: chosen by the kernel, or taken in
    turn from MSTEST_PORTS (each bound once to see that it is free)."""
    import socket
    rng = _port_range()
    ss = []
    try:
        if rng is None:
            ss = [socket.socket() for _ in range(n)]
            for s in ss:
                s.bind(("127.0.0.1", 0))
        else:
            lo, hi = rng
            for _ in range(hi - lo + 1):
                if len(ss) == n:
                    break
                port = lo + (_next_port[0] % (hi - lo + 1))
                _next_port[0] += 1
                s = socket.socket()
                try:
                    s.bind(("127.0.0.1", port))
                    ss.append(s)
                except OSError:
                    s.close()
            if len(ss) < n:
                raise RuntimeError("MSTEST_PORTS: fewer than %d free ports in %d-%d" % (n, lo, hi))
        return [s.getsockname()[1] for s in ss]
    finally:
        for s in ss:
            s.close()
