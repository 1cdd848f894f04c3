"""The demo is alive on any day it is run (issue 11): `fieldsyncd demo`
loads rosters, not fixed shifts, so a server started a week after the
load (injected clock) has guard shifts covering every hour of the next
7 days, a cleaning shift every day with its catalogue tasks, and the
guard on duty pulls his shift.  The past night the demo loads keeps its
report (69 rounds on time, one late, one missed, one pending)."""

import datetime
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

HOUR = 3600 * 1000
DAY = 24 * HOUR
TZ8 = datetime.timezone(datetime.timedelta(hours=8))


def _records(srv, site="harbour"):
    b = check(sync(srv, srv.admin_token, pull={}, limit=10000), 200)
    return b["buckets"]


def _live_shifts(buckets, site="harbour"):
    return {r["id"]: r["f"] for r in buckets["site/%s" % site]["recs"]
            if r["c"] == "shift" and not r["f"].get("_deleted")}


def test_demo_alive_a_week_after_loading(ctx):
    srv = ctx.server()
    srv.stop()
    p = subprocess.run([srv.binary, "demo"] + srv.store_args() + [
                        "--pbkdf2-iter", "1000"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    assert p.returncode == 0, p.stdout.decode()
    loaded = now_ms()

    # today first: the past night is there with its report
    srv.start()
    buckets = _records(srv)
    shifts = _live_shifts(buckets)
    night = demo_night(buckets)
    assert night in shifts and shifts[night]["ends"] < loaded, \
        (night, sorted(shifts))
    r = check(req(srv, "GET", "/v1/reports/shift/" + night,
                  token=srv.admin_token), 200)
    pt = r["patrol"]
    assert (pt["on_time"], pt["late"], pt["missed"], pt["pending"]) == \
        (69, 1, 1, 1), pt
    assert shifts[night]["staff"] == ["g-li"]
    assert shifts[night]["route"] == "night-patrol"

    # a week later
    srv.stop()
    week = 7 * DAY
    srv.args += ["--clock-offset-ms", str(week), "--task-interval-ms", "500"]
    srv.start()
    now7 = loaded + week

    def covered(sh):
        guards = [f for f in sh.values() if f["role"] == "guard"]
        return all(any(f["starts"] <= t < f["ends"] for f in guards)
                   for t in range(now7, now7 + week, HOUR))
    deadline = time.monotonic() + 20
    shifts = {}
    while time.monotonic() < deadline:
        shifts = _live_shifts(_records(srv))
        if covered(shifts):
            break
        time.sleep(0.2)
    assert covered(shifts), sorted(shifts)
    # the rotation holds: g-chen 08-20, g-li 20-08 (Asia/Shanghai)
    for sid, f in shifts.items():
        if sid.startswith("sh:guards:"):
            start = datetime.datetime.fromtimestamp(f["starts"] / 1000, TZ8)
            assert (start.hour, f["staff"]) in ((8, ["g-chen"]), (20, ["g-li"])), (sid, f)
    # a cleaning shift every day of that week, tomorrow's with its tasks
    today7 = datetime.datetime.fromtimestamp(now7 / 1000, TZ8).date()
    for k in range(8):
        d = today7 + datetime.timedelta(days=k)
        assert "sh:cleaning:%s:0" % d.strftime("%Y%m%d") in shifts, (d, sorted(shifts))
    tomorrow = "sh:cleaning:%s:0" % (today7 + datetime.timedelta(days=1)).strftime("%Y%m%d")
    deadline = time.monotonic() + 20
    tasks = []
    while time.monotonic() < deadline and not tasks:
        bk = _records(srv).get("shift/" + tomorrow, {})
        tasks = [r for r in bk.get("recs", []) if r["c"] == "task"]
        time.sleep(0.2)
    assert len(tasks) >= 5, tasks

    # the guard on duty a week later logs in and pulls his shift
    duty = [(sid, f) for sid, f in shifts.items()
            if f["role"] == "guard" and f["starts"] <= now7 < f["ends"]]
    assert len(duty) == 1, duty
    sid, f = duty[0]
    dev = device_for(srv, "harbour", f["staff"][0], "guard")
    b = check(dev.sync(pull={}, limit=10000), 200)
    assert "shift/" + sid in b["scope"], b["scope"]
