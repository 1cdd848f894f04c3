"""Integration tests: blobs, /v1/live WebSocket, /metrics and /healthz (DESIGN.md section 4)."""
# ---- helpers local to this file (raw HTTP, setup) -------------------------
import os
import sys
import socket
import threading
import time
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msgpack  # noqa: E402

PIN = "1234"


def now_ms():
    return int(time.time() * 1000)


def hlc_of(ms, counter=0):
    return (ms << 16) | counter


class RawResp:
    def __init__(self, status, headers, raw, err=None):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.err = err
        self.body = _decode(headers.get("content-type", ""), raw)

    def __repr__(self):
        b = self.body if self.body is not None else self.raw[:200]
        return "<HTTP %s %r%s>" % (self.status, b,
                                    " (%s)" % self.err if self.err else "")


def _decode(ctype, raw):
    if not raw:
        return None
    ct = (ctype or "").split(";")[0].strip().lower()
    try:
        if ct == "application/msgpack" or ct == "application/x-msgpack":
            return msgpack.unpackb(raw, raw=False, strict_map_key=False)
        if ct == "application/json":
            return json.loads(raw)
    except Exception:
        return None
    return None


def _recv_response(s, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a full "
                                  "response header (got %r)" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            k = k.strip().lower()
            headers[k] = (headers[k] + ", " + v.strip()) if k in headers \
                else v.strip()
    body = rest

    def more():
        s.settimeout(max(0.05, deadline - time.monotonic()))
        c = s.recv(65536)
        if not c:
            raise ConnectionError("connection closed inside the body")
        return c

    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = b""
        while True:
            while b"\r\n" not in body:
                body += more()
            size_s, body = body.split(b"\r\n", 1)
            size = int(size_s.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            while len(body) < size + 2:
                body += more()
            out += body[:size]
            body = body[size + 2:]
        return status, headers, out
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            body += more()
        return status, headers, body[:n]
    while True:  # read to EOF
        try:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            c = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not c:
            break
        body += c
    return status, headers, body


def http(srv, method, path, body=None, headers=None, token=None,
         timeout=15.0):
    """One request on its own connection, exact headers (no defaults but
    Host, Connection: close and Content-Length).  The body is sent from a
    thread so an early answer (413 before the body is read) is still seen.
    Returns RawResp; status None when no response could be read."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    lines = ["%s %s HTTP/1.1" % (method, path),
             "Host: 127.0.0.1:%d" % srv.port, "Connection: close"]
    for k, v in hdrs.items():
        lines.append("%s: %s" % (k, v))
    if body is not None and not any(k.lower() == "content-length"
                                    for k in hdrs):
        lines.append("Content-Length: %d" % len(body))
    deadline = time.monotonic() + timeout
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    sender = None
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if body:
            def send():
                try:
                    mv = memoryview(body)
                    for i in range(0, len(body), 1 << 16):
                        s.sendall(mv[i:i + (1 << 16)])
                except OSError:
                    pass
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
        try:
            st, hd, raw = _recv_response(s, deadline)
        except (OSError, ConnectionError, ValueError, IndexError) as e:
            return RawResp(None, {}, b"", err=repr(e))
        return RawResp(st, hd, raw)
    finally:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
        if sender:
            sender.join(5)


def mp(obj):
    return msgpack.packb(obj, use_bin_type=True)


def post(srv, path, obj, token=None, headers=None, timeout=15.0):
    h = {"Content-Type": "application/msgpack"}
    h.update(headers or {})
    return http(srv, "POST", path, mp(obj), h, token, timeout)


def sync_raw(srv, token, push=None, pull=None, limit=None, headers=None,
             **extra):
    m = {"v": 1, "hlc": hlc_of(now_ms())}
    if push is not None:
        m["push"] = push
    if pull is not None:
        m["pull"] = pull
    if limit is not None:
        m["limit"] = limit
    m.update(extra)
    return post(srv, "/v1/sync", m, token, headers)


def mkop(c, id, fields, s=None):
    return {"c": c, "id": id, "s": s if s is not None else
            hlc_of(now_ms()), "f": fields}


def mkbatch(ops, bid=None, by=None):
    b = {"batch": bid if bid is not None else os.urandom(16), "ops": ops}
    if by is not None:
        b["by"] = by
    return b


def check_err(r, status, code, what):
    assert r.status == status, \
        "%s: expected HTTP %s %s, got %r" % (what, status, code, r)
    b = r.body
    assert isinstance(b, dict) and b.get("error") == code and \
        isinstance(b.get("msg"), str), \
        "%s: expected body {error: %r, msg: <text>}, got %r" % (
            what, code, b if b is not None else r.raw[:200])


def push1(srv, token, ops, bid=None, by=None, what="push"):
    """Push one batch; return its ack (asserting HTTP 200, one ack)."""
    r = sync_raw(srv, token, push=[mkbatch(ops, bid, by)])
    assert r.status == 200 and isinstance(r.body, dict), \
        "%s: expected HTTP 200 sync response, got %r" % (what, r)
    acks = r.body.get("acks")
    assert isinstance(acks, list) and len(acks) == 1, \
        "%s: expected exactly one ack, got %r" % (what, acks)
    return acks[0]


def admin_ok(srv, ops, what="admin push"):
    ack = push1(srv, srv.admin_token, ops, what=what)
    assert ack.get("applied") == len(ops) and not ack.get("rej") and \
        "err" not in ack, "%s: expected all %d ops applied, got ack %r" % (
            what, len(ops), ack)
    return ack


def mk_site(srv, site):
    admin_ok(srv, [mkop("site", site, {"name": "Site " + site,
                                       "tz": "Asia/Shanghai",
                                       "households": 120})],
             "create site %s" % site)


def mk_staff(srv, site, sid, role, active=True, pin=PIN):
    admin_ok(srv, [mkop("staff", sid, {"site": site, "name": "N " + sid,
                                       "role": role, "active": active})],
             "create staff %s" % sid)
    r = post(srv, "/v1/admin/staff-pin", {"staff": sid, "pin": pin},
             srv.admin_token)
    assert r.status == 200 and isinstance(r.body, dict) and \
        r.body.get("ok") is True, "admin staff-pin %s: expected 200 {ok: " \
        "true}, got %r" % (sid, r)


def new_code(srv, site, role=None, uses=None, ttl_s=None):
    m = {"site": site}
    if role is not None:
        m["role"] = role
    if uses is not None:
        m["uses"] = uses
    if ttl_s is not None:
        m["ttl_s"] = ttl_s
    r = post(srv, "/v1/admin/enroll-codes", m, srv.admin_token)
    assert r.status == 200 and isinstance(r.body, dict) and \
        isinstance(r.body.get("code"), str) and r.body["code"], \
        "enroll-codes %r: expected 200 {code}, got %r" % (m, r)
    return r.body["code"]


def enroll_raw(srv, code, name="dev"):
    return post(srv, "/v1/enroll", {"code": code, "name": name})


def enroll_ok(srv, code, name="dev"):
    r = enroll_raw(srv, code, name)
    assert r.status == 200 and isinstance(r.body, dict) and \
        isinstance(r.body.get("device"), str) and \
        isinstance(r.body.get("token"), str), \
        "enroll: expected 200 {device, token}, got %r" % r
    return r.body["device"], r.body["token"]


def login_raw(srv, dtok, staff, pin=PIN):
    return post(srv, "/v1/login", {"staff": staff, "pin": pin}, dtok)


def login_ok(srv, dtok, staff, pin=PIN):
    r = login_raw(srv, dtok, staff, pin)
    assert r.status == 200 and isinstance(r.body, dict) and \
        isinstance(r.body.get("token"), str), \
        "login %s: expected 200 {token, ...}, got %r" % (staff, r)
    return r.body


class Dev:
    def __init__(self, device, dtok, token, staff, site, role):
        self.device, self.dtok, self.token = device, dtok, token
        self.staff, self.site, self.role = staff, site, role


def mk_device(srv, site, staff, role, pin=PIN, make_staff=True):
    """Staff record + PIN + enroll code + enroll + login."""
    if make_staff:
        mk_staff(srv, site, staff, role, pin=pin)
    code = new_code(srv, site)
    device, dtok = enroll_ok(srv, code, "hh-" + staff)
    sess = login_ok(srv, dtok, staff, pin)
    return Dev(device, dtok, sess["token"], staff, site, role)


def healthy(srv, what):
    r = http(srv, "GET", "/healthz", timeout=5)
    assert r.status == 200, "%s: /healthz expected 200 (server alive), " \
        "got %r" % (what, r)
# ---- end of helpers --------------------------------------------------------


# ---- tests -----------------------------------------------------------------
import base64  # noqa: E402
import hashlib  # noqa: E402
import re  # noqa: E402
import struct  # noqa: E402

OCTET = {"Content-Type": "application/octet-stream"}


def _srv_guard(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    g = mk_device(srv, "s1", "g1", "guard")
    return srv, g


def _put_blob(srv, data, token, digest=None, timeout=30):
    h = digest or hashlib.sha256(data).hexdigest()
    return http(srv, "PUT", "/v1/blobs/" + h, data, OCTET, token, timeout)


def test_blob_put_get_roundtrip(ctx):
    srv, g = _srv_guard(ctx)
    data = os.urandom(200000)
    h = hashlib.sha256(data).hexdigest()
    r = _put_blob(srv, data, g.token)
    assert r.status == 200 and isinstance(r.body, dict) and \
        r.body.get("ok") is True, "PUT /v1/blobs/<sha256> with matching " \
        "bytes: expected 200 {ok: true}, got %r" % r
    r = http(srv, "GET", "/v1/blobs/" + h, token=srv.admin_token)
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
    r = http(srv, "GET", "/v1/blobs/" + wrong, token=srv.admin_token)
    check_err(r, 404, "NOT_FOUND", "GET of the hash whose PUT was refused")


def test_blob_absent_404(ctx):
    srv, g = _srv_guard(ctx)
    h = hashlib.sha256(b"never uploaded").hexdigest()
    check_err(http(srv, "GET", "/v1/blobs/" + h, token=srv.admin_token), 404,
              "NOT_FOUND", "GET of a blob never uploaded")


def test_blob_over_16mib_413(ctx):
    srv, g = _srv_guard(ctx)
    big = b"\xab" * (16 * 1024 * 1024 + 1)
    r = _put_blob(srv, big, g.token, timeout=40)
    check_err(r, 413, "TOO_LARGE", "PUT blob of 16 MiB + 1 byte")
    h = hashlib.sha256(big).hexdigest()
    r = http(srv, "GET", "/v1/blobs/" + h, token=srv.admin_token)
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
    r = http(srv, "GET", "/v1/blobs/" + hashlib.sha256(data).hexdigest(),
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
            r = http(srv, method, "/v1/blobs/" + bad, body,
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
    check_err(http(srv, "GET", "/v1/blobs/" + h), 401, "UNAUTHORIZED",
              "GET blob without a token")
    check_err(http(srv, "GET", "/v1/blobs/" + h, token="garbage"), 401,
              "UNAUTHORIZED", "GET blob with a garbage token")


# ---- live ------------------------------------------------------------------
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WS:
    """A minimal WebSocket client (RFC 6455) over a plain socket."""

    def __init__(self, srv, path, token, timeout=5.0):
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.s = socket.create_connection(("127.0.0.1", srv.port),
                                          timeout=timeout)
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % srv.port,
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + self.key,
                 "Sec-WebSocket-Version: 13"]
        if token is not None:
            lines.append("Authorization: Bearer " + token)
        self.s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in buf:
            if time.monotonic() > deadline:
                raise AssertionError("WebSocket handshake: no answer")
            c = self.s.recv(4096)
            if not c:
                break
            buf += c
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else None
        self.headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.head = head

    def accept_ok(self):
        want = base64.b64encode(hashlib.sha1((self.key + WS_GUID).encode())
                                .digest()).decode()
        return self.headers.get("sec-websocket-accept") == want

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("frame not complete")
            self.s.settimeout(left)
            c = self.s.recv(65536)
            if not c:
                raise ConnectionError("WebSocket closed by the server")
            self.buf += c
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, opcode, payload=b""):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.s.sendall(hdr + mask + body)

    def recv_message(self, deadline):
        """(opcode, payload) of the next data message; answers pings.
        Raises socket.timeout at the deadline."""
        parts, first_op = [], None
        while True:
            b0, b1 = self._need(2, deadline)
            fin, opcode = b0 & 0x80, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._need(2, deadline))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._need(8, deadline))[0]
            mask = self._need(4, deadline) if b1 & 0x80 else None
            payload = self._need(n, deadline) if n else b""
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in
                                enumerate(payload))
            if opcode == 0x9:            # ping
                self.send(0xA, payload)
                continue
            if opcode == 0xA:            # pong
                continue
            if opcode == 0x8:
                raise ConnectionError("WebSocket close frame %r" % payload)
            if opcode != 0:
                first_op = opcode
            parts.append(payload)
            if fin:
                return first_op, b"".join(parts)

    def close(self):
        try:
            self.send(0x8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.s.close()


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
    ws = WS(srv, "/v1/live", sup.token)
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
    ws = WS(srv, "/v1/live", sup.token)
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
        ws = WS(srv, "/v1/live", tok)
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
        ws = WS(srv, "/v1/live", tok)
        try:
            if ws.status != 401:
                bad.append("%s: %s" % (what, ws.head[:200] or
                                       "connection closed, no HTTP answer"))
        finally:
            ws.s.close()
    assert not bad, "GET /v1/live (WebSocket upgrade) without a session " \
        "token: expected HTTP 401 UNAUTHORIZED, got: %s" % "; ".join(bad)


def test_live_stops_after_revoke(ctx):
    """Revoke: every token of the device stops working at once, so an open
    /v1/live socket of that device gets no more change notices."""
    srv, sup, g = _live_setup(ctx)
    ws = WS(srv, "/v1/live", sup.token)
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
_METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def _metrics(srv):
    r = http(srv, "GET", "/metrics")
    assert r.status == 200, "GET /metrics: expected 200, got %r" % r
    ct = r.headers.get("content-type", "")
    assert ct.startswith("text/plain"), "GET /metrics: Content-Type " \
        "expected text/plain (Prometheus text), got %r" % ct
    out = {}
    for ln in r.raw.decode("utf-8").splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = _METRIC.match(ln)
        assert m, "/metrics line is not Prometheus text: %r" % ln
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def _total(ms, name, label_sub=""):
    return sum(v for (n, lab), v in ms.items()
               if n == name and label_sub in lab)


def test_healthz(ctx):
    srv = ctx.server()
    r = http(srv, "GET", "/healthz")
    assert r.status == 200, "GET /healthz: expected 200, got %r" % r
    r = http(srv, "GET", "/healthz", token="garbage")
    assert r.status == 200, "GET /healthz needs no token, got %r" % r


def test_metrics_counters_move(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    m0 = _metrics(srv)
    for name in ("fieldsync_requests_total", "fieldsync_ops_applied_total"):
        assert any(n == name for n, _ in m0), \
            "/metrics must have %s; names: %r" % (
                name, sorted({n for n, _ in m0}))
    assert _total(m0, "fieldsync_store_bytes") > 0, \
        "/metrics must report fieldsync_store_bytes > 0: %r" % {
            k: v for k, v in m0.items() if k[0] == "fieldsync_store_bytes"}
    req0 = _total(m0, "fieldsync_requests_total")
    app0 = _total(m0, "fieldsync_ops_applied_total")
    rej0 = _total(m0, "fieldsync_ops_rejected_total", 'code="BAD_ID"')
    ops = [mkop("zone", "m%d" % i, {"site": "s1", "name": "x"})
           for i in range(5)]
    admin_ok(srv, ops, "push 5 ops")
    m1 = _metrics(srv)
    assert _total(m1, "fieldsync_requests_total") > req0, \
        "fieldsync_requests_total must grow after requests (%s -> %s)" % (
            req0, _total(m1, "fieldsync_requests_total"))
    assert _total(m1, "fieldsync_ops_applied_total") >= app0 + 5, \
        "fieldsync_ops_applied_total must grow by >= 5 after 5 applied " \
        "ops (%s -> %s)" % (app0, _total(m1, "fieldsync_ops_applied_total"))
    ack = push1(srv, srv.admin_token,
                [mkop("zone", "bad/id", {"site": "s1", "name": "x"})],
                what="bad id push")
    assert [e.get("code") for e in ack.get("rej", [])] == ["BAD_ID"], \
        "the op with id 'bad/id' must be rejected BAD_ID: %r" % ack
    m2 = _metrics(srv)
    rej = _total(m2, "fieldsync_ops_rejected_total", 'code="BAD_ID"')
    assert rej >= rej0 + 1, \
        'fieldsync_ops_rejected_total{code="BAD_ID"} must grow after a ' \
        "BAD_ID rejection (%s -> %s); rejected lines: %r" % (
            rej0, rej, {k: v for k, v in m2.items()
                        if k[0] == "fieldsync_ops_rejected_total"})


def test_metrics_sync_latency_histogram(ctx):
    srv = ctx.server()
    m0 = _metrics(srv)
    c0 = _total(m0, "fieldsync_sync_seconds_count")
    for _ in range(3):
        assert sync_raw(srv, srv.admin_token, pull={}).status == 200
    m1 = _metrics(srv)
    buckets = {lab: v for (n, lab), v in m1.items()
               if n == "fieldsync_sync_seconds_bucket"}
    assert buckets, "/metrics must have a sync latency histogram " \
        "fieldsync_sync_seconds_bucket{le=...}; names: %r" % sorted(
            {n for n, _ in m1})
    assert any('le="+Inf"' in lab for lab in buckets), \
        "the histogram needs an le=\"+Inf\" bucket: %r" % sorted(buckets)
    cnt = _total(m1, "fieldsync_sync_seconds_count")
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
