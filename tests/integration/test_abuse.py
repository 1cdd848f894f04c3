"""Integration tests: abuse limits (issue 5; deploy/OPERATIONS.md, rate limits).

- per-device and per-address token buckets: 429 RATE_LIMITED with a
  Retry-After in whole seconds; the address is the TCP peer, or the
  right-most X-Forwarded-For entry that is not a trusted proxy when the
  peer is one (--trusted-proxy);
- login lockout after wrong PINs, per staff member (doubling) and per
  address, in the store (survives a restart), shown to the site's
  supervisors at GET /v1/reports/lockouts/<site>; while locked even the
  right PIN gets 429; one PIN check per staff member at a time;
- request bodies read against a deadline (a body trickled in is cut off
  and its worker freed); headers likewise (CivetWeb's request timeout);
- concurrent connections capped (--max-connections = CivetWeb workers);
- the defaults do not throttle a site's gateway at shift change.
Every limit is set through serve options here."""
import hashlib
import http.client
import os
import socket
import threading
import time

from harness import (Server, req, sync, check, setup_site, set_pin,
                     enroll_code, enroll, login, device_for, batch, op,
                     now_ms, pack, unpack, admin_push)

PIN = "1234"


def _err(r, status, code):
    assert r.status == status and isinstance(r.body, dict) and \
        r.body.get("error") == code, \
        "expected %d %s, got %r" % (status, code, r)


def _retry_after(r):
    v = r.headers.get("retry-after")
    assert v is not None and v.isdigit() and int(v) >= 1, \
        "a 429 carries Retry-After in whole seconds >= 1: %r" % r.headers
    return int(v)


def _login_raw(srv, dtok, staff, pin, headers=None):
    return req(srv, "POST", "/v1/login", body={"staff": staff, "pin": pin},
               token=dtok, headers=headers)


def _new_device(srv, site, role=None):
    return enroll(srv, enroll_code(srv, site, role=role), "dev")


# ---- request rates ------------------------------------------------------

def test_device_rate_limit(ctx):
    srv = ctx.server(args=["--rate-device-per-s", "1",
                           "--rate-device-burst", "5",
                           "--rate-address-per-s", "0"])
    setup_site(srv, "s1", staff=[("g1", "guard"), ("g2", "guard")])
    g = device_for(srv, "s1", "g1", "guard")   # the login took 1 token
    codes = []
    for _ in range(10):
        r = g.sync()
        codes.append(r.status)
        if r.status == 429:
            _err(r, 429, "RATE_LIMITED")
            wait = _retry_after(r)
            assert wait <= 2, "1 token a second: Retry-After %d" % wait
            break
    assert codes[:4] == [200] * 4 and codes[-1] == 429, \
        "burst 5 (one spent on login): 4 syncs pass, then 429; got %r" % codes
    # another device of the same address is not affected
    g2 = device_for(srv, "s1", "g2", "guard")
    check(g2.sync(), 200)
    # the admin token (bulk imports) is exempt from the device limit
    for _ in range(12):
        check(sync(srv, srv.admin_token), 200)
    # after Retry-After the device is served again
    time.sleep(wait + 0.1)
    check(g.sync(), 200)
    m = req(srv, "GET", "/metrics").raw.decode()
    assert 'fieldsync_limited_total{limit="device"}' in m and \
        'fieldsync_limited_total{limit="device"} 0' not in m, m[-600:]


def test_address_rate_limit_and_free_endpoints(ctx):
    srv = ctx.server(args=["--rate-address-per-s", "1",
                           "--rate-address-burst", "5",
                           "--rate-device-per-s", "0"])
    # /healthz is never limited (load balancers poll it)
    for _ in range(20):
        assert req(srv, "GET", "/healthz").status == 200
    # unknown paths, unauthenticated requests count: scanners are limited
    seen = []
    for _ in range(10):
        r = req(srv, "GET", "/no/such/path")
        seen.append(r.status)
        if r.status == 429:
            _err(r, 429, "RATE_LIMITED")
            _retry_after(r)
            break
    assert seen[:5] == [404] * 5 and seen[-1] == 429, seen
    # a forged X-Forwarded-For from an untrusted peer changes nothing
    r = req(srv, "GET", "/no/such/path",
            headers={"X-Forwarded-For": "203.0.113.50"})
    _err(r, 429, "RATE_LIMITED")
    r = req(srv, "POST", "/v1/enroll", body={"code": "x", "name": "y"})
    _err(r, 429, "RATE_LIMITED")
    assert req(srv, "GET", "/healthz").status == 200


def _xff_get(srv, *values):
    """GET /no/such/path with one X-Forwarded-For header line per value."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        c.putrequest("GET", "/no/such/path")
        for v in values:
            c.putheader("X-Forwarded-For", v)
        c.endheaders()
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def _exhaust(srv, *values):
    for _ in range(20):
        if _xff_get(srv, *values) == 429:
            return
    raise AssertionError("X-Forwarded-For %r never limited" % (values,))


def test_trusted_proxy_forwarded_for(ctx):
    srv = ctx.server(args=["--rate-address-per-s", "1",
                           "--rate-address-burst", "3",
                           "--trusted-proxy", "127.0.0.1",
                           "--trusted-proxy", "10.0.0.0/8,fd00::/8"])
    _exhaust(srv, "198.51.100.7")
    # that client is limited, another client behind the same proxy is not
    assert _xff_get(srv, "198.51.100.7") == 429
    assert _xff_get(srv, "198.51.100.8") == 404
    # the right-most untrusted entry counts: a client cannot prepend its
    # way out, in one line or in an extra header line
    assert _xff_get(srv, "198.51.100.99, 198.51.100.7") == 429
    assert _xff_get(srv, "198.51.100.99", "198.51.100.7") == 429
    # trusted hops (10.0.0.0/8) between are skipped
    assert _xff_get(srv, "198.51.100.7, 10.1.2.3") == 429
    assert _xff_get(srv, "198.51.100.9, 10.1.2.3") == 404
    # IPv6 clients count per /64
    _exhaust(srv, "2001:db8:1:2::1")
    assert _xff_get(srv, "2001:db8:1:2::abcd") == 429
    assert _xff_get(srv, "2001:db8:1:3::1") == 404
    # the proxy's own requests without the header count as the proxy
    _exhaust(srv)
    assert _xff_get(srv, "198.51.100.10") == 404


def test_bad_trusted_proxy_refused_at_start(ctx):
    srv = ctx.server()
    srv.stop()  # one server per store: the store is free again
    import subprocess
    p = subprocess.run([srv.binary, "serve"] + srv.store_args() + ["--listen",
                        "127.0.0.1:1", "--insecure-http", "--trusted-proxy",
                        "proxy.example"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    assert p.returncode != 0 and b"proxy.example" in p.stdout, p.stdout


def test_defaults_do_not_throttle_a_gateway(ctx):
    """Default limits: shift change at a site behind one NAT address.
    40 devices (all from 127.0.0.1) log in and sync 10 times each, 8 at a
    time, and one device pages through its site's 70 records one per
    request (limit 1, each page from the cursors of the last): 60 pages,
    each a new record, no 429."""
    srv = ctx.server()
    staff = [("g%d" % i, "guard") for i in range(40)]
    setup_site(srv, "s1", staff=staff)
    admin_push(srv, [op("zone", "z%02d" % i, {"site": "s1", "name": "Z%d" % i,
                                              "kind": "lobby"})
                     for i in range(30)])
    for sid, _ in staff:
        set_pin(srv, sid, PIN)
    code = enroll_code(srv, "s1", uses=40)
    devs = [enroll(srv, code, "d%d" % i)[1] for i in range(40)]
    statuses = []
    lock = threading.Lock()

    def run(i):
        out = []
        s = login(srv, devs[i], "g%d" % i, PIN)
        for _ in range(10):
            out.append(sync(srv, s["token"]).status)
        with lock:
            statuses.extend(out)

    for k in range(0, 40, 8):
        ts = [threading.Thread(target=run, args=(i,)) for i in range(k, k + 8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    s = login(srv, devs[0], "g0", PIN)
    cursors, seen = {}, []
    for _ in range(60):
        r = sync(srv, s["token"], pull=dict(cursors), limit=1)
        statuses.append(r.status)
        if r.status != 200:
            continue
        for name, b in r.body["buckets"].items():
            cursors[name] = b["cursor"]
            seen += [(name, x["id"]) for x in b["recs"]]
            seen += [(name, tuple(g)) for g in b["gone"]]
    assert len(statuses) == 460 and set(statuses) == {200}, \
        "default limits throttled normal use: %r" % sorted(set(statuses))
    assert len(seen) == 60 and len(set(seen)) == 60, \
        "60 pages of one entry each, none served twice: %r" % seen


# ---- login lockout -------------------------------------------------------

def _lock_site(ctx, *args):
    srv = ctx.server(args=list(args))
    setup_site(srv, "s1", staff=[("g1", "guard"), ("g2", "guard"),
                                 ("sup1", "supervisor")])
    setup_site(srv, "s2", staff=[("sup2", "supervisor")])
    for s in ("g1", "g2"):
        set_pin(srv, s, PIN)
    sup = device_for(srv, "s1", "sup1", "supervisor")
    sup2 = device_for(srv, "s2", "sup2", "supervisor")
    return srv, sup, sup2


def _lockouts(srv, token, site="s1", msgpack=False):
    h = {"Accept": "application/msgpack"} if msgpack else None
    return req(srv, "GET", "/v1/reports/lockouts/" + site, token=token,
               headers=h)


def test_staff_lockout_doubles_and_shows(ctx):
    srv, sup, sup2 = _lock_site(ctx, "--lockout-after", "3",
                                "--lockout-ms", "1500")
    _, dtok = _new_device(srv, "s1")
    for i in range(3):
        _err(_login_raw(srv, dtok, "g1", "9%03d" % i), 401, "UNAUTHORIZED")
    # locked: even the right PIN gets 429, without a token
    r = _login_raw(srv, dtok, "g1", PIN)
    _err(r, 429, "RATE_LIMITED")
    assert "token" not in r.body and _retry_after(r) in (1, 2), r.headers
    # another staff member on the same device and address is fine
    check(_login_raw(srv, dtok, "g2", PIN), 200)
    # the site's supervisor sees it (JSON by default, msgpack on request)
    rep = check(_lockouts(srv, sup.token), 200)
    g1 = [x for x in rep["staff"] if x["staff"] == "g1"]
    assert len(g1) == 1 and g1[0]["locked"] is True and \
        g1[0]["locked_until"] > now_ms() and g1[0]["level"] == 1 and \
        g1[0]["device"], rep
    assert not any(x["staff"] == "g2" for x in rep["staff"]), rep
    mp = check(_lockouts(srv, sup.token, msgpack=True), 200)
    assert any(x["staff"] == "g1" and x["locked"] for x in mp["staff"]), mp
    # ...and nobody else: another site's supervisor, a guard
    _err(_lockouts(srv, sup2.token), 403, "FORBIDDEN")
    rep2 = check(_lockouts(srv, sup2.token, site="s2"), 200)
    assert rep2["staff"] == [] and rep2["addresses"] == [], rep2
    g2 = device_for(srv, "s1", "g2", "guard")
    _err(_lockouts(srv, g2.token), 403, "FORBIDDEN")
    # after the lock the right PIN works again
    time.sleep(1.6)
    check(_login_raw(srv, dtok, "g1", PIN), 200)
    rep = check(_lockouts(srv, sup.token), 200)
    assert not any(x["staff"] == "g1" for x in rep["staff"]), \
        "a right PIN clears the count: %r" % rep
    # a second round of wrong PINs locks for twice as long; wrong PINs
    # while locked are not checked (no oracle) and do not extend it
    for i in range(3):
        _err(_login_raw(srv, dtok, "g1", "8%03d" % i), 401, "UNAUTHORIZED")
    for i in range(3):
        _err(_login_raw(srv, dtok, "g1", "7%03d" % i), 429, "RATE_LIMITED")
    time.sleep(1.6)
    for i in range(3):
        _err(_login_raw(srv, dtok, "g1", "6%03d" % i), 401, "UNAUTHORIZED")
    r = _login_raw(srv, dtok, "g1", PIN)
    _err(r, 429, "RATE_LIMITED")
    assert _retry_after(r) == 3, \
        "second lock in a row: 2 x 1.5 s -> Retry-After 3, got %r" % \
        r.headers.get("retry-after")
    rep = check(_lockouts(srv, sup.token), 200)
    assert [x["level"] for x in rep["staff"] if x["staff"] == "g1"] == [2]


def test_lockout_survives_restart_and_new_pin_lifts_it(ctx):
    srv, sup, _ = _lock_site(ctx, "--lockout-after", "2",
                             "--lockout-ms", "600000")
    _, dtok = _new_device(srv, "s1")
    for i in range(2):
        _err(_login_raw(srv, dtok, "g1", "9%03d" % i), 401, "UNAUTHORIZED")
    r = _login_raw(srv, dtok, "g1", PIN)
    _err(r, 429, "RATE_LIMITED")
    assert 590 <= _retry_after(r) <= 600
    srv.restart()
    r = _login_raw(srv, dtok, "g1", PIN)
    _err(r, 429, "RATE_LIMITED")
    assert _retry_after(r) > 500, "the lock must survive a restart"
    # the supervisor sets a new PIN: that lifts the lock
    set_pin(srv, "g1", "4321", token=sup.token)
    check(_login_raw(srv, dtok, "g1", "4321"), 200)


def test_address_lockout(ctx):
    """Failed logins from one address (wrong PINs spread over staff,
    unknown staff) lock the address; another address is not affected."""
    srv, sup, _ = _lock_site(ctx, "--lockout-after", "100",
                             "--lockout-address-after", "4",
                             "--lockout-ms", "600000",
                             "--trusted-proxy", "127.0.0.1")
    _, dtok = _new_device(srv, "s1")
    a = {"X-Forwarded-For": "203.0.113.5"}
    b = {"X-Forwarded-For": "203.0.113.6"}
    for staff in ("g1", "g2", "nobody-1", "sup1"):
        _err(_login_raw(srv, dtok, staff, "0000", headers=a), 401,
             "UNAUTHORIZED")
    r = _login_raw(srv, dtok, "g2", PIN, headers=a)
    _err(r, 429, "RATE_LIMITED")
    assert _retry_after(r) > 500
    check(_login_raw(srv, dtok, "g2", PIN, headers=b), 200)
    rep = check(_lockouts(srv, sup.token), 200)
    ad = [x for x in rep["addresses"] if x["address"] == "203.0.113.5"]
    assert len(ad) == 1 and ad[0]["locked"] is True, rep
    assert not any(x["address"] == "203.0.113.6" for x in rep["addresses"])


def test_concurrent_guesses_cannot_race_the_count(ctx):
    """One PIN check per staff member at a time: 12 wrong PINs sent at
    once (each check ~0.1 s) get at most `lockout-after` real checks
    (401); the rest are 429."""
    srv = ctx.server(args=["--lockout-after", "3", "--lockout-ms", "600000",
                           "--pbkdf2-iter", "300000"])
    setup_site(srv, "s1", staff=[("g1", "guard")])
    set_pin(srv, "g1", PIN)
    _, dtok = _new_device(srv, "s1")
    out = []
    lock = threading.Lock()

    def guess(i):
        r = _login_raw(srv, dtok, "g1", "5%03d" % i)
        with lock:
            out.append(r.status)

    ts = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert len(out) == 12 and set(out) <= {401, 429}, out
    assert 1 <= out.count(401) <= 3, \
        "%d PIN checks ran for a lockout after 3: %r" % (out.count(401), out)
    # one at a time now: the count goes on to exactly 3 wrong PINs
    checked = out.count(401)
    for i in range(5):
        r = _login_raw(srv, dtok, "g1", "6%03d" % i)
        if r.status == 429:
            break
        _err(r, 401, "UNAUTHORIZED")
        checked += 1
    assert checked == 3, "locked after %d wrong PINs, not 3" % checked
    _err(_login_raw(srv, dtok, "g1", PIN), 429, "RATE_LIMITED")


def test_no_pin_oracle_for_other_sites_or_roles(ctx):
    """The answer to a login never tells a right PIN from a wrong one
    unless it succeeds: staff of another site get 401 either way, and a
    role-limited device refuses other roles before the PIN is checked."""
    srv, sup, sup2 = _lock_site(ctx)
    set_pin(srv, "sup2", PIN)
    _, dtok = _new_device(srv, "s1")
    right = _login_raw(srv, dtok, "sup2", PIN)
    wrong = _login_raw(srv, dtok, "sup2", "9999")
    _err(right, 401, "UNAUTHORIZED")
    _err(wrong, 401, "UNAUTHORIZED")
    assert right.body == wrong.body
    _, gtok = _new_device(srv, "s1", role="guard")
    right = _login_raw(srv, gtok, "sup1", PIN)
    wrong = _login_raw(srv, gtok, "sup1", "9999")
    _err(right, 403, "FORBIDDEN")
    assert right.body == wrong.body and right.status == wrong.status


# ---- slow clients, connections --------------------------------------------

def _trickle(port, head, total, every, stop, result, key):
    """Send head, then one body byte every `every` s until the server
    closes (or `stop` is set).  result[key] = (seconds until closed,
    what the server said)."""
    t0 = time.monotonic()
    got = b""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(head)
        s.settimeout(every)
        for _ in range(total):
            if stop.is_set():
                break
            try:
                s.sendall(b"x")
            except OSError:
                break
            try:
                c = s.recv(4096)
                if not c:
                    break
                got += c
            except socket.timeout:
                pass
            except OSError:
                break
        s.close()
    finally:
        result[key] = (time.monotonic() - t0, got)


def test_slow_body_cut_off_and_worker_freed(ctx):
    """--request-timeout-ms 1000 and --body-min-rate 100: bodies trickled
    in at 1 and 4 bytes/s on both workers of a 2-worker server are cut off
    within the deadline (a 400 and the connection closed), and a normal
    request meanwhile is served within it."""
    srv = ctx.server(args=["--max-connections", "2", "--connection-queue",
                           "4", "--request-timeout-ms", "1000",
                           "--body-min-rate", "100"])
    setup_site(srv, "s1", staff=[("g1", "guard")])
    g = device_for(srv, "s1", "g1", "guard")
    blob = hashlib.sha256(b"x" * 5000).hexdigest()
    heads = [
        # under enroll's 4 KiB cap, so the body is read (and trickles)
        (b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: "
         b"application/msgpack\r\nContent-Length: 4000\r\n\r\n"),
        ("PUT /v1/blobs/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
         "Content-Length: 5000\r\n\r\n" % (blob, g.token)).encode(),
    ]
    stop = threading.Event()
    result = {}
    # one byte a second, and four
    ts = [threading.Thread(target=_trickle, args=(srv.port, h, 5000, every,
                                                 stop, result, i))
          for i, (h, every) in enumerate(zip(heads, (1.0, 0.25)))]
    for t in ts:
        t.start()
    time.sleep(0.3)   # both workers are now busy with tricklers
    t0 = time.monotonic()
    try:
        r = req(srv, "GET", "/healthz", timeout=10)
        served = time.monotonic() - t0
    finally:
        for t in ts:
            t.join(15)
        stop.set()
    assert r.status == 200 and served < 3.5, \
        "a normal request waited %.1f s behind two slow bodies" % served
    for i in range(2):
        took, said = result[i]
        assert took < 4.0, "trickled body %d held its worker %.1f s " \
            "(deadline: 1 s grace + 100 B/s)" % (i, took)
        assert b" 400 " in said.split(b"\r\n")[0] and b"too slowly" in said, \
            "trickled body %d: expected a 400 saying so, got %r" % (i, said)
    m = req(srv, "GET", "/metrics").raw.decode()
    assert 'fieldsync_limited_total{limit="slow_body"} 2' in m, m[-400:]
    # a body that comes at a normal pace is fine, with the same settings
    data = os.urandom(300000)
    r = req(srv, "PUT", "/v1/blobs/" + hashlib.sha256(data).hexdigest(),
            raw=data, token=g.token)
    check(r, 200)


def test_slow_headers_cut_off(ctx):
    """Headers trickled in are cut off at --request-timeout-ms."""
    srv = ctx.server(args=["--max-connections", "2",
                           "--request-timeout-ms", "1000"])
    stop = threading.Event()
    result = {}
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
    t = threading.Thread(target=_trickle, args=(srv.port, head, 100, 0.2,
                                                stop, result, 0))
    t.start()
    t.join(10)
    stop.set()
    took, said = result[0]
    assert took < 3.0, "trickled headers held a worker %.1f s" % took
    assert b"200 OK" not in said


def test_connection_cap(ctx):
    """--max-connections 2: two idle connections take both workers; a
    third client waits until the request timeout frees one (CivetWeb
    queues it, nothing is refused), then is served."""
    srv = ctx.server(args=["--max-connections", "2", "--connection-queue",
                           "4", "--request-timeout-ms", "1500",
                           "--keep-alive-ms", "1500"])
    idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            for _ in range(2)]
    try:
        time.sleep(0.2)
        t0 = time.monotonic()
        r = req(srv, "GET", "/healthz", timeout=10)
        took = time.monotonic() - t0
        assert r.status == 200
        assert 0.8 <= took <= 4.0, \
            "with both workers held the third client must wait for the " \
            "1.5 s request timeout (cap in force), and no longer; " \
            "took %.2f s" % took
        # the idle connections were closed by the server
        for s in idle:
            s.settimeout(3)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
    finally:
        for s in idle:
            s.close()
    # with the cap free again requests are immediate
    t0 = time.monotonic()
    assert req(srv, "GET", "/healthz").status == 200
    assert time.monotonic() - t0 < 0.5


def _ws_try(port, token):
    """Open /v1/live; (status, socket) -- the socket stays open on 101."""
    import base64
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /v1/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
               % (key, token)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            break
        buf += c
    status = int(buf.split(b" ")[1]) if buf else 0
    head = buf.split(b"\r\n\r\n")[0].decode("latin-1").lower()
    if status != 101:
        s.close()
    return status, s, head


def test_live_sockets_cannot_take_every_worker(ctx):
    """/v1/live sockets hold a worker each: at most 2 a device, and with
    --max-connections 8 at most 6 in all, so requests still get served."""
    srv = ctx.server(args=["--max-connections", "8"])
    staff = [("g%d" % i, "guard") for i in range(4)]
    setup_site(srv, "s1", staff=staff)
    devs = [device_for(srv, "s1", sid, "guard") for sid, _ in staff]
    open_ = []
    try:
        for d in devs[:3]:
            for _ in range(2):
                st, s, _ = _ws_try(srv.port, d.token)
                assert st == 101, st
                open_.append(s)
        st, _, head = _ws_try(srv.port, devs[0].token)
        assert st == 429 and "retry-after" in head, \
            "a third /v1/live socket of one device: %d %s" % (st, head)
        st, _, head = _ws_try(srv.port, devs[3].token)
        assert st == 503 and "retry-after" in head, \
            "a 7th /v1/live socket with 8 workers: %d %s" % (st, head)
        # the two workers left serve requests at once
        t0 = time.monotonic()
        for d in devs:
            check(d.sync(), 200)
        assert time.monotonic() - t0 < 3
    finally:
        for s in open_:
            s.close()
    # closed sockets free their places
    deadline = time.monotonic() + 5
    while True:
        st, s, _ = _ws_try(srv.port, devs[3].token)
        if st == 101 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert st == 101, st
    s.close()


def test_every_limit_is_an_option(ctx):
    import subprocess
    srv = ctx.server()
    p = subprocess.run([srv.binary, "help"], stdout=subprocess.PIPE,
                       timeout=10)
    text = p.stdout.decode()
    for o in ("--rate-device-per-s", "--rate-device-burst",
              "--rate-address-per-s", "--rate-address-burst",
              "--trusted-proxy", "--lockout-after", "--lockout-ms",
              "--lockout-max-ms", "--lockout-address-after",
              "--max-connections", "--connection-queue", "--keep-alive-ms",
              "--request-timeout-ms", "--body-min-rate", "--body-max"):
        assert o in text, "fieldsyncd help does not list %s" % o


test_defaults_do_not_throttle_a_gateway.timeout = 120
