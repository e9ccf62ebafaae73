"""webtest.py - shared helpers for the web console's tests and benchmark.

A Console is a private plugin.conf (archive, spool, [web] on a free
loopback port, an accounts file) in a temp dir: import() fills the archive
with build/mailsift, spool() writes spool entries in the format of
indexer/lib/ms_spool.h (as the milter does) and index_spool() runs
build/mailsift-indexd until they are archived (so verdicts and viruses
are real archive fields), user() adds an account, start()/stop() run
build/mailsift-web -f. browser() opens headless Chromium through the
Debian chromedriver (selenium from python3-selenium).
"""
import hashlib
import http.client
import os
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mstest  # noqa: E402

WEB = os.path.join(mstest.BUILD, "mailsift-web")
INDEXD = os.path.join(mstest.BUILD, "mailsift-indexd")
SHOTS = os.path.join(mstest.BUILD, "screenshots")


def request(port, method, path, body=None, cookie=None, headers=None, timeout=30):
    """One plain-HTTP request to 127.0.0.1:port (cookie: the msid session,
    a body is form-encoded): status, headers (lower-case names), body."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = "msid=" + cookie
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def wait_for(fn, timeout=30.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(step)
    return bool(fn())


class Console:
    def __init__(self, extra=""):
        self.port = mstest.free_ports(1)[0]
        self.ar = mstest.Archive()
        self.tmp = self.ar.tmp
        self.spool_dir = os.path.join(self.tmp, "spool")
        for d in ("tmp", "new", "bad"):
            os.makedirs(os.path.join(self.spool_dir, d))
        self.users = os.path.join(self.tmp, "users")
        with open(self.ar.conf, "a") as f:
            f.write("[spool]\ndir = %s\n[web]\nlisten = 127.0.0.1:%d\nusers = %s\n%s"
                    % (self.spool_dir, self.port, self.users, extra))
        self.proc = None
        self.scheme = "http"
        self.n_spool = 0

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.port, path)

    def run(self, *args, check=True):
        return self.ar.run(*args, check=check)

    def count(self, q):
        rc, out, err = self.ar.run("count", q)
        if rc != 0:
            raise RuntimeError("count %s: %s" % (q, err))
        return int(out)

    def import_(self, *paths):
        self.ar.run("import", *paths, check=True)

    def spool(self, msg, sender="bob@example.com", rcpts=("alice@example.org",),
              client="mx.example.net [192.0.2.7]", verdict="clean", virus=""):
        """Writes one spool entry (message + envelope record + footer)."""
        self.n_spool += 1
        eid = "w%06d" % self.n_spool  # milter ids are lower case (id: folds case)
        rec = [("id", eid), ("sender", sender)] + [("rcpt", r) for r in rcpts]
        rec += [("qid", "Q" + eid), ("client", client), ("verdict", verdict),
                ("virus", virus), ("time", str(int(time.time()))),
                ("size", str(len(msg))), ("sha256", hashlib.sha256(msg).hexdigest())]
        mstest.spool_entry(self.spool_dir, eid, msg, rec)

    def index_spool(self):
        """Runs indexd until spool/new is empty; True if it drained."""
        log = open(os.path.join(self.tmp, "indexd.log"), "ab")
        p = subprocess.Popen([INDEXD, "-c", self.ar.conf, "-f"], stdout=log, stderr=log)
        ok = wait_for(lambda: not os.listdir(os.path.join(self.spool_dir, "new")), 60)
        time.sleep(0.5)
        p.terminate()
        p.wait(20)
        log.close()
        return ok and not os.listdir(os.path.join(self.spool_dir, "bad"))

    def user(self, *args, pw="secret"):
        return subprocess.run([WEB, "-c", self.ar.conf, "user"] + list(args),
                              input=pw + "\n", text=True, capture_output=True).returncode

    def start(self):
        self.log = open(os.path.join(self.tmp, "web.log"), "ab")
        self.proc = subprocess.Popen([WEB, "-c", self.ar.conf, "-f"],
                                     stdout=self.log, stderr=self.log)
        return wait_for(self._up, 10)

    def _up(self):
        try:
            c = self.conn(timeout=2)
            c.request("GET", "/login")
            c.getresponse().read()
            return True
        except OSError:
            return False

    def conn(self, timeout=30, cafile=None):
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=cafile or self.cafile)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def weblog(self):
        with open(os.path.join(self.tmp, "web.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            rc = self.proc.wait(20)
            self.log.close()
            self.proc = None
            return rc
        return None

    def cleanup(self):
        self.stop()
        self.ar.cleanup()


def browser(download_dir=None, width=1280, height=900):
    """Headless Chromium (Debian's) driven by /usr/bin/chromedriver."""
    try:
        from selenium import webdriver
    except ImportError:  # python3-selenium lives in Debian's dist-packages
        sys.path.append("/usr/lib/python3/dist-packages")
        from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=%d,%d" % (width, height), "--no-first-run",
              "--disable-background-networking", "--disable-sync",
              "--disable-component-update", "--disable-default-apps"]:
        o.add_argument(a)
    if download_dir:
        o.add_experimental_option("prefs", {"download.default_directory": download_dir,
                                            "download.prompt_for_download": False})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    if download_dir:
        d.execute_cdp_cmd("Page.setDownloadBehavior",
                          {"behavior": "allow", "downloadPath": download_dir})
    d.set_page_load_timeout(60)
    return d


def screenshot(d, name):
    """Writes the whole page to $MAILSIFT_BUILD/screenshots/NAME.png."""
    os.makedirs(SHOTS, exist_ok=True)
    w, h = d.execute_script("return [document.documentElement.scrollWidth,"
                            " document.documentElement.scrollHeight]")
    # a viewport as tall as the page, so frames are drawn too
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": w, "height": min(h, 6000), "deviceScaleFactor": 1, "mobile": False})
    time.sleep(0.3)
    path = os.path.join(SHOTS, name + ".png")
    d.save_screenshot(path)
    d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path


def login(d, con, name, pw="secret"):
    from selenium.webdriver.common.by import By
    d.get(con.url("/login"))
    d.find_element(By.NAME, "user").send_keys(name)
    d.find_element(By.NAME, "password").send_keys(pw)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    # click() may return before the POST's navigation is done (seen in a
    # loaded make check): wait for it to leave the login page, or give up
    # (a refused login stays there)
    deadline = time.time() + 15
    while "/login" in d.current_url and time.time() < deadline:
        time.sleep(0.1)
    return "/login" not in d.current_url
