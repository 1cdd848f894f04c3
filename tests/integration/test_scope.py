"""Scope (DESIGN.md section 3): what each role pulls, computed from real now;
`drop` for named buckets out of scope; site isolation; a record moved to
another bucket leaves a `gone` entry in the old one."""

# --- helpers (same block in every test file of this group; keep in sync) ---
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

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
    """A stamp from the real clock, strictly increasing within this module,
    so two writes of one test to the same field never tie."""
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
# --- end helpers ---

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
    "sup1": {"site/A", "orders/A"} | {"shift/" + s for s in (
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
