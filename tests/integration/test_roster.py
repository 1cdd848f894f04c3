"""Rosters make shifts (issue 11) against a real server with an injected
clock: a site in Europe/Berlin gets its roster's shifts at least 7 days
ahead with deterministic ids, the night shift across the spring change is
11 hours and across the autumn change 13 (the day shifts stay 12), the
three-shift pattern stays 8/8/8 except the night that holds the change;
staff rotate as SCHEMA.md says; generating again (a restart) changes
nothing; a roster edit moves untouched future shifts, never a touched one
or one that has started; a deleted roster takes its untouched future
shifts with it."""

import datetime
import os
import sys
import time
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
from test_tasks_generation import Clock  # noqa: E402

MIN = 60 * 1000
HOUR = 60 * MIN
BERLIN = ZoneInfo("Europe/Berlin")


def ms(date, h, m=0, tz=BERLIN):
    return int(datetime.datetime(date.year, date.month, date.day, h, m,
                                 tzinfo=tz).timestamp() * 1000)


def _server_at(ctx, when_ms):
    offset = when_ms - now_ms()
    srv = ctx.server(args=("--clock-offset-ms", offset,
                           "--task-interval-ms", 500))
    return srv, Clock(offset)


def _push(srv, clk, ops, token=None):
    r = sync(srv, token or srv.admin_token, push=[batch(ops)], hlc=clk.s())
    b = check(r, 200)
    ack = b["acks"][0]
    assert not ack.get("rej") and ack["applied"] == len(ops), ack


def _site(clk, site="b1", tz="Europe/Berlin"):
    return [clk.op("site", site, {"name": "Berlin 1", "tz": tz})] + [
        clk.op("staff", s, {"site": site, "name": s.upper(), "role": "guard",
                            "active": True}) for s in ("g1", "g2", "g3")]


def _shifts(srv, site="b1"):
    """{id: fields} of the live shifts of the site (admin pull)."""
    b = check(sync(srv, srv.admin_token, pull={}, limit=10000), 200)
    out = {}
    for rec in b["buckets"].get("site/%s" % site, {}).get("recs", []):
        if rec["c"] == "shift" and not rec["f"].get("_deleted"):
            out[rec["id"]] = rec
    return out


def _wait(srv, want, timeout=15.0, site="b1"):
    deadline = time.monotonic() + timeout
    got = {}
    while time.monotonic() < deadline:
        got = _shifts(srv, site)
        if want(got):
            return got
        time.sleep(0.1)
    return got


def test_roster_shifts_across_the_spring_dst_change(ctx):
    # Thursday 2024-03-28 10:00 in Berlin; clocks go forward on Sunday
    # the 31st at 02:00 (CET +1 -> CEST +2)
    now = ms(datetime.date(2024, 3, 28), 10)
    srv, clk = _server_at(ctx, now)
    _push(srv, clk, _site(clk) + [
        clk.op("roster", "gate", {"site": "b1", "name": "Gate", "role": "guard",
                                  "staff": ["g1", "g2"],
                                  "shifts": ["08:00-20:00", "20:00-08:00"],
                                  "route": None, "post": "gate",
                                  "valid_from": "2024-03-01"}),
        clk.op("roster", "plant", {"site": "b1", "name": "Plant room",
                                   "role": "guard", "staff": ["g3"],
                                   "shifts": ["06:00-14:00", "14:00-22:00",
                                              "22:00-06:00"],
                                   "days": ["sat", "sun"]}),
    ])
    first = datetime.date(2024, 3, 27)          # yesterday
    last = datetime.date(2024, 4, 4)            # now + 7 days
    want = set()
    for k in range((last - first).days + 1):
        d = first + datetime.timedelta(days=k)
        ymd = d.strftime("%Y%m%d")
        for i, (h0, h1) in enumerate(((8, 20), (20, 8))):
            end = ms(d + datetime.timedelta(days=h1 < h0), h1)
            if end > now:                       # ended ones are not made
                want.add("sh:gate:%s:%d" % (ymd, i))
        if d.weekday() >= 5:
            want |= {"sh:plant:%s:%d" % (ymd, i) for i in range(3)}
    got = _wait(srv, lambda g: set(g) == want)
    assert set(got) == want, (sorted(set(got) ^ want))
    # at least 7 days ahead: a shift starts on the 7th day from now
    assert max(r["f"]["starts"] for r in got.values()) >= now + 7 * 24 * HOUR
    for sid, rec in got.items():
        f = rec["f"]
        roster, ymd, i = sid.split(":")[1:]
        d = datetime.datetime.strptime(ymd, "%Y%m%d").date()
        i = int(i)
        assert {o for _, o in rec["s"].values()} == {"server"}, rec["s"]
        assert f["site"] == "b1" and f["role"] == "guard" and f["roster"] == roster
        if roster == "gate":
            h0, h1 = ((8, 20), (20, 8))[i]
            nxt = d + datetime.timedelta(days=h1 < h0)
            assert f["starts"] == ms(d, h0) and f["ends"] == ms(nxt, h1), (sid, f)
            assert f["staff"] == [["g1", "g2"][i]] and f["lead"] == f["staff"][0]
            assert f["post"] == "gate" and f.get("route") is None
            length = (f["ends"] - f["starts"]) // HOUR
            if (d, i) == (datetime.date(2024, 3, 30), 1):
                assert length == 11, f            # the night that loses an hour
            else:
                assert length == 12, (sid, length)
        else:
            h0 = (6, 14, 22)[i]
            assert f["starts"] == ms(d, h0), (sid, f)
            length = (f["ends"] - f["starts"]) // HOUR
            assert length == (7 if (d, i) == (datetime.date(2024, 3, 30), 2)
                              else 8), (sid, length)
            assert f["staff"] == ["g3"]

    # a restart generates again: the site bucket does not move
    b = check(sync(srv, srv.admin_token, pull={}, limit=10000), 200)
    cur = b["buckets"]["site/b1"]["cursor"]
    srv.stop()
    srv.start()
    time.sleep(1.0)
    b = check(sync(srv, srv.admin_token, pull={"site/b1": cur}, limit=10000), 200)
    bk = b["buckets"]["site/b1"]
    assert bk["recs"] == [] and bk["cursor"] == cur, bk


def test_roster_autumn_change_and_rotation(ctx):
    # Thursday 2024-10-24 12:00; clocks go back on Sunday the 27th at 03:00
    now = ms(datetime.date(2024, 10, 24), 12)
    srv, clk = _server_at(ctx, now)
    _push(srv, clk, _site(clk) + [
        clk.op("roster", "r", {"site": "b1", "name": "Lobby", "role": "guard",
                               "staff": ["g1", "g2", "g3"], "rotate_days": 2,
                               "shifts": ["07:00-19:00", "19:00-07:00"],
                               "valid_from": "2024-10-20",
                               "valid_to": "2024-10-29"}),
    ])
    got = _wait(srv, lambda g: "sh:r:20241029:1" in g)
    ids = sorted(got)
    assert ids[0] == "sh:r:20241024:0" and ids[-1] == "sh:r:20241029:1", ids
    assert len(ids) == 12, ids                  # 24th..29th, valid_to inclusive
    night = got["sh:r:20241026:1"]["f"]
    assert night["ends"] - night["starts"] == 13 * HOUR, night
    for sid, rec in got.items():
        d = datetime.datetime.strptime(sid.split(":")[2], "%Y%m%d").date()
        i = int(sid.split(":")[3])
        r = (d - datetime.date(2024, 10, 20)).days // 2
        assert rec["f"]["staff"] == [["g1", "g2", "g3"][(i + r) % 3]], (sid, rec["f"])


def test_roster_edits_respect_touched_and_started_shifts(ctx):
    now = ms(datetime.date(2024, 6, 12), 10)        # a Wednesday, 10:00
    srv, clk = _server_at(ctx, now)
    _push(srv, clk, _site(clk) + [
        clk.op("roster", "r", {"site": "b1", "name": "Gate", "role": "guard",
                               "staff": ["g1", "g2"],
                               "shifts": ["08:00-20:00", "20:00-08:00"]}),
    ])
    today, tomorrow = "sh:r:20240612:0", "sh:r:20240613:0"
    later = "sh:r:20240615:0"
    got = _wait(srv, lambda g: later in g and today in g)
    assert today in got and later in got
    # the supervisor puts g3 on tomorrow's day shift: touched
    sup = [clk.op("staff", "s1", {"site": "b1", "name": "S", "role": "supervisor",
                                  "active": True})]
    _push(srv, clk, sup + [clk.op("shift", tomorrow, {"staff": ["g3"], "lead": "g3"})])
    # the roster moves the day shift to 09:00-21:00
    _push(srv, clk, [clk.op("roster", "r", {"shifts": ["09:00-21:00", "21:00-09:00"]})])
    d15 = datetime.date(2024, 6, 15)
    got = _wait(srv, lambda g: g.get(later, {}).get("f", {}).get("starts") == ms(d15, 9))
    assert got[later]["f"]["starts"] == ms(d15, 9)
    # today's has started (08:00 < 10:00): left as it was
    assert got[today]["f"]["starts"] == ms(datetime.date(2024, 6, 12), 8)
    # tomorrow's was touched: its times and staff stay
    assert got[tomorrow]["f"]["starts"] == ms(datetime.date(2024, 6, 13), 8)
    assert got[tomorrow]["f"]["staff"] == ["g3"]
    # the roster goes: untouched future shifts go, the others stay
    _push(srv, clk, [clk.op("roster", "r", {"_deleted": True})])
    got = _wait(srv, lambda g: later not in g)
    assert later not in got
    assert set(got) == {today, tomorrow}, sorted(got)
