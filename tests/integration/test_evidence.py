"""Evidence times (protocol/PROTOCOL.md, "Evidence time"): anchors per (device, boot) from each
sync's dev {boot, mono, wall}, and the server-filled rcv / skew / at_est /
trust of checkins; the devices report."""

import harness as H
from synclib import (HOUR, MIN, SEC, _admin, _device, _get, _op, _push,
                     _push_ok, _rej, _shift, _site, _staff, _sync)


E = "E"
TOL = 2 * SEC  # network and scheduling slack between our clock read and the server's


def _world(ctx):
    srv = ctx.server()
    now = H.now_ms()
    _admin(srv, [_site(E), _staff(E, "g1", "guard"), _staff(E, "g2", "guard"),
                 _staff(E, "sup1", "supervisor"),
                 _op("zone", "z1", {"site": E, "name": "Gate", "kind": "lobby"}),
                 _op("checkpoint", "cp1", {"site": E, "zone": "z1", "name": "Gate",
                                           "tag": "QR-GATE-1"}),
                 _op("route", "r1", {"site": E, "name": "Round", "checkpoints": ["cp1"],
                                     "every_min": 60, "grace_min": 10}),
                 _shift(E, "se", "guard", now - 2 * HOUR, now + 6 * HOUR, ["g1", "g2"],
                        route="r1")])
    return srv


def _checkin(kid, at, boot, mono, staff="g1"):
    return _op("checkin", kid, {"site": E, "shift": "se", "route": "r1", "checkpoint": "cp1",
                                "staff": staff, "at": int(at), "boot": boot,
                                "mono": int(mono), "method": "qr"})


def _read(srv, kid):
    r = _get(srv, srv.admin_token, "shift/se", "checkin", kid)
    assert r is not None, "checkin %s not stored" % kid
    return r["f"]


def test_slow_clock_corrected(ctx):
    srv = _world(ctx)
    g = _device(srv, E, "g1", "guard")
    t = H.now_ms()
    booted = t - HOUR             # true time of boot
    capture = t - 10 * MIN        # true capture time
    slow = 40 * MIN               # the phone's clock is 40 minutes slow
    dev = {"boot": "boot-slow", "mono": t - booted, "wall": t - slow, "pending": 1}
    _push_ok(srv, g.token, [_checkin("k1", capture - slow, "boot-slow", capture - booted)],
             dev=dev, what="checkin from a slow phone")
    f = _read(srv, "k1")
    assert f.get("trust") == "corrected", \
        "anchor known and at 40 min off at_est: trust must be corrected, got %r" % f.get("trust")
    assert abs(f["at_est"] - capture) <= TOL, \
        "at_est %d must be the true capture time %d (off by %d ms)" % (
            f["at_est"], capture, f["at_est"] - capture)
    assert abs(f["skew"] + slow) <= TOL, "skew must be about -40 min, got %r" % f.get("skew")
    assert abs(f["rcv"] - t) <= TOL, "rcv %r not the receive time %r" % (f.get("rcv"), t)
    assert f["at"] == capture - slow, "the device's at must be kept as sent: %r" % f["at"]


def test_consistent_clock_verified(ctx):
    srv = _world(ctx)
    g = _device(srv, E, "g1", "guard")
    t = H.now_ms()
    booted = t - 5 * HOUR
    capture = t - 20 * MIN
    dev = {"boot": "boot-ok", "mono": t - booted, "wall": t, "pending": 2}
    _push_ok(srv, g.token, [_checkin("k1", capture, "boot-ok", capture - booted),
                            _checkin("k2", capture + 30 * SEC, "boot-ok", capture - booted),
                            _checkin("k3", capture + 90 * SEC, "boot-ok", capture - booted)],
             dev=dev, what="checkins from a good clock")
    f = _read(srv, "k1")
    assert f.get("trust") == "verified", "consistent clock: trust %r" % f.get("trust")
    assert abs(f["at_est"] - capture) <= TOL, "at_est %r vs capture %r" % (f["at_est"], capture)
    assert abs(f["skew"]) <= TOL, "skew of a right clock must be ~0, got %r" % f["skew"]
    assert _read(srv, "k2").get("trust") == "verified", \
        "at 30 s off at_est is within 60 s: verified"
    assert _read(srv, "k3").get("trust") == "corrected", \
        "at 90 s off at_est is beyond 60 s: corrected"


def test_unknown_boot_unverified_uses_skew(ctx):
    srv = _world(ctx)
    g = _device(srv, E, "g1", "guard")
    t = H.now_ms()
    fast = 10 * MIN                   # the phone's clock is 10 minutes fast
    capture = t - HOUR
    dev = {"boot": "boot-new", "mono": 30 * SEC, "wall": t + fast, "pending": 1}
    _push_ok(srv, g.token, [_checkin("k1", capture + fast, "boot-old", 4 * HOUR)],
             dev=dev, what="checkin from a boot before a reboot")
    f = _read(srv, "k1")
    assert f.get("trust") == "unverified", \
        "no anchor for the checkin's boot: unverified, got %r" % f.get("trust")
    assert abs(f["skew"] - fast) <= TOL, \
        "skew = dev.wall - server now = ~+10 min, got %r" % f.get("skew")
    assert f["at_est"] == f["at"] - f["skew"], \
        "unverified at_est must be at - skew exactly: %r != %r - %r" % (
            f["at_est"], f["at"], f["skew"])
    assert abs(f["at_est"] - capture) <= TOL, "at_est %r vs capture %r" % (f["at_est"], capture)


def test_no_wall_skew_null_at_est_is_at(ctx):
    srv = _world(ctx)
    g = _device(srv, E, "g1", "guard")
    t = H.now_ms()
    at = t - 3 * HOUR - 123
    _push_ok(srv, g.token, [_checkin("k1", at, "boot-gone", 2 * HOUR)],
             dev={"boot": "boot-now", "mono": 5000, "pending": 0}, what="dev without wall")
    _push_ok(srv, g.token, [_checkin("k2", at, "boot-gone2", 2 * HOUR)],
             what="no dev at all")
    for kid in ("k1", "k2"):
        f = _read(srv, kid)
        assert f.get("skew") is None, "%s: without dev.wall skew is null, got %r" % (
            kid, f.get("skew"))
        assert f.get("trust") == "unverified", "%s: trust %r" % (kid, f.get("trust"))
        assert f.get("at_est") == at, "%s: unverified without skew: at_est = at (%d), got %r" % (
            kid, at, f.get("at_est"))


def test_anchor_is_smallest_candidate(ctx):
    srv = _world(ctx)
    g = _device(srv, E, "g1", "guard")
    m1 = 1000 * SEC
    # boot A: the second sync's candidate is 30 s later (as if delayed): ignored.
    t1 = H.now_ms()
    _sync(srv, g.token, dev={"boot": "bA", "mono": m1, "wall": t1}, what="anchor bA")
    t2 = H.now_ms()
    m2 = m1 + (t2 - t1) - 30 * SEC
    _push_ok(srv, g.token, [_checkin("ka", t2 - 31 * SEC, "bA", m2 - SEC)],
             dev={"boot": "bA", "mono": m2, "wall": t2}, what="later candidate")
    fa = _read(srv, "ka")
    want = t1 - m1 + m2 - SEC  # first anchor + mono
    assert abs(fa["at_est"] - want) <= TOL, \
        "anchor is the smallest candidate: at_est %d, expected %d (off %d ms)" % (
            fa["at_est"], want, fa["at_est"] - want)
    # boot B: the second sync's candidate is 30 s earlier: it becomes the anchor.
    t1 = H.now_ms()
    _sync(srv, g.token, dev={"boot": "bB", "mono": m1, "wall": t1}, what="anchor bB")
    t2 = H.now_ms()
    m2 = m1 + (t2 - t1) + 30 * SEC
    _push_ok(srv, g.token, [_checkin("kb", t2 - SEC, "bB", m2 - SEC)],
             dev={"boot": "bB", "mono": m2, "wall": t2}, what="earlier candidate")
    fb = _read(srv, "kb")
    want = t2 - SEC
    assert abs(fb["at_est"] - want) <= TOL, \
        "a smaller candidate replaces the anchor: at_est %d, expected %d (off %d ms)" % (
            fb["at_est"], want, fb["at_est"] - want)


def test_anchor_belongs_to_one_device(ctx):
    srv = _world(ctx)
    g1 = _device(srv, E, "g1", "guard")
    g2 = _device(srv, E, "g2", "guard")
    t = H.now_ms()
    _sync(srv, g1.token, dev={"boot": "same-boot", "mono": HOUR, "wall": t}, what="g1 anchors")
    _push_ok(srv, g2.token, [_checkin("k2", t - MIN, "same-boot", HOUR - MIN, staff="g2")],
             dev={"boot": "g2-boot", "mono": HOUR, "wall": t}, what="g2 checkin")
    f = _read(srv, "k2")
    assert f.get("trust") == "unverified", \
        "anchors are per (device, boot): another device's boot id gives no anchor; " \
        "trust %r" % f.get("trust")


def _report(srv, token, site=E):
    r = H.req(srv, "GET", "/v1/reports/devices/" + site, token=token,
              headers={"Accept": "application/json"})
    return r


def _entry(rep, device):
    devs = rep.get("devices") or []
    hit = [d for d in devs if d.get("device") == device]
    assert len(hit) == 1, "device %s in report %d times: %r" % (device, len(hit), devs)
    return hit[0]


def test_devices_report_pending_skew_boot(ctx):
    srv = _world(ctx)
    g = _device(srv, E, "g1", "guard")
    sup = _device(srv, E, "sup1", "supervisor")
    t = H.now_ms()
    ack, _ = _push(srv, g.token, [_op("zone", "zx", {"site": E, "name": "nope"}),
                                  _op("route", "rx", {"site": E, "name": "nope"})],
                   dev={"boot": "rb1", "mono": 12345, "wall": t - 40 * MIN, "pending": 7},
                   what="guard sync with dev")
    assert ack.get("applied") == 0 and len(_rej(ack)) == 2, "guard's zone/route writes: %r" % ack
    r = _report(srv, sup.token)
    assert r.status == 200, "supervisor GET devices report: %s %r" % (r.status, r.body)
    assert r.body.get("site") == E, "report site: %r" % r.body.get("site")
    e = _entry(r.body, g.device)
    assert e.get("staff") == "g1", "report staff %r" % e.get("staff")
    assert e.get("name") == "dev-g1", "report name %r (enrolled as dev-g1)" % e.get("name")
    assert e.get("pending") == 5, \
        "report pending %r: the device said 7 before pushing 2" % e.get("pending")
    assert e.get("boot") == "rb1", "report boot %r" % e.get("boot")
    assert isinstance(e.get("skew"), int) and abs(e["skew"] + 40 * MIN) <= TOL, \
        "report skew must be ~ -40 min: %r" % e.get("skew")
    assert isinstance(e.get("last_sync"), int) and abs(e["last_sync"] - t) <= 5 * SEC, \
        "last_sync %r, synced at ~%d" % (e.get("last_sync"), t)
    assert e.get("rejected") == 2, "ops rejected: %r, expected 2" % e.get("rejected")

    _sync(srv, g.token, what="sync without dev")
    e = _entry(_report(srv, sup.token).body, g.device)
    assert e.get("pending") == 5, "without dev the last reported pending stands: %r" % e.get("pending")
    _sync(srv, g.token, dev={"boot": "rb2", "mono": 10, "wall": H.now_ms(), "pending": 0},
          what="sync with pending 0")
    e = _entry(_report(srv, srv.admin_token).body, g.device)
    assert e.get("pending") == 0 and e.get("boot") == "rb2", \
        "admin report after pending 0 / boot rb2: %r" % e


def test_devices_report_not_for_guard(ctx):
    srv = _world(ctx)
    g = _device(srv, E, "g1", "guard")
    r = _report(srv, g.token)
    assert r.status == 403, "guard must not read the devices report: %s %r" % (r.status, r.body)
    assert isinstance(r.body, dict) and r.body.get("error") == "FORBIDDEN", \
        "whole-request error body {error: FORBIDDEN}: %r" % r.body


def test_anchor_without_wall_still_verifies(ctx):
    srv = _world(ctx)
    g = _device(srv, E, "g1", "guard")
    t = H.now_ms()
    capture = t - 5 * MIN
    _push_ok(srv, g.token, [_checkin("k1", capture, "bw", capture - (t - HOUR))],
             dev={"boot": "bw", "mono": HOUR, "pending": 0}, what="dev without wall")
    f = _read(srv, "k1")
    assert f.get("skew") is None, "no dev.wall: skew null, got %r" % f.get("skew")
    assert f.get("trust") == "verified", \
        "the request's (boot, mono) anchors its checkins even without wall: %r" % f.get("trust")
    assert abs(f["at_est"] - capture) <= TOL, "at_est %r vs %r" % (f["at_est"], capture)


def test_devices_report_is_per_site(ctx):
    srv = _world(ctx)
    _admin(srv, [_site("F"), _staff("F", "gf", "guard"), _staff("F", "supf", "supervisor")])
    ge = _device(srv, E, "g1", "guard")
    gf = _device(srv, "F", "gf", "guard")
    sup = _device(srv, E, "sup1", "supervisor")
    for d in (ge, gf):
        _sync(srv, d.token, dev={"boot": "b", "mono": 1, "wall": H.now_ms(), "pending": 3})
    r = _report(srv, sup.token)
    devs = {d.get("device") for d in r.body.get("devices") or []}
    assert ge.device in devs and gf.device not in devs, \
        "site E's report lists E's devices only: %s" % sorted(devs)
    r = _report(srv, sup.token, site="F")
    assert r.status == 403, "supervisor of E reads F's devices report: %s %r" % (r.status, r.body)


def test_new_phone_synced_everything_old_slot_missed_not_pending(ctx):
    """issue 11: the guard logs in on a new phone and syncs everything it
    holds (2 checkins, dev.pending 2 as the push starts).  The report keeps
    what remains after the push (0), so the earlier round's unscanned slot
    is `missed`; counting the outbox as it was before the push said
    `pending` for a device that had nothing left."""
    srv = _world(ctx)
    sup = _device(srv, E, "sup1", "supervisor")
    g = _device(srv, E, "g1", "guard")
    now = H.now_ms()
    boot = "new-phone"
    dev = {"boot": boot, "mono": 3 * HOUR, "wall": now, "pending": 2}
    _push_ok(srv, g.token, [
        _checkin("ck-a", now - 30 * MIN, boot, 3 * HOUR - 30 * MIN),
        _checkin("ck-b", now - 20 * MIN, boot, 3 * HOUR - 20 * MIN)], dev=dev)
    e = _entry(_report(srv, sup.token).body, g.device)
    assert e.get("pending") == 0, "nothing is left on the phone: %r" % e
    rep = H.check(H.req(srv, "GET", "/v1/reports/shift/se", token=sup.token))
    rounds = rep["patrol"]["rounds"]
    assert rounds[0]["checkpoints"][0]["state"] == "missed", rounds[0]
    assert rounds[1]["checkpoints"][0]["state"] == "on_time", rounds[1]
    assert rep["patrol"]["pending"] == 0 and rep["patrol"]["missed"] == 1, \
        rep["patrol"]
    shift_dev = [d for d in rep["devices"] if d["device"] == g.device]
    assert shift_dev and shift_dev[0]["pending"] == 0, rep["devices"]
