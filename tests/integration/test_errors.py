"""Integration tests: every documented error code, limits, hostile msgpack (protocol/PROTOCOL.md, "Error codes")."""

import os
import time

from harness import hlc_of, now_ms, pack, raw_http
from synclib import (check_err, healthy, mk_device, mk_site, mkbatch, mkop,
                     post, push1, sync_raw)


# ---- tests -----------------------------------------------------------------
def _srv(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    return srv


def _sync_body(**kw):
    m = {"v": 1, "hlc": hlc_of(now_ms()), "pull": {}}
    m.update(kw)
    return m


def _post_sync_bytes(srv, raw, token=None, headers=None, timeout=15.0):
    h = {"Content-Type": "application/msgpack"}
    h.update(headers or {})
    return raw_http(srv, "POST", "/v1/sync", raw, h,
                    token if token is not None else srv.admin_token, timeout)


def _zone(id, **f):
    fields = {"site": "s1", "name": "zone " + str(id)[:20]}
    fields.update(f)
    return mkop("zone", id, fields)


def _check_rej(ack, expect, n_ops, what):
    """expect: {op index: code}. All other ops applied."""
    rej = ack.get("rej") or []
    got = {}
    for e in rej:
        assert isinstance(e, dict) and isinstance(e.get("i"), int) and \
            isinstance(e.get("code"), str) and isinstance(e.get("msg"), str), \
            "%s: every rej entry needs {i, code, msg}, got %r" % (what, e)
        got[e["i"]] = e["code"]
    assert got == expect, "%s: expected rejections %r, got %r (ack %r)" % (
        what, expect, got, ack)
    assert ack.get("applied") == n_ops - len(expect), \
        "%s: expected applied=%d (the valid ops still apply), got ack %r" % (
            what, n_ops - len(expect), ack)
    assert "err" not in ack, "%s: err is only for a batch where nothing " \
        "applied, got %r" % (what, ack)


def _site_recs(srv, site="s1"):
    recs = {}
    cursor = 0
    for _ in range(50):
        r = sync_raw(srv, srv.admin_token, pull={"site/" + site: cursor},
                     limit=10000)
        assert r.status == 200, "admin pull: expected 200, got %r" % r
        b = r.body["buckets"]["site/" + site]
        for rec in b.get("recs", []):
            recs[(rec["c"], rec["id"])] = rec["f"]
        cursor = b["cursor"]
        if not b.get("more"):
            return recs
    raise AssertionError("admin pull of site/%s never ended (more stayed "
                         "true for 50 pages)" % site)


def test_bad_msgpack_garbage_body(ctx):
    srv = _srv(ctx)
    for what, raw in [("byte 0xc1", b"\xc1"),
                      ("text", b"hello, this is not msgpack"),
                      ("trailing bytes", pack(_sync_body()) + b"\x00\x01")]:
        check_err(_post_sync_bytes(srv, raw), 400, "BAD_MSGPACK",
                  "sync body %s" % what)
    healthy(srv, "after garbage bodies")


def test_bad_msgpack_truncated(ctx):
    srv = _srv(ctx)
    full = pack(_sync_body(push=[mkbatch([_zone("zt1")])]))
    for cut in (1, 5, len(full) // 2):
        check_err(_post_sync_bytes(srv, full[:-cut]), 400, "BAD_MSGPACK",
                  "sync body truncated by %d bytes" % cut)
    healthy(srv, "after truncated bodies")


def test_bad_request_shapes(ctx):
    srv = _srv(ctx)
    check_err(_post_sync_bytes(srv, pack([1, 2, 3])), 400, "BAD_REQUEST",
              "sync body that is a msgpack array, not a map")
    check_err(_post_sync_bytes(srv, pack("just a string")), 400, "BAD_REQUEST",
              "sync body that is a msgpack string")
    check_err(_post_sync_bytes(srv, pack(_sync_body(push={"a": 1}))), 400,
              "BAD_REQUEST", "sync with push a map, not an array")
    check_err(_post_sync_bytes(srv, pack(_sync_body(push="x"))), 400,
              "BAD_REQUEST", "sync with push a string, not an array")
    check_err(_post_sync_bytes(srv, pack(_sync_body(pull=[1]))), 400,
              "BAD_REQUEST", "sync with pull an array, not a map")
    healthy(srv, "after malformed requests")


def test_unsupported_version(ctx):
    srv = _srv(ctx)
    r = _post_sync_bytes(srv, pack(_sync_body(v=2)))
    check_err(r, 400, "UNSUPPORTED_VERSION", "sync with v: 2")


def test_unauthorized_and_forbidden(ctx):
    srv = _srv(ctx)
    check_err(_post_sync_bytes(srv, pack(_sync_body()), token="nope"), 401,
              "UNAUTHORIZED", "sync with an unknown token")
    g = mk_device(srv, "s1", "g1", "guard")
    check_err(post(srv, "/v1/admin/enroll-codes", {"site": "s1"}, g.token),
              403, "FORBIDDEN", "guard session on admin enroll-codes")


def test_too_large_batches_per_request(ctx):
    srv = _srv(ctx)
    ok = [mkbatch([_zone("b%d" % i)]) for i in range(64)]
    r = _post_sync_bytes(srv, pack(_sync_body(push=ok)), timeout=30)
    assert r.status == 200 and len(r.body.get("acks", [])) == 64, \
        "64 batches (the limit) must be accepted with 64 acks, got %r" % r
    over = [mkbatch([_zone("c%d" % i)]) for i in range(65)]
    check_err(_post_sync_bytes(srv, pack(_sync_body(push=over)), timeout=30),
              413, "TOO_LARGE", "65 batches in one request")
    recs = _site_recs(srv)
    assert not any(("zone", "c%d" % i) in recs for i in range(65)), \
        "nothing of a refused 65-batch request may be applied"
    healthy(srv, "after 65 batches")


def test_too_large_ops_per_batch(ctx):
    srv = _srv(ctx)
    over = [_zone("o%d" % i) for i in range(5001)]
    check_err(_post_sync_bytes(srv, pack(_sync_body(push=[mkbatch(over)])),
                               timeout=30),
              413, "TOO_LARGE", "5001 ops in one batch")
    ok = [_zone("p%d" % i) for i in range(5000)]
    r = _post_sync_bytes(srv, pack(_sync_body(push=[mkbatch(ok)])), timeout=60)
    assert r.status == 200 and r.body["acks"][0].get("applied") == 5000, \
        "5000 ops (the limit) in one batch must apply, got %r" % (
            r.body["acks"] if r.status == 200 else r)
    recs = _site_recs(srv)
    assert ("zone", "o0") not in recs, \
        "nothing of a refused 5001-op batch may be applied"
    healthy(srv, "after 5001 ops")


def test_too_large_body_over_4mib(ctx):
    srv = _srv(ctx)
    body = pack(_sync_body(pad=b"\x00" * (4 * 1024 * 1024 + 1024)))
    r = _post_sync_bytes(srv, body, timeout=30)
    check_err(r, 413, "TOO_LARGE", "sync body of %d bytes (> 4 MiB)" %
              len(body))
    healthy(srv, "after a > 4 MiB body")


def test_too_large_op_65_fields_rest_applies(ctx):
    srv = _srv(ctx)
    f65 = {"site": "s1", "name": "n"}
    f65.update(("k%02d" % i, i) for i in range(63))
    assert len(f65) == 65
    f64 = {"site": "s1", "name": "n"}
    f64.update(("k%02d" % i, i) for i in range(62))
    assert len(f64) == 64
    ops = [_zone("f0"), mkop("zone", "f1", f65), _zone("f2"),
           mkop("zone", "f3", f64)]
    ack = push1(srv, srv.admin_token, ops, what="65 fields")
    # 64 fields is within the count limit: the unknown names then fail
    _check_rej(ack, {1: "TOO_LARGE", 3: "UNKNOWN_FIELD"}, 4,
               "op with 65 fields (and one with 64 unknown-named fields)")
    recs = _site_recs(srv)
    assert ("zone", "f0") in recs and ("zone", "f2") in recs and \
        ("zone", "f1") not in recs, \
        "valid ops beside the 65-field op must be stored, it must not: %r" % (
            sorted(recs))


def test_too_large_op_long_string(ctx):
    srv = _srv(ctx)
    ops = [_zone("l0", name="x" * (64 * 1024 + 1)), _zone("l1"),
           _zone("l2", name="y" * (64 * 1024))]
    ack = push1(srv, srv.admin_token, ops, what="long string")
    _check_rej(ack, {0: "TOO_LARGE"}, 3,
               "op with a 64 KiB + 1 string (64 KiB exactly is allowed)")
    recs = _site_recs(srv)
    assert recs.get(("zone", "l2"), {}).get("name") == "y" * 65536, \
        "the 64 KiB name must be stored whole"


def test_unsupported_media_type(ctx):
    srv = _srv(ctx)
    body = pack(_sync_body())
    r = _post_sync_bytes(srv, body, headers={"Content-Type": "text/plain"})
    check_err(r, 415, "UNSUPPORTED_MEDIA_TYPE",
              "sync with Content-Type text/plain")
    r = _post_sync_bytes(srv, body, headers={"Content-Encoding": "br"})
    check_err(r, 415, "UNSUPPORTED_MEDIA_TYPE", "sync with Content-Encoding br")
    r = _post_sync_bytes(srv, body, headers={"Content-Type": "application/json"})
    check_err(r, 415, "UNSUPPORTED_MEDIA_TYPE",
              "sync with Content-Type application/json")
    healthy(srv, "after 415s")


def test_not_found_and_method_not_allowed(ctx):
    srv = _srv(ctx)
    check_err(raw_http(srv, "GET", "/v1/nope", token=srv.admin_token), 404,
              "NOT_FOUND", "GET /v1/nope")
    check_err(raw_http(srv, "GET", "/nothing/here", token=srv.admin_token),
              404, "NOT_FOUND", "GET /nothing/here")
    check_err(raw_http(srv, "GET", "/v1/sync", token=srv.admin_token), 405,
              "METHOD_NOT_ALLOWED", "GET /v1/sync")
    check_err(raw_http(srv, "GET", "/v1/enroll"), 405, "METHOD_NOT_ALLOWED",
              "GET /v1/enroll")
    check_err(raw_http(srv, "DELETE", "/v1/login", token=srv.admin_token),
              405, "METHOD_NOT_ALLOWED", "DELETE /v1/login")
    check_err(raw_http(srv, "PUT", "/v1/sync", pack(_sync_body()),
                       {"Content-Type": "application/msgpack"},
                       srv.admin_token), 405, "METHOD_NOT_ALLOWED",
              "PUT /v1/sync")
    check_err(raw_http(srv, "POST", "/v1/blobs/" + "ab" * 32, b"x",
                       {"Content-Type": "application/octet-stream"},
                       srv.admin_token), 405, "METHOD_NOT_ALLOWED",
              "POST /v1/blobs/<sha256>")


def test_per_op_unknown_collection_field_bad_type(ctx):
    srv = _srv(ctx)
    deep5 = [[[[["x"]]]]]
    ops = [mkop("nope", "u0", {"name": "a"}),          # 0 UNKNOWN_COLLECTION
           _zone("u1"),                                 # 1 ok
           _zone("u2", nope=1),                         # 2 UNKNOWN_FIELD
           _zone("u3", name=5),                         # 3 BAD_TYPE
           mkop("site", "s1", {"households": "many"}),  # 4 BAD_TYPE
           mkop("standard", "u5", {"site": "s1", "title": "t",
                                   "checklist": deep5}),  # 5 BAD_TYPE (depth)
           mkop("staff", "u6", {"site": "s1", "name": "x",
                                "role": "pilot"}),      # 6 BAD_TYPE (enum)
           _zone("u7", name={"a": {"b": {"c": {"d": {"e": 1}}}}}),  # 7
           _zone("u8")]                                 # 8 ok
    ack = push1(srv, srv.admin_token, ops, what="per-op validation")
    _check_rej(ack, {0: "UNKNOWN_COLLECTION", 2: "UNKNOWN_FIELD",
                     3: "BAD_TYPE", 4: "BAD_TYPE", 5: "BAD_TYPE",
                     6: "BAD_TYPE", 7: "BAD_TYPE"}, 9,
               "unknown collection / unknown field / wrong types / "
               "5-deep value / bad enum")
    recs = _site_recs(srv)
    assert ("zone", "u1") in recs and ("zone", "u8") in recs, \
        "the valid ops of the batch must be stored: %r" % sorted(recs)
    for bad in ("u2", "u3", "u7"):
        assert ("zone", bad) not in recs, "rejected op zone/%s stored" % bad
    assert recs[("site", "s1")].get("households") == 120, \
        "a rejected op must not change the record: %r" % recs[("site", "s1")]


def test_per_op_bad_id(ctx):
    srv = _srv(ctx)
    ph = "PLACEHOLDERXYZ"
    ops = [_zone(""),                 # 0 empty
           _zone("a" * 129),          # 1 129 bytes
           _zone("a/b"),              # 2 '/'
           _zone(ph),                 # 3 invalid UTF-8 (patched below)
           _zone("a" * 128),          # 4 ok: 128 bytes
           _zone("Az09._:-"),         # 5 ok: every allowed class
           _zone("a b"),              # 6 space
           _zone(u"caf\u00e9")]       # 7 non-ASCII UTF-8
    raw = pack(_sync_body(push=[mkbatch(ops)]))
    needle = b"\xae" + ph.encode()    # fixstr of 14 bytes
    assert raw.count(needle) == 1
    raw = raw.replace(needle, b"\xa3\xff\xfe\x80")
    r = _post_sync_bytes(srv, raw)
    assert r.status == 200 and len(r.body.get("acks", [])) == 1, \
        "sync with bad ids: expected 200 and one ack, got %r" % r
    _check_rej(r.body["acks"][0], {0: "BAD_ID", 1: "BAD_ID", 2: "BAD_ID",
                                   3: "BAD_ID", 6: "BAD_ID", 7: "BAD_ID"}, 8,
               "ids: empty, 129 bytes, '/', invalid UTF-8, space, non-ASCII")
    recs = _site_recs(srv)
    assert ("zone", "a" * 128) in recs and ("zone", "Az09._:-") in recs, \
        "valid ids (128 bytes; [A-Za-z0-9._:-]) must be stored"


def _nest(depth, leaf=1):
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


def test_nesting_over_32_refused_whole(ctx):
    srv = _srv(ctx)
    r = _post_sync_bytes(srv, pack(_sync_body(x=_nest(40))))
    check_err(r, 400, "BAD_MSGPACK", "message with an array nested 40 deep")
    deep = pack(_sync_body(push=[mkbatch([_zone("n1", name=_nest(40))])]))
    check_err(_post_sync_bytes(srv, deep), 400, "BAD_MSGPACK",
              "op value nested 40 deep (whole message refused)")
    m = {}
    for _ in range(100):
        m = {"k": m}
    check_err(_post_sync_bytes(srv, pack(_sync_body(x=m))), 400, "BAD_MSGPACK",
              "maps nested 100 deep")
    very = b"\x91" * 100000 + b"\xc0"     # 100k nested arrays
    check_err(_post_sync_bytes(srv, very), 400, "BAD_MSGPACK",
              "100000 nested arrays")
    assert ("zone", "n1") not in _site_recs(srv), \
        "nothing of a refused message may be applied"
    healthy(srv, "after deep nesting")


def test_huge_declared_count_refused_fast(ctx):
    srv = _srv(ctx)
    hdr = pack({"v": 1, "hlc": hlc_of(now_ms())})
    prefix = b"\x83" + hdr[1:] + pack("push")   # map of 3, third value follows
    cases = [("array32 2^32-1 alone", b"\xdd\xff\xff\xff\xff"),
             ("map32 2^32-1 alone", b"\xdf\xff\xff\xff\xff"),
             ("array32 2^32-1 as push", prefix + b"\xdd\xff\xff\xff\xff"),
             ("map32 2^32-1 as push", prefix + b"\xdf\xff\xff\xff\xff"),
             ("str32 4 GiB as push", prefix + b"\xdb\xff\xff\xff\xff"),
             ("bin32 4 GiB as push", prefix + b"\xc6\xff\xff\xff\xff"),
             ("array32 2^32-1 with a few elements",
              prefix + b"\xdd\xff\xff\xff\xff" + b"\xc0" * 100)]
    for what, raw in cases:
        t = time.monotonic()
        r = _post_sync_bytes(srv, raw, timeout=10)
        dt = time.monotonic() - t
        check_err(r, 400, "BAD_MSGPACK", what)
        assert dt < 2.0, "%s: refused only after %.2f s (expected < 2 s)" % (
            what, dt)
    healthy(srv, "after huge declared counts")


def test_limit_above_max_accepted(ctx):
    srv = _srv(ctx)
    for lim in (10000, 10001, 1000000, 2 ** 32 - 1):
        r = sync_raw(srv, srv.admin_token, pull={}, limit=lim)
        assert r.status == 200 and isinstance(r.body, dict) and \
            "buckets" in r.body, "limit %d: expected 200 (treated as " \
            "10000), got %r" % (lim, r)


def test_server_survives_every_error(ctx):
    srv = _srv(ctx)
    tok = srv.admin_token
    bads = [b"\xc1", pack([1]), pack(_sync_body(v=2)), b"\xdd\xff\xff\xff\xff",
            pack(_sync_body(x=_nest(64))), pack(_sync_body(push=7)),
            pack(_sync_body(push=[{"batch": b"short", "ops": []}])),
            pack(_sync_body(push=[{"batch": os.urandom(16), "ops": 5}])),
            pack(_sync_body(push=[{"ops": []}])),
            pack(_sync_body(push=[mkbatch([{"c": "zone"}])])),
            pack(_sync_body(push=[mkbatch([{"c": 1, "id": 2, "f": 3}])])),
            pack(_sync_body(hlc="x", limit=-1, dev=5)),
            pack({"v": 1}), pack({}), pack(None), b"\x00"]
    for raw in bads:
        r = _post_sync_bytes(srv, raw, token=tok)
        assert r.status is not None and r.status < 500, \
            "body %r: expected a 2xx/4xx answer, got %r" % (raw[:40], r)
        if r.status >= 400:
            assert isinstance(r.body, dict) and \
                isinstance(r.body.get("error"), str) and \
                isinstance(r.body.get("msg"), str), \
                "body %r: error answers carry {error, msg}, got %r" % (
                    raw[:40], r)
    healthy(srv, "after a string of bad requests")
    ack = push1(srv, tok, [_zone("alive")], what="push after errors")
    assert ack.get("applied") == 1, "a good push after the errors must " \
        "apply, got %r" % ack


def test_error_bodies_json_unless_msgpack_spoken(ctx):
    """issue 11: a request that sent a msgpack body or whose Accept names
    msgpack gets msgpack errors as before; any other (a browser, curl
    without a body) gets JSON, including 401 and 404."""
    import json
    srv = _srv(ctx)

    def form(r):
        ctype = r.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            return "json", json.loads(r.raw)
        if ctype.startswith("application/msgpack"):
            from harness import unpack
            return "msgpack", unpack(r.raw)
        return ctype, r.raw

    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    cases = [
        # (method, path, body, headers, token, status, code, form)
        ("GET", "/v1/nope", None, {}, None, 404, "NOT_FOUND", "json"),
        ("GET", "/v1/nope", None, browser, None, 404, "NOT_FOUND", "json"),
        ("GET", "/v1/reports/devices/s1", None, {}, None, 401,
         "UNAUTHORIZED", "json"),
        ("GET", "/v1/blobs/" + "ab" * 32, None, {}, "f" * 64, 401,
         "UNAUTHORIZED", "json"),
        ("GET", "/v1/sync", None, browser, None, 405, "METHOD_NOT_ALLOWED",
         "json"),
        ("POST", "/v1/sync", b"hello", {"Content-Type": "text/plain"},
         srv.admin_token, 415, "UNSUPPORTED_MEDIA_TYPE", "json"),
        # msgpack spoken: as today
        ("POST", "/v1/sync", pack(_sync_body()),
         {"Content-Type": "application/msgpack"}, None, 401, "UNAUTHORIZED",
         "msgpack"),
        ("POST", "/v1/sync", b"\xc1", {"Content-Type": "application/msgpack"},
         srv.admin_token, 400, "BAD_MSGPACK", "msgpack"),
        ("GET", "/v1/nope", None, {"Accept": "application/msgpack"}, None, 404,
         "NOT_FOUND", "msgpack"),
        ("GET", "/v1/reports/devices/s1", None,
         {"Accept": "application/msgpack"}, None, 401, "UNAUTHORIZED",
         "msgpack"),
        # a msgpack body but JSON asked for: JSON
        ("POST", "/v1/sync", pack(_sync_body()),
         {"Content-Type": "application/msgpack", "Accept": "application/json"},
         None, 401, "UNAUTHORIZED", "json"),
    ]
    for method, path, body, hdrs, tok, status, code, want in cases:
        r = raw_http(srv, method, path, body, hdrs, tok)
        what = "%s %s %r" % (method, path, hdrs)
        assert r.status == status, "%s: %s %r" % (what, r.status, r.raw[:200])
        got, b = form(r)
        assert got == want, "%s: error body is %s, want %s: %r" % (
            what, got, want, r.raw[:200])
        assert b["error"] == code and isinstance(b["msg"], str) and b["msg"], \
            "%s: %r" % (what, b)
    healthy(srv, "after the error-format cases")
