"""The handheld side (issue 3): the fieldsync CLI and libfieldsync against a
real server — an offline round survives kill -9, concurrent offline edits
converge per field, a clock 2 h ahead is restamped, a bad op becomes a dead
letter without holding back the good ones, a dropped bucket waits for its
outbox, and urgent reports stay on screen until acknowledged.

The CLI is build/fieldsync next to the server binary under test."""

import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

HOUR = 3600 * 1000
PIN = "1234"


def cli_binary(ctx):
    return os.path.join(os.path.dirname(os.path.abspath(ctx.binary)),
                        "fieldsync")


class Cli:
    """One handheld: a fieldsync home directory driven through the CLI."""

    def __init__(self, ctx, srv, name, env=None):
        self.bin = cli_binary(ctx)
        self.srv = srv
        self.name = name
        self.home = os.path.join(ctx.tmpdir, name)
        self.env = dict(os.environ)
        self.env.update(env or {})

    def argv(self, args, json_out=True):
        return [self.bin, "--home", self.home] + \
            (["--json"] if json_out else []) + [str(a) for a in args]

    def run(self, *args, ok=True, env=None, json_out=True, timeout=60):
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run(self.argv(args, json_out), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=e, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        if ok is not None and (p.returncode == 0) != ok:
            raise AssertionError("fieldsync %s exited %d (wanted %s)\nstdout: "
                                 "%s\nstderr: %s" % (" ".join(map(str, args)),
                                                     p.returncode,
                                                     "0" if ok else "non-zero",
                                                     out, err))
        if not json_out:
            return p.returncode, out, err
        lines = [x for x in out.splitlines() if x.strip()]
        try:
            body = json.loads(lines[-1]) if lines else None
        except ValueError:
            raise AssertionError("fieldsync %s printed no JSON: %r / %r"
                                 % (args, out, err))
        self.last_stderr = err
        return body

    def enroll_login(self, staff, role=None, site="s1"):
        code = H.enroll_code(self.srv, site, role=role)
        b = self.run("enroll", "--server", self.srv.url, "--code", code,
                     "--insecure-http", "--name", self.name)
        assert b["ok"] and b["device"], b
        self.device = b["device"]
        b = self.run("login", "--staff", staff, "--pin", PIN)
        assert b["ok"] and b["synced"], "login must sync the scope: %r" % b
        return b


def admin_all(srv):
    """Every record on the server: {(c, id): {"f": .., "s": ..}}, paged."""
    tok = srv.admin_token
    cursors, recs = {}, {}
    for _ in range(200):
        r = H.sync(srv, tok, pull=cursors, limit=10000)
        b = H.check(r, 200)
        more = False
        for name, bk in b["buckets"].items():
            if bk.get("reset"):
                for k in [k for k, v in recs.items() if v["bucket"] == name]:
                    del recs[k]
            for rec in bk["recs"]:
                recs[(rec["c"], rec["id"])] = {"f": rec["f"], "s": rec["s"],
                                              "bucket": name}
            for c, i in bk["gone"]:
                if recs.get((c, i), {}).get("bucket") == name:
                    del recs[(c, i)]
            cursors[name] = bk["cursor"]
            more = more or bk["more"]
        if not more:
            return recs
    raise AssertionError("admin pull did not finish")


def round_site(srv, n=20, shifts=None):
    """Site s1: guards g1, g2, cleaner c1, supervisor sv; n checkpoints
    cp-01.. with tags TAG-01.., route r1 over them; shift sh1 (guard g1, on
    now, route r1) unless other shifts are given."""
    now = H.now_ms()
    if shifts is None:
        shifts = [{"id": "sh1", "role": "guard", "staff": ["g1"],
                   "route": "r1", "lead": "g1",
                   "starts": now - HOUR, "ends": now + 8 * HOUR}]
    H.setup_site(srv, "s1", staff=[("g1", "guard"), ("g2", "guard"),
                                   ("c1", "cleaner"), ("sv", "supervisor")],
                 shifts=shifts)
    cps = ["cp-%02d" % i for i in range(1, n + 1)]
    ops = [H.op("checkpoint", cp, {"site": "s1", "name": "Point %s" % cp,
                                   "tag": "TAG-%s" % cp[3:]}) for cp in cps]
    ops.append(H.op("route", "r1", {"site": "s1", "name": "Round",
                                    "checkpoints": cps, "every_min": 120,
                                    "grace_min": 15}))
    H.admin_push(srv, ops)
    for s in ("g1", "g2", "c1", "sv"):
        H.set_pin(srv, s, PIN)
    return cps


def local_counts(dev):
    b = dev.run("shift")
    assert b["ok"] and b["shift"] and b["shift"]["id"] == "sh1", b
    return {c["id"]: c["checkins"] for c in b["checkpoints"]}


def test_cli_offline_round_kill9_then_one_sync(ctx):
    """A 20-checkpoint round done entirely offline (server stopped); the CLI
    is killed with SIGKILL in the middle of checkins; the round goes on from
    what the store kept; one sync brings all 20 checkins to the server
    exactly once, trust verified."""
    srv = ctx.server()
    cps = round_site(srv, 20)
    dev = Cli(ctx, srv, "guard-phone")
    dev.enroll_login("g1", role="guard")
    srv.stop()  # the network is gone
    rnd = random.Random(3)
    kills = 0
    for i, cp in enumerate(cps):
        tag = "TAG-%s" % cp[3:]
        if i in (9, 10, 11):
            # kill -9 the CLI while it records the scan
            p = subprocess.Popen(dev.argv(["checkin", tag]),
                                 stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=dev.env)
            # the last one is killed as soon as it is spawned, so at least
            # one kill lands even when a scan takes under a few ms (an idle
            # machine finished all three before the signal, and the check
            # below failed)
            time.sleep(rnd.uniform(0.0, 0.02) if i < 11 else 0.0)
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += p.returncode == -signal.SIGKILL
            # restarted: the guard sees from the device whether it counted
            if local_counts(dev)[cp] == 0:
                b = dev.run("checkin", tag)
                assert b["state"] == "queued (offline)", b
            continue
        b = dev.run("checkin", tag, "--method", "nfc")
        assert b["state"] == "queued (offline)", \
            "with the server down a checkin must say it only queued: %r" % b
    counts = local_counts(dev)
    assert all(counts[cp] == 1 for cp in cps), \
        "each checkpoint scanned once on the device: %r" % counts
    st = dev.run("status")
    assert st["pending_ops"] == 20 and st["dead_letters"] == 0, st
    assert kills >= 1, "no CLI process was actually killed"

    srv.start()
    s = dev.run("sync")
    assert s["ok"] and s["acked"] == 20 and s["rejected"] == 0 and \
        s["pending"] == 0, "one sync must deliver the round: %r" % s
    recs = admin_all(srv)
    checkins = [v["f"] for (c, _), v in recs.items() if c == "checkin"]
    assert len(checkins) == 20, "expected 20 checkins, got %d" % len(checkins)
    assert sorted(f["checkpoint"] for f in checkins) == cps, \
        "one checkin per checkpoint: %r" % sorted(f["checkpoint"]
                                                  for f in checkins)
    for f in checkins:
        assert f["staff"] == "g1" and f["shift"] == "sh1" and \
            f["route"] == "r1", f
        assert f["trust"] == "verified", \
            "a device with a good clock gives verified times: %r" % f
    # a second sync sends nothing again
    s = dev.run("sync")
    assert s["sent"] == 0 and s["pending"] == 0, s


test_cli_offline_round_kill9_then_one_sync.timeout = 120


def test_cli_concurrent_offline_task_edit_converges(ctx):
    """A cleaner and a supervisor edit the same task offline on two devices;
    both sync twice; both hold the same fields and stamps as the server, the
    newer value per field."""
    srv = ctx.server()
    now = H.now_ms()
    round_site(srv, 2, shifts=[{"id": "shc", "role": "cleaner",
                                "staff": ["c1"], "starts": now - HOUR,
                                "ends": now + 8 * HOUR},
                               {"id": "shs", "role": "supervisor",
                                "staff": ["sv"], "starts": now - HOUR,
                                "ends": now + 8 * HOUR}])
    H.admin_push(srv, [H.op("task", "t1", {
        "site": "s1", "shift": "shc", "title": "Sweep stairwell A",
        "status": "open", "assignee": "c1", "due_from": now,
        "due_to": now + 2 * HOUR})])
    cleaner = Cli(ctx, srv, "cleaner-phone")
    cleaner.enroll_login("c1", role="cleaner")
    sup = Cli(ctx, srv, "sup-phone")
    sup.enroll_login("sv", role="supervisor")
    assert cleaner.run("get", "task", "t1")["record"]["f"]["status"] == "open"
    assert sup.run("get", "task", "t1")["record"]["f"]["status"] == "open"

    photo = os.path.join(ctx.tmpdir, "after.jpg")
    with open(photo, "wb") as f:
        f.write(os.urandom(3000))
    b = cleaner.run("--offline", "done", "t1", "--note", "cleaner: done")
    assert b["state"] == "queued (offline)", b
    time.sleep(0.01)
    b = sup.run("--offline", "skip", "t1", "--note", "supervisor: lift broken")
    assert b["state"] == "queued (offline)", b
    time.sleep(0.01)
    # the cleaner comes back to it: a photo (status, done_* again; no note)
    b = cleaner.run("--offline", "done", "t1", "--photo", photo)
    assert b["state"] == "queued (offline)", b

    for _ in range(2):
        for d in (cleaner, sup):
            s = d.run("sync")
            assert s["ok"] and s["rejected"] == 0 and s["pending"] == 0, s
    a = cleaner.run("get", "task", "t1")["record"]
    b = sup.run("get", "task", "t1")["record"]
    server = admin_all(srv)[("task", "t1")]
    assert a["f"] == b["f"] == server["f"], \
        "devices and server must converge:\n%r\n%r\n%r" % (a, b, server)
    assert a["s"] == b["s"] == server["s"], "stamps must agree too"
    f = a["f"]
    assert f["status"] == "done" and f["done_by"] == "c1", \
        "status/done_by: the cleaner's later write wins: %r" % f
    assert f["note"] == "supervisor: lift broken", \
        "note: only the supervisor wrote it last: %r" % f
    assert len(f["photo"]) == 64, f
    r = H.req(srv, "GET", "/v1/blobs/" + f["photo"], token=srv.admin_token)
    assert r.status == 200 and r.raw == open(photo, "rb").read(), \
        "the photo must be uploaded by hash: %r" % r


test_cli_concurrent_offline_task_edit_converges.timeout = 90


def test_cli_clock_two_hours_ahead_restamped_none_lost(ctx):
    """The device's clock jumps 2 h ahead after its last sync: its stamps
    are refused CLOCK_AHEAD, restamped from the corrected clock and accepted
    in a new batch; nothing is lost or dead-lettered."""
    srv = ctx.server()
    round_site(srv, 6)
    dev = Cli(ctx, srv, "fast-clock")
    dev.enroll_login("g1", role="guard")
    ahead = {"FIELDSYNC_CLOCK_OFFSET_MS": str(2 * HOUR)}
    ids = []
    for i in range(1, 6):
        b = dev.run("--offline", "checkin", "cp-%02d" % i, env=ahead)
        ids.append(b["id"])
        assert b["hlc"] >> 16 > H.now_ms() + HOUR, \
            "stamped with the fast clock (the offset is not known yet)"
    s = dev.run("sync", env=ahead)
    assert s["ok"], s
    assert s["restamped"] == 5 and s["acked"] == 5 and s["rejected"] == 0, \
        "5 ops restamped and accepted: %r" % s
    assert s["pending"] == 0, s
    st = dev.run("status", env=ahead)
    assert st["dead_letters"] == 0, st
    assert abs(st["clock_offset_ms"] + 2 * HOUR) < 60000, \
        "the offset learnt must be about -2 h: %r" % st
    m = H.req(srv, "GET", "/metrics").raw.decode()
    line = [x for x in m.splitlines()
            if x.startswith("fieldsync_ops_rejected_total") and
            'CLOCK_AHEAD' in x]
    assert line and float(line[0].split()[-1]) >= 5, \
        "the server must have refused them CLOCK_AHEAD first: %r" % line
    recs = admin_all(srv)
    now = H.now_ms()
    for i in ids:
        v = recs.get(("checkin", i))
        assert v, "checkin %s lost" % i
        for fld, (hlc, origin) in v["s"].items():
            if origin == "server":
                continue
            assert (hlc >> 16) < now + 5 * 60000, \
                "%s.%s stamped in the future: %r" % (i, fld, v["s"])
        # the evidence time is the device's own (fast) clock, corrected
        f = v["f"]
        assert f["trust"] == "corrected" and abs(f["at_est"] - f["at"] +
                                                 2 * HOUR) < 60000, f
    # later writes on the same device go straight through
    b = dev.run("checkin", "cp-06", env=ahead)
    assert b["state"] == "sent", b


test_cli_clock_two_hours_ahead_restamped_none_lost.timeout = 90


def test_cli_bad_op_dead_letter_good_ops_still_sent(ctx):
    """A checkin on a shift the guard no longer holds lands in the dead
    letters (and is undone locally); the 50 good ops queued behind it reach
    the server in the same sync."""
    srv = ctx.server()
    now = H.now_ms()
    round_site(srv, 3, shifts=[{"id": "shA", "role": "guard",
                                "staff": ["g1"], "route": "r1",
                                "starts": now - HOUR,
                                "ends": now + 8 * HOUR}])
    dev = Cli(ctx, srv, "guard")
    dev.enroll_login("g1", role="guard")
    # the supervisor moves g1 off shift shA; the device does not know yet
    H.admin_push(srv, [H.op("shift", "shA", {"staff": ["g2"]})])
    bad = dev.run("--offline", "checkin", "cp-01")
    assert bad["bucket"] == "shift/shA", bad
    good = []
    for i in range(50):
        b = dev.run("--offline", "report", "repair", "--title",
                    "leak %d" % i, "--detail", "found on the round")
        good.append(b["id"])
    assert dev.run("status")["pending_ops"] == 51
    s = dev.run("sync")
    assert s["ok"] and s["rejected"] == 1 and s["acked"] == 50 and \
        s["pending"] == 0, "one sync: 1 dead letter, 50 applied: %r" % s
    st = dev.run("status")
    assert st["dead_letters"] == 1, st
    d = st["dead"][0]
    assert d["c"] == "checkin" and d["id"] == bad["id"] and \
        d["code"] in ("FORBIDDEN", "OUT_OF_SCOPE") and d["by"] == "g1", d
    assert d["op"]["f"]["checkpoint"] == "cp-01", d
    dev.run("get", "checkin", bad["id"], ok=False)
    recs = admin_all(srv)
    orders = {i for (c, i) in recs if c == "order"}
    assert set(good) <= orders, "missing orders: %r" % (set(good) - orders)
    assert ("checkin", bad["id"]) not in recs


test_cli_bad_op_dead_letter_good_ops_still_sent.timeout = 90


def test_cli_shift_change_drop_waits_for_outbox(ctx):
    """At shift change the old shift's bucket leaves the scope; the device
    keeps it while its outbox still holds a checkin for it (the server could
    not store it: UNAVAILABLE), and drops it once that checkin is acked."""
    H.lmdb_only(H.SHIM_FAILING_DISK)
    srv = ctx.server(shim=True)
    now = H.now_ms()
    round_site(srv, 3, shifts=[{"id": "shA", "role": "guard",
                                "staff": ["g1"], "route": "r1",
                                "starts": now - HOUR,
                                "ends": now + 8 * HOUR}])
    H.admin_push(srv, [H.op("task", "tA", {"site": "s1", "shift": "shA",
                                           "title": "Lock the gate",
                                           "status": "open"})])
    dev = Cli(ctx, srv, "guard")
    dev.enroll_login("g1", role="guard")
    assert dev.run("get", "task", "tA")["ok"]
    ck = dev.run("--offline", "checkin", "cp-02")
    assert ck["bucket"] == "shift/shA"
    # shift change: shA ended 13 h ago (out of scope, still inside the
    # evidence window), g1 now holds shB
    H.admin_push(srv, [
        H.op("shift", "shA", {"starts": now - 21 * HOUR,
                              "ends": now - 13 * HOUR}),
        H.op("shift", "shB", {"site": "s1", "role": "guard",
                              "staff": ["g1"], "starts": now - HOUR,
                              "ends": now + 8 * HOUR})])
    srv.fail_syncs(True)
    try:
        s = dev.run("sync")
    finally:
        srv.fail_syncs(False)
    assert s["ok"] and s["unavailable"] >= 1 and s["pending"] == 1, s
    assert s["dropped"] == 0, "shA must stay while its outbox is full: %r" % s
    assert dev.run("get", "task", "tA")["ok"], \
        "the old shift's records stay until the outbox drained"
    assert dev.run("get", "checkin", ck["id"])["ok"]
    s = dev.run("sync")
    assert s["ok"] and s["acked"] == 1 and s["pending"] == 0, s
    assert s["dropped"] >= 1, "now shA goes: %r" % s
    dev.run("get", "task", "tA", ok=False)
    dev.run("get", "checkin", ck["id"], ok=False)
    assert ("checkin", ck["id"]) in admin_all(srv), \
        "the late checkin reached the server"


test_cli_shift_change_drop_waits_for_outbox.timeout = 90


def test_cli_urgent_report_shown_until_acknowledged(ctx):
    """An urgent report that could not be sent is shouted (capitals, phone
    the control room) and stays on `status` until the server acknowledges
    it; errors are one line with a non-zero exit."""
    srv = ctx.server()
    round_site(srv, 1)
    dev = Cli(ctx, srv, "guard")
    dev.enroll_login("g1", role="guard")
    srv.stop()
    rc, out, err = dev.run("report", "elevator_entrapment", "--title",
                           "two people in lift 2", json_out=False)
    assert rc == 0 and "queued (offline)" in out, out
    assert "PHONE THE CONTROL ROOM" in out, out
    rc, out, err = dev.run("status", json_out=False)
    assert "URGENT ELEVATOR ENTRAPMENT" in out and \
        "PHONE THE CONTROL ROOM" in out, out
    assert dev.run("status")["urgent_unacked"] == 1
    # sync needs the network: it fails, clearly, and loses nothing
    rc, out, err = dev.run("sync", json_out=False, ok=False)
    assert rc != 0 and len(err.strip().splitlines()) == 1, err
    srv.start()
    dev.run("sync")
    rc, out, err = dev.run("status", json_out=False)
    assert "URGENT" not in out, out
    assert dev.run("status")["urgent_unacked"] == 0
    # usage and lookup errors: one line, non-zero
    rc, out, err = dev.run("get", "task", "nope", json_out=False, ok=False)
    assert rc != 0 and len(err.strip().splitlines()) == 1, err
    rc, out, err = dev.run("frobnicate", json_out=False, ok=False)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err


def test_cli_shared_handheld_round_stays_with_its_guard(ctx):
    """Shared handheld: g1's offline round still counts as g1's when g2
    logs in on the same device before it synced (each batch carries `by`);
    g2's own scans are g2's."""
    srv = ctx.server()
    now = H.now_ms()
    round_site(srv, 3, shifts=[
        {"id": "sh1", "role": "guard", "staff": ["g1"], "route": "r1",
         "starts": now - HOUR, "ends": now + 8 * HOUR},
        {"id": "sh2", "role": "guard", "staff": ["g2"],
         "starts": now - HOUR, "ends": now + 8 * HOUR}])
    dev = Cli(ctx, srv, "shared")
    dev.enroll_login("g1", role="guard")
    ids = [dev.run("--offline", "checkin", "cp-%02d" % i)["id"]
           for i in (1, 2, 3)]
    b = dev.run("login", "--staff", "g2", "--pin", PIN)  # syncs g1's round
    assert b["ok"] and b["synced"], b
    st = dev.run("status")
    assert st["staff"] == "g2" and st["pending_ops"] == 0 and \
        st["dead_letters"] == 0, st
    mine = dev.run("checkin", "cp-01")
    assert mine["state"] == "sent" and mine["bucket"] == "shift/sh2", mine
    recs = admin_all(srv)
    for i in ids:
        f = recs[("checkin", i)]["f"]
        assert f["staff"] == "g1" and f["shift"] == "sh1", f
    f = recs[("checkin", mine["id"])]["f"]
    assert f["staff"] == "g2" and f["shift"] == "sh2", f
