"""Tombstones, gone entries and batch acks are kept for tombstone_ttl, then
purged (protocol/PROTOCOL.md); a device whose cursor is older than
what the server kept gets reset: true and re-pulls.  The server runs with a
short ttl and a fast purge pass so nothing sleeps for long."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

TTL = 800     # ms
PASS = 100    # ms between purge passes


def _server(ctx):
    return ctx.server(args=("--tombstone-ttl-ms", str(TTL),
                            "--maint-interval-ms", str(PASS)))


def _sup(ctx):
    s = _server(ctx)
    H.setup_site(s, "s1", staff=[("sup", "supervisor")])
    return s, H.device_for(s, "s1", "sup", "supervisor")


def _bucket(resp, name):
    b = H.check(resp, 200)["buckets"].get(name)
    assert b is not None, "bucket %s missing from %r" % (name, resp.body)
    return b


def test_purged_tombstone_resets_an_old_cursor(ctx):
    s, dev = _sup(ctx)
    zone = {"site": "s1", "name": "Lobby", "kind": "lobby"}
    H.admin_push(s, [H.op("zone", "z1", zone), H.op("zone", "z2", zone)])
    b = _bucket(dev.sync(pull={}), "site/s1")
    old_cursor = b["cursor"]
    assert {r["id"] for r in b["recs"]} >= {"z1", "z2"}
    # delete z1: a tombstone, pulled as a record with _deleted true
    H.admin_push(s, [H.op("zone", "z1", {"_deleted": True})])
    b = _bucket(dev.sync(pull={"site/s1": old_cursor}), "site/s1")
    assert [r["f"].get("_deleted") for r in b["recs"] if r["id"] == "z1"] == [True]
    fresh_cursor = b["cursor"]
    assert b["reset"] is False
    # after the ttl the tombstone is purged
    deadline = time.time() + 10
    while time.time() < deadline:
        b = _bucket(dev.sync(pull={"site/s1": old_cursor}), "site/s1")
        if b["reset"]:
            break
        time.sleep(0.1)
    assert b["reset"] is True, "a cursor older than a purged tombstone must reset"
    ids = {r["id"] for r in b["recs"]}
    assert "z2" in ids and "z1" not in ids, \
        "reset re-serves the bucket from 0 without the purged record: %r" % ids
    # a device that had seen the tombstone keeps its cursor
    b = _bucket(dev.sync(pull={"site/s1": fresh_cursor}), "site/s1")
    assert b["reset"] is False, "a cursor past the purged entry must not reset"


def test_revived_record_is_not_purged(ctx):
    s, dev = _sup(ctx)
    H.admin_push(s, [H.op("zone", "z1", {"site": "s1", "name": "A"})])
    H.admin_push(s, [H.op("zone", "z1", {"_deleted": True})])
    H.admin_push(s, [H.op("zone", "z1", {"_deleted": False})])
    time.sleep((TTL + 4 * PASS) / 1000.0)
    b = _bucket(dev.sync(pull={}), "site/s1")
    z = [r for r in b["recs"] if r["id"] == "z1"]
    assert z and z[0]["f"]["_deleted"] is False, "revived record must stay: %r" % z


def test_acks_forgotten_after_ttl(ctx):
    s, dev = _sup(ctx)
    bid = H.batch_id()
    ops = [H.op("zone", "z9", {"site": "s1", "name": "Garage"})]
    r = dev.sync(push=[H.batch(ops, bid=bid)])
    a = H.check(r, 200)["acks"][0]
    assert a["applied"] == 1 and a["dup"] is False
    r = dev.sync(push=[H.batch(ops, bid=bid)])
    assert H.check(r, 200)["acks"][0]["dup"] is True, "within the ttl: dup"
    time.sleep((TTL + 4 * PASS) / 1000.0)
    r = dev.sync(push=[H.batch(ops, bid=bid)])
    a = H.check(r, 200)["acks"][0]
    assert a["dup"] is False and a["applied"] == 1, \
        "after the ttl the ack is gone and the batch applies (a no-op): %r" % a


def test_gone_entry_purged_resets_old_cursor(ctx):
    s = _server(ctx)
    H.setup_site(s, "s1", staff=[("sup", "supervisor")],
                 shifts=[("A", "cleaner", []), ("B", "cleaner", [])])
    dev = H.device_for(s, "s1", "sup", "supervisor")
    H.admin_push(s, [H.op("task", "t1", {"site": "s1", "shift": "A",
                                         "title": "Sweep", "status": "open"})])
    b = _bucket(dev.sync(pull={}), "shift/A")
    cur_a = b["cursor"]
    H.admin_push(s, [H.op("task", "t1", {"shift": "B"})])
    b = _bucket(dev.sync(pull={"shift/A": cur_a}), "shift/A")
    assert b["gone"] == [["task", "t1"]] and b["reset"] is False
    deadline = time.time() + 10
    while time.time() < deadline:
        b = _bucket(dev.sync(pull={"shift/A": cur_a}), "shift/A")
        if b["reset"]:
            break
        time.sleep(0.1)
    assert b["reset"] is True and b["gone"] == [], \
        "a purged gone entry resets cursors older than it: %r" % b
    assert "t1" not in {r["id"] for r in b["recs"]}, \
        "the reset re-serves shift/A from 0, without the task that left: %r" % b
    b = _bucket(dev.sync(pull={"shift/B": 0}), "shift/B")
    assert [r["f"]["shift"] for r in b["recs"] if r["id"] == "t1"] == ["B"], \
        "the task is served in the shift it moved to: %r" % b
