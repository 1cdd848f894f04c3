"""Who may write what (protocol/PROTOCOL.md's write rules and `by`):
role, field and owner rules, the scope exceptions (orders by anyone, the
lead's handover, the evidence window) and attribution of shared-device
batches."""

import harness as H
from synclib import (DAY, HOUR, MIN, _admin, _batch, _device, _get, _op,
                     _pull_all, _push, _push_ok, _rej, _rej_entry, _shift,
                     _site, _staff, _stamps, _sync, _task)


A = "A"
CODES_OUT = ("OUT_OF_SCOPE", "FORBIDDEN")


def _world(ctx):
    srv = ctx.server()
    now = H.now_ms()
    staff = {"g1": "guard", "g2": "guard", "g3": "guard", "g4": "guard",
             "cl1": "cleaner", "cl2": "cleaner", "tech1": "technician",
             "tech2": "technician", "sup1": "supervisor", "sup2": "supervisor"}
    ops = [_site(A)] + [_staff(A, s, r) for s, r in staff.items()]
    ops += [_op("zone", "za", {"site": A, "name": "Lobby", "kind": "lobby"}),
            _op("checkpoint", "cp1", {"site": A, "zone": "za", "name": "Door",
                                      "tag": "04:A1:B2"}),
            _op("route", "r1", {"site": A, "name": "Night", "checkpoints": ["cp1"],
                                "every_min": 60, "grace_min": 10})]
    ops += [
        _shift(A, "sg1", "guard", now - 6 * HOUR, now + 1 * HOUR, ["g1", "g3"], lead="g3",
               route="r1"),
        _shift(A, "sgn", "guard", now + 1 * HOUR, now + 9 * HOUR, ["g4"], lead="g4",
               route="r1"),
        _shift(A, "sg2", "guard", now - 2 * HOUR, now + 6 * HOUR, ["g2"], route="r1"),
        _shift(A, "sg_old", "guard", now - 2 * DAY - 8 * HOUR, now - 2 * DAY, ["g1"],
               route="r1"),
        _shift(A, "sg_vold", "guard", now - 9 * DAY, now - 8 * DAY - 16 * HOUR, ["g1"],
               route="r1"),
        _shift(A, "sc1", "cleaner", now - 2 * HOUR, now + 6 * HOUR, ["cl1"]),
        _shift(A, "sc2", "cleaner", now - 2 * HOUR, now + 6 * HOUR, ["cl2"]),
        _shift(A, "sc_old", "cleaner", now - 2 * DAY - 8 * HOUR, now - 2 * DAY, ["cl1"]),
        _shift(A, "st", "technician", now - 2 * HOUR, now + 6 * HOUR, ["tech1", "tech2"]),
    ]
    ops += [_task(A, "tk1", "sc1", title="Sweep stairwell 3", assignee="cl1",
                  due_from=now - HOUR, due_to=now + HOUR),
            _task(A, "tk2", "sc2", title="Clean lift car", assignee="cl2"),
            _task(A, "tk_old", "sc_old", title="Empty bins", assignee="cl1")]
    ops += [_op("order", "o1", {"site": A, "category": "repair", "title": "Tap drips",
                                "reported_at": now - HOUR, "reporter": "g2",
                                "status": "reported"}),
            _op("order", "o2", {"site": A, "category": "urgent_power", "title": "Fuse",
                                "reported_at": now - HOUR, "reporter": "g2",
                                "assignee": "tech2", "status": "accepted",
                                "accepted_at": now - 50 * MIN})]
    _admin(srv, ops)
    return srv


def _checkin(kid, shift, staff, at=None, **over):
    f = {"site": A, "shift": shift, "route": "r1", "checkpoint": "cp1", "staff": staff,
         "at": int(at if at is not None else H.now_ms() - MIN), "boot": "b-1",
         "mono": 3 * HOUR, "method": "nfc"}
    f.update(over)
    return _op("checkin", kid, f)


def _admin_rec(srv, bucket, c, id_):
    return _get(srv, srv.admin_token, bucket, c, id_)


def test_guard_cannot_write_zone_route_staff(ctx):
    srv = _world(ctx)
    g = _device(srv, A, "g1", "guard")
    ack, _ = _push(srv, g.token, [
        _op("zone", "zg", {"site": A, "name": "Guard zone", "kind": "garage"}),
        _op("route", "rg", {"site": A, "name": "Guard route", "checkpoints": ["cp1"]}),
        _op("staff", "sg", {"site": A, "name": "Friend", "role": "guard", "active": True}),
        _op("zone", "za", {"name": "Renamed by guard"}),
        _op("staff", "g1", {"role": "supervisor"}),
        _checkin("ok", "sg1", "g1"),
    ], what="guard writes site records")
    want = {0: "FORBIDDEN", 1: "FORBIDDEN", 2: "FORBIDDEN", 3: "FORBIDDEN", 4: "FORBIDDEN"}
    assert _rej(ack) == want, "guard: zone/route/staff writes FORBIDDEN; got %r" % _rej(ack)
    assert ack.get("applied") == 1, "the guard's own checkin applies: %r" % ack
    cur = (_rej_entry(ack, 3) or {}).get("cur")
    assert isinstance(cur, dict) and cur["f"].get("name") == "Lobby", \
        "FORBIDDEN on a visible record carries cur: %r" % _rej_entry(ack, 3)
    site = _pull_all(srv, srv.admin_token)["recs"]["site/" + A]
    assert ("zone", "zg") not in site and ("route", "rg") not in site and \
        ("staff", "sg") not in site, "forbidden records stored"
    assert site[("zone", "za")]["f"]["name"] == "Lobby", "zone renamed by a guard"
    assert site[("staff", "g1")]["f"]["role"] == "guard", "guard promoted itself"


def test_guard_checkin_on_other_shift_rejected(ctx):
    srv = _world(ctx)
    g = _device(srv, A, "g1", "guard")
    ack, _ = _push(srv, g.token, [_checkin("k-other", "sg2", "g1"),
                                  _checkin("k-own", "sg1", "g1")], what="checkins")
    assert set(_rej(ack)) == {0} and _rej(ack)[0] in CODES_OUT, \
        "checkin on a shift the guard is not on must be rejected (DESIGN: " \
        "OUT_OF_SCOPE): %r" % ack
    assert "cur" not in _rej_entry(ack, 0), "no cur for a record that does not exist"
    assert ack.get("applied") == 1, "own-shift checkin applies: %r" % ack
    assert _admin_rec(srv, "shift/sg2", "checkin", "k-other") is None, "rejected checkin stored"
    assert _admin_rec(srv, "shift/sg1", "checkin", "k-own") is not None, "own checkin missing"


def test_checkin_for_other_staff_forbidden(ctx):
    srv = _world(ctx)
    g = _device(srv, A, "g1", "guard")
    ack, _ = _push(srv, g.token, [_checkin("k-g3", "sg1", "g3")], what="checkin as g3")
    assert _rej(ack) == {0: "FORBIDDEN"}, \
        "a checkin whose staff is not the writer must be FORBIDDEN: %r" % ack
    assert _admin_rec(srv, "shift/sg1", "checkin", "k-g3") is None, "stored anyway"


def test_checkin_only_by_guards(ctx):
    srv = _world(ctx)
    c = _device(srv, A, "cl1", "cleaner")
    ack, _ = _push(srv, c.token, [_checkin("k-cl", "sc1", "cl1")], what="cleaner checkin")
    assert _rej(ack) == {0: "FORBIDDEN"}, \
        "checkins are written by a guard on its own shift; a cleaner on its own " \
        "shift gets FORBIDDEN: %r" % ack


def test_supervisor_cannot_write_other_site(ctx):
    srv = _world(ctx)
    _admin(srv, [_site("B"), _op("zone", "zb", {"site": "B", "name": "B lobby"})])
    s = _device(srv, A, "sup1", "supervisor")
    ack, _ = _push(srv, s.token, [
        _op("zone", "zb2", {"site": "B", "name": "planted"}),
        _op("zone", "za", {"site": "B"}),
        _op("zone", "zb", {"name": "renamed"}),
        _op("zone", "za2", {"site": A, "name": "fine"}),
    ], what="supervisor of A writes into B")
    codes = _rej(ack)
    assert codes.get(0) == "OUT_OF_SCOPE" and codes.get(1) == "OUT_OF_SCOPE", \
        "a record that after the write is in site/B is OUT_OF_SCOPE for A's " \
        "supervisor: %r" % codes
    assert codes.get(2) in CODES_OUT and 3 not in codes, "codes %r" % codes
    assert "cur" not in (_rej_entry(ack, 2) or {}), "cur must not reveal site B's zone"
    b = _pull_all(srv, srv.admin_token)["recs"]
    assert ("zone", "zb2") not in b["site/B"] and ("zone", "za") not in b["site/B"], \
        "records written into site/B"
    assert b["site/B"][("zone", "zb")]["f"]["name"] == "B lobby", "site B's zone renamed"
    assert b["site/" + A][("zone", "za")]["f"]["site"] == A, "za moved to site B"


def test_cleaner_task_fields(ctx):
    srv = _world(ctx)
    c = _device(srv, A, "cl1", "cleaner")
    now = H.now_ms()
    done = {"status": "done", "done_at": now - MIN, "done_by": "cl1",
            "note": "mopped twice", "photo": "ab" * 32, "checklist_done": ["floor", "rails"]}
    ack, _ = _push(srv, c.token, [
        _op("task", "tk1", done),
        _op("task", "tk1", {"title": "Nothing to do"}),
        _op("task", "tk1", {"status": "skipped", "title": "x"}),
        _op("task", "tk1", {"due_to": now + 5 * HOUR}),
    ], what="cleaner writes its task")
    assert _rej(ack) == {1: "FORBIDDEN", 2: "FORBIDDEN", 3: "FORBIDDEN"}, \
        "cleaner may write status/done_at/done_by/note/photo/checklist_done only: %r" % ack
    assert ack.get("applied") == 1, "the allowed op applies: %r" % ack
    cur = (_rej_entry(ack, 1) or {}).get("cur")
    assert isinstance(cur, dict) and cur["f"].get("title") == "Sweep stairwell 3", \
        "FORBIDDEN on a visible task carries cur: %r" % _rej_entry(ack, 1)
    r = _get(srv, c.token, "shift/sc1", "task", "tk1")
    for k, v in done.items():
        assert r["f"].get(k) == v, "task %s: %r, cleaner wrote %r" % (k, r["f"].get(k), v)
    assert r["f"]["title"] == "Sweep stairwell 3", "title changed by a cleaner"
    assert _stamps(r)["status"][1] == c.device, "status not stamped by the cleaner's device"


def test_cleaner_cannot_write_other_shift_task(ctx):
    srv = _world(ctx)
    c = _device(srv, A, "cl1", "cleaner")
    ack, _ = _push(srv, c.token, [_op("task", "tk2", {"status": "done"})], what="tk2")
    assert set(_rej(ack)) == {0} and _rej(ack)[0] in CODES_OUT, "tk2 of sc2: %r" % ack
    assert "cur" not in _rej_entry(ack, 0), \
        "cur must not reveal a record the device may not see: %r" % _rej_entry(ack, 0)
    assert _admin_rec(srv, "shift/sc2", "task", "tk2")["f"]["status"] == "open", "tk2 changed"


def test_supervisor_cannot_grant_admin_or_change_own_role(ctx):
    srv = _world(ctx)
    s = _device(srv, A, "sup1", "supervisor")
    ack, _ = _push(srv, s.token, [
        _op("staff", "newg", {"site": A, "name": "New guard", "role": "guard", "active": True}),
        _op("staff", "newa", {"site": A, "name": "Boss", "role": "admin", "active": True}),
        _op("staff", "g2", {"role": "admin"}),
        _op("staff", "sup1", {"role": "guard"}),
        _op("staff", "sup1", {"name": "Renamed supervisor"}),
        _op("staff", "sup2", {"role": "guard"}),
    ], what="supervisor staff writes")
    assert _rej(ack) == {1: "FORBIDDEN", 2: "FORBIDDEN", 3: "FORBIDDEN"}, \
        "supervisor: no admin grants, no own role change; got %r" % ack
    assert ack.get("applied") == 3, "the other staff writes apply: %r" % ack
    site = _pull_all(srv, s.token)["recs"]["site/" + A]
    assert ("staff", "newg") in site and ("staff", "newa") not in site, "staff records"
    assert site[("staff", "g2")]["f"]["role"] == "guard", "g2 was made admin"
    assert site[("staff", "sup1")]["f"]["role"] == "supervisor", "supervisor changed own role"
    assert site[("staff", "sup1")]["f"]["name"] == "Renamed supervisor", "own name not applied"
    assert site[("staff", "sup2")]["f"]["role"] == "guard", "other supervisor's role not applied"


def test_guard_creates_order_without_pulling_orders(ctx):
    srv = _world(ctx)
    g = _device(srv, A, "g1", "guard")
    now = H.now_ms()
    base = {"site": A, "category": "incident", "title": "Broken window",
            "detail": "block 3, 2nd floor", "reported_at": now - MIN, "reporter": "g1",
            "status": "reported", "photos": [], "note": "seen on round"}
    ack, b = _push(srv, g.token, [
        _op("order", "og1", base),
        _op("order", "og2", dict(base, reporter="g2")),
        _op("order", "og3", dict(base, status="accepted")),
        _op("order", "og4", dict(base, assignee="tech1")),
        _op("order", "o1", {"status": "closed"}),
    ], what="guard reports faults")
    codes = _rej(ack)
    assert 0 not in codes, "anyone of the site creates an order: %r" % ack
    assert codes.get(1) == "FORBIDDEN" and codes.get(2) == "FORBIDDEN" and \
        codes.get(3) == "FORBIDDEN", \
        "order created with reporter != self / status != reported / an assignee: %r" % codes
    assert codes.get(4) in CODES_OUT, "guard updating an existing order: %r" % codes
    assert ack.get("applied") == 1, "applied %r" % ack.get("applied")
    assert "orders/" + A not in b["buckets"] and "orders/" + A not in b["scope"], \
        "guards do not pull orders/%s" % A
    r = _admin_rec(srv, "orders/" + A, "order", "og1")
    assert r is not None and r["f"]["reporter"] == "g1" and r["f"]["status"] == "reported", \
        "guard's order: %r" % (r and r["f"])
    assert r["f"].get("respond_by") == now - MIN + 15 * MIN, \
        "incident respond_by = reported_at + 15 min: %r" % r["f"].get("respond_by")
    assert _admin_rec(srv, "orders/" + A, "order", "o1")["f"]["status"] == "reported", \
        "guard changed o1"


def test_technician_takes_and_updates_own_order(ctx):
    srv = _world(ctx)
    t1 = _device(srv, A, "tech1", "technician")
    t2 = _device(srv, A, "tech2", "technician")
    now = H.now_ms()
    _push_ok(srv, t1.token, [_op("order", "o1", {"assignee": "tech1"})], what="tech1 takes o1")
    _push_ok(srv, t1.token, [_op("order", "o1", {"status": "accepted", "accepted_at": now})],
             what="tech1 accepts o1")
    _push_ok(srv, t1.token, [_op("order", "o1", {"status": "on_site", "on_site_at": now + 1,
                                                 "note": "on my way"})],
             what="tech1 on site")
    ack, _ = _push(srv, t1.token, [_op("order", "o2", {"status": "on_site"}),
                                   _op("order", "o1", {"title": "Renamed"}),
                                   _op("order", "o1", {"reporter": "tech1"})],
                   what="tech1 oversteps")
    assert _rej(ack) == {0: "FORBIDDEN", 1: "FORBIDDEN", 2: "FORBIDDEN"}, \
        "tech1: o2 is tech2's; title/reporter are not a technician's fields: %r" % ack
    _admin(srv, [_op("order", "o3", {"site": A, "category": "repair", "title": "Door",
                                     "reported_at": now - HOUR, "reporter": "g2",
                                     "status": "reported"})])
    ack, _ = _push(srv, t1.token, [_op("order", "o3", {"assignee": "tech2"})],
                   what="tech1 assigns o3 to tech2")
    assert _rej(ack) == {0: "FORBIDDEN"}, \
        "a technician takes an unassigned order for itself only: %r" % ack
    ack, _ = _push(srv, t2.token, [_op("order", "o1", {"status": "resolved"}),
                                   _op("order", "o1", {"assignee": "tech2"})],
                   what="tech2 on tech1's order")
    assert _rej(ack) == {0: "FORBIDDEN", 1: "FORBIDDEN"}, \
        "tech2 cannot update or take an order assigned to tech1: %r" % ack
    cur = (_rej_entry(ack, 0) or {}).get("cur")
    assert isinstance(cur, dict) and cur["f"].get("assignee") == "tech1", \
        "rejection on a visible order carries cur: %r" % _rej_entry(ack, 0)
    orders = _pull_all(srv, t1.token)["recs"]["orders/" + A]
    o1, o2 = orders[("order", "o1")]["f"], orders[("order", "o2")]["f"]
    assert o1["assignee"] == "tech1" and o1["status"] == "on_site" and \
        o1["title"] == "Tap drips" and o1["note"] == "on my way", "o1: %r" % o1
    assert o2["status"] == "accepted" and o2["assignee"] == "tech2", "o2: %r" % o2


def test_lead_creates_handover_for_incoming_shift(ctx):
    srv = _world(ctx)
    lead = _device(srv, A, "g3", "guard")
    other = _device(srv, A, "g1", "guard")
    incoming = _device(srv, A, "g4", "guard")
    now = H.now_ms()
    h = {"site": A, "from_shift": "sg1", "to_shift": "sgn", "by": "g3", "at": now,
         "note": "gate 2 lock sticks", "open_items": ["gate 2 lock"]}
    _push_ok(srv, lead.token, [_op("handover", "h1", h)], what="lead writes handover")
    sup = _device(srv, A, "sup1", "supervisor")
    _push_ok(srv, sup.token, [_op("handover", "h3", dict(h, by="sup1", note="sup"))],
             what="supervisor writes handover")
    ack, _ = _push(srv, other.token, [_op("handover", "h2", dict(h, by="g1"))],
                   what="non-lead writes handover")
    assert set(_rej(ack)) == {0} and _rej(ack)[0] in CODES_OUT, \
        "only a supervisor or the lead of from_shift writes a handover: %r" % ack
    got = _pull_all(srv, incoming.token, what="incoming shift pulls")
    recs = got["recs"].get("shift/sgn", {})
    r = recs.get(("handover", "h1"))
    assert r is not None and r["f"]["note"] == "gate 2 lock sticks" and \
        r["f"]["open_items"] == ["gate 2 lock"], \
        "handover must be in the to_shift bucket for the incoming shift: %s" % sorted(recs)
    assert ("handover", "h2") not in recs, "rejected handover delivered"
    assert ("handover", "h3") in recs, "supervisor's handover not delivered to sgn"


def test_evidence_window_allows_late_checkin(ctx):
    srv = _world(ctx)
    g = _device(srv, A, "g1", "guard")
    c = _device(srv, A, "cl1", "cleaner")
    now = H.now_ms()
    b = _sync(srv, g.token, pull={"shift/sg_old": 0}, what="old shift out of scope")
    assert "shift/sg_old" in (b.get("drop") or []), \
        "a shift that ended 2 days ago is outside the guard's scope"
    ack, _ = _push(srv, g.token, [_checkin("k-late", "sg_old", "g1", at=now - 2 * DAY - HOUR),
                                  _checkin("k-vlate", "sg_vold", "g1",
                                           at=now - 8 * DAY - 17 * HOUR)],
                   what="late checkins")
    assert 0 not in _rej(ack), \
        "checkin for own shift ended 2 days ago (< evidence_window) must be accepted: %r" % ack
    assert _rej(ack).get(1) == "OUT_OF_SCOPE", \
        "own shift ended 8+ days ago is past evidence_window: OUT_OF_SCOPE; %r" % ack
    assert _admin_rec(srv, "shift/sg_old", "checkin", "k-late") is not None, "late checkin lost"
    _push_ok(srv, c.token, [_op("task", "tk_old", {"status": "done", "done_by": "cl1",
                                                   "done_at": now - 2 * DAY - HOUR})],
             what="late task completion")
    assert _admin_rec(srv, "shift/sc_old", "task", "tk_old")["f"]["status"] == "done"


def test_by_attribution_on_shared_device(ctx):
    srv = _world(ctx)
    code = H.enroll_code(srv, A)
    device, dtok = H.enroll(srv, code, "shared handheld")
    for s in ("g1", "g2", "g3"):
        H.set_pin(srv, s, "4321")
    s1 = H.login(srv, dtok, "g1", "4321")["token"]
    s2 = H.login(srv, dtok, "g2", "4321")["token"]
    _device(srv, A, "g3", "guard")  # g3 has sessions, but on another device
    # g1's round, pushed after g2 logged in on the same handheld.
    ack, _ = _push(srv, s2, [_checkin("k-by", "sg1", "g1")], by="g1", what="by=g1")
    assert not ack.get("rej") and ack.get("applied") == 1, \
        "batch by=g1 (who held a session on this device) applies with g1's rights: %r" % ack
    r = _admin_rec(srv, "shift/sg1", "checkin", "k-by")
    assert r is not None and _stamps(r)["staff"][1] == device, \
        "attributed checkin must be stored, stamped with the device: %r" % r
    ack, _ = _push(srv, s2, [_checkin("k-noby", "sg1", "g1")], what="no by")
    assert _rej(ack).get(0) in CODES_OUT, \
        "without by the session's staff (g2) is meant: g1's checkin rejected: %r" % ack
    bt = _batch([_checkin("k-g3a", "sg1", "g3"), _checkin("k-g3b", "sg1", "g3")], by="g3")
    ack = _sync(srv, s2, push=[bt], what="by=g3")["acks"][0]
    assert _rej(ack) == {0: "FORBIDDEN", 1: "FORBIDDEN"} and ack.get("applied") == 0, \
        "by naming a staff who never held a session on this device: every op " \
        "FORBIDDEN: %r" % ack
    assert ack.get("err") == "FORBIDDEN", "batch-level err FORBIDDEN expected: %r" % ack
    again = _sync(srv, s2, push=[bt], what="resend by=g3")["acks"][0]
    assert again.get("dup") is True, "a FORBIDDEN-by batch is recorded: resend dup: %r" % again
    assert _admin_rec(srv, "shift/sg1", "checkin", "k-g3a") is None, "by=g3 op stored"
    _ = s1
