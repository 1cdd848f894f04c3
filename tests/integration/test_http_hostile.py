"""Integration tests: the HTTP-layer holes of issue 10 (items 3, 5, 8).

- item 3: a login whose outcome cannot be recorded (fsync fails through
  tests/shim/syncshim.c) is refused 503 before its PIN is checked: every
  attempt, the right PIN included, gets the same answer;
- item 5: behind --trusted-proxy, a request whose header table is full
  (CivetWeb keeps 64 lines and drops the rest, the proxy's own
  X-Forwarded-For among them) is refused 400, never served with the
  client's forged address; /metrics is decided by the client address
  after the proxies, or the admin token;
- item 8: enroll, login and the admin/PIN endpoints take bodies of at most
  4 KiB, sent and inflated, checked before inflating.
The hostile-input catalogue (test_bad_input.py) lists these too.
"""

import socket
import time
import zlib

from harness import *  # noqa: F401,F403

PIN = "1234"


def _site_and_device(srv):
    setup_site(srv, site="s1", staff=[("g1", "guard")])
    set_pin(srv, "g1", PIN)
    code = enroll_code(srv, "s1", role="guard")
    return enroll(srv, code, "dev-g1")


def test_login_lockout_fails_closed_when_it_cannot_record(ctx):
    srv = ctx.server(shim=True)
    device, dtok = _site_and_device(srv)
    seen = []
    with store_failing(srv):
        for i in range(10):
            t0 = time.monotonic()
            r = req(srv, "POST", "/v1/login", body={"staff": "g1",
                                                    "pin": "9%03d" % i},
                    token=dtok)
            seen.append(("wrong", r.status, time.monotonic() - t0))
        t0 = time.monotonic()
        r = req(srv, "POST", "/v1/login", body={"staff": "g1", "pin": PIN},
                token=dtok)
        seen.append(("right", r.status, time.monotonic() - t0))
    print("with the store failing: %s" % ", ".join(
        "%s %d %.0f ms" % (k, s, t * 1000) for k, s, t in seen))
    statuses = [s for _, s, _ in seen]
    assert statuses == [503] * 11, \
        "while a failed login cannot be recorded every attempt, right PIN " \
        "included, must be 503 (no free guesses, no oracle): %r" % seen
    # the store writes again: wrong PINs count, the right one gets in
    r = req(srv, "POST", "/v1/login", body={"staff": "g1", "pin": "0000"},
            token=dtok)
    assert r.status == 401, r
    login(srv, dtok, "g1", PIN)


def _deflate_bomb():
    # 2 million 15-byte strings: 32 MB of msgpack, about 60 KB deflated
    n = 2_000_000
    body = b"\xdd" + n.to_bytes(4, "big") + (b"\xaf" + b"a" * 15) * n
    return zlib.compress(body, 9)


def test_small_endpoints_refuse_big_bodies_before_inflating(ctx):
    srv = ctx.server()
    _, dtok = _site_and_device(srv)
    bomb = _deflate_bomb()
    assert len(bomb) < 64 * 1024
    hs = {"Content-Type": "application/msgpack",
          "Content-Encoding": "deflate"}
    for path, tok in (("/v1/enroll", None), ("/v1/login", dtok),
                      ("/v1/admin/enroll-codes", srv.admin_token),
                      ("/v1/admin/staff-pin", srv.admin_token),
                      ("/v1/admin/revoke", srv.admin_token)):
        t0 = time.monotonic()
        r = req(srv, "POST", path, raw=bomb, headers=hs, token=tok,
                timeout=30)
        dt = time.monotonic() - t0
        assert r.status == 413 and r.body.get("error") == "TOO_LARGE", \
            "%s with a 62 KB deflate bomb: expected 413 before inflating, " \
            "got %r after %.2f s" % (path, r, dt)
        # a small body that inflates past 4 KiB is refused too
        big = zlib.compress(pack({"code": "x" * 5000, "name": "n"}))
        r = req(srv, "POST", path, raw=big, headers=hs, token=tok)
        assert r.status == 413, "%s: 5 KB inflated: %r" % (path, r)
    # the large caps stay on /v1/sync for a session
    r = sync(srv, srv.admin_token, push=[batch([
        op("zone", "z%d" % i, {"site": "s1", "name": "x" * 100})
        for i in range(200)])])
    assert r.status == 200, r


def _send(srv, method, path, headers, body=b"", token=None):
    """One request with exactly these header lines (repeats kept); the
    answer's status (None when the server closed without one)."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: x",
             "Connection: close"] + ["%s: %s" % kv for kv in headers]
    if token:
        lines.append("Authorization: Bearer " + token)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n" not in data:
            c = s.recv(4096)
            if not c:
                break
            data += c
    finally:
        s.close()
    return int(data.split()[1]) if data.startswith(b"HTTP/1.") else None


def test_forwarded_for_past_the_header_table_is_refused(ctx):
    srv = ctx.server(args=("--trusted-proxy", "127.0.0.1",
                           "--rate-address-per-s", "1",
                           "--rate-address-burst", "2"))
    # 62 lines (Host, Connection, X-Forwarded-For, 59 fillers) and the
    # proxy's own line as the 63rd: all kept, the right-most counts
    kept = [("X-Forwarded-For", "198.51.100.7")] + \
        [("X-Filler-%d" % i, "x") for i in range(59)] + \
        [("X-Forwarded-For", "203.0.113.9")]
    st = _send(srv, "GET", "/healthz", kept)
    assert st == 200, st
    # 66 lines: the proxy's line is dropped by CivetWeb: refused, whatever
    # address the client wrote
    for i in range(5):
        flood = [("X-Forwarded-For", "198.51.100.%d" % i)] + \
            [("X-Filler-%d" % k, "x") for k in range(62)] + \
            [("X-Forwarded-For", "203.0.113.9")]
        st = _send(srv, "GET", "/healthz", flood)
        assert st == 400, \
            "a request whose X-Forwarded-For may have been dropped must be " \
            "refused, not served as from the client's own address: %r" % st
    # the right-most entry the proxy added decides: two clients forging
    # different left entries share the proxy-added address's bucket
    for i in range(4):
        st = _send(srv, "GET", "/v1/nothing", [
            ("X-Forwarded-For", "10.9.9.%d, 192.0.2.50" % i)])
    assert st == 429, "four requests of 192.0.2.50 (burst 2): %r" % st


def test_duplicated_content_length_refused(ctx):
    srv = ctx.server()
    st = _send(srv, "POST", "/v1/enroll",
               [("Content-Type", "application/msgpack"),
                ("Content-Length", "1"), ("Content-Length", "2")], b"\x80\x80")
    assert st == 400, st


def test_metrics_by_client_address_or_admin_token(ctx):
    srv = ctx.server(args=("--trusted-proxy", "127.0.0.1"))
    # a local TLS proxy forwarding an outside client
    xff = [("X-Forwarded-For", "203.0.113.5")]
    st = _send(srv, "GET", "/metrics", xff)
    assert st == 403, \
        "/metrics through a trusted proxy for an outside client: %r" % st
    st = _send(srv, "GET", "/metrics", xff, token=srv.admin_token)
    assert st == 200, "/metrics with the admin token: %r" % st
    st = _send(srv, "GET", "/metrics", [])
    assert st == 200, "/metrics on loopback, no proxy header: %r" % st
