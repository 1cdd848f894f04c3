"""Issue 10's attack pass, one test per hole closed here: `by` is no
lasting promotion, a lead's handover is checked before and after the
merge, records may not lie about their site, shifts have a bounded
length, refusals name no record of another site, PIN rules, blob quotas.
Each test is the repro of the issue (refused now) and the honest use next
to it (still working)."""

import hashlib
import os
import time

import harness as H
from synclib import (HOUR, MIN, _admin, _batch, _device, _get, _op, _push,
                     _rej, _rej_entry, _shift, _site, _staff, _sync)

A, B = "A", "B"
SLACK_MS = 1000     # --max-skew-ms here: the slack of a `by` session


def _world(ctx, args=()):
    srv = ctx.server(args=("--max-skew-ms", str(SLACK_MS)) + tuple(args))
    now = H.now_ms()
    _admin(srv, [_site(A), _site(B),
                 _staff(A, "g1", "guard"), _staff(A, "g2", "guard"),
                 _staff(A, "sup1", "supervisor"),
                 _staff(B, "gb", "guard"), _staff(B, "supb", "supervisor"),
                 _op("zone", "za", {"site": A, "name": "Lobby"}),
                 _shift(A, "sa1", "guard", now - 2 * HOUR, now + 6 * HOUR,
                        ["g1", "g2"], lead="g1", route="ra"),
                 _shift(A, "sa2", "guard", now + 6 * HOUR, now + 14 * HOUR,
                        ["g2"], lead="g2", route="ra"),
                 _shift(A, "sa3", "guard", now + 6 * HOUR, now + 14 * HOUR,
                        ["g2"], route="rb"),
                 _shift(B, "sb1", "guard", now - 2 * HOUR, now + 6 * HOUR,
                        ["gb"], lead="gb")])
    return srv


def _shared(srv):
    """A handheld of site A enrolled with no role: g1 logs in, then sup1."""
    code = H.enroll_code(srv, A)
    dev, dtok = H.enroll(srv, code, "shared handheld")
    for s in ("g1", "sup1"):
        H.set_pin(srv, s, "7391")
    g1 = H.login(srv, dtok, "g1", "7391")["token"]
    t_sup = H.now_ms()
    sup = H.login(srv, dtok, "sup1", "7391")["token"]
    return dev, dtok, g1, sup, t_sup


def _role(srv, staff):
    return _get(srv, srv.admin_token, "site/" + A, "staff", staff)["f"]["role"]


# ---- item 2: `by` is never a lasting promotion ------------------------------

def test_by_only_within_a_session_held_on_the_device(ctx):
    srv = _world(ctx)
    dev, dtok, g1, sup, t_sup = _shared(srv)
    # honest: the supervisor's offline work, pushed later by the guard
    honest = _op("zone", "zb", {"site": A, "name": "Gate"},
                 s=H.hlc_of(H.now_ms()))
    _sync(srv, g1, what="the guard has the handheld back")
    time.sleep(SLACK_MS * 1.5 / 1000)
    b = _sync(srv, g1, push=[_batch([honest], by="sup1")], what="honest by")
    ack = b["acks"][0]
    assert ack["applied"] == 1 and not ack.get("rej"), \
        "an honest shared-handheld batch is credited: %r" % ack
    # the repro: the guard's own session promotes the guard with by=sup1
    promote = _op("staff", "g1", {"role": "supervisor"})
    ack, _ = _push(srv, g1, [promote], by="sup1", what="by as promotion")
    assert _rej(ack) == {0: "FORBIDDEN"}, \
        "an op stamped after the supervisor left the handheld: %r" % ack
    assert "outside every session" in _rej_entry(ack, 0)["msg"], ack
    # stamped before the supervisor ever logged in
    early = _op("staff", "g1", {"role": "supervisor"},
                s=H.hlc_of(t_sup - 60_000))
    ack, _ = _push(srv, g1, [early], by="sup1", what="back-dated")
    assert _rej(ack) == {0: "FORBIDDEN"}, ack
    assert _role(srv, "g1") == "guard"
    _ = (dev, dtok, sup)


def test_by_ends_at_a_pin_change_and_a_deactivation(ctx):
    srv = _world(ctx)
    _, _, g1, sup, _ = _shared(srv)
    # the supervisor still "holds" the handheld; the PIN is changed
    H.set_pin(srv, "sup1", "8402")
    ack, _ = _push(srv, g1, [_op("staff", "g1", {"role": "supervisor"})],
                   by="sup1", what="by after a PIN change")
    assert _rej(ack) == {0: "FORBIDDEN"}, \
        "a PIN change ends the supervisor's sessions for by: %r" % ack
    assert _role(srv, "g1") == "guard"
    # deactivation: the supervisor logs in again, is deactivated and
    # reactivated; the guard's batch stamped after the deactivation fails
    code = H.enroll_code(srv, A)
    _, dtok = H.enroll(srv, code, "second handheld")
    H.set_pin(srv, "g2", "5517")
    g2 = H.login(srv, dtok, "g2", "5517")["token"]
    H.login(srv, dtok, "sup1", "8402")
    _admin(srv, [_op("staff", "sup1", {"active": False})])
    _admin(srv, [_op("staff", "sup1", {"active": True})])
    ack, _ = _push(srv, g2, [_op("staff", "g2", {"role": "supervisor"})],
                   by="sup1", what="by after a deactivation")
    assert _rej(ack) == {0: "FORBIDDEN"}, ack
    assert _role(srv, "g2") == "guard"


def test_by_on_a_role_enrolled_device_stays_in_that_role(ctx):
    srv = _world(ctx)
    gdev = _device(srv, A, "g1", "guard")
    H.set_pin(srv, "g2", "5517")
    H.login(srv, gdev.device_token, "g2", "5517")
    g1 = H.login(srv, gdev.device_token, "g1", "1234")["token"]
    # g2 is promoted after its guard session on this guard handheld
    _admin(srv, [_op("staff", "g2", {"role": "supervisor"})])
    ack, _ = _push(srv, g1, [_op("zone", "zc", {"site": A, "name": "x"})],
                   by="g2", what="by of a promoted staff member")
    assert ack.get("err") == "FORBIDDEN" and ack["applied"] == 0, ack
    assert _get(srv, srv.admin_token, "site/" + A, "zone", "zc") is None


# ---- item 6: a lead takes over no handover ------------------------------------

def test_lead_handover_checked_before_and_after_the_merge(ctx):
    srv = _world(ctx)
    lead = _device(srv, A, "g1", "guard")      # lead of sa1
    sup = _device(srv, A, "sup1", "supervisor")
    now = H.now_ms()
    # a supervisor's handover from sa2 (led by g2) to sa3
    h = {"site": A, "from_shift": "sa2", "to_shift": "sa3", "by": "sup1",
         "at": now, "note": "from the supervisor"}
    ack, _ = _push(srv, sup.token, [_op("handover", "hx", h)], what="sup")
    assert ack["applied"] == 1, ack
    # the repro: the lead of sa1 rewrites it by also writing from_shift=sa1
    ack, _ = _push(srv, lead.token, [_op("handover", "hx", {
        "from_shift": "sa1", "note": "taken over"})], what="takeover")
    assert _rej(ack) == {0: "FORBIDDEN"}, ack
    got = _get(srv, srv.admin_token, "shift/sa3", "handover", "hx")
    assert got["f"]["note"] == "from the supervisor", got
    # to a shift of another post (route rb) or far away: refused
    ack, _ = _push(srv, lead.token, [_op("handover", "hy", dict(
        h, from_shift="sa1", to_shift="sa3", by="g1"))], what="other post")
    assert _rej(ack) == {0: "FORBIDDEN"}, ack
    # honest: from the lead's own shift to the post's next shift
    ack, _ = _push(srv, lead.token, [_op("handover", "hz", dict(
        h, from_shift="sa1", to_shift="sa2", by="g1"))], what="honest")
    assert ack["applied"] == 1 and not ack.get("rej"), ack


# ---- item 7: records that lie about their site ---------------------------------

def _checkin(kid, site, shift="sa1", staff="g1"):
    now = H.now_ms()
    return _op("checkin", kid, {"site": site, "shift": shift, "staff": staff,
                                "checkpoint": "cpa", "at": now - MIN,
                                "boot": "b1", "mono": 1000,
                                "method": "nfc"})


def _history(srv, token, c, id_):
    return H.req(srv, "GET", "/v1/audit/%s/%s" % (c, id_), token=token)


def test_records_agree_with_their_site(ctx):
    srv = _world(ctx)
    g1 = _device(srv, A, "g1", "guard")
    supa = _device(srv, A, "sup1", "supervisor")
    supb = _device(srv, B, "supb", "supervisor")
    # the repro: A's guard, A's shift, site B
    ack, _ = _push(srv, g1.token, [_checkin("k-lie", B)], what="lie")
    assert _rej(ack) == {0: "BAD_REQUEST"}, ack
    assert "site" in _rej_entry(ack, 0)["msg"], ack
    now = H.now_ms()
    lies = [
        _op("task", "t-lie", {"site": B, "shift": "sa1", "title": "x"}),
        _op("handover", "h-lie", {"site": A, "from_shift": "sb1",
                                  "to_shift": "sa2", "at": now}),
        _op("order", "o-lie", {"site": A, "category": "repair",
                               "title": "x", "reporter": "gb",
                               "status": "reported"}),
        _op("shift", "s-lie", {"site": A, "role": "guard", "starts": now,
                               "ends": now + HOUR, "staff": ["g1", "gb"]}),
    ]
    for who in (supa.token, srv.admin_token):
        b = _sync(srv, who, push=[_batch(lies)], what="lies")
        assert _rej(b["acks"][0]) == {i: "BAD_REQUEST" for i in
                                      range(len(lies))}, b["acks"][0]
    # the honest checkin; its history is A's, whoever asks
    ack, _ = _push(srv, g1.token, [_checkin("k-true", A)], what="true")
    assert ack["applied"] == 1, ack
    r = _history(srv, supa.token, "checkin", "k-true")
    assert r.status == 200 and r.body["entries"][0]["site"] == A, r
    r = _history(srv, supb.token, "checkin", "k-true")
    assert r.status == 404, "another site is told nothing: %r" % r


# ---- item 9: shift length, refusals that name another site's records -------

DAY = 24 * HOUR


def test_shift_length_is_bounded(ctx):
    srv = _world(ctx)
    sup = _device(srv, A, "sup1", "supervisor")
    now = H.now_ms()
    decades = _op("shift", "s-long", {"site": A, "role": "guard",
                                      "starts": now, "ends": now + 30 * 365 * DAY,
                                      "staff": ["g1"]})
    week = _op("shift", "s-week", {"site": A, "role": "guard", "starts": now,
                                   "ends": now + 7 * DAY, "staff": ["g1"]})
    stretch = _op("shift", "sa1", {"ends": now + 40 * 365 * DAY})
    for who in (sup.token, srv.admin_token):
        b = _sync(srv, who, push=[_batch([decades, week, stretch])])
        ack = b["acks"][0]
        assert _rej(ack) == {0: "BAD_REQUEST", 2: "BAD_REQUEST"}, ack
        assert "7 days" in _rej_entry(ack, 0)["msg"], ack
    assert _get(srv, srv.admin_token, "site/" + A, "shift", "s-long") is None
    assert _get(srv, srv.admin_token, "site/" + A, "shift", "s-week")
    # --shift-max-ms moves the bound
    srv2 = _world(ctx, args=("--shift-max-ms", str(30 * 365 * DAY + 1)))
    ack, _ = _push(srv2, srv2.admin_token, [decades], what="raised bound")
    assert ack["applied"] == 1, ack


def test_out_of_scope_names_no_bucket_of_another_site(ctx):
    srv = _world(ctx)
    supb = _device(srv, B, "supb", "supervisor")
    gb = _device(srv, B, "gb", "guard")
    # za is a zone of site A, sa1 a shift of A: B's staff learn nothing
    for tok, o in ((supb.token, _op("zone", "za", {"name": "mine"})),
                   (supb.token, _op("shift", "sa1", {"lead": "supb"})),
                   (gb.token, _op("handover", "hq", {
                       "site": B, "from_shift": "sb1", "to_shift": "sa2",
                       "at": H.now_ms()}))):
        ack, _ = _push(srv, tok, [o], what="other site's record")
        e = _rej_entry(ack, 0)
        assert e["code"] in ("OUT_OF_SCOPE", "FORBIDDEN") and \
            "site/" + A not in e["msg"] and "would be in" not in e["msg"] and \
            not e.get("cur"), e


# ---- item 9: PIN rules the admin sets ------------------------------------------

def test_pin_rules(ctx):
    def pin(srv, p):
        return H.req(srv, "POST", "/v1/admin/staff-pin",
                     body={"staff": "g1", "pin": p}, token=srv.admin_token)

    srv = _world(ctx)      # defaults: 4 bytes at least, common PINs allowed
    assert pin(srv, "1234").status == 200
    assert pin(srv, "123").status == 400
    srv = _world(ctx, args=("--pin-min-length", "6", "--pin-refuse-common"))
    for p, why in (("73918", "minimum length"), ("123456", "common"),
                   ("111111", "common")):
        r = pin(srv, p)
        assert r.status == 400 and r.body["error"] == "BAD_REQUEST" and \
            why in r.body["msg"], (p, r)
    assert pin(srv, "739184").status == 200
    code = H.enroll_code(srv, A)
    _, dtok = H.enroll(srv, code, "h")
    assert H.login(srv, dtok, "g1", "739184")["token"]


# ---- item 9: photo quotas and orphans ---------------------------------------

OCTET = {"Content-Type": "application/octet-stream"}
KB = 1024


def _put(srv, data, token):
    h = hashlib.sha256(data).hexdigest()
    return h, H.raw_http(srv, "PUT", "/v1/blobs/" + h, data, OCTET, token, 30)


def test_blob_quotas_per_device_and_site(ctx):
    srv = _world(ctx, args=("--blob-device-day-mb", "1", "--blob-site-mb", "2",
                            "--blob-orphan-grace-ms", "0"))
    devs = [_device(srv, A, s, "guard") for s in ("g1", "g2")] + \
        [_device(srv, A, "sup1", "supervisor") for _ in range(2)]
    _, r = _put(srv, os.urandom(600 * KB), devs[0].token)
    assert r.status == 200, r
    _, r = _put(srv, os.urandom(600 * KB), devs[0].token)
    assert r.status == 429 and r.body["error"] == "RATE_LIMITED" and \
        int(r.headers["retry-after"]) > 3600, "device day quota: %r" % r
    _, r = _put(srv, os.urandom(600 * KB), devs[1].token)
    assert r.status == 200, r
    _, r = _put(srv, os.urandom(600 * KB), devs[2].token)
    assert r.status == 200, r
    _, r = _put(srv, os.urandom(600 * KB), devs[3].token)
    assert r.status == 413 and r.body["error"] == "TOO_LARGE" and \
        "site" in r.body["msg"], "site quota: %r" % r
    # another site is not charged for A's photos; the admin has no quota
    gb = _device(srv, B, "gb", "guard")
    assert _put(srv, os.urandom(600 * KB), gb.token)[1].status == 200
    assert _put(srv, os.urandom(3000 * KB), srv.admin_token)[1].status == 200


def test_orphan_blobs_are_collected_after_the_grace(ctx):
    srv = _world(ctx, args=("--blob-orphan-grace-ms", "1000",
                            "--maint-interval-ms", "300"))
    g1 = _device(srv, A, "g1", "guard")
    orphan, r = _put(srv, os.urandom(10 * KB), g1.token)
    assert r.status == 200, r
    named, r = _put(srv, os.urandom(10 * KB), g1.token)
    assert r.status == 200, r
    ack, _ = _push(srv, g1.token, [_op("order", "o-photo", {
        "site": A, "category": "repair", "title": "leak", "reporter": "g1",
        "status": "reported", "photos": [named]})], what="order with photo")
    assert ack["applied"] == 1, ack
    path = os.path.join(srv.data, "blobs", orphan)
    deadline = time.monotonic() + 10
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(path), "an orphan outlived its grace"
    r = H.raw_http(srv, "GET", "/v1/blobs/" + orphan, None, {}, g1.token, 10)
    assert r.status == 404, r
    r = H.raw_http(srv, "GET", "/v1/blobs/" + named, None, {}, g1.token, 10)
    assert r.status == 200, "a photo a record names is kept: %r" % r
