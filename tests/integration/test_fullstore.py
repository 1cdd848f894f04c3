"""Integration tests: a full store (issue 5, protocol/PROTOCOL.md).

With a tiny map (--map-mb 1 --max-store-mb 2) the server grows the map to
the cap, then answers each batch err UNAVAILABLE with nothing applied and
the batch id not recorded, HTTP 200, the pull still served; nothing acked
is lost; when space is freed (here: a restart with a higher
--max-store-mb, see deploy/OPERATIONS.md) the same batches apply."""
import os
import subprocess
import time

from harness import (SHIM_FAILING_DISK, batch, check, device_for, lmdb_only,
                     op, req, setup_site, sync)
from loadgen import OutboxClient, pull_all

SMALL = ["--map-mb", "1", "--max-store-mb", "2"]


def _pull(srv):
    r = sync(srv, srv.admin_token, pull={"site/s1": 0}, limit=10000)
    body = check(r, 200)
    b = body["buckets"]["site/s1"]
    assert not b.get("more"), "one page holds this test's records"
    return {x["id"]: x["f"] for x in b["recs"]}


def _metric(srv, name):
    r = req(srv, "GET", "/metrics")
    for ln in r.raw.decode().splitlines():
        if ln.startswith(name + " "):
            return float(ln.split()[1])
    raise AssertionError("no metric %s" % name)


def _fill(srv, prefix, size=30000, max_ops=300):
    """Push one big zone per batch until the store refuses; returns
    ({id: name} acked, [(bid, op)] refused)."""
    acked, refused = {}, []
    for i in range(max_ops):
        bid = os.urandom(16)
        o = op("zone", "%s%03d" % (prefix, i),
               {"site": "s1", "name": ("%03d" % i) * (size // 3)})
        r = sync(srv, srv.admin_token, push=[batch([o], bid=bid)])
        body = check(r, 200)
        a = body["acks"][0]
        if a.get("err") == "UNAVAILABLE":
            assert a.get("applied") == 0 and not a.get("dup") and \
                a.get("batch") == bid, "a refused batch: %r" % a
            refused.append((bid, o))
            if len(refused) >= 3:
                break
        else:
            assert a.get("applied") == 1 and not a.get("rej"), a
            acked[o["id"]] = o["f"]["name"]
    return acked, refused


MAP = "LMDB's map (--map-mb, --max-store-mb, its growth and its cap); " \
    "a PostgreSQL store has no map: its disk is the database server's"


def test_full_store_refuses_batches_serves_pulls_and_recovers(ctx):
    lmdb_only(MAP)
    srv = ctx.server(args=SMALL, init_args=SMALL)
    setup_site(srv, "s1")
    assert _metric(srv, "fieldsync_store_map_bytes") == 1 << 20
    acked, refused = _fill(srv, "big")
    assert refused, "a 2 MiB store never filled up with %d ops of 30 KB" % (
        len(acked))
    assert len(acked) >= 10, "the map must grow past its first 1 MiB " \
        "before refusing (%d acked)" % len(acked)
    assert _metric(srv, "fieldsync_store_map_bytes") == 2 << 20, \
        "grown to --max-store-mb and no further"
    assert _metric(srv, "fieldsync_batches_unavailable_total") >= len(refused)

    # several batches in one request, with a pull: 200, each batch
    # UNAVAILABLE, the pull served, nothing of the batches visible
    many = [batch([op("zone", "many%d" % k, {"site": "s1",
                                              "name": "m" * 30000})])
            for k in range(4)]
    r = sync(srv, srv.admin_token, push=many, pull={"site/s1": 0},
             limit=10000)
    body = check(r, 200)
    assert [a.get("err") for a in body["acks"]] == ["UNAVAILABLE"] * 4, \
        body["acks"]
    got = {x["id"] for x in body["buckets"]["site/s1"]["recs"]}
    assert set(acked) <= got, "the pull is served while the store is full"
    assert not any(i.startswith("many") for i in got)

    # batches of a group are retried one by one: in a mixed request each
    # is either applied whole or refused whole
    mixed = [batch([op("zone", "mix%d" % k, {"site": "s1",
                                              "name": "n" * size})])
             for k, size in enumerate((10, 30000, 10, 30000))]
    body = check(sync(srv, srv.admin_token, push=mixed), 200)
    for b, a in zip(mixed, body["acks"]):
        assert (a.get("applied") == 1 and "err" not in a) or \
            (a.get("applied") == 0 and a.get("err") == "UNAVAILABLE"), a
        if a.get("applied"):
            acked[b["ops"][0]["id"]] = b["ops"][0]["f"]["name"]
        else:
            refused.append((b["batch"], b["ops"][0]))
    assert body["acks"][1].get("err") == "UNAVAILABLE"

    # nothing acked is lost; the refused ids were not recorded
    recs = _pull(srv)
    assert all(recs.get(k, {}).get("name") == v for k, v in acked.items())
    assert not any(o["id"] in recs for _, o in refused)
    bid, o = refused[0]
    a = check(sync(srv, srv.admin_token, push=[batch([o], bid=bid)]),
              200)["acks"][0]
    assert a.get("err") == "UNAVAILABLE" and not a.get("dup"), \
        "still full: the resend is refused again, not dup: %r" % a
    # the full store is consistent
    p = subprocess.run([ctx.binary, "check", "--data", srv.data],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    assert p.returncode == 0, p.stdout

    # space freed: the operator raises the cap (deploy/OPERATIONS.md)
    srv.args = ["--map-mb", "1", "--max-store-mb", "8"]
    srv.restart()
    for bid, o in refused:
        a = check(sync(srv, srv.admin_token, push=[batch([o], bid=bid)]),
                  200)["acks"][0]
        assert a.get("applied") == 1 and not a.get("dup") and \
            "err" not in a, "the refused batch applies once there is " \
            "room: %r" % a
    more, refused2 = _fill(srv, "more", max_ops=20)
    assert len(more) == 20 and not refused2
    recs = _pull(srv)
    for k, v in list(acked.items()) + list(more.items()) + \
            [(o["id"], o["f"]["name"]) for _, o in refused]:
        assert recs.get(k, {}).get("name") == v, "%s missing or old" % k
    assert _metric(srv, "fieldsync_store_map_bytes") > 2 << 20


def test_max_store_mb_reaches_the_store(ctx):
    # --map-mb and --max-store-mb given to serve set the map: 1 MiB to
    # start, grown in steps to exactly the cap
    lmdb_only(MAP)
    srv = ctx.server(args=["--map-mb", "1", "--max-store-mb", "3"],
                     init_args=["--map-mb", "1"])
    setup_site(srv, "s1")
    assert _metric(srv, "fieldsync_store_map_bytes") == 1 << 20
    acked, refused = _fill(srv, "cap")
    assert refused and _metric(srv, "fieldsync_store_map_bytes") == 3 << 20, \
        "the map grows 1 -> 2 -> 3 MiB (capped), then refuses"


def test_disk_errors_under_load_lose_no_ack(ctx):
    # (test_durability.py covers one request: fdatasync fails -> the batch
    # is UNAVAILABLE, invisible, not recorded.)  Here 6 devices push while
    # the disk fails on and off; whatever was acked survives kill -9.
    lmdb_only(SHIM_FAILING_DISK)
    srv = ctx.server(shim=True)
    staff = [("sup%d" % i, "supervisor") for i in range(6)]
    setup_site(srv, "s1", staff=staff)
    devs = [device_for(srv, "s1", s, "supervisor") for s, _ in staff]
    clients = [OutboxClient(srv, d.token, "e%d" % i, pace=0.02)
               for i, d in enumerate(devs)]
    for c in clients:
        c.start()
    try:
        for _ in range(4):
            time.sleep(0.25)
            srv.fail_syncs(True)
            time.sleep(0.25)
            srv.fail_syncs(False)
    finally:
        srv.fail_syncs(False)
        for c in clients:
            c.stop()
        for c in clients:
            c.join(10)
    assert not [e for c in clients for e in c.errors]
    assert sum(c.unavailable for c in clients) > 0, \
        "some batches met the failing disk"
    srv.kill9()
    srv.start()
    recs, dups, _ = pull_all(srv, srv.admin_token)
    lost = [o["id"] for c in clients for b in c.acked for o in c.batches[b]
            if ("zone", o["id"]) not in recs]
    assert not lost and not dups, "acked while the disk failed on and off, " \
        "then lost in a crash: %r" % lost[:10]
    for c in clients:
        assert not c.flush(time.monotonic() + 10)
    twice = [b for c in clients for b, n in c.nondup.items() if n > 1]
    assert not twice, "applied twice"
