"""Integration tests: acked data survives kill -9; acks only after fdatasync; a failing disk (DESIGN.md section 4)."""
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
def _pull_all(srv, site="s1"):
    """Every record of bucket site/<site> as {(c, id): fields}, paging."""
    recs, cursor = {}, 0
    for _ in range(100):
        r = sync_raw(srv, srv.admin_token, pull={"site/" + site: cursor},
                     limit=10000)
        assert r.status == 200 and isinstance(r.body, dict), \
            "admin pull: expected 200, got %r" % r
        b = r.body["buckets"].get("site/" + site)
        assert b is not None, "admin pull: bucket site/%s missing from %r" % (
            site, sorted(r.body["buckets"]))
        for rec in b.get("recs", []):
            recs[(rec["c"], rec["id"])] = rec["f"]
        for c, i in b.get("gone", []):
            recs.pop((c, i), None)
        cursor = b["cursor"]
        if not b.get("more"):
            return recs, r.body
    raise AssertionError("pull of site/%s did not end in 100 pages" % site)


def _zone(id, name):
    return mkop("zone", id, {"site": "s1", "name": name})


def test_kill9_after_ack_keeps_data_20_rounds(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    _, first = _pull_all(srv)
    store = first.get("store")
    expect = {}
    for rnd in range(20):
        ops = [_zone("r%02d-%d" % (rnd, k), "round %d op %d" % (rnd, k))
               for k in range(3)]
        ops.append(_zone("counter", "after round %d" % rnd))
        bid = os.urandom(16)
        ack = push1(srv, srv.admin_token, ops, bid=bid,
                    what="round %d push" % rnd)
        assert ack.get("applied") == 4 and not ack.get("dup") and \
            not ack.get("rej") and "err" not in ack, \
            "round %d: expected 4 ops applied, got %r" % (rnd, ack)
        for o in ops:
            expect[("zone", o["id"])] = o["f"]["name"]
        srv.kill9()
        srv.start()
        recs, body = _pull_all(srv)
        missing = [k for k, v in expect.items()
                   if recs.get(k, {}).get("name") != v]
        assert not missing, "round %d: after kill -9 and restart, acked " \
            "data is missing or old: %r (have counter=%r)" % (
                rnd, missing[:5], recs.get(("zone", "counter")))
        assert body.get("store") == store, "round %d: the store id changed " \
            "across a restart (%r -> %r)" % (rnd, store, body.get("store"))
        again = push1(srv, srv.admin_token, ops, bid=bid,
                      what="round %d resend" % rnd)
        assert again.get("dup") is True and again.get("applied") == 4, \
            "round %d: the acked batch resent after the crash must come " \
            "back dup: true with its stored ack, got %r" % (rnd, again)


test_kill9_after_ack_keeps_data_20_rounds.timeout = 120


def _push_timed(srv, ops, bid=None):
    t0 = time.monotonic_ns()
    r = sync_raw(srv, srv.admin_token, push=[mkbatch(ops, bid)])
    t1 = time.monotonic_ns()
    return r, t0, t1


def test_ack_only_after_fdatasync(ctx):
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    for i in range(8):
        before = len(srv.syncs())
        r, t0, t1 = _push_timed(srv, [_zone("fs%d" % i, "n%d" % i),
                                      _zone("fs%d-b" % i, "m%d" % i)])
        assert r.status == 200 and r.body["acks"][0].get("applied") == 2, \
            "push %d: expected 2 ops applied, got %r" % (i, r)
        calls = srv.syncs()[before:]
        inside = [c for c in calls if c.ok and t0 <= c.t0 and c.t1 <= t1]
        assert inside, "push %d: the ack arrived without any successful " \
            "fdatasync/fsync/msync between sending the request and " \
            "receiving the ack (new sync calls: %r)" % (i, calls)


def test_ack_after_sync_many_batches_one_request(ctx):
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    before = len(srv.syncs())
    batches = [mkbatch([_zone("mb%d" % i, "x")]) for i in range(10)]
    t0 = time.monotonic_ns()
    r = sync_raw(srv, srv.admin_token, push=batches)
    t1 = time.monotonic_ns()
    assert r.status == 200 and [a.get("applied") for a in r.body["acks"]] \
        == [1] * 10, "10 batches: expected 10 acks applied=1, got %r" % r
    calls = [c for c in srv.syncs()[before:]
             if c.ok and t0 <= c.t0 and c.t1 <= t1]
    assert calls, "10 acked batches without any sync call in the request"


def test_failing_disk_gives_unavailable_then_resend_applies(ctx):
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    ack = push1(srv, srv.admin_token, [_zone("keep", "acked before")],
                what="push before the disk fails")
    assert ack.get("applied") == 1, "expected the first push applied: %r" % (
        ack)
    srv.fail_syncs(True)
    try:
        bid = os.urandom(16)
        ops = [_zone("late", "written while failing"),
               _zone("keep2", "also")]
        r = sync_raw(srv, srv.admin_token, push=[mkbatch(ops, bid)],
                     pull={})
        assert r.status == 200, "a push while the disk fails: expected HTTP " \
            "200 (per-batch error), got %r" % r
        acks = r.body.get("acks") or []
        assert len(acks) == 1 and acks[0].get("err") == "UNAVAILABLE" and \
            acks[0].get("applied") == 0 and acks[0].get("batch") == bid, \
            "a push while the disk fails: expected ack {batch, err: " \
            "UNAVAILABLE, applied: 0}, got %r" % acks
        bk = r.body.get("buckets", {}).get("site/s1")
        assert bk is not None and any(x["id"] == "keep"
                                      for x in bk.get("recs", [])), \
            "the pull must still be served while the disk fails: %r" % (
                r.body.get("buckets"))
        assert not any(x["id"] in ("late", "keep2")
                       for x in bk.get("recs", [])), \
            "nothing of an UNAVAILABLE batch may be visible: %r" % bk
        r2 = sync_raw(srv, srv.admin_token, push=[mkbatch(ops, bid)])
        assert r2.status == 200 and \
            r2.body["acks"][0].get("err") == "UNAVAILABLE" and \
            not r2.body["acks"][0].get("dup"), \
            "a resend while still failing: expected UNAVAILABLE again, not " \
            "dup, got %r" % r2
    finally:
        srv.fail_syncs(False)
    r = sync_raw(srv, srv.admin_token, push=[mkbatch(ops, bid)])
    assert r.status == 200, "resend after the disk recovered: %r" % r
    a = r.body["acks"][0]
    assert a.get("applied") == 2 and not a.get("dup") and "err" not in a, \
        "the resent batch (the failed one was not recorded) must apply " \
        "now, not dup: got %r" % a
    recs, _ = _pull_all(srv)
    assert recs.get(("zone", "keep"), {}).get("name") == "acked before", \
        "data acked before the failure must still be there"
    assert ("zone", "late") in recs and ("zone", "keep2") in recs, \
        "the resent batch's records must be there"
    srv.kill9()
    srv.start()
    recs, _ = _pull_all(srv)
    for k in ("keep", "late", "keep2"):
        assert ("zone", k) in recs, "after kill -9 and restart, acked " \
            "record zone/%s is missing" % k
    a = push1(srv, srv.admin_token, ops, bid=bid, what="resend after crash")
    assert a.get("dup") is True, "the applied batch must be dup after " \
        "the crash: %r" % a


def test_pull_only_sync_served_while_disk_fails(ctx):
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    admin_ok(srv, [_zone("z1", "one")])
    srv.fail_syncs(True)
    try:
        for _ in range(3):
            recs, body = _pull_all(srv)
            assert ("zone", "z1") in recs, "pull while the disk fails must " \
                "serve the stored data"
        healthy(srv, "while syncs fail")
    finally:
        srv.fail_syncs(False)
    a = push1(srv, srv.admin_token, [_zone("z2", "two")],
              what="push after recovery")
    assert a.get("applied") == 1 and "err" not in a, \
        "a push after the disk recovered must apply: %r" % a


def test_concurrent_pushes_each_ack_after_its_sync(ctx):
    """Group commit: many requests at once, each ack still only after a
    sync that started after the request was sent."""
    import threading as th
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    results, errors = [], []
    lock = th.Lock()

    def worker(w):
        try:
            for k in range(6):
                ops = [_zone("c%d-%d-%d" % (w, k, j), "w%d" % w)
                       for j in range(2)]
                r, t0, t1 = _push_timed(srv, ops)
                with lock:
                    results.append((w, k, r, t0, t1))
        except Exception as e:  # reported below
            with lock:
                errors.append(repr(e))
    threads = [th.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, "concurrent pushes raised: %r" % errors[:3]
    assert len(results) == 48, "expected 48 pushes, got %d" % len(results)
    calls = [c for c in srv.syncs() if c.ok]
    for w, k, r, t0, t1 in results:
        assert r.status == 200 and r.body["acks"][0].get("applied") == 2, \
            "worker %d push %d: expected 2 applied, got %r" % (w, k, r)
        assert any(t0 <= c.t0 and c.t1 <= t1 for c in calls), \
            "worker %d push %d: acked with no successful sync call that " \
            "started after the request was sent and ended before the ack" % (
                w, k)
    recs, _ = _pull_all(srv)
    missing = [(w, k) for w, k, *_ in results
               if ("zone", "c%d-%d-0" % (w, k)) not in recs]
    assert not missing, "acked concurrent pushes missing: %r" % missing[:5]


def test_kill9_mid_stream_acked_survive_batches_atomic(ctx):
    """kill -9 while pushes are in flight: every acked batch is there after
    restart, and every batch is there whole or not at all."""
    import random
    import threading as th
    srv = ctx.server()
    mk_site(srv, "s1")
    rng = random.Random(7)
    acked, sent = set(), []
    for rnd in range(5):
        stop = th.Event()
        lock = th.Lock()

        def pusher(w):
            n = 0
            while not stop.is_set() and n < 400:
                name = "k%d-%d-%d" % (rnd, w, n)
                ops = [_zone(name + "-%d" % j, name) for j in range(3)]
                with lock:
                    sent.append(name)
                try:
                    r = sync_raw(srv, srv.admin_token, push=[mkbatch(ops)])
                except OSError:
                    return
                if r.status == 200 and r.body and \
                        r.body["acks"][0].get("applied") == 3:
                    with lock:
                        acked.add(name)
                elif r.status is None:
                    return
                n += 1
        threads = [th.Thread(target=pusher, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.15 + rng.random() * 0.25)
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(15)
        srv.start()
        recs, _ = _pull_all(srv)
        lost = [n for n in acked if ("zone", n + "-0") not in recs]
        assert not lost, "round %d: acked batches lost by kill -9: %r" % (
            rnd, sorted(lost)[:5])
        for n in sent:
            have = [("zone", "%s-%d" % (n, j)) in recs for j in range(3)]
            assert all(have) or not any(have), "round %d: batch %s is " \
                "half applied after kill -9 (ops present: %r)" % (
                    rnd, n, have)
    assert len(acked) >= 10, "too few pushes were acked to mean anything " \
        "(%d)" % len(acked)


test_kill9_mid_stream_acked_survive_batches_atomic.timeout = 120


def test_enroll_while_disk_fails_is_503_and_code_kept(ctx):
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    mk_staff(srv, "s1", "g1", "guard")
    code = new_code(srv, "s1")
    srv.fail_syncs(True)
    try:
        r = enroll_raw(srv, code, "while failing")
        check_err(r, 503, "UNAVAILABLE", "enroll while the disk fails")
        assert "token" not in r.body, "no token may be issued when it " \
            "could not be stored: %r" % r
    finally:
        srv.fail_syncs(False)
    device, dtok = enroll_ok(srv, code, "after recovery")
    login_ok(srv, dtok, "g1")
