#!/usr/bin/python3
"""make test-ha: a Patroni failover under load, nothing acked lost.

    run_ha.py --server build/fieldsyncd [--keep] [--load-s 75] [--kill-at 20]

Starts, on loopback ports from a temporary directory:
  - etcd, three members, from deploy/patroni/etcd.env (as user etcd);
  - two Patroni members from deploy/patroni/pg1.yml and pg2.yml (as user
    postgres; PostgreSQL 15 with synchronous_mode: the standby confirms
    every commit before it is acknowledged);
  - two fieldsyncd nodes from deploy/fieldsyncd-pg@.service and
    deploy/fieldsyncd-pg.env, on the store URL naming both members with
    target_session_attrs=read-write (libpq finds the primary; after a
    failover a new connection finds the new one);
  - HAProxy from deploy/haproxy/fieldsync.cfg in front of the nodes.
Then DEVICES handhelds push new records and pull through HAProxy; KILL_AT s
in, the primary's machine "dies": its Patroni and its postmaster are
killed with SIGKILL.  The standby's Patroni takes over when the leader key
expires (ttl 30 s).  The load goes on; every unacked batch is resent with
its batch id until acked.  At the end: every acked op is in the store
(an admin pull), exactly once, and the devices got acks again after the
failover without any node being restarted.  Then the old primary's
Patroni is started again and must rejoin as the synchronous standby.

The last line is `test-ha: PASS ...` or `test-ha: FAIL ...`; exit 0/1.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness as H  # noqa: E402
import deploylib as D  # noqa: E402

PATRONI_DIR = os.path.join(D.DEPLOY, "patroni")
PG_BIN = "/usr/lib/postgresql/15/bin"
SITE = "ha"
DEVICES = 8


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def as_user(user, argv):
    """argv run as `user`, exec'd in place (setpriv: the pid we get is the
    program's, so it can be killed by pid)."""
    return ["setpriv", "--reuid=" + user, "--regid=" + user,
            "--init-groups", "--"] + argv


def chown_tree(path, user):
    subprocess.run(["chown", "-R", "%s:%s" % (user, user), path], check=True)


class Proc:
    def __init__(self, name, argv, env, logdir):
        self.name = name
        self.log_path = os.path.join(logdir, name + ".log")
        with open(self.log_path, "ab") as f:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=f, stderr=f, env=env)

    def alive(self):
        return self.p.poll() is None

    def kill9(self):
        if self.alive():
            os.kill(self.p.pid, signal.SIGKILL)
            self.p.wait()

    def stop(self, wait=30):
        if self.alive():
            self.p.terminate()
            try:
                self.p.wait(wait)
            except subprocess.TimeoutExpired:
                self.kill9()

    def tail(self, n=20):
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace")
                             .splitlines()[-n:])


# ------------------------------------------------------------------ etcd --

def start_etcd(root, logdir):
    """Three members from deploy/patroni/etcd.env: each member's own
    address (10.0.0.31 in the file) and every member's client and peer
    ports mapped to loopback ports.  Returns (procs, client endpoints)."""
    env_file = D.read_env(os.path.join(PATRONI_DIR, "etcd.env"))
    hosts = {"etcd1": "10.0.0.31", "etcd2": "10.0.0.21", "etcd3": "10.0.0.22"}
    ports = {(h, p): D.free_port() for h in hosts.values()
             for p in ("2379", "2380")}

    def loop(v):
        for (h, p), port in ports.items():
            v = v.replace("%s:%s" % (h, p), "127.0.0.1:%d" % port)
        return v

    procs, clients = [], []
    for name, host in hosts.items():
        env = dict(os.environ)
        for k, v in env_file.items():
            if k.endswith("_URLS"):
                v = v.replace("10.0.0.31", host)
            env[k] = loop(v)
        env["ETCD_NAME"] = name
        env["ETCD_DATA_DIR"] = os.path.join(root, "etcd", name)
        os.makedirs(env["ETCD_DATA_DIR"], mode=0o700)
        chown_tree(env["ETCD_DATA_DIR"], "etcd")
        clients.append("127.0.0.1:%d" % ports[(host, "2379")])
        procs.append(Proc(name, as_user("etcd", ["/usr/bin/etcd"]), env,
                          logdir))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = subprocess.run(["/usr/bin/etcdctl", "--endpoints",
                            ",".join("http://" + c for c in clients),
                            "endpoint", "health"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=dict(os.environ, ETCDCTL_API="3"))
        if r.returncode == 0:
            return procs, clients
        for p in procs:
            if not p.alive():
                raise RuntimeError("%s exited:\n%s" % (p.name, p.tail()))
        time.sleep(0.5)
    raise RuntimeError("etcd not healthy after 60 s:\n%s" %
                       r.stdout.decode())


# --------------------------------------------------------------- patroni --

class Member:
    """A Patroni member from deploy/patroni/<name>.yml, its addresses,
    data directory and passwords from PATRONI_* variables."""

    def __init__(self, name, root, etcd, secrets, logdir):
        self.name, self.logdir = name, logdir
        self.cfg = os.path.join(PATRONI_DIR, name + ".yml")
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, mode=0o700)
        chown_tree(self.dir, "postgres")
        self.pg_port, self.api_port = D.free_port(), D.free_port()
        self.data = os.path.join(self.dir, "data")
        self.env = dict(os.environ)
        self.env.update({
            "HOME": self.dir,
            "PATRONI_RESTAPI_LISTEN": "127.0.0.1:%d" % self.api_port,
            "PATRONI_RESTAPI_CONNECT_ADDRESS": "127.0.0.1:%d" % self.api_port,
            "PATRONI_POSTGRESQL_LISTEN": "127.0.0.1:%d" % self.pg_port,
            "PATRONI_POSTGRESQL_CONNECT_ADDRESS":
                "127.0.0.1:%d" % self.pg_port,
            "PATRONI_POSTGRESQL_DATA_DIR": self.data,
            "PATRONI_POSTGRESQL_PGPASS": os.path.join(self.dir, "pgpass"),
            "PATRONI_ETCD3_HOSTS": ",".join(etcd),
            "PATRONI_SUPERUSER_PASSWORD": secrets["superuser"],
            "PATRONI_REPLICATION_PASSWORD": secrets["replication"],
            "PATRONI_REWIND_PASSWORD": secrets["rewind"],
        })
        self.proc = None

    def validate(self):
        """patroni --validate-config on the file with its own connect
        addresses (the validator refuses loopback ones) and data
        directory; only the listen addresses are ours (it binds them)."""
        env = dict(os.environ)
        env.update({k: v for k, v in self.env.items() if k in (
            "PATRONI_RESTAPI_LISTEN", "PATRONI_POSTGRESQL_LISTEN")})
        r = subprocess.run(as_user("postgres", ["/usr/bin/patroni",
                                                "--validate-config",
                                                self.cfg]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=env)
        out = r.stdout.decode()
        if r.returncode != 0:
            raise RuntimeError("patroni --validate-config %s exited %d:\n%s"
                               % (self.cfg, r.returncode, out))
        return out.strip()

    def start(self):
        self.proc = Proc("patroni-" + self.name,
                         as_user("postgres", ["/usr/bin/patroni", self.cfg]),
                         self.env, self.logdir)

    def api(self, path):
        """HTTP status of Patroni's REST `path` (None: no answer)."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (
                    self.api_port, path), timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def crash(self):
        """The machine dies: Patroni and its PostgreSQL, SIGKILL."""
        pm = self.postmaster_pid()
        self.proc.kill9()
        if pm:
            try:
                os.kill(pm, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # its backends notice the postmaster's death and go
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and subprocess.run(
                ["pgrep", "-f", "-u", "postgres", "--", "-D %s" % self.data],
                stdout=subprocess.DEVNULL).returncode == 0:
            time.sleep(0.2)

    def stop(self):
        if self.proc:
            self.proc.stop(60)
        pm = self.postmaster_pid()
        if pm:
            try:
                os.kill(pm, signal.SIGKILL)
            except ProcessLookupError:
                pass


def psql(member, sql, password, db="postgres"):
    r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t",
                        "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                        "-p", str(member.pg_port), "-U", "postgres", "-d", db,
                        "-c", sql], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT,
                       env=dict(os.environ, PGPASSWORD=password,
                                PGCONNECT_TIMEOUT="5"))
    if r.returncode != 0:
        raise RuntimeError("psql %r on %s: %s" % (sql, member.name,
                                                  r.stdout.decode()))
    return r.stdout.decode().strip()


def wait_roles(members, timeout, want_sync=True):
    """(primary, sync standby) once one member answers /primary 200 and
    the other /sync 200 (or just the primary when not want_sync)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prim = [m for m in members if m.api("/primary") == 200]
        sync = [m for m in members if m.api("/sync") == 200]
        if len(prim) == 1 and (not want_sync or len(sync) == 1):
            return prim[0], (sync[0] if sync else None)
        time.sleep(0.5)
    return None, None


# ------------------------------------------------------------------ main --

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--load-s", type=float, default=100.0)
    ap.add_argument("--kill-at", type=float, default=20.0)
    a = ap.parse_args()
    binary = os.path.abspath(a.server)
    root = tempfile.mkdtemp(prefix="fieldsync-ha-")
    os.chmod(root, 0o755)
    logdir = os.path.join(root, "logs")
    os.makedirs(logdir)
    etcd, members, nodes, hap = [], [], [], None
    result, ok = "", False
    try:
        t0 = time.monotonic()
        etcd, endpoints = start_etcd(root, logdir)
        log("etcd: 3 members healthy (%s)" % ",".join(endpoints))
        secrets = {k: os.urandom(12).hex() for k in
                   ("superuser", "replication", "rewind", "fieldsync")}
        members = [Member(n, root, endpoints, secrets, logdir)
                   for n in ("pg1", "pg2")]
        for m in members:
            log("patroni --validate-config %s: %s" % (
                os.path.relpath(m.cfg, D.REPO), m.validate() or "ok"))
        members[0].start()
        prim, _ = wait_roles(members[:1], 120, want_sync=False)
        if prim is None:
            raise RuntimeError("pg1 not primary after 120 s:\n" +
                               members[0].proc.tail())
        members[1].start()
        prim, sync = wait_roles(members, 180)
        if prim is None:
            raise RuntimeError("no primary + synchronous standby after "
                               "180 s:\n%s\n%s" % (members[0].proc.tail(),
                                                   members[1].proc.tail()))
        log("patroni: primary %s, synchronous standby %s (%.0f s)" % (
            prim.name, sync.name, time.monotonic() - t0))
        psql(prim, "CREATE ROLE fieldsync LOGIN PASSWORD '%s'" %
             secrets["fieldsync"], secrets["superuser"])
        psql(prim, "CREATE DATABASE fieldsync OWNER fieldsync",
             secrets["superuser"])
        log("synchronous_commit=%s synchronous_standby_names=%s" % (
            psql(prim, "SHOW synchronous_commit", secrets["superuser"]),
            psql(prim, "SHOW synchronous_standby_names",
                 secrets["superuser"])))

        # the store URL of deploy/fieldsyncd-pg.env, on our two members
        pgpass = os.path.join(root, "pgpass")
        with open(pgpass, "w") as f:
            f.write("*:*:fieldsync:fieldsync:%s\n" % secrets["fieldsync"])
        os.chmod(pgpass, 0o600)
        url = D.store_url(D.read_env(D.NODE_ENV)["FIELDSYNC_STORE"],
                          ["127.0.0.1:%d" % m.pg_port for m in members])
        penv = {"PGPASSFILE": pgpass}
        token = D.init_store(binary, url, os.path.join(root, "init"),
                             env=dict(os.environ, **penv))
        blobs = os.path.join(root, "blobs")
        os.makedirs(blobs)
        nodes = [D.Node(binary, url, blobs, token, logdir, name=n,
                        env=penv) for n in ("node1", "node2")]
        for n in nodes:
            n.start()
        cert, key, pem = D.make_cert(os.path.join(root, "tls"))
        hport, sport = D.free_port(), D.free_port()
        hap = D.HAProxy(D.HAPROXY_CFG, {
            "FS_HAPROXY_BIND": "127.0.0.1:%d" % hport,
            "FS_HAPROXY_CERT": pem,
            "FS_HAPROXY_STATS": "127.0.0.1:%d" % sport,
            "FS_NODE1": "127.0.0.1:%d" % nodes[0].port,
            "FS_NODE2": "127.0.0.1:%d" % nodes[1].port}, logdir)
        hap.check()
        hap.start(hport)
        front = H.Ids(url="https://127.0.0.1:%d" % hport, port=hport,
                      admin_token=token, tls=True)
        log("fieldsyncd: 2 nodes (%s) behind HAProxy :%d" % (
            ", ".join(str(n.port) for n in nodes), hport))

        staff = [("g%d" % k, "supervisor") for k in range(DEVICES)]
        H.setup_site(front, SITE, staff=staff)
        devs = [H.device_for(front, SITE, s, r) for s, r in staff]
        start = time.monotonic()
        hands = [D.Handheld("h%d" % k, d.token, [front], SITE,
                            start + a.load_s, pause=(0.05, 0.2))
                 for k, d in enumerate(devs)]
        for h in hands:
            h.start()
        log("load: %d devices, a batch of 5 new records and a pull each, "
            "%.0f s" % (DEVICES, a.load_s))
        time.sleep(a.kill_at)
        acked_before = sum(len(h.acked) for h in hands)
        killed = prim
        t_kill = time.monotonic()
        killed.crash()
        log("SIGKILL to %s's Patroni and postmaster (%d batches acked "
            "so far)" % (killed.name, acked_before))
        survivor = [m for m in members if m is not killed][0]
        new_prim, _ = wait_roles([survivor], 120, want_sync=False)
        t_promoted = time.monotonic()
        if new_prim is None:
            raise RuntimeError("%s not promoted after 120 s:\n%s" % (
                survivor.name, survivor.proc.tail()))
        log("patroni: %s promoted %.1f s after the kill" % (
            survivor.name, t_promoted - t_kill))
        for h in hands:
            h.join(a.load_s + 60)
        for h in hands:
            h.drain()

        def acked_all(ev):
            return ev[2] == 200 and not any(
                x.get("err") for x in (ev[3] or {}).get("acks") or [])

        # first full ack after the kill; what was answered meanwhile
        first_ok = min((ev[1] for h in hands for ev in h.events
                        if ev[0] > t_kill and acked_all(ev)), default=None)
        refused = {}
        for h in hands:
            for ev in h.events:
                if ev[0] >= t_kill and (first_ok is None or ev[0] < first_ok):
                    key = str(ev[2]) if ev[2] != 200 else "200 UNAVAILABLE"
                    refused[key] = refused.get(key, 0) + 1
        unacked = sum(len(h.outbox) for h in hands)
        got = D.admin_pull(front.url, token, SITE)
        acked_ids = [i for h in hands for ids, _ in h.acked.values()
                     for i in ids]
        n_batches = sum(len(h.acked) for h in hands)
        dups = sum(1 for h in hands for _, d in h.acked.values() if d)
        missing = [i for i in acked_ids if i not in got]
        twice = [i for i, n in got.items() if n != 1]
        diverged = [h.prefix for h in hands if set(h.seen) != set(got)]
        log("acked batches %d (%d ops), dup acks %d, missing %d, "
            "served twice %d, unacked at the end %d, devices not converged "
            "%d" % (n_batches, len(acked_ids), dups, len(missing),
                    len(twice), unacked, len(diverged)))
        log("failover: promoted after %.1f s; first ack after the kill at "
            "%s; answered meanwhile: %s" % (
                t_promoted - t_kill,
                "%.1f s" % (first_ok - t_kill) if first_ok else "never",
                json.dumps(refused, sort_keys=True)))

        # the old primary's machine comes back: it rejoins as standby
        killed.proc = None
        killed.start()
        _, back = wait_roles(members, 180)
        log("patroni: %s rejoined as %s" % (
            killed.name, "the synchronous standby" if back is killed
            else "NOT the synchronous standby"))

        problems = []
        errors = [e for h in hands for e in h.errors]
        if errors:
            problems.append("device errors: %s" % errors[:3])
        if diverged:
            problems.append("devices %s did not converge" % diverged[:5])
        if missing:
            problems.append("%d acked ops missing (%s...)" % (
                len(missing), missing[:5]))
        if twice:
            problems.append("%d records served twice" % len(twice))
        if unacked:
            problems.append("%d batches never acked" % unacked)
        if first_ok is None:
            problems.append("no ack after the failover")
        if n_batches == 0 or not any(ev[0] > t_promoted and acked_all(ev)
                                     for h in hands for ev in h.events):
            problems.append("no load after the failover")
        if back is not killed:
            problems.append("%s did not rejoin as synchronous standby"
                            % killed.name)
        for n in nodes:
            if not n.alive():
                problems.append("%s exited" % n.name)
        ok = not problems
        result = ("acked batches %d, duplicates %d, missing %d; failover "
                  "%.1f s, first ack after %s" % (
                      n_batches, dups, len(missing), t_promoted - t_kill,
                      "%.1f s" % (first_ok - t_kill) if first_ok else
                      "never")) + ("" if ok else "; " + "; ".join(problems))
    except Exception as e:  # noqa: BLE001 - reported as the result line
        import traceback
        traceback.print_exc()
        result = "%s: %s" % (type(e).__name__, e)
    finally:
        if hap:
            hap.stop()
        for n in nodes:
            n.stop()
        for m in members:
            m.stop()
        for p in etcd:
            p.stop()
        if a.keep or not ok:
            log("kept %s (logs in %s)" % (root, logdir))
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("test-ha: %s %s" % ("PASS" if ok else "FAIL", result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
