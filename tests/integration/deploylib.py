"""The files of deploy/ run as they are, for the multi-node tests
(tests/integration/test_multinode.py) and make test-ha (tests/ha/run_ha.py):
only addresses, ports and paths are replaced by the test's, every other
word of a file is what an operator installs.

    read_env(path) -> {NAME: value}          a systemd EnvironmentFile
    unit_exec_start(path) -> [argv words]    a unit's ExecStart (\\ joined)
    store_url(url, hosts, user, db)          the URL with its hosts, user and
                                             database replaced, query kept
    init_store(binary, url, data)            fieldsyncd init --store; the
                                             admin token (DATA/admin.token)
    Node(binary, url, blobs, token, ...)     a fieldsyncd started from
                                             deploy/fieldsyncd-pg@.service's
                                             ExecStart and fieldsyncd-pg.env
        .start() .kill9() .stop() .restart() .alive() .url .port .log_tail()
    HAProxy(cfg, env)                        haproxy -db -f deploy/haproxy/CFG
        .check() (haproxy -c)  .start()  .stop()  .states() (stats CSV)
    make_cert(dir) -> (cert, key, pem)       self-signed for 127.0.0.1
    free_port()
    Handheld(prefix, token, targets, site, stop_at)   a device under load
        (a thread: push new records, pull with its cursor; resend unacked)
    admin_pull(target, token, site) -> {zone id: times served}
"""

import http.client
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import harness as H

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "deploy")
UNIT = os.path.join(DEPLOY, "fieldsyncd-pg@.service")
NODE_ENV = os.path.join(DEPLOY, "fieldsyncd-pg.env")
HAPROXY_CFG = os.path.join(DEPLOY, "haproxy", "fieldsync.cfg")
HAPROXY_TLS_NODES_CFG = os.path.join(DEPLOY, "haproxy",
                                     "fieldsync-tls-nodes.cfg")
HAPROXY = "/usr/sbin/haproxy"
# What the unit names that a test must put elsewhere.
UNIT_BINARY = "/usr/local/bin/fieldsyncd"
UNIT_BLOBS = "/srv/fieldsync/blobs"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_env(path):
    """NAME=value lines of a systemd EnvironmentFile (comments skipped)."""
    out = {}
    with open(path) as f:
        for ln in f:
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            k, sep, v = ln.partition("=")
            if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", k):
                raise AssertionError("%s: not NAME=value: %r" % (path, ln))
            out[k] = v
    return out


def unit_section_values(path, key):
    """Every value of `key` in a unit file, continuation lines joined."""
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    return [ln.split("=", 1)[1].strip() for ln in text.splitlines()
            if ln.startswith(key + "=")]


def unit_exec_start(path=UNIT):
    (line,) = unit_section_values(path, "ExecStart")
    return shlex.split(line)


def expand(words, env, instance="node1"):
    """systemd's expansion of ${NAME} (one word each) and %i."""
    out = []
    for w in words:
        w = w.replace("%i", instance)
        for k, v in env.items():
            w = w.replace("${%s}" % k, v)
        if "${" in w or "%" in w:
            raise AssertionError("unexpanded word in ExecStart: %r" % w)
        out.append(w)
    return out


def store_url(url, hosts, user=None, db=None):
    """`url` (postgresql://USER@H1,H2/DB?QUERY) with its hosts (a list of
    host:port), and user and database when given, replaced; the query (its
    target_session_attrs, connect_timeout) kept."""
    u = urllib.parse.urlsplit(url)
    old_user, _, _ = u.netloc.rpartition("@")
    netloc = "%s@%s" % (user or old_user, ",".join(hosts))
    path = "/" + db if db else u.path
    return urllib.parse.urlunsplit((u.scheme, netloc, path, u.query, ""))


def _run(argv, env=None, timeout=60):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def init_store(binary, url, data, env=None):
    """`fieldsyncd init --store URL --data DATA`; returns the admin token."""
    os.makedirs(data, exist_ok=True)
    rc, out = _run([binary, "init", "--store", url, "--data", data],
                   env=env, timeout=120)
    if rc != 0:
        raise H.HarnessError("fieldsyncd init --store %s exited %d:\n%s"
                             % (url, rc, out))
    with open(os.path.join(data, "admin.token")) as f:
        return f.read().strip()


class Node:
    """A fieldsyncd node started exactly as deploy/fieldsyncd-pg@.service
    starts it (its ExecStart, deploy/fieldsyncd-pg.env's variables), with
    the test's store URL, a free loopback port, the shared blob directory
    and the binary under test.  extra: more serve flags (a test's TLS)."""

    def __init__(self, binary, url, blobs, token, logdir, name="node1",
                 trusted="127.0.0.1", extra=(), env=None, port=None):
        self.binary, self.blobs, self.name = binary, blobs, name
        self.admin_token = token
        self.port = port or free_port()
        self.env = read_env(NODE_ENV)
        for k in ("FIELDSYNC_STORE", "FIELDSYNC_LISTEN",
                  "FIELDSYNC_TRUSTED_PROXY"):
            if k not in self.env:
                raise AssertionError("%s has no %s" % (NODE_ENV, k))
        self.env.update(FIELDSYNC_STORE=url,
                        FIELDSYNC_LISTEN="127.0.0.1:%d" % self.port,
                        FIELDSYNC_TRUSTED_PROXY=trusted)
        words = [w.replace(UNIT_BINARY, binary).replace(UNIT_BLOBS, blobs)
                 for w in unit_exec_start()]
        self.argv = expand(words, self.env, name) + list(extra)
        self.tls = "--cert" in extra
        self.proc_env = dict(os.environ)
        for e in unit_section_values(UNIT, "Environment"):
            k, _, v = e.partition("=")
            self.proc_env[k] = v
        self.proc_env.update(self.env)
        self.proc_env.update(env or {})
        self.log_path = os.path.join(logdir, "%s.log" % name)
        self.proc = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http",
                                      self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=15.0):
        if self.alive():
            return self
        with open(self.log_path, "ab") as log:
            log.write(("\n==== %s: %s\n" % (time.strftime("%H:%M:%S"),
                                           " ".join(self.argv))).encode())
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         env=self.proc_env)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise H.HarnessError("%s exited %d:\n%s" % (
                    self.name, self.proc.returncode, self.log_tail()))
            try:
                r = H.req(self.url, "GET", "/healthz", timeout=1)
                if r.status == 200:
                    return self
                last = r.status
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.05)
        self.kill9()
        raise H.HarnessError("%s not healthy after %.0f s (%s):\n%s" % (
            self.name, timeout, last, self.log_tail()))

    def _signal(self, sig, wait):
        if not self.alive():
            return
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kill9(self):
        self._signal(signal.SIGKILL, None)

    def stop(self):
        self._signal(signal.SIGTERM, 10)

    def restart(self):
        self.stop()
        return self.start()

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])


class HAProxy:
    """deploy/haproxy/*.cfg run as it is (`haproxy -db`, one foreground
    process), the ${FS_...} variables it reads set from env."""

    def __init__(self, cfg, env, logdir):
        self.cfg, self.logdir = cfg, logdir
        self.env = dict(os.environ)
        self.env.update(env)
        self.proc = None
        self.log_path = os.path.join(logdir, "haproxy.log")

    def check(self):
        rc, out = _run([HAPROXY, "-c", "-f", self.cfg], env=self.env)
        if rc != 0:
            raise AssertionError("haproxy -c -f %s exited %d:\n%s"
                                 % (self.cfg, rc, out))
        return out

    def start(self, port, timeout=10.0):
        """Start and wait until `port` (its frontend) takes connections."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, env=self.env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise H.HarnessError("haproxy exited %d:\n%s" % (
                    self.proc.returncode, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise H.HarnessError("haproxy not listening on %d" % port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def states(self, stats_port):
        """{server name: status} of the backend, from the stats CSV."""
        r = H.req("http://127.0.0.1:%d" % stats_port, "GET", "/;csv",
                  timeout=5)
        out = {}
        head = None
        for ln in r.raw.decode().splitlines():
            if ln.startswith("# "):
                head = ln[2:].split(",")
                continue
            row = dict(zip(head or [], ln.split(",")))
            if row.get("pxname") == "fieldsyncd" and \
                    row.get("svname") not in ("BACKEND", "FRONTEND"):
                out[row["svname"]] = row.get("status")
        return out

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace")
                                 .splitlines()[-n:])
        except FileNotFoundError:
            return ""


def make_cert(d):
    """A self-signed certificate for 127.0.0.1 in d: (cert, key, pem), pem
    being the two concatenated (HAProxy's crt file)."""
    os.makedirs(d, exist_ok=True)
    cert, key, pem = (os.path.join(d, n) for n in
                      ("cert.pem", "key.pem", "haproxy.pem"))
    rc, out = _run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"])
    if rc != 0:
        raise H.HarnessError("openssl req exited %d:\n%s" % (rc, out))
    with open(pem, "w") as f:
        f.write(open(cert).read() + open(key).read())
    os.chmod(pem, 0o600)
    return cert, key, pem


# ------------------------------------------------------------------ load --

class Handheld(threading.Thread):
    """A handheld under load: pushes a batch of OPS new zone records of
    `site` (ids PREFIX-n) and pulls the site's bucket with its own cursor,
    over and over, against targets[0], targets[1], ... in turn, until
    stop_at (time.monotonic()).  A batch not acked (no answer, a non-200,
    an ack with err) stays in the outbox and is resent with the same batch
    id.  Kept:
        acked   {batch id: ([record ids], dup?)}
        seen    {record id: times a pull delivered it}
        events  [(t_sent, t_answered, status or exception name, body)]
        errors  what broke the protocol (a rejected op, a reset bucket)"""

    def __init__(self, prefix, token, targets, site, stop_at, ops=5,
                 pause=(0.05, 0.15), limit=100):
        super().__init__(daemon=True)
        self.prefix, self.token, self.targets = prefix, token, list(targets)
        self.site, self.stop_at, self.ops = site, stop_at, ops
        self.pause, self.limit = pause, limit
        self.bucket = "site/" + site
        self.outbox, self.acked, self.seen = [], {}, {}
        self.cursor = {self.bucket: 0}
        self.events, self.errors = [], []
        self.n = self.turn = 0
        self.rng = random.Random(prefix)

    def new_batch(self):
        ops = []
        for _ in range(self.ops):
            self.n += 1
            rid = "%s-%d" % (self.prefix, self.n)
            ops.append(H.op("zone", rid, {"site": self.site, "name": rid,
                                          "kind": "load"}))
        return H.batch(ops)

    def once(self, push=True):
        if push and not self.outbox:
            self.outbox.append(self.new_batch())
        batches = self.outbox[:2] if push else []
        target = self.targets[self.turn % len(self.targets)]
        self.turn += 1
        t0 = time.monotonic()
        try:
            r = H.sync(target, self.token, push=batches, pull=self.cursor,
                       limit=self.limit, timeout=15)
        except (OSError, http.client.HTTPException) as e:
            self.events.append((t0, time.monotonic(), type(e).__name__,
                                None))
            return None
        self.events.append((t0, time.monotonic(), r.status, r.body))
        if r.status != 200 or not isinstance(r.body, dict):
            return r
        for b, ack in zip(batches, r.body.get("acks") or []):
            if ack.get("err"):
                continue
            if ack.get("rej"):
                self.errors.append("ops rejected: %r" % ack)
            self.acked[bytes(b["batch"])] = ([o["id"] for o in b["ops"]],
                                             bool(ack.get("dup")))
            self.outbox.remove(b)
        bk = (r.body.get("buckets") or {}).get(self.bucket)
        if bk is not None:
            if bk.get("reset"):
                self.errors.append("bucket reset at cursor %r"
                                   % self.cursor[self.bucket])
            for rec in bk.get("recs") or []:
                if rec["c"] == "zone":
                    self.seen[rec["id"]] = self.seen.get(rec["id"], 0) + 1
            self.cursor[self.bucket] = bk["cursor"]
        return r

    def run(self):
        while time.monotonic() < self.stop_at:
            self.once()
            time.sleep(self.rng.uniform(*self.pause))

    def drain(self, rounds=60):
        """Resend what is unacked, then pull until nothing is left."""
        for _ in range(rounds):
            if not self.outbox:
                break
            self.once()
            time.sleep(0.1)
        for _ in range(rounds * 10):
            r = self.once(push=False)
            if r is not None and r.status == 200 and not \
                    r.body["buckets"][self.bucket].get("more"):
                return
        self.errors.append("pull never finished")


def admin_pull(target, token, site):
    """{zone id: times served} of a pull of site/SITE from cursor 0."""
    got, cur, bucket = {}, {"site/" + site: 0}, "site/" + site
    for _ in range(5000):
        r = H.sync(target, token, pull=cur, limit=1000, timeout=30)
        if r.status != 200:
            raise AssertionError("admin pull answered %r" % r)
        bk = r.body["buckets"][bucket]
        for rec in bk.get("recs") or []:
            if rec["c"] == "zone":
                got[rec["id"]] = got.get(rec["id"], 0) + 1
        cur[bucket] = bk["cursor"]
        if not bk.get("more"):
            return got
    raise AssertionError("admin pull: still more after 5000 pages")
