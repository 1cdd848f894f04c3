"""The handheld side of issue 11's evidence rules, through the fieldsync CLI
(libfieldsync): two handhelds stepping one work order offline converge on
the furthest status with the server, whatever order they sync in; a step
back is refused on the device; a task ticked before its window warns and
says when it opens (the report then counts it `early`); ticking a done task
again says so and queues nothing."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from test_cli_sync import HOUR, Cli, admin_all, round_site  # noqa: E402


def _tech_site(srv):
    now = H.now_ms()
    round_site(srv, 2, shifts=[{"id": "sht", "role": "technician",
                                "staff": ["t1"], "starts": now - HOUR,
                                "ends": now + 8 * HOUR}])
    H.admin_push(srv, [H.op("staff", "t1", {"site": "s1", "name": "Tech",
                                            "role": "technician",
                                            "active": True})])
    H.set_pin(srv, "t1", "1234")
    H.admin_push(srv, [H.op("order", "wo-leak-1", {
        "site": "s1", "category": "repair", "title": "Leak", "reporter": "sv",
        "reported_at": now - HOUR, "status": "reported", "assignee": "t1"})])


def test_cli_two_handhelds_converge_on_the_furthest_status(ctx):
    """Phone A steps the order to resolved offline; later phone B (the same
    technician's spare) accepts it offline, so B's stamp is newer.  B syncs
    first.  Without the lattice the server (and then both phones) would end
    `accepted` with an accepted_at after resolved_at."""
    srv = ctx.server()
    _tech_site(srv)
    a = Cli(ctx, srv, "phone-a")
    a.enroll_login("t1", role="technician")
    b = Cli(ctx, srv, "phone-b")
    b.enroll_login("t1", role="technician")
    for step in ("accept", "on-site", "resolve"):
        assert a.run("--offline", "order", "wo-leak-1", step)["ok"]
        time.sleep(0.005)
    # a step back on the same phone is refused there, nothing queued
    code, out, err = a.run("--offline", "order", "wo-leak-1", "accept",
                           ok=False, json_out=False)
    assert "status cannot go from resolved to accepted" in out + err, (out, err)
    time.sleep(0.01)
    assert b.run("--offline", "order", "wo-leak-1", "accept")["ok"]
    b_accepted = b.run("get", "order", "wo-leak-1")["record"]["f"]["accepted_at"]
    for _ in range(2):
        for d in (b, a):
            s = d.run("sync")
            assert s["ok"] and s["pending"] == 0, s
    ra = a.run("get", "order", "wo-leak-1")["record"]
    rb = b.run("get", "order", "wo-leak-1")["record"]
    server = admin_all(srv)[("order", "wo-leak-1")]
    assert ra["f"] == rb["f"] == server["f"], (ra, rb, server)
    assert ra["s"] == rb["s"] == server["s"], "stamps must agree too"
    f = server["f"]
    assert f["status"] == "resolved", f
    # each step time is the first the server got: B synced first
    assert f["accepted_at"] == b_accepted, f
    assert f["on_site_at"] <= f["resolved_at"], f
    assert f["resolved_trust"] in ("verified", "corrected"), f


test_cli_two_handhelds_converge_on_the_furthest_status.timeout = 90


def test_cli_early_task_warns_and_done_twice_changes_nothing(ctx):
    srv = ctx.server()
    now = H.now_ms()
    round_site(srv, 2, shifts=[{"id": "shc", "role": "cleaner",
                                "staff": ["c1"], "starts": now - HOUR,
                                "ends": now + 8 * HOUR},
                               {"id": "shs", "role": "supervisor",
                                "staff": ["sv"], "starts": now - HOUR,
                                "ends": now + 8 * HOUR}])
    H.admin_push(srv, [H.op("task", "t-later", {
        "site": "s1", "shift": "shc", "title": "Mop lobby", "status": "open",
        "assignee": "c1", "due_from": now + 2 * HOUR,
        "due_to": now + 3 * HOUR})])
    c = Cli(ctx, srv, "cleaner-phone")
    c.enroll_login("c1", role="cleaner")
    code, out, err = c.run("done", "t-later", json_out=False)
    assert code == 0, (out, err)
    assert "t-later's window opens at" in err and "early" in err, err
    code, out, err = c.run("done", "t-later", ok=False, json_out=False)
    assert "already done" in out + err and "nothing changed" in out + err, \
        (out, err)
    s = c.run("sync")
    assert s["ok"] and s["pending"] == 0, s
    f = admin_all(srv)[("task", "t-later")]["f"]
    assert f["done_trust"] == "verified", f
    sv = H.device_for(srv, "s1", "sv", "supervisor", pin="1234")
    rep = H.check(H.req(srv, "GET", "/v1/reports/shift/shc", token=sv.token))
    assert rep["tasks"]["early"] == 1 and rep["tasks"]["done_on_time"] == 0, \
        rep["tasks"]
