"""Merge rules of POST /v1/sync (protocol/PROTOCOL.md): field-level
last-writer-wins, ties by origin, tombstones, batch idempotence, per-op
rejections with `cur`, immutable checkins, the clock guard and the HLC, and
the server-filled deadlines of orders (section 5)."""

import harness as H
from synclib import (DAY, HOUR, MIN, SEC, _admin, _batch, _device, _get, _hlc,
                     _op, _pull_all, _push, _push_ok, _rej, _rej_entry, _shift,
                     _site, _staff, _stamps, _sync, _task, _wall)


SITE = "A"


def _merge_world(ctx, n_sup=2, extra=()):
    """A site with n_sup supervisors, each on a device of its own."""
    srv = ctx.server()
    ops = [_site(SITE)] + [_staff(SITE, "sup%d" % i, "supervisor")
                           for i in range(1, n_sup + 1)]
    ops += list(extra)
    _admin(srv, ops)
    devs = [_device(srv, SITE, "sup%d" % i, "supervisor")
            for i in range(1, n_sup + 1)]
    return srv, devs


def _zone(zid, s=None, **f):
    return _op("zone", zid, f, s=s)


def _site_rec(srv, token, c, id_):
    return _get(srv, token, "site/" + SITE, c, id_)


# ---------------------------------------------------------------- LWW


def test_lww_per_field_newer_stamp_wins(ctx):
    srv, (d1, d2) = _merge_world(ctx)
    base = H.now_ms()
    old = _hlc(base - 200 * SEC)
    _admin(srv, [_zone("z1", s=old, site=SITE, name="init", kind="lobby"),
                 _zone("z2", s=old, site=SITE, name="init", kind="lobby")])
    s_d1 = _hlc(base - 20 * SEC)
    s_d2_old = _hlc(base - 30 * SEC)
    s_d2_new = _hlc(base - 10 * SEC)
    # z1: d1 first, then d2's older name and newer kind.  z2: reverse order.
    _push_ok(srv, d1.token, [_zone("z1", s=s_d1, name="d1-name", kind="d1-kind")],
             what="d1 writes z1")
    ack, _ = _push(srv, d2.token, [_zone("z1", s=s_d2_old, name="d2-name"),
                                   _zone("z1", s=s_d2_new, kind="d2-kind")],
                   what="d2 writes z1")
    assert ack.get("applied") == 2 and not ack.get("rej"), \
        "an op that loses on LWW still counts in applied: ack %r" % ack
    _push_ok(srv, d2.token, [_zone("z2", s=s_d2_old, name="d2-name"),
                             _zone("z2", s=s_d2_new, kind="d2-kind")],
             what="d2 writes z2")
    ack, _ = _push(srv, d1.token,
                   [_zone("z2", s=s_d1, name="d1-name", kind="d1-kind")],
                   what="d1 writes z2")
    assert ack.get("applied") == 1 and not ack.get("rej"), \
        "op half-losing on LWW must be applied: %r" % ack
    for dev, who in ((d1, "d1"), (d2, "d2")):
        for zid in ("z1", "z2"):
            r = _site_rec(srv, dev.token, "zone", zid)
            assert r is not None, "%s does not see zone %s" % (who, zid)
            st = _stamps(r)
            assert r["f"]["name"] == "d1-name" and st["name"] == (s_d1, d1.device), \
                "%s/%s: name must be d1's (newer stamp) with its stamp; got %r %r" % (
                    who, zid, r["f"].get("name"), st.get("name"))
            assert r["f"]["kind"] == "d2-kind" and st["kind"] == (s_d2_new, d2.device), \
                "%s/%s: kind must be d2's newer write; got %r %r" % (
                    who, zid, r["f"].get("kind"), st.get("kind"))
            assert r["f"]["site"] == SITE and st["site"][0] == old, \
                "%s/%s: untouched field site changed: %r %r" % (
                    who, zid, r["f"].get("site"), st.get("site"))
            assert str(st["site"][1]).startswith("admin-"), \
                "admin writes carry the admin device's origin ('admin-...'): %r" % (
                    st["site"],)
            assert set(r["s"]) == set(r["f"]), \
                "recs carry every field with its stamp: f %s vs s %s" % (
                    sorted(r["f"]), sorted(r["s"]))


def test_lww_tie_broken_by_origin_bytewise(ctx):
    srv, (d1, d2) = _merge_world(ctx)
    base = H.now_ms()
    _admin(srv, [_zone(z, s=_hlc(base - 100 * SEC), site=SITE, name="init")
                 for z in ("t1", "t2")])
    hi, lo = sorted([d1, d2], key=lambda d: d.device.encode())[::-1]
    assert hi.device != lo.device, "two devices got the same id %r" % hi.device
    h = _hlc(base - 5 * SEC, 3)
    # t1: the greater origin arrives first; t2: it arrives last.
    _push_ok(srv, hi.token, [_zone("t1", s=h, name="from-hi")], what="hi t1")
    _push_ok(srv, lo.token, [_zone("t1", s=h, name="from-lo")], what="lo t1")
    _push_ok(srv, lo.token, [_zone("t2", s=h, name="from-lo")], what="lo t2")
    _push_ok(srv, hi.token, [_zone("t2", s=h, name="from-hi")], what="hi t2")
    for zid in ("t1", "t2"):
        r = _site_rec(srv, d1.token, "zone", zid)
        assert r["f"]["name"] == "from-hi" and _stamps(r)["name"] == (h, hi.device), \
            ("%s: equal hlc must be won by the bytewise greater origin %r over %r; "
             "got %r stamped %r" % (zid, hi.device, lo.device, r["f"]["name"],
                                    _stamps(r)["name"]))


def test_tombstone_then_revive(ctx):
    srv, (d1, d2) = _merge_world(ctx)
    base = H.now_ms()
    _push_ok(srv, d1.token, [_zone("zd", s=_hlc(base - 50 * SEC), site=SITE,
                                   name="doomed")], what="create")
    first = _pull_all(srv, d2.token, what="d2 first pull")
    cur = first["cursors"]
    assert ("zone", "zd") in first["recs"]["site/" + SITE], "created zone not pulled"

    _push_ok(srv, d2.token, [_zone("zd", s=_hlc(base - 40 * SEC), _deleted=True)],
             what="delete")
    got = _pull_all(srv, d1.token, cursors=cur, what="pull after delete")
    r = got["recs"]["site/" + SITE].get(("zone", "zd"))
    assert r is not None, \
        "a tombstone is a field change: the record must come in recs after the cursor"
    assert r["f"].get("_deleted") is True, "_deleted must be true: %r" % r["f"]
    assert r["f"].get("name") == "doomed", "tombstone must keep other fields: %r" % r["f"]
    assert _stamps(r)["_deleted"] == (_hlc(base - 40 * SEC), d2.device), \
        "tombstone stamp wrong: %r" % _stamps(r)
    cur = got["cursors"]

    ack, _ = _push(srv, d1.token, [_zone("zd", s=_hlc(base - 45 * SEC), _deleted=False)],
                   what="older revive")
    assert ack.get("applied") == 1 and not ack.get("rej"), \
        "an older _deleted:false loses but is applied: %r" % ack
    r = _site_rec(srv, d1.token, "zone", "zd")
    assert r["f"].get("_deleted") is True, \
        "_deleted:false with an older stamp than the tombstone must not revive: %r" % r["f"]

    s_rev = _hlc(base - 30 * SEC)
    _push_ok(srv, d1.token, [_zone("zd", s=s_rev, _deleted=False)], what="revive")
    got = _pull_all(srv, d2.token, cursors=cur, what="pull after revive")
    r = got["recs"]["site/" + SITE].get(("zone", "zd"))
    assert r is not None, "revived record not sent after the cursor"
    assert r["f"].get("_deleted") is False and r["f"].get("name") == "doomed", \
        "revive with a later _deleted:false must bring the record back: %r" % r["f"]
    assert _stamps(r)["_deleted"] == (s_rev, d1.device), "revive stamp: %r" % _stamps(r)


# ---------------------------------------------------------------- batches


def test_batch_replay_is_dup_with_same_ack(ctx):
    srv = ctx.server()
    now = H.now_ms()
    _admin(srv, [_site(SITE), _staff(SITE, "cl", "cleaner"),
                 _shift(SITE, "s1", "cleaner", now - 2 * HOUR, now + 6 * HOUR, ["cl"]),
                 _shift(SITE, "s2", "cleaner", now - 2 * HOUR, now + 6 * HOUR, []),
                 _task(SITE, "t1", "s1"), _task(SITE, "t2", "s2")])
    cl = _device(srv, SITE, "cl", "cleaner")
    b = _batch([_op("task", "t1", {"status": "done", "done_by": "cl", "done_at": now}),
                _op("task", "t2", {"status": "done", "done_by": "cl", "done_at": now})])
    r1 = _sync(srv, cl.token, push=[b], what="first send")["acks"][0]
    assert r1.get("applied") == 1 and not r1.get("dup"), "first send: %r" % r1
    assert set(_rej(r1)) == {1} and _rej(r1)[1] in ("OUT_OF_SCOPE", "FORBIDDEN"), \
        "task of a shift the cleaner is not on must be rejected: %r" % r1

    # Now the cleaner is put on s2: applying the batch again would succeed.
    _admin(srv, [_op("shift", "s2", {"staff": ["cl"]})])
    r2 = _sync(srv, cl.token, push=[b], what="resend")["acks"][0]
    assert r2.get("dup") is True, "a batch id seen before must ack dup: true: %r" % r2
    assert r2.get("applied") == r1.get("applied"), \
        "dup ack must carry the stored applied %r, got %r" % (r1.get("applied"), r2)
    assert [(x["i"], x["code"]) for x in r2.get("rej") or []] == \
        [(x["i"], x["code"]) for x in r1.get("rej") or []], \
        "dup ack must carry the stored rej %r, got %r" % (r1.get("rej"), r2.get("rej"))
    t2 = _get(srv, srv.admin_token, "shift/s2", "task", "t2")
    assert t2["f"]["status"] == "open", \
        "a dup batch must not be applied again (t2 became %r)" % t2["f"]["status"]

    # The same ops under a new batch id are a new batch, evaluated now.
    r3 = _sync(srv, cl.token, push=[_batch(b["ops"])], what="new id")["acks"][0]
    assert not r3.get("dup") and r3.get("applied") == 2 and not r3.get("rej"), \
        "same ops in a new batch id must be applied afresh: %r" % r3


def test_same_ops_new_batch_id_applied_no_change(ctx):
    srv, (d1, d2) = _merge_world(ctx)
    ops = [_zone("n%d" % i, site=SITE, name="zone %d" % i, kind="lobby")
           for i in range(5)]
    _push_ok(srv, d1.token, ops, what="first batch")
    before = _pull_all(srv, d2.token, what="snapshot")["recs"]["site/" + SITE]
    ack, _ = _push(srv, d1.token, ops, what="same ops, new batch id")
    assert ack.get("applied") == len(ops) and not ack.get("rej") and not ack.get("dup"), \
        "same ops under a new batch id: applied %d, no dup, no rej; got %r" % (len(ops), ack)
    after = _pull_all(srv, d2.token, what="after")["recs"]["site/" + SITE]
    for i in range(5):
        k = ("zone", "n%d" % i)
        assert after[k]["f"] == before[k]["f"] and _stamps(after[k]) == _stamps(before[k]), \
            "replayed identical op changed %s: %r -> %r" % (k, before[k], after[k])


def test_per_op_rejection_codes_valid_ops_apply(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    _admin(srv, [_zone("zold", site=SITE, name="old", kind="lobby")])
    now = H.now_ms()
    ops = [
        _zone("ok1", site=SITE, name="valid one"),                         # 0
        _op("spaceship", "x1", {"site": SITE}),                            # 1
        _zone("zu", site=SITE, name="n", colour="red"),                    # 2
        _op("staff", "sx", {"site": SITE, "name": "X", "role": "pilot",
                            "active": True}),                              # 3
        _zone("bad id!", site=SITE, name="n"),                             # 4
        _op("order", "o1", {"site": SITE, "category": "repair", "title": "t",
                            "reported_at": now, "reporter": "sup1",
                            "status": "reported", "respond_by": now}),     # 5
        _zone("nosite", name="no bucket field"),                           # 6
        _zone("ok2", site=SITE, name="valid two"),                         # 7
        _op("shift", "sh", {"site": SITE, "role": "guard",
                            "starts": "tomorrow", "ends": now, "staff": []}),  # 8
        _zone("zold", site=None),                                          # 9
        _zone("zold", kind=None),                                          # 10
    ]
    ack, _ = _push(srv, d1.token, ops, what="mixed batch")
    want = {1: "UNKNOWN_COLLECTION", 2: "UNKNOWN_FIELD", 3: "BAD_TYPE", 4: "BAD_ID",
            5: "FORBIDDEN", 6: "BAD_REQUEST", 8: "BAD_TYPE", 9: "BAD_REQUEST"}
    assert _rej(ack) == want, "per-op codes: expected %r, got %r" % (want, _rej(ack))
    assert ack.get("applied") == 3, "the 3 valid ops must apply: %r" % ack
    assert not ack.get("err"), "err only when nothing applied: %r" % ack
    for r in ack.get("rej") or []:
        assert isinstance(r.get("msg"), str), "rejection without msg text: %r" % r
    got = _pull_all(srv, srv.admin_token, what="admin read back")["recs"]
    site = got.get("site/" + SITE, {})
    assert ("zone", "ok1") in site and ("zone", "ok2") in site, \
        "valid ops of a batch with rejections must be applied"
    for k in (("zone", "zu"), ("staff", "sx"), ("zone", "nosite"), ("shift", "sh")):
        assert k not in site, "rejected op %s was stored anyway" % (k,)
    assert ("order", "o1") not in got.get("orders/" + SITE, {}), "rejected order stored"
    zold = site[("zone", "zold")]["f"]
    assert zold.get("site") == SITE and zold.get("kind") is None, \
        "the bucket field cannot be cleared, any other field can: %r" % zold


def test_rejection_carries_cur_of_visible_record(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    _admin(srv, [_zone("zc", site=SITE, name="cur-name", kind="garage")])
    seen = _site_rec(srv, d1.token, "zone", "zc")
    far = _hlc(H.now_ms() + 400 * SEC)
    ack, _ = _push(srv, d1.token, [_zone("zc", s=far, name="x"),
                                   _zone("znew", s=far, site=SITE, name="x")],
                   what="clock-ahead ops")
    assert _rej(ack) == {0: "CLOCK_AHEAD", 1: "CLOCK_AHEAD"}, "got %r" % ack
    cur = (_rej_entry(ack, 0) or {}).get("cur")
    assert isinstance(cur, dict), \
        "rejection of an op on an existing visible record must carry cur: %r" % ack
    assert cur.get("f") == seen["f"], "cur.f %r != stored fields %r" % (cur.get("f"), seen["f"])
    assert _stamps(cur) == _stamps(seen), \
        "cur.s %r != stored stamps %r" % (cur.get("s"), seen["s"])
    assert "cur" not in (_rej_entry(ack, 1) or {}), \
        "no cur for a record that does not exist: %r" % _rej_entry(ack, 1)


# ---------------------------------------------------------------- checkins


def _checkin_world(ctx):
    srv = ctx.server()
    now = H.now_ms()
    _admin(srv, [_site(SITE), _staff(SITE, "g1", "guard"),
                 _op("zone", "z1", {"site": SITE, "name": "Lobby", "kind": "lobby"}),
                 _op("checkpoint", "cp1", {"site": SITE, "zone": "z1", "name": "Door",
                                           "tag": "04A1B2C3"}),
                 _op("route", "r1", {"site": SITE, "name": "Night", "checkpoints": ["cp1"],
                                     "every_min": 60, "grace_min": 10}),
                 _shift(SITE, "sg", "guard", now - 2 * HOUR, now + 6 * HOUR, ["g1"],
                        route="r1")])
    return srv, _device(srv, SITE, "g1", "guard")


def _checkin_fields(at, **over):
    f = {"site": SITE, "shift": "sg", "route": "r1", "checkpoint": "cp1", "staff": "g1",
         "at": at, "boot": "boot-1", "mono": 50 * MIN, "method": "nfc",
         "lat": 31.2304, "lon": 121.4737, "note": "all clear"}
    f.update(over)
    return f


def test_checkin_identical_replay_is_applied_noop(ctx):
    srv, g = _checkin_world(ctx)
    now = H.now_ms()
    dev = {"boot": "boot-1", "mono": 60 * MIN, "wall": now, "pending": 1}
    f = _checkin_fields(now - 10 * MIN)
    first = _op("checkin", "k1", f)
    _push_ok(srv, g.token, [first], dev=dev, what="checkin")
    stored = _get(srv, g.token, "shift/sg", "checkin", "k1")
    assert stored is not None, "checkin not in shift/sg"
    ack, _ = _push(srv, g.token, [_op("checkin", "k1", f)], what="identical replay")
    assert ack.get("applied") == 1 and not ack.get("rej"), \
        "an identical checkin replay (new stamp) is accepted as a no-op: %r" % ack
    again = _get(srv, g.token, "shift/sg", "checkin", "k1")
    assert again["f"] == stored["f"] and _stamps(again) == _stamps(stored), \
        "identical replay must change nothing: %r -> %r" % (stored, again)
    assert _stamps(again)["method"] == (first["s"], g.device), \
        "first write of a checkin wins whole (stamp of the first op): %r" % _stamps(again)


def test_checkin_differing_values_immutable(ctx):
    srv, g = _checkin_world(ctx)
    now = H.now_ms()
    f = _checkin_fields(now - 10 * MIN)
    _push_ok(srv, g.token, [_op("checkin", "k1", f)], what="checkin")
    stored = _get(srv, g.token, "shift/sg", "checkin", "k1")
    ack, _ = _push(srv, g.token, [_op("checkin", "k1", dict(f, method="qr")),
                                  _op("checkin", "k1", dict(f, at=f["at"] + 1))],
                   what="differing replay")
    assert _rej(ack) == {0: "IMMUTABLE", 1: "IMMUTABLE"} and ack.get("applied") == 0, \
        "a checkin op with different values must be IMMUTABLE: %r" % ack
    cur = (_rej_entry(ack, 0) or {}).get("cur")
    assert isinstance(cur, dict) and (cur.get("f") or {}).get("method") == "nfc", \
        "IMMUTABLE on a visible checkin must carry cur with the stored values: %r" % ack
    after = _get(srv, g.token, "shift/sg", "checkin", "k1")
    assert after["f"] == stored["f"], "checkin changed: %r -> %r" % (stored["f"], after["f"])


def test_checkin_delete_is_immutable(ctx):
    srv, g = _checkin_world(ctx)
    now = H.now_ms()
    f = _checkin_fields(now - 10 * MIN)
    _push_ok(srv, g.token, [_op("checkin", "k1", f)], what="checkin")
    ack, _ = _push(srv, g.token, [_op("checkin", "k1", {"_deleted": True}),
                                  _op("checkin", "k2", dict(f, _deleted=True))],
                   what="delete checkins")
    assert _rej(ack) == {0: "IMMUTABLE", 1: "IMMUTABLE"}, \
        "_deleted on a checkin (existing or new) must be IMMUTABLE: %r" % ack
    got = _pull_all(srv, g.token, cursors={"shift/sg": 0})["recs"]["shift/sg"]
    assert got[("checkin", "k1")]["f"].get("_deleted") in (None, False), \
        "evidence is never deleted: %r" % got[("checkin", "k1")]["f"]
    assert ("checkin", "k2") not in got, "rejected checkin k2 was stored"


def test_checkin_server_fields_stamped_server(ctx):
    srv, g = _checkin_world(ctx)
    now = H.now_ms()
    dev = {"boot": "boot-1", "mono": 60 * MIN, "wall": now, "pending": 0}
    _push_ok(srv, g.token, [_op("checkin", "k1", _checkin_fields(now - 10 * MIN))],
             dev=dev, what="checkin")
    r = _get(srv, g.token, "shift/sg", "checkin", "k1")
    st = _stamps(r)
    for k in ("rcv", "skew", "at_est", "trust"):
        assert k in r["f"], "server field %r missing from checkin: %r" % (k, r["f"])
        assert st.get(k, (0, None))[1] == "server", \
            "server field %r must be stamped with origin 'server': %r" % (k, st.get(k))
    assert abs(r["f"]["rcv"] - now) <= 5 * SEC, "rcv %r far from now %r" % (r["f"]["rcv"], now)
    assert r["f"]["trust"] in ("verified", "corrected", "unverified"), r["f"]["trust"]
    for k in ("at", "method", "staff", "shift"):
        assert st[k][1] == g.device, "device field %r stamped %r, not the device" % (k, st[k])


def test_device_cannot_write_checkin_server_fields(ctx):
    srv, g = _checkin_world(ctx)
    now = H.now_ms()
    ack, _ = _push(srv, g.token,
                   [_op("checkin", "k%d" % i, _checkin_fields(now - MIN, **{k: v}))
                    for i, (k, v) in enumerate([("rcv", now), ("skew", 0),
                                                ("at_est", now), ("trust", "verified")])],
                   what="server-owned fields")
    assert _rej(ack) == {0: "FORBIDDEN", 1: "FORBIDDEN", 2: "FORBIDDEN", 3: "FORBIDDEN"}, \
        "devices cannot write rcv/skew/at_est/trust: %r" % ack


# ---------------------------------------------------------------- clocks


def test_clock_ahead_rejected_then_restamped(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    now = H.now_ms()
    ack, b = _push(srv, d1.token, [_zone("za", s=_hlc(now + 400 * SEC), site=SITE,
                                         name="from the future")],
                   what="op 400 s ahead")
    assert _rej(ack) == {0: "CLOCK_AHEAD"} and ack.get("applied") == 0, \
        "op stamped 400 s ahead (> max_skew 300 s) must be CLOCK_AHEAD: %r" % ack
    assert _site_rec(srv, d1.token, "zone", "za") is None, "CLOCK_AHEAD op was stored"
    restamp = _hlc(b["now"], 1)
    _push_ok(srv, d1.token, [_zone("za", s=restamp, site=SITE, name="from the future")],
             what="restamped op")
    r = _site_rec(srv, d1.token, "zone", "za")
    assert r and r["f"]["name"] == "from the future" and \
        _stamps(r)["name"] == (restamp, d1.device), "restamped op not stored: %r" % r
    ok = _hlc(H.now_ms() + 200 * SEC)
    _push_ok(srv, d1.token, [_zone("zb", s=ok, site=SITE, name="a bit ahead")],
             what="op 200 s ahead is within max_skew")


def test_clock_guard_threshold_is_max_skew(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    now = H.now_ms()
    ack, _ = _push(srv, d1.token, [_zone("z290", s=_hlc(now + 290 * SEC), site=SITE, name="a"),
                                   _zone("z310", s=_hlc(now + 310 * SEC), site=SITE, name="b")],
                   what="ops 290 s and 310 s ahead")
    assert _rej(ack) == {1: "CLOCK_AHEAD"} and ack.get("applied") == 1, \
        "max_skew_ms is 300000: 290 s ahead applies, 310 s ahead is CLOCK_AHEAD; %r" % ack


def test_every_response_has_now_and_hlc(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    prev = 0
    for i in range(3):
        t0 = H.now_ms()
        b = _sync(srv, d1.token, push=[_batch([_zone("zz%d" % i, site=SITE, name="z")])]
                  if i == 1 else None, what="sync %d" % i)
        t1 = H.now_ms()
        assert t0 - 1000 <= b["now"] <= t1 + 1000, \
            "now %r outside [%r, %r]" % (b["now"], t0, t1)
        assert t0 - 5000 <= _wall(b["hlc"]) <= t1 + 5000, \
            "hlc wall %r far from now %r" % (_wall(b["hlc"]), t0)
        assert b["hlc"] >= prev, "server hlc went back: %r after %r" % (b["hlc"], prev)
        prev = b["hlc"]
    # Also on the admin's token.
    b = _sync(srv, srv.admin_token, what="admin sync")
    assert b["hlc"] >= prev, "server hlc went back"


def test_request_hlc_within_skew_advances_server_clock(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    ahead = _hlc(H.now_ms() + 120 * SEC, 7)
    b = _sync(srv, d1.token, hlc=ahead, what="hlc 120 s ahead")
    assert b["hlc"] > ahead, \
        "HLC receive rule: response hlc %r must be > request hlc %r" % (b["hlc"], ahead)
    b2 = _sync(srv, d1.token, what="next sync")
    assert b2["hlc"] > ahead, \
        "the server clock must keep the advance: %r <= %r" % (b2["hlc"], ahead)


def test_request_hlc_far_ahead_is_ignored(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    far = _hlc(H.now_ms() + HOUR)
    b = _sync(srv, d1.token, hlc=far, what="hlc 1 h ahead")
    b2 = _sync(srv, d1.token, what="next sync")
    b3 = _sync(srv, d1.token, hlc=_hlc(H.now_ms() + 330 * SEC), what="hlc 330 s ahead")
    for x in (b, b2, b3):
        now = H.now_ms()
        assert _wall(x["hlc"]) <= now + 5 * SEC, \
            "a request hlc more than max_skew ahead must be ignored; server hlc wall " \
            "is %d ms ahead of now" % (_wall(x["hlc"]) - now)


# ---------------------------------------------------------------- orders

SLA = {  # category -> (respond_by offset, resolve_by offset); None: no deadline
    "elevator_entrapment": (5 * MIN, None),
    "urgent_water": (15 * MIN, None),
    "urgent_power": (15 * MIN, None),
    "incident": (15 * MIN, None),
    "complaint": (DAY, None),
    "repair": (None, DAY),
}


def _order(oid, category, reported_at=None, **extra):
    f = {"site": SITE, "category": category, "title": "Fault " + oid,
         "detail": "reported by test", "reporter": "sup1", "status": "reported"}
    if reported_at is not None:
        f["reported_at"] = reported_at
    f.update(extra)
    return _op("order", oid, f)


def test_order_deadlines_per_category(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    rep = H.now_ms() - 90 * SEC
    _push_ok(srv, d1.token, [_order("o-" + c, c, rep) for c in SLA], what="orders")
    got = _pull_all(srv, d1.token, what="pull orders")["recs"].get("orders/" + SITE, {})
    for c, (resp, reso) in SLA.items():
        r = got.get(("order", "o-" + c))
        assert r is not None, "order of category %s not in orders/%s" % (c, SITE)
        for field, off in (("respond_by", resp), ("resolve_by", reso)):
            v = r["f"].get(field)
            if off is None:
                assert v is None, "%s: %s must be null, got %r" % (c, field, v)
            else:
                assert v == rep + off, "%s: %s must be reported_at + %d = %d, got %r" % (
                    c, field, off, rep + off, v)
                assert _stamps(r)[field][1] == "server", \
                    "%s: %s stamped %r, not 'server'" % (c, field, _stamps(r)[field])


def test_order_deadline_from_receive_time_without_reported_at(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    t0 = H.now_ms()
    _push_ok(srv, d1.token, [_order("oe", "elevator_entrapment"), _order("orp", "repair")],
             what="orders without reported_at")
    t1 = H.now_ms()
    got = _pull_all(srv, d1.token)["recs"].get("orders/" + SITE, {})
    rb = got[("order", "oe")]["f"].get("respond_by")
    assert isinstance(rb, int) and t0 + 5 * MIN - 1000 <= rb <= t1 + 5 * MIN + 1000, \
        "respond_by must be receive time + 5 min (in [%d, %d]), got %r" % (
            t0 + 5 * MIN, t1 + 5 * MIN, rb)
    rs = got[("order", "orp")]["f"].get("resolve_by")
    assert isinstance(rs, int) and t0 + DAY - 1000 <= rs <= t1 + DAY + 1000, \
        "resolve_by must be receive time + 24 h, got %r" % rs


def test_device_writing_respond_by_forbidden(ctx):
    srv, (d1,) = _merge_world(ctx, n_sup=1)
    rep = H.now_ms() - MIN
    _push_ok(srv, d1.token, [_order("o1", "urgent_water", rep)], what="order")
    ack, _ = _push(srv, d1.token,
                   [_order("o2", "urgent_water", rep, respond_by=rep + HOUR),
                    _op("order", "o1", {"respond_by": rep + HOUR}),
                    _op("order", "o1", {"resolve_by": rep + HOUR})],
                   what="supervisor writes deadlines")
    assert _rej(ack) == {0: "FORBIDDEN", 1: "FORBIDDEN", 2: "FORBIDDEN"}, \
        "respond_by/resolve_by are server-owned, even for a supervisor: %r" % ack
    got = _pull_all(srv, d1.token)["recs"].get("orders/" + SITE, {})
    assert got[("order", "o1")]["f"].get("respond_by") == rep + 15 * MIN, \
        "respond_by changed by a device: %r" % got[("order", "o1")]["f"]
    assert ("order", "o2") not in got, "order with device-written respond_by was stored"
