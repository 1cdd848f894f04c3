"""Convergence property (protocol/PROTOCOL.md, "Merge"): random field writes from
several devices, delivered shuffled and resent, give every device the same
records, equal to a local last-writer-wins model (per field, the greatest
(hlc, origin bytes) wins).  Seeded, bounded, deterministic in its checks."""

import random

import harness as H
from synclib import (SEC, _admin, _batch, _device, _hlc, _op, _pull_all, _site,
                     _staff, _sync)


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
