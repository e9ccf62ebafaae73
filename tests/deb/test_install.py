#!/usr/bin/env python3
"""test_install.py - the Debian packages on this machine, used the way a
mail admin uses them.

Builds them (make deb), runs lintian (no errors), installs them with
apt-get install ./BUILD/deb/*.deb and checks what postinst made (user,
directories, groups, conffiles, units not enabled, the Dovecot file
enabling nothing, systemd-analyze verify and security). Then starts each
daemon from its installed unit file's ExecStart line as systemd would
(User=, Group= and their groups, UMask=, RuntimeDirectory=, no new
privileges, SystemCallFilter= and RestrictAddressFamilies= as a seccomp
filter, NOTIFY_SOCKET: each must say READY=1, from its main process unless
NotifyAccess=all; the mount namespace settings such as ProtectSystem= are
not reproduced), sends mail through a private Postfix set up as
the README tells an admin (smtpd_milters = unix:/run/mailsift/milter.sock,
milter_default_action = tempfail) to a private Dovecot using the installed
FTS plugin, finds it with the installed /usr/bin/mailsift and IMAP SEARCH,
reloads (ExecReload: RELOADING=1 then READY=1) and stops them (SIGTERM:
STOPPING=1, exit 0). Last, apt-get remove and purge: the archive stays
(read back with the developer build's mailsift), the rest is gone.

Needs root. It refuses to touch a mailsift installation it did not make;
one it made (a failed run: /var/tmp/mailsift-deb-test.state) is purged
first. Prints "N passed, N failed".
"""
import ctypes
import fcntl
import glob
import grp
import imaplib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mstest  # noqa: E402

PKGS = ["mailsift", "mailsift-milter", "mailsift-indexd", "mailsift-web",
        "dovecot-fts-mailsift"]
DAEMONS = ["mailsift-milter", "mailsift-indexd", "mailsift-web"]
SERVE_UNIT = "mailsift-serve@%s.service"  # the template, %s the --listen address
UNITDIR = "/lib/systemd/system"
CONF = "/etc/mailsift/plugin.conf"
ARCHIVE = "/var/lib/mailsift/archive"
SPOOL = "/var/spool/mailsift"
STATE = "/var/tmp/mailsift-deb-test.state"
LOCK = "/run/lock/mailsift-deb-test.lock"
NOTIFY_DIR = "/run/mailsift-deb-test"
MAX_EXPOSURE = 3.0
PR_SET_NO_NEW_PRIVS = 38
LIBC = ctypes.CDLL(None, use_errno=True)

T = mstest.Test("deb/test_install")
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def run(cmd, **kw):
    """Runs cmd (a list); returns (status, stdout + stderr text)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=kw.pop("env", ENV), **kw)
    return p.returncode, p.stdout


def installed():
    """The packages of ours dpkg knows (installed or config-files left)."""
    out = run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n"] +
              PKGS + [p + "-dbgsym" for p in PKGS])[1]
    return [ln.split()[0] for ln in out.splitlines()
            if len(ln.split()) > 1 and ln.split()[1][1] in "iFHUWc"]


def purge_all():
    pk = installed()
    if pk:
        run(["apt-get", "purge", "-y", "-q"] + pk)


def cleanup_leftovers():
    """Removes what an earlier run of this test left behind."""
    purge_all()
    for d in ("/var/lib/mailsift", SPOOL, "/run/mailsift", NOTIFY_DIR):
        shutil.rmtree(d, ignore_errors=True)


def prepare():
    """Refuses a mailsift this test did not install; cleans up its own."""
    if os.geteuid() != 0:
        print("deb/test_install: needs root")
        sys.exit(1)
    ours = os.path.exists(STATE)
    if (installed() or os.path.exists("/var/lib/mailsift")) and not ours:
        print("deb/test_install: mailsift is installed on this machine and "
              "not by this test; refusing to touch it")
        sys.exit(1)
    if ours:
        cleanup_leftovers()


# ---------------------------------------------------------------- building

def build_and_lint(build):
    st, out = run(["make", "BUILD=" + build, "deb"], cwd=mstest.ROOT)
    T.check(st == 0, "make deb failed:\n" + out[-3000:])
    debdir = os.path.join(mstest.ROOT, build, "deb")
    debs = sorted(os.path.join(debdir, f) for f in os.listdir(debdir)
                  if f.endswith(".deb")) if os.path.isdir(debdir) else []
    names = [os.path.basename(d).split("_")[0] for d in debs]
    T.check(all(p in names for p in PKGS), "packages built: %s" % names)
    changes = [f for f in os.listdir(debdir) if f.endswith(".changes")] \
        if os.path.isdir(debdir) else []
    if T.check(len(changes) == 1, ".changes in %s: %s" % (debdir, changes)):
        out = run(["lintian", os.path.join(debdir, changes[0])])[1]
        tags = [ln for ln in out.splitlines() if re.match(r"^[EWIPX]: ", ln)]
        errors = [ln for ln in tags if ln.startswith("E: ")]
        warnings = [ln for ln in tags if ln.startswith("W: ")]
        T.check(not errors, "lintian errors:\n" + "\n".join(errors))
        print("lintian: %d errors, %d warnings" % (len(errors), len(warnings)))
        for w in warnings:
            print("  " + w)
    return debs


# ---------------------------------------------------------------- installed

def owner_mode(path):
    s = os.stat(path)
    return (pwd.getpwuid(s.st_uid).pw_name, grp.getgrgid(s.st_gid).gr_name,
            stat.S_IMODE(s.st_mode))


def check_installed():
    T.check(sorted(installed()) == sorted(set(installed())) and
            all(p in installed() for p in PKGS), "installed: %s" % installed())
    try:
        pw = pwd.getpwnam("mailsift")
        T.check(pw.pw_uid < 1000 and pw.pw_shell.endswith("nologin") and
                grp.getgrgid(pw.pw_gid).gr_name == "mailsift",
                "mailsift is a system user with group mailsift: %s" % (pw,))
    except KeyError:
        T.check(False, "no user mailsift")
    for path, want in ((SPOOL, ("mailsift", "mailsift", 0o750)),
                       ("/var/lib/mailsift", ("mailsift", "mailsift", 0o750)),
                       (ARCHIVE, ("mailsift", "mailsift", 0o750)),
                       ("/etc/mailsift", ("root", "mailsift", 0o2755))):
        got = owner_mode(path) if os.path.isdir(path) else None
        T.check(got == want, "%s: %s, want %s" % (path, got, want))
    groups = run(["id", "-nG", "postfix"])[1].split()
    T.check("mailsift" in groups, "postfix in group mailsift: %s" % groups)
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}\n"] + PKGS)[1]
    for f in (CONF, "/etc/dovecot/conf.d/90-fts-mailsift.conf"):
        T.check(f in conffiles, "%s is a conffile" % f)
    for d in DAEMONS:
        st, out = run(["/usr/sbin/" + d, "-n", "-c", CONF])
        T.check(st == 0 and "configuration OK" in out, "%s -n: %s" % (d, out))
    with open(CONF) as f:
        text = f.read()
    T.check("/var/spool/mailsift" in text and ARCHIVE in text and
            "unix:/run/mailsift/milter.sock" in text and
            text.count("user = mailsift") == 3, "Debian paths in " + CONF)
    check_dovecot_files()
    check_units()


def check_dovecot_files():
    moddir = run(["sed", "-n", "s/^dovecot_moduledir=//p",
                  "/usr/lib/dovecot/dovecot-config"])[1].strip()
    T.check(os.path.isfile(os.path.join(moddir, "lib21_fts_mailsift_plugin.so")),
            "plugin in Dovecot's module dir %s" % moddir)
    with open("/etc/dovecot/conf.d/90-fts-mailsift.conf") as f:
        live = [ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    T.check(not live, "90-fts-mailsift.conf enables nothing: %s" % live)
    st, out = run(["doveconf", "-n", "-c", "/etc/dovecot/dovecot.conf"])
    T.check(st == 0, "doveconf with the package's conf.d file: " + out[-500:])


def check_units():
    tmp = tempfile.mkdtemp(prefix="mailsift-unit-")
    inst = os.path.join(tmp, SERVE_UNIT % "127.0.0.1:7400")
    if T.check(os.path.isfile(os.path.join(UNITDIR, SERVE_UNIT % "")),
               "installed " + SERVE_UNIT % ""):
        shutil.copy(os.path.join(UNITDIR, SERVE_UNIT % ""), inst)
    try:
        for d in DAEMONS + [None]:
            check_unit(d, inst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_unit(d, inst):
    """d's unit (None: an instance of the serve template, at path inst):
    installed, not enabled, verified, exposure at most MAX_EXPOSURE."""
    if d is None:  # verify the template where it is installed
        unit, d = os.path.join(UNITDIR, SERVE_UNIT % ""), "mailsift-serve@*"
        if not os.path.isfile(inst):
            return
    else:
        unit = os.path.join(UNITDIR, d + ".service")
    if not T.check(os.path.isfile(unit), "installed " + unit):
        return
    wants = glob.glob("/etc/systemd/system/multi-user.target.wants/%s.service" % d)
    T.check(not wants, "%s not enabled at install: %s" % (d, wants))
    st, out = run(["systemd-analyze", "verify", unit])
    if d == "mailsift-serve@*":  # security needs an instance
        unit, d = inst, os.path.basename(inst)[:-len(".service")]
    T.check(st == 0 and not out.strip(), "systemd-analyze verify %s: %s" % (d, out))
    out = run(["systemd-analyze", "security", "--offline=true", unit])[1]
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\S+)", out)
    if T.check(m, "systemd-analyze security %s: %s" % (d, out[-300:])):
        print("systemd-analyze security %s: %s %s" % (d, m.group(1), m.group(2)))
        T.check(float(m.group(1)) <= MAX_EXPOSURE and
                m.group(2) in ("OK", "SAFE"), "%s exposure %s %s" % (
                    d, m.group(1), m.group(2)))


# ---------------------------------------------------------------- the units

def read_unit(path):
    """The [Service] settings of a unit file: key -> list of values."""
    svc, section = {}, None
    with open(path) as f:
        for ln in f:
            ln = ln.strip()
            if not ln or ln[0] in "#;":
                continue
            if ln.startswith("["):
                section = ln
            elif section == "[Service]" and "=" in ln:
                k, v = ln.split("=", 1)
                svc.setdefault(k.strip(), []).append(v.strip())
    return svc


class Seccomp:
    """A unit's SystemCallFilter=, SystemCallErrorNumber= and
    RestrictAddressFamilies= as a seccomp filter made with libseccomp (the
    library systemd uses): built here, loaded in the child just before
    exec. Group names (@system-service) are expanded by systemd-analyze."""

    ALLOW, ERRNO = 0x7FFF0000, 0x00050000
    FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10}

    class Cmp(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                    ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]

    def __init__(self, unit):
        self.lib = ctypes.CDLL("libseccomp.so.2")
        self.lib.seccomp_init.restype = ctypes.c_void_p
        self.lib.seccomp_init.argtypes = [ctypes.c_uint32]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
            ctypes.c_void_p]
        self.lib.seccomp_load.argtypes = [ctypes.c_void_p]
        self.allowed = self._allowed(unit.get("SystemCallFilter", []))
        errno_name = unit.get("SystemCallErrorNumber", ["EPERM"])[-1]
        import errno as errno_mod
        self.errno = getattr(errno_mod, errno_name)
        fams = " ".join(unit.get("RestrictAddressFamilies", [])).split()
        self.families = [self.FAMILIES[f] for f in fams]
        self.ctx = self._build() if self.allowed else None

    @staticmethod
    def _expand(name, cache={}):
        if not name.startswith("@"):
            return {name}
        if name not in cache:
            out = run(["systemd-analyze", "syscall-filter", name])[1]
            words = set()
            for ln in out.splitlines()[1:]:
                w = ln.strip()
                if w and not w.startswith("#"):
                    words |= Seccomp._expand(w)
            cache[name] = words
        return cache[name]

    def _allowed(self, lines):
        allowed = None
        for ln in lines:
            deny = ln.startswith("~")
            names = set()
            for w in ln.lstrip("~").split():
                names |= self._expand(w)
            if deny:
                allowed = (allowed or set()) - names
            else:
                allowed = (allowed or set()) | names
        return allowed

    def _rule(self, ctx, nr, cmps=()):
        arr = (self.Cmp * max(1, len(cmps)))(*cmps)
        return self.lib.seccomp_rule_add_array(ctx, self.ALLOW, nr, len(cmps), arr)

    def _build(self):
        ctx = self.lib.seccomp_init(self.ERRNO | self.errno)
        for name in sorted(self.allowed):
            nr = self.lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                continue  # not a system call of this architecture
            if name == "socket" and self.families:
                for f in self.families:
                    self._rule(ctx, nr, [self.Cmp(0, 4, f, 0)])  # arg0 == f
            elif self._rule(ctx, nr) != 0:
                raise RuntimeError("seccomp_rule_add %s failed" % name)
        return ctx

    def load(self):
        """In the child: install the filter (after no_new_privs)."""
        if self.ctx and self.lib.seccomp_load(self.ctx) != 0:
            raise OSError("seccomp_load failed")


class Notify:
    """The NOTIFY_SOCKET systemd would give a Type=notify service: a
    datagram socket collecting (sender pid, message) pairs."""

    def __init__(self):
        os.makedirs(NOTIFY_DIR, exist_ok=True)
        os.chmod(NOTIFY_DIR, 0o755)
        self.path = os.path.join(NOTIFY_DIR, "notify.sock")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        os.chmod(self.path, 0o666)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.msgs, self.lock = [], threading.Lock()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        size = socket.CMSG_SPACE(12)
        while True:
            try:
                data, anc, _, _ = self.s.recvmsg(4096, size)
            except OSError:
                return
            pid = 0
            for lvl, typ, val in anc:
                if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    pid = int.from_bytes(val[0:4], sys.byteorder)
            with self.lock:
                self.msgs.append((pid, data.decode(errors="replace")))

    def wait(self, pids, word, since, secs=30):
        """Waits for a message holding word (e.g. READY=1) from one of pids
        (None: anyone) after message number since; returns its index."""
        end = time.time() + secs
        while time.time() < end:
            with self.lock:
                for i in range(since, len(self.msgs)):
                    pid, m = self.msgs[i]
                    if word in m.split("\n") and (pids is None or pid in pids):
                        return i
            time.sleep(0.1)
        return -1

    def count(self):
        with self.lock:
            return len(self.msgs)


def tree_pids(pid):
    """pid and its descendants."""
    out, todo = {pid}, [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        out.update(kids)
        todo.extend(kids)
    return out


class Service:
    """One daemon started from its unit file as systemd would start it."""

    def __init__(self, name, notify, logdir, instance=None):
        """instance: name is a template's prefix (mailsift-serve), %i this."""
        self.name, self.notify = name, notify
        if instance is None:
            self.unit = read_unit(os.path.join(UNITDIR, name + ".service"))
        else:
            self.unit = {k: [x.replace("%i", instance) for x in v] for k, v in
                         read_unit(os.path.join(UNITDIR, name + "@.service")).items()}
        self.log = os.path.join(logdir, name + ".log")
        self.proc = None

    def one(self, key, default=""):
        return self.unit.get(key, [default])[-1]

    def _runtime_dirs(self):
        user, group = self.one("User"), self.one("Group")
        mode = int(self.one("RuntimeDirectoryMode", "0755"), 8)
        for d in self.one("RuntimeDirectory").split():
            path = os.path.join("/run", d)
            os.makedirs(path, exist_ok=True)
            shutil.chown(path, user, group)
            os.chmod(path, mode)

    def start(self):
        argv = shlex.split(self.one("ExecStart").lstrip("-@:+!"))
        pw = pwd.getpwnam(self.one("User"))
        gid = grp.getgrnam(self.one("Group", pw.pw_name)).gr_gid
        umask = int(self.one("UMask", "0022"), 8)
        nnp = self.one("NoNewPrivileges") == "yes"
        filt = Seccomp(self.unit)
        self._runtime_dirs()
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8", "NOTIFY_SOCKET": self.notify.path,
               "USER": pw.pw_name, "LOGNAME": pw.pw_name, "HOME": pw.pw_dir}

        def as_unit():
            os.setsid()
            os.setgid(gid)
            os.initgroups(pw.pw_name, gid)
            os.setuid(pw.pw_uid)
            os.umask(umask)
            if nnp and LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
            os.chdir("/")
            filt.load()  # last: Python itself needs little after it

        self.mark = self.notify.count()
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf, env=env,
                                         preexec_fn=as_unit)
        return self.proc

    def confined(self):
        """The main process runs as the unit says (uid, NoNewPrivs, a
        seccomp filter)."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                st = dict(ln.split(":", 1) for ln in f if ":" in ln)
        except OSError:
            return False
        uid = str(pwd.getpwnam(self.one("User")).pw_uid)
        return (st["Uid"].split()[0] == uid and st["NoNewPrivs"].strip() == "1"
                and st["Seccomp"].strip() == "2")

    def pids(self):
        """Who may notify: the main pid, or its tree with NotifyAccess=all."""
        if self.one("NotifyAccess", "main") == "all":
            return tree_pids(self.proc.pid)
        return {self.proc.pid}

    def wait_state(self, word, secs=30):
        # NotifyAccess=all: the tree is read while waiting (a worker forks)
        end = time.time() + secs
        while time.time() < end:
            i = self.notify.wait(self.pids(), word, self.mark, 1)
            if i >= 0:
                self.mark = i + 1
                return True
            if self.proc.poll() is not None:
                return False
        return False

    def reload(self):
        cmd = self.one("ExecReload").replace("$MAINPID", str(self.proc.pid))
        return run(shlex.split(cmd))[0] == 0

    def stop(self, secs=60):
        """SIGTERM (systemd's KillSignal); returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(secs)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None

    def remove_runtime_dirs(self):
        for d in self.one("RuntimeDirectory").split():
            shutil.rmtree(os.path.join("/run", d), ignore_errors=True)

    def tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-10:])
        except OSError:
            return ""


# ---------------------------------------------------------------- the mail

def set_conf(path, section, key, value):
    """Changes key in [section] of plugin.conf, as an admin would."""
    with open(path) as f:
        lines = f.readlines()
    cur, done = None, False
    for i, ln in enumerate(lines):
        m = re.match(r"^\[(\w+)\]", ln)
        if m:
            cur = m.group(1)
        elif cur == section and re.match(r"^%s\s*=" % key, ln):
            lines[i] = "%s = %s\n" % (key, value)
            done = True
    if not T.check(done, "no %s in [%s] of %s" % (key, section, path)):
        return
    with open(path, "w") as f:
        f.writelines(lines)


def message(token, body):
    return ("From: bob@example.org\nTo: alice@example.org\n"
            "Subject: deb test %s\nMessage-ID: <%s@example.org>\n\n%s\n"
            % (token, token, body))


def find(query, secs=60):
    """Polls the installed mailsift until a message matches query (a bare
    word: the subject); returns its archive id or None."""
    if ":" not in query:
        query = "subject:" + query
    end = time.time() + secs
    while time.time() < end:
        st, out = run(["/usr/bin/mailsift", "search", "--json", query])
        m = re.search(r'"id":\s*"([0-9a-f]+)"', out)
        if st == 0 and m:
            return m.group(1)
        time.sleep(1)
    return None


def imap_search(port, token):
    m = imaplib.IMAP4("127.0.0.1", port)
    try:
        m.login("alice", "secret")
        m.select("INBOX")
        typ, data = m.search(None, "BODY", token)
        return typ, data[0].split()
    finally:
        m.logout()


def stack_env(base):
    smtp, lmtp, imap, pop3 = mstest.free_ports(4)
    env = {"STACK_SMTP_PORT": str(smtp), "STACK_LMTP_PORT": str(lmtp),
           "STACK_IMAP_PORT": str(imap), "STACK_POP3_PORT": str(pop3),
           # the README's Postfix lines
           "STACK_SMTPD_MILTERS": "unix:/run/mailsift/milter.sock",
           "STACK_MILTER_DEFAULT_ACTION": "tempfail",
           # Dovecot with the installed plugin, as 90-fts-mailsift.conf says
           "STACK_DOVECOT_MAIL_PLUGINS": "fts fts_mailsift",
           "STACK_DOVECOT_PLUGIN_CONF": "  fts = mailsift\n  fts_autoindex = yes\n"
                                        "  mailsift_config = " + CONF,
           "STACK_DOVECOT_EXTRA": "mail_access_groups = mailsift"}
    return env


def mail_round(base, env, services):
    token = "tok%d" % os.getpid()
    reply = mstest.stack(base, 'stack_send bob@example.org alice@example.org '
                         '"$STACK_MSG" || true',
                         dict(env, STACK_MSG=write(base, message(token, "hello " + token))))
    T.check(reply.startswith("250"), "clean mail accepted: %s" % reply)
    eicar = mstest.stack(base, "stack_eicar", env)
    reply = mstest.stack(base, 'stack_send bob@example.org alice@example.org '
                         '"$STACK_MSG" || true',
                         dict(env, STACK_MSG=write(base, message("v" + token, eicar))))
    T.check(reply.startswith("550"), "virus rejected: %s" % reply)
    try:
        delivered = mstest.stack(base, "stack_wait_mail alice %s 60" % token, env).strip()
        with open(delivered, errors="replace") as f:
            head = f.read()
        T.check("X-Mailsift-Id:" in head and "X-Virus-Status: Clean" in head,
                "headers on the delivered copy")
    except RuntimeError as e:
        T.check(False, "not delivered: %s" % e)
    aid = find(token)
    if T.check(aid, "installed mailsift finds the message; indexd log:\n" +
               services["mailsift-indexd"].tail()):
        st, out = run(["/usr/bin/mailsift", "show", aid])
        T.check(st == 0 and ("hello " + token) in out, "mailsift show %s" % aid)
    # [archive] keep_infected = yes: the rejected virus is archived too
    T.check(find("verdict:infected subject:v" + token) is not None,
            "the rejected virus is archived as infected")
    try:
        typ, uids = imap_search(int(env["STACK_IMAP_PORT"]), token)
        T.check(typ == "OK" and len(uids) == 1, "IMAP SEARCH with the installed "
                "plugin: %s %s" % (typ, uids))
    except (OSError, imaplib.IMAP4.error) as e:
        T.check(False, "IMAP: %s" % e)


def write(base, text):
    path = os.path.join(base, "msg-%d.eml" % time.monotonic_ns())
    with open(path, "w") as f:
        f.write(text)
    return path


def check_web(port):
    try:
        r = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10)
        code = r.status
    except urllib.error.HTTPError as e:
        code = e.code
    except OSError as e:
        code = str(e)
    T.check(code in (200, 302, 303, 401), "mailsift-web answers: %s" % code)


def check_serve(base, notify, build):
    """mailsift-serve@127.0.0.1:PORT as its unit starts it, over the
    installed archive: READY=1, confined, a search head (the developer
    build) counts what the installed mailsift counts, reload, stop."""
    port = mstest.free_ports(2)[0]
    s = Service("mailsift-serve", notify, base, "127.0.0.1:%d" % port)
    head = os.path.join(base, "head")
    os.makedirs(os.path.join(head, "archive"), exist_ok=True)
    with open(os.path.join(head, "plugin.conf"), "w") as f:
        f.write("[archive]\ndir = %s/archive\nremote = 127.0.0.1:%d\n"
                "[audit]\nfile = %s/audit.log\n" % (head, port, head))
    try:
        s.start()
        T.check(s.wait_state("READY=1"), "mailsift-serve@ says READY=1:\n" + s.tail())
        T.check(s.confined(), "mailsift-serve@ runs as mailsift, no new privileges, "
                "seccomp filter")
        want = run(["/usr/bin/mailsift", "count", "*"])[1].strip()
        got = run([os.path.join(mstest.ROOT, build, "mailsift"), "-c",
                   os.path.join(head, "plugin.conf"), "count", "*"])[1].strip()
        T.check(want.isdigit() and int(want) > 0 and got == want,
                "a search head counts the served archive as the host does: %s %s"
                % (got, want))
        T.check(s.reload() and s.wait_state("RELOADING=1") and s.wait_state("READY=1"),
                "mailsift-serve@ ExecReload: RELOADING=1, READY=1:\n" + s.tail())
    finally:
        mark = s.mark if s.proc else 0
        rc = s.stop()
        T.check(rc == 0, "mailsift-serve@ stops with status 0 on SIGTERM: %s\n%s"
                % (rc, s.tail()))
        T.check(notify.wait(None, "STOPPING=1", mark, 1) >= 0,
                "mailsift-serve@ says STOPPING=1")


def restart_indexd(s):
    """Starts indexd once more with the milter gone, as an admin draining
    the spool before a purge would: it finishes the milter's segments."""
    if s.proc is None:
        return
    s.start()
    T.check(s.wait_state("READY=1"), "indexd restarts: " + s.tail())
    T.check(s.stop() == 0, "indexd stops again: " + s.tail())


def run_daemons(base, env, build):
    notify = Notify()
    services = {d: Service(d, notify, base) for d in DAEMONS}
    web_port = mstest.free_ports(1)[0]
    set_conf(CONF, "scanner", "clamd", "unix:%s/clamd/clamd.sock" % base)
    set_conf(CONF, "web", "listen", "127.0.0.1:%d" % web_port)
    try:
        mstest.stack(base, "stack_clamd_start", env)
        for s in services.values():
            s.start()
        for d, s in services.items():
            T.check(s.wait_state("READY=1"), "%s says READY=1 (Type=notify):\n%s"
                    % (d, s.tail()))
            T.check(s.confined(), "%s runs as mailsift, no new privileges, "
                    "seccomp filter" % d)
        T.check(os.path.exists("/run/mailsift/milter.sock"), "milter socket")
        mstest.stack(base, "stack_dovecot_start && stack_postfix_start", env)
        mail_round(base, env, services)
        check_web(web_port)
        for d, s in services.items():
            T.check(s.reload() and s.wait_state("RELOADING=1") and
                    s.wait_state("READY=1"), "%s ExecReload: RELOADING=1, READY=1" % d)
        for d, s in services.items():
            T.check(s.proc.poll() is None, "%s still running after reload" % d)
        check_serve(base, notify, build)
    except RuntimeError as e:
        T.check(False, "stack: %s" % e)
    finally:
        for d in ("mailsift-milter", "mailsift-web", "mailsift-indexd"):
            s = services[d]
            if s.proc is None:
                continue
            mark = s.mark
            rc = s.stop()
            s.mark = mark
            T.check(rc == 0, "%s stops with status 0 on SIGTERM: %s\n%s" % (d, rc, s.tail()))
            T.check(notify.wait(None, "STOPPING=1", mark, 1) >= 0, "%s says STOPPING=1" % d)
            s.remove_runtime_dirs()
        restart_indexd(services["mailsift-indexd"])
        mstest.stack(base, "stack_down", env)
        shutil.rmtree(NOTIFY_DIR, ignore_errors=True)


# ---------------------------------------------------------------- removal

def count_archive(build):
    """Messages in the kept archive, read by the developer build."""
    tmp = tempfile.mkdtemp(prefix="mailsift-deb-")
    try:
        conf = os.path.join(tmp, "plugin.conf")
        with open(conf, "w") as f:
            f.write("[archive]\ndir = %s\n[audit]\nfile = %s/audit.log\n" % (ARCHIVE, tmp))
        st, out = run([os.path.join(mstest.ROOT, build, "mailsift"), "-c", conf,
                       "count", "*"])
        return int(out.split()[0]) if st == 0 and out.split() and \
            out.split()[0].isdigit() else out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_and_purge(build):
    pk = installed()
    st, out = run(["apt-get", "remove", "-y", "-q"] + pk)
    T.check(st == 0, "apt-get remove: " + out[-1000:])
    T.check(not os.path.exists("/usr/bin/mailsift") and
            not os.path.exists("/usr/sbin/mailsift-milter"), "programs removed")
    T.check(os.path.exists(CONF), "remove keeps the conffile")
    st, out = run(["apt-get", "purge", "-y", "-q"] + installed())
    T.check(st == 0, "apt-get purge: " + out[-1000:])
    T.check(not installed(), "nothing left in dpkg: %s" % installed())
    gone = ["/etc/mailsift", "/etc/dovecot/conf.d/90-fts-mailsift.conf", SPOOL,
            "/usr/lib/mailsift"] + [os.path.join(UNITDIR, d + ".service") for d in DAEMONS]
    for p in gone:
        left = run(["find", p])[1] if os.path.isdir(p) else p
        T.check(not os.path.exists(p), "purged: %s" % left)
    T.check(run(["getent", "passwd", "mailsift"])[0] != 0 and
            run(["getent", "group", "mailsift"])[0] != 0, "user and group removed")
    n = count_archive(build)
    T.check(isinstance(n, int) and n >= 1, "the archive is kept and readable: %s" % n)


def main():
    build = os.environ.get("MAILSIFT_BUILD", "build")
    lockf = open(LOCK, "w")
    fcntl.flock(lockf, fcntl.LOCK_EX)
    prepare()
    start = time.time()
    debs = build_and_lint(build)
    if not debs:
        T.done()
    with open(STATE, "w") as f:
        f.write("installed by tests/deb/test_install.py\n")
    base = os.path.join(mstest.ROOT, build, "deb-test")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    try:
        st, out = run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + debs)
        if T.check(st == 0, "apt-get install: " + out[-2000:]):
            check_installed()
            run_daemons(base, stack_env(base), build)
            remove_and_purge(build)
    finally:
        cleanup_leftovers()
        os.unlink(STATE)
    print("deb/test_install: %.0f s (build, lintian, install, mail, purge)"
          % (time.time() - start))
    T.done()


if __name__ == "__main__":
    main()
