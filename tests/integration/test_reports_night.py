"""Shift and site reports (issue 4, schema/REPORTS.md) against a real
server: a guard's night shift with a 2-checkpoint route every 120 min,
scans pushed by an enrolled handheld the way a device sends them (boot,
mono, wall, pending), both grace cases, a late-syncing handheld turning
`pending` into on_time, untrusted times, the devices and handover;
JSON = msgpack; who may read; the site report's CSV parses and agrees
with its JSON."""

import csv
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
import harness as H  # noqa: E402

MIN = 60 * 1000
HOUR = 60 * MIN

_last = [0]


def _s():
    s = max(hlc_of(now_ms()), _last[0] + 1)
    _last[0] = s
    return s


def _op(c, id_, f):
    return {"c": c, "id": id_, "s": _s(), "f": dict(f)}


class Night:
    """Site s1 (Asia/Shanghai), checkpoints A and B on route r1 (every 120,
    grace 15), the guard shift `night` of 8 hours that ended an hour ago:
    `at(h, m)` is hh:mm of that night when it starts at 22:00."""

    def __init__(self, srv):
        self.srv = srv
        self.starts = (now_ms() // MIN) * MIN - 9 * HOUR
        self.ends = self.starts + 8 * HOUR
        admin_push(srv, [
            _op("site", "s1", {"name": "S1", "tz": "Asia/Shanghai",
                               "households": 200}),
            _op("site", "s2", {"name": "S2", "tz": "Asia/Shanghai"}),
            _op("staff", "g1", {"site": "s1", "name": "G1", "role": "guard",
                                "active": True}),
            _op("staff", "sup", {"site": "s1", "name": "Sup",
                                 "role": "supervisor", "active": True}),
            _op("staff", "sup2", {"site": "s2", "name": "Sup2",
                                  "role": "supervisor", "active": True}),
            _op("checkpoint", "A", {"site": "s1", "name": "A"}),
            _op("checkpoint", "B", {"site": "s1", "name": "B"}),
            _op("route", "r1", {"site": "s1", "name": "R1",
                                "checkpoints": ["A", "B"], "every_min": 120,
                                "grace_min": 15}),
            _op("shift", "night", {"site": "s1", "role": "guard",
                                   "starts": self.starts, "ends": self.ends,
                                   "staff": ["g1"], "route": "r1",
                                   "lead": "g1"}),
            _op("shift", "day", {"site": "s1", "role": "guard",
                                 "starts": self.ends, "ends": self.ends + 12 * HOUR,
                                 "staff": ["g1"], "lead": "g1"}),
        ])
        self.guard = device_for(srv, "s1", "g1", "guard")
        self.sup = device_for(srv, "s1", "sup", "supervisor")
        self.sup2 = device_for(srv, "s2", "sup2", "supervisor")
        self.boot_ms = self.starts - HOUR  # the handheld booted at 21:00

    def at(self, h, m):
        return self.starts + ((h - 22 if h >= 12 else h + 2) * HOUR) + m * MIN

    def scan(self, cid, cp, at, clock_off=0):
        """A checkin as the handheld records it: its own wall clock (off
        by clock_off), its boot id and monotonic ms."""
        return _op("checkin", cid, {
            "site": "s1", "shift": "night", "route": "r1", "checkpoint": cp,
            "staff": "g1", "at": at + clock_off, "boot": "boot-1",
            "mono": at - self.boot_ms, "method": "nfc"})

    def push(self, ops, pending):
        """Push ops; `pending` ops stay in the outbox after it (a device
        reports its outbox as the push starts: these and the pushed)."""
        t = now_ms()
        r = self.guard.sync(push=[batch(ops)] if ops else [],
                            dev={"boot": "boot-1", "mono": t - self.boot_ms,
                                 "wall": t, "pending": pending + len(ops)})
        b = check(r, 200)
        for ack in b["acks"]:
            assert not ack.get("rej") and ack["applied"] == len(ops), ack
        return b

    def report(self, who=None, path=None, headers=None):
        tok = (who or self.sup).token
        return req(self.srv, "GET", path or "/v1/reports/shift/night",
                   token=tok, headers=headers)


# The scans of the night: (id, checkpoint, hh, mm)
SCANS = [
    ("a0", "A", 22, 10),   # A r0 on time
    ("a1", "A", 2, 5),     # A r1 late: r2 keeps a3
    ("a3", "A", 3, 0),     # A r2 on time
    ("aX", "A", 21, 50),   # before the shift: extra
    ("b1", "B", 0, 5),     # r0's grace, nothing else in r1: r0 missed, r1 on time
    ("b2", "B", 4, 10),    # B r2 late: r3 keeps b3
    ("b3", "B", 5, 0),     # B r3 on time
    ("b4", "B", 5, 30),    # a repeat: extra
]


def _states(rep):
    return {(r["round"], c["checkpoint"]): (c["state"], c["checkin"])
            for r in rep["patrol"]["rounds"] for c in r["checkpoints"]}


def test_night_patrol_late_sync_turns_pending_on_time(ctx):
    srv = ctx.server()
    n = Night(srv)
    ops = [n.scan(cid, cp, n.at(h, m)) for cid, cp, h, m in SCANS]
    # c1: off the route, and made with the phone's clock 20 min slow
    ops.append(n.scan("c1", "C", n.at(23, 0), clock_off=-20 * MIN))
    # A's 05:10 scan stays in the outbox: one op pending
    n.push(ops, pending=1)
    rep = check(n.report(), 200)
    p = rep["patrol"]
    assert (p["expected"], p["on_time"], p["late"], p["missed"], p["pending"],
            p["open"], p["extra"]) == (8, 4, 2, 0, 2, 0, 3), p
    st = _states(rep)
    assert st[(0, "A")] == ("on_time", "a0")
    assert st[(1, "A")] == ("late", "a1")
    assert st[(2, "A")] == ("on_time", "a3")
    assert st[(3, "A")] == ("pending", None)
    assert st[(0, "B")] == ("pending", None)
    assert st[(1, "B")] == ("on_time", "b1")
    assert st[(2, "B")] == ("late", "b2")
    assert st[(3, "B")] == ("on_time", "b3")
    assert p["completion"] == 6 / 8
    assert [r["from"] for r in p["rounds"]] == [n.starts + k * 2 * HOUR
                                                for k in range(4)]
    assert sorted(x["checkin"] for x in p["extra_checkins"]) == ["aX", "b4", "c1"]
    # the slow clock is corrected from the monotonic one
    unt = rep["untrusted_checkins"]
    assert [u["checkin"] for u in unt] == ["c1"], unt
    assert unt[0]["trust"] == "corrected"
    assert abs(unt[0]["at_est"] - n.at(23, 0)) < 5000
    assert unt[0]["at"] == n.at(23, 0) - 20 * MIN
    devs = rep["devices"]
    assert [d["device"] for d in devs] == [n.guard.device]
    assert devs[0]["pending"] == 1 and devs[0]["staff"] == "g1"
    assert rep["shift"] == "night" and rep["site"] == "s1"
    assert rep["role"] == "guard"
    assert (rep["starts"], rep["ends"]) == (n.starts, n.ends)

    # the handheld syncs again with the held scan: pending becomes on_time,
    # the pair nothing can fill any more becomes missed
    n.push([n.scan("a4", "A", n.at(5, 10))], pending=0)
    rep = check(n.report(), 200)
    p = rep["patrol"]
    assert (p["expected"], p["on_time"], p["late"], p["missed"], p["pending"],
            p["open"], p["extra"]) == (8, 5, 2, 1, 0, 0, 3), p
    assert _states(rep)[(3, "A")] == ("on_time", "a4")
    assert _states(rep)[(0, "B")] == ("missed", None)
    assert p["completion"] == 7 / 8
    assert rep["devices"][0]["pending"] == 0

    # JSON and msgpack say the same
    mp = n.report(headers={"Accept": "application/msgpack"})
    assert mp.content_type == "application/msgpack"
    a, b = dict(rep), dict(check(mp, 200))
    a.pop("generated_at")
    b.pop("generated_at")
    assert a == b


def test_shift_report_handover_tasks_and_access(ctx):
    srv = ctx.server()
    n = Night(srv)
    n.push([n.scan(cid, cp, n.at(h, m)) for cid, cp, h, m in SCANS], pending=0)
    # the night's lead leaves a note for the day shift; tasks of the night
    admin_push(srv, [
        _op("handover", "ho1", {"site": "s1", "from_shift": "night",
                                "to_shift": "day", "by": "g1",
                                "at": n.ends - 5 * MIN, "note": "gate 2 sticks",
                                "open_items": ["call the locksmith"]}),
        _op("task", "t1", {"site": "s1", "shift": "night", "title": "Lock gates",
                           "due_from": n.starts, "due_to": n.starts + HOUR,
                           "status": "done", "done_at": n.starts + 30 * MIN}),
        _op("task", "t2", {"site": "s1", "shift": "night", "title": "Log book",
                           "due_from": n.starts, "due_to": n.starts + HOUR,
                           "status": "done", "done_at": n.starts + 2 * HOUR}),
        _op("task", "t3", {"site": "s1", "shift": "night", "title": "Lights",
                           "due_from": n.starts, "due_to": n.starts + HOUR,
                           "status": "open"}),
        _op("task", "t4", {"site": "s1", "shift": "night", "title": "Pumps",
                           "due_from": n.starts, "due_to": now_ms() + HOUR,
                           "status": "open"}),
        _op("task", "t5", {"site": "s1", "shift": "night", "title": "Skip",
                           "due_from": n.starts, "due_to": n.starts + HOUR,
                           "status": "skipped"}),
    ])
    rep = check(n.report(), 200)
    ho = rep["handover"]
    assert ho["id"] == "ho1" and ho["note"] == "gate 2 sticks", ho
    assert ho["open_items"] == ["call the locksmith"]
    assert rep["handover_in"] is None
    day = check(n.report(path="/v1/reports/shift/day"), 200)
    assert day["handover_in"]["id"] == "ho1"
    assert day["patrol"]["expected"] == 0 and day["patrol"]["route"] is None
    assert day["patrol"]["completion"] is None
    t = rep["tasks"]
    assert (t["total"], t["done"], t["done_on_time"], t["skipped"], t["open"],
            t["overdue"]) == (5, 2, 1, 1, 2, 1), t
    assert t["completion"] == 2 / 5 and t["on_time_rate"] == 1 / 2
    assert rep["untrusted_checkins"] == []

    # who may read: the site's supervisor and admins
    assert n.report(who=n.guard).status == 403
    assert n.report(who=n.sup2).status == 403
    r = req(srv, "GET", "/v1/reports/shift/night", token=srv.admin_token)
    assert r.status == 200 and r.body["shift"] == "night"
    r = n.report(path="/v1/reports/shift/nope")
    assert r.status == 404 and r.body["error"] == "NOT_FOUND"
    assert n.report(path="/v1/reports/site/nope").status == 404
    assert n.report(path="/v1/reports/site/s2").status == 403
    assert n.report(who=n.guard, path="/v1/reports/site/s1").status == 403
    r = req(srv, "GET", "/v1/reports/shift/night")
    assert r.status == 401
    r = n.report(path="/v1/reports/shift/night?format=csv")
    assert r.status == 400 and r.body["error"] == "BAD_REQUEST"
    r = req(srv, "POST", "/v1/reports/shift/night", token=n.sup.token, body={})
    assert r.status == 405


def _csv_value(s):
    if s == "":
        return None
    if "." in s or "e" in s:
        return float(s)
    return int(s)


def test_site_report_days_total_and_csv(ctx):
    srv = ctx.server()
    n = Night(srv)
    n.push([n.scan(cid, cp, n.at(h, m)) for cid, cp, h, m in SCANS], pending=0)
    # the site's local dates of the night (UTC+8)
    import datetime
    tz8 = datetime.timezone(datetime.timedelta(hours=8))
    d_first = datetime.datetime.fromtimestamp((n.starts - 10 * MIN) / 1000, tz8).date()
    d_last = datetime.datetime.fromtimestamp(now_ms() / 1000, tz8).date()
    q = "from=%s&to=%s" % (d_first.isoformat(), d_last.isoformat())
    rep = check(n.report(path="/v1/reports/site/s1?" + q), 200)
    assert rep["from"] == d_first.isoformat() and rep["to"] == d_last.isoformat()
    assert rep["tz"] == "Asia/Shanghai" and rep["households"] == 200
    tot = rep["total"]["patrol"]
    assert (tot["expected"], tot["on_time"], tot["late"], tot["missed"],
            tot["pending"], tot["extra"]) == (8, 4, 2, 2, 0, 2), tot
    assert sum(d["patrol"]["expected"] for d in rep["days"]) == 8
    assert rep["total"]["patrol"]["completion_target"] == 1.0
    assert rep["satisfaction"] is None and rep["satisfaction_target"] == 0.9
    assert rep["targets"]["satisfaction"]["seed_line"] == 288
    assert rep["complaints"]["target"] == 0.01

    # CSV: one row a day and a total row, the same figures as the JSON
    r = n.report(path="/v1/reports/site/s1?%s&format=csv" % q)
    assert r.status == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.raw.decode("utf-8"))))
    assert [x["date"] for x in rows] == [d["date"] for d in rep["days"]] + ["total"]
    for row, fig in zip(rows, rep["days"] + [rep["total"]]):
        for col, v in row.items():
            if col == "date":
                continue
            if col == "untrusted_checkins":
                want = fig["untrusted_checkins"]
            else:
                sect, key = col.split("_", 1)
                want = fig[sect][key]
            got = _csv_value(v)
            assert got == want, (row["date"], col, got, want)

    # msgpack too; bad dates and ranges are 400
    mp = n.report(path="/v1/reports/site/s1?" + q,
                  headers={"Accept": "application/msgpack"})
    b = check(mp, 200)
    assert b["days"] == rep["days"] and b["total"] == rep["total"]
    for bad in ("from=2024-02-30", "from=2024-13-01", "to=yesterday",
                "from=2024-03-02&to=2024-03-01", "from=2023-01-01&to=2024-06-01",
                "format=xml"):
        r = n.report(path="/v1/reports/site/s1?" + bad)
        assert r.status == 400, (bad, r)
        assert r.body["error"] == "BAD_REQUEST"
    # no dates: today in the site's zone
    r = check(n.report(path="/v1/reports/site/s1"), 200)
    assert r["from"] == r["to"] == d_last.isoformat()
