"""Integration tests: blobs, /v1/live WebSocket, /metrics and /healthz (protocol/PROTOCOL.md)."""

import hashlib
import os
import re
import socket
import time

import msgpack

from harness import WebSocket, metric_total, metrics, now_ms, raw_http
from synclib import (admin_ok, check_err, healthy, mk_device, mk_site, mkop,
                     post, push1, sync_raw)


# ---- tests -----------------------------------------------------------------
OCTET = {"Content-Type": "application/octet-stream"}


def _srv_guard(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    g = mk_device(srv, "s1", "g1", "guard")
    return srv, g


def _put_blob(srv, data, token, digest=None, timeout=30):
    h = digest or hashlib.sha256(data).hexdigest()
    return raw_http(srv, "PUT", "/v1/blobs/" + h, data, OCTET, token, timeout)


def test_blob_put_get_roundtrip(ctx):
    srv, g = _srv_guard(ctx)
    data = os.urandom(200000)
    h = hashlib.sha256(data).hexdigest()
    r = _put_blob(srv, data, g.token)
    assert r.status == 200 and isinstance(r.body, dict) and \
        r.body.get("ok") is True, "PUT /v1/blobs/<sha256> with matching " \
        "bytes: expected 200 {ok: true}, got %r" % r
    r = raw_http(srv, "GET", "/v1/blobs/" + h, token=srv.admin_token)
    assert r.status == 200 and r.raw == data, \
        "GET /v1/blobs/<sha256>: expected the same %d bytes, got HTTP %s " \
        "with %d bytes" % (len(data), r.status, len(r.raw))
    r2 = _put_blob(srv, data, g.token)
    assert r2.status == 200, "PUT of the same blob again must be fine " \
        "(idempotent), got %r" % r2
    r3 = _put_blob(srv, b"tiny photo", g.token)
    assert r3.status == 200, "a tiny blob must be accepted: %r" % r3


def test_blob_wrong_hash_400(ctx):
    srv, g = _srv_guard(ctx)
    data = b"photo bytes " * 100
    wrong = hashlib.sha256(b"something else").hexdigest()
    r = _put_blob(srv, data, g.token, digest=wrong)
    check_err(r, 400, "BAD_REQUEST", "PUT blob whose bytes do not match "
              "the sha256 in the path")
    r = raw_http(srv, "GET", "/v1/blobs/" + wrong, token=srv.admin_token)
    check_err(r, 404, "NOT_FOUND", "GET of the hash whose PUT was refused")


def test_blob_absent_404(ctx):
    srv, g = _srv_guard(ctx)
    h = hashlib.sha256(b"never uploaded").hexdigest()
    check_err(raw_http(srv, "GET", "/v1/blobs/" + h, token=srv.admin_token),
              404, "NOT_FOUND", "GET of a blob never uploaded")


def test_blob_over_16mib_413(ctx):
    srv, g = _srv_guard(ctx)
    big = b"\xab" * (16 * 1024 * 1024 + 1)
    r = _put_blob(srv, big, g.token, timeout=40)
    check_err(r, 413, "TOO_LARGE", "PUT blob of 16 MiB + 1 byte")
    h = hashlib.sha256(big).hexdigest()
    r = raw_http(srv, "GET", "/v1/blobs/" + h, token=srv.admin_token)
    assert r.status == 404, "a refused blob must not be stored: %r" % r
    healthy(srv, "after an oversized blob")


test_blob_over_16mib_413.timeout = 90


def test_blob_exactly_16mib_accepted(ctx):
    srv, g = _srv_guard(ctx)
    data = os.urandom(1024) * (16 * 1024)
    assert len(data) == 16 * 1024 * 1024
    r = _put_blob(srv, data, g.token, timeout=40)
    assert r.status == 200, "PUT blob of exactly 16 MiB: expected 200, " \
        "got %r" % r
    r = raw_http(srv, "GET", "/v1/blobs/" + hashlib.sha256(data).hexdigest(),
                 token=srv.admin_token, timeout=40)
    assert r.status == 200 and hashlib.sha256(r.raw).digest() == \
        hashlib.sha256(data).digest(), "GET of the 16 MiB blob must return " \
        "it whole (got HTTP %s, %d bytes)" % (r.status, len(r.raw))


test_blob_exactly_16mib_accepted.timeout = 90


def test_blob_bad_hex_path(ctx):
    srv, g = _srv_guard(ctx)
    data = b"abc"
    good = hashlib.sha256(data).hexdigest()
    for bad in ("zz", "g" * 64, good[:63], good + "0", good[:62] + "--",
                "%2e%2e%2f" + good[:55]):
        for method, body in (("PUT", data), ("GET", None)):
            r = raw_http(srv, method, "/v1/blobs/" + bad, body,
                         OCTET if body is not None else {},
                         g.token if method == "PUT" else srv.admin_token)
            assert r.status in (400, 404) and isinstance(r.body, dict) and \
                r.body.get("error") in ("BAD_REQUEST", "NOT_FOUND"), \
                "%s /v1/blobs/%s: expected 400 BAD_REQUEST or 404 " \
                "NOT_FOUND, got %r" % (method, bad, r)
    healthy(srv, "after bad blob paths")


def test_blob_needs_session(ctx):
    srv, g = _srv_guard(ctx)
    data = b"secret photo"
    h = hashlib.sha256(data).hexdigest()
    check_err(_put_blob(srv, data, None), 401, "UNAUTHORIZED",
              "PUT blob without a token")
    check_err(_put_blob(srv, data, g.dtok), 401, "UNAUTHORIZED",
              "PUT blob with a device token (not a session)")
    assert _put_blob(srv, data, g.token).status == 200
    check_err(raw_http(srv, "GET", "/v1/blobs/" + h), 401, "UNAUTHORIZED",
              "GET blob without a token")
    check_err(raw_http(srv, "GET", "/v1/blobs/" + h, token="garbage"), 401,
              "UNAUTHORIZED", "GET blob with a garbage token")


# ---- live ------------------------------------------------------------------
def _wait_buckets(ws, want, timeout=3.0):
    """Read frames until one lists bucket `want`; return all decoded
    frames.  Fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        try:
            op, payload = ws.recv_message(deadline)
        except socket.timeout:
            raise AssertionError("no /v1/live frame naming %r within %.0f s "
                                 "(frames seen: %r)" % (want, timeout, seen))
        assert op == 0x2, "/v1/live frames must be binary (opcode 2), got " \
            "opcode %d: %r" % (op, payload[:100])
        try:
            m = msgpack.unpackb(payload, raw=False)
        except Exception as e:
            raise AssertionError("/v1/live frame is not msgpack (%s): %r"
                                 % (e, payload[:100]))
        assert isinstance(m, dict) and isinstance(m.get("buckets"), list), \
            "/v1/live frame must be {buckets: [...]}, got %r" % (m,)
        seen.append(m)
        if want in m["buckets"]:
            return seen


def _live_setup(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    mk_site(srv, "s2")
    sup = mk_device(srv, "s1", "sup1", "supervisor")
    g = mk_device(srv, "s1", "g1", "guard")
    return srv, sup, g


def test_live_notifies_supervisor_of_bucket_change(ctx):
    srv, sup, g = _live_setup(ctx)
    ws = WebSocket(srv, "/v1/live", sup.token)
    try:
        assert ws.status == 101, "GET /v1/live with a supervisor session: " \
            "expected 101 Switching Protocols, got %r" % ws.head[:300]
        assert ws.accept_ok(), "Sec-WebSocket-Accept does not match the " \
            "key: %r" % ws.headers
        time.sleep(0.3)
        # another device (a guard of the site) reports a fault: orders/s1
        ack = push1(srv, g.token, [mkop("order", "o1", {
            "site": "s1", "category": "repair", "title": "lamp out",
            "detail": "stairwell 3", "reported_at": now_ms(),
            "reporter": "g1", "status": "reported"})], what="guard order")
        assert ack.get("applied") == 1, "the guard's order must apply: " \
            "%r" % ack
        t = time.monotonic()
        _wait_buckets(ws, "orders/s1", 3.0)
        assert time.monotonic() - t < 3.0
        # and an admin write in site/s1
        admin_ok(srv, [mkop("zone", "z1", {"site": "s1", "name": "lobby"})])
        _wait_buckets(ws, "site/s1", 3.0)
    finally:
        ws.close()


def test_live_not_told_of_other_sites(ctx):
    srv, sup, g = _live_setup(ctx)
    ws = WebSocket(srv, "/v1/live", sup.token)
    try:
        assert ws.status == 101, "expected 101, got %r" % ws.head[:300]
        time.sleep(0.3)
        admin_ok(srv, [mkop("zone", "zx", {"site": "s2", "name": "other"})])
        admin_ok(srv, [mkop("zone", "zy", {"site": "s1", "name": "ours"})])
        frames = _wait_buckets(ws, "site/s1", 3.0)
        named = [b for f in frames for b in f["buckets"]]
        assert "site/s2" not in named, "a supervisor of s1 must not be " \
            "told about site/s2 (out of scope): frames %r" % frames
    finally:
        ws.close()


def test_live_refuses_without_session(ctx):
    srv, sup, g = _live_setup(ctx)
    for what, tok in (("no token", None), ("garbage token", "garbage"),
                      ("device token", sup.dtok)):
        ws = WebSocket(srv, "/v1/live", tok)
        try:
            assert ws.status != 101, "/v1/live with %s: the upgrade must " \
                "be refused, got %r" % (what, ws.head[:300])
        finally:
            ws.s.close()
    healthy(srv, "after refused WebSocket upgrades")


def test_live_without_session_answers_401(ctx):
    srv, sup, g = _live_setup(ctx)
    bad = []
    for what, tok in (("no token", None), ("garbage token", "garbage"),
                      ("device token", sup.dtok)):
        ws = WebSocket(srv, "/v1/live", tok)
        try:
            if ws.status != 401:
                bad.append("%s: %s" % (what, ws.head[:200] or
                                       "connection closed, no HTTP answer"))
        finally:
            ws.s.close()
    assert not bad, "GET /v1/live (WebSocket upgrade) without a session " \
        "token: expected HTTP 401 UNAUTHORIZED, got: %s" % "; ".join(bad)


def test_live_token_as_subprotocol(ctx):
    """A browser cannot set Authorization on a WebSocket: it offers
    fieldsync.v1 and bearer.<token> as subprotocols instead.  The server
    answers with fieldsync.v1 only (never echoing the token) and the socket
    is told of changes like one opened with the header."""
    srv, sup, g = _live_setup(ctx)
    ws = WebSocket(srv, "/v1/live", None,
                   protocols=["fieldsync.v1", "bearer." + sup.token])
    try:
        assert ws.status == 101, "GET /v1/live offering fieldsync.v1 and " \
            "bearer.<session token>: expected 101, got %r" % ws.head[:300]
        assert ws.accept_ok()
        assert ws.headers.get("sec-websocket-protocol") == "fieldsync.v1", \
            "the answer must select the fieldsync.v1 subprotocol only: " \
            "%r" % ws.headers
        assert sup.token.encode() not in ws.head, \
            "the answer echoes the token: %r" % ws.head
        time.sleep(0.3)
        admin_ok(srv, [mkop("zone", "zs", {"site": "s1", "name": "sub"})])
        _wait_buckets(ws, "site/s1", 3.0)
    finally:
        ws.close()
    assert sup.token not in srv.log(), \
        "the server's log holds the session token"
    # the header keeps working, and may offer the subprotocol too
    ws = WebSocket(srv, "/v1/live", g.token, protocols=["fieldsync.v1"])
    try:
        assert ws.status == 101, "Authorization + fieldsync.v1: %r" % \
            ws.head[:300]
        assert ws.headers.get("sec-websocket-protocol") == "fieldsync.v1"
    finally:
        ws.close()


def test_live_subprotocol_token_refusals(ctx):
    srv, sup, g = _live_setup(ctx)
    cases = (("a garbage bearer", ["fieldsync.v1", "bearer.garbage"], 401,
              "UNAUTHORIZED"),
             ("a device token", ["fieldsync.v1", "bearer." + sup.dtok], 401,
              "UNAUTHORIZED"),
             ("fieldsync.v1 and no token", ["fieldsync.v1"], 401,
              "UNAUTHORIZED"),
             ("a bearer without fieldsync.v1", ["bearer." + sup.token], 400,
              "BAD_REQUEST"))
    for what, protos, status, code in cases:
        ws = WebSocket(srv, "/v1/live", None, protocols=protos)
        try:
            assert ws.status == status, "/v1/live offering %s: expected " \
                "%d, got %r" % (what, status, ws.head[:300])
            rest = ws.buf
            while len(rest) < 20:
                c = ws.s.recv(4096)
                if not c:
                    break
                rest += c
            assert code.encode() in rest, "/v1/live offering %s: the " \
                "body must say %s: %r" % (what, code, rest[:200])
        finally:
            ws.s.close()
    healthy(srv, "after refused subprotocol upgrades")


def test_live_stops_after_revoke(ctx):
    """Revoke: every token of the device stops working at once, so an open
    /v1/live socket of that device gets no more change notices."""
    srv, sup, g = _live_setup(ctx)
    ws = WebSocket(srv, "/v1/live", sup.token)
    try:
        assert ws.status == 101, "expected 101, got %r" % ws.head[:300]
        time.sleep(0.3)
        admin_ok(srv, [mkop("zone", "za", {"site": "s1", "name": "before"})])
        _wait_buckets(ws, "site/s1", 3.0)
        r = post(srv, "/v1/admin/revoke", {"device": sup.device},
                 srv.admin_token)
        assert r.status == 200, "admin revoke: %r" % r
        admin_ok(srv, [mkop("zone", "zb", {"site": "s1", "name": "after"})])
        deadline = time.monotonic() + 1.5
        frames = []
        while True:
            try:
                op, payload = ws.recv_message(deadline)
            except (socket.timeout, ConnectionError, OSError):
                break
            if op == 0x2:
                frames.append(msgpack.unpackb(payload, raw=False))
        assert not any("site/s1" in f.get("buckets", []) for f in frames), \
            "the revoked device's open /v1/live socket still got change " \
            "notices after the revoke: %r" % frames
    finally:
        ws.close()


# ---- metrics and health ----------------------------------------------------
def test_healthz(ctx):
    srv = ctx.server()
    r = raw_http(srv, "GET", "/healthz")
    assert r.status == 200, "GET /healthz: expected 200, got %r" % r
    r = raw_http(srv, "GET", "/healthz", token="garbage")
    assert r.status == 200, "GET /healthz needs no token, got %r" % r


def test_metrics_counters_move(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    m0 = metrics(srv)
    for name in ("fieldsync_requests_total", "fieldsync_ops_applied_total"):
        assert any(n == name for n, _ in m0), \
            "/metrics must have %s; names: %r" % (
                name, sorted({n for n, _ in m0}))
    assert metric_total(m0, "fieldsync_store_bytes") > 0, \
        "/metrics must report fieldsync_store_bytes > 0: %r" % {
            k: v for k, v in m0.items() if k[0] == "fieldsync_store_bytes"}
    req0 = metric_total(m0, "fieldsync_requests_total")
    app0 = metric_total(m0, "fieldsync_ops_applied_total")
    rej0 = metric_total(m0, "fieldsync_ops_rejected_total", 'code="BAD_ID"')
    ops = [mkop("zone", "m%d" % i, {"site": "s1", "name": "x"})
           for i in range(5)]
    admin_ok(srv, ops, "push 5 ops")
    m1 = metrics(srv)
    assert metric_total(m1, "fieldsync_requests_total") > req0, \
        "fieldsync_requests_total must grow after requests (%s -> %s)" % (
            req0, metric_total(m1, "fieldsync_requests_total"))
    assert metric_total(m1, "fieldsync_ops_applied_total") >= app0 + 5, \
        "fieldsync_ops_applied_total must grow by >= 5 after 5 applied " \
        "ops (%s -> %s)" % (app0, metric_total(
            m1, "fieldsync_ops_applied_total"))
    ack = push1(srv, srv.admin_token,
                [mkop("zone", "bad/id", {"site": "s1", "name": "x"})],
                what="bad id push")
    assert [e.get("code") for e in ack.get("rej", [])] == ["BAD_ID"], \
        "the op with id 'bad/id' must be rejected BAD_ID: %r" % ack
    m2 = metrics(srv)
    rej = metric_total(m2, "fieldsync_ops_rejected_total", 'code="BAD_ID"')
    assert rej >= rej0 + 1, \
        'fieldsync_ops_rejected_total{code="BAD_ID"} must grow after a ' \
        "BAD_ID rejection (%s -> %s); rejected lines: %r" % (
            rej0, rej, {k: v for k, v in m2.items()
                        if k[0] == "fieldsync_ops_rejected_total"})


def test_metrics_sync_latency_histogram(ctx):
    srv = ctx.server()
    m0 = metrics(srv)
    c0 = metric_total(m0, "fieldsync_sync_seconds_count")
    for _ in range(3):
        assert sync_raw(srv, srv.admin_token, pull={}).status == 200
    m1 = metrics(srv)
    buckets = {lab: v for (n, lab), v in m1.items()
               if n == "fieldsync_sync_seconds_bucket"}
    assert buckets, "/metrics must have a sync latency histogram " \
        "fieldsync_sync_seconds_bucket{le=...}; names: %r" % sorted(
            {n for n, _ in m1})
    assert any('le="+Inf"' in lab for lab in buckets), \
        "the histogram needs an le=\"+Inf\" bucket: %r" % sorted(buckets)
    cnt = metric_total(m1, "fieldsync_sync_seconds_count")
    assert cnt >= c0 + 3, "fieldsync_sync_seconds_count must grow by >= 3 " \
        "after 3 syncs (%s -> %s)" % (c0, cnt)
    inf = sum(v for lab, v in buckets.items() if 'le="+Inf"' in lab)
    assert inf == cnt, "the +Inf bucket must equal _count (%s vs %s)" % (
        inf, cnt)
    assert any(n == "fieldsync_sync_seconds_sum" for n, _ in m1), \
        "the histogram needs fieldsync_sync_seconds_sum"

    def le(lab):
        v = re.search(r'le="([^"]+)"', lab).group(1)
        return float("inf") if v == "+Inf" else float(v)
    ordered = sorted(buckets.items(), key=lambda kv: le(kv[0]))
    vals = [v for _, v in ordered]
    assert vals == sorted(vals), "histogram buckets must be cumulative: " \
        "%r" % ordered
