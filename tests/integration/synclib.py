"""Helpers the sync integration tests share: stamps, ops and batches,
checked pushes and pulls, and shortcuts that set up sites, staff and
enrolled, logged-in devices.  Generic HTTP, WebSocket, /metrics and server
helpers live in harness.py.

Two families, each under the names its test files have always used (so the
test bodies did not change when the helpers moved here).  Test files import
what they use by name (`from synclib import _op, _sync`); `from synclib
import *` gets every name below, the underscored ones too (__all__).

Checked-sync family (test_sync_merge, test_scope, test_paging,
test_evidence, test_permissions, test_convergence).  Requests go through
harness.req(); _sync() asserts HTTP 200 and the keys every sync response
must have, and one ack per pushed batch, in push order.
    SEC MIN HOUR DAY                  ms
    _hlc(ms, counter=0) _wall(hlc)    HLC <-> wall ms (counter not masked)
    _stamp()                          real-clock HLC, strictly increasing
                                      across every call in this process
    _op(c, id, f, s=None) _batch(ops, by=None, bid=None)
    _sync(srv, token, push, pull, limit, dev, hlc, what) -> response map
    _push(srv, token, ops, by, what) -> (ack, response)
    _push_ok(...)  every op applied, no dup      _admin(srv, ops)
    _rej(ack) -> {i: code}   _rej_entry(ack, i) -> rej entry or None
    _pull_all(srv, token, cursors, limit) -> {recs, gone, cursors, last,
                                              responses}
    _get(srv, token, bucket, c, id) -> record or None   _stamps(rec)
    _site(site) _staff(site, sid, role, **f) _shift(site, shid, role,
    starts, ends, staff, lead, route) _task(site, tid, shift, title, **f)
                                      ops for admin setup
    _device(srv, site, staff, role, pin) -> harness.Device

Raw-socket family (test_auth, test_transport, test_errors,
test_durability, test_blobs_live_metrics).  Requests go through
harness.raw_http() (exact headers, early answers read) and return a
harness.RawResp; every shortcut asserts what it needs and names `what`.
    PIN                               "1234", the default PIN
    post(srv, path, obj, token, headers, timeout)  msgpack POST
    sync_raw(srv, token, push, pull, limit, headers, **extra)
    mkop(c, id, fields, s=None)       s defaults to hlc_of(now_ms())
    mkbatch(ops, bid=None, by=None)
    check_err(r, status, code, what)  HTTP status and {error: code, msg}
    push1(srv, token, ops, bid, by, what) -> the one ack
    admin_ok(srv, ops, what)          all applied
    mk_site(srv, site) mk_staff(srv, site, sid, role, active, pin)
    new_code(srv, site, role, uses, ttl_s) -> code
    enroll_raw(srv, code, name) -> RawResp
    enroll_ok(srv, code, name) -> (device, device token)
    login_raw(srv, dtok, staff, pin) -> RawResp
    login_ok(srv, dtok, staff, pin) -> the login map
    mk_device(srv, site, staff, role, pin, make_staff) -> Dev(.device .dtok
                                      .token .staff .site .role)
    healthy(srv, what)                GET /healthz answers 200
"""

import os

import harness as H
from harness import hlc_of, now_ms, pack, raw_http

__all__ = [
    # checked-sync family
    "SEC", "MIN", "HOUR", "DAY", "_hlc", "_wall", "_stamp", "_op", "_batch",
    "_sync", "_rej", "_rej_entry", "_push", "_push_ok", "_admin",
    "_pull_all", "_get", "_stamps", "_staff", "_shift", "_site", "_task",
    "_device",
    # raw-socket family
    "PIN", "post", "sync_raw", "mkop", "mkbatch", "check_err", "push1",
    "admin_ok", "mk_site", "mk_staff", "new_code", "enroll_raw", "enroll_ok",
    "login_raw", "login_ok", "Dev", "mk_device", "healthy",
]


# ------------------------------------------------- checked-sync family ---

SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR


def _hlc(ms, counter=0):
    return (int(ms) << 16) | int(counter)


def _wall(h):
    return int(h) >> 16


_last_stamp = [0]


def _stamp():
    """A stamp from the real clock, strictly increasing across every call in
    this process, so two writes of one test to the same field never tie."""
    s = max(_hlc(H.now_ms()), _last_stamp[0] + 1)
    _last_stamp[0] = s
    return s


def _op(c, id_, f, s=None):
    return {"c": c, "id": id_, "f": dict(f), "s": _stamp() if s is None else int(s)}


def _batch(ops, by=None, bid=None):
    b = {"batch": bid if bid is not None else os.urandom(16), "ops": list(ops)}
    if by is not None:
        b["by"] = by
    return b


def _sync(srv, token, push=None, pull=None, limit=None, dev=None, hlc=None,
          what="sync"):
    """POST /v1/sync with exactly the body given (no defaults added but v, hlc,
    push and pull); checks the parts every response must have."""
    body = {"v": 1, "hlc": _hlc(H.now_ms()) if hlc is None else int(hlc),
            "push": list(push or []), "pull": dict(pull or {})}
    if limit is not None:
        body["limit"] = limit
    if dev is not None:
        body["dev"] = dev
    r = H.req(srv, "POST", "/v1/sync", body=body, token=token)
    assert r.status == 200, "%s: POST /v1/sync answered HTTP %s: %r" % (
        what, r.status, r.body)
    b = r.body
    assert isinstance(b, dict), "%s: sync response is not a map: %r" % (what, b)
    for k in ("now", "hlc", "store", "acks", "buckets", "scope"):
        assert k in b, "%s: sync response lacks %r (keys %s)" % (what, k, sorted(b))
    assert isinstance(b["now"], int) and isinstance(b["hlc"], int), \
        "%s: now/hlc not integers: %r %r" % (what, b["now"], b["hlc"])
    acks = b["acks"]
    assert len(acks) == len(body["push"]), \
        "%s: %d batches pushed, %d acks back: %r" % (
            what, len(body["push"]), len(acks), acks)
    for i, (a, bt) in enumerate(zip(acks, body["push"])):
        assert a.get("batch") == bt["batch"], \
            "%s: ack %d is for batch %r, expected %r (acks come in push order)" % (
                what, i, a.get("batch"), bt["batch"])
    return b


def _rej(ack):
    """{op index: code} of an ack's rejections."""
    return {r["i"]: r["code"] for r in (ack.get("rej") or [])}


def _rej_entry(ack, i):
    for r in ack.get("rej") or []:
        if r["i"] == i:
            return r
    return None


def _push(srv, token, ops, by=None, what="push", **kw):
    b = _sync(srv, token, push=[_batch(ops, by=by)], what=what, **kw)
    return b["acks"][0], b


def _push_ok(srv, token, ops, by=None, what="push", **kw):
    ack, b = _push(srv, token, ops, by=by, what=what, **kw)
    assert not ack.get("rej") and not ack.get("err"), \
        "%s: ops rejected: err=%r rej=%r" % (what, ack.get("err"), ack.get("rej"))
    assert ack.get("applied") == len(ops), \
        "%s: applied=%r, expected %d" % (what, ack.get("applied"), len(ops))
    assert not ack.get("dup"), "%s: fresh batch acked dup: %r" % (what, ack)
    return b


def _admin(srv, ops, what="admin setup"):
    """Push ops with the admin token (5000 ops a batch), all must apply."""
    ops = list(ops)
    batches = [_batch(ops[i:i + 5000]) for i in range(0, len(ops), 5000)]
    for j in range(0, len(batches), 64):
        part = batches[j:j + 64]
        b = _sync(srv, srv.admin_token, push=part, what=what)
        for bt, ack in zip(part, b["acks"]):
            assert not ack.get("rej") and not ack.get("err"), \
                "%s: admin ops rejected: err=%r rej=%r" % (
                    what, ack.get("err"), (ack.get("rej") or [])[:5])
            assert ack.get("applied") == len(bt["ops"]), \
                "%s: applied %r of %d" % (what, ack.get("applied"), len(bt["ops"]))


def _pull_all(srv, token, cursors=None, limit=None, what="pull", rounds=400):
    """Pull until no bucket has more.  Returns {"recs": {bucket: {(c, id): rec}},
    "gone": {bucket: set((c, id))}, "cursors": {...}, "last": last response,
    "responses": [...]}."""
    cursors = dict(cursors or {})
    recs, gone, responses = {}, {}, []
    for _ in range(rounds):
        b = _sync(srv, token, pull=cursors, limit=limit, what=what)
        responses.append(b)
        more = False
        for name, bk in b["buckets"].items():
            if bk.get("reset"):
                recs[name], gone[name] = {}, set()
            rs, gs = recs.setdefault(name, {}), gone.setdefault(name, set())
            for r in bk.get("recs") or []:
                key = (r["c"], r["id"])
                rs[key] = r
                gs.discard(key)
            for g in bk.get("gone") or []:
                key = tuple(g)
                gs.add(key)
                rs.pop(key, None)
            cursors[name] = bk["cursor"]
            more = more or bool(bk.get("more"))
        for d in b.get("drop") or []:
            cursors.pop(d, None)
        if not more:
            return {"recs": recs, "gone": gone, "cursors": cursors, "last": b,
                    "responses": responses}
    raise AssertionError("%s: still 'more' after %d pulls" % (what, rounds))


def _get(srv, token, bucket, c, id_, what="read back"):
    """The record (c, id) as pulled from `bucket` from 0, or None."""
    got = _pull_all(srv, token, cursors={bucket: 0}, what=what)
    return got["recs"].get(bucket, {}).get((c, id_))


def _stamps(rec):
    """A record's stamps as {field: (hlc, origin)}."""
    return {k: (int(v[0]), v[1]) for k, v in (rec.get("s") or {}).items()}


def _staff(site, sid, role, **extra):
    f = {"site": site, "name": "Staff " + sid, "role": role, "active": True}
    f.update(extra)
    return _op("staff", sid, f)


def _shift(site, shid, role, starts, ends, staff, lead=None, route=None):
    f = {"site": site, "role": role, "starts": int(starts), "ends": int(ends),
         "staff": list(staff)}
    if lead is not None:
        f["lead"] = lead
    if route is not None:
        f["route"] = route
    return _op("shift", shid, f)


def _site(site):
    return _op("site", site, {"name": "Site " + site, "tz": "Asia/Shanghai",
                              "households": 480})


def _task(site, tid, shift, title="Sweep stairwell 1", **extra):
    f = {"site": site, "shift": shift, "title": title, "status": "open"}
    f.update(extra)
    return _op("task", tid, f)


def _device(srv, site, staff, role, pin="1234"):
    """A device enrolled for `site` with a session of `staff` (.device,
    .device_token, .token)."""
    return H.device_for(srv, site, staff, role, pin=pin)


# --------------------------------------------------- raw-socket family ---

PIN = "1234"


def post(srv, path, obj, token=None, headers=None, timeout=15.0):
    h = {"Content-Type": "application/msgpack"}
    h.update(headers or {})
    return raw_http(srv, "POST", path, pack(obj), h, token, timeout)


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
    r = raw_http(srv, "GET", "/healthz", timeout=5)
    assert r.status == 200, "%s: /healthz expected 200 (server alive), " \
        "got %r" % (what, r)
