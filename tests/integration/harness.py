"""Integration-test harness: a real fieldsyncd on loopback, and helpers that
speak its wire protocol (protocol/PROTOCOL.md).

Standard library plus msgpack only.  Test files do `from harness import *`
(tests/integration/run.py puts this folder on sys.path).

Servers
    srv = Server(binary, shim=None, args=(), env=None, data=None,
                 preload=None, init_args=(), tls=None)
    srv.start()  init (unless DATA already holds a store) + serve on a free
                 loopback port, plain HTTP, --pbkdf2-iter 1000; waits for
                 GET /healthz == 200 (10 s).
    tls=(cert_pem, key_pem) serves HTTPS with those files instead of
                 --insecure-http (srv.url is then https://...; req() does not
                 verify the certificate).
    tls=True     the same with a fresh self-signed certificate (CN and
                 subjectAltName 127.0.0.1, made with `openssl req` into
                 DATA/tls-cert.pem and DATA/tls-key.pem at the first start);
                 srv.tls is then (cert, key).
    srv.url srv.port srv.data srv.admin_token srv.pid srv.returncode
    srv.stop() srv.kill9() srv.restart() srv.alive() srv.log()
    with Server(...) as srv: ...
  The store: LMDB in DATA, unless the environment has FS_TEST_STORE=pg:
  then one throwaway PostgreSQL cluster per test process
  (tests/pgcluster.py, started at the first Server, stopped at exit) and a
  fresh database per Server (its URL kept in DATA/store.url, so another
  Server on the same DATA opens the same store); init and serve get
  `--store URL --data DATA` (DATA still holds admin.token and the blobs).
    STORE                  "lmdb" or "pg" (FS_TEST_STORE)
    srv.store_url          the database's URL (None on LMDB)
    srv.store_args()       the options that name this server's store, for
                           the other commands (backup, check, demo, ...)
    lmdb_only(why)         raises Skip under pg: for a test about LMDB
                           itself (its file, map, fsyncs); say why
                           (SHIM_FSYNC, SHIM_FAILING_DISK: the shim's)
    fresh_store_url()      pg: a new empty database's URL; LMDB: None
    store_opts(data, url)  ["--store", url, "--data", data] (url None:
                           ["--data", data]), for a store a test makes
    store_dump(srv)        the store's bytes on disk (data.mdb, pg_dump)
    with store_failing(srv): the store cannot commit (LMDB: failing
                           fsyncs; pg: PostgreSQL stopped)
    pg_cluster()           the process's cluster (pg only)
    Server(..., store_url=URL)  serve that existing database instead of a
                           fresh one (pg only; several nodes on one store)
  With a shim preloaded, FS_SHIM_COUNT=DATA/shim.count and
  FS_SHIM_FAIL=DATA/shim.fail are set (unless env sets them) and
    srv.syncs()            -> list of SyncCall (fn, fd, ok, t0, t1) so far
    srv.fail_syncs(True)   -> every fdatasync/fsync/msync fails with EIO
    srv.fail_syncs(False)  -> syncs work again

HTTP
    req(server_or_url, method, path, body=None, token=None, headers=None,
        raw=None, timeout=10) -> Resp(.status .headers .raw .body .wire)
    sync(server, token, push=None, pull=None, limit=None, dev=None,
         hlc=None, **extra) -> Resp

Raw HTTP (one connection per request, exactly the headers given)
    raw_http(server, method, path, body=None, headers=None, token=None,
             timeout=15.0) -> RawResp(.status .headers .raw .body .err)
        sends only Host, Connection: close and Content-Length besides the
        headers given (so no Accept-Encoding unless asked); the body goes out
        from a thread, so an answer the server gives before reading it all
        (an early 413) is still read.  status None (and .err) when no
        response could be read.  Plain HTTP only (HarnessError for a
        server started with tls=).

WebSocket (RFC 6455, client side)
    ws = WebSocket(server, path, token, timeout=5.0)
    ws.status ws.headers ws.head ws.accept_ok() ws.send(opcode, payload)
    ws.recv_message(deadline) -> (opcode, payload)   ws.close()

Metrics
    metrics(server) -> {(name, "{labels}" or ""): value} from GET /metrics
                       (asserts 200, text/plain, every line Prometheus text)
    metric_total(ms, name, label_sub="") -> sum over the label sets of
                       `name` that contain label_sub

Skipping
    raise Skip("why")      the test is counted as skipped, with the reason

Records
    now_ms() now_hlc() hlc_of(ms, counter=0) batch_id()
    op(c, id, fields, s=None) batch(ops, by=None, bid=None)

Setting up a site
    admin_push(server, ops) setup_site(server, site="s1", staff=(), shifts=())
    set_pin enroll_code enroll login device_for
"""

import atexit
import base64
import contextlib
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

import msgpack

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import pgcluster  # noqa: E402  (tests/pgcluster.py)

__all__ = [
    "STORE", "lmdb_only", "pg_cluster", "SHIM_FSYNC", "SHIM_FAILING_DISK",
    "fresh_store_url", "store_dump", "store_opts", "store_failing",
    "Server", "Resp", "SyncCall", "HarnessError", "Skip",
    "req", "sync", "check",
    "now_ms", "now_hlc", "hlc_of", "batch_id", "op", "batch",
    "admin_push", "setup_site", "set_pin", "enroll_code", "enroll",
    "login", "device_for", "Device", "Ids",
    "pack", "unpack",
    "RawResp", "raw_http", "WebSocket", "metrics", "metric_total",
    "demo_night",
]

HEALTH_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
PBKDF2_ITER = 1000


class HarnessError(Exception):
    """The harness could not do what was asked (server would not start...)."""


class Skip(Exception):
    """Raised by a test that cannot check what it is for here (say why):
    tests/integration/run.py prints `SKIP name: reason` and counts it as
    skipped, neither passed nor failed."""


# ----------------------------------------------------------------- store ---

STORE = os.environ.get("FS_TEST_STORE") or "lmdb"
if STORE not in ("lmdb", "pg"):
    raise HarnessError("FS_TEST_STORE=%r: lmdb or pg" % STORE)
STORE_BACKEND = {"lmdb": "LMDB", "pg": "PostgreSQL"}[STORE]

_cluster = None
_cluster_lock = threading.Lock()


def pg_cluster():
    """The test process's PostgreSQL cluster, started at the first call and
    removed at exit (FS_TEST_PG_KEEP=1 keeps it: stopped, its directory
    left for a look)."""
    global _cluster
    with _cluster_lock:
        if _cluster is None:
            c = pgcluster.Cluster()
            try:
                c.start()
            except pgcluster.ClusterError:
                c.remove()
                raise
            _cluster = c
            atexit.register(_cluster_gone)
        elif not _cluster.alive():
            _cluster.start()    # a test stopped it and did not restart it
        return _cluster


def _cluster_gone():
    if os.environ.get("FS_TEST_PG_KEEP"):
        _cluster.stop()
        print("harness: PostgreSQL cluster kept in %s" % _cluster.root,
              file=sys.stderr)
    else:
        _cluster.remove()


def lmdb_only(why):
    """Skip the calling test under FS_TEST_STORE=pg: it checks LMDB itself
    (why says what), which the PostgreSQL backend does not have."""
    if STORE == "pg":
        raise Skip("LMDB only: %s" % why)


# Why the shim's tests skip on PostgreSQL (lmdb_only(SHIM_FSYNC) etc.).
SHIM_FSYNC = ("the shim counts fieldsyncd's own fsyncs of data.mdb; on "
              "PostgreSQL a commit is flushed by the database server "
              "(fsync and synchronous_commit on, tests/pgcluster.py), a "
              "process the shim is not loaded into")
SHIM_FAILING_DISK = ("the failing disk is injected into fieldsyncd's own "
                     "fsyncs (the shim); on PostgreSQL the store's disk is "
                     "the database server's, and a store that fails there "
                     "is PostgreSQL being down (test_multinode.py)")


def store_opts(data, store_url=None):
    """The options naming a store: --data DATA, with --store URL before
    it when there is one (pg)."""
    return (["--store", store_url] if store_url else []) + ["--data", data]


@contextlib.contextmanager
def store_failing(srv):
    """Inside the block srv's store cannot commit.  LMDB: every fsync fails
    (the shim: srv started with shim=True); reads still work.  pg: the
    database server is stopped (pgcluster's outage: started again on the
    same port at the end), so reads fail too: use it where only what a
    failed write answers is checked."""
    if srv.store_url is not None:
        with pg_cluster().outage():
            yield
        return
    srv.fail_syncs(True)
    try:
        yield
    finally:
        srv.fail_syncs(False)


def fresh_store_url():
    """pg: the URL of a new, empty database on the cluster (for restore
    and the like); LMDB: None."""
    return pg_cluster().new_database() if STORE == "pg" else None


def store_dump(srv):
    """The store's bytes as they lie on disk, for 'not stored in clear'
    checks: LMDB: data.mdb; pg: pg_dump of the database, with every bytea
    value (\\x...) also decoded to its raw bytes."""
    if srv.store_url is None:
        with open(os.path.join(srv.data, "data.mdb"), "rb") as f:
            return f.read()
    p = subprocess.run([os.path.join(pgcluster.PG_BIN, "pg_dump"),
                        "--data-only", "-d", srv.store_url],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise HarnessError("pg_dump exited %d: %s" % (
            p.returncode, p.stderr.decode("utf-8", "replace")))
    raw = [bytes.fromhex(h.decode()) for h in
           re.findall(rb"\\x((?:[0-9a-f]{2})+)", p.stdout)]
    return p.stdout + b"\0".join(raw)


# ---------------------------------------------------------------- msgpack --

def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


# ---------------------------------------------------------------- clocks ---

def now_ms():
    """Wall clock now, in ms since the epoch."""
    return time.time_ns() // 1_000_000


def hlc_of(ms, counter=0):
    """The HLC value for wall time `ms` and `counter`: ms << 16 | counter."""
    return (int(ms) << 16) | (int(counter) & 0xFFFF)


_hlc_lock = threading.Lock()
_hlc_last = 0


def now_hlc():
    """hlc_of(now_ms()), strictly increasing across calls in this process."""
    global _hlc_last
    with _hlc_lock:
        h = max(hlc_of(now_ms()), _hlc_last + 1)
        _hlc_last = h
        return h


def batch_id():
    """A fresh random 16-byte batch id."""
    return os.urandom(16)


def op(c, id, fields, s=None):
    """One op: {"c": c, "id": id, "s": s or now_hlc(), "f": fields}."""
    return {"c": c, "id": id, "s": now_hlc() if s is None else s,
            "f": dict(fields)}


def batch(ops, by=None, bid=None):
    """One batch: {"batch": bid or batch_id(), "ops": [...], "by"?: by}."""
    b = {"batch": batch_id() if bid is None else bid, "ops": list(ops)}
    if by is not None:
        b["by"] = by
    return b


# ------------------------------------------------------------------ HTTP ---

class Resp:
    """An HTTP response.

    status   int
    headers  dict, lower-case names (repeated headers joined with ", ")
    raw      the body bytes, after undoing Content-Encoding gzip/deflate
    wire     the body bytes as they came over the wire
    body     decoded raw: msgpack for application/msgpack, JSON for
             application/json; None when the type is neither or it does not
             decode
    """

    def __init__(self, status, headers, raw, wire):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.wire = wire
        self.body = None
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        self.content_type = ctype
        if ctype == "application/msgpack" or ctype == "application/x-msgpack":
            try:
                self.body = unpack(raw)
            except Exception:
                self.body = None
        elif ctype == "application/json":
            try:
                self.body = json.loads(raw.decode("utf-8"))
            except Exception:
                self.body = None

    def __repr__(self):
        shown = self.body if self.body is not None else self.raw[:300]
        return "<Resp %s %s %r>" % (self.status, self.content_type or "-",
                                    shown)


def _decode_content(raw, encoding):
    enc = (encoding or "").strip().lower()
    if not enc or enc == "identity":
        return raw
    if enc in ("gzip", "x-gzip"):
        return gzip.decompress(raw)
    if enc == "deflate":
        try:
            return zlib.decompress(raw)              # zlib-wrapped (RFC 1950)
        except zlib.error:
            return zlib.decompress(raw, -zlib.MAX_WBITS)   # raw deflate
    raise HarnessError("unknown Content-Encoding %r" % encoding)


def _base_url(server_or_url):
    if isinstance(server_or_url, str):
        return server_or_url
    return server_or_url.url


def req(server_or_url, method, path, body=None, token=None, headers=None,
        raw=None, timeout=10):
    """Send one request and return a Resp.

    body     any msgpack-able value: sent msgpack-encoded (use_bin_type)
             with Content-Type application/msgpack
    raw      bytes sent as they are (Content-Type application/msgpack unless
             headers name another)
    token    sent as Authorization: Bearer <token>
    headers  extra headers; a value of None removes a header the harness
             would add (e.g. {"Content-Type": None})
    Responses with Content-Encoding gzip or deflate are decoded.  Ask for a
    compressed one with headers={"Accept-Encoding": "gzip"}; by default
    http.client sends Accept-Encoding: identity.
    """
    url = urllib.parse.urlsplit(_base_url(server_or_url))
    hdrs = {}
    data = None
    if body is not None and raw is not None:
        raise ValueError("give body or raw, not both")
    if body is not None:
        data = pack(body)
        hdrs["Content-Type"] = "application/msgpack"
    elif raw is not None:
        data = bytes(raw)
        hdrs["Content-Type"] = "application/msgpack"
    if token is not None:
        hdrs["Authorization"] = "Bearer %s" % token
    for k, v in (headers or {}).items():
        for have in [h for h in hdrs if h.lower() == k.lower()]:
            del hdrs[have]
        if v is not None:
            hdrs[k] = str(v)

    if url.scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(url.hostname, url.port or 443,
                                           timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(url.hostname, url.port or 80,
                                          timeout=timeout)
    full = (url.path.rstrip("/") + path) if url.path else path
    try:
        if data is None and method.upper() in ("POST", "PUT", "PATCH"):
            data = b""
        conn.request(method, full, body=data, headers=hdrs)
        r = conn.getresponse()
        wire = r.read()
        rh = {}
        for k, v in r.getheaders():
            k = k.lower()
            rh[k] = (rh[k] + ", " + v) if k in rh else v
        status = r.status
    finally:
        conn.close()
    decoded = _decode_content(wire, rh.get("content-encoding"))
    return Resp(status, rh, decoded, wire)


def check(resp, status=200):
    """Assert resp.status == status; the message shows the response.
    Returns resp.body."""
    if resp.status != status:
        raise AssertionError("expected HTTP %s, got %r" % (status, resp))
    return resp.body


def sync(server, token, push=None, pull=None, limit=None, dev=None, hlc=None,
         **extra):
    """POST /v1/sync with {"v": 1, "hlc": hlc or now_hlc(), "push": push or
    [], "pull": pull or {}, "limit"?: limit, "dev"?: dev, **extra}.

    extra keys go into the body and may replace any key (v=2 tests the
    version check); a value of None drops that key.  Two keys are not body
    keys: headers= and timeout= go to req()."""
    headers = extra.pop("headers", None)
    timeout = extra.pop("timeout", 10)
    body = {"v": 1, "hlc": now_hlc() if hlc is None else hlc,
            "push": [] if push is None else push,
            "pull": {} if pull is None else pull}
    if limit is not None:
        body["limit"] = limit
    if dev is not None:
        body["dev"] = dev
    for k, v in extra.items():
        if v is None:
            body.pop(k, None)
        else:
            body[k] = v
    return req(server, "POST", "/v1/sync", body=body, token=token,
               headers=headers, timeout=timeout)


# -------------------------------------------------------------- raw HTTP ---

class RawResp:
    """A response read by raw_http().

    status   int, or None when no response could be read (then err says why)
    headers  dict, lower-case names (repeated headers joined with ", ")
    raw      the body bytes as sent (chunked coding undone; no
             Content-Encoding is undone)
    body     raw decoded as msgpack (application/msgpack) or JSON
             (application/json); None when empty, of another type, or it
             does not decode
    err      repr of the error when status is None
    """

    def __init__(self, status, headers, raw, err=None):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.err = err
        self.body = _decode_raw_body(headers.get("content-type", ""), raw)

    def __repr__(self):
        b = self.body if self.body is not None else self.raw[:200]
        return "<HTTP %s %r%s>" % (self.status, b,
                                    " (%s)" % self.err if self.err else "")


def demo_night(buckets):
    """The night shift `fieldsyncd demo` loaded with its patrol scans
    (server/svc/demo.c): the one its night handover, "ho-night", is from.
    Not simply the last night that has ended: from 08:00 to 08:20 in
    Asia/Shanghai the demo loads the night before, since the one just
    ended is still in its last round's grace.  None when absent."""
    for b in buckets.values():
        for r in b.get("recs", ()):
            if r["c"] == "handover" and r["id"] == "ho-night":
                return r["f"].get("from_shift")
    return None


def _decode_raw_body(ctype, raw):
    if not raw:
        return None
    ct = (ctype or "").split(";")[0].strip().lower()
    try:
        if ct == "application/msgpack" or ct == "application/x-msgpack":
            return unpack(raw)
        if ct == "application/json":
            return json.loads(raw)
    except Exception:
        return None
    return None


def _recv_response(s, deadline):
    """(status, headers, body) of one HTTP/1.1 response read from socket s
    (Content-Length, chunked, or up to EOF)."""
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


def raw_http(srv, method, path, body=None, headers=None, token=None,
             timeout=15.0):
    """One request on its own connection to srv (a plain-HTTP Server, or
    anything with .port), exact headers (no defaults but Host, Connection:
    close and Content-Length).  The body is sent from a thread so an early
    answer (413 before the body is read) is still seen.  Returns RawResp;
    status None when no response could be read."""
    if getattr(srv, "tls", None):
        raise HarnessError("raw_http() speaks plain HTTP only; use req() "
                           "for a server started with tls=")
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


# ------------------------------------------------------------- WebSocket ---

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocket:
    """A minimal WebSocket client (RFC 6455) over a plain socket.

    The constructor sends the upgrade request (with Authorization: Bearer
    token unless token is None; each of `protocols` offered in one
    Sec-WebSocket-Protocol header) and reads the answer's head: .status (101
    when upgraded; None when the server closed without answering),
    .headers (lower-case names), .head (the raw head bytes).  .s is the
    socket."""

    def __init__(self, srv, path, token, timeout=5.0, protocols=None):
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.s = socket.create_connection(("127.0.0.1", srv.port),
                                          timeout=timeout)
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % srv.port,
                 "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: " + self.key,
                 "Sec-WebSocket-Version: 13"]
        if token is not None:
            lines.append("Authorization: Bearer " + token)
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
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
        """Sec-WebSocket-Accept matches the key we sent."""
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
        """Send one masked frame with FIN set."""
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
        Raises socket.timeout at the deadline (a time.monotonic() value),
        ConnectionError on a close frame or EOF."""
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
        """Send a close frame (1000) if the socket still takes it; close."""
        try:
            self.send(0x8, struct.pack(">H", 1000))
        except OSError:
            pass
        self.s.close()


# --------------------------------------------------------------- metrics ---

_METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def metrics(srv):
    """GET /metrics (raw_http) parsed: {(name, "{labels}" or ""): value}.
    Asserts HTTP 200, Content-Type text/plain and that every line that is
    not empty or a comment is Prometheus text."""
    r = raw_http(srv, "GET", "/metrics")
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


def metric_total(ms, name, label_sub=""):
    """Sum of the values of metric `name` in metrics() output `ms` whose
    label set contains label_sub."""
    return sum(v for (n, lab), v in ms.items()
               if n == name and label_sub in lab)


# ---------------------------------------------------------------- server ---

class SyncCall:
    """One fdatasync/fsync/msync the shim saw.  t0/t1: CLOCK_MONOTONIC ns
    before/after the call (compare with time.monotonic_ns())."""
    __slots__ = ("fn", "fd", "ok", "t0", "t1")

    def __init__(self, fn, fd, ok, t0, t1):
        self.fn, self.fd, self.ok, self.t0, self.t1 = fn, fd, ok, t0, t1

    def __repr__(self):
        return "SyncCall(%s fd=%d %s t1=%d)" % (
            self.fn, self.fd, "ok" if self.ok else "fail", self.t1)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has_store(data):
    if not os.path.isdir(data):
        return False
    if os.path.exists(os.path.join(data, "admin.token")):
        return True
    for _root, _dirs, files in os.walk(data):
        if any(f.endswith(".mdb") for f in files):
            return True
    return False


class Server:
    """A fieldsyncd on 127.0.0.1, plain HTTP (HTTPS with tls=).

    binary     path of fieldsyncd
    shim       path of syncshim.so (or None)
    args       extra arguments for `serve`
    env        extra environment variables (a None value unsets one)
    data       data directory; default: a fresh tempfile.mkdtemp()
    preload    LD_PRELOAD the shim; default: True when shim is given
    init_args  extra arguments for `init`
    tls        (cert, key) PEM paths: serve HTTPS with them; True: with a
               self-signed certificate made at the first start
    store_url  (FS_TEST_STORE=pg only) serve this database, initialised
               by the caller or by this Server's init, instead of a new one
    """

    def __init__(self, binary, shim=None, args=(), env=None, data=None,
                 preload=None, init_args=(), tls=None, store_url=None):
        self.binary = os.path.abspath(binary)
        self.shim = os.path.abspath(shim) if shim else None
        self.args = [str(a) for a in args]
        self.env = dict(env or {})
        self.preload = bool(self.shim) if preload is None else bool(preload)
        if self.preload and not self.shim:
            raise ValueError("preload=True needs shim=")
        self.init_args = [str(a) for a in init_args]
        self.own_data = data is None
        self.data = os.path.abspath(data) if data else \
            tempfile.mkdtemp(prefix="fieldsync-it-")
        self.make_cert = tls is True
        if tls is True:
            self.tls = (os.path.join(self.data, "tls-cert.pem"),
                        os.path.join(self.data, "tls-key.pem"))
        elif tls:
            self.tls = (os.path.abspath(tls[0]), os.path.abspath(tls[1]))
        else:
            self.tls = None
        self.port = None
        self.proc = None
        self.returncode = None
        self._log = None
        if store_url is not None and STORE != "pg":
            raise HarnessError("store_url= needs FS_TEST_STORE=pg")
        self.store_url = store_url
        self.own_store = False  # made the database: drop_store() drops it
        if STORE == "pg" and store_url is None:
            self.store_url = self._stored_url()

    # -- properties
    @property
    def url(self):
        if self.port is None:
            raise HarnessError("server not started")
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http",
                                      self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def admin_token(self):
        with open(os.path.join(self.data, "admin.token")) as f:
            return f.read().strip()

    @property
    def log_path(self):
        return os.path.join(self.data, "server.log")

    @property
    def shim_count_path(self):
        return self.env.get("FS_SHIM_COUNT") or \
            os.path.join(self.data, "shim.count")

    @property
    def shim_fail_path(self):
        return self.env.get("FS_SHIM_FAIL") or \
            os.path.join(self.data, "shim.fail")

    # -- the store
    @property
    def store_url_path(self):
        return os.path.join(self.data, "store.url")

    def _stored_url(self):
        try:
            with open(self.store_url_path) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None

    def _new_database(self):
        """pg: a fresh database for this server, its URL in DATA/store.url
        (before init, so a failed init still leaves it findable)."""
        self.store_url = pg_cluster().new_database()
        self.own_store = True
        os.makedirs(self.data, exist_ok=True)
        with open(self.store_url_path, "w") as f:
            f.write(self.store_url + "\n")

    def store_args(self):
        """The options naming this server's store, for every command."""
        return store_opts(self.data, self.store_url)

    def wipe(self):
        """Replace the (stopped) server's store by none at all: the next
        start() inits an empty one, as a server reset or replaced at the
        same address.  LMDB: DATA removed; pg: DATA removed and the
        database dropped, a new one made at the next start."""
        if self.alive():
            raise HarnessError("wipe() needs the server stopped")
        self.drop_store()
        if STORE == "pg":
            self.store_url = None
        shutil.rmtree(self.data)

    def drop_store(self):
        """pg: drop the database this Server made (after the test)."""
        if self.own_store and _cluster is not None and _cluster.alive():
            _cluster.drop_database(self.store_url)
            self.own_store = False

    # -- life cycle
    def _environ(self):
        env = dict(os.environ)
        if self.preload:
            env["FS_SHIM_COUNT"] = self.shim_count_path
            env["FS_SHIM_FAIL"] = self.shim_fail_path
            old = env.get("LD_PRELOAD")
            env["LD_PRELOAD"] = self.shim + (":" + old if old else "")
            # A sanitized server refuses to start when a preloaded object
            # comes before libasan; the shim defines no allocator, so the
            # order is harmless.
            asan = env.get("ASAN_OPTIONS", "")
            if "verify_asan_link_order" not in asan:
                env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
                    "verify_asan_link_order=0"
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def _init(self):
        os.makedirs(self.data, exist_ok=True)
        if STORE == "pg" and self.store_url is None:
            self._new_database()
        cmd = [self.binary, "init"] + self.store_args() + self.init_args
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=self._environ(),
                               timeout=60)
        except subprocess.TimeoutExpired as e:
            raise HarnessError("%s init timed out after 60 s" % self.binary) \
                from e
        out = p.stdout.decode("utf-8", "replace")
        with open(os.path.join(self.data, "init.log"), "a") as f:
            f.write(out)
        if p.returncode != 0:
            raise HarnessError("`%s` exited %d:\n%s"
                               % (" ".join(cmd), p.returncode, out))

    def _make_cert(self):
        """A self-signed certificate for 127.0.0.1 at self.tls (once)."""
        cert, key = self.tls
        if os.path.exists(cert) and os.path.exists(key):
            return
        os.makedirs(self.data, exist_ok=True)
        cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
               "-keyout", key, "-out", cert, "-days", "2",
               "-subj", "/CN=127.0.0.1",
               "-addext", "subjectAltName=IP:127.0.0.1"]
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
        except subprocess.TimeoutExpired as e:
            raise HarnessError("openssl req timed out after 60 s") from e
        if p.returncode != 0:
            raise HarnessError("`%s` exited %d:\n%s" % (
                " ".join(cmd), p.returncode,
                p.stdout.decode("utf-8", "replace")))

    def _spawn(self):
        cmd = [self.binary, "serve"] + self.store_args() + [
               "--listen", "127.0.0.1:%d" % self.port] + \
            (["--cert", self.tls[0], "--key", self.tls[1]] if self.tls
             else ["--insecure-http"]) + \
            ["--pbkdf2-iter", str(PBKDF2_ITER)] + self.args
        if self._log is None or self._log.closed:
            self._log = open(self.log_path, "ab", buffering=0)
        self._log.write(("\n==== %s: %s\n" % (
            time.strftime("%H:%M:%S"), " ".join(cmd))).encode())
        self.returncode = None
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     env=self._environ())

    def _wait_healthy(self):
        deadline = time.monotonic() + HEALTH_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                return "exited with status %d" % self.proc.returncode
            try:
                r = req(self.url, "GET", "/healthz", timeout=1)
                if r.status == 200:
                    return None
                last = "GET /healthz answered %d" % r.status
            except (OSError, http.client.HTTPException) as e:
                last = "GET /healthz: %s" % e
            time.sleep(0.05)
        return "not healthy after %.0f s (%s)" % (HEALTH_TIMEOUT, last)

    def start(self):
        """Init (unless the data dir already has a store) and serve; returns
        self once GET /healthz answers 200."""
        if self.alive():
            return self
        if STORE == "pg" and self.store_url is None and \
                _has_store(self.data):
            raise HarnessError(
                "FS_TEST_STORE=pg, but %s holds an LMDB store and no "
                "store.url: the test made it with --data (use "
                "srv.store_args())" % self.data)
        if not _has_store(self.data):
            self._init()
        if self.make_cert:
            self._make_cert()
        fixed_port = self.port is not None
        attempts = 1 if fixed_port else 3
        why = None
        for _ in range(attempts):
            if not fixed_port:
                self.port = _free_port()
            self._spawn()
            why = self._wait_healthy()
            if why is None:
                return self
            if self.alive() or fixed_port:
                break
            # It exited.  Try another port only when the bind failed (a
            # process took the port between our probe and its bind).
            if "in use" not in self.log_tail(10).lower():
                break
        if self.alive():
            self.kill9()
        raise HarnessError("fieldsyncd %s on port %s; log %s:\n%s" % (
            why, self.port, self.log_path, self.log_tail(20)))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self.returncode = self.proc.returncode
        return True

    def stop(self):
        """SIGTERM, wait up to 5 s, then SIGKILL.  Returns the exit status
        (negative: killed by that signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if not self._reap(STOP_TIMEOUT):
                try:
                    os.kill(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self._reap(None)
        else:
            self.returncode = self.proc.returncode
        return self.returncode

    def kill9(self):
        """SIGKILL at once (a crash); returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap(None)
        self.returncode = self.proc.returncode
        return self.returncode

    def restart(self):
        """Stop (if running) and start again on the same data dir and port."""
        self.stop()
        return self.start()

    def close(self):
        """Stop and close the log."""
        self.stop()
        if self._log is not None and not self._log.closed:
            self._log.close()

    def cleanup(self):
        """Stop, and remove the data dir if the harness made it."""
        self.close()
        if self.own_data:
            shutil.rmtree(self.data, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    # -- logs and shim
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def syncs(self):
        """Every sync call the shim logged so far (needs a preloaded shim)."""
        if not self.preload:
            raise HarnessError("syncs() needs a server started with the shim")
        out = []
        try:
            with open(self.shim_count_path) as f:
                for line in f:
                    p = line.split()
                    if len(p) == 5:
                        out.append(SyncCall(p[0], int(p[1]), p[2] == "ok",
                                            int(p[3]), int(p[4])))
        except FileNotFoundError:
            pass
        return out

    def fail_syncs(self, on=True):
        """While on, every fdatasync/fsync/msync fails with EIO."""
        if not self.preload:
            raise HarnessError("fail_syncs() needs a server started with "
                               "the shim")
        if on:
            open(self.shim_fail_path, "w").close()
        else:
            try:
                os.unlink(self.shim_fail_path)
            except FileNotFoundError:
                pass

    def __repr__(self):
        return "<Server pid=%s port=%s data=%s%s>" % (
            self.pid, self.port, self.data,
            " store=%s" % self.store_url if self.store_url else "")


# ------------------------------------------------------------ site setup ---

class Ids(dict):
    """A dict whose keys are also attributes (ids.site == ids["site"])."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _acks_ok(resp, n_ops_per_batch):
    body = check(resp, 200)
    if not isinstance(body, dict):
        raise AssertionError("sync answered no msgpack map: %r" % resp)
    acks = body.get("acks") or []
    if len(acks) != len(n_ops_per_batch):
        raise AssertionError("expected %d acks, got %r"
                             % (len(n_ops_per_batch), body))
    for ack, n in zip(acks, n_ops_per_batch):
        if ack.get("err") or ack.get("rej") or ack.get("applied") != n:
            raise AssertionError("admin push not fully applied "
                                 "(%d ops): %r" % (n, ack))
    return body


def admin_push(server, ops, chunk=1000):
    """Push ops as the admin (token from DATA/admin.token), in batches of at
    most `chunk`; assert every op was applied; return the (last) Resp."""
    ops = list(ops)
    token = server.admin_token
    resp = None
    for i in range(0, max(len(ops), 1), chunk):
        part = ops[i:i + chunk]
        if not part:
            break
        resp = sync(server, token, push=[batch(part)])
        _acks_ok(resp, [len(part)])
    return resp


def _shift_op(site, spec, now):
    """A shift from (id, role, staff_ids[, starts, ends]) or a dict with
    id, role, staff, starts?, ends?, route?, lead? (default: started an
    hour ago, ends in 8 h)."""
    if isinstance(spec, dict):
        d = dict(spec)
        sid = d.pop("id")
    else:
        sid, role, staff = spec[0], spec[1], spec[2]
        d = {"role": role, "staff": list(staff)}
        if len(spec) > 3:
            d["starts"] = spec[3]
        if len(spec) > 4:
            d["ends"] = spec[4]
    d.setdefault("site", site)
    d.setdefault("starts", now - 3600_000)
    d.setdefault("ends", now + 8 * 3600_000)
    d["staff"] = list(d.get("staff", []))
    return op("shift", sid, d)


def setup_site(server, site="s1", staff=(), shifts=(), tz="Asia/Shanghai",
               households=500, name=None):
    """Create, with admin pushes, the site `site` (tz, households), its staff
    and its shifts.

    staff   (id, role) or (id, role, name) tuples; active, of this site
    shifts  (id, role, [staff ids]) or (id, role, [staff], starts, ends)
            tuples, or dicts of shift fields with an "id"
    Returns Ids(site=..., staff=[ids], roles={id: role}, shifts=[ids])."""
    now = now_ms()
    ops = [op("site", site, {"name": name or ("Site %s" % site), "tz": tz,
                             "households": households})]
    staff_ids, roles = [], {}
    for s in staff:
        sid, role = s[0], s[1]
        nm = s[2] if len(s) > 2 else "Staff %s" % sid
        ops.append(op("staff", sid, {"site": site, "name": nm, "role": role,
                                     "active": True}))
        staff_ids.append(sid)
        roles[sid] = role
    shift_ids = []
    for sh in shifts:
        o = _shift_op(site, sh, now)
        ops.append(o)
        shift_ids.append(o["id"])
    admin_push(server, ops)
    return Ids(site=site, staff=staff_ids, roles=roles, shifts=shift_ids)


def set_pin(server, staff, pin, token=None):
    """POST /v1/admin/staff-pin {staff, pin} (admin token unless token=)."""
    r = req(server, "POST", "/v1/admin/staff-pin",
            body={"staff": staff, "pin": pin},
            token=server.admin_token if token is None else token)
    check(r, 200)
    return r


def enroll_code(server, site, role=None, uses=None, ttl_s=None, token=None):
    """POST /v1/admin/enroll-codes; returns the code."""
    body = {"site": site}
    if role is not None:
        body["role"] = role
    if uses is not None:
        body["uses"] = uses
    if ttl_s is not None:
        body["ttl_s"] = ttl_s
    r = req(server, "POST", "/v1/admin/enroll-codes", body=body,
            token=server.admin_token if token is None else token)
    return check(r, 200)["code"]


def enroll(server, code, name):
    """POST /v1/enroll; returns (device, device_token)."""
    r = req(server, "POST", "/v1/enroll", body={"code": code, "name": name})
    b = check(r, 200)
    return b["device"], b["token"]


def login(server, device_token, staff, pin):
    """POST /v1/login; returns the response map {token, staff, role, site,
    expires}."""
    r = req(server, "POST", "/v1/login", body={"staff": staff, "pin": pin},
            token=device_token)
    return check(r, 200)


class Device:
    """An enrolled device with a logged-in session.
    .device .device_token .token (session) .session (login map)
    .server .site .staff .role; .sync(**kw) = sync(server, token, **kw)."""

    def __init__(self, server, site, staff, role, device, device_token,
                 session):
        self.server, self.site, self.staff, self.role = \
            server, site, staff, role
        self.device, self.device_token = device, device_token
        self.session = session
        self.token = session["token"]

    def sync(self, **kw):
        return sync(self.server, self.token, **kw)

    def login(self, staff, pin):
        """Log another staff member in on this device; returns the map and
        makes it this device's session."""
        self.session = login(self.server, self.device_token, staff, pin)
        self.token = self.session["token"]
        self.staff = staff
        self.role = self.session.get("role", self.role)
        return self.session

    def __repr__(self):
        return "<Device %s staff=%s role=%s>" % (self.device, self.staff,
                                                 self.role)


def device_for(server, site, staff, role, pin="1234", name=None,
               code_role=True):
    """set_pin + enroll_code(site, role) + enroll + login, for a staff
    member that already exists.  code_role=False makes a code with no role.
    Returns a Device."""
    set_pin(server, staff, pin)
    code = enroll_code(server, site, role=role if code_role else None)
    device, device_token = enroll(server, code, name or ("dev-%s" % staff))
    session = login(server, device_token, staff, pin)
    return Device(server, site, staff, role, device, device_token, session)
