"""fieldsync-sim (issue 3): a few devices for ~10 s against a real server,
with offline periods, clock skew past the server's limit, reboots and lost
replies, must pass its own check (nothing lost, every op once, every device
agrees with the server).  The full run, 50 devices for 60 s, is `make
bench`'s (see README.md)."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402


def sim_binary(ctx):
    return os.path.join(os.path.dirname(os.path.abspath(ctx.binary)),
                        "fieldsync-sim")


def run_sim(ctx, srv, *extra, timeout=120):
    cmd = [sim_binary(ctx), "--server", srv.url, "--admin-token",
           os.path.join(srv.data, "admin.token"), "--insecure-http",
           "--dir", os.path.join(ctx.tmpdir, "sim")] + [str(x) for x in extra]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def test_cli_sim_few_devices_passes_its_check(ctx):
    srv = ctx.server()
    rc, out, err = run_sim(ctx, srv, "--devices", 6, "--duration", 10,
                           "--offline-ratio", 0.3, "--skew-ms", 900000,
                           "--reboot-ratio", 1, "--lost-ratio", 0.1,
                           "--seed", 5, "--json")
    assert rc == 0, "simulator failed (exit %d):\n%s\n%s" % (rc, out, err)
    lines = [x for x in out.splitlines() if x.startswith("{")]
    assert lines, out
    r = json.loads(lines[-1])
    assert r["verdict"] == "PASS", r
    assert r["devices"] == 6 and r["ops_made"] > 50, r
    assert r["acked"] + r["rejected"] == r["ops_made"], r
    assert r["checkins"] > 0 and r["task_edits"] > 0, r
    # the faults really happened
    assert r["offline_slots"] > 0 and r["reboots"] > 0, r
    assert r["restamped"] > 0, "a skew of 15 min must hit CLOCK_AHEAD: %r" % r
    assert r["agree_pairs"] >= 12 and r["disagree"] == 0, r
    assert r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"], r
    assert r["wall_s"] < 60, r


test_cli_sim_few_devices_passes_its_check.timeout = 150


def test_cli_sim_usage_errors(ctx):
    srv = ctx.server()
    rc, out, err = run_sim(ctx, srv, "--devices", 0, "--duration", 1)
    assert rc == 2 and "usage" in err, (rc, err)
    rc, out, err = run_sim(ctx, srv, "--devices", 2, "--duration", 1,
                           "--offline-ratio", 3)
    assert rc == 2, (rc, err)
