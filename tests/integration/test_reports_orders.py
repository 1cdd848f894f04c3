"""Work orders in the reports (issue 4): each category's service level is
breached exactly when its checked time is later than the deadline, or
still empty once the deadline has passed — checked at the boundary
minute; orders by category with on-time rates; the delay between
reported_at and the server receiving the order."""

import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

MIN = 60 * 1000
HOUR = 60 * MIN

_last = [0]


def _s():
    s = max(hlc_of(now_ms()), _last[0] + 1)
    _last[0] = s
    return s


def _op(c, id_, f):
    return {"c": c, "id": id_, "s": _s(), "f": dict(f)}


def _order(oid, cat, reported, status, **times):
    f = {"site": "s1", "category": cat, "title": oid, "reporter": "sup",
         "status": status}
    if reported is not None:
        f["reported_at"] = reported
    f.update(times)
    return _op("order", oid, f)


def test_order_levels_at_the_boundary_minute(ctx):
    srv = ctx.server()
    now = now_ms() // MIN * MIN
    R = now - 2 * HOUR          # the short levels
    L = now - 30 * HOUR         # the 24-hour ones
    admin_push(srv, [
        _op("site", "s1", {"name": "S1", "tz": "Asia/Shanghai",
                           "households": 100}),
        _op("staff", "sup", {"site": "s1", "name": "Sup",
                             "role": "supervisor", "active": True}),
        _op("shift", "sh", {"site": "s1", "role": "supervisor",
                            "starts": now - 31 * HOUR, "ends": now + HOUR,
                            "staff": ["sup"]}),
        # elevator entrapment: on site within 5 minutes
        _order("e-at", "elevator_entrapment", R, "resolved",
               on_site_at=R + 5 * MIN),                  # exactly: met
        _order("e-1ms", "elevator_entrapment", R, "resolved",
               on_site_at=R + 5 * MIN + 1),              # a ms late
        _order("e-6", "elevator_entrapment", R, "resolved",
               on_site_at=R + 6 * MIN),                  # a minute late
        # urgent water: 15 minutes
        _order("w-15", "urgent_water", R, "resolved", on_site_at=R + 15 * MIN),
        _order("w-16", "urgent_water", R, "resolved", on_site_at=R + 16 * MIN),
        # incident: 15 minutes; nobody there yet
        _order("i-wait", "incident", now - 14 * MIN, "reported"),
        _order("i-late", "incident", now - 16 * MIN, "reported"),
        # complaint: accepted within 24 hours
        _order("k-24", "complaint", L, "closed", accepted_at=L + 24 * HOUR),
        _order("k-none", "complaint", now - 24 * HOUR - MIN, "reported"),
        # repair: resolved within 24 hours
        _order("r-24", "repair", L, "resolved", resolved_at=L + 24 * HOUR),
        _order("r-25", "repair", L, "resolved",
               resolved_at=L + 24 * HOUR + MIN),
        _order("r-open-late", "repair", now - 24 * HOUR - MIN, "accepted"),
        _order("r-open-ok", "repair", now - 23 * HOUR, "accepted"),
    ])
    sup = device_for(srv, "s1", "sup", "supervisor")
    rep = check(req(srv, "GET", "/v1/reports/shift/sh", token=sup.token), 200)
    items = {o["order"]: o for o in rep["orders"]["items"]}
    level = {k: v["level"] for k, v in items.items()}
    assert level == {
        "e-at": "met", "e-1ms": "breached", "e-6": "breached",
        "w-15": "met", "w-16": "breached",
        "i-wait": "waiting", "i-late": "breached",
        "k-24": "met", "k-none": "breached",
        "r-24": "met", "r-25": "breached",
        "r-open-late": "breached", "r-open-ok": "waiting"}, level
    e = items["e-at"]
    assert e["deadline_field"] == "respond_by" and e["checked_field"] == "on_site_at"
    assert e["deadline"] == R + 5 * MIN and e["checked_at"] == R + 5 * MIN
    r = items["r-25"]
    assert r["deadline_field"] == "resolve_by" and r["checked_field"] == "resolved_at"
    assert r["deadline"] == L + 24 * HOUR
    assert items["k-24"]["checked_field"] == "accepted_at"
    o = rep["orders"]
    assert o["total"] == 13
    assert o["breached_respond"] == 5   # e-1ms e-6 w-16 i-late k-none
    assert o["breached_resolve"] == 2   # r-25 r-open-late
    assert o["open"] == 5               # i-wait i-late k-none r-open-*
    assert o["by_status"] == {"reported": 3, "accepted": 2, "on_site": 0,
                              "resolved": 7, "closed": 1, "cancelled": 0}

    # the site report: by category, with the seed's target beside each rate
    tz8 = datetime.timezone(datetime.timedelta(hours=8))
    d0 = datetime.datetime.fromtimestamp(L / 1000, tz8).date()
    d1 = datetime.datetime.fromtimestamp(now / 1000, tz8).date()
    site = check(req(srv, "GET", "/v1/reports/site/s1?from=%s&to=%s" % (d0, d1),
                     token=sup.token), 200)
    cats = {c["category"]: c for c in site["orders_by_category"]}
    ent = cats["elevator_entrapment"]
    assert ent["total"] == 3 and ent["resolve"] is None
    assert (ent["respond"]["met"], ent["respond"]["breached"]) == (1, 2)
    assert ent["respond"]["on_time_rate"] == 1 / 3
    assert ent["respond"]["level_min"] == 5
    assert ent["respond"]["on_time_rate_target"] == 1.0
    rp = cats["repair"]
    assert rp["respond"] is None
    assert (rp["resolve"]["met"], rp["resolve"]["breached"],
            rp["resolve"]["waiting"]) == (1, 2, 1)
    assert cats["incident"]["respond"]["on_time_rate"] == 0
    assert cats["urgent_power"]["total"] == 0
    assert cats["urgent_power"]["respond"]["on_time_rate"] is None
    tot = site["total"]["orders"]
    assert (tot["met"], tot["breached_respond"], tot["breached_resolve"],
            tot["waiting"]) == (4, 5, 2, 2)
    assert tot["on_time_rate"] == 4 / 11
    # complaints per household a month: 2 complaints, 100 households
    days = (d1 - d0).days + 1
    c = site["complaints"]
    assert c["count"] == 2 and c["households"] == 100
    assert abs(c["per_household_month"] - 2 / 100 / (days / 30.4375)) < 1e-12


def test_report_delay_and_receive_time(ctx):
    srv = ctx.server()
    now = now_ms()
    admin_push(srv, [
        _op("site", "s1", {"name": "S1", "tz": "Asia/Shanghai"}),
        _op("staff", "sup", {"site": "s1", "name": "Sup",
                             "role": "supervisor", "active": True}),
        _op("staff", "g1", {"site": "s1", "name": "G1", "role": "guard",
                            "active": True}),
        _op("shift", "sh", {"site": "s1", "role": "guard",
                            "starts": now - 2 * HOUR, "ends": now + HOUR,
                            "staff": ["g1"]}),
    ])
    guard = device_for(srv, "s1", "g1", "guard")
    sup = device_for(srv, "s1", "sup", "supervisor")
    # an urgent report that sat on an offline handheld for 40 minutes,
    # and one with no device time at all
    t0 = now_ms()
    r = guard.sync(push=[batch([
        _op("order", "late-report", {
            "site": "s1", "category": "urgent_power", "title": "no power B",
            "reported_at": now - 40 * MIN, "reporter": "g1",
            "status": "reported"}),
        _op("order", "no-time", {
            "site": "s1", "category": "incident", "title": "smoke",
            "reporter": "g1", "status": "reported"}),
    ])])
    b = check(r, 200)
    assert b["acks"][0]["applied"] == 2, b
    t1 = now_ms()
    rep = check(req(srv, "GET", "/v1/reports/shift/sh", token=sup.token), 200)
    items = {o["order"]: o for o in rep["orders"]["items"]}
    lr = items["late-report"]
    assert t0 - 1000 <= lr["received_at"] <= t1 + 1000
    assert lr["report_delay_ms"] == lr["received_at"] - (now - 40 * MIN)
    assert 40 * MIN - 1000 <= lr["report_delay_ms"] <= 40 * MIN + (t1 - now) + 1000
    # received 40 min after the report: the 15 min level is already gone
    assert lr["level"] == "breached" and lr["deadline"] == now - 25 * MIN
    nt = items["no-time"]
    assert nt["reported_at"] is None and nt["report_delay_ms"] is None
    assert nt["deadline"] == nt["received_at"] + 15 * MIN
    assert nt["level"] == "waiting"
    # a later edit does not move the first receive time
    r = check(req(srv, "GET", "/v1/reports/shift/sh", token=sup.token), 200)
    admin_push(srv, [_op("order", "late-report", {"note": "power back"})])
    r2 = check(req(srv, "GET", "/v1/reports/shift/sh", token=sup.token), 200)
    a = {o["order"]: o["received_at"] for o in r["orders"]["items"]}
    b = {o["order"]: o["received_at"] for o in r2["orders"]["items"]}
    assert a == b
