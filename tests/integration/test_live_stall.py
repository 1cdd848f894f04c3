"""Integration tests: a /v1/live client that stops reading can never stall
the writer (server/http/live.h), and a live socket closes when its session
ends (issue 10 item 9).

The stalled clients open their socket with a 1 KiB receive buffer and the
smallest MSS Linux allows (88 bytes: the kernel then keeps the server's send
buffer for that socket near 64 KiB instead of growing it to 4 MiB), and
never read: the server's send queue for them fills within seconds, and
before server/http/live.c the live thread then blocked in its socket write
while holding the lock the writer takes after every commit.
"""

import base64
import os
import socket
import threading
import time

from harness import *  # noqa: F401,F403

HOUR = 3600 * 1000


def stalled_live(srv, token, rcvbuf=1024):
    """Open /v1/live with a tiny receive buffer, read the handshake answer
    and never read again.  Returns the socket."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
    s.settimeout(5)
    s.connect(("127.0.0.1", srv.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /v1/live HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Authorization: Bearer %s\r\n\r\n"
               % (srv.port, key, token)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        assert c, "/v1/live: closed during the handshake"
        head += c
    assert head.startswith(b"HTTP/1.1 101"), \
        "/v1/live handshake: %r" % head[:200]
    return s


def site_with_guards(srv, site, guards, sup=None):
    """Site, zone, checkpoint, one guard shift per guard; returns the ids
    of the shifts by guard.  The shift ids are long (128 bytes, the most
    an id may be) so that every notice frame is large and a stalled
    reader's queue fills within seconds."""
    staff = [(g, "guard") for g in guards]
    if sup:
        staff.append((sup, "supervisor"))
    now = now_ms()
    sid = {g: ("sh-%s-" % g).ljust(128, "x") for g in guards}
    shifts = [{"id": sid[g], "role": "guard", "staff": [g],
               "starts": now - HOUR, "ends": now + 8 * HOUR} for g in guards]
    setup_site(srv, site=site, staff=staff, shifts=shifts)
    admin_push(srv, [
        op("zone", "z-%s" % site, {"site": site, "name": "Lobby",
                                   "kind": "lobby"}),
        op("checkpoint", "cp-%s" % site, {"site": site, "zone": "z-%s" % site,
                                          "name": "Door", "tag": "04A1"})])
    return sid


class Pusher(threading.Thread):
    """Push one checkin per sync until `until` (monotonic), at most
    `per_s` a second; records every push's latency and failures."""

    def __init__(self, dev, site, shift, until, per_s):
        super().__init__(daemon=True)
        self.dev, self.site, self.shift = dev, site, shift
        self.until, self.gap = until, 1.0 / per_s
        self.lat, self.bad = [], []

    def run(self):
        i = 0
        boot = "b-" + self.dev.device
        while time.monotonic() < self.until:
            t0 = time.monotonic()
            now = now_ms()
            f = {"site": self.site, "shift": self.shift,
                 "checkpoint": "cp-%s" % self.site, "staff": self.dev.staff,
                 "at": now, "boot": boot, "mono": 1000 + i, "method": "nfc"}
            try:
                r = self.dev.sync(push=[batch([op("checkin", "k-%s-%d" % (
                    self.dev.device, i), f)])],
                    dev={"boot": boot, "mono": 1000 + i, "wall": now})
                ok = r.status == 200 and r.body["acks"][0]["applied"] == 1
            except Exception as e:  # a timeout is a failure, not a crash
                ok, r = False, e
            dt = time.monotonic() - t0
            self.lat.append(dt)
            if not ok:
                self.bad.append(r)
            i += 1
            time.sleep(max(0.0, self.gap - dt))


def test_live_client_that_never_reads_cannot_stall_pushes(ctx):
    """Issue 9: a supervisor's /v1/live socket that never reads (1 KiB
    receive buffer) while 10 guards push for 20 s: every push is acked,
    none slower than 2 s."""
    srv = ctx.server(args=("--rate-address-per-s", "0"))
    guards = ["g%d" % i for i in range(10)]
    shifts = site_with_guards(srv, "s1", guards, sup="sup1")
    sup = device_for(srv, "s1", "sup1", "supervisor")
    devs = [device_for(srv, "s1", g, "guard") for g in guards]
    socks = [stalled_live(srv, sup.token) for _ in range(2)]
    try:
        until = time.monotonic() + 20
        ps = [Pusher(d, "s1", shifts[d.staff], until, 10) for d in devs]
        for p in ps:
            p.start()
        for p in ps:
            p.join(60)
        lat = sorted(x for p in ps for x in p.lat)
        bad = [b for p in ps for b in p.bad]
        n = len(lat)
        print("pushes %d, p50 %.3f s, p99 %.3f s, max %.3f s, failed %d" % (
            n, lat[n // 2], lat[min(n - 1, n * 99 // 100)], lat[-1],
            len(bad)))
        assert n >= 500, "only %d pushes in 20 s" % n
        assert not bad, "%d pushes not acked: %r" % (len(bad), bad[:3])
        assert lat[-1] < 2.0, \
            "a push took %.1f s while a /v1/live client did not read " \
            "(the writer waited on its socket)" % lat[-1]
        m = metrics(srv)
        assert metric_total(m, "fieldsync_live_dropped_total") >= 1, \
            "the /v1/live client that never read was not dropped"
    finally:
        for s in socks:
            s.close()


test_live_client_that_never_reads_cannot_stall_pushes.timeout = 90


def test_guard_live_stall_does_not_freeze_another_site(ctx):
    """Issue 10 item 1: a guard opens 2 /v1/live sockets with a 1 KiB
    receive buffer, never reads, and pushes its own checkins at its rate
    limit (20/s); a device of another site does pull-only syncs the whole
    time: each answers within 2 s."""
    srv = ctx.server(args=("--rate-address-per-s", "0"))
    shifts = site_with_guards(srv, "sa", ["ga"])
    site_with_guards(srv, "sb", ["gb"])
    ga = device_for(srv, "sa", "ga", "guard")
    gb = device_for(srv, "sb", "gb", "guard")
    socks = [stalled_live(srv, ga.token) for _ in range(2)]
    try:
        until = time.monotonic() + 40
        p = Pusher(ga, "sa", shifts["ga"], until, 20)
        p.start()
        lat, cursors = [], {}
        while time.monotonic() < until:
            t0 = time.monotonic()
            try:
                r = gb.sync(pull=cursors)
            except Exception as e:  # the 10 s client timeout
                r = e
            lat.append(time.monotonic() - t0)
            if not isinstance(r, Resp):
                continue
            assert r.status == 200, r
            for name, bk in r.body["buckets"].items():
                cursors[name] = bk["cursor"]
            time.sleep(0.25)
        p.join(60)
        print("guard pushes %d (max %.3f s); other site's pulls %d, max "
              "%.3f s" % (len(p.lat), max(p.lat), len(lat), max(lat)))
        assert not p.bad, "the guard's own pushes failed: %r" % p.bad[:3]
        assert max(lat) < 2.0, \
            "a pull-only sync of another site took %.1f s while a guard's " \
            "/v1/live sockets did not read" % max(lat)
    finally:
        for s in socks:
            s.close()


test_guard_live_stall_does_not_freeze_another_site.timeout = 120


def _wait_closed(ws, timeout):
    """True when the server closes the socket (a close frame or the end)
    within timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            opc, _ = ws.recv_message(deadline)
        except socket.timeout:
            return False
        except (ConnectionError, OSError):
            return True
        if opc == 0x8:
            return True
    return False


def test_live_closes_when_session_expires(ctx):
    """Issue 10 item 9: an open /v1/live socket closes when its session
    expires (sessions of 2 s here), with no commit needed to notice."""
    srv = ctx.server(args=("--session-ttl-ms", "2000"))
    site_with_guards(srv, "s1", ["g1"], sup="sup1")
    sup = device_for(srv, "s1", "sup1", "supervisor")
    ws = WebSocket(srv, "/v1/live", sup.token)
    assert ws.status == 101, ws.head
    t0 = time.monotonic()
    assert _wait_closed(ws, 6), \
        "the /v1/live socket stayed open 6 s after a 2 s session"
    print("closed %.1f s after opening" % (time.monotonic() - t0))
    ws.close()


def test_live_closes_when_staff_deactivated(ctx):
    """Issue 10 item 9: deactivating the staff member closes their open
    /v1/live socket."""
    srv = ctx.server()
    site_with_guards(srv, "s1", ["g1"], sup="sup1")
    sup = device_for(srv, "s1", "sup1", "supervisor")
    ws = WebSocket(srv, "/v1/live", sup.token)
    assert ws.status == 101, ws.head
    admin_push(srv, [op("staff", "sup1", {"site": "s1", "name": "Sup",
                                          "role": "supervisor",
                                          "active": False})])
    assert _wait_closed(ws, 3), \
        "the /v1/live socket of a deactivated supervisor stayed open"
    ws.close()
