"""Integration tests: compression of requests and responses, content types, sync envelope (protocol/PROTOCOL.md, "Transport")."""

import gzip
import http.client
import os
import socket as _socket
import ssl
import subprocess
import time
import zlib

import msgpack

from harness import (Skip, fresh_store_url, hlc_of, now_ms, pack, raw_http,
                     store_opts)
from synclib import (admin_ok, check_err, enroll_raw, healthy, login_raw,
                     mk_device, mk_site, mkbatch, mkop, new_code, post,
                     sync_raw)


# ---- tests -----------------------------------------------------------------
def _srv(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    return srv


def _sync_bytes(**kw):
    m = {"v": 1, "hlc": hlc_of(now_ms()), "pull": {}}
    m.update(kw)
    return pack(m)


def _post(srv, raw, headers, token=None, timeout=15.0):
    h = {"Content-Type": "application/msgpack"}
    h.update(headers)
    return raw_http(srv, "POST", "/v1/sync", raw, h,
                    srv.admin_token if token is None else token, timeout)


def _zone(id, name=None):
    return mkop("zone", id, {"site": "s1", "name": name or ("zone " + id)})


def _pull_site(srv):
    r = sync_raw(srv, srv.admin_token, pull={}, limit=10000)
    assert r.status == 200, "admin pull: expected 200, got %r" % r
    return {(x["c"], x["id"]): x["f"]
            for x in r.body["buckets"].get("site/s1", {}).get("recs", [])}


def _gzip(data):
    return gzip.compress(data)


def _inflate_response(r):
    enc = r.headers.get("content-encoding", "").strip().lower()
    if enc == "gzip":
        return gzip.decompress(r.raw)
    if enc == "deflate":
        try:
            return zlib.decompress(r.raw)
        except zlib.error:
            return zlib.decompress(r.raw, -15)  # raw deflate, leniently
    assert enc in ("", "identity"), "unexpected Content-Encoding %r" % enc
    return r.raw


def test_request_deflate_accepted(ctx):
    srv = _srv(ctx)
    raw = _sync_bytes(push=[mkbatch([_zone("zd1", "deflated")])])
    r = _post(srv, zlib.compress(raw), {"Content-Encoding": "deflate"})
    assert r.status == 200 and r.body["acks"][0].get("applied") == 1, \
        "zlib (Content-Encoding: deflate) request body: expected 200 and " \
        "the op applied, got %r" % r
    assert _pull_site(srv).get(("zone", "zd1"), {}).get("name") == \
        "deflated", "the op of the deflated body must be stored"


def test_request_gzip_accepted(ctx):
    srv = _srv(ctx)
    raw = _sync_bytes(push=[mkbatch([_zone("zg1", "gzipped")])])
    r = _post(srv, _gzip(raw), {"Content-Encoding": "gzip"})
    assert r.status == 200 and r.body["acks"][0].get("applied") == 1, \
        "gzip request body: expected 200 and the op applied, got %r" % r
    assert _pull_site(srv).get(("zone", "zg1"), {}).get("name") == \
        "gzipped", "the op of the gzipped body must be stored"


def test_deflate_bomb_refused(ctx):
    srv = _srv(ctx)
    # a valid msgpack head whose last value is a 64 MiB bin of zeros
    n = 64 * 1024 * 1024
    head = pack({"v": 1, "hlc": hlc_of(now_ms())})
    head = b"\x83" + head[1:] + pack("pad") + b"\xc6" + n.to_bytes(4, "big")
    co = zlib.compressobj(9)
    zero = b"\x00" * (1 << 20)
    parts = [co.compress(head)]
    for _ in range(64):
        parts.append(co.compress(zero))
    parts.append(co.flush())
    bomb = b"".join(parts)
    assert len(bomb) < 4 * 1024 * 1024
    for enc, body in (("deflate", bomb),):
        t = time.monotonic()
        r = _post(srv, body, {"Content-Encoding": enc}, timeout=30)
        check_err(r, 413, "TOO_LARGE", "%s bomb (%d bytes inflating to "
                  "64 MiB)" % (enc, len(body)))
        assert time.monotonic() - t < 10, "bomb took too long to refuse"
    gz = gzip.compress(b"\x00" * n, 9)
    check_err(_post(srv, gz, {"Content-Encoding": "gzip"}, timeout=30), 413,
              "TOO_LARGE", "gzip bomb of 64 MiB zeros")
    healthy(srv, "after deflate bombs")
    r = _post(srv, zlib.compress(_sync_bytes()),
              {"Content-Encoding": "deflate"})
    assert r.status == 200, "a normal deflated sync after the bombs must " \
        "work, got %r" % r


def test_corrupt_deflate_400(ctx):
    srv = _srv(ctx)
    good = zlib.compress(_sync_bytes(push=[mkbatch([_zone("zc1")])]))
    cases = [("deflate", b"this is not zlib at all"),
             ("deflate", good[:2] + bytes(b ^ 0x5a for b in good[2:])),
             ("deflate", good[:len(good) // 2]),
             ("gzip", b"\x1f\x8b\x08\x00garbage-garbage"),
             ("gzip", _gzip(_sync_bytes())[:-6])]
    for enc, body in cases:
        r = _post(srv, body, {"Content-Encoding": enc})
        assert r.status == 400 and isinstance(r.body, dict) and \
            r.body.get("error") in ("BAD_REQUEST", "BAD_MSGPACK") and \
            isinstance(r.body.get("msg"), str), \
            "corrupt %s body %r: expected 400 {error, msg}, got %r" % (
                enc, body[:16], r)
    assert ("zone", "zc1") not in _pull_site(srv), \
        "nothing of a corrupt body may be applied"
    healthy(srv, "after corrupt compressed bodies")


def _fill(srv, n=40):
    ops = [_zone("big%03d" % i, "a fairly long zone name number %d " % i +
                 "x" * 60) for i in range(n)]
    admin_ok(srv, ops, "fill the site")


def test_response_compressed_when_allowed_and_large(ctx):
    srv = _srv(ctx)
    _fill(srv)
    for enc in ("gzip", "deflate"):
        r = _post(srv, _sync_bytes(), {"Accept-Encoding": enc})
        assert r.status == 200, "big pull with Accept-Encoding %s: expected " \
            "200, got %r" % (enc, r)
        got = r.headers.get("content-encoding", "").lower()
        assert got in ("gzip", "deflate") and got in enc, \
            "Accept-Encoding: %s and a > 1 KiB body: expected " \
            "Content-Encoding %s, got %r (headers %r)" % (
                enc, enc, got, r.headers)
        plain = _inflate_response(r)
        assert len(plain) > 1024, "the test pull should exceed 1 KiB " \
            "(%d bytes)" % len(plain)
        body = msgpack.unpackb(plain, raw=False, strict_map_key=False)
        recs = body["buckets"]["site/s1"]["recs"]
        assert len([x for x in recs if x["id"].startswith("big")]) == 40, \
            "the compressed response must decode to the full pull"
    r = _post(srv, _sync_bytes(), {"Accept-Encoding": "gzip, deflate;q=0.5"})
    assert r.headers.get("content-encoding", "").lower() in ("gzip",
                                                              "deflate"), \
        "Accept-Encoding 'gzip, deflate;q=0.5': expected a compressed " \
        "response, got headers %r" % r.headers


def test_response_not_compressed_without_accept_encoding(ctx):
    srv = _srv(ctx)
    _fill(srv)
    for h in ({}, {"Accept-Encoding": "identity"}, {"Accept-Encoding": "br"}):
        r = _post(srv, _sync_bytes(), h)
        assert r.status == 200, "pull %r: expected 200, got %r" % (h, r)
        enc = r.headers.get("content-encoding", "identity").lower()
        assert enc == "identity", "request headers %r: the response must " \
            "not be compressed, got Content-Encoding %r" % (h, enc)
        assert len(r.raw) > 1024 and isinstance(r.body, dict), \
            "the uncompressed big pull must decode as msgpack"


def test_small_response_not_compressed(ctx):
    srv = ctx.server()
    r = _post(srv, _sync_bytes(), {"Accept-Encoding": "gzip, deflate"})
    assert r.status == 200, "small sync: expected 200, got %r" % r
    assert len(r.raw) <= 1024, "a fresh server's pull should be small " \
        "(%d bytes)" % len(r.raw)
    assert r.headers.get("content-encoding", "identity").lower() == \
        "identity", "a body under 1 KiB must not be compressed, got " \
        "headers %r" % r.headers
    r = _post(srv, b"\xc1", {"Accept-Encoding": "gzip"})
    assert r.status == 400 and \
        r.headers.get("content-encoding", "identity") == "identity" and \
        r.body is not None, "a small error body must not be compressed: " \
        "%r %r" % (r, r.headers)


def test_response_content_type_msgpack(ctx):
    srv = _srv(ctx)
    g = mk_device(srv, "s1", "g1", "guard")
    checks = [("sync", sync_raw(srv, g.token, pull={})),
              ("enroll", enroll_raw(srv, new_code(srv, "s1"), "x")),
              ("login", login_raw(srv, g.dtok, "g1")),
              ("enroll-codes", post(srv, "/v1/admin/enroll-codes",
                                    {"site": "s1"}, srv.admin_token)),
              ("sync error", _post(srv, b"\xc1", {}))]
    for what, r in checks:
        ct = r.headers.get("content-type", "").split(";")[0].strip().lower()
        assert ct == "application/msgpack", \
            "%s response: Content-Type expected application/msgpack, " \
            "got %r (%r)" % (what, r.headers.get("content-type"), r)


def test_sync_response_carries_now_hlc_store(ctx):
    srv = _srv(ctx)
    g = mk_device(srv, "s1", "g1", "guard")
    stores = set()
    last_hlc = 0
    for tok, kw in ((g.token, {}), (srv.admin_token, {}),
                    (srv.admin_token, {"push": [mkbatch([_zone("h1")])]}),
                    (g.token, {"push": []})):
        t0 = now_ms()
        req_hlc = hlc_of(t0, 7)
        r = sync_raw(srv, tok, pull={}, hlc=req_hlc, **kw)
        t1 = now_ms()
        assert r.status == 200, "sync: expected 200, got %r" % r
        b = r.body
        assert b.get("v") == 1, "sync response v expected 1, got %r" % b
        now = b.get("now")
        assert isinstance(now, int) and t0 - 2000 <= now <= t1 + 2000, \
            "sync response now: expected server ms near %d, got %r" % (t0, now)
        h = b.get("hlc")
        assert isinstance(h, int) and abs((h >> 16) - now) < 5000, \
            "sync response hlc: expected wall<<16|counter near now, got %r" % h
        assert h >= last_hlc, "the server hlc must not go back across " \
            "responses: %d then %d" % (last_hlc, h)
        assert h > req_hlc, "the response hlc must be greater than the " \
            "request's hlc (HLC receive rule): sent %d, got %d" % (req_hlc, h)
        last_hlc = h
        st = b.get("store")
        assert isinstance(st, str) and st, \
            "sync response store: expected a non-empty string, got %r" % st
        stores.add(st)
        assert isinstance(b.get("buckets"), dict) and \
            isinstance(b.get("scope"), list), \
            "sync response needs buckets and scope: %r" % b
    assert len(stores) == 1, "store id must be stable: %r" % stores
    srv2 = ctx.server()
    st2 = sync_raw(srv2, srv2.admin_token, pull={}).body.get("store")
    assert st2 and st2 not in stores, \
        "two separately initialised stores must have different store ids"


def test_inflated_body_between_4_and_32_mib_accepted(ctx):
    srv = _srv(ctx)
    # 128 ops with 64 KiB names: about 8 MiB inflated, tiny compressed
    ops = [_zone("w%03d" % i, chr(97 + i % 26) * 65536) for i in range(128)]
    raw = _sync_bytes(push=[mkbatch(ops)], pull={"site/s1": 2 ** 62})
    assert 8 * 1024 * 1024 < len(raw) < 32 * 1024 * 1024
    for enc, comp in (("deflate", zlib.compress(raw)), ("gzip", _gzip(raw))):
        r = _post(srv, comp, {"Content-Encoding": enc}, timeout=30)
        assert r.status == 200 and r.body["acks"][0].get("applied") == 128, \
            "%s body of %d bytes inflating to %d (under the 32 MiB cap): " \
            "expected 200 with 128 ops applied, got %r" % (
                enc, len(comp), len(raw), r.body.get("acks") if
                isinstance(r.body, dict) else r)


test_inflated_body_between_4_and_32_mib_accepted.timeout = 90


def test_plain_body_just_under_4_mib_accepted(ctx):
    srv = _srv(ctx)
    ops = [_zone("p%03d" % i, "q" * 65536) for i in range(63)]
    raw = _sync_bytes(push=[mkbatch(ops)], pull={"site/s1": 2 ** 62})
    assert 4 * 1024 * 1024 - 65536 < len(raw) < 4 * 1024 * 1024
    r = _post(srv, raw, {}, timeout=30)
    assert r.status == 200 and r.body["acks"][0].get("applied") == 63, \
        "uncompressed body of %d bytes (under 4 MiB): expected 200 with 63 " \
        "ops applied, got %r" % (len(raw), r.body.get("acks") if
                                 isinstance(r.body, dict) else r)


def _vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    return None


def test_big_bomb_memory_stays_bounded(ctx):
    srv = _srv(ctx)
    co = zlib.compressobj(1)
    zero = b"\x00" * (4 << 20)
    parts = [co.compress(zero) for _ in range(128)]     # 512 MiB of zeros
    parts.append(co.flush())
    bomb = b"".join(parts)
    assert len(bomb) < 4 * 1024 * 1024
    for _ in range(3):
        r = _post(srv, bomb, {"Content-Encoding": "deflate"}, timeout=30)
        check_err(r, 413, "TOO_LARGE", "deflate body inflating to 512 MiB")
    healthy(srv, "after 512 MiB bombs")
    with open("/proc/%d/maps" % srv.pid) as f:
        if "asan" in f.read():
            # the 413s above were checked; the RSS bound is not
            raise Skip("server built with AddressSanitizer (its shadow "
                       "memory and quarantine): peak-RSS bound not checked")
    hwm = _vm_hwm_kib(srv.pid)
    assert hwm is not None and hwm < 256 * 1024, \
        "server peak RSS after three 512 MiB deflate bombs is %s KiB; the " \
        "inflate cap (32 MiB) should keep it far below 256 MiB" % hwm


def test_keepalive_several_requests_one_connection(ctx):
    import http.client
    srv = _srv(ctx)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    hdr = {"Content-Type": "application/msgpack",
           "Authorization": "Bearer " + srv.admin_token}
    try:
        seq = [("good", _sync_bytes(push=[mkbatch([_zone("k1")])]), 200),
               ("bad msgpack", b"\xc1", 400),
               ("good", _sync_bytes(push=[mkbatch([_zone("k2")])]), 200),
               ("wrong version", _sync_bytes(v=2), 400),
               ("good", _sync_bytes(), 200)]
        for what, body, want in seq:
            conn.request("POST", "/v1/sync", body=body, headers=hdr)
            r = conn.getresponse()
            data = r.read()
            assert r.status == want, "request %r on a kept-alive " \
                "connection: expected %d, got %d %r" % (what, want, r.status,
                                                       data[:200])
            b = msgpack.unpackb(data, raw=False, strict_map_key=False)
            assert isinstance(b, dict), "%r: body must be a msgpack map" % (
                what)
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        assert r.status == 200, "GET /healthz on the same connection"
    finally:
        conn.close()
    recs = _pull_site(srv)
    assert ("zone", "k1") in recs and ("zone", "k2") in recs, \
        "both good pushes on the kept-alive connection must be stored"


# ---- HTTPS -----------------------------------------------------------------

def _tls_context(**kw):
    """A client context that takes any certificate; kw sets its attributes
    (minimum_version=..., maximum_version=...)."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def _https_conn(srv, timeout=10, **kw):
    return http.client.HTTPSConnection("127.0.0.1", srv.port,
                                       timeout=timeout,
                                       context=_tls_context(**kw))


def _https_get(srv, path, timeout=10):
    c = _https_conn(srv, timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def _https_post(srv, path, body, token, c=None):
    own = c is None
    c = c or _https_conn(srv)
    try:
        c.request("POST", path, body=body, headers={
            "Content-Type": "application/msgpack",
            "Authorization": "Bearer " + token})
        r = c.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), \
            data
    finally:
        if own:
            c.close()


def test_https_serves_and_survives(ctx):
    srv = ctx.server(tls=True)
    try:
        c = _https_conn(srv)
        try:
            c.connect()
            ver = c.sock.version()
            assert ver in ("TLSv1.2", "TLSv1.3"), \
                "HTTPS negotiated %r, expected TLS 1.2+" % ver
            st, hd, data = _https_post(srv, "/v1/sync", _sync_bytes(),
                                       srv.admin_token, c)
            assert st == 200, "HTTPS sync: expected 200, got %d %r" % (
                st, data[:200])
            b = msgpack.unpackb(data, raw=False, strict_map_key=False)
            assert isinstance(b.get("store"), str), \
                "HTTPS sync response needs store: %r" % b
            # a second request on the same TLS connection
            st, _, _ = _https_post(srv, "/v1/sync", _sync_bytes(),
                                   srv.admin_token, c)
            assert st == 200, "second HTTPS request on one connection: %d" % st
        finally:
            c.close()
        errs = []

        def worker():
            try:
                for _ in range(5):
                    st, _, _ = _https_post(srv, "/v1/sync", _sync_bytes(),
                                           srv.admin_token)
                    if st != 200:
                        errs.append(st)
            except Exception as e:
                errs.append(repr(e))
        import threading as th
        ts = [th.Thread(target=worker) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert not errs, "concurrent HTTPS syncs failed: %r" % errs[:3]
        assert srv.proc.poll() is None, "fieldsyncd died serving HTTPS " \
            "(exit %r)" % srv.proc.returncode
        assert _https_get(srv, "/healthz")[0] == 200, \
            "HTTPS /healthz after load"
    finally:
        srv.stop()


def test_https_refuses_tls_below_1_2(ctx):
    srv = ctx.server(tls=True)
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = _tls_context(maximum_version=ssl.TLSVersion.TLSv1_1,
                               minimum_version=ssl.TLSVersion.TLSv1)
        try:
            old.set_ciphers("DEFAULT:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        s = _socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        got = None
        try:
            t = old.wrap_socket(s)
            got = t.version()
            t.close()
        except (ssl.SSLError, OSError):
            got = None
        finally:
            s.close()
        assert got is None, "the server accepted a %s handshake; the " \
            "contract is TLS 1.2+" % got
        assert _https_get(srv, "/healthz")[0] == 200, "HTTPS still works " \
            "after a refused old handshake"
    finally:
        srv.stop()


def test_https_port_does_not_speak_plain_http(ctx):
    srv = ctx.server(tls=True)
    try:
        s = _socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            try:
                while len(data) < 4096:
                    c = s.recv(4096)
                    if not c:
                        break
                    data += c
            except OSError:
                pass
        finally:
            s.close()
        assert not data.startswith(b"HTTP/1.1 200"), \
            "plain HTTP on the HTTPS port was served: %r" % data[:100]
    finally:
        srv.stop()


def test_serve_without_tls_or_insecure_flag_refuses(ctx):
    data = os.path.join(ctx.tmpdir, "notls")
    store = store_opts(data, fresh_store_url())
    p = subprocess.run([ctx.binary, "init"] + store,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 0, "init failed: %s" % p.stdout
    with _socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        p = subprocess.run([ctx.binary, "serve"] + store + [
                            "--listen", "127.0.0.1:%d" % port], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=5)
        assert p.returncode != 0, "serve with neither --cert/--key nor " \
            "--insecure-http must refuse to start; exited 0: %s" % p.stdout
    except subprocess.TimeoutExpired as e:
        raise AssertionError("serve with neither --cert/--key nor "
                             "--insecure-http kept running (plain HTTP is "
                             "only for when asked for)") from e
