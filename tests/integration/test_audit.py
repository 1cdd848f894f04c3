"""Integration tests: the audit trail (issue 5).

Every applied op that changes a record leaves an entry (who, device, when,
batch, old and new value and stamp of each changed field) written in the
op's own transaction; GET /v1/audit/<collection>/<id> shows a record's
history to supervisors of its site and admins; every lookup of reports and
of the audit trail is logged (GET /v1/audit/_reads, admins); entries are
purged after --audit-ttl-ms (default 400 days)."""
import time

from harness import (batch, check, device_for, now_ms, op, req, set_pin,
                     setup_site, store_failing, sync)

DAY_MS = 24 * 3600 * 1000


def _ack(resp, n=None):
    body = check(resp, 200)
    acks = body.get("acks") or []
    assert len(acks) == 1, "expected one ack: %r" % body
    a = acks[0]
    if n is not None:
        assert a.get("applied") == n and not a.get("rej") and \
            "err" not in a, "expected %d ops applied: %r" % (n, a)
    return a


def _history(srv, token, c, id, status=200, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    r = req(srv, "GET", "/v1/audit/%s/%s%s" % (c, id, "?" + qs if qs else ""),
            token=token)
    assert r.status == status, "GET audit %s/%s: expected %d, got %r" % (
        c, id, status, r)
    return r.body


def _reads(srv, token, status=200, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    r = req(srv, "GET", "/v1/audit/_reads" + ("?" + qs if qs else ""),
            token=token)
    assert r.status == status, "GET /v1/audit/_reads: expected %d, got %r" % (
        status, r)
    return r.body


def _site(srv, site="s1", extra=()):
    return setup_site(srv, site, staff=[("sup-" + site, "supervisor"),
                                        ("g-" + site, "guard")] + list(extra),
                      shifts=[("sh-" + site, "guard", ["g-" + site])])


def test_history_names_who_device_when_and_old_new_values(ctx):
    srv = ctx.server()
    _site(srv)
    sup = device_for(srv, "s1", "sup-s1", "supervisor")
    bid1, bid2 = b"\x01" * 16, b"\x02" * 16
    t0 = now_ms()
    _ack(sup.sync(push=[batch([op("zone", "z1", {"site": "s1", "name": "Lobby",
                                                 "kind": "lobby"})],
                              bid=bid1)]), 1)
    o2 = op("zone", "z1", {"name": "Main lobby"})
    _ack(sup.sync(push=[batch([o2], bid=bid2)]), 1)
    t1 = now_ms()
    h = _history(srv, sup.token, "zone", "z1")
    assert h["c"] == "zone" and h["id"] == "z1" and h["more"] is False, h
    es = h["entries"]
    assert len(es) == 2, "two writes, two entries: %r" % es
    first, second = es
    for e, bid in ((first, bid1), (second, bid2)):
        assert e["staff"] == "sup-s1" and e["role"] == "supervisor", e
        assert e["device"] == sup.device, "the entry names the device: %r" % e
        assert e["batch"] == bid.hex(), "the batch id (hex in JSON): %r" % e
        assert t0 - 1000 <= e["t"] <= t1 + 1000, \
            "t is the server time of the write: %r not in [%d, %d]" % (
                e["t"], t0, t1)
        assert e["site"] == "s1" and e["bucket"] == "site/s1", e
    assert first["created"] is True and second["created"] is False
    assert first["seq"] < second["seq"] and h["next"] == second["seq"]
    ch1 = {c["f"]: c for c in first["ch"]}
    assert set(ch1) == {"site", "name", "kind"}, ch1
    assert ch1["name"]["old"] is None and ch1["name"]["old_s"] is None and \
        ch1["name"]["new"] == "Lobby", ch1["name"]
    ch2 = {c["f"]: c for c in second["ch"]}
    assert set(ch2) == {"name"}, "only the field that changed: %r" % ch2
    n = ch2["name"]
    assert n["old"] == "Lobby" and n["new"] == "Main lobby", n
    assert n["old_s"] == ch1["name"]["new_s"], "old stamp = the first write's"
    assert n["new_s"] == [o2["s"], sup.device], \
        "new stamp = [op's hlc, device]: %r" % n


def test_history_as_msgpack_on_accept(ctx):
    srv = ctx.server()
    _site(srv)
    bid = b"\x07" * 16
    _ack(sync(srv, srv.admin_token,
              push=[batch([op("zone", "zm", {"site": "s1", "name": "x"})],
                          bid=bid)]), 1)
    r = req(srv, "GET", "/v1/audit/zone/zm", token=srv.admin_token,
            headers={"Accept": "application/msgpack"})
    assert r.status == 200 and r.content_type == "application/msgpack", r
    e = r.body["entries"][0]
    assert e["batch"] == bid and e["staff"] == "admin" and \
        e["role"] == "admin", "msgpack keeps the batch as bin 16: %r" % e


def test_batch_by_is_the_staff_recorded(ctx):
    srv = ctx.server()
    _site(srv, extra=[("sup2-s1", "supervisor")])
    dev = device_for(srv, "s1", "sup-s1", "supervisor")
    # the same handheld: sup2 logs in after sup-s1, then pushes a batch that
    # sup-s1 made offline
    set_pin(srv, "sup2-s1", "1234")
    dev.login("sup2-s1", "1234")
    _ack(dev.sync(push=[batch([op("zone", "zb", {"site": "s1", "name": "b"})],
                              by="sup-s1")]), 1)
    _ack(dev.sync(push=[batch([op("zone", "zb", {"name": "c"})])]), 1)
    es = _history(srv, dev.token, "zone", "zb")["entries"]
    assert [e["staff"] for e in es] == ["sup-s1", "sup2-s1"], \
        "who = the batch's by, else the session's staff: %r" % es
    assert {e["device"] for e in es} == {dev.device}


def test_noop_dup_and_rejected_ops_leave_no_entry(ctx):
    srv = ctx.server()
    _site(srv)
    sup = device_for(srv, "s1", "sup-s1", "supervisor")
    guard = device_for(srv, "s1", "g-s1", "guard")
    newer = op("zone", "zn", {"site": "s1", "name": "new"})
    b1 = batch([newer])
    _ack(sup.sync(push=[b1]), 1)
    # the same batch again: dup, nothing applied twice
    a = _ack(sup.sync(push=[b1]))
    assert a.get("dup") is True, a
    # an op that loses on last-writer-wins: applied, changes nothing
    older = op("zone", "zn", {"name": "old"}, s=newer["s"] - 1000)
    _ack(sup.sync(push=[batch([older])]), 1)
    es = _history(srv, sup.token, "zone", "zn")["entries"]
    assert len(es) == 1, "dup and lost ops change nothing and leave no " \
        "entry: %r" % es
    # a guard may not write zones: rejected, no entry
    a = _ack(guard.sync(push=[batch([op("zone", "zg", {"site": "s1",
                                                       "name": "g"})])]))
    assert a.get("applied") == 0 and a["rej"][0]["code"] == "FORBIDDEN", a
    _history(srv, sup.token, "zone", "zg", status=404)


def test_who_may_read_history(ctx):
    srv = ctx.server()
    _site(srv, "s1")
    _site(srv, "s2")
    sup1 = device_for(srv, "s1", "sup-s1", "supervisor")
    sup2 = device_for(srv, "s2", "sup-s2", "supervisor")
    guard = device_for(srv, "s1", "g-s1", "guard")
    _ack(sup1.sync(push=[batch([op("zone", "zp", {"site": "s1",
                                                  "name": "p"})])]), 1)
    _history(srv, sup1.token, "zone", "zp")
    _history(srv, srv.admin_token, "zone", "zp")
    # another site's supervisor gets the answer of a record that does not
    # exist: nothing tells it the record does (issue 10)
    b = _history(srv, sup2.token, "zone", "zp", status=404)
    nope = _history(srv, sup2.token, "zone", "nope", status=404)
    assert b == nope and b.get("error") == "NOT_FOUND", (b, nope)
    _history(srv, guard.token, "zone", "zp", status=403)
    _history(srv, sup1.token, "zone", "nope", status=404)
    _history(srv, sup1.token, "nocollection", "zp", status=404)
    r = req(srv, "GET", "/v1/audit/zone/zp")
    assert r.status == 401, "no token: %r" % r
    r = req(srv, "POST", "/v1/audit/zone/zp", token=srv.admin_token)
    assert r.status == 405, "only GET: %r" % r
    _history(srv, sup1.token, "zone", "zp", status=400, limit="x")
    # the site record itself is of its own site
    _history(srv, sup1.token, "site", "s1")
    _history(srv, sup2.token, "site", "s1", status=404)


def test_history_pages(ctx):
    srv = ctx.server()
    _site(srv)
    for i in range(7):
        _ack(sync(srv, srv.admin_token,
                  push=[batch([op("zone", "zz", {"site": "s1",
                                                 "name": "v%d" % i})])]), 1)
    got, after = [], 0
    for _ in range(10):
        h = _history(srv, srv.admin_token, "zone", "zz", limit=3, after=after)
        got += [{c["f"]: c for c in e["ch"]}["name"]["new"]
                for e in h["entries"]]
        after = h["next"]
        if not h["more"]:
            break
    assert got == ["v%d" % i for i in range(7)], got


def test_reads_of_reports_and_audit_are_logged(ctx):
    srv = ctx.server()
    _site(srv)
    sup = device_for(srv, "s1", "sup-s1", "supervisor")
    _ack(sup.sync(push=[batch([op("zone", "zr", {"site": "s1",
                                                 "name": "r"})])]), 1)
    t0 = now_ms()
    r = req(srv, "GET", "/v1/reports/devices/s1", token=sup.token)
    assert r.status == 200, r
    _history(srv, sup.token, "zone", "zr")
    # refused lookups are logged too: the log says who asked
    _reads(srv, sup.token, status=403)
    t1 = now_ms()
    body = _reads(srv, srv.admin_token, **{"from": t0 - 1000})
    reads = body["reads"]
    mine = [x for x in reads if x["staff"] == "sup-s1"]
    whats = [x["what"] for x in mine]
    assert whats == ["/v1/reports/devices/s1", "/v1/audit/zone/zr",
                     "/v1/audit/_reads"], "every lookup, in order: %r" % reads
    for x in mine:
        assert x["device"] == sup.device and x["role"] == "supervisor" and \
            x["site"] == "s1" and t0 - 1000 <= x["t"] <= t1 + 1000, x
    # the admin's own lookup of the log is in it as well
    assert reads[-1]["staff"] == "admin" and \
        reads[-1]["what"] == "/v1/audit/_reads" and \
        reads[-1]["query"] == "from=%d" % (t0 - 1000), reads[-1]
    # the time window and paging
    none = _reads(srv, srv.admin_token, **{"from": 0, "to": t0 - 60000})
    assert none["reads"] == [], none
    page = _reads(srv, srv.admin_token, **{"from": t0 - 1000, "limit": 2})
    assert len(page["reads"]) == 2 and page["more"] is True, page
    rest = _reads(srv, srv.admin_token,
                  **{"from": t0 - 1000, "after": page["next"]})
    assert [x["hlc"] for x in page["reads"] + rest["reads"]][:len(reads)] == \
        [x["hlc"] for x in reads], "after= continues where a page ended"


def test_lookup_not_served_when_it_cannot_be_logged(ctx):
    srv = ctx.server(shim=True)
    _site(srv)
    _ack(sync(srv, srv.admin_token,
              push=[batch([op("zone", "zl", {"site": "s1", "name": "l"})])]),
         1)
    with store_failing(srv):
        r = req(srv, "GET", "/v1/audit/zone/zl", token=srv.admin_token)
        assert r.status == 503, "a lookup that cannot be logged durably is " \
            "refused: %r" % r
        r = req(srv, "GET", "/v1/reports/devices/s1", token=srv.admin_token)
        assert r.status == 503, r
    h = _history(srv, srv.admin_token, "zone", "zl")
    assert len(h["entries"]) == 1
    reads = _reads(srv, srv.admin_token)["reads"]
    assert [x["what"] for x in reads] == ["/v1/audit/zone/zl",
                                          "/v1/audit/_reads"], \
        "the refused lookups left no entry, the served ones did: %r" % reads


def test_entries_are_kept_400_days_then_purged(ctx):
    srv = ctx.server()
    _site(srv)
    _ack(sync(srv, srv.admin_token,
              push=[batch([op("zone", "zk", {"site": "s1", "name": "k"})])]),
         1)
    _history(srv, srv.admin_token, "zone", "zk")
    # 399 days later (a restart with the clock moved): still there
    srv.args = ["--clock-offset-ms", str(399 * DAY_MS)]
    srv.restart()
    time.sleep(0.3)
    h = _history(srv, srv.admin_token, "zone", "zk")
    assert len(h["entries"]) == 1, "kept for 400 days by default"
    # 401 days: the purge pass at start removes it
    srv.args = ["--clock-offset-ms", str(401 * DAY_MS)]
    srv.restart()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = req(srv, "GET", "/v1/audit/zone/zk", token=srv.admin_token)
        if r.status == 404:
            break
        time.sleep(0.1)
    assert r.status == 404, "after 400 days the entry is purged: %r" % r
    reads = _reads(srv, srv.admin_token)["reads"]
    now = now_ms() + 401 * DAY_MS
    assert all(x["t"] > now - 400 * DAY_MS for x in reads), \
        "old read entries are purged as well: %r" % reads
    assert reads, "the reads made at +401 days are kept"


def test_configured_ttl_purges_periodically(ctx):
    srv = ctx.server(args=["--audit-ttl-ms", "1500",
                           "--audit-purge-interval-ms", "200"])
    _site(srv)
    _ack(sync(srv, srv.admin_token,
              push=[batch([op("zone", "zt", {"site": "s1", "name": "t"})])]),
         1)
    _history(srv, srv.admin_token, "zone", "zt")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        r = req(srv, "GET", "/v1/audit/zone/zt", token=srv.admin_token)
        if r.status == 404:
            break
    assert r.status == 404, "purged after --audit-ttl-ms: %r" % r
    # a new write gets a new entry: purging does not stop the trail
    _ack(sync(srv, srv.admin_token,
              push=[batch([op("zone", "zt", {"name": "u"})])]), 1)
    es = _history(srv, srv.admin_token, "zone", "zt")["entries"]
    assert len(es) == 1 and es[0]["created"] is False, es


def test_entry_is_durable_with_its_op(ctx):
    srv = ctx.server()
    _site(srv)
    for i in range(5):
        _ack(sync(srv, srv.admin_token,
                  push=[batch([op("zone", "zd%d" % i, {"site": "s1",
                                                       "name": "d"})])]), 1)
        srv.kill9()
        srv.start()
        for k in range(i + 1):
            es = _history(srv, srv.admin_token, "zone", "zd%d" % k)["entries"]
            assert len(es) == 1, "after kill -9, every acked op has exactly " \
                "one entry: zd%d %r" % (k, es)


test_entries_are_kept_400_days_then_purged.timeout = 90
