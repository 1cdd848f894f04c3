#!/usr/bin/python3
"""How long the reports take on a site with history (not part of make
test: run.py only runs test_*.py).

    /usr/bin/python3 tests/integration/perf_reports.py [build/fieldsyncd] [DAYS]

Builds a site with DAYS (30) days of history: each day a guard night
20:00-08:00 on a 12-checkpoint route every 120 min with every scan made
(72 checkins, pushed by the guard's handheld), a cleaner day with 10
tasks, 5 work orders; installs the catalogue; then times the shift report
of one night, the site report over all DAYS (JSON and CSV) and over one
day, each the median of 5 requests."""

import datetime
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

MIN = 60 * 1000
HOUR = 60 * MIN
DAY = 24 * HOUR
TZ8 = datetime.timezone(datetime.timedelta(hours=8))
_last = [0]


def _op(c, id_, f):
    s = max(hlc_of(now_ms()), _last[0] + 1)
    _last[0] = s
    return {"c": c, "id": id_, "s": s, "f": dict(f)}


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/fieldsyncd"
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    srv = Server(binary).start()
    try:
        now = now_ms()
        today = datetime.datetime.fromtimestamp(now / 1000, TZ8).date()
        mid = int(datetime.datetime(today.year, today.month, today.day,
                                    tzinfo=TZ8).timestamp() * 1000)
        cps = ["cp-%02d" % i for i in range(12)]
        ops = [_op("site", "s1", {"name": "S", "tz": "Asia/Shanghai",
                                  "households": 480}),
               _op("staff", "g1", {"site": "s1", "name": "G", "role": "guard",
                                   "active": True}),
               _op("staff", "c1", {"site": "s1", "name": "C",
                                   "role": "cleaner", "active": True}),
               _op("staff", "sup", {"site": "s1", "name": "S",
                                    "role": "supervisor", "active": True}),
               _op("route", "r1", {"site": "s1", "name": "R",
                                   "checkpoints": cps, "every_min": 120,
                                   "grace_min": 15})]
        ops += [_op("checkpoint", c, {"site": "s1", "name": c}) for c in cps]
        for d in range(-days, 1):
            base = mid + d * DAY
            ops.append(_op("shift", "n%d" % -d, {
                "site": "s1", "role": "guard", "starts": base - 4 * HOUR,
                "ends": base + 8 * HOUR, "staff": ["g1"], "route": "r1"}))
            ops.append(_op("shift", "c%d" % -d, {
                "site": "s1", "role": "cleaner", "starts": base + 7 * HOUR,
                "ends": base + 19 * HOUR, "staff": ["c1"]}))
            for k in range(10):
                ops.append(_op("task", "t%d-%d" % (-d, k), {
                    "site": "s1", "shift": "c%d" % -d, "title": "T",
                    "due_from": base + (7 + k) * HOUR,
                    "due_to": base + (8 + k) * HOUR,
                    "status": "done" if k % 3 else "open",
                    "done_at": base + (7 + k) * HOUR + 20 * MIN}))
            for k in range(5):
                ops.append(_op("order", "o%d-%d" % (-d, k), {
                    "site": "s1", "category": ["repair", "complaint",
                                               "urgent_water", "incident",
                                               "elevator_entrapment"][k],
                    "title": "O", "reporter": "sup", "status": "resolved",
                    "reported_at": base + (9 + k) * HOUR,
                    "on_site_at": base + (9 + k) * HOUR + 10 * MIN,
                    "accepted_at": base + (9 + k) * HOUR + 5 * MIN,
                    "resolved_at": base + (9 + k) * HOUR + 20 * HOUR}))
        admin_push(srv, ops)
        guard = device_for(srv, "s1", "g1", "guard")
        boot = mid - (days + 1) * DAY
        for d in range(-days, 0):
            start = mid + d * DAY - 4 * HOUR
            ck = []
            for k in range(6):
                for i, c in enumerate(cps):
                    at = start + k * 2 * HOUR + 5 * MIN + i * 4 * MIN
                    ck.append(_op("checkin", "k%d-%d-%d" % (-d, k, i), {
                        "site": "s1", "shift": "n%d" % -d, "route": "r1",
                        "checkpoint": c, "staff": "g1", "at": at,
                        "boot": "b", "mono": at - boot, "method": "nfc"}))
            t = now_ms()
            check(guard.sync(push=[batch(ck)], dev={"boot": "b", "mono": t - boot,
                                                    "wall": t, "pending": 0}), 200)
        srv.stop()
        subprocess.run([binary, "catalogue", "--data", srv.data, "--site", "s1"],
                       check=True, stdout=subprocess.DEVNULL)
        srv.start()
        sup = device_for(srv, "s1", "sup", "supervisor")
        d0 = today - datetime.timedelta(days=days)

        def timed(path):
            ts = []
            for _ in range(5):
                t0 = time.monotonic()
                r = req(srv, "GET", path, token=sup.token, timeout=60)
                ts.append(time.monotonic() - t0)
                assert r.status == 200, r
            return statistics.median(ts) * 1000, len(r.raw)

        for name, path in [
                ("shift report, one night (72 pairs)", "/v1/reports/shift/n1"),
                ("site report, 1 day", "/v1/reports/site/s1?from=%s&to=%s"
                 % (today, today)),
                ("site report, %d days, JSON" % (days + 1),
                 "/v1/reports/site/s1?from=%s&to=%s" % (d0, today)),
                ("site report, %d days, CSV" % (days + 1),
                 "/v1/reports/site/s1?from=%s&to=%s&format=csv" % (d0, today))]:
            ms, n = timed(path)
            print("%-40s %8.1f ms  %8d bytes" % (name, ms, n))
    finally:
        srv.stop()
        srv.cleanup()


if __name__ == "__main__":
    main()
