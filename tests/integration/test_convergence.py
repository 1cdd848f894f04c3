"""Convergence property (DESIGN.md section 2): random field writes from
several devices, delivered shuffled and resent, give every device the same
records, equal to a local last-writer-wins model (per field, the greatest
(hlc, origin bytes) wins).  Seeded, bounded, deterministic in its checks."""

import random

# --- helpers (same block in every test file of this group; keep in sync) ---
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR


def _hlc(ms, counter=0):
    return (int(ms) << 16) | int(counter)


def _wall(h):
    return int(h) >> 16


_last_stamp = [0]


def _stamp():
    """A stamp from the real clock, strictly increasing within this module,
    so two writes of one test to the same field never tie."""
    s = max(_hlc(H.now_ms()), _last_stamp[0] + 1)
    _last_stamp[0] = s
    return s


def _op(c, id_, f, s=None):
    return {"c": c, "id": id_, "f": dict(f), "s": _stamp() if s is None else int(s)}


def _batch(ops, by=None, bid=None):
    b = {"batch": bid if bid is not None else os.urandom(16), "ops": list(ops)}
    if by is not None:
        b["by"] = by
    return b


def _sync(srv, token, push=None, pull=None, limit=None, dev=None, hlc=None,
          what="sync"):
    """POST /v1/sync with exactly the body given (no defaults added but v, hlc,
    push and pull); checks the parts every response must have."""
    body = {"v": 1, "hlc": _hlc(H.now_ms()) if hlc is None else int(hlc),
            "push": list(push or []), "pull": dict(pull or {})}
    if limit is not None:
        body["limit"] = limit
    if dev is not None:
        body["dev"] = dev
    r = H.req(srv, "POST", "/v1/sync", body=body, token=token)
    assert r.status == 200, "%s: POST /v1/sync answered HTTP %s: %r" % (
        what, r.status, r.body)
    b = r.body
    assert isinstance(b, dict), "%s: sync response is not a map: %r" % (what, b)
    for k in ("now", "hlc", "store", "acks", "buckets", "scope"):
        assert k in b, "%s: sync response lacks %r (keys %s)" % (what, k, sorted(b))
    assert isinstance(b["now"], int) and isinstance(b["hlc"], int), \
        "%s: now/hlc not integers: %r %r" % (what, b["now"], b["hlc"])
    acks = b["acks"]
    assert len(acks) == len(body["push"]), \
        "%s: %d batches pushed, %d acks back: %r" % (
            what, len(body["push"]), len(acks), acks)
    for i, (a, bt) in enumerate(zip(acks, body["push"])):
        assert a.get("batch") == bt["batch"], \
            "%s: ack %d is for batch %r, expected %r (acks come in push order)" % (
                what, i, a.get("batch"), bt["batch"])
    return b


def _rej(ack):
    """{op index: code} of an ack's rejections."""
    return {r["i"]: r["code"] for r in (ack.get("rej") or [])}


def _rej_entry(ack, i):
    for r in ack.get("rej") or []:
        if r["i"] == i:
            return r
    return None


def _push(srv, token, ops, by=None, what="push", **kw):
    b = _sync(srv, token, push=[_batch(ops, by=by)], what=what, **kw)
    return b["acks"][0], b


def _push_ok(srv, token, ops, by=None, what="push", **kw):
    ack, b = _push(srv, token, ops, by=by, what=what, **kw)
    assert not ack.get("rej") and not ack.get("err"), \
        "%s: ops rejected: err=%r rej=%r" % (what, ack.get("err"), ack.get("rej"))
    assert ack.get("applied") == len(ops), \
        "%s: applied=%r, expected %d" % (what, ack.get("applied"), len(ops))
    assert not ack.get("dup"), "%s: fresh batch acked dup: %r" % (what, ack)
    return b


def _admin(srv, ops, what="admin setup"):
    """Push ops with the admin token (5000 ops a batch), all must apply."""
    ops = list(ops)
    batches = [_batch(ops[i:i + 5000]) for i in range(0, len(ops), 5000)]
    for j in range(0, len(batches), 64):
        part = batches[j:j + 64]
        b = _sync(srv, srv.admin_token, push=part, what=what)
        for bt, ack in zip(part, b["acks"]):
            assert not ack.get("rej") and not ack.get("err"), \
                "%s: admin ops rejected: err=%r rej=%r" % (
                    what, ack.get("err"), (ack.get("rej") or [])[:5])
            assert ack.get("applied") == len(bt["ops"]), \
                "%s: applied %r of %d" % (what, ack.get("applied"), len(bt["ops"]))


def _pull_all(srv, token, cursors=None, limit=None, what="pull", rounds=400):
    """Pull until no bucket has more.  Returns {"recs": {bucket: {(c, id): rec}},
    "gone": {bucket: set((c, id))}, "cursors": {...}, "last": last response,
    "responses": [...]}."""
    cursors = dict(cursors or {})
    recs, gone, responses = {}, {}, []
    for _ in range(rounds):
        b = _sync(srv, token, pull=cursors, limit=limit, what=what)
        responses.append(b)
        more = False
        for name, bk in b["buckets"].items():
            if bk.get("reset"):
                recs[name], gone[name] = {}, set()
            rs, gs = recs.setdefault(name, {}), gone.setdefault(name, set())
            for r in bk.get("recs") or []:
                key = (r["c"], r["id"])
                rs[key] = r
                gs.discard(key)
            for g in bk.get("gone") or []:
                key = tuple(g)
                gs.add(key)
                rs.pop(key, None)
            cursors[name] = bk["cursor"]
            more = more or bool(bk.get("more"))
        for d in b.get("drop") or []:
            cursors.pop(d, None)
        if not more:
            return {"recs": recs, "gone": gone, "cursors": cursors, "last": b,
                    "responses": responses}
    raise AssertionError("%s: still 'more' after %d pulls" % (what, rounds))


def _get(srv, token, bucket, c, id_, what="read back"):
    """The record (c, id) as pulled from `bucket` from 0, or None."""
    got = _pull_all(srv, token, cursors={bucket: 0}, what=what)
    return got["recs"].get(bucket, {}).get((c, id_))


def _stamps(rec):
    """A record's stamps as {field: (hlc, origin)}."""
    return {k: (int(v[0]), v[1]) for k, v in (rec.get("s") or {}).items()}


def _staff(site, sid, role, **extra):
    f = {"site": site, "name": "Staff " + sid, "role": role, "active": True}
    f.update(extra)
    return _op("staff", sid, f)


def _shift(site, shid, role, starts, ends, staff, lead=None, route=None):
    f = {"site": site, "role": role, "starts": int(starts), "ends": int(ends),
         "staff": list(staff)}
    if lead is not None:
        f["lead"] = lead
    if route is not None:
        f["route"] = route
    return _op("shift", shid, f)


def _site(site):
    return _op("site", site, {"name": "Site " + site, "tz": "Asia/Shanghai",
                              "households": 480})


def _task(site, tid, shift, title="Sweep stairwell 1", **extra):
    f = {"site": site, "shift": shift, "title": title, "status": "open"}
    f.update(extra)
    return _op("task", tid, f)


def _device(srv, site, staff, role, pin="1234"):
    """A device enrolled for `site` with a session of `staff` (.device,
    .device_token, .token)."""
    return H.device_for(srv, site, staff, role, pin=pin)
# --- end helpers ---

S = "C"
FIELDS = ("name", "kind", "_deleted")


def _value(rng, field, tag):
    if field == "_deleted":
        return rng.random() < 0.5
    if rng.random() < 0.1:
        return None  # a field may be cleared
    return "%s-%s" % (field, tag)


def _run(ctx, seed, n_devices, n_records, n_ops, walls, counters):
    rng = random.Random(seed)
    srv = ctx.server()
    base = H.now_ms()
    recs = ["cz%d" % i for i in range(n_records)]
    sups = ["s%d" % i for i in range(n_devices)]
    _admin(srv, [_site(S)] + [_staff(S, s, "supervisor") for s in sups] +
           [_op("zone", r, {"site": S, "name": "init", "kind": "init"},
                s=_hlc(base - 250 * SEC)) for r in recs])
    devs = [_device(srv, S, s, "supervisor") for s in sups]

    # The model starts from what the server holds after setup.
    start = _pull_all(srv, devs[0].token, what="initial pull")["recs"]["site/" + S]
    model = {}
    for r in recs:
        rec = start[("zone", r)]
        model[r] = {k: (int(rec["s"][k][0]), rec["s"][k][1].encode(), v)
                    for k, v in rec["f"].items()}

    # Random ops: every device stamps each op with an hlc of its own (never
    # two ops of one device with one hlc), drawn from a small set so that
    # stamps of different devices tie often.
    per_dev = [[] for _ in devs]
    used = [set() for _ in devs]
    for n in range(n_ops):
        d = rng.randrange(n_devices)
        while True:
            h = _hlc(base + rng.choice(walls), rng.randrange(counters))
            if h not in used[d]:
                used[d].add(h)
                break
        fields = [f for f in FIELDS if rng.random() < 0.5] or [rng.choice(FIELDS)]
        f = {k: _value(rng, k, "%d.%d" % (d, n)) for k in fields}
        per_dev[d].append(_op("zone", rng.choice(recs), f, s=h))
    batches = []
    for d, ops in enumerate(per_dev):
        i = 0
        while i < len(ops):
            k = rng.randint(1, 8)
            batches.append((d, _batch(ops[i:i + k])))
            i += k
    # Apply the model (order does not matter for LWW: that is the property).
    for d, b in batches:
        origin = devs[d].device.encode()
        for o in b["ops"]:
            m = model[o["id"]]
            for k, v in o["f"].items():
                if k not in m or (o["s"], origin) > m[k][:2]:
                    m[k] = (o["s"], origin, v)

    # Delivery: shuffled, about a third resent later.
    plan = list(batches)
    rng.shuffle(plan)
    for entry in list(plan):
        if rng.random() < 0.35:
            pos = plan.index(entry)
            plan.insert(rng.randint(pos + 1, len(plan)), entry)
    first_ack = {}
    replicas = [dict() for _ in devs]
    cursors = [dict() for _ in devs]

    def pull(d):
        got = _pull_all(srv, devs[d].token, cursors=cursors[d], limit=rng.randint(2, 50),
                        what="device %d pull" % d)
        cursors[d] = got["cursors"]
        for key, rec in got["recs"].get("site/" + S, {}).items():
            replicas[d][key] = rec
        for key in got["gone"].get("site/" + S, set()):
            replicas[d].pop(key, None)
        # a reset starts the bucket afresh
        if any(resp["buckets"].get("site/" + S, {}).get("reset") for resp in got["responses"]):
            replicas[d] = dict(got["recs"].get("site/" + S, {}))

    i = 0
    while i < len(plan):
        d = plan[i][0]
        group = [plan[i][1]]
        i += 1
        while i < len(plan) and plan[i][0] == d and len(group) < 3 and \
                all(plan[i][1]["batch"] != g["batch"] for g in group):
            group.append(plan[i][1])
            i += 1
        b = _sync(srv, devs[d].token, push=group, what="device %d push" % d)
        for bt, ack in zip(group, b["acks"]):
            assert not ack.get("rej") and not ack.get("err"), \
                "seed %d: supervisor zone op rejected: %r" % (seed, ack)
            bid = bt["batch"]
            if bid not in first_ack:
                assert not ack.get("dup") and ack.get("applied") == len(bt["ops"]), \
                    "seed %d: first delivery must apply all %d ops: %r" % (
                        seed, len(bt["ops"]), ack)
                first_ack[bid] = ack
            else:
                assert ack.get("dup") is True and \
                    ack.get("applied") == first_ack[bid].get("applied"), \
                    "seed %d: resent batch must ack dup with the stored applied: %r" % (
                        seed, ack)
        if rng.random() < 0.3:
            pull(rng.randrange(n_devices))
    assert len(first_ack) == len(batches), "not every batch was delivered"

    for d in range(n_devices):
        pull(d)
    fresh = _pull_all(srv, devs[0].token, cursors={"site/" + S: 0},
                      what="fresh pull")["recs"]["site/" + S]

    def view(rs):
        out = {}
        for r in recs:
            rec = rs.get(("zone", r))
            assert rec is not None, "seed %d: zone %s missing from a view" % (seed, r)
            assert set(rec["f"]) == set(rec["s"]), "fields and stamps differ: %r" % rec
            out[r] = {k: (int(rec["s"][k][0]), rec["s"][k][1].encode(), v)
                      for k, v in rec["f"].items()}
        return out

    want = model
    for name, rs in [("fresh pull", fresh)] + [("device %d replica" % d, replicas[d])
                                               for d in range(n_devices)]:
        got = view(rs)
        for r in recs:
            assert got[r] == want[r], \
                "seed %d: %s of zone %s differs from the LWW model:\n got  %r\n want %r" % (
                    seed, name, r, sorted(got[r].items()), sorted(want[r].items()))


def test_convergence_random_lww(ctx):
    _run(ctx, seed=20240611, n_devices=4, n_records=6, n_ops=300,
         walls=[-100 * SEC + k * 2500 for k in range(80)], counters=4)


def test_convergence_frequent_ties(ctx):
    # Few distinct hlcs: most conflicts are settled by the origin bytewise.
    _run(ctx, seed=7, n_devices=3, n_records=3, n_ops=150,
         walls=[-60 * SEC, -30 * SEC, -10 * SEC, 0, 20 * SEC], counters=20)
