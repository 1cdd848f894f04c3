"""Integration tests: acked data survives kill -9; acks only after fdatasync; a failing disk (protocol/PROTOCOL.md)."""

import os
import time

from harness import SHIM_FAILING_DISK, SHIM_FSYNC, lmdb_only, store_failing
from synclib import (admin_ok, check_err, enroll_ok, enroll_raw, healthy,
                     login_ok, mk_site, mk_staff, mkbatch, mkop, new_code,
                     push1, sync_raw)


# ---- tests -----------------------------------------------------------------
def _pull_all(srv, site="s1"):
    """Every record of bucket site/<site> as {(c, id): fields}, paging."""
    recs, cursor = {}, 0
    for _ in range(100):
        r = sync_raw(srv, srv.admin_token, pull={"site/" + site: cursor},
                     limit=10000)
        assert r.status == 200 and isinstance(r.body, dict), \
            "admin pull: expected 200, got %r" % r
        b = r.body["buckets"].get("site/" + site)
        assert b is not None, "admin pull: bucket site/%s missing from %r" % (
            site, sorted(r.body["buckets"]))
        for rec in b.get("recs", []):
            recs[(rec["c"], rec["id"])] = rec["f"]
        for c, i in b.get("gone", []):
            recs.pop((c, i), None)
        cursor = b["cursor"]
        if not b.get("more"):
            return recs, r.body
    raise AssertionError("pull of site/%s did not end in 100 pages" % site)


def _zone(id, name):
    return mkop("zone", id, {"site": "s1", "name": name})


def test_kill9_after_ack_keeps_data_20_rounds(ctx):
    srv = ctx.server()
    mk_site(srv, "s1")
    _, first = _pull_all(srv)
    store = first.get("store")
    expect = {}
    for rnd in range(20):
        ops = [_zone("r%02d-%d" % (rnd, k), "round %d op %d" % (rnd, k))
               for k in range(3)]
        ops.append(_zone("counter", "after round %d" % rnd))
        bid = os.urandom(16)
        ack = push1(srv, srv.admin_token, ops, bid=bid,
                    what="round %d push" % rnd)
        assert ack.get("applied") == 4 and not ack.get("dup") and \
            not ack.get("rej") and "err" not in ack, \
            "round %d: expected 4 ops applied, got %r" % (rnd, ack)
        for o in ops:
            expect[("zone", o["id"])] = o["f"]["name"]
        srv.kill9()
        srv.start()
        recs, body = _pull_all(srv)
        missing = [k for k, v in expect.items()
                   if recs.get(k, {}).get("name") != v]
        assert not missing, "round %d: after kill -9 and restart, acked " \
            "data is missing or old: %r (have counter=%r)" % (
                rnd, missing[:5], recs.get(("zone", "counter")))
        assert body.get("store") == store, "round %d: the store id changed " \
            "across a restart (%r -> %r)" % (rnd, store, body.get("store"))
        again = push1(srv, srv.admin_token, ops, bid=bid,
                      what="round %d resend" % rnd)
        assert again.get("dup") is True and again.get("applied") == 4, \
            "round %d: the acked batch resent after the crash must come " \
            "back dup: true with its stored ack, got %r" % (rnd, again)


test_kill9_after_ack_keeps_data_20_rounds.timeout = 120


def _push_timed(srv, ops, bid=None):
    t0 = time.monotonic_ns()
    r = sync_raw(srv, srv.admin_token, push=[mkbatch(ops, bid)])
    t1 = time.monotonic_ns()
    return r, t0, t1


def test_ack_only_after_fdatasync(ctx):
    lmdb_only(SHIM_FSYNC)
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    for i in range(8):
        before = len(srv.syncs())
        r, t0, t1 = _push_timed(srv, [_zone("fs%d" % i, "n%d" % i),
                                      _zone("fs%d-b" % i, "m%d" % i)])
        assert r.status == 200 and r.body["acks"][0].get("applied") == 2, \
            "push %d: expected 2 ops applied, got %r" % (i, r)
        calls = srv.syncs()[before:]
        inside = [c for c in calls if c.ok and t0 <= c.t0 and c.t1 <= t1]
        assert inside, "push %d: the ack arrived without any successful " \
            "fdatasync/fsync/msync between sending the request and " \
            "receiving the ack (new sync calls: %r)" % (i, calls)


def test_ack_after_sync_many_batches_one_request(ctx):
    lmdb_only(SHIM_FSYNC)
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    before = len(srv.syncs())
    batches = [mkbatch([_zone("mb%d" % i, "x")]) for i in range(10)]
    t0 = time.monotonic_ns()
    r = sync_raw(srv, srv.admin_token, push=batches)
    t1 = time.monotonic_ns()
    assert r.status == 200 and [a.get("applied") for a in r.body["acks"]] \
        == [1] * 10, "10 batches: expected 10 acks applied=1, got %r" % r
    calls = [c for c in srv.syncs()[before:]
             if c.ok and t0 <= c.t0 and c.t1 <= t1]
    assert calls, "10 acked batches without any sync call in the request"


def test_failing_disk_gives_unavailable_then_resend_applies(ctx):
    lmdb_only(SHIM_FAILING_DISK)
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    ack = push1(srv, srv.admin_token, [_zone("keep", "acked before")],
                what="push before the disk fails")
    assert ack.get("applied") == 1, "expected the first push applied: %r" % (
        ack)
    srv.fail_syncs(True)
    try:
        bid = os.urandom(16)
        ops = [_zone("late", "written while failing"),
               _zone("keep2", "also")]
        r = sync_raw(srv, srv.admin_token, push=[mkbatch(ops, bid)],
                     pull={})
        assert r.status == 200, "a push while the disk fails: expected HTTP " \
            "200 (per-batch error), got %r" % r
        acks = r.body.get("acks") or []
        assert len(acks) == 1 and acks[0].get("err") == "UNAVAILABLE" and \
            acks[0].get("applied") == 0 and acks[0].get("batch") == bid, \
            "a push while the disk fails: expected ack {batch, err: " \
            "UNAVAILABLE, applied: 0}, got %r" % acks
        bk = r.body.get("buckets", {}).get("site/s1")
        assert bk is not None and any(x["id"] == "keep"
                                      for x in bk.get("recs", [])), \
            "the pull must still be served while the disk fails: %r" % (
                r.body.get("buckets"))
        assert not any(x["id"] in ("late", "keep2")
                       for x in bk.get("recs", [])), \
            "nothing of an UNAVAILABLE batch may be visible: %r" % bk
        r2 = sync_raw(srv, srv.admin_token, push=[mkbatch(ops, bid)])
        assert r2.status == 200 and \
            r2.body["acks"][0].get("err") == "UNAVAILABLE" and \
            not r2.body["acks"][0].get("dup"), \
            "a resend while still failing: expected UNAVAILABLE again, not " \
            "dup, got %r" % r2
    finally:
        srv.fail_syncs(False)
    r = sync_raw(srv, srv.admin_token, push=[mkbatch(ops, bid)])
    assert r.status == 200, "resend after the disk recovered: %r" % r
    a = r.body["acks"][0]
    assert a.get("applied") == 2 and not a.get("dup") and "err" not in a, \
        "the resent batch (the failed one was not recorded) must apply " \
        "now, not dup: got %r" % a
    recs, _ = _pull_all(srv)
    assert recs.get(("zone", "keep"), {}).get("name") == "acked before", \
        "data acked before the failure must still be there"
    assert ("zone", "late") in recs and ("zone", "keep2") in recs, \
        "the resent batch's records must be there"
    srv.kill9()
    srv.start()
    recs, _ = _pull_all(srv)
    for k in ("keep", "late", "keep2"):
        assert ("zone", k) in recs, "after kill -9 and restart, acked " \
            "record zone/%s is missing" % k
    a = push1(srv, srv.admin_token, ops, bid=bid, what="resend after crash")
    assert a.get("dup") is True, "the applied batch must be dup after " \
        "the crash: %r" % a


def test_pull_only_sync_served_while_disk_fails(ctx):
    lmdb_only(SHIM_FAILING_DISK)
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    admin_ok(srv, [_zone("z1", "one")])
    srv.fail_syncs(True)
    try:
        for _ in range(3):
            recs, body = _pull_all(srv)
            assert ("zone", "z1") in recs, "pull while the disk fails must " \
                "serve the stored data"
        healthy(srv, "while syncs fail")
    finally:
        srv.fail_syncs(False)
    a = push1(srv, srv.admin_token, [_zone("z2", "two")],
              what="push after recovery")
    assert a.get("applied") == 1 and "err" not in a, \
        "a push after the disk recovered must apply: %r" % a


def test_concurrent_pushes_each_ack_after_its_sync(ctx):
    """Group commit: many requests at once, each ack still only after a
    sync that started after the request was sent."""
    lmdb_only(SHIM_FSYNC)
    import threading as th
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    results, errors = [], []
    lock = th.Lock()

    def worker(w):
        try:
            for k in range(6):
                ops = [_zone("c%d-%d-%d" % (w, k, j), "w%d" % w)
                       for j in range(2)]
                r, t0, t1 = _push_timed(srv, ops)
                with lock:
                    results.append((w, k, r, t0, t1))
        except Exception as e:  # reported below
            with lock:
                errors.append(repr(e))
    threads = [th.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, "concurrent pushes raised: %r" % errors[:3]
    assert len(results) == 48, "expected 48 pushes, got %d" % len(results)
    calls = [c for c in srv.syncs() if c.ok]
    for w, k, r, t0, t1 in results:
        assert r.status == 200 and r.body["acks"][0].get("applied") == 2, \
            "worker %d push %d: expected 2 applied, got %r" % (w, k, r)
        assert any(t0 <= c.t0 and c.t1 <= t1 for c in calls), \
            "worker %d push %d: acked with no successful sync call that " \
            "started after the request was sent and ended before the ack" % (
                w, k)
    recs, _ = _pull_all(srv)
    missing = [(w, k) for w, k, *_ in results
               if ("zone", "c%d-%d-0" % (w, k)) not in recs]
    assert not missing, "acked concurrent pushes missing: %r" % missing[:5]


def test_kill9_mid_stream_acked_survive_batches_atomic(ctx):
    """kill -9 while pushes are in flight: every acked batch is there after
    restart, and every batch is there whole or not at all."""
    import random
    import threading as th
    srv = ctx.server()
    mk_site(srv, "s1")
    rng = random.Random(7)
    acked, sent = set(), []
    for rnd in range(5):
        stop = th.Event()
        lock = th.Lock()

        def pusher(w):
            n = 0
            while not stop.is_set() and n < 400:
                name = "k%d-%d-%d" % (rnd, w, n)
                ops = [_zone(name + "-%d" % j, name) for j in range(3)]
                with lock:
                    sent.append(name)
                try:
                    r = sync_raw(srv, srv.admin_token, push=[mkbatch(ops)])
                except OSError:
                    return
                if r.status == 200 and r.body and \
                        r.body["acks"][0].get("applied") == 3:
                    with lock:
                        acked.add(name)
                elif r.status is None:
                    return
                n += 1
        threads = [th.Thread(target=pusher, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.15 + rng.random() * 0.25)
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(15)
        srv.start()
        recs, _ = _pull_all(srv)
        lost = [n for n in acked if ("zone", n + "-0") not in recs]
        assert not lost, "round %d: acked batches lost by kill -9: %r" % (
            rnd, sorted(lost)[:5])
        for n in sent:
            have = [("zone", "%s-%d" % (n, j)) in recs for j in range(3)]
            assert all(have) or not any(have), "round %d: batch %s is " \
                "half applied after kill -9 (ops present: %r)" % (
                    rnd, n, have)
    assert len(acked) >= 10, "too few pushes were acked to mean anything " \
        "(%d)" % len(acked)


test_kill9_mid_stream_acked_survive_batches_atomic.timeout = 120


def test_enroll_while_disk_fails_is_503_and_code_kept(ctx):
    srv = ctx.server(shim=True)
    mk_site(srv, "s1")
    mk_staff(srv, "s1", "g1", "guard")
    code = new_code(srv, "s1")
    with store_failing(srv):
        r = enroll_raw(srv, code, "while failing")
        check_err(r, 503, "UNAVAILABLE", "enroll while the disk fails")
        assert "token" not in r.body, "no token may be issued when it " \
            "could not be stored: %r" % r
    device, dtok = enroll_ok(srv, code, "after recovery")
    login_ok(srv, dtok, "g1")
