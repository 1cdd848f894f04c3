"""The benchmark keeps every error (issue 18): bench/loadgen's burst
against a server stopped halfway through counts each failed device, keeps
the failed requests out of its latency figures and exits 3; bench/run.py
sums errors over the runs (never a median), fails its target on any, and
takes each ratio within one run.

Loadgen is build/bench/loadgen (make builds it); bench/run.py's summary is
imported and fed the figures of real loadgen runs.  The same with PouchDB
beside it: `bench/run.py --quick --only burst --fault stop-server`
(BENCHMARKS.md)."""

import importlib.util
import json
import os
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _loadgen(ctx):
    return os.path.join(ctx.build, "bench", "loadgen")


def _bench_run():
    spec = importlib.util.spec_from_file_location(
        "bench_run", os.path.join(ROOT, "bench", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _burst(ctx, srv, devs, secs, stop_after=None):
    """Run fs-burst; with stop_after, the server gets SIGTERM that many
    seconds in.  Returns (exit status, figures, stderr)."""
    cmd = [_loadgen(ctx), "fs-burst", "--url", srv.url, "--devices", devs,
           "--secs", str(secs), "--threads", "2", "--pid", str(srv.pid)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stopper = None
    if stop_after is not None:
        stopper = threading.Timer(stop_after, srv.stop)
        stopper.start()
    out, err = p.communicate(timeout=60)
    if stopper:
        stopper.join()
    lines = out.decode().strip().splitlines()
    assert lines, (p.returncode, err.decode())
    return p.returncode, json.loads(lines[-1]), err.decode()


def test_burst_with_its_server_stopped_counts_every_failed_device(ctx):
    srv = ctx.server()
    devs = os.path.join(ctx.tmpdir, "devices")
    subprocess.run([_loadgen(ctx), "fs-burst-setup", "--url", srv.url,
                    "--admin", os.path.join(srv.data, "admin.token"),
                    "--out", devs, "--threads", "2", "--sites", "1",
                    "--shifts", "2", "--staff", "4"], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    # a healthy burst: no error, exit 0
    rc, ok, err = _burst(ctx, srv, devs, 1)
    assert rc == 0 and ok["errors"] == 0 and ok["devices"] == 8, (rc, ok, err)
    assert ok["syncs"] == 16 and ok["ops"] == 8 * 20, ok
    # the server stops 1.5 s into a 3 s burst: the later devices fail
    t0 = time.monotonic()
    rc, bad, err = _burst(ctx, srv, devs, 3, stop_after=1.5)
    assert rc == 3, "loadgen must exit 3 when requests failed: %d %r %s" % (
        rc, bad, err)
    done = bad["ops"] // 20
    assert 0 < bad["errors"] < 8 and done + bad["errors"] == 8, bad
    assert bad["syncs"] == 2 * done, \
        "only answered syncs count in the latency figures: %r" % bad
    assert "devices failed" in err, err
    assert time.monotonic() - t0 < 30

    # bench/run.py: the errors of one run of three show in the flat keys
    # and fail the target; each ratio is taken within its run
    run = _bench_run()
    R = run.Results()
    for i, b in enumerate([ok, bad, ok]):
        for m in ("p99_ms", "errors", "error_requests", "syncs"):
            R.add("burst.fieldsync.%s" % m, b[m], i)
    pouch_p99 = [ok["p99_ms"] * 50, ok["p99_ms"] * 20, ok["p99_ms"] * 40]
    for i, v in enumerate(pouch_p99):
        R.add("burst.pouchdb.p99_ms", v, i)
        R.add("burst.pouchdb.errors", 0, i)
    flat, per_run, worst = run.summarize(R)
    assert flat["burst.fieldsync.errors"] == bad["errors"], flat
    assert flat["errors.total"] == bad["errors"], flat
    targets = {k: t for k, t, _ in run.TARGETS}
    assert not targets["burst.fieldsync.errors"](flat["burst.fieldsync.errors"])
    assert not targets["errors.total"](flat["errors.total"])
    want = [p / f for p, f in zip(pouch_p99, [ok["p99_ms"], bad["p99_ms"],
                                               ok["p99_ms"]])]
    assert per_run["ratio.burst"] == want, (per_run, want)
    assert flat["ratio.burst"] == sorted(want)[1], flat
    assert worst["ratio.burst"] == min(want), worst


test_burst_with_its_server_stopped_counts_every_failed_device.timeout = 120
