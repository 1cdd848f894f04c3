"""Pull order and paging (protocol/PROTOCOL.md, "Pull, buckets and scope"):
limit over recs+gone of all buckets, bytewise bucket order, cursor and `more`
semantics, unnamed buckets from 0, reset for a cursor above the head, the limit cap, and `store`."""

import harness as H
from synclib import (HOUR, _admin, _device, _op, _shift, _site, _staff, _sync,
                     _task)


P = "P"
ORDERS, PX1, PX2, SITEB = "orders/P", "shift/px1", "shift/px2", "site/P"
ALERTS = "alerts/P"  # a supervisor's alerts: in scope, empty here
ALL = sorted([ALERTS, ORDERS, PX1, PX2, SITEB])


def _world(ctx):
    """orders/P: 7 orders; shift/px1: 3 tasks + 2 gone (moved to px2);
    shift/px2: 8 tasks; site/P: site, staff, 2 shifts, 8 zones."""
    srv = ctx.server()
    now = H.now_ms()
    ops = [_site(P), _staff(P, "sp", "supervisor"),
           _shift(P, "px1", "guard", now - HOUR, now + 7 * HOUR, []),
           _shift(P, "px2", "guard", now - HOUR, now + 7 * HOUR, [])]
    ops += [_op("zone", "z%02d" % i, {"site": P, "name": "Zone %d" % i, "kind": "lobby"})
            for i in range(8)]
    ops += [_op("order", "o%02d" % i, {"site": P, "category": "complaint",
                                       "title": "Noise %d" % i, "reported_at": now - HOUR,
                                       "reporter": "sp", "status": "reported"})
            for i in range(7)]
    ops += [_task(P, "t%d" % i, "px1") for i in range(1, 6)]
    ops += [_task(P, "u%d" % i, "px2") for i in range(1, 7)]
    _admin(srv, ops)
    _admin(srv, [_op("task", "t4", {"shift": "px2"}), _op("task", "t5", {"shift": "px2"})],
           what="move t4, t5 to px2")
    sp = _device(srv, P, "sp", "supervisor")
    return srv, sp


def _n(bk):
    return len(bk.get("recs") or []) + len(bk.get("gone") or [])


def _full(srv, token):
    """One pull of everything from 0 with a big limit."""
    b = _sync(srv, token, limit=10000, what="full pull")
    assert set(b["buckets"]) == set(ALL), "scope %s" % sorted(b["buckets"])
    for name, bk in b["buckets"].items():
        assert not bk.get("more"), "full pull of %s still has more" % name
    return b


def test_paging_world_counts(ctx):
    srv, sp = _world(ctx)
    b = _full(srv, sp.token)["buckets"]
    assert len(b[ORDERS]["recs"]) == 7 and not b[ORDERS].get("gone"), "orders/P: %d" % _n(b[ORDERS])
    assert {r["id"] for r in b[PX1]["recs"]} == {"t1", "t2", "t3"}, \
        "shift/px1 recs: %s" % [r["id"] for r in b[PX1]["recs"]]
    assert sorted(map(tuple, b[PX1].get("gone") or [])) == [("task", "t4"), ("task", "t5")], \
        "shift/px1 gone: %r" % b[PX1].get("gone")
    assert len(b[PX2]["recs"]) == 8, "shift/px2: %d" % len(b[PX2]["recs"])
    assert len(b[SITEB]["recs"]) >= 12, "site/P: %d" % len(b[SITEB]["recs"])


def _paged(srv, token, limit, counts, first_pull=None):
    """Pull with `limit` from scratch, checking each page against the model:
    buckets filled in bytewise order, `limit` entries per page over all
    buckets, more exactly when entries remain, cursor unchanged when a bucket
    returned nothing.  Returns (entries seen per bucket, cursors)."""
    remaining = dict(counts)
    cursors = dict(first_pull or {})
    seen = {n: [] for n in counts}
    for page in range(1000):
        sent = dict(cursors)
        b = _sync(srv, token, pull=sent, limit=limit, what="page %d" % page)
        left = limit
        expect = {}
        for name in sorted(counts):
            take = min(remaining[name], left)
            expect[name] = take
            left -= take
            remaining[name] -= take
        got = {n: _n(b["buckets"].get(n, {})) for n in counts}
        assert got == expect, \
            ("page %d (limit %d): entries per bucket must fill buckets in bytewise "
             "name order; expected %s, got %s" % (page, limit, expect, got))
        for name in counts:
            bk = b["buckets"][name]
            assert bool(bk.get("more")) == (remaining[name] > 0), \
                "page %d: %s more=%r but %d entries remain" % (
                    page, name, bk.get("more"), remaining[name])
            before = sent.get(name, 0)
            if got[name] == 0:
                assert bk["cursor"] == before, \
                    "page %d: %s returned nothing: cursor must stay %r, got %r" % (
                        page, name, before, bk["cursor"])
            else:
                assert bk["cursor"] > before, \
                    "page %d: %s returned entries but cursor %r <= sent %r" % (
                        page, name, bk["cursor"], before)
            seen[name] += [("rec", r["c"], r["id"]) for r in bk.get("recs") or []]
            seen[name] += [("gone",) + tuple(g) for g in bk.get("gone") or []]
            cursors[name] = bk["cursor"]
        if not any(remaining.values()):
            return seen, cursors
    raise AssertionError("paging never finished")


def _entries(bk):
    return sorted([("rec", r["c"], r["id"]) for r in bk.get("recs") or []] +
                  [("gone",) + tuple(g) for g in bk.get("gone") or []])


def test_paging_limit_order_cursor_more(ctx):
    srv, sp = _world(ctx)
    full = _full(srv, sp.token)["buckets"]
    counts = {n: _n(full[n]) for n in ALL}
    for limit in (4, 5, 7):
        seen, cursors = _paged(srv, sp.token, limit, counts)
        for n in ALL:
            assert sorted(seen[n]) == _entries(full[n]), \
                "limit %d: %s paged entries differ from a full pull (dups or gaps): " \
                "%s vs %s" % (limit, n, sorted(seen[n]), _entries(full[n]))
            assert cursors[n] == full[n]["cursor"], \
                "limit %d: %s final cursor %r != highest seq %r of the full pull" % (
                    limit, n, cursors[n], full[n]["cursor"])


def test_paging_exact_fit_has_no_more(ctx):
    srv, sp = _world(ctx)
    full = _full(srv, sp.token)["buckets"]
    n_orders = _n(full[ORDERS])
    b = _sync(srv, sp.token, limit=n_orders, what="limit == size of orders/P")
    assert _n(b["buckets"][ORDERS]) == n_orders and not b["buckets"][ORDERS].get("more"), \
        "orders/P fits the limit exactly: all entries and more=false; got %d, more=%r" % (
            _n(b["buckets"][ORDERS]), b["buckets"][ORDERS].get("more"))
    for n in (PX1, PX2, SITEB):
        assert _n(b["buckets"][n]) == 0 and b["buckets"][n].get("more") is True, \
            "%s: nothing served (limit used up) so more must be true: %r" % (
                n, b["buckets"][n])
        assert b["buckets"][n]["cursor"] == 0, \
            "%s: nothing returned from 0: cursor must be 0, got %r" % (n, b["buckets"][n]["cursor"])


def test_paging_every_record_once_with_writes_between(ctx):
    srv, sp = _world(ctx)
    cursors, seen = {}, {}
    for page in range(200):
        b = _sync(srv, sp.token, pull=cursors, limit=3, what="page %d" % page)
        for name, bk in b["buckets"].items():
            for r in bk.get("recs") or []:
                seen.setdefault((name, r["c"], r["id"]), []).append(r)
            cursors[name] = bk["cursor"]
        if page == 2:  # writes while paging: new and updated records
            _admin(srv, [_op("zone", "late1", {"site": P, "name": "late"}),
                         _op("zone", "z07", {"name": "renamed"})])
        if not any(bk.get("more") for bk in b["buckets"].values()) and page > 2:
            break
    full = _full(srv, sp.token)["buckets"]
    for n in ALL:
        for r in full[n]["recs"]:
            k = (n, r["c"], r["id"])
            assert k in seen, "record %s never pulled" % (k,)
            assert seen[k][-1]["f"] == r["f"], \
                "last pulled version of %s is stale: %r vs %r" % (k, seen[k][-1]["f"], r["f"])
    dups = {k: len(v) for k, v in seen.items() if len(v) > 1 and k[2] != "z07"}
    assert not dups, "records pulled more than once: %s" % dups


def test_limit_default_and_cap(ctx):
    srv = ctx.server()
    _admin(srv, [_site("Q"), _staff("Q", "sq", "supervisor")] +
           [_op("zone", "z%05d" % i, {"site": "Q", "name": "z"}) for i in range(10050)],
           what="10050 zones")
    sq = _device(srv, "Q", "sq", "supervisor")
    b = _sync(srv, sq.token, limit=50000, what="limit 50000")
    n = sum(_n(bk) for bk in b["buckets"].values())
    assert n == 10000, "limit above 10000 must be treated as 10000: got %d entries" % n
    assert b["buckets"]["site/Q"].get("more") is True, "more must be true with entries left"
    b = _sync(srv, sq.token, what="no limit")
    n = sum(_n(bk) for bk in b["buckets"].values())
    assert n == 1000, "default limit is 1000: got %d entries" % n
    b = _sync(srv, sq.token, limit=10000, what="limit 10000")
    assert sum(_n(bk) for bk in b["buckets"].values()) == 10000, "limit 10000"


def test_unnamed_scope_buckets_served_from_zero(ctx):
    srv, sp = _world(ctx)
    full = _full(srv, sp.token)["buckets"]
    b = _sync(srv, sp.token, pull={SITEB: full[SITEB]["cursor"]}, what="only site/P named")
    for n in (ORDERS, PX1, PX2):
        assert n in b["buckets"], "unnamed scope bucket %s not served" % n
        assert _entries(b["buckets"][n]) == _entries(full[n]), \
            "unnamed %s must be served from 0 in the same response" % n
    assert _n(b["buckets"][SITEB]) == 0, "site/P at its head must return nothing"


def test_cursor_at_and_above_head(ctx):
    srv, sp = _world(ctx)
    full = _full(srv, sp.token)["buckets"]
    head = full[SITEB]["cursor"]
    cur = {n: full[n]["cursor"] for n in ALL}
    b = _sync(srv, sp.token, pull=cur, what="cursors at head")
    for n in ALL:
        bk = b["buckets"][n]
        assert not bk.get("reset") and _n(bk) == 0 and not bk.get("more") and \
            bk["cursor"] == cur[n], "%s at its head: no reset, nothing, same cursor; %r" % (n, bk)
    for above in (head + 1, head + 10 ** 9):
        b = _sync(srv, sp.token, pull=dict(cur, **{SITEB: above}), what="cursor above head")
        bk = b["buckets"][SITEB]
        assert bk.get("reset") is True, \
            "cursor %d above the head %d of site/P must answer reset: true; %r" % (
                above, head, {k: v for k, v in bk.items() if k not in ("recs",)})
        assert _entries(bk) == _entries(full[SITEB]), \
            "reset: the bucket is served from 0 in the same response"
        for n in (ORDERS, PX1, PX2):
            assert not b["buckets"][n].get("reset"), "%s reset without cause" % n


def test_store_id_stable_across_restart(ctx):
    srv, sp = _world(ctx)
    s1 = _sync(srv, sp.token)["store"]
    s2 = _sync(srv, srv.admin_token)["store"]
    assert isinstance(s1, str) and s1, "store must be a non-empty string: %r" % s1
    assert s1 == s2, "store id differs between two syncs: %r %r" % (s1, s2)
    srv.restart()
    s3 = _sync(srv, sp.token, what="after restart")["store"]
    assert s3 == s1, "store id must survive a restart: %r -> %r" % (s1, s3)
    other = ctx.server()
    s4 = _sync(other, other.admin_token, what="another server")["store"]
    assert s4 != s1, "two stores made by separate init share the id %r" % s1


def test_one_entry_per_record(ctx):
    srv, sp = _world(ctx)
    before = _full(srv, sp.token)["buckets"]
    for i in range(5):
        _admin(srv, [_op("zone", "z00", {"name": "rename %d" % i})], what="update %d" % i)
    after = _full(srv, sp.token)["buckets"]
    ids = [r["id"] for r in after[SITEB]["recs"]]
    assert ids.count("z00") == 1, \
        "the bucket index keeps one entry per record (the newest): z00 sent %d times" % \
        ids.count("z00")
    assert len(ids) == len(before[SITEB]["recs"]), \
        "updates must not add entries: %d -> %d" % (len(before[SITEB]["recs"]), len(ids))
    z = [r for r in after[SITEB]["recs"] if r["id"] == "z00"][0]
    assert z["f"]["name"] == "rename 4", "newest version expected: %r" % z["f"]
    b = _sync(srv, sp.token, pull={n: before[n]["cursor"] for n in ALL}, what="incremental")
    got = {n: _entries(b["buckets"][n]) for n in ALL}
    assert got == {ALERTS: [], ORDERS: [], PX1: [], PX2: [], SITEB: [("rec", "zone", "z00")]}, \
        "from the old cursors only z00 changed: %s" % got
