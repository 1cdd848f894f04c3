"""The benchmark's PostgreSQL part (issue 17, BENCHMARKS.md): bench/run.py's
cluster (tests/pgcluster.py, fsync and synchronous_commit on) and its two
fieldsyncd nodes on one database, loadgen's `--url A,B` handing the clients
round-robin to both nodes with one wall clock for the phase, and the
PostgreSQL ratios taken within each run like the others.

bench/run.py is imported and its Postgres and Fieldsync classes drive the
fieldsyncd under test (not the bench's build); loadgen is
build/bench/loadgen.  Runs whatever FS_TEST_STORE says: the cluster is its
own."""

import importlib.util
import json
import os
import re
import subprocess
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _bench_run(ctx):
    spec = importlib.util.spec_from_file_location(
        "bench_run_pg", os.path.join(ROOT, "bench", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.FSD = ctx.binary
    mod.LOADGEN = os.path.join(ctx.build, "bench", "loadgen")
    return mod


def _batches(node):
    with urllib.request.urlopen(node.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r"^fieldsync_batches_total (\d+)$", text, re.M)
    assert m, text[:2000]
    return int(m.group(1))


def test_two_nodes_share_the_ingest_and_one_wall_clock(ctx):
    run = _bench_run(ctx)
    pg = run.Postgres()
    nodes = url = None
    try:
        s = pg.settings()
        assert s["fsync"] == "on" and s["synchronous_commit"] == "on", s
        assert s["server_version"].startswith("15"), s
        nodes, url = pg.nodes(ctx.tmpdir, "bench-pg", 2)
        a, b = nodes
        assert a.url != b.url
        a.setup(2, 4)
        before = [_batches(f) for f in nodes]
        # 4 clients x 5 batches of 100: clients 0, 2 on a, 1, 3 on b
        p = subprocess.run([run.LOADGEN, "fs-ingest", "--url",
                            a.url + "," + b.url, "--tokens", a.tokens,
                            "--clients", "4", "--batches", "5", "--per",
                            "100", "--updates", "0", "--prefix", "t"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        assert p.returncode == 0, p.stderr.decode()
        r = json.loads(p.stdout.decode().splitlines()[-1])
        assert r["servers"] == 2, r
        ing = r["ingest"]
        assert ing["records"] == 2000 and ing["errors"] == 0, r
        assert ing["requests"] == 20, r
        # the phase's rate is its records over its one wall clock
        # (seconds printed to 0.1 ms)
        assert abs(ing["records_per_s"] * ing["seconds"] - 2000) < 2, r
        got = [_batches(f) - n for f, n in zip(nodes, before)]
        assert got == [10, 10], got
        # what went through a is read through b: shift 0's 1,000 records
        pull = run.loadgen("fs-pull", "--url", b.url, "--token",
                           a.token("cl", 0), "--limit", 1000, "--expect",
                           1000)
        assert pull["records"] == 1000, pull
        # a list where one server is meant is refused
        p = subprocess.run([run.LOADGEN, "fs-pull", "--url",
                            a.url + "," + b.url, "--token", "x"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        assert p.returncode != 0 and b"one server only" in p.stderr, p
    finally:
        if nodes:
            pg.drop(nodes, url)
        pg.stop()

    # the ratios, per run; a pull ratio's worst run is its largest
    R = run.Results()
    pd = [8000.0, 10000.0, 9000.0]
    one = [30000.0, 24000.0, 36000.0]
    two = [27000.0, 30000.0, 36000.0]
    big, small = [5.0, 9.0, 6.0], [4.0, 4.5, 6.0]
    for i in range(3):
        R.add("ingest.pouchdb.records_per_s", pd[i], i)
        R.add("ingest.fieldsync_pg.records_per_s", one[i], i)
        R.add("ingest.fieldsync_pg2.records_per_s", two[i], i)
        R.add("ingest.fieldsync_pg2.errors", 1 if i == 1 else 0, i)
        R.add("scale.fieldsync_pg.big_ms", big[i], i)
        R.add("scale.fieldsync_pg.small_ms", small[i], i)
    flat, per_run, worst = run.summarize(R)
    assert per_run["ratio.pg_ingest"] == [o / p for o, p in zip(one, pd)]
    assert flat["ratio.pg_ingest"] == 3.75 and worst["ratio.pg_ingest"] == 2.4
    assert per_run["pg.two_vs_one"] == [t / o for t, o in zip(two, one)]
    assert per_run["ratio.pg_scale"] == [1.25, 2.0, 1.0]
    assert flat["ratio.pg_scale"] == 1.25 and worst["ratio.pg_scale"] == 2.0
    targets = {k: t for k, t, _ in run.TARGETS}
    assert targets["ratio.pg_ingest"](flat["ratio.pg_ingest"])
    assert not targets["ratio.pg_ingest"](worst["ratio.pg_ingest"])
    assert not targets["ratio.pg_scale"](worst["ratio.pg_scale"])
    # an error on two nodes counts like any other
    assert flat["errors.total"] == 1, flat


test_two_nodes_share_the_ingest_and_one_wall_clock.timeout = 180
