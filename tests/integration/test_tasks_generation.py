"""Task generation (issue 4) against a real server: `fieldsyncd catalogue`
installs the seed's standards once; a cleaner shift gets exactly the day's
catalogue tasks (checked against the slot rules written again here in
Python), tomorrow's too (48 hours ahead), all stamped by the server;
generating again (a restart) changes nothing; a standard's change moves
untouched tasks and never a touched one; a shift change moves them to the
new shift; in May (injected clock) the summer mosquito frequency."""

import calendar
import datetime
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

MIN = 60 * 1000
HOUR = 60 * MIN
TZ8 = datetime.timezone(datetime.timedelta(hours=8))

# The catalogue's cleaner entries: key -> (per, times, months or None)
CLEANER = {
    "stair-sweep": ("day", 2, None),
    "stair-mop": ("day", 1, None),
    "public-sweep": ("day", 2, None),
    "drains-signs-mailboxes": ("week", 1, None),
    "garbage": ("day", 1, None),
    "pipes-dredge": ("year", 1, None),
    "mosquito-summer": ("month", 4, set(range(5, 11))),
    "mosquito-winter": ("month", 1, {1, 2, 3, 4, 11, 12}),
    "trees-prune": ("year", 1, None),
    "lawns-mow": ("year", 6, None),
    "shrubs-trim": ("year", 4, None),
    "septic-wells": ("year", 2, None),
}


def expected_tasks(site, date):
    """{task id: (due_from, due_to)} of the cleaner catalogue on a local
    date, window 07:00-19:00 (UTC+8, no DST), by the issue's slot rules."""
    out = {}
    base = int(datetime.datetime(date.year, date.month, date.day, 7, 0,
                                 tzinfo=TZ8).timestamp() * 1000)
    length = 12 * HOUR
    dim = calendar.monthrange(date.year, date.month)[1]
    ymd = date.strftime("%Y%m%d")
    for key, (per, n, months) in CLEANER.items():
        if months and date.month not in months:
            continue
        for i in range(n):
            if per == "day":
                span = (base + i * length // n, base + (i + 1) * length // n)
            elif per == "week" and i * 7 // n == date.weekday():
                span = (base, base + length)
            elif per == "month" and i * dim // n == date.day - 1:
                span = (base, base + length)
            elif per == "year" and date.day == 1 and i * 12 // n + 1 == date.month:
                span = (base, base + length)
            else:
                continue
            out["tk:std:%s:%s:%s:%d" % (site, key, ymd, i)] = span
    return out


class Clock:
    """Stamps from the server's clock (now + offset_ms), increasing."""

    def __init__(self, offset_ms=0):
        self.offset = offset_ms
        self.last = 0

    def now(self):
        return now_ms() + self.offset

    def s(self):
        self.last = max(hlc_of(self.now()), self.last + 1)
        return self.last

    def op(self, c, id_, f):
        return {"c": c, "id": id_, "s": self.s(), "f": dict(f)}


def _push(srv, clk, ops):
    r = sync(srv, srv.admin_token, push=[batch(ops)], hlc=clk.s())
    b = check(r, 200)
    ack = b["acks"][0]
    assert not ack.get("rej") and ack["applied"] == len(ops), ack


def _tasks(srv, shift):
    """{id: record} of the live tasks in a shift's bucket (admin pull)."""
    r = sync(srv, srv.admin_token, pull={}, limit=10000)
    b = check(r, 200)
    out = {}
    bk = b["buckets"].get("shift/%s" % shift, {})
    for rec in bk.get("recs", []):
        if rec["c"] == "task" and not rec["f"].get("_deleted"):
            out[rec["id"]] = rec
    return out


def _wait_tasks(srv, shift, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    got = {}
    while time.monotonic() < deadline:
        got = _tasks(srv, shift)
        if want(got):
            return got
        time.sleep(0.1)
    return got


def _site_ops(clk, site="s1"):
    return [
        clk.op("site", site, {"name": "S1", "tz": "Asia/Shanghai",
                              "households": 300}),
        clk.op("zone", "z-stair", {"site": site, "name": "Stairs",
                                   "kind": "stairwell"}),
        clk.op("zone", "z-green", {"site": site, "name": "Garden",
                                   "kind": "green"}),
        clk.op("staff", "c1", {"site": site, "name": "C1", "role": "cleaner",
                               "active": True}),
    ]


def _cleaner_shift(clk, sid, date, site="s1"):
    start = int(datetime.datetime(date.year, date.month, date.day, 7, 0,
                                  tzinfo=TZ8).timestamp() * 1000)
    return clk.op("shift", sid, {"site": site, "role": "cleaner",
                                 "starts": start, "ends": start + 12 * HOUR,
                                 "staff": ["c1"], "lead": "c1"})


def _catalogue(srv, *extra):
    p = subprocess.run([srv.binary, "catalogue"] + srv.store_args() +
                       ["--site", "s1"] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return p.returncode, p.stdout.decode()


def test_catalogue_gives_the_days_tasks_idempotently(ctx):
    srv = ctx.server()
    clk = Clock()
    today = datetime.datetime.fromtimestamp(clk.now() / 1000, TZ8).date()
    tomorrow = today + datetime.timedelta(days=1)
    _push(srv, clk, _site_ops(clk) + [_cleaner_shift(clk, "c-today", today),
                                      _cleaner_shift(clk, "c-tomorrow", tomorrow)])
    srv.stop()
    rc, out = _catalogue(srv)
    assert rc == 0 and "16 standards installed" in out, out
    rc, out = _catalogue(srv)
    assert rc == 0 and "0 standards installed" in out, out
    rc, out = _catalogue(srv, "--site", "nope")
    assert rc == 1 and "no site" in out, out
    srv.start()

    for shift, date in (("c-today", today), ("c-tomorrow", tomorrow)):
        want = expected_tasks("s1", date)
        got = _wait_tasks(srv, shift, lambda g: set(g) == set(want))
        assert set(got) == set(want), (shift, sorted(got), sorted(want))
        for tid, rec in got.items():
            f = rec["f"]
            assert (f["due_from"], f["due_to"]) == want[tid], (tid, f)
            assert f["shift"] == shift and f["site"] == "s1"
            assert f["status"] == "open" and f["assignee"] == "c1"
            assert f["standard"] == tid.split(":")[1] + ":s1:" + tid.split(":")[3]
            # written by the server, nobody else
            assert {o for _, o in rec["s"].values()} == {"server"}, rec["s"]
        # the stairwell standards carry the stairwell zone
        for tid, rec in got.items():
            if ":stair-" in tid:
                assert rec["f"]["zone"] == "z-stair"

    # a restart generates again: nothing changes (same cursor, no records)
    b = check(sync(srv, srv.admin_token, pull={}, limit=10000), 200)
    cur = b["buckets"]["shift/c-today"]["cursor"]
    srv.stop()
    srv.start()
    time.sleep(0.5)
    b = check(sync(srv, srv.admin_token, pull={"shift/c-today": cur},
                   limit=10000), 200)
    bk = b["buckets"]["shift/c-today"]
    assert bk["recs"] == [] and bk["gone"] == [] and bk["cursor"] == cur, bk

    # the cleaner's handheld gets tomorrow's tasks as soon as the shift is
    # in its scope (starting within 24 hours): here today's shift's, and
    # tomorrow's when this runs after 07:00 in Shanghai
    dev = device_for(srv, "s1", "c1", "cleaner")
    b = check(dev.sync(pull={}, limit=10000), 200)
    t7 = int(datetime.datetime(tomorrow.year, tomorrow.month, tomorrow.day, 7,
                               tzinfo=TZ8).timestamp() * 1000)
    shifts = ["c-today"] + (["c-tomorrow"] if t7 < now_ms() + 24 * HOUR else [])
    for sh, date in zip(shifts, (today, tomorrow)):
        n = sum(1 for r in b["buckets"]["shift/%s" % sh]["recs"]
                if r["c"] == "task")
        assert n == len(expected_tasks("s1", date)), (sh, n)


def test_changes_move_untouched_tasks_only(ctx):
    srv = ctx.server()
    clk = Clock()
    today = datetime.datetime.fromtimestamp(clk.now() / 1000, TZ8).date()
    ymd = today.strftime("%Y%m%d")
    _push(srv, clk, _site_ops(clk) + [
        _cleaner_shift(clk, "c-today", today),
        clk.op("standard", "lobby", {"site": "s1", "title": "Lobby glass",
                                     "role": "cleaner", "per": "day",
                                     "times": 2, "window": ["08:00", "12:00"]}),
    ])
    t0, t1 = "tk:lobby:%s:0" % ymd, "tk:lobby:%s:1" % ymd
    got = _wait_tasks(srv, "c-today", lambda g: t0 in g and t1 in g)
    assert set(got) == {t0, t1}, got
    day = int(datetime.datetime(today.year, today.month, today.day,
                                tzinfo=TZ8).timestamp() * 1000)
    assert got[t0]["f"]["due_from"] == day + 8 * HOUR
    assert got[t1]["f"]["due_from"] == day + 10 * HOUR
    # the cleaner ticks off the first: touched
    dev = device_for(srv, "s1", "c1", "cleaner")
    b = check(dev.sync(push=[batch([clk.op("task", t0, {
        "status": "done", "done_at": day + 9 * HOUR, "done_by": "c1"})])]), 200)
    assert b["acks"][0]["applied"] == 1, b
    # the supervisor moves the window to the afternoon
    _push(srv, clk, [clk.op("standard", "lobby", {"window": ["13:00", "17:00"],
                                                  "title": "Lobby glass, both sides"})])
    got = _wait_tasks(srv, "c-today",
                      lambda g: g.get(t1, {}).get("f", {}).get("due_from") == day + 15 * HOUR)
    assert got[t1]["f"]["due_from"] == day + 15 * HOUR
    assert got[t1]["f"]["due_to"] == day + 17 * HOUR
    assert got[t1]["f"]["title"] == "Lobby glass, both sides"
    # the touched one stays as it was
    assert got[t0]["f"]["due_from"] == day + 8 * HOUR
    assert got[t0]["f"]["title"] == "Lobby glass"
    assert got[t0]["f"]["status"] == "done"
    # a second cleaner shift from 14:00 takes the untouched afternoon slot
    start = day + 14 * HOUR
    _push(srv, clk, [clk.op("shift", "c-late", {
        "site": "s1", "role": "cleaner", "starts": start, "ends": start + 6 * HOUR,
        "staff": ["c1"]})])
    # c-today (07-19) starts first and still holds 15:00: nothing moves
    time.sleep(0.5)
    assert set(_tasks(srv, "c-today")) == {t0, t1}
    # c-today now ends at 12:00: slot 1 goes to c-late, slot 0 stays
    _push(srv, clk, [clk.op("shift", "c-today", {"ends": day + 12 * HOUR})])
    got = _wait_tasks(srv, "c-late", lambda g: t1 in g)
    assert set(got) == {t1}
    assert got[t1]["f"]["shift"] == "c-late"
    assert set(_tasks(srv, "c-today")) == {t0}
    # the standard is deleted: the untouched task goes, the done one stays
    _push(srv, clk, [clk.op("standard", "lobby", {"_deleted": True})])
    got = _wait_tasks(srv, "c-late", lambda g: not g)
    assert got == {}
    assert set(_tasks(srv, "c-today")) == {t0}


def test_may_gets_the_summer_mosquito_frequency(ctx):
    # the server's clock at 2024-05-01 05:00 in Shanghai
    target = int(datetime.datetime(2024, 5, 1, 5, 0, tzinfo=TZ8).timestamp() * 1000)
    offset = target - now_ms()
    srv = ctx.server(args=("--clock-offset-ms", offset))
    clk = Clock(offset)
    may1 = datetime.date(2024, 5, 1)
    apr30 = datetime.date(2024, 4, 30)
    _push(srv, clk, _site_ops(clk) + [_cleaner_shift(clk, "c-0501", may1),
                                      _cleaner_shift(clk, "c-0430", apr30)])
    srv.stop()
    rc, out = _catalogue(srv, "--clock-offset-ms", str(clk.offset))
    assert rc == 0, out
    srv.start()
    want = expected_tasks("s1", may1)
    got = _wait_tasks(srv, "c-0501", lambda g: set(g) == set(want))
    assert set(got) == set(want), (sorted(got), sorted(want))
    keys = sorted(t.split(":")[3] for t in got)
    assert keys == ["garbage", "lawns-mow", "mosquito-summer", "public-sweep",
                    "public-sweep", "stair-mop", "stair-sweep", "stair-sweep"]
    # April 30th: no monthly slot (winter's is on the 1st)
    want = expected_tasks("s1", apr30)
    got = _wait_tasks(srv, "c-0430", lambda g: set(g) == set(want))
    assert set(got) == set(want)
    assert not any("mosquito" in t for t in got)
