"""Integration test: a catalogue of malformed and hostile requests.

Every case is one row of a table: what is sent, and the documented answer
(protocol/PROTOCOL.md, CONTRACT_NOTES.md): an HTTP status and, for errors
our handlers produce, the {error: CODE, msg} body; or, for per-op
refusals, HTTP 200 with the op named in its ack's `rej` with its code.
After every case the server must still answer GET /healthz, and an admin
pull of every bucket must be exactly what it was before the case: no
hostile request changes state.

One test function per category (each on its own server, set up the same
way); test_catalogue_has_150_distinct_cases asserts the size of the table.
Rows whose answer comes from CivetWeb itself (a bad request line, header
limits, Content-Length errors) are checked on status only: CivetWeb's
error bodies are plain text.
"""
import gzip
import hashlib
import os
import socket
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msgpack  # noqa: E402

from harness import (admin_push, batch, check, device_for, hlc_of,  # noqa: E402
                     login, now_ms, op, req, set_pin, sync)

HOUR = 3600_000
SKEW_MS = 300_000
HEX_A = "a" * 64          # a well-formed blob name no one uploaded


def mp(obj):
    return msgpack.packb(obj, use_bin_type=True)


# ---------------------------------------------------------------- raw HTTP --

class Raw:
    """A response read off the socket: status (None: no response),
    headers (lower-case), body bytes, decoded msgpack/JSON body or None."""

    def __init__(self, status, headers, raw, err=None):
        self.status, self.headers, self.raw, self.err = \
            status, headers, raw, err
        self.body = None
        ct = headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if ct == "application/msgpack" and raw:
                self.body = msgpack.unpackb(raw, raw=False,
                                            strict_map_key=False)
            elif ct == "application/json" and raw:
                import json
                self.body = json.loads(raw)
        except Exception:
            self.body = None

    def __repr__(self):
        shown = self.body if self.body is not None else self.raw[:200]
        return "<HTTP %s %r%s>" % (self.status, shown,
                                    " (%s)" % self.err if self.err else "")


def _read_response(s, deadline, no_body=False):
    buf = b""

    def more():
        s.settimeout(max(0.05, deadline - time.monotonic()))
        c = s.recv(65536)
        if not c:
            raise ConnectionError("closed")
        return c

    while b"\r\n\r\n" not in buf:
        buf += more()
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    if no_body:
        return status, hdrs, b""
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        while len(rest) < n:
            rest += more()
        return status, hdrs, rest[:n]
    try:
        while True:
            rest += more()
    except (ConnectionError, OSError):
        pass
    return status, hdrs, rest


def exchange(srv, data, body=b"", timeout=10.0, no_body=False):
    """Send `data` (the request head, or a whole raw request) and `body`
    (from a thread, so an answer sent before the body is read is still
    seen); read one response."""
    deadline = time.monotonic() + timeout
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    sender = None
    try:
        s.sendall(data)
        if body:
            def send():
                try:
                    for i in range(0, len(body), 1 << 16):
                        s.sendall(body[i:i + (1 << 16)])
                except OSError:
                    pass
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
        try:
            st, h, raw = _read_response(s, deadline, no_body)
        except (OSError, ConnectionError, ValueError, IndexError) as e:
            return Raw(None, {}, b"", err=repr(e))
        return Raw(st, h, raw)
    finally:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
        if sender:
            sender.join(5)


def http(srv, method, path, body=None, headers=(), length=True):
    """One request with exactly these headers (a list of (name, value)),
    plus Host, Connection: close and, unless length=False, Content-Length."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1",
             "Connection: close"]
    lines += ["%s: %s" % kv for kv in headers]
    if body is not None and length:
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return exchange(srv, head, body or b"")


MSGPACK = ("Content-Type", "application/msgpack")


def bearer(tok):
    return ("Authorization", "Bearer " + tok)


# ----------------------------------------------------------- the world ------

class World:
    """A server with site s1 (supervisor sup1, guard g1 on shift sh1, a
    zone, a checkpoint, a checkin k1) and site s2; g1 has a device and a
    session.  Tokens by name: admin, guard (g1's session), guard_dev (its
    device token), sup (sup1's session)."""

    # Rate limits are another test's subject; a catalogue sends a few
    # hundred requests a second from one device and address.
    UNLIMITED = ("--rate-device-per-s", "0", "--rate-address-per-s", "0")
    PIN = "1234"

    def __init__(self, ctx, args=()):
        self.srv = ctx.server(args=self.UNLIMITED + tuple(args))
        srv = self.srv
        now = now_ms()
        admin_push(srv, [
            op("site", "s1", {"name": "Harbour", "tz": "Asia/Shanghai",
                              "households": 300}),
            op("site", "s2", {"name": "Hill", "tz": "Asia/Shanghai"}),
            op("staff", "sup1", {"site": "s1", "name": "Sup",
                                 "role": "supervisor", "active": True}),
            op("staff", "g1", {"site": "s1", "name": "G One",
                               "role": "guard", "active": True}),
            op("staff", "g2", {"site": "s1", "name": "G Two",
                               "role": "guard", "active": True}),
            op("shift", "sh1", {"site": "s1", "role": "guard",
                                "starts": now - HOUR, "ends": now + 8 * HOUR,
                                "staff": ["g1"], "lead": "g1"}),
            op("zone", "z1", {"site": "s1", "name": "Lobby",
                              "kind": "lobby"}),
            op("checkpoint", "cp1", {"site": "s1", "zone": "z1",
                                     "name": "Door", "tag": "04A1"}),
        ])
        self.g1 = device_for(srv, "s1", "g1", "guard", pin=self.PIN)
        self.sup = device_for(srv, "s1", "sup1", "supervisor", pin=self.PIN)
        self.checkin_f = {"site": "s1", "shift": "sh1", "checkpoint": "cp1",
                          "staff": "g1", "at": now, "boot": "b1",
                          "mono": 5000, "method": "nfc"}
        self.checkin_s = hlc_of(now)
        r = sync(srv, self.g1.token,
                 push=[batch([op("checkin", "k1", self.checkin_f,
                                 s=self.checkin_s)])],
                 dev={"boot": "b1", "mono": 6000, "wall": now})
        ack = check(r, 200)["acks"][0]
        assert ack["applied"] == 1 and not ack["rej"], ack
        self.tokens = {"admin": srv.admin_token, "guard": self.g1.token,
                       "guard_dev": self.g1.device_token,
                       "sup": self.sup.token}

    def snapshot(self):
        """Every bucket as the admin pulls it from 0: cursor, records
        (fields and stamps), gone entries; and the scope.  The alerts
        buckets are left out: refused requests are what the alert rules
        watch (a device whose syncs keep being refused raises one), and
        those are the server's own records, not the hostile request's."""
        b = check(sync(self.srv, self.srv.admin_token, limit=10000), 200)
        out = {}
        b["scope"] = [n for n in b["scope"] if not n.startswith("alerts/")]
        for name, bk in sorted(b["buckets"].items()):
            if name.startswith("alerts/"):
                continue
            assert not bk.get("more"), "snapshot needs one page: %s" % name
            recs = sorted((r["c"], r["id"], repr(sorted(r["f"].items())),
                           repr(sorted(r["s"].items()))) for r in bk["recs"])
            out[name] = (bk["cursor"], recs,
                         sorted(tuple(g) for g in bk["gone"]))
        return out, sorted(b["scope"])


# ------------------------------------------------------------- the table ----
# A row: (category, name, send, expect).
#   send(w) -> Raw
#   expect: ("status", STATUS)                 status only (CivetWeb)
#           ("status", (S1, S2, ...))           one of these
#           ("err", STATUS, CODE)               our {error: CODE, msg}
#           ("rej", CODE)                       200, op 0 refused with CODE
#           ("batch_err", CODE)                 200, the batch refused whole
#           ("ok", check)                       200 and check(w, body) holds

CASES = []


def row(cat, name, send, expect):
    CASES.append((cat, name, send, expect))


def body_req(**kw):
    """A sync body: v, hlc, push, pull; kw replaces keys (None drops)."""
    b = {"v": 1, "hlc": hlc_of(now_ms()), "push": [], "pull": {}}
    for k, v in kw.items():
        if v is None:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def post_sync(payload, token="admin", headers=None):
    """send(w): POST /v1/sync with payload (bytes, or a function of w
    giving bytes or an object to pack)."""
    def send(w):
        p = payload(w) if callable(payload) else payload
        if not isinstance(p, (bytes, bytearray)):
            p = mp(p)
        hs = [MSGPACK] if headers is None else list(headers)
        if token:
            hs.append(bearer(w.tokens[token]))
        return http(w.srv, "POST", "/v1/sync", bytes(p), hs)
    return send


def push_op(make_op, token="admin", by=None):
    """send(w): one batch with one op (an object, or a function of w)."""
    def payload(w):
        o = make_op(w) if callable(make_op) else make_op
        b = {"batch": os.urandom(16), "ops": [o]}
        if by is not None:
            b["by"] = by
        return body_req(push=[b])
    return post_sync(payload, token)


def s_now():
    return hlc_of(now_ms())


def site_op(fields, id="s1", s=None, c="site"):
    return lambda w: {"c": c, "id": id, "s": s_now() if s is None else s,
                      "f": fields}


def mapdup(*pairs):
    """A msgpack map written pair by pair (duplicate keys allowed)."""
    n = len(pairs)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
    return head + b"".join(mp(k) + mp(v) for k, v in pairs)


def valid_push_bytes():
    return mp(body_req(push=[{"batch": b"0123456789abcdef",
                              "ops": [{"c": "site", "id": "s1", "s": 1,
                                       "f": {"name": "x"}}]}]))


# ---- msgpack: truncated, over-long, huge declared lengths, nesting, dups --

E400 = ("err", 400, "BAD_MSGPACK")
GOOD = valid_push_bytes()          # its stamp 1 loses anyway
row("msgpack", "empty body", post_sync(b""), E400)
row("msgpack", "never-used byte 0xc1", post_sync(b"\xc1"), E400)
row("msgpack", "plain text", post_sync(b"hello fieldsync"), E400)
row("msgpack", "JSON text", post_sync(b'{"v": 1, "push": []}'), E400)
for cut in (1, 2, 5, 10, 20, len(GOOD) // 2, len(GOOD) - 2, len(GOOD) - 1):
    row("msgpack", "truncated to %d of %d bytes" % (cut, len(GOOD)),
        post_sync(GOOD[:cut]), E400)
row("msgpack", "one byte after the message", post_sync(GOOD + b"\x00"), E400)
row("msgpack", "two messages back to back", post_sync(GOOD + GOOD), E400)
row("msgpack", "100 bytes of garbage after", post_sync(GOOD + b"\xff" * 100),
    E400)
row("msgpack", "ext8 at the top", post_sync(b"\xc7\x01\x05x"), E400)
row("msgpack", "fixext in push",
    post_sync(b"\x83\xa1v\x01\xa4push\x91\xd4\x01\x00\xa4pull\x80"), E400)
row("msgpack", "ext32 as a field value",
    post_sync(b"\x82\xa1v\x01\xa4push\x91\x82\xa5batch\xc4\x10" + b"b" * 16 +
              b"\xa3ops\x91\x84\xa1c\xa4site\xa2id\xa2s1\xa1s\x01\xa1f\x81"
              b"\xa4name\xc9\x00\x00\x00\x01\x07x"), E400)
row("msgpack", "str32 declaring 4 GiB at the top",
    post_sync(b"\xdb\xff\xff\xff\xff" + b"a" * 64), E400)
row("msgpack", "bin32 declaring 2 GiB as the batch id",
    post_sync(b"\x82\xa1v\x01\xa4push\x91\x81\xa5batch\xc6\x7f\xff\xff\xff"
              b"abc"), E400)
row("msgpack", "array32 declaring 4G batches",
    post_sync(b"\x82\xa1v\x01\xa4push\xdd\xff\xff\xff\xff\x80\x80"), E400)
row("msgpack", "map32 declaring 2G fields",
    post_sync(b"\x82\xa1v\x01\xa4push\x91\x82\xa5batch\xc4\x10" + b"b" * 16 +
              b"\xa3ops\x91\x84\xa1c\xa4site\xa2id\xa2s1\xa1s\x01\xa1f"
              b"\xdf\x7f\xff\xff\xff\xa1a\x01"), E400)
row("msgpack", "array32 declaring 2^31 ops",
    post_sync(b"\x82\xa1v\x01\xa4push\x91\x82\xa5batch\xc4\x10" + b"b" * 16 +
              b"\xa3ops\xdd\x80\x00\x00\x00\xc0"), E400)
row("msgpack", "str32 declaring 3 GiB as a key",
    post_sync(b"\x81\xdb\xc0\x00\x00\x00v\x01"), E400)
row("msgpack", "map16 declaring 65535 pairs, holding 2",
    post_sync(b"\xde\xff\xff\xa1v\x01\xa4pull\x80"), E400)
row("msgpack", "array16 declaring 65535 as a cursor",
    post_sync(b"\x82\xa1v\x01\xa4pull\x81\xa7site/s1\xdc\xff\xff\x00"), E400)
row("msgpack", "33 nested arrays",
    post_sync(b"\x91" * 33 + b"\xc0"), E400)
row("msgpack", "33 nested maps inside a field value",
    post_sync(lambda w: mp(body_req(push=[{"batch": os.urandom(16), "ops": [
        {"c": "standard", "id": "st1", "s": s_now(),
         "f": {"checklist": "@"}}]}])).replace(
        b"\xa1@", b"\x81\xa1k" * 33 + b"\xc0")), E400)
row("msgpack", "1000 nested arrays", post_sync(b"\x91" * 1000 + b"\xc0"),
    E400)
row("msgpack", "100000 nested arrays", post_sync(b"\x91" * 100000 + b"\xc0"),
    E400)
row("msgpack", "duplicate key v at the top",
    post_sync(mapdup(("v", 1), ("v", 1), ("pull", {}))), E400)
row("msgpack", "duplicate key push",
    post_sync(mapdup(("v", 1), ("push", []), ("push", []))), E400)
row("msgpack", "duplicate key batch in a batch",
    post_sync(b"\x82\xa1v\x01\xa4push\x91" +
              mapdup(("batch", b"b" * 16), ("batch", b"c" * 16),
                     ("ops", []))), E400)
row("msgpack", "duplicate key c in an op",
    post_sync(b"\x82\xa1v\x01\xa4push\x91\x82\xa5batch\xc4\x10" + b"b" * 16 +
              b"\xa3ops\x91" + mapdup(("c", "site"), ("c", "zone"),
                                      ("id", "s1"), ("s", 1), ("f", {}))),
    E400)
row("msgpack", "duplicate field name in f",
    post_sync(b"\x82\xa1v\x01\xa4push\x91\x82\xa5batch\xc4\x10" + b"b" * 16 +
              b"\xa3ops\x91\x84\xa1c\xa4site\xa2id\xa2s1\xa1s\x01\xa1f" +
              mapdup(("name", "a"), ("name", "b"))), E400)
row("msgpack", "duplicate bucket in pull",
    post_sync(b"\x82\xa1v\x01\xa4pull" +
              mapdup(("site/s1", 0), ("site/s1", 5))), E400)
row("msgpack", "20-key map whose last key repeats the first",
    post_sync(mapdup(*([("v", 1)] + [("x%02d" % i, i) for i in range(18)] +
                       [("v", 1)]))), E400)
row("msgpack", "float32 cut short", post_sync(b"\x81\xa1v\xca\x3f\x80"),
    E400)
row("msgpack", "uint64 cut short", post_sync(b"\x81\xa1v\xcf\x00\x00\x00"),
    E400)

# ---- shape: wrong types at every level of the sync request --------------

BR = ("err", 400, "BAD_REQUEST")
BR_OP = ("rej", "BAD_REQUEST")
UV = ("err", 400, "UNSUPPORTED_VERSION")
for nm, v in (("an array", [1, 2]), ("a string", "sync"), ("an int", 1),
              ("nil", None), ("a bin", b"\x01\x02"), ("true", True)):
    row("shape", "body is %s" % nm, post_sync(mp(v)), BR)
row("shape", "v missing", post_sync(lambda w: body_req(v=None)), BR)
for nm, v in (("2", 2), ("0", 0), ('"1"', "1"), ("-1", -1), ("1.0", 1.0),
              ("[1]", [1]), ("2^64-1", 2**64 - 1)):
    row("shape", "v is %s" % nm, post_sync(lambda w, v=v: body_req(v=v)), UV)
row("shape", "v is nil", post_sync(mp({"v": None, "pull": {}})), UV)
for nm, v in (('"x"', "x"), ("-1", -1), ("1.5", 1.5), ("[]", []),
              ("{}", {})):
    row("shape", "hlc is %s" % nm,
        post_sync(lambda w, v=v: body_req(hlc=v)), BR)
for nm, v in (("a map", {}), ("a string", "x"), ("an int", 1),
              ("true", True)):
    row("shape", "push is %s" % nm,
        post_sync(lambda w, v=v: body_req(push=v)), BR)
for nm, v in (("1", 1), ('"x"', "x"), ("nil", None), ("[]", [])):
    row("shape", "a batch is %s" % nm,
        post_sync(lambda w, v=v: body_req(push=[v])), BR)
for nm, bid in (("missing", None), ("a string", "0123456789abcdef"),
                ("15 bytes", b"x" * 15), ("17 bytes", b"x" * 17),
                ("an int", 7), ("nil", "NIL")):
    def mk(w, bid=bid):
        b = {"ops": []}
        if bid is not None:
            b["batch"] = None if bid == "NIL" else bid
        return body_req(push=[b])
    row("shape", "batch id %s" % nm, post_sync(mk), BR)
for nm, ops in (("missing", "MISSING"), ("a map", {}), ("a string", "x"),
                ("nil", None), ("an int", 3)):
    def mk(w, ops=ops):
        b = {"batch": os.urandom(16)}
        if ops != "MISSING":
            b["ops"] = ops
        return body_req(push=[b])
    row("shape", "ops %s" % nm, post_sync(mk), BR)
for nm, by in (("an int", 5), ("empty", ""), ("not an id", "bad id!"),
               ("129 bytes", "g" * 129), ("an array", ["g1"])):
    row("shape", "by is %s" % nm,
        post_sync(lambda w, by=by: body_req(push=[
            {"batch": os.urandom(16), "ops": [], "by": by}])), BR)
for nm, v in (("an array", []), ("a string", "site/s1"), ("an int", 5)):
    row("shape", "pull is %s" % nm,
        post_sync(lambda w, v=v: body_req(pull=v)), BR)
for nm, v in (('"0"', "0"), ("-1", -1), ("1.5", 1.5), ("nil", None),
              ("[]", [])):
    row("shape", "a cursor is %s" % nm,
        post_sync(lambda w, v=v: body_req(pull={"site/s1": v})), BR)
row("shape", "a pull key is an int",
    post_sync(b"\x82\xa1v\x01\xa4pull\x81\x05\x00"), BR)
row("shape", "a pull key is a bin",
    post_sync(b"\x82\xa1v\x01\xa4pull\x81\xc4\x07site/s1\x00"), BR)
row("shape", "a pull key that is not UTF-8",
    post_sync(b"\x82\xa1v\x01\xa4pull\x81\xa3s\xff/\x00"), BR)
row("shape", "a pull key with a NUL (would come back cut in drop)",
    post_sync(lambda w: body_req(pull={"site/s1\x00x": 0})), BR)
row("shape", "a pull key of 301 bytes",
    post_sync(lambda w: body_req(pull={"site/" + "x" * 296: 0})), BR)
for nm, v in (('"10"', "10"), ("-1", -1), ("1.5", 1.5), ("[]", [])):
    row("shape", "limit is %s" % nm,
        post_sync(lambda w, v=v: body_req(limit=v)), BR)
for nm, v in (("a string", "x"), ("an array", []), ("an int", 5)):
    row("shape", "dev is %s" % nm,
        post_sync(lambda w, v=v: body_req(dev=v)), BR)
for nm, v in (("an int", 5), ("empty", ""), ("129 bytes", "b" * 129),
              ("bad UTF-8", b"\xff\xfe".decode("latin-1")),
              ("with a NUL", "b\x00c")):
    if nm == "bad UTF-8":
        row("shape", "dev.boot is %s" % nm,
            post_sync(b"\x82\xa1v\x01\xa3dev\x81\xa4boot\xa2\xff\xfe"), BR)
    else:
        row("shape", "dev.boot is %s" % nm,
            post_sync(lambda w, v=v: body_req(dev={"boot": v})), BR)
for nm, v in (("-1", -1), ('"1"', "1"), ("later than now", "FUTURE"),
              ("2^64-1", 2**64 - 1)):
    row("shape", "dev.mono is %s" % nm,
        post_sync(lambda w, v=v: body_req(dev={
            "boot": "b1", "mono": now_ms() + 10 * HOUR if v == "FUTURE"
            else v})), BR)
for nm, v in (("-1", -1), ("2^47+1", 2**47 + 1), ("2^64-1", 2**64 - 1),
              ('"x"', "x")):
    row("shape", "dev.wall is %s" % nm,
        post_sync(lambda w, v=v: body_req(dev={"wall": v})), BR)
for nm, v in (("-1", -1), ('"x"', "x"), ("1.5", 1.5)):
    row("shape", "dev.pending is %s" % nm,
        post_sync(lambda w, v=v: body_req(dev={"pending": v})), BR)

# ---- limits and bodies: too large, bad encodings, bombs -------------------

TL = ("err", 413, "TOO_LARGE")
UMT = ("err", 415, "UNSUPPORTED_MEDIA_TYPE")
row("limits", "65 batches", post_sync(lambda w: body_req(push=[
    {"batch": os.urandom(16), "ops": []} for _ in range(65)])), TL)
row("limits", "5001 ops in a batch", post_sync(lambda w: body_req(push=[
    {"batch": os.urandom(16), "ops": [1] * 5001}])), TL)
row("limits", "Content-Length of 5 MB (body never sent)",
    lambda w: exchange(w.srv, ("POST /v1/sync HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\nContent-Type: "
                               "application/msgpack\r\nAuthorization: Bearer "
                               "%s\r\nContent-Length: 5000000\r\n\r\n"
                               % w.tokens["admin"]).encode()), TL)
row("limits", "4 MiB + 1 byte body",
    post_sync(b"\x00" * (4 * 1024 * 1024 + 1)), TL)
BOMB = zlib.compress(b"\xc0" * (33 * 1024 * 1024), 9)
row("limits", "deflate bomb inflating past 32 MiB",
    post_sync(BOMB, headers=[MSGPACK, ("Content-Encoding", "deflate")]), TL)
GZBOMB = gzip.compress(b"\x00" * (33 * 1024 * 1024), 9, mtime=0)
row("limits", "gzip bomb inflating past 32 MiB",
    post_sync(GZBOMB, headers=[MSGPACK, ("Content-Encoding", "gzip")]), TL)
row("limits", "2.2 million values in one body",
    post_sync(b"\xdd" + struct.pack(">I", 2_200_000) + b"\xc0" * 2_200_000),
    TL)
row("limits", "no Content-Type", post_sync(GOOD, headers=[]), UMT)
for ct in ("text/plain", "application/json", "application/msgpackx",
           "application/x-msgpack", "multipart/form-data; boundary=x",
           "application/octet-stream"):
    row("limits", "Content-Type %s" % ct,
        post_sync(GOOD, headers=[("Content-Type", ct)]), UMT)
for ce in ("br", "compress", "gzip, deflate", "x-gzip", "zstd"):
    row("limits", "Content-Encoding %s" % ce,
        post_sync(GOOD, headers=[MSGPACK, ("Content-Encoding", ce)]), UMT)
for nm, enc, data in (
        ("deflate of garbage", "deflate", b"this is not zlib"),
        ("gzip of garbage", "gzip", b"\x1f\x8b\x08\x00garbage!"),
        ("gzip cut short", "gzip", gzip.compress(GOOD, mtime=0)[:-6]),
        ("deflate with data after its end", "deflate",
         zlib.compress(GOOD) + b"more"),
        ("two gzip members", "gzip",
         gzip.compress(GOOD, mtime=0) + gzip.compress(GOOD, mtime=0)),
        ("raw deflate labelled deflate", "deflate", zlib.compress(GOOD)[2:-4]),
        ("gzip labelled deflate", "deflate", gzip.compress(GOOD, mtime=0)),
        ("deflate labelled gzip", "gzip", zlib.compress(GOOD)),
        ("gzip with a bad CRC", "gzip",
         gzip.compress(GOOD, mtime=0)[:-8] + b"\x00" * 8)):
    row("limits", nm, post_sync(data, headers=[MSGPACK,
                                               ("Content-Encoding", enc)]),
        ("err", 400, "BAD_REQUEST"))
# enroll, login and the admin/PIN endpoints: 4 KiB sent and inflated,
# checked before inflating (issue 10 item 8)
SMALL_BOMB = zlib.compress(b"\xdd" + struct.pack(">I", 2_000_000) +
                           (b"\xaf" + b"a" * 15) * 2_000_000, 9)


def post_small(path, payload, token, enc=None):
    def send(w):
        hs = [MSGPACK] + ([("Content-Encoding", enc)] if enc else [])
        if token:
            hs.append(bearer(w.tokens[token]))
        return http(w.srv, "POST", path, payload, hs)
    return send


for path, tok in (("/v1/enroll", None), ("/v1/login", "guard_dev"),
                  ("/v1/admin/enroll-codes", "admin"),
                  ("/v1/admin/staff-pin", "admin"),
                  ("/v1/admin/revoke", "admin")):
    row("limits", "%s: a 62 KB deflate bomb of 2M strings" % path,
        post_small(path, SMALL_BOMB, tok, "deflate"), TL)
    row("limits", "%s: a 5 KB body" % path,
        post_small(path, mp({"code": "x" * 5000}), tok), TL)
row("limits", "gzip of bytes that are not msgpack",
    post_sync(gzip.compress(b"\xc1\xc1", mtime=0),
              headers=[MSGPACK, ("Content-Encoding", "gzip")]), E400)

# ---- ops: every per-op refusal (HTTP 200, rej names the op) ---------------

for nm, o in (("an int", 5), ("a string", "op"), ("an array", []),
              ("nil", None)):
    row("ops", "op is %s" % nm, push_op(o), ("rej", "BAD_REQUEST"))
for nm, c in (("missing", "MISSING"), ("an int", 3), ("nil", None)):
    def mk(w, c=c):
        o = {"id": "s1", "s": s_now(), "f": {"name": "x"}}
        if c != "MISSING":
            o["c"] = c
        return o
    row("ops", "c %s" % nm, push_op(mk), ("rej", "BAD_REQUEST"))
for nm, c in (('"nope"', "nope"), ("empty", ""), ('"SITE"', "SITE"),
              ('"site " (trailing blank)', "site "),
              ("bad UTF-8", "\udcff")):
    if nm == "bad UTF-8":
        row("ops", "c is %s" % nm, post_sync(
            lambda w: mp(body_req(push=[{"batch": os.urandom(16), "ops": [
                {"c": "@@@@", "id": "s1", "s": s_now(), "f": {}}]}]))
            .replace(b"\xa4@@@@", b"\xa2\xff\xfe")),
            ("rej", "UNKNOWN_COLLECTION"))
    else:
        row("ops", "c is %s" % nm, push_op(site_op({"name": "x"}, c=c)),
            ("rej", "UNKNOWN_COLLECTION"))
for nm, i in (("missing", "MISSING"), ("an int", 1), ("empty", ""),
              ("129 bytes", "i" * 129), ("with a blank", "a b"),
              ("with a slash", "a/b"), ("a path", "../../etc"),
              ("with a NUL", "s1\x00x"), ("non-ASCII", "站点"),
              ("bad UTF-8", "BADUTF8")):
    def mk(w, i=i):
        o = {"c": "site", "s": s_now(), "f": {"name": "x"}}
        if i != "MISSING":
            o["id"] = i
        return o
    if i == "BADUTF8":
        row("ops", "id %s" % nm, post_sync(
            lambda w: mp(body_req(push=[{"batch": os.urandom(16), "ops": [
                {"c": "site", "id": "@@@", "s": s_now(),
                 "f": {"name": "x"}}]}])).replace(b"\xa3@@@", b"\xa2\xc0\xaf")),
            ("rej", "BAD_ID"))
    else:
        row("ops", "id %s" % nm, push_op(mk), ("rej", "BAD_ID"))
for nm, s in (("missing", "MISSING"), ('"1"', "1"), ("-1", -1),
              ("1.5", 1.5), ("nil", None), ("INT64_MIN", -2**63)):
    def mk(w, s=s):
        o = {"c": "site", "id": "s1", "f": {"name": "x"}}
        if s != "MISSING":
            o["s"] = s
        return o
    row("ops", "s %s" % nm, push_op(mk), ("rej", "BAD_REQUEST"))
for nm, f in (("missing", "MISSING"), ("an array", []), ("a string", "x"),
              ("nil", None)):
    def mk(w, f=f):
        o = {"c": "site", "id": "s1", "s": s_now()}
        if f != "MISSING":
            o["f"] = f
        return o
    row("ops", "f %s" % nm, push_op(mk), ("rej", "BAD_REQUEST"))
row("ops", "a field name that is an int", post_sync(
    lambda w: mp(body_req(push=[{"batch": os.urandom(16), "ops": [
        {"c": "site", "id": "s1", "s": s_now(), "f": {"@@": "x"}}]}]))
    .replace(b"\xa2@@", b"\x07")), ("rej", "UNKNOWN_FIELD"))
row("ops", "a field name that is a bin", post_sync(
    lambda w: mp(body_req(push=[{"batch": os.urandom(16), "ops": [
        {"c": "site", "id": "s1", "s": s_now(), "f": {"@@@@": "x"}}]}]))
    .replace(b"\xa4@@@@", b"\xc4\x04name")), ("rej", "UNKNOWN_FIELD"))
row("ops", "an unknown field name that is not UTF-8", post_sync(
    lambda w: mp(body_req(push=[{"batch": os.urandom(16), "ops": [
        {"c": "site", "id": "s1", "s": s_now(), "f": {"@@@": "x"}}]}]))
    .replace(b"\xa3@@@", b"\xa3\xff\xc0\x80")), ("rej", "UNKNOWN_FIELD"))
row("ops", "an unknown field name cut at 64 bytes inside a character",
    push_op(site_op({"f" * 63 + "楼层": "x"})), ("rej", "UNKNOWN_FIELD"))
row("ops", "a too-long value under a name that is not UTF-8", post_sync(
    lambda w: mp(body_req(push=[{"batch": os.urandom(16), "ops": [
        {"c": "site", "id": "s1", "s": s_now(),
         "f": {"@@@": "v" * 65537}}]}]))
    .replace(b"\xa3@@@", b"\xa3\xed\xbf\xbf")), ("rej", "TOO_LARGE"))
for nm, fld in (("unknown", "colour"), ("reserved", "_owner"),
                ("another collection's", "shift"), ("upper case", "NAME")):
    row("ops", "%s field name" % nm, push_op(site_op({fld: "x"})),
        ("rej", "UNKNOWN_FIELD"))
for nm, c, i, f in (
        ("site.name is an int", "site", "s1", {"name": 5}),
        ("site.households is -1", "site", "s1", {"households": -1}),
        ("site.households is a string", "site", "s1", {"households": "5"}),
        ("site.households is 1.5", "site", "s1", {"households": 1.5}),
        ("staff.active is a string", "staff", "g1", {"active": "yes"}),
        ("staff.role is not a role", "staff", "g1", {"role": "king"}),
        ("shift.staff holds an int", "shift", "sh1", {"staff": [1]}),
        ("shift.staff is a string", "shift", "sh1", {"staff": "g1"}),
        ("shift.starts is negative", "shift", "sh1", {"starts": -5}),
        ("zone.site is not an id", "zone", "z1", {"site": "bad id!"}),
        ("checkpoint.lat is a string", "checkpoint", "cp1", {"lat": "31N"}),
        ("route.checkpoints nests arrays", "route", "r1",
         {"site": "s1", "checkpoints": [["cp1"]]}),
        ("_deleted is a string", "zone", "z1", {"_deleted": "yes"}),
        ("_deleted is 1", "zone", "z1", {"_deleted": 1}),
        ("a value nested 5 deep", "standard", "st1",
         {"site": "s1", "checklist": [[[[["x"]]]]]}),
        ("a map value with an int key", "standard", "st1",
         {"site": "s1", "checklist": [{1: "x"}]})):
    row("ops", nm, push_op(lambda w, c=c, i=i, f=f: {
        "c": c, "id": i, "s": s_now(), "f": f}), ("rej", "BAD_TYPE"))
row("ops", "a string value that is not UTF-8", post_sync(
    lambda w: mp(body_req(push=[{"batch": os.urandom(16), "ops": [
        {"c": "site", "id": "s1", "s": s_now(), "f": {"name": "@@@"}}]}]))
    .replace(b"\xa3@@@", b"\xa3\xed\xa0\x80")), ("rej", "BAD_TYPE"))
for nm, c, i, f in (
        ("checkin.rcv", "checkin", "k1", {"rcv": 1}),
        ("checkin.trust", "checkin", "k9", {"trust": "verified"}),
        ("order.respond_by", "order", "o1", {"respond_by": 1})):
    row("ops", "server-owned %s" % nm, push_op(
        lambda w, c=c, i=i, f=f: {"c": c, "id": i, "s": s_now(), "f": f}),
        ("rej", "FORBIDDEN"))
row("ops", "65 fields", push_op(site_op({"f%02d" % i: 1 for i in range(65)})),
    ("rej", "TOO_LARGE"))
row("ops", "a 64 KiB + 1 string", push_op(site_op({"name": "n" * 65537})),
    ("rej", "TOO_LARGE"))
row("ops", "a 64 KiB + 1 string inside an array", push_op(
    lambda w: {"c": "standard", "id": "st1", "s": s_now(),
               "f": {"site": "s1", "checklist": ["c" * 65537]}}),
    ("rej", "TOO_LARGE"))
row("ops", "a checkin changed after the fact", push_op(
    lambda w: {"c": "checkin", "id": "k1", "s": s_now(),
               "f": dict(w.checkin_f, at=w.checkin_f["at"] - HOUR)}),
    ("rej", "IMMUTABLE"))
row("ops", "a checkin deleted", push_op(
    lambda w: {"c": "checkin", "id": "k1", "s": s_now(),
               "f": {"_deleted": True}}), ("rej", "IMMUTABLE"))
row("ops", "a guard writes a site", push_op(site_op({"name": "mine"}),
                                            token="guard"),
    ("rej", "FORBIDDEN"))
row("ops", "a supervisor grants the admin role", push_op(
    lambda w: {"c": "staff", "id": "g1", "s": s_now(),
               "f": {"role": "admin"}}, token="sup"), ("rej", "FORBIDDEN"))
row("ops", "a guard checks in as another guard", push_op(
    lambda w: {"c": "checkin", "id": "k-forged", "s": s_now(),
               "f": dict(w.checkin_f, staff="g2")}, token="guard"),
    ("rej", "FORBIDDEN"))
row("ops", "a supervisor writes into another site", push_op(
    lambda w: {"c": "zone", "id": "z-other", "s": s_now(),
               "f": {"site": "s2", "name": "x"}}, token="sup"),
    ("rej", "OUT_OF_SCOPE"))
row("ops", "a batch by a staff member this device never held",
    push_op(lambda w: {"c": "checkin", "id": "k-by", "s": s_now(),
                       "f": dict(w.checkin_f)}, token="guard", by="g2"),
    ("batch_err", "FORBIDDEN"))

# ---- integers: negative and overflowing (cursor, limit, hlc, s, mono, wall)


def hlc_not_advanced(w, b):
    """The server's clock ignored a far-future client hlc."""
    assert (b["hlc"] >> 16) <= now_ms() + SKEW_MS, \
        "server hlc jumped to %d" % b["hlc"]


def bucket_reset(w, b):
    bk = b["buckets"].get("site/s1")
    assert bk and bk["reset"] is True, "cursor 2^64-1: expected reset, " \
        "got %r" % bk


def all_recs(w, b):
    n = sum(len(bk["recs"]) for bk in b["buckets"].values())
    assert n >= 8 and not any(bk["more"] for bk in b["buckets"].values()), \
        "limit 2^64-1 must be served as 10000: %d recs" % n


row("ints", "cursor 2^64-1", post_sync(
    lambda w: body_req(pull={"site/s1": 2**64 - 1})), ("ok", bucket_reset))
row("ints", "cursor INT64_MIN", post_sync(
    lambda w: body_req(pull={"site/s1": -2**63})), BR)
row("ints", "cursor -1 on a bucket not in scope", post_sync(
    lambda w: body_req(pull={"shift/nope": -1})), BR)
row("ints", "limit 2^64-1", post_sync(lambda w: body_req(limit=2**64 - 1)),
    ("ok", all_recs))
row("ints", "limit INT64_MIN", post_sync(lambda w: body_req(limit=-2**63)),
    BR)
row("ints", "hlc 2^64-1 is ignored", post_sync(
    lambda w: body_req(hlc=2**64 - 1)), ("ok", hlc_not_advanced))
row("ints", "hlc INT64_MIN", post_sync(lambda w: body_req(hlc=-2**63)), BR)
row("ints", "s 2^64-1", push_op(site_op({"name": "x"}, s=2**64 - 1)),
    ("rej", "CLOCK_AHEAD"))
row("ints", "s 2^63", push_op(site_op({"name": "x"}, s=2**63)),
    ("rej", "CLOCK_AHEAD"))
row("ints", "dev.mono INT64_MIN", post_sync(
    lambda w: body_req(dev={"boot": "b1", "mono": -2**63})), BR)
row("ints", "dev.wall INT64_MIN", post_sync(
    lambda w: body_req(dev={"wall": -2**63})), BR)
row("ints", "dev.pending 2^64 - 1 and mono 0", post_sync(
    lambda w: body_req(dev={"boot": "b9", "mono": 0, "pending": 2**64 - 1})),
    ("ok", lambda w, b: None))
row("ints", "site.households 2^64-1 with a losing stamp", push_op(
    site_op({"households": 2**64 - 1}, s=1)), ("ok", None))

# ---- stamps: future (CLOCK_AHEAD) and ancient ------------------------------

row("stamps", "stamp max_skew + 1 min ahead", push_op(
    lambda w: {"c": "site", "id": "s1",
               "s": hlc_of(now_ms() + SKEW_MS + 60_000), "f": {"name": "x"}}),
    ("rej", "CLOCK_AHEAD"))
row("stamps", "stamp a day ahead, on a new record", push_op(
    lambda w: {"c": "zone", "id": "z-future", "s": hlc_of(now_ms() + 24 * HOUR),
               "f": {"site": "s1", "name": "x"}}), ("rej", "CLOCK_AHEAD"))
row("stamps", "a guard's checkin stamped an hour ahead", push_op(
    lambda w: {"c": "checkin", "id": "k-ahead",
               "s": hlc_of(now_ms() + HOUR), "f": dict(w.checkin_f)},
    token="guard"), ("rej", "CLOCK_AHEAD"))
row("stamps", "stamp 0 on an existing record (loses)", push_op(
    site_op({"name": "ancient"}, s=0)), ("ok", None))
row("stamps", "stamp 1 ms after the epoch (loses)", push_op(
    site_op({"name": "ancient"}, s=hlc_of(1))), ("ok", None))
row("stamps", "stamp from 2001 renaming a zone (loses)", push_op(
    lambda w: {"c": "zone", "id": "z1", "s": hlc_of(978307200000),
               "f": {"name": "old name", "kind": "garage"}}), ("ok", None))
row("stamps", "the same checkin replayed with an old stamp", push_op(
    lambda w: {"c": "checkin", "id": "k1", "s": 1, "f": dict(w.checkin_f)},
    token="guard"), ("ok", None))
row("stamps", "request hlc an hour ahead is ignored", post_sync(
    lambda w: body_req(hlc=hlc_of(now_ms() + HOUR))),
    ("ok", hlc_not_advanced))
row("stamps", "request hlc 0", post_sync(lambda w: body_req(hlc=0)),
    ("ok", None))

# ---- headers: floods, oversized, malformed ----------------------------------


def raw_req(text, body=b""):
    return lambda w: exchange(w.srv, text(w).encode("latin-1")
                              if callable(text) else text.encode("latin-1"),
                              body)


def sync_head(w, extra, auth=True, ctype=True):
    h = "POST /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra
    if auth:
        h += "Authorization: Bearer %s\r\n" % w.tokens["admin"]
    if ctype:
        h += "Content-Type: application/msgpack\r\n"
    return h + "Content-Length: %d\r\n\r\n" % len(GOOD)


# CivetWeb keeps 64 header lines and drops the rest: a full table is
# refused (a Content-Length or a proxy's X-Forwarded-For may be among the
# dropped lines; issue 10 item 5)
row("headers", "100 headers before Authorization (past 64 are dropped)",
    raw_req(lambda w: "POST /v1/sync HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\n" +
            "".join("X-Flood-%d: %d\r\n" % (i, i) for i in range(100)) +
            "Authorization: Bearer %s\r\nContent-Type: application/msgpack"
            "\r\nContent-Length: %d\r\n\r\n" % (w.tokens["admin"], len(GOOD)),
            GOOD), ("err", 400, "BAD_REQUEST"))
row("headers", "80 headers between Authorization and Content-Type",
    raw_req(lambda w: "POST /v1/sync HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\nAuthorization: Bearer %s\r\n"
            "Content-Length: %d\r\n" % (w.tokens["admin"], len(GOOD)) +
            "".join("X-Flood-%d: %d\r\n" % (i, i) for i in range(80)) +
            "Content-Type: application/msgpack\r\n\r\n", GOOD),
    ("err", 400, "BAD_REQUEST"))
row("headers", "a forged X-Forwarded-For then 62 fillers (the proxy's "
    "line dropped)",
    raw_req(lambda w: "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: "
            "close\r\nX-Forwarded-For: 198.51.100.7\r\n" +
            "".join("X-Filler-%d: x\r\n" % i for i in range(62)) +
            "X-Forwarded-For: 127.0.0.1\r\n\r\n"),
    ("err", 400, "BAD_REQUEST"))
row("headers", "Content-Length as the 65th header line",
    raw_req(lambda w: "POST /v1/enroll HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\nContent-Type: application/msgpack\r\n" +
            "".join("X-Filler-%d: x\r\n" % i for i in range(61)) +
            "Content-Length: 2\r\n\r\n", b"\x80\x80"),
    ("err", 400, "BAD_REQUEST"))
row("headers", "one 40 KiB header",
    raw_req(lambda w: sync_head(w, "X-Big: %s\r\n" % ("a" * 40960)), GOOD),
    ("status", (400, 413, 431)))
row("headers", "5000 small headers (over 32 KiB)",
    raw_req(lambda w: sync_head(w, "".join("X-%d: v\r\n" % i
                                           for i in range(5000))), GOOD),
    ("status", (400, 413, 431)))
row("headers", "a 16 KiB bearer token",
    post_sync(GOOD, token=None, headers=[MSGPACK, ("Authorization",
                                                   "Bearer " + "f" * 16384)]),
    ("err", 401, "UNAUTHORIZED"))
row("headers", "a header line without a colon",
    raw_req(lambda w: sync_head(w, "NoColonHere\r\n"), GOOD),
    ("status", 400))
row("headers", "a header name with a blank",
    raw_req(lambda w: sync_head(w, "Bad Name: x\r\n"), GOOD),
    ("status", 400))
row("headers", "a header line ending in CR alone",
    raw_req(lambda w: sync_head(w, "X-A: 1\rX-B: 2\r\n"), GOOD),
    ("status", 400))
row("headers", "Content-Length -1",
    raw_req(lambda w: "POST /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close"
            "\r\nAuthorization: Bearer %s\r\nContent-Type: application/msgpack"
            "\r\nContent-Length: -1\r\n\r\n" % w.tokens["admin"]),
    ("status", (400, 411)))
row("headers", "Content-Length not a number",
    raw_req(lambda w: "POST /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close"
            "\r\nAuthorization: Bearer %s\r\nContent-Type: application/msgpack"
            "\r\nContent-Length: lots\r\n\r\n" % w.tokens["admin"]),
    ("status", (400, 411)))
row("headers", "two Content-Length headers",
    raw_req(lambda w: "POST /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close"
            "\r\nAuthorization: Bearer %s\r\nContent-Type: application/msgpack"
            "\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
            % w.tokens["admin"], b"\x80\x80"), ("status", 400))
row("headers", "a chunk size that is not hex",
    raw_req(lambda w: "POST /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close"
            "\r\nAuthorization: Bearer %s\r\nContent-Type: application/msgpack"
            "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"
            % w.tokens["admin"]), ("status", 400))
row("headers", "a request line of garbage", raw_req("GARBAGE\r\n\r\n"),
    ("status", 400))
row("headers", "a 40 KiB URL", raw_req("GET /" + "u" * 40960 +
                                       " HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("status", (400, 413, 414, 431)))

# ---- methods -----------------------------------------------------------------

MNA = ("err", 405, "METHOD_NOT_ALLOWED")
for m, path in (("GET", "/v1/sync"), ("PUT", "/v1/sync"),
                ("DELETE", "/v1/sync"), ("PATCH", "/v1/sync"),
                ("OPTIONS", "/v1/sync"), ("POST", "/healthz"),
                ("GET", "/v1/login"), ("GET", "/v1/enroll"),
                ("PUT", "/v1/admin/revoke"), ("DELETE", "/v1/blobs/" + HEX_A),
                ("POST", "/v1/blobs/" + HEX_A)):
    row("methods", "%s %s" % (m, path),
        lambda w, m=m, path=path: http(w.srv, m, path, b"",
                                       [MSGPACK, bearer(w.tokens["admin"])]),
        MNA)
row("methods", "HEAD /v1/sync", lambda w: exchange(
    w.srv, b"HEAD /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    no_body=True),
    ("status", 405))
for m in ("FOO", "TRACE", "post", "G\x01T"):
    row("methods", "method %r" % m, raw_req(
        "%s /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Length: 0\r\n\r\n" % m), ("status", (400, 405, 501)))

# ---- paths: unknown, traversal, bad blob names --------------------------------

NF = ("err", 404, "NOT_FOUND")
BN = ("err", 400, "BAD_REQUEST")
# ("/" is the web app's shell: tests/integration/test_web_serve.py)
for path in ("/v1/nope", "/v1/sync/extra", "/V1/SYNC", "/v2/sync", "/nothing/here",
             "/v1/blobs/../../etc/passwd", "/v1/blobs/..%2f..%2fetc%2fpasswd",
             "/v1/blobs/%2e%2e/%2e%2e/etc/shadow", "/v1/blobs/%00",
             "/v1/reports/devices/bad!site",
             "/../../../../etc/passwd"):
    row("paths", "GET %s" % path,
        lambda w, path=path: http(w.srv, "GET", path, None,
                                  [bearer(w.tokens["admin"])]), NF)
row("paths", "POST /v1/blobs/../sync normalises to /v1/sync (no token)",
    lambda w: http(w.srv, "POST", "/v1/blobs/../sync", GOOD, [MSGPACK]),
    ("err", 401, "UNAUTHORIZED"))
for nm, name in (("upper-case hex", "A" * 64), ("63 digits", "a" * 63),
                 ("65 digits", "a" * 65), ("a non-hex letter", "g" * 64),
                 ("a dot-dot", ".." + "a" * 62),
                 ("a percent-encoded slash", "a" * 30 + "%2f" + "a" * 31)):
    row("paths", "GET a blob named with %s" % nm,
        lambda w, name=name: http(w.srv, "GET", "/v1/blobs/" + name, None,
                                  [bearer(w.tokens["guard"])]),
        ("status", (400, 404)) if "%" in name or ".." in name else BN)
row("paths", "PUT a blob with a bad name",
    lambda w: http(w.srv, "PUT", "/v1/blobs/" + "Z" * 64, b"photo",
                   [bearer(w.tokens["guard"])]), BN)
row("paths", "PUT a blob whose bytes do not hash to its name",
    lambda w: http(w.srv, "PUT", "/v1/blobs/" + HEX_A, b"photo",
                   [bearer(w.tokens["guard"])]), BN)
row("paths", "GET a blob no one uploaded",
    lambda w: http(w.srv, "GET", "/v1/blobs/" + HEX_A, None,
                   [bearer(w.tokens["guard"])]), NF)

# ---- tokens: missing, garbage, wrong kind ---------------------------------------

UA = ("err", 401, "UNAUTHORIZED")
for nm, auth in (("no Authorization", None), ("Bearer and nothing", "Bearer"),
                 ("Bearer and a blank", "Bearer "),
                 ("Basic credentials", "Basic dXNlcjpwYXNz"),
                 ("garbage", "Bearer !!not-a-token!!"),
                 ("64 random hex digits", "Bearer " + "0123456789abcdef" * 4),
                 ("65 hex digits", "Bearer " + "a" * 65),
                 ("a token with latin-1 bytes", "Bearer \xff\xfe\xfd"),
                 ("a JWT", "Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoiYWRtaW4ifQ.")):
    row("tokens", "sync with %s" % nm, post_sync(
        GOOD, token=None,
        headers=[MSGPACK] + ([("Authorization", auth)] if auth else [])), UA)
row("tokens", "a device token on /v1/sync",
    post_sync(GOOD, token="guard_dev"), UA)
row("tokens", "a session token on /v1/login",
    lambda w: http(w.srv, "POST", "/v1/login",
                   mp({"staff": "g1", "pin": "1234"}),
                   [MSGPACK, bearer(w.tokens["guard"])]), UA)
row("tokens", "the admin token on /v1/login",
    lambda w: http(w.srv, "POST", "/v1/login",
                   mp({"staff": "g1", "pin": "1234"}),
                   [MSGPACK, bearer(w.tokens["admin"])]), UA)
row("tokens", "a guard's session on /v1/admin/enroll-codes",
    lambda w: http(w.srv, "POST", "/v1/admin/enroll-codes", mp({"site": "s1"}),
                   [MSGPACK, bearer(w.tokens["guard"])]),
    ("err", 403, "FORBIDDEN"))
row("tokens", "the admin token with its last digit changed",
    lambda w: http(w.srv, "POST", "/v1/sync", GOOD,
                   [MSGPACK, bearer(w.tokens["admin"][:-1] +
                                    ("0" if w.tokens["admin"][-1] != "0"
                                     else "1"))]), UA)
row("tokens", "the admin token in upper case",
    lambda w: http(w.srv, "POST", "/v1/sync", GOOD,
                   [MSGPACK, bearer(w.tokens["admin"].upper())]), UA)
row("tokens", "a wrong PIN", lambda w: http(
    w.srv, "POST", "/v1/login", mp({"staff": "g1", "pin": "0000"}),
    [MSGPACK, bearer(w.tokens["guard_dev"])]), UA)
row("tokens", "login as a staff member that does not exist", lambda w: http(
    w.srv, "POST", "/v1/login", mp({"staff": "ghost", "pin": "1234"}),
    [MSGPACK, bearer(w.tokens["guard_dev"])]), UA)

# ---- revoked and expired tokens (their own server: short sessions) ------------

REVOKED = []   # rows run after the revocation, on the tokens server


def revoked_row(name, send, expect):
    REVOKED.append(("revoked", name, send, expect))


for k in range(3):
    revoked_row("revoked session on /v1/sync, replay %d" % (k + 1),
                post_sync(GOOD, token="rev_session"), UA)
revoked_row("revoked device token on /v1/login",
            lambda w: http(w.srv, "POST", "/v1/login",
                           mp({"staff": "g2", "pin": "1234"}),
                           [MSGPACK, bearer(w.tokens["rev_device"])]), UA)
revoked_row("revoked session on a blob GET",
            lambda w: http(w.srv, "GET", "/v1/blobs/" + HEX_A, None,
                           [bearer(w.tokens["rev_session"])]), UA)
revoked_row("revoked session on /v1/live",
            lambda w: exchange(w.srv, (
                "GET /v1/live HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
                % w.tokens["rev_session"]).encode()), ("status", 401))
revoked_row("revoked session pushing a checkin",
            push_op(lambda w: {"c": "checkin", "id": "k-revoked",
                               "s": s_now(), "f": dict(w.checkin_f,
                                                       staff="g2")},
                    token="rev_session"), UA)
revoked_row("expired session on /v1/sync",
            post_sync(GOOD, token="expired"), UA)
revoked_row("expired session replayed",
            post_sync(GOOD, token="expired"), UA)
CASES.extend(REVOKED)

# ---- admin endpoints: bad bodies ----------------------------------------------

for nm, path, body, tok, exp in (
        ("enroll {}", "/v1/enroll", {}, None, BR),
        ("enroll code an int", "/v1/enroll", {"code": 5}, None, BR),
        ("enroll code of 65 chars", "/v1/enroll", {"code": "C" * 65}, None,
         BR),
        ("enroll name of 129 bytes", "/v1/enroll",
         {"code": "ABCD", "name": "n" * 129}, None, BR),
        ("enroll body an array", "/v1/enroll", ["code"], None, BR),
        ("login {}", "/v1/login", {}, "guard_dev", BR),
        ("login pin of 65 bytes", "/v1/login",
         {"staff": "g1", "pin": "1" * 65}, "guard_dev", BR),
        ("login staff not an id", "/v1/login",
         {"staff": "g 1", "pin": "1234"}, "guard_dev", BR),
        ("login pin an int", "/v1/login", {"staff": "g1", "pin": 1234},
         "guard_dev", BR),
        ("enroll-codes for an unknown site", "/v1/admin/enroll-codes",
         {"site": "nowhere"}, "admin", NF),
        ("enroll-codes role admin", "/v1/admin/enroll-codes",
         {"site": "s1", "role": "admin"}, "admin", BR),
        ("enroll-codes uses 0", "/v1/admin/enroll-codes",
         {"site": "s1", "uses": 0}, "admin", BR),
        ("enroll-codes uses -1", "/v1/admin/enroll-codes",
         {"site": "s1", "uses": -1}, "admin", BR),
        ("enroll-codes ttl_s 0", "/v1/admin/enroll-codes",
         {"site": "s1", "ttl_s": 0}, "admin", BR),
        ("enroll-codes ttl_s two years", "/v1/admin/enroll-codes",
         {"site": "s1", "ttl_s": 2 * 366 * 86400}, "admin", BR),
        ("staff-pin of 3 digits", "/v1/admin/staff-pin",
         {"staff": "g1", "pin": "123"}, "admin", BR),
        ("staff-pin for no one", "/v1/admin/staff-pin",
         {"staff": "ghost", "pin": "1234"}, "admin", NF),
        ("staff-pin by a guard", "/v1/admin/staff-pin",
         {"staff": "g1", "pin": "1234"}, "guard", ("err", 403, "FORBIDDEN")),
        ("revoke an unknown device", "/v1/admin/revoke",
         {"device": "d-ghost"}, "admin", NF),
        ("revoke device an int", "/v1/admin/revoke", {"device": 5}, "admin",
         BR),
        ("revoke by a guard", "/v1/admin/revoke", {"device": "d-ghost"},
         "guard", ("err", 403, "FORBIDDEN"))):
    row("admin", nm, lambda w, path=path, body=body, tok=tok: http(
        w.srv, "POST", path, mp(body),
        [MSGPACK] + ([bearer(w.tokens[tok])] if tok else [])), exp)
row("admin", "enroll with a text/plain body",
    lambda w: http(w.srv, "POST", "/v1/enroll", b"code=ABCD",
                   [("Content-Type", "text/plain")]), UMT)
row("admin", "enroll-codes with garbage msgpack",
    lambda w: http(w.srv, "POST", "/v1/admin/enroll-codes", b"\xc1\xc1",
                   [MSGPACK, bearer(w.tokens["admin"])]), E400)


# ---- issue 10's attack pass: records that lie, `by` as a promotion, a lead's
# ---- handover, shift length, PIN rules, photo quotas (their own server:
# ---- AttackWorld's flags) ---------------------------------------------------

class AttackWorld(World):
    """World with PIN rules on and a 1 MiB photo day per device."""
    PIN = "739184"
    ARGS = ("--pin-min-length", "6", "--pin-refuse-common",
            "--blob-device-day-mb", "1")

    def __init__(self, ctx):
        World.__init__(self, ctx, args=self.ARGS)


def by_g2_order(stamp_ms, pin_again=False):
    """send(w): g2 logs in on g1's guard handheld (its PIN changed after
    when pin_again), then g1's session pushes a new order by g2 stamped
    stamp_ms(w)."""
    def send(w):
        set_pin(w.srv, "g2", "582047")
        login(w.srv, w.g1.device_token, "g2", "582047")
        if pin_again:
            set_pin(w.srv, "g2", "582048")
        o = {"c": "order", "id": "o-by", "s": hlc_of(stamp_ms(w)),
             "f": {"site": "s1", "category": "repair", "title": "x",
                   "reporter": "g2", "status": "reported"}}
        return post_sync(body_req(push=[{"batch": os.urandom(16),
                                         "ops": [o], "by": "g2"}]),
                         token="guard")(w)
    return send


row("attack", "a checkin naming another site than its shift's", push_op(
    lambda w: {"c": "checkin", "id": "k-lie", "s": s_now(),
               "f": dict(w.checkin_f, site="s2")}, token="guard"), BR_OP)
row("attack", "a task of site s1's shift naming site s2", push_op(
    lambda w: {"c": "task", "id": "t-lie", "s": s_now(),
               "f": {"site": "s2", "shift": "sh1", "title": "x"}},
    token="sup"), BR_OP)
row("attack", "the admin writes a checkin naming another site", push_op(
    lambda w: {"c": "checkin", "id": "k-lie2", "s": s_now(),
               "f": dict(w.checkin_f, site="s2")}), BR_OP)
row("attack", "a shift of 30 years", push_op(
    lambda w: {"c": "shift", "id": "sh-long", "s": s_now(),
               "f": {"site": "s1", "role": "guard", "starts": now_ms(),
                     "ends": now_ms() + 30 * 365 * 24 * HOUR}},
    token="sup"), BR_OP)
row("attack", "a running shift stretched to 40 years", push_op(
    lambda w: {"c": "shift", "id": "sh1", "s": s_now(),
               "f": {"ends": now_ms() + 40 * 365 * 24 * HOUR}},
    token="sup"), BR_OP)
row("attack", "a lead hands over to its own shift", push_op(
    lambda w: {"c": "handover", "id": "h-self", "s": s_now(),
               "f": {"site": "s1", "from_shift": "sh1", "to_shift": "sh1",
                     "at": now_ms()}}, token="guard"),
    ("rej", "FORBIDDEN"))
row("attack", "a by batch stamped before its staff member held the device",
    by_g2_order(lambda w: now_ms() - HOUR), ("rej", "FORBIDDEN"))
row("attack", "a by batch stamped after the staff member's PIN changed",
    by_g2_order(lambda w: now_ms(), pin_again=True), ("rej", "FORBIDDEN"))
for nm, pin in (("staff-pin shorter than --pin-min-length", "73918"),
                ("staff-pin 123456, a common PIN", "123456"),
                ("staff-pin 000000, a common PIN", "000000")):
    row("attack", nm, lambda w, pin=pin: http(
        w.srv, "POST", "/v1/admin/staff-pin", mp({"staff": "g1", "pin": pin}),
        [MSGPACK, bearer(w.tokens["admin"])]), BR)


def blob_over_day(w):
    """Two 600 KiB photos from one device: the second is over its day."""
    for _ in range(2):
        data = os.urandom(600 * 1024)
        r = http(w.srv, "PUT", "/v1/blobs/" + hashlib.sha256(data).hexdigest(),
                 data, [("Content-Type", "application/octet-stream"),
                        bearer(w.tokens["guard"])])
    return r


row("attack", "photos over the device's day", blob_over_day,
    ("err", 429, "RATE_LIMITED"))


# --------------------------------------------------------------- running ----

def verify(w, name, r, expect):
    what = "%s: " % name
    kind = expect[0]
    if kind == "status":
        want = expect[1] if isinstance(expect[1], tuple) else (expect[1],)
        assert r.status in want, what + "expected HTTP %s, got %r" % (want, r)
        return
    if kind == "err":
        _, status, code = expect
        assert r.status == status, what + "expected HTTP %d %s, got %r" % (
            status, code, r)
        b = r.body
        assert isinstance(b, dict) and b.get("error") == code and \
            isinstance(b.get("msg"), str) and b["msg"], \
            what + "expected {error: %s, msg}, got %r" % (code, r)
        return
    assert r.status == 200 and isinstance(r.body, dict), \
        what + "expected HTTP 200 with a sync response, got %r" % r
    b = r.body
    if kind == "rej":
        acks = b.get("acks")
        assert isinstance(acks, list) and len(acks) == 1, \
            what + "expected one ack, got %r" % b
        ack = acks[0]
        rej = ack.get("rej") or []
        assert ack.get("applied") == 0 and len(rej) == 1 and \
            rej[0].get("i") == 0 and rej[0].get("code") == expect[1] and \
            isinstance(rej[0].get("msg"), str), \
            what + "expected op 0 refused %s, got ack %r" % (expect[1], ack)
        return
    if kind == "batch_err":
        ack = (b.get("acks") or [{}])[0]
        assert ack.get("err") == expect[1] and ack.get("applied") == 0, \
            what + "expected the batch refused %s, got %r" % (expect[1], ack)
        return
    if kind == "ok":
        for ack in b.get("acks") or []:
            assert not ack.get("rej") and not ack.get("err"), \
                what + "expected nothing refused, got %r" % ack
        if expect[1]:
            expect[1](w, b)
        return
    raise AssertionError("unknown expectation %r" % (expect,))


def run_category(w, cat, rows=None):
    rows = rows if rows is not None else [c for c in CASES if c[0] == cat]
    assert rows, "no cases in category %s" % cat
    before = w.snapshot()
    for _, name, send, expect in rows:
        r = send(w)
        verify(w, "[%s] %s" % (cat, name), r, expect)
        h = req(w.srv, "GET", "/healthz", timeout=5)
        assert h.status == 200, "[%s] %s: server not healthy after it: %r" % (
            cat, name, h)
        after = w.snapshot()
        assert after == before, "[%s] %s: the admin pull changed" % (cat,
                                                                      name)
    return len(rows)


def test_catalogue_has_150_distinct_cases():
    names = [(c[0], c[1]) for c in CASES]
    dups = sorted({n for n in names if names.count(n) > 1})
    assert not dups, "case names repeat: %r" % dups
    assert len(names) >= 150, "only %d cases in the catalogue" % len(names)
    cats = {c[0] for c in CASES}
    for cat in ("msgpack", "shape", "limits", "ops", "ints", "stamps",
                "headers", "methods", "paths", "tokens", "revoked", "admin",
                "attack"):
        assert cat in cats, "no case in category %s" % cat


# ---- attacks that need a scene of their own --------------------------------
# Not one request but a load, a failing disk or a proxy: each has its own
# test file; this index keeps them in the catalogue (issue 10).
ATTACKS = [
    ("a /v1/live reader that never reads, 10 devices pushing",
     "test_live_stall", "test_live_client_that_never_reads_cannot_stall_pushes"),
    ("a guard's two stalled /v1/live sockets vs another site's syncs",
     "test_live_stall", "test_guard_live_stall_does_not_freeze_another_site"),
    ("a /v1/live socket outliving its session",
     "test_live_stall", "test_live_closes_when_session_expires"),
    ("a /v1/live socket of a deactivated staff member",
     "test_live_stall", "test_live_closes_when_staff_deactivated"),
    ("PIN guessing while failed logins cannot be recorded",
     "test_http_hostile", "test_login_lockout_fails_closed_when_it_cannot_record"),
    ("slowloris: 140 slow heads from one host",
     "test_slowloris", "test_slowloris_cannot_starve_healthz"),
    ("a forged X-Forwarded-For past CivetWeb's header table",
     "test_http_hostile", "test_forwarded_for_past_the_header_table_is_refused"),
    ("/metrics through a local TLS proxy",
     "test_http_hostile", "test_metrics_by_client_address_or_admin_token"),
    ("deflate bombs to the small endpoints",
     "test_http_hostile", "test_small_endpoints_refuse_big_bodies_before_inflating"),
    ("a second server on the same store",
     "test_one_server", "test_second_server_on_same_store_refused"),
]


def test_catalogue_attack_index_points_at_tests():
    import importlib
    for what, mod, fn in ATTACKS:
        m = importlib.import_module(mod)
        assert callable(getattr(m, fn, None)), \
            "catalogue entry %r: %s.%s is missing" % (what, mod, fn)


def test_bad_msgpack(ctx):
    run_category(World(ctx), "msgpack")


def test_wrong_types_at_every_level(ctx):
    run_category(World(ctx), "shape")


def test_limits_encodings_and_bombs(ctx):
    run_category(World(ctx), "limits")


def test_per_op_refusals(ctx):
    run_category(World(ctx), "ops")


def test_negative_and_overflowing_integers(ctx):
    run_category(World(ctx), "ints")


def test_future_and_ancient_stamps(ctx):
    run_category(World(ctx), "stamps")


def test_header_floods_and_malformed_heads(ctx):
    run_category(World(ctx), "headers")


def test_bad_methods(ctx):
    run_category(World(ctx), "methods")


def test_paths_traversal_and_blob_names(ctx):
    run_category(World(ctx), "paths")


def test_bad_tokens(ctx):
    run_category(World(ctx), "tokens")


def test_revoked_and_expired_tokens(ctx):
    # sessions live 1.5 s here: the expired one is made first, then used
    # after it ran out; the revoked device's tokens are replayed
    w = World(ctx, args=("--session-ttl-ms", "1500"))
    exp = device_for(w.srv, "s1", "g2", "guard", name="expiring")
    t_login = time.monotonic()
    rev = device_for(w.srv, "s1", "g2", "guard", name="revoked")
    check(req(w.srv, "POST", "/v1/admin/revoke", body={"device": rev.device},
              token=w.srv.admin_token), 200)
    w.tokens.update(rev_session=rev.token, rev_device=rev.device_token,
                    expired=exp.token)
    time.sleep(max(0.0, 1.7 - (time.monotonic() - t_login)))
    run_category(w, "revoked")


def test_bad_admin_bodies(ctx):
    run_category(World(ctx), "admin")


def test_attack_pass_holes_stay_closed(ctx):
    run_category(AttackWorld(ctx), "attack")
