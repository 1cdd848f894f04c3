"""Evidence that cannot go backwards (issue 11): an order's status is a
lattice (reported -> accepted -> on_site -> resolved -> closed, cancelled
from an open state by a supervisor) that never moves back, whatever the
stamps; each step time is set once; two devices writing at once converge
to the furthest state; a skipped step shows in the report; steps and task
completions get an evidence time (at_est and trust) like checkins; a task
done before its window is `early`."""

import harness as H
from synclib import (HOUR, MIN, SEC, _admin, _device, _get, _hlc, _op,
                     _pull_all, _push, _push_ok, _rej, _rej_entry, _shift,
                     _site, _staff, _sync, _task)

S = "L"


def _world(ctx):
    srv = ctx.server()
    now = H.now_ms()
    _admin(srv, [_site(S), _staff(S, "t1", "technician"),
                 _staff(S, "sup", "supervisor"), _staff(S, "c1", "cleaner"),
                 _shift(S, "sh", "technician", now - 2 * HOUR, now + 6 * HOUR,
                        ["t1", "c1"])])
    return srv


def _order(oid, status="reported", **f):
    base = {"site": S, "category": "repair", "title": oid, "reporter": "sup",
            "reported_at": H.now_ms() - HOUR, "status": status}
    base.update(f)
    return _op("order", oid, base)


def _read(srv, oid):
    r = _get(srv, srv.admin_token, "orders/" + S, "order", oid)
    assert r is not None, "order %s not stored" % oid
    return r


def test_status_never_moves_back(ctx):
    """The issue's reproduction: resolve, then on-site, then accept: the
    last two are refused per op with the reason, and the order stays
    resolved with its resolved_at."""
    srv = _world(ctx)
    t1 = _device(srv, S, "t1", "technician")
    _admin(srv, [_order("wo-leak-1", assignee="t1")])
    now = H.now_ms()
    _push_ok(srv, t1.token, [_op("order", "wo-leak-1",
                                 {"status": "resolved", "resolved_at": now})])
    ack, _ = _push(srv, t1.token, [
        _op("order", "wo-leak-1", {"status": "on_site", "on_site_at": now + 1}),
        _op("order", "wo-leak-1", {"status": "accepted", "accepted_at": now + 2}),
        _op("order", "wo-leak-1", {"note": "still fine"})])
    assert _rej(ack) == {0: "BAD_REQUEST", 1: "BAD_REQUEST"}, ack
    assert _rej_entry(ack, 1)["msg"] == \
        "status cannot go from resolved to accepted", ack
    assert _rej_entry(ack, 1)["cur"]["f"]["status"] == "resolved"
    f = _read(srv, "wo-leak-1")["f"]
    assert f["status"] == "resolved" and f["resolved_at"] == now
    assert f.get("accepted_at") is None and f.get("on_site_at") is None
    assert f["note"] == "still fine"


def test_forward_move_wins_over_a_newer_stamp_and_both_converge(ctx):
    """Two devices at once: the supervisor's `accepted` carries the newer
    stamp, the technician's `resolved` the older one.  Whichever arrives
    first, the server ends `resolved`, and what each device pulls (or
    gets back as `cur`) makes it `resolved` too under last writer wins."""
    for first in ("accept", "resolve"):
        srv = _world(ctx)
        t1 = _device(srv, S, "t1", "technician")
        sup = _device(srv, S, "sup", "supervisor")
        oid = "wo-" + first
        _admin(srv, [_order(oid, assignee="t1")])
        now = H.now_ms()
        s_res = _hlc(now - 20 * SEC)           # older stamp
        s_acc = _hlc(now - 10 * SEC)           # newer stamp
        res = _op("order", oid, {"status": "resolved",
                                 "resolved_at": now - 20 * SEC}, s=s_res)
        acc = _op("order", oid, {"status": "accepted",
                                 "accepted_at": now - 10 * SEC}, s=s_acc)
        if first == "accept":
            _push_ok(srv, sup.token, [acc])
            _push_ok(srv, t1.token, [res])   # forward: applied
        else:
            _push_ok(srv, t1.token, [res])
            ack, _ = _push(srv, sup.token, [acc])
            assert _rej(ack) == {0: "BAD_REQUEST"}, ack
            assert _rej_entry(ack, 0)["cur"]["f"]["status"] == "resolved"
        rec = _read(srv, oid)
        assert rec["f"]["status"] == "resolved", (first, rec)
        st = rec["s"]["status"]
        if first == "accept":
            # a stamp above the supervisor's, so its device takes resolved
            assert st[0] > s_acc and st[1] == "server", st
        # each device's last-writer-wins merge of what it pulls
        for dev, mine in ((sup, (s_acc, sup.device, "accepted")),
                          (t1, (s_res, t1.device, "resolved"))):
            got = _pull_all(srv, dev.token, cursors={"orders/" + S: 0})
            r = got["recs"]["orders/" + S][("order", oid)]
            srv_stamp = (r["s"]["status"][0], r["s"]["status"][1])
            local = mine[2] if (mine[0], mine[1]) > srv_stamp else r["f"]["status"]
            if first == "resolve" and dev is sup:
                local = "resolved"  # its op came back rejected with cur
            assert local == "resolved", (first, dev.device, r)


def test_step_time_is_set_once(ctx):
    srv = _world(ctx)
    t1 = _device(srv, S, "t1", "technician")
    sup = _device(srv, S, "sup", "supervisor")
    _admin(srv, [_order("wo-1", assignee="t1")])
    now = H.now_ms()
    _push_ok(srv, t1.token, [_op("order", "wo-1", {"status": "accepted",
                                                  "accepted_at": now - MIN})])
    s_late = _hlc(H.now_ms() + 1000)
    # a later write of the same step, newer stamp: applied, time kept, and
    # the kept time comes back under a stamp above the writer's
    _push_ok(srv, sup.token, [_op("order", "wo-1", {"status": "accepted",
                                                   "accepted_at": now},
                                  s=s_late)])
    rec = _read(srv, "wo-1")
    assert rec["f"]["accepted_at"] == now - MIN
    assert rec["s"]["accepted_at"][0] > s_late
    # a step time without its move is refused
    ack, _ = _push(srv, t1.token, [_op("order", "wo-1", {"resolved_at": now})])
    assert _rej(ack) == {0: "BAD_REQUEST"}, ack
    assert "resolved_at is set once" in _rej_entry(ack, 0)["msg"]


def test_cancel_only_by_supervisor_from_open_states(ctx):
    srv = _world(ctx)
    t1 = _device(srv, S, "t1", "technician")
    sup = _device(srv, S, "sup", "supervisor")
    _admin(srv, [_order("wo-a", assignee="t1"), _order("wo-b", assignee="t1")])
    ack, _ = _push(srv, t1.token, [_op("order", "wo-a", {"status": "cancelled"})])
    assert _rej(ack) == {0: "FORBIDDEN"}, ack
    _push_ok(srv, t1.token, [_op("order", "wo-a", {"status": "accepted"})])
    _push_ok(srv, sup.token, [_op("order", "wo-a", {"status": "cancelled"})])
    ack, _ = _push(srv, t1.token, [_op("order", "wo-a", {"status": "resolved"})])
    assert _rej_entry(ack, 0)["msg"] == \
        "status cannot go from cancelled to resolved", ack
    _push_ok(srv, t1.token, [_op("order", "wo-b", {"status": "resolved"})])
    ack, _ = _push(srv, sup.token, [_op("order", "wo-b", {"status": "cancelled"})])
    assert _rej_entry(ack, 0)["msg"] == \
        "status cannot go from resolved to cancelled", ack
    _push_ok(srv, sup.token, [_op("order", "wo-b", {"status": "closed"})])
    assert _read(srv, "wo-a")["f"]["status"] == "cancelled"
    assert _read(srv, "wo-b")["f"]["status"] == "closed"


def test_skipped_step_in_report_and_step_evidence_time(ctx):
    """A phone-resolved order never went on site: the report lists the
    skipped steps.  The step time the server did not get is filled by the
    write that reached it, and each step gets at_est and trust from the
    device's boot anchor."""
    srv = _world(ctx)
    t1 = _device(srv, S, "t1", "technician")
    sup = _device(srv, S, "sup", "supervisor")
    now = H.now_ms()
    _admin(srv, [_order("wo-p", assignee="t1", reported_at=now - 10 * MIN)])
    boot, mono = "b-tech", 500000
    dev = {"boot": boot, "mono": mono, "wall": now, "pending": 1}
    # the device's clock is 2 h behind: the claim differs from the anchor
    _push_ok(srv, t1.token, [_op("order", "wo-p", {
        "status": "resolved", "resolved_at": now - 2 * HOUR - 5 * MIN,
        "boot": boot, "mono": mono - 5 * MIN})], dev=dev)
    f = _read(srv, "wo-p")["f"]
    assert f["resolved_trust"] == "corrected", f
    assert abs(f["resolved_at_est"] - (now - 5 * MIN)) < 3 * SEC, f
    rep = H.check(H.req(srv, "GET", "/v1/reports/shift/sh", token=sup.token), 200)
    item = {o["order"]: o for o in rep["orders"]["items"]}["wo-p"]
    assert item["skipped"] == ["accepted", "on_site"], item
    assert item["checked_at"] == f["resolved_at_est"]
    assert item["checked_trust"] == "corrected"


def test_task_done_before_its_window_is_early(ctx):
    srv = _world(ctx)
    c1 = _device(srv, S, "c1", "cleaner")
    sup = _device(srv, S, "sup", "supervisor")
    now = H.now_ms()
    _admin(srv, [_task(S, "tk-early", "sh", due_from=now + HOUR,
                       due_to=now + 2 * HOUR),
                 _task(S, "tk-ok", "sh", due_from=now - HOUR, due_to=now + HOUR)])
    boot = "b-clean"
    dev = {"boot": boot, "mono": 100000, "wall": now, "pending": 2}
    _push_ok(srv, c1.token, [
        _op("task", "tk-early", {"status": "done", "done_at": now,
                                 "done_by": "c1", "boot": boot, "mono": 100000}),
        _op("task", "tk-ok", {"status": "done", "done_at": now,
                              "done_by": "c1", "boot": boot, "mono": 100000})],
        dev=dev)
    f = _get(srv, srv.admin_token, "shift/sh", "task", "tk-early")["f"]
    assert f["done_trust"] == "verified" and abs(f["done_at_est"] - now) < 3 * SEC
    rep = H.check(H.req(srv, "GET", "/v1/reports/shift/sh", token=sup.token), 200)
    t = rep["tasks"]
    assert (t["done"], t["done_on_time"], t["early"]) == (2, 1, 1), t
    timing = {i["task"]: i["timing"] for i in t["items"]}
    assert timing == {"tk-early": "early", "tk-ok": "on_time"}, timing
