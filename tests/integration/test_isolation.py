"""Integration tests: isolation between sites (issue 5; protocol/PROTOCOL.md,
scope and write rules).  Two sites, A ("sa") and B ("sb"), each with a supervisor, a guard,
a technician, a shift, a task with a photo, an order with photos and a
checkin.  Every endpoint is walked with site A's tokens (device, guard,
technician, supervisor sessions) against site B's things: nothing of B may
be read or written.  Endpoints that do not exist in this build (404 "no
such endpoint") cannot be checked: the test then ends as a skip naming
them (after checking every route that does exist).

Blobs: a blob is served to a session only when a record in its scope
names it (task.photo, order.photos) or its device uploaded it.
Paths: the server serves no files; URL tricks (.., %2e%2e, //, encoded
slashes, backslashes, NUL) never reach a file outside blobs/."""
import base64
import hashlib
import json
import os
import socket
import struct
import time

import msgpack

from harness import (Skip, req, sync, check, admin_push, setup_site, set_pin,
                     enroll_code, enroll, login, device_for, batch, op,
                     now_ms, now_hlc)

PIN = "1234"
OCTET = {"Content-Type": "application/octet-stream"}


def _put_blob(srv, data, token):
    return req(srv, "PUT", "/v1/blobs/" + hashlib.sha256(data).hexdigest(),
               raw=data, token=token, headers=OCTET)


def _get_blob(srv, h, token):
    return req(srv, "GET", "/v1/blobs/" + h, token=token)


def _push(dev, ops, by=None):
    r = dev.sync(push=[batch(ops, by=by)])
    body = check(r, 200)
    return body["acks"][0]


def _site(srv, s):
    """Site s with staff <s>-sup, <s>-g, <s>-t, a guard shift <s>-sh1,
    devices (sessions) for each, a photo on a task and two on an order,
    and a checkin.  Returns a dict of ids, devices and photo hashes."""
    now = now_ms()
    setup_site(srv, s, staff=[(s + "-sup", "supervisor"), (s + "-g", "guard"),
                              (s + "-t", "technician")],
               shifts=[(s + "-sh1", "guard", [s + "-g"])])
    admin_push(srv, [op("zone", s + "-z1", {"site": s, "name": "lobby",
                                           "kind": "lobby"}),
                     op("checkpoint", s + "-cp1", {"site": s, "zone": s + "-z1",
                                                   "name": "gate", "tag": "T1"})])
    x = {"site": s, "shift": s + "-sh1", "sup": device_for(
        srv, s, s + "-sup", "supervisor"), "g": device_for(
        srv, s, s + "-g", "guard"), "t": device_for(
        srv, s, s + "-t", "technician")}
    photo_task = ("task photo of " + s).encode() * 50
    photo_order = [("order photo %d of %s" % (i, s)).encode() * 50
                   for i in range(2)]
    x["h_task"] = hashlib.sha256(photo_task).hexdigest()
    x["h_order"] = [hashlib.sha256(p).hexdigest() for p in photo_order]
    # order photos go up before the order, the task photo after its task
    # (a handheld offline syncs the record first): both must end up seen
    for p in photo_order:
        check(_put_blob(srv, p, x["t"].token), 200)
    x["task"] = s + "-task1"
    a = _push(x["sup"], [op("task", x["task"], {
        "site": s, "shift": x["shift"], "zone": s + "-z1",
        "title": "mop the lobby", "due_from": now - 3600_000,
        "due_to": now + 3600_000, "status": "open"})])
    assert a["applied"] == 1 and not a.get("rej"), a
    a = _push(x["g"], [op("task", x["task"], {"status": "done",
                                              "done_at": now,
                                              "done_by": s + "-g",
                                              "photo": x["h_task"]})])
    assert a["applied"] == 1 and not a.get("rej"), a
    check(_put_blob(srv, photo_task, x["g"].token), 200)
    x["order"] = s + "-order1"
    a = _push(x["t"], [op("order", x["order"], {
        "site": s, "category": "repair", "title": "lamp out",
        "detail": "stairwell", "reported_at": now, "reporter": s + "-t",
        "status": "reported", "photos": x["h_order"]})])
    assert a["applied"] == 1 and not a.get("rej"), a
    x["checkin"] = s + "-ci1"
    a = _push(x["g"], [op("checkin", x["checkin"], {
        "site": s, "shift": x["shift"], "checkpoint": s + "-cp1",
        "staff": s + "-g", "at": now, "method": "nfc"})])
    assert a["applied"] == 1 and not a.get("rej"), a
    x["buckets"] = ["site/" + s, "shift/" + x["shift"], "orders/" + s]
    x["photos"] = {x["h_task"]: photo_task}
    x["photos"].update(dict(zip(x["h_order"], photo_order)))
    return x


def _snapshot(srv, b):
    """Everything of B's buckets as the admin sees it."""
    body = check(sync(srv, srv.admin_token, pull={k: 0 for k in b["buckets"]},
                      limit=10000), 200)
    out = {}
    for name in b["buckets"]:
        for r in body["buckets"][name]["recs"]:
            out[(r["c"], r["id"])] = (r["f"], r["s"])
    assert out, "admin sees nothing of B"
    return out


def _world(ctx):
    srv = ctx.server()
    a = _site(srv, "sa")
    b = _site(srv, "sb")
    return srv, a, b


def _mentions_b(obj, b):
    """Any string in a decoded response that names a thing of site B."""
    text = json.dumps(obj, default=repr)
    for needle in ('"sb"', "sb-", "/sb"):
        if needle in text:
            return needle
    for h in b["photos"]:
        if h in text:
            return h
    return None


def _route_missing(r):
    return r.status == 404 and isinstance(r.body, dict) and \
        r.body.get("msg") == "no such endpoint"


def _sessions(a):
    return [("supervisor", a["sup"].token), ("guard", a["g"].token),
            ("technician", a["t"].token)]


def test_pull_never_serves_another_site(ctx):
    srv, a, b = _world(ctx)
    for who, tok in _sessions(a):
        r = sync(srv, tok, pull={k: 0 for k in b["buckets"]}, limit=10000)
        body = check(r, 200)
        for k in b["buckets"]:
            assert k not in body["buckets"], \
                "%s of A was served %s: %r" % (who, k, body["buckets"][k])
            assert k in body.get("drop", []), \
                "%s of A asked for %s: it must be in drop" % (who, k)
        assert not any(k.endswith("sb") or "sb-" in k for k in body["scope"])
        leak = _mentions_b(body["buckets"], b)
        assert leak is None, "%s of A: B's %r in the pull" % (who, leak)
    # a device token cannot sync at all
    r = sync(srv, a["g"].device_token, pull={k: 0 for k in b["buckets"]})
    assert r.status == 401, r


def test_push_never_writes_another_site(ctx):
    srv, a, b = _world(ctx)
    before = _snapshot(srv, b)
    now = now_ms()
    attacks = [
        op("site", "sb", {"name": "taken"}),
        op("zone", "sb-z1", {"name": "renamed"}),
        op("zone", "sb-znew", {"site": "sb", "name": "planted"}),
        op("checkpoint", "sb-cp1", {"tag": "FORGED"}),
        op("staff", "sb-g", {"role": "supervisor"}),
        op("staff", "sb-g", {"active": False}),
        op("staff", "sa-mole", {"site": "sb", "name": "mole", "role": "guard",
                                "active": True}),
        op("shift", "sb-sh1", {"staff": ["sa-g"]}),
        op("shift", "sa-sh1", {"site": "sb"}),
        op("task", b["task"], {"status": "skipped", "note": "x"}),
        op("task", b["task"], {"_deleted": True}),
        op("task", "sa-planted", {"site": "sb", "shift": b["shift"],
                                  "title": "planted", "status": "open"}),
        op("order", b["order"], {"status": "closed", "assignee": "sa-t"}),
        op("order", "sa-o-in-b", {"site": "sb", "category": "complaint",
                                  "title": "spam", "detail": "x",
                                  "reported_at": now, "reporter": "sa-g",
                                  "status": "reported"}),
        op("checkin", b["checkin"], {"note": "changed"}),
        op("checkin", "sa-ci-in-b", {"site": "sb", "shift": b["shift"],
                                     "checkpoint": "sb-cp1", "staff": "sa-g",
                                     "at": now, "method": "manual"}),
        op("handover", "sa-ho", {"site": "sb", "from_shift": "sa-sh1",
                                 "to_shift": b["shift"], "by": "sa-sup",
                                 "at": now, "note": "x"}),
        # move A's own record into B
        op("task", "sa-task1", {"shift": b["shift"], "site": "sb"}),
    ]
    for who, tok in _sessions(a):
        r = sync(srv, tok, push=[batch(attacks)])
        ack = check(r, 200)["acks"][0]
        rej = {x["i"]: x for x in ack.get("rej", [])}
        for i, o in enumerate(attacks):
            if i not in rej:
                continue
            cur = rej[i].get("cur")
            assert cur is None or _mentions_b(cur, b) is None, \
                "%s of A: a rejection carried B's record: %r" % (who, cur)
        # `by` naming B's staff: the whole batch is refused
        r = sync(srv, tok, push=[batch([op("task", b["task"],
                                           {"status": "skipped"})],
                                       by="sb-g")])
        ack = check(r, 200)["acks"][0]
        assert ack["applied"] == 0 and ack.get("err") == "FORBIDDEN", ack
    after = _snapshot(srv, b)
    assert after == before, "site B changed under A's pushes: %r" % (
        {k: after.get(k) for k in set(after) ^ set(before) |
         {k for k in after if after[k] != before.get(k)}})


def test_admin_endpoints_refuse_other_site(ctx):
    srv, a, b = _world(ctx)
    sup_a = a["sup"].token
    for who, tok in _sessions(a):
        r = req(srv, "POST", "/v1/admin/enroll-codes", body={"site": "sb"},
                token=tok)
        assert r.status == 403 and r.body["error"] == "FORBIDDEN", (who, r)
        r = req(srv, "POST", "/v1/admin/staff-pin",
                body={"staff": "sb-g", "pin": "0000"}, token=tok)
        assert r.status == 403 and r.body["error"] == "FORBIDDEN", (who, r)
        r = req(srv, "POST", "/v1/admin/revoke",
                body={"device": b["g"].device}, token=tok)
        assert r.status == 403 and r.body["error"] == "FORBIDDEN", (who, r)
    # B is unharmed: the old PIN works, the device is not revoked
    check(b["g"].sync(), 200)
    login(srv, b["g"].device_token, "sb-g", PIN)
    # a device token of A: none of these either
    for path, body in (("/v1/admin/enroll-codes", {"site": "sb"}),
                       ("/v1/admin/staff-pin", {"staff": "sb-g", "pin": "0"}),
                       ("/v1/admin/revoke", {"device": b["g"].device})):
        r = req(srv, "POST", path, body=body, token=a["g"].device_token)
        assert r.status == 401, (path, r)
    # A's supervisor still manages A (positive control)
    r = req(srv, "POST", "/v1/admin/staff-pin",
            body={"staff": "sa-g", "pin": "5678"}, token=sup_a)
    check(r, 200)


def test_login_enroll_bound_to_site(ctx):
    srv, a, b = _world(ctx)
    # A's device: B's staff with the right PIN gets what a wrong PIN gets
    _, dtok = enroll(srv, enroll_code(srv, "sa"), "a-dev")
    right = req(srv, "POST", "/v1/login", body={"staff": "sb-g", "pin": PIN},
                token=dtok)
    wrong = req(srv, "POST", "/v1/login", body={"staff": "sb-g",
                                                "pin": "9999"}, token=dtok)
    assert right.status == 401 and right.body == wrong.body, (right, wrong)
    # guessing from A does not lock B's staff out on B's devices
    for i in range(8):
        req(srv, "POST", "/v1/login", body={"staff": "sb-g",
                                            "pin": "%04d" % i}, token=dtok)
    login(srv, b["g"].device_token, "sb-g", PIN)
    # a device enrolled with B's code cannot take A's staff either
    _, btok = enroll(srv, enroll_code(srv, "sb"), "b-dev")
    r = req(srv, "POST", "/v1/login", body={"staff": "sa-g", "pin": PIN},
            token=btok)
    assert r.status == 401, r


def test_reports_and_audit_refuse_other_site(ctx):
    srv, a, b = _world(ctx)
    paths = ["/v1/reports/devices/sb", "/v1/reports/lockouts/sb",
             "/v1/reports/shift/" + b["shift"], "/v1/reports/site/sb",
             "/v1/audit/task/" + b["task"], "/v1/audit/order/" + b["order"],
             "/v1/audit/checkin/" + b["checkin"], "/v1/audit/staff/sb-g",
             "/v1/audit/_reads"]
    skipped = []
    for path in paths:
        for accept in ("application/json", "application/msgpack"):
            for who, tok in _sessions(a):
                r = req(srv, "GET", path, token=tok,
                        headers={"Accept": accept})
                if _route_missing(r):
                    skipped.append(path)
                    continue
                assert r.status in (403, 404), \
                    "%s of A: GET %s answered %r" % (who, path, r)
                assert _mentions_b(r.body, b) is None, (path, r)
            r = req(srv, "GET", path, token=a["g"].device_token,
                    headers={"Accept": accept})
            assert r.status in (401, 404), (path, r)
    # positive control: B's supervisor reads B's device report
    rep = check(req(srv, "GET", "/v1/reports/devices/sb",
                    token=b["sup"].token), 200)
    assert any(d["staff"] == "sb-g" for d in rep["devices"]), rep
    # and A's device report says nothing of B
    rep = check(req(srv, "GET", "/v1/reports/devices/sa",
                    token=a["sup"].token), 200)
    assert _mentions_b(rep, b) is None, rep
    if skipped:
        raise Skip("routes missing in this build, not checked: %s"
                   % ", ".join(sorted(set(skipped))))


def test_blobs_need_a_reference_in_scope(ctx):
    srv, a, b = _world(ctx)
    # positive controls: B's supervisor (site, shifts, orders) fetches all
    # of B's photos; B's guard those of its shift's task
    for h, data in b["photos"].items():
        r = _get_blob(srv, h, b["sup"].token)
        assert r.status == 200 and r.raw == data, (h, r)
    r = _get_blob(srv, b["h_task"], b["g"].token)
    assert r.status == 200 and r.raw == b["photos"][b["h_task"]]
    # guards do not pull orders/<site>: an order's photo is not theirs...
    for h in b["h_order"]:
        r = _get_blob(srv, h, b["g"].token)
        assert r.status == 404, r
    # ...but its uploader's device may fetch it back
    for h in b["h_order"]:
        check(_get_blob(srv, h, b["t"].token), 200)
    # nobody of A gets any of B's photos, and the answer is the same as
    # for a blob that does not exist
    absent = hashlib.sha256(b"never uploaded").hexdigest()
    for who, tok in _sessions(a):
        nothing = _get_blob(srv, absent, tok)
        assert nothing.status == 404, nothing
        for h in b["photos"]:
            r = _get_blob(srv, h, tok)
            assert r.status == 404 and r.body == nothing.body and \
                r.raw != b["photos"][h], \
                "%s of A fetched B's photo %s: %r" % (who, h[:12], r)
    # a hash is not a key: A's supervisor names B's photos in A's own
    # records (allowed: they are A's records), and still gets nothing
    ack = _push(a["sup"], [op("task", "sa-task1", {"photo": b["h_task"]}),
                           op("order", "sa-order1",
                              {"photos": b["h_order"]})])
    assert ack["applied"] == 2, ack
    for who, tok in _sessions(a):
        for h in b["photos"]:
            assert _get_blob(srv, h, tok).status == 404, (who, h)
    # nor by uploading something else afterwards (claims are per hash)
    check(_put_blob(srv, b"something of A's", a["sup"].token), 200)
    for h in b["photos"]:
        assert _get_blob(srv, h, a["sup"].token).status == 404
    # PUT of other bytes under B's hash is refused; B's bytes stay
    r = req(srv, "PUT", "/v1/blobs/" + b["h_task"], raw=b"forged" * 100,
            token=a["g"].token, headers=OCTET)
    assert r.status == 400 and r.body["error"] == "BAD_REQUEST", r
    r = _get_blob(srv, b["h_task"], b["sup"].token)
    assert r.status == 200 and r.raw == b["photos"][b["h_task"]]
    # an upload nobody references yet is its uploader's only
    mine = os.urandom(3000)
    hm = hashlib.sha256(mine).hexdigest()
    check(_put_blob(srv, mine, a["g"].token), 200)
    check(_get_blob(srv, hm, a["g"].token), 200)
    for tok in (a["sup"].token, a["t"].token, b["sup"].token):
        assert _get_blob(srv, hm, tok).status == 404
    # once A's guard's task names it, A's supervisor sees it, B does not
    ack = _push(a["g"], [op("task", "sa-task1", {"photo": hm})])
    assert ack["applied"] == 1, ack
    check(_get_blob(srv, hm, a["sup"].token), 200)
    assert _get_blob(srv, hm, b["sup"].token).status == 404
    # the admin sees every blob
    for h in list(b["photos"]) + [hm]:
        check(_get_blob(srv, h, srv.admin_token), 200)


def test_blob_follows_a_task_moved_to_another_shift(ctx):
    """A supervisor moves a task with a photo to another shift: that
    shift's guard may fetch the photo (the supervisor could see it, so its
    write makes the new bucket a reference)."""
    srv = ctx.server()
    b = _site(srv, "sb")
    admin_push(srv, [op("staff", "sb-g2", {"site": "sb", "name": "g2",
                                           "role": "guard", "active": True}),
                     op("shift", "sb-sh2", {"site": "sb", "role": "guard",
                                            "staff": ["sb-g2"],
                                            "starts": now_ms() - 3600_000,
                                            "ends": now_ms() + 3600_000})])
    g2 = device_for(srv, "sb", "sb-g2", "guard")
    assert _get_blob(srv, b["h_task"], g2.token).status == 404
    ack = _push(b["sup"], [op("task", b["task"], {"shift": "sb-sh2"})])
    assert ack["applied"] == 1, ack
    r = _get_blob(srv, b["h_task"], g2.token)
    assert r.status == 200 and r.raw == b["photos"][b["h_task"]], r


WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _ws_open(srv, token):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /v1/live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
               % (key, token)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        assert c, "no WebSocket handshake answer"
        buf += c
    head, _, rest = buf.partition(b"\r\n\r\n")
    assert b" 101 " in head.split(b"\r\n")[0], head
    return s, rest


def _ws_frames(s, buf, seconds):
    """Decoded binary frames that arrive within `seconds`."""
    out = []
    deadline = time.monotonic() + seconds
    while True:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            off = 2
            if n == 126:
                n = struct.unpack(">H", buf[2:4])[0]
                off = 4
            elif n == 127:
                n = struct.unpack(">Q", buf[2:10])[0]
                off = 10
            if len(buf) < off + n:
                break
            if buf[0] & 0x0F == 0x2:
                out.append(msgpack.unpackb(buf[off:off + n], raw=False))
            buf = buf[off + n:]
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        s.settimeout(left)
        try:
            c = s.recv(65536)
        except socket.timeout:
            return out
        if not c:
            return out
        buf += c


def test_live_never_tells_of_another_site(ctx):
    srv, a, b = _world(ctx)
    socks = [_ws_open(srv, tok) for _, tok in _sessions(a)]
    try:
        time.sleep(0.3)
        # B changes everything it has
        _push(b["sup"], [op("zone", "sb-z1", {"name": "renamed lobby"})])
        _push(b["t"], [op("order", b["order"], {"note": "on my way"})])
        _push(b["g"], [op("task", b["task"], {"note": "again"})])
        # and A changes its site, so the sockets do get something
        _push(a["sup"], [op("zone", "sa-z1", {"name": "A lobby"})])
        for (s, rest), (who, _) in zip(socks, _sessions(a)):
            frames = _ws_frames(s, rest, 1.5)
            named = [x for f in frames for x in f.get("buckets", [])]
            assert "site/sa" in named, "%s of A got no frame for its own " \
                "site: %r" % (who, frames)
            assert not [x for x in named if x in b["buckets"]], \
                "%s of A was told of B's buckets: %r" % (who, frames)
    finally:
        for s, _ in socks:
            s.close()


# ---- paths -----------------------------------------------------------------

def test_url_tricks_never_reach_files(ctx):
    """The server serves no files: nothing outside blobs/ (nor a blob by
    any path but /v1/blobs/<hash>) comes back, whatever the URL says."""
    srv = ctx.server()
    secret = b"outside the blob folder " + os.urandom(8).hex().encode()
    hs = hashlib.sha256(secret).hexdigest()
    # a file named like a blob, next to blobs/ and at the root of the data
    with open(os.path.join(srv.data, hs), "wb") as f:
        f.write(secret)
    os.makedirs(os.path.join(srv.data, "blobs", "sub"), exist_ok=True)
    with open(os.path.join(srv.data, "blobs", "sub", hs), "wb") as f:
        f.write(secret)
    admin_secret = srv.admin_token.encode()
    tricks = [
        "/v1/blobs/../" + hs, "/v1/blobs/..%2f" + hs, "/v1/blobs/..%2F" + hs,
        "/v1/blobs/%2e%2e/" + hs, "/v1/blobs/%2e%2e%2f" + hs,
        "/v1/blobs/.%2e/" + hs, "/v1/blobs/%252e%252e%252f" + hs,
        "/v1/blobs//" + hs, "//v1/blobs/..//" + hs, "/v1/blobs/sub/" + hs,
        "/v1/blobs/sub%2f" + hs, "/v1/blobs/..%5c" + hs,
        "/v1/blobs/..\\" + hs, "/v1/blobs/" + hs + "%00",
        "/v1/blobs/%00../" + hs, "/v1/./blobs/../../" + hs,
        "/v1/blobs/" + "../" * 8 + "etc/passwd",
        "/v1/blobs/" + "%2e%2e%2f" * 8 + "etc/passwd",
        "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
        "/admin.token", "/../admin.token", "/%2e%2e/admin.token",
        "/v1/blobs/../../admin.token", "/v1/blobs/..%2f..%2fadmin.token",
        "/data.mdb", "/v1/../data.mdb", "/blobs/" + hs, "/" + hs,
        "/v1/audit/../blobs/" + hs, "/v1/reports/devices/..%2f..%2f" + hs,
    ]
    for path in tricks:
        for method in ("GET", "HEAD"):
            try:
                r = _raw_request(srv.port, method, path, srv.admin_token)
            except ConnectionError:
                continue   # refused outright is fine
            status, body = r
            assert status in (400, 404, 405), \
                "%s %s answered %d: %r" % (method, path, status, body[:200])
            assert secret not in body and admin_secret not in body and \
                b"root:" not in body, "%s %s leaked a file: %r" % (
                    method, path, body[:200])
    assert req(srv, "GET", "/healthz").status == 200


def _raw_request(port, method, path, token):
    """Send the request line exactly as given (no client-side cleaning)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Connection: close\r\n\r\n" % (method, path, token))
                  .encode("latin-1"))
        buf = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
    finally:
        s.close()
    if not buf:
        raise ConnectionError("closed without an answer")
    head, _, body = buf.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body
