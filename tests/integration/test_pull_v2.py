"""The v2 pull encoding (protocol/PROTOCOL.md, "Pull encoding v2"), end to
end: for random stores, every page of a v2 pull carries exactly the
records of the v1 pull of the same cursors (each bucket's `cols` page,
decoded by the C decoder through build/tests/colwire_tool, equals its v1
`recs` grouped by collection), with the same gone entries, cursors, more
and reset; v1 stays what it was for a request without `enc`; a bad `enc`
is 400."""

import os
import random
import subprocess

import harness as H
from synclib import HOUR, _admin, _device, _op, _shift, _site, _staff, _sync


def _tool(ctx):
    return os.path.join(ctx.build, "tests", "colwire_tool")


def _decode(ctx, page):
    p = subprocess.run([_tool(ctx), "decode"], input=page,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 0, "colwire_tool decode: %s" % p.stderr.decode()
    return H.unpack(p.stdout)


def _grouped(recs):
    order = []
    for r in recs:
        if r["c"] not in order:
            order.append(r["c"])
    return [r for c in order for r in recs if r["c"] == c]


def _sync_enc(srv, token, pull, limit, enc):
    body = {"v": 1, "hlc": H.now_hlc(), "push": [], "pull": dict(pull),
            "limit": limit}
    if enc is not None:
        body["enc"] = enc
    r = H.req(srv, "POST", "/v1/sync", body=body, token=token)
    assert r.status == 200, "enc=%r: HTTP %s %r" % (enc, r.status, r.body)
    return r.body


def _random_world(srv, rnd, site):
    """A site with shifts, tasks, zones, orders, checkins of random shape;
    then updates with other stamps, moves (gone entries) and deletions."""
    now = H.now_ms()
    shifts = ["%s-sh%d" % (site, i) for i in range(3)]
    ops = [_site(site), _staff(site, site + "-sup", "supervisor"),
           _staff(site, site + "-g1", "guard")]
    ops += [_shift(site, sh, "guard", now - HOUR, now + 7 * HOUR,
                   [site + "-g1"]) for sh in shifts]
    ops += [_op("zone", "%s-z%02d" % (site, i),
                {"site": site, "name": rnd.choice(["Lobby", "Roof", "日本 %d" % i]),
                 "kind": rnd.choice(["lobby", "stair", "garage"])})
            for i in range(rnd.randrange(3, 15))]
    tasks = []
    for i in range(rnd.randrange(20, 120)):
        tid = "t-%s-%07d" % (site, rnd.randrange(10 ** 6))
        f = {"site": site, "shift": rnd.choice(shifts),
             "title": rnd.choice(["Sweep", "Mop lobby", "Check roof drain %d" % i, ""]),
             "status": rnd.choice(["open", "done", "skipped"])}
        for k, v in (("due_from", now + rnd.randrange(10 ** 7)),
                     ("due_to", now + rnd.randrange(10 ** 8)),
                     ("assignee", "c-%04d" % rnd.randrange(50)),
                     ("note", rnd.choice([None, "wet floor", "x" * rnd.randrange(300)])),
                     ("zone", "%s-z00" % site),
                     ("checklist_done", rnd.choice([[], ["a", "b"], [1, 2, 3]]))):
            if rnd.random() < 0.6:
                f[k] = v
        tasks.append(tid)
        ops.append(_op("task", tid, f))
    for i in range(rnd.randrange(0, 30)):
        ops.append(_op("order", "o-%s-%d" % (site, i),
                       {"site": site, "category": rnd.choice(["complaint", "repair",
                                                              "urgent_water"]),
                        "title": "Order %d" % i, "reported_at": now - rnd.randrange(HOUR),
                        "reporter": site + "-sup", "status": "reported"}))
    _admin(srv, ops, what="random world " + site)
    # later writes: other stamps and origins, moves and deletions
    sup = _device(srv, site, site + "-sup", "supervisor")
    later = []
    for tid in rnd.sample(tasks, len(tasks) // 3):
        r = rnd.random()
        if r < 0.3:
            later.append(_op("task", tid, {"shift": rnd.choice(shifts)}))
        elif r < 0.45:
            later.append(_op("task", tid, {"_deleted": True}))
        else:
            later.append(_op("task", tid, {"status": "done", "done_by": site + "-g1",
                                           "done_at": now, "note": None}))
    if later:
        b = _sync(srv, sup.token, push=[{"batch": os.urandom(16), "ops": later}],
                  what="supervisor edits")
        assert b["acks"][0]["applied"] == len(later), b["acks"][0]
    return sup


def _same_answer(a, b):
    """Two v1 answers carry the same pull (the clock fields aside)."""
    keys = ("scope", "drop", "buckets")
    return all(a.get(k) == b.get(k) for k in keys)


def _compare_pulls(ctx, srv, token, limit):
    """Page through from 0 with v1 and v2 side by side (the same cursors);
    returns how many records and pages were compared."""
    cursors, recs, pages = {}, 0, 0
    for page in range(10000):
        # the server's own writers (alert rules, generators) may commit
        # between the two pulls: take the pair again until a v1 pull after
        # the v2 one still gives the same answer (bounded)
        for _ in range(5):
            v1 = _sync_enc(srv, token, cursors, limit, None)
            v2 = _sync_enc(srv, token, cursors, limit, 2)
            again = _sync_enc(srv, token, cursors, limit, None)
            if _same_answer(v1, again):
                break
        else:
            raise AssertionError("the store kept changing under the pulls")
        pages += 1
        assert "enc" not in v1 and v2.get("enc") == 2, (v1.get("enc"), v2.get("enc"))
        assert v1["scope"] == v2["scope"] and v1["drop"] == v2["drop"]
        assert set(v1["buckets"]) == set(v2["buckets"])
        more = False
        for name, b1 in v1["buckets"].items():
            b2 = v2["buckets"][name]
            assert "cols" not in b1 and "recs" not in b2, name
            assert isinstance(b2["cols"], bytes), name
            for k in ("cursor", "more", "reset", "gone"):
                assert b1[k] == b2[k], "%s %s: v1 %r v2 %r" % (name, k, b1[k], b2[k])
            got = _decode(ctx, b2["cols"])
            assert got == _grouped(b1["recs"]), \
                "page %d bucket %s: v2 records differ from v1's" % (page, name)
            recs += len(got)
            cursors[name] = b1["cursor"]
            more = more or b1["more"]
        if not more:
            return recs, pages
    raise AssertionError("the pull does not end")


def test_v2_pull_carries_exactly_the_v1_records(ctx):
    srv = ctx.server()
    rnd = random.Random(1616)
    sups = [_random_world(srv, rnd, site) for site in ("PA", "PB")]
    total = 0
    for limit in (7, 100, 10000):
        n, pages = _compare_pulls(ctx, srv, srv.admin_token, limit)
        assert n > 100 and (limit == 10000 or pages > 1), (limit, n, pages)
        total += n
    n, _ = _compare_pulls(ctx, srv, sups[0].token, 33)
    assert n > 20, n


def test_v2_reset_and_small_answers(ctx):
    """A cursor above the head resets in both encodings alike; a bucket
    with nothing new has an empty page (no records, version byte only)."""
    srv = ctx.server()
    _random_world(srv, random.Random(7), "PC")
    v1 = _sync_enc(srv, srv.admin_token, {"site/PC": 10 ** 9}, 1000, None)
    v2 = _sync_enc(srv, srv.admin_token, {"site/PC": 10 ** 9}, 1000, 2)
    assert v1["buckets"]["site/PC"]["reset"] and v2["buckets"]["site/PC"]["reset"]
    assert _decode(ctx, v2["buckets"]["site/PC"]["cols"]) == \
        _grouped(v1["buckets"]["site/PC"]["recs"])
    cur = {k: b["cursor"] for k, b in v1["buckets"].items()}
    idle = _sync_enc(srv, srv.admin_token, cur, 1000, 2)
    for name, b in idle["buckets"].items():
        if b["cursor"] == cur.get(name):
            assert _decode(ctx, b["cols"]) == [] and b["cols"] == b"\x02\x00\x00\x00", name


def test_enc_is_checked_and_v1_is_the_default(ctx):
    srv = ctx.server()
    _admin(srv, [_site("PD")])
    for bad in (0, 3, "2", -1, [2]):
        r = H.sync(srv, srv.admin_token, enc=bad)
        assert r.status == 400 and r.body.get("error") == "BAD_REQUEST", (bad, r.status, r.body)
    for enc in (None, 1):
        body = _sync_enc(srv, srv.admin_token, {}, 1000, enc)
        assert "enc" not in body
        assert all("recs" in b and "cols" not in b for b in body["buckets"].values())
