#!/usr/bin/python3
"""A throwaway PostgreSQL 15 cluster for the tests (Debian's postgresql-15).

    c = Cluster()            # a fresh temporary directory (or Cluster(DIR))
    c.start()                # initdb on first use, then serve; returns c
    url = c.new_database()   # CREATE DATABASE fs_<n>; its postgresql:// URL
    c.pause()                # stop the server (pg_ctl stop -m fast), keep
    c.resume()               #   the data; start it again on the same port
    with c.outage(20): ...   # stopped for the block, then started again
    c.stop()                 # pg_ctl stop -m fast, then SIGKILL by pid
    c.remove()               # stop and delete the directory

initdb, postgres and pg_ctl run as the Debian user `postgres` (runuser -u
postgres --; the directory is chowned to it), never as root.  The server
listens on 127.0.0.1 only, on a free port (its unix socket in the cluster
directory, not /var/run), with trust authentication for loopback and the
socket only; fsync and synchronous_commit stay on, since durability is
what the tests check; shared_buffers is small and max_connections large
enough for many fieldsyncd nodes' connection pools.

Layout of DIR: data/ (PGDATA), sock/ (the unix socket), server.log,
port (the port the cluster was first started on, reused by every start,
so URLs handed out stay valid across pause/resume and CLI restarts).

Command line, for people and make targets:
    pgcluster.py start DIR     start (initdb if new), print a URL of a new
                               database on it
    pgcluster.py url DIR       a URL of another new database
    pgcluster.py stop DIR      stop it (the directory stays)
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_USER = "postgres"
START_TIMEOUT = 60      # s: pg_ctl -w and our readiness poll
STOP_TIMEOUT = 30       # s: pg_ctl stop -m fast before SIGKILL
MAX_CONNECTIONS = 300   # many nodes, each with its pool

CONF = """
# tests/pgcluster.py: a throwaway test cluster
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sock}'
max_connections = {maxconn}
shared_buffers = 32MB
fsync = on
synchronous_commit = on
full_page_writes = on
dynamic_shared_memory_type = posix
log_min_messages = warning
log_connections = off
log_line_prefix = '%m [%p] %d '
"""

HBA = """# tests/pgcluster.py: trust on loopback and the socket, nothing else
local all all trust
host  all all 127.0.0.1/32 trust
"""


class ClusterError(Exception):
    """The cluster could not do what was asked (with PostgreSQL's words)."""


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_ids():
    try:
        pw = pwd.getpwnam(PG_USER)
    except KeyError:
        raise ClusterError("no user %r: apt-get install postgresql-15"
                           % PG_USER) from None
    return pw.pw_uid, pw.pw_gid


def _as_pg(argv):
    """argv run as the postgres user (we are root: runuser drops to it;
    already that user or another one: as is, and initdb says if it can't)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--"] + argv
    return argv


def _run(argv, timeout=START_TIMEOUT):
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise ClusterError("`%s` timed out after %d s"
                           % (" ".join(argv), timeout)) from e
    return p.returncode, p.stdout.decode("utf-8", "replace")


class Cluster:
    def __init__(self, root=None):
        self.own_root = root is None
        self.root = os.path.abspath(root) if root else \
            tempfile.mkdtemp(prefix="fieldsync-pg-")
        self.pgdata = os.path.join(self.root, "data")
        self.sock = os.path.join(self.root, "sock")
        self.log_path = os.path.join(self.root, "server.log")
        self.port = None
        self._n = 0

    # -- paths and state
    @property
    def pid(self):
        """The postmaster's pid (from postmaster.pid), or None."""
        try:
            with open(os.path.join(self.pgdata, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (FileNotFoundError, ValueError):
            return None

    def alive(self):
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def url(self, db="postgres"):
        if self.port is None:
            raise ClusterError("cluster not started")
        return "postgresql://%s@127.0.0.1:%d/%s" % (PG_USER, self.port, db)

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- life cycle
    def _initdb(self):
        uid, gid = _pg_ids()
        os.makedirs(self.sock, exist_ok=True)
        for d in (self.root, self.sock):
            os.chown(d, uid, gid)
            os.chmod(d, 0o700)
        if os.geteuid() == 0 and _run(_as_pg(["test", "-w", self.root]))[0]:
            raise ClusterError("user %s cannot reach %s: a directory above "
                               "it is not searchable by that user"
                               % (PG_USER, self.root))
        rc, out = _run(_as_pg([os.path.join(PG_BIN, "initdb"),
                               "-D", self.pgdata, "-U", PG_USER,
                               "-E", "UTF8", "--locale=C.UTF-8",
                               "-A", "trust"]), timeout=120)
        if rc != 0:
            raise ClusterError("initdb exited %d:\n%s" % (rc, out))
        with open(os.path.join(self.root, "port"), "w") as f:
            f.write("%d\n" % _free_port())
        os.chown(os.path.join(self.root, "port"), uid, gid)
        self._write(os.path.join(self.pgdata, "pg_hba.conf"), HBA)

    def _write(self, path, text):
        uid, gid = _pg_ids()
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, uid, gid)
        os.chmod(path, 0o600)

    def _configure(self):
        """The settings, rewritten at every start (the port is fixed)."""
        with open(os.path.join(self.root, "port")) as f:
            self.port = int(f.read().strip())
        self._write(os.path.join(self.pgdata, "postgresql.auto.conf"),
                    CONF.format(port=self.port, sock=self.sock,
                                maxconn=MAX_CONNECTIONS))

    def start(self):
        """initdb when new, then start on the cluster's port and wait until
        it accepts connections.  Returns self."""
        if not os.path.exists(os.path.join(self.pgdata, "PG_VERSION")):
            self._initdb()
        self._configure()
        if self.alive():
            return self
        rc, out = _run(_as_pg([os.path.join(PG_BIN, "pg_ctl"), "start",
                               "-D", self.pgdata, "-l", self.log_path,
                               "-w", "-t", str(START_TIMEOUT)]),
                       timeout=START_TIMEOUT + 10)
        if rc != 0:
            raise ClusterError("pg_ctl start exited %d (port %d):\n%s\n%s"
                               % (rc, self.port, out, self.log_tail()))
        self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            rc, out = _run([os.path.join(PG_BIN, "pg_isready"),
                            "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", PG_USER, "-t", "2"], timeout=10)
            if rc == 0:
                return
            time.sleep(0.1)
        raise ClusterError("PostgreSQL on port %d not ready after %d s: "
                           "%s\n%s" % (self.port, timeout, out.strip(),
                                       self.log_tail()))

    def stop(self, mode="fast"):
        """pg_ctl stop -m MODE; if it has not stopped in STOP_TIMEOUT s,
        SIGKILL the postmaster by its pid (and wait for it to go)."""
        pid = self.pid
        if pid is None or not self.alive():
            return
        _run(_as_pg([os.path.join(PG_BIN, "pg_ctl"), "stop",
                     "-D", self.pgdata, "-m", mode, "-w",
                     "-t", str(STOP_TIMEOUT)]), timeout=STOP_TIMEOUT + 10)
        if not self.alive():
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.05)

    def pause(self, mode="fast"):
        """Stop the server, keeping its data and port (resume() starts it
        again).  mode "immediate" is a crash: recovery from WAL at resume."""
        self.stop(mode)

    def resume(self):
        return self.start()

    @contextlib.contextmanager
    def outage(self, seconds=None, mode="fast"):
        """The server is down inside the block (at least `seconds` s when
        given), then started again on the same port."""
        t0 = time.monotonic()
        self.pause(mode)
        try:
            yield self
            if seconds is not None:
                time.sleep(max(0.0, seconds - (time.monotonic() - t0)))
        finally:
            self.resume()

    def remove(self):
        """Stop and delete the directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases
    def psql(self, sql, db="postgres"):
        """Run sql with psql (as the client, over TCP); returns its output
        (unaligned, tuples only)."""
        rc, out = _run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t",
                        "-v", "ON_ERROR_STOP=1", "-d", self.url(db),
                        "-c", sql], timeout=120)
        if rc != 0:
            raise ClusterError("psql %r exited %d:\n%s" % (sql, rc, out))
        return out

    def new_database(self):
        """CREATE DATABASE fs_<n> (the first n not taken); its URL."""
        while True:
            self._n += 1
            name = "fs_%d" % self._n
            try:
                self.psql("CREATE DATABASE %s" % name)
                return self.url(name)
            except ClusterError as e:
                if "already exists" not in str(e):
                    raise

    def drop_database(self, url):
        name = url.rsplit("/", 1)[1]
        self.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


def main(argv):
    usage = "usage: pgcluster.py start|url|stop DIR"
    if len(argv) != 3 or argv[1] not in ("start", "url", "stop"):
        print(usage, file=sys.stderr)
        return 2
    cmd, root = argv[1], argv[2]
    c = Cluster(root)
    try:
        if cmd == "stop":
            c.stop()
            return 0
        if cmd == "url" and not c.alive():
            print("pgcluster.py: no cluster running in %s" % root,
                  file=sys.stderr)
            return 1
        os.makedirs(root, exist_ok=True)
        c.start()
        # Numbering continues after the databases already there.
        c._n = len(c.psql("SELECT datname FROM pg_database "
                          "WHERE datname LIKE 'fs\\_%'").split())
        print(c.new_database())
    except ClusterError as e:
        print("pgcluster.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
