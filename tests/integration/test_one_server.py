"""Integration test: one serving process per store (server/lib/dirlock.h)."""

import os
import socket
import subprocess

from harness import *  # noqa: F401,F403


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_second_server_on_same_store_refused(ctx):
    """A second `fieldsyncd serve` on the --data of a running one exits
    non-zero at once, naming the directory and the first server's pid;
    the first keeps serving; backup and check beside it still work; after
    the first stops, a new one starts."""
    lmdb_only("the directory lock (server/lib/dirlock.h); with --store no "
              "lock is taken, by design: several nodes serve one "
              "PostgreSQL store")
    srv = ctx.server()
    p = subprocess.run([srv.binary, "serve", "--data", srv.data,
                        "--listen", "127.0.0.1:%d" % _free_port(),
                        "--insecure-http"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20)
    out = p.stdout.decode()
    assert p.returncode != 0, "a second server on the same store started: " \
        "exit %d, %r" % (p.returncode, out)
    assert srv.data in out and ("pid %d" % srv.pid) in out, \
        "the refusal must name the directory and the running server's " \
        "pid %d: %r" % (srv.pid, out)
    assert req(srv, "GET", "/healthz").status == 200
    arch = os.path.join(ctx.tmpdir, "b.tar")
    b = subprocess.run([srv.binary, "backup", "--data", srv.data, "--out",
                        arch], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    assert b.returncode == 0, "backup beside the server: %r" % b.stdout
    c = subprocess.run([srv.binary, "check", "--data", srv.data],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    assert c.returncode == 0, "check beside the server: %r" % c.stdout
    srv.stop()
    srv.start()  # the lock went with the first process
    assert req(srv, "GET", "/healthz").status == 200
    srv.kill9()
    srv.start()  # and with a killed one
    assert req(srv, "GET", "/healthz").status == 200
