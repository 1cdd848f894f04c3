"""Integration test: slowloris (issue 10 item 4; server/http/connwatch.h).

One host opens 140 connections and sends each a header line every 2 s,
never finishing a head, reconnecting whatever is closed; meanwhile another
host asks GET /healthz four times a second.  Every /healthz must answer
within 1 s, against a server with default flags.  (Both hosts are
loopback: the attacker binds 127.0.0.3, the prober 127.0.0.2.)
"""

import socket
import threading
import time

from harness import *  # noqa: F401,F403

ATTACK_S = 24


def _conn(srv, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(2)
    s.connect(("127.0.0.1", srv.port))
    s.setblocking(False)
    s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return s


def _attack(srv, n, until, stats):
    socks = []
    line = 0
    while time.monotonic() < until:
        while len(socks) < n and time.monotonic() < until:
            try:
                socks.append(_conn(srv, "127.0.0.3"))
                stats["opened"] += 1
            except OSError:
                stats["connect_failed"] += 1
                break
        line += 1
        keep = []
        for s in socks:
            try:
                try:
                    if s.recv(4096) == b"":
                        raise OSError("closed")
                except BlockingIOError:
                    pass
                s.send(b"X-Slow-%d: %d\r\n" % (line, line))
                keep.append(s)
            except OSError:
                stats["closed_by_server"] += 1
                s.close()
        socks = keep
        time.sleep(2)
    for s in socks:
        s.close()


def _healthz_from(srv, src, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect(("127.0.0.1", srv.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close"
                  b"\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            c = s.recv(4096)
            if not c:
                break
            data += c
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    finally:
        s.close()
    return ok, time.monotonic() - t0


def test_slowloris_cannot_starve_healthz(ctx):
    srv = ctx.server()
    stats = {"opened": 0, "connect_failed": 0, "closed_by_server": 0}
    until = time.monotonic() + ATTACK_S
    t = threading.Thread(target=_attack, args=(srv, 140, until, stats),
                         daemon=True)
    t.start()
    time.sleep(3)  # let the attack take hold first
    worst, fails, n = 0.0, 0, 0
    while time.monotonic() < until - 1:
        ok, dt = _healthz_from(srv, "127.0.0.2", 5)
        n += 1
        worst = max(worst, dt)
        if not ok or dt >= 1.0:
            fails += 1
        time.sleep(0.25)
    t.join(10)
    m = metrics(srv)
    print("healthz %d probes, worst %.3f s, %d slow or failed; attack %r; "
          "capped %d, slow heads %d" % (
              n, worst, fails, stats,
              metric_total(m, "fieldsync_limited_total", "connections"),
              metric_total(m, "fieldsync_limited_total", "slow_head")))
    assert fails == 0, \
        "%d of %d GET /healthz from another host took 1 s or more (worst " \
        "%.1f s) while one host held 140 slow heads" % (fails, n, worst)
    assert stats["closed_by_server"] > 0, \
        "no slow head was ever closed by the server"


test_slowloris_cannot_starve_healthz.timeout = 60
