"""Scope (protocol/PROTOCOL.md, "Pull, buckets and scope"): what each role pulls, computed from real now;
`drop` for named buckets out of scope; site isolation; a record moved to
another bucket leaves a `gone` entry in the old one."""

import harness as H
from synclib import (HOUR, _admin, _device, _op, _pull_all, _push_ok, _shift,
                     _site, _staff, _sync, _task)


A, B = "A", "B"

# shift id -> (role, start offset, end offset, staff) relative to now
SHIFTS_A = {
    "g_cur": ("guard", -2 * HOUR, 6 * HOUR, ["g1"]),
    "g_late": ("guard", -19 * HOUR, -11 * HOUR, ["g1"]),    # ends after now-12h: in
    "g_past": ("guard", -20 * HOUR, -13 * HOUR, ["g1"]),    # ends before now-12h: out
    "g_next": ("guard", 20 * HOUR, 28 * HOUR, ["g1"]),      # starts before now+24h: in
    "g_far": ("guard", 25 * HOUR, 33 * HOUR, ["g1"]),       # starts after now+24h: out
    "g_old": ("guard", -40 * HOUR, -25 * HOUR, ["g1"]),     # out even for supervisor
    "o_edge": ("guard", -30 * HOUR, -23 * HOUR, ["g2"]),    # supervisor only
    "o_cur": ("guard", -2 * HOUR, 6 * HOUR, ["g2"]),        # another guard's
    "c_cur": ("cleaner", -1 * HOUR, 7 * HOUR, ["c1"]),
    "c_past": ("cleaner", -20 * HOUR, -14 * HOUR, ["c1"]),
    "t_cur": ("technician", -3 * HOUR, 5 * HOUR, ["t1"]),
}

SCOPE = {
    "g1": {"site/A", "shift/g_cur", "shift/g_late", "shift/g_next"},
    "c1": {"site/A", "shift/c_cur"},
    "t1": {"site/A", "shift/t_cur", "orders/A"},
    "sup1": {"site/A", "orders/A", "alerts/A"} | {"shift/" + s for s in (
        "g_cur", "g_late", "g_past", "g_next", "o_edge", "o_cur", "c_cur", "c_past",
        "t_cur")},
    "gb": {"site/B", "shift/b_cur"},
}

ROLE = {"g1": "guard", "g2": "guard", "c1": "cleaner", "t1": "technician",
        "sup1": "supervisor"}


def _world(ctx):
    srv = ctx.server()
    now = H.now_ms()
    ops = [_site(A), _site(B)]
    ops += [_staff(A, s, r) for s, r in ROLE.items()]
    ops += [_staff(B, "gb", "guard"), _staff(B, "supb", "supervisor")]
    ops.append(_op("zone", "za", {"site": A, "name": "Lobby A", "kind": "lobby"}))
    ops.append(_op("zone", "zb", {"site": B, "name": "Lobby B", "kind": "lobby"}))
    for sid, (role, s, e, staff) in SHIFTS_A.items():
        ops.append(_shift(A, sid, role, now + s, now + e, staff))
        ops.append(_task(A, "task_" + sid, sid))
    ops.append(_shift(B, "b_cur", "guard", now - 2 * HOUR, now + 6 * HOUR, ["gb"]))
    ops.append(_task(B, "task_b_cur", "b_cur"))
    for site in (A, B):
        ops.append(_op("order", "ord_" + site, {
            "site": site, "category": "repair", "title": "Leaking tap",
            "reported_at": now - HOUR, "reporter": "t1" if site == A else "gb",
            "status": "reported"}))
    _admin(srv, ops)
    return srv


def _check_scope(srv, token, who, want, pull=None):
    b = _sync(srv, token, pull=pull, what="%s sync" % who)
    assert set(b["scope"]) == want, \
        "%s scope: expected %s, got %s (missing %s, extra %s)" % (
            who, sorted(want), sorted(b["scope"]), sorted(want - set(b["scope"])),
            sorted(set(b["scope"]) - want))
    assert set(b["buckets"]) == want, \
        "%s: buckets served must be exactly the scope; got %s" % (who, sorted(b["buckets"]))
    site = want and next(x for x in want if x.startswith("site/"))[5:]
    for name, bk in b["buckets"].items():
        for r in bk.get("recs") or []:
            rs = r["id"] if r["c"] == "site" else r["f"].get("site")
            assert rs == site, "%s got a record of site %r in %s: %r" % (who, rs, name, r)
            if name.startswith("shift/"):
                assert r["f"].get("shift") == name[6:], \
                    "%s: record of shift %r in bucket %s" % (who, r["f"].get("shift"), name)
        if name.startswith("shift/"):
            ids = {(r["c"], r["id"]) for r in bk.get("recs") or []}
            assert ids == {("task", "task_" + name[6:])}, \
                "%s: bucket %s must hold its task, got %s" % (who, name, ids)
    return b


def test_scope_guard(ctx):
    srv = _world(ctx)
    g = _device(srv, A, "g1", "guard")
    b = _check_scope(srv, g.token, "guard g1", SCOPE["g1"])
    site = {(r["c"], r["id"]) for r in b["buckets"]["site/A"]["recs"]}
    for k in (("site", A), ("zone", "za"), ("staff", "g1"), ("shift", "g_cur"),
              ("shift", "g_far")):
        assert k in site, "guard must get %s from site/A" % (k,)
    for r in b["buckets"]["site/A"]["recs"]:
        if r["c"] == "staff":
            extra = set(r["f"]) - {"site", "name", "role", "active", "_deleted"}
            assert not extra, "staff records carry public fields only, got %s" % extra


def test_scope_cleaner(ctx):
    srv = _world(ctx)
    c = _device(srv, A, "c1", "cleaner")
    _check_scope(srv, c.token, "cleaner c1", SCOPE["c1"])


def test_scope_technician_includes_orders(ctx):
    srv = _world(ctx)
    t = _device(srv, A, "t1", "technician")
    b = _check_scope(srv, t.token, "technician t1", SCOPE["t1"])
    ids = {(r["c"], r["id"]) for r in b["buckets"]["orders/A"]["recs"]}
    assert ids == {("order", "ord_A")}, "technician's orders/A: %s" % ids


def test_scope_supervisor_whole_site_window(ctx):
    srv = _world(ctx)
    s = _device(srv, A, "sup1", "supervisor")
    b = _check_scope(srv, s.token, "supervisor sup1", SCOPE["sup1"])
    ids = {(r["c"], r["id"]) for r in b["buckets"]["orders/A"]["recs"]}
    assert ids == {("order", "ord_A")}, "supervisor's orders/A: %s" % ids


def test_scope_admin_sees_everything(ctx):
    srv = _world(ctx)
    b = _sync(srv, srv.admin_token, what="admin sync")
    want = {"site/A", "site/B", "orders/A", "orders/B", "shift/b_cur"} | \
        {"shift/" + s for s in SHIFTS_A}
    missing = want - set(b["scope"])
    assert not missing, "admin's scope is every bucket: missing %s" % sorted(missing)
    assert not (want - set(b["buckets"])), \
        "admin's buckets miss %s" % sorted(want - set(b["buckets"]))


def test_out_of_scope_named_buckets_dropped(ctx):
    srv = _world(ctx)
    g = _device(srv, A, "g1", "guard")
    named_out = ["shift/g_past", "shift/g_far", "shift/g_old", "shift/o_cur",
                 "orders/A", "site/B", "shift/b_cur", "orders/B", "shift/nope"]
    pull = {n: 0 for n in named_out}
    pull["site/A"] = 0
    b = _sync(srv, g.token, pull=pull, what="guard names out-of-scope buckets")
    drop = set(b.get("drop") or [])
    assert drop == set(named_out), \
        "drop must list exactly the named buckets out of scope: expected %s, got %s" % (
            sorted(named_out), sorted(drop))
    leaked = set(named_out) & set(b["buckets"])
    assert not leaked, "nothing of a dropped bucket may be sent: %s" % sorted(leaked)
    assert "site/A" in b["buckets"] and "site/A" not in drop, "in-scope bucket dropped"


def test_shift_beyond_24h_not_in_scope(ctx):
    srv = _world(ctx)
    s = _device(srv, A, "sup1", "supervisor")
    g = _device(srv, A, "g1", "guard")
    for dev, who in ((s, "supervisor"), (g, "guard")):
        b = _sync(srv, dev.token, pull={"shift/g_far": 0}, what=who)
        assert "shift/g_far" not in b["scope"], \
            "%s: a shift starting after now+24h is not in scope" % who
        assert "shift/g_far" in (b.get("drop") or []), "%s: named g_far not dropped" % who
        assert "shift/g_far" not in b["buckets"], "%s: g_far served" % who
    b = _sync(srv, s.token, pull={"shift/g_old": 0, "shift/o_edge": 0}, what="sup edge")
    assert "shift/g_old" in (b.get("drop") or []) and "shift/o_edge" in b["buckets"], \
        "supervisor window [now-24h, now+24h]: g_old (ends now-25h) out, o_edge " \
        "(ends now-23h) in; scope %s" % sorted(b["scope"])


def test_site_b_never_visible_to_site_a(ctx):
    srv = _world(ctx)
    for staff in ("sup1", "t1", "g1"):
        d = _device(srv, A, staff, ROLE[staff])
        got = _pull_all(srv, d.token, cursors={"site/B": 0, "orders/B": 0,
                                               "shift/b_cur": 0}, what=staff)
        for name, recs in got["recs"].items():
            assert not name.endswith("/B") and name != "shift/b_cur", \
                "%s was served site B's bucket %s" % (staff, name)
            for (c, i), r in recs.items():
                assert i != B and r["f"].get("site") != B, \
                    "%s got site B's record %s/%s in %s" % (staff, c, i, name)
        for resp in got["responses"]:
            assert not [x for x in resp["scope"] if x in ("site/B", "orders/B", "shift/b_cur")], \
                "site B bucket in %s's scope: %s" % (staff, resp["scope"])
    gb = _device(srv, B, "gb", "guard")
    _check_scope(srv, gb.token, "site B guard", SCOPE["gb"])


def test_moved_record_gone_from_old_bucket(ctx):
    srv = ctx.server()
    now = H.now_ms()
    _admin(srv, [_site(A), _staff(A, "c1", "cleaner"), _staff(A, "c2", "cleaner"),
                 _staff(A, "sup1", "supervisor"),
                 _shift(A, "sa", "cleaner", now - HOUR, now + 7 * HOUR, ["c1"]),
                 _shift(A, "sb", "cleaner", now - HOUR, now + 7 * HOUR, ["c2"]),
                 _task(A, "k", "sa", title="Mop lobby"), _task(A, "k2", "sa")])
    c1 = _device(srv, A, "c1", "cleaner")
    c2 = _device(srv, A, "c2", "cleaner")
    sup = _device(srv, A, "sup1", "supervisor")
    p1, p2, ps = (_pull_all(srv, d.token) for d in (c1, c2, sup))
    assert ("task", "k") in p1["recs"]["shift/sa"], "c1 must hold task k before the move"
    assert ("task", "k") not in p2["recs"].get("shift/sb", {}), "c2 has k too early"

    _push_ok(srv, sup.token, [_op("task", "k", {"shift": "sb"})], what="reassign k to sb")

    q1 = _pull_all(srv, c1.token, cursors=p1["cursors"], what="c1 after move")
    assert ("task", "k") in q1["gone"].get("shift/sa", set()), \
        "old bucket shift/sa must list task k in gone: %r" % q1["last"]["buckets"].get("shift/sa")
    assert ("task", "k") not in q1["recs"].get("shift/sa", {}), "k still sent in sa's recs"
    q2 = _pull_all(srv, c2.token, cursors=p2["cursors"], what="c2 after move")
    r = q2["recs"].get("shift/sb", {}).get(("task", "k"))
    assert r is not None and r["f"]["shift"] == "sb" and r["f"]["title"] == "Mop lobby", \
        "new bucket shift/sb must send task k with all its fields: %r" % r
    qs = _pull_all(srv, sup.token, cursors=ps["cursors"], what="supervisor after move")
    assert ("task", "k") in qs["gone"].get("shift/sa", set()) and \
        ("task", "k") in qs["recs"].get("shift/sb", {}), \
        "supervisor holding both buckets: gone in sa, rec in sb"
    # A pull of sa from 0 no longer returns k as a record.
    fresh = _pull_all(srv, c1.token, cursors={"shift/sa": 0}, what="c1 from 0")
    assert ("task", "k") not in fresh["recs"]["shift/sa"] and \
        ("task", "k2") in fresh["recs"]["shift/sa"], \
        "shift/sa from 0 must hold k2 and not k: %s" % sorted(fresh["recs"]["shift/sa"])


def test_moved_record_back_returns_to_old_bucket(ctx):
    srv = ctx.server()
    now = H.now_ms()
    _admin(srv, [_site(A), _staff(A, "c1", "cleaner"), _staff(A, "sup1", "supervisor"),
                 _shift(A, "sa", "cleaner", now - HOUR, now + 7 * HOUR, ["c1"]),
                 _shift(A, "sb", "cleaner", now - HOUR, now + 7 * HOUR, []),
                 _task(A, "k", "sa")])
    c1 = _device(srv, A, "c1", "cleaner")
    sup = _device(srv, A, "sup1", "supervisor")
    p1 = _pull_all(srv, c1.token)
    _push_ok(srv, sup.token, [_op("task", "k", {"shift": "sb"})], what="move out")
    p2 = _pull_all(srv, c1.token, cursors=p1["cursors"])
    assert ("task", "k") in p2["gone"].get("shift/sa", set()), "k not gone from sa"
    _push_ok(srv, sup.token, [_op("task", "k", {"shift": "sa", "note": "back"})],
             what="move back")
    p3 = _pull_all(srv, c1.token, cursors=p2["cursors"])
    r = p3["recs"].get("shift/sa", {}).get(("task", "k"))
    assert r is not None and r["f"].get("note") == "back", \
        "a record moved back must be sent again in its bucket: %r" % \
        p3["last"]["buckets"].get("shift/sa")


def test_scope_follows_shift_membership(ctx):
    srv = _world(ctx)
    g = _device(srv, A, "g1", "guard")
    first = _pull_all(srv, g.token, what="g1 initial")
    assert "shift/o_cur" not in first["cursors"], "g1 is not on o_cur yet"
    # g1 joins o_cur and leaves g_cur: scope changes by itself on the next sync.
    _admin(srv, [_op("shift", "o_cur", {"staff": ["g2", "g1"]}),
                 _op("shift", "g_cur", {"staff": []})])
    b = _sync(srv, g.token, pull=first["cursors"], what="g1 after the roster change")
    assert "shift/o_cur" in b["scope"] and "shift/g_cur" not in b["scope"], \
        "scope must follow the shift roster: %s" % sorted(b["scope"])
    ids = {(r["c"], r["id"]) for r in b["buckets"].get("shift/o_cur", {}).get("recs") or []}
    assert ("task", "task_o_cur") in ids, \
        "a bucket new to the scope is served from 0 in the same response: %s" % ids
    assert "shift/g_cur" in (b.get("drop") or []) and "shift/g_cur" not in b["buckets"], \
        "the held bucket that left the scope must be in drop: %r" % b.get("drop")
