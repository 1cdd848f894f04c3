"""Handhelds that recover (issue 11): a reset server with an urgent report
in the queue, a damaged device store (4 KiB pages overwritten at 20 random
offsets), a mistyped --home, the CA pinned by content and changed with
`fieldsync server`, logout and failed logins on a shared handheld, dead
letters listed / shown / cleared, and every subcommand's --help.

Each test fails on the CLI before these changes (see the docstrings)."""

import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from test_cli_sync import Cli, admin_all, round_site, HOUR  # noqa: E402
from test_cli_tls import TlsServer, _free_port, _site  # noqa: E402


def test_cli_reset_server_keeps_urgent_report(ctx):
    """The server's data directory is wiped and initialised again while an
    elevator-entrapment report waits in the handheld's outbox.  Before: the
    CLI said "log in again", login failed and enroll refused ("already
    enrolled"), stuck for ever.  Now: the CLI says the server was reset and
    how many changes are kept; `enroll --code NEW` on the same home keeps
    the outbox, and after login the report reaches the new server with its
    id and stamp."""
    srv = ctx.server()
    round_site(srv, 3)
    dev = Cli(ctx, srv, "phone")
    dev.enroll_login("g1", role="guard")
    old_device = dev.device
    srv.stop()
    rep = dev.run("report", "elevator_entrapment", "--title",
                  "lift 2 stuck between floors")
    assert rep["state"] == "queued (offline)" and rep["urgent"], rep
    # the server is replaced by an empty one at the same address
    srv.wipe()
    srv.start()
    round_site(srv, 3)
    b = dev.run("sync", ok=False)
    assert "reset or replaced" in b["error"] and \
        "1 queued change(s)" in b["error"], b
    b = dev.run("login", "--staff", "g1", "--pin", "1234", ok=False)
    assert "reset or replaced" in b["error"], b
    st = dev.run("status")
    assert st["pending_ops"] == 1 and st["urgent_unacked"] == 1, st
    code = H.enroll_code(srv, "s1", role="guard")
    b = dev.run("enroll", "--server", srv.url, "--code", code,
                "--insecure-http")
    assert b["ok"] and b["device"] != old_device and \
        b["previous_device"] == old_device and b["pending"] == 1, b
    # enrolling once more is refused now: this server knows the device
    code2 = H.enroll_code(srv, "s1", role="guard")
    b = dev.run("enroll", "--server", srv.url, "--code", code2,
                "--insecure-http", ok=False)
    assert "still knows it" in b["error"], b
    b = dev.run("login", "--staff", "g1", "--pin", "1234")
    assert b["ok"], b
    st = dev.run("status")
    assert st["pending_ops"] == 0 and st["urgent_unacked"] == 0, st
    recs = admin_all(srv)
    o = recs[("order", rep["id"])]
    assert o["f"]["category"] == "elevator_entrapment", o
    assert o["s"]["title"][0] == rep["hlc"], "the op kept its stamp: %r" % o


test_cli_reset_server_keeps_urgent_report.timeout = 120


def test_cli_revoked_device_is_not_called_a_reset_server(ctx):
    """A 401 carries no store id, so the CLI said "reset or replaced (or
    the device was revoked)" to a revoked device.  /healthz now names the
    store: the same store as the device synced with means it was revoked;
    another one (test_cli_reset_server_keeps_urgent_report) a reset."""
    srv = ctx.server()
    round_site(srv, 3)
    r = H.req(srv, "GET", "/healthz")
    assert r.status == 200 and r.raw.startswith(b"ok\nstore "), r
    store = r.raw.decode().split("\nstore ")[1].strip()
    assert len(store) == 32 and all(ch in "0123456789abcdef" for ch in store), r.raw
    dev = Cli(ctx, srv, "phone")
    dev.enroll_login("g1", role="guard")
    assert dev.run("status")["store"] == store
    dev.run("report", "repair", "--title", "door closer")
    r = H.req(srv, "POST", "/v1/admin/revoke", {"device": dev.device},
              token=srv.admin_token)
    assert r.status == 200, r
    b = dev.run("sync", ok=False)
    assert "this device was revoked" in b["error"] and \
        "reset or replaced" not in b["error"], b
    b = dev.run("login", "--staff", "g1", "--pin", "1234", ok=False)
    assert "this device was revoked" in b["error"] and b.get("code") == "REVOKED", b
    # and a wiped server at the same address is still a reset
    srv.stop()
    srv.wipe()
    srv.start()
    round_site(srv, 3)
    b = dev.run("login", "--staff", "g1", "--pin", "1234", ok=False)
    assert "reset or replaced" in b["error"] and \
        "revoked" not in b["error"] and b.get("code") == "UNKNOWN_DEVICE", b


def _page_overwrite(path, offset, rng):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes(rng.getrandbits(8) for _ in range(4096)))


def test_cli_damaged_store_20_offsets(ctx):
    """A 4 KiB page of the handheld's data.mdb overwritten with random bytes
    at 20 random page offsets.  Before: SIGSEGV/SIGBUS, an LMDB assertion,
    or "nobody is logged in".  Now: every command either works (the page
    was unused) or says the store is damaged, naming the path and what to
    do; never a signal; `rescue` gets every queued change out each time,
    and `requeue` on a new enrollment delivers them."""
    srv = ctx.server()
    round_site(srv, 20)
    dev = Cli(ctx, srv, "phone")
    dev.enroll_login("g1", role="guard")
    ids = []
    for i in range(1, 21):
        ids.append(dev.run("--offline", "checkin", "cp-%02d" % i)["id"])
    for i in range(30):
        ids.append(dev.run("--offline", "report", "repair", "--title",
                           "leak %d " % i + "x" * 300)["id"])
    assert dev.run("check")["queued_ops"] == 50
    pristine = os.path.join(ctx.tmpdir, "pristine")
    shutil.copytree(dev.home, pristine)
    size = os.path.getsize(os.path.join(pristine, "data.mdb"))
    pages = size // 4096
    assert pages >= 8, size
    rng = random.Random(int(os.environ.get("FIELDSYNC_TEST_SEED", "11")))
    offsets = sorted(rng.sample(range(pages), 20))
    flagged = 0
    for n, pg in enumerate(offsets):
        shutil.rmtree(dev.home)
        shutil.copytree(pristine, dev.home)
        _page_overwrite(os.path.join(dev.home, "data.mdb"), pg * 4096, rng)
        for args in (["status"], ["shift"], ["check"], ["get", "checkin",
                                                         ids[0]],
                     ["--offline", "checkin", "cp-01"]):
            rc, out, err = dev.run(*args, ok=None, json_out=False)
            assert rc in (0, 1), "page %d: `%s` died with %d: %r" % (
                pg, " ".join(args), rc, err)
            assert "nobody is logged in" not in out + err, (pg, args, out, err)
            if rc:
                assert "is damaged" in err and \
                    os.path.join(dev.home, "data.mdb") in err and \
                    "rescue --out" in err, (pg, args, err)
        rc, _, err = dev.run("check", ok=None, json_out=False)
        flagged += rc != 0
        out = os.path.join(ctx.tmpdir, "rescued-%d" % n)
        b = dev.run("rescue", "--out", out)
        assert b["ops"] >= 50, "page %d: rescued %r" % (pg, b)
    assert flagged >= 5, "only %d of 20 damaged pages were noticed" % flagged
    print("    damaged store: %d of 20 overwritten pages (of %d) reported as "
          "damage (the rest were not live pages: every command worked); every "
          "queued change rescued each time"
          % (flagged, pages))
    # the last rescue goes to a newly enrolled handheld and reaches the server
    fresh = Cli(ctx, srv, "phone2")
    fresh.enroll_login("g1", role="guard")
    b = fresh.run("requeue", out)
    assert b["ops"] >= 50, b
    s = fresh.run("sync")
    assert s["ok"] and s["pending"] == 0, s
    recs = admin_all(srv)
    missing = [i for i in ids if ("checkin", i) not in recs and
               ("order", i) not in recs]
    assert not missing, missing


test_cli_damaged_store_20_offsets.timeout = 300


def test_cli_mistyped_home_creates_nothing(ctx):
    """Before: any command on a mistyped --home silently made a new empty
    store (and said "not enrolled" or "nobody is logged in").  Now every
    command but enroll refuses and creates nothing."""
    dev = Cli(ctx, None, "nowhere")
    for args in (["status"], ["shift"], ["checkin", "cp-01"], ["sync"],
                 ["login", "--staff", "g1", "--pin", "1234"], ["orders"],
                 ["dead"], ["check"], ["logout"], ["get", "shift", "x"]):
        rc, out, err = dev.run(*args, ok=None, json_out=False)
        assert rc == 1 and "no handheld at %s" % dev.home in err and \
            "enroll first, or check --home" in err, (args, rc, err)
        assert not os.path.exists(dev.home), args


def test_cli_ca_pinned_by_content_and_changed(ctx):
    """The CA file given at enroll is kept by content: it may be deleted.
    When the server moves to a new address with a new certificate, TLS
    errors name the CA, and `fieldsync server --url --ca` moves the handheld
    without losing its queued checkin.  Before: the path was stored (a
    removed file broke every sync) and there was no way to change it."""
    a = TlsServer(ctx, "IP:127.0.0.1")
    b = None
    try:
        _site(a)
        code = H.enroll_code(a, "s1")
        ca = os.path.join(ctx.tmpdir, "ca-copy.pem")
        shutil.copy(a.cert, ca)
        dev = Cli(ctx, None, "phone")
        dev.run("enroll", "--server", a.url, "--code", code, "--ca", ca)
        os.unlink(ca)  # pinned by content: the file may go
        assert dev.run("login", "--staff", "g1", "--pin", "1234")["ok"]
        st = dev.run("status")
        assert st["ca_source"] == ca and st["ca"].startswith(dev.home), st
        a.stop()
        ck = dev.run("checkin", "cp-01")
        assert ck["state"] == "queued (offline)", ck
        # the same store behind a new address and a new certificate
        b = _second_server(ctx, a)
        m = dev.run("server", "--url", b.url)  # the address only: old CA
        assert not m["reachable"] and "ca.pem" in m["detail"], m
        s = dev.run("sync", ok=False)
        assert "CA: %s" % os.path.join(dev.home, "ca.pem") in s["error"] \
            and ca in s["error"], s
        newca = os.path.join(ctx.tmpdir, "new-ca.pem")
        shutil.copy(b.cert, newca)
        m = dev.run("server", "--ca", newca)
        assert m["device_known"] and m["ca_source"] == newca, m
        s = dev.run("sync")
        assert s["ok"] and s["pending"] == 0, s
        assert ("checkin", ck["id"]) in admin_all(b)
    finally:
        for s in (a, b):
            if s is not None and s.proc.poll() is None:
                s.stop()


test_cli_ca_pinned_by_content_and_changed.timeout = 120


def _second_server(ctx, a):
    """fieldsyncd on a's data directory, on another port, with a new
    self-signed certificate (a TlsServer without its init)."""
    b = TlsServer.__new__(TlsServer)
    b.bin = a.bin
    b.dir = os.path.join(ctx.tmpdir, "tls-srv2")
    b.data = a.data
    b.cert = os.path.join(b.dir, "cert.pem")
    b.key = os.path.join(b.dir, "key.pem")
    os.makedirs(b.dir)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-sha256", "-nodes", "-days", "2", "-subj", "/CN=new",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:FALSE",
                    "-keyout", b.key, "-out", b.cert], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60)
    b.port = _free_port()
    b.log = open(os.path.join(b.dir, "server.log"), "wb")
    b.proc = subprocess.Popen(
        [b.bin, "serve", "--data", b.data, "--listen",
         "127.0.0.1:%d" % b.port, "--cert", b.cert, "--key", b.key,
         "--pbkdf2-iter", "1000"],
        stdin=subprocess.DEVNULL, stdout=b.log, stderr=b.log)
    b.url = "https://127.0.0.1:%d" % b.port
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if H.req(b.url, "GET", "/healthz", timeout=1).status == 200:
                return b
        except OSError:
            pass
        time.sleep(0.05)
    b.stop()
    raise AssertionError("second TLS server did not start")


def test_cli_logout_and_failed_login_leave_nobody(ctx):
    """A shared handheld: `logout` forgets the session (queued work stays);
    a failed login leaves nobody logged in, not the previous person; a
    locked login says how long the lock lasts, at once.  Before: no logout,
    a wrong PIN left g1 logged in, and the lock was retried for a minute."""
    srv = ctx.server()
    round_site(srv, 3)
    dev = Cli(ctx, srv, "shared")
    dev.enroll_login("g1")
    dev.run("--offline", "checkin", "cp-01")
    b = dev.run("logout")
    assert b["was"] == "g1" and b["pending"] == 1, b
    st = dev.run("status")
    assert not st["logged_in"] and st["pending_ops"] == 1, st
    dev.run("checkin", "cp-02", ok=False)
    assert dev.run("login", "--staff", "g1", "--pin", "1234")["ok"]
    assert dev.run("status")["pending_ops"] == 0
    b = dev.run("login", "--staff", "g2", "--pin", "9999", ok=False)
    assert "UNAUTHORIZED" in b["error"], b
    st = dev.run("status")
    assert not st["logged_in"] and st["staff"] == "", st
    for _ in range(4):
        dev.run("login", "--staff", "g2", "--pin", "9999", ok=False)
    t0 = time.monotonic()
    b = dev.run("login", "--staff", "g2", "--pin", "1234", ok=False)
    took = time.monotonic() - t0
    assert b["code"] == "RATE_LIMITED" and "locked for" in b["error"] and \
        "minute" in b["error"], b
    assert took < 10, "a lockout is reported, not waited out (%.1f s)" % took
    # a new PIN from the supervisor lifts the lock (fieldsync admin pin)
    rc, out, err = dev.run("admin", "--token-file",
                           os.path.join(srv.data, "admin.token"),
                           "--server", srv.url, "--insecure-http", "pin",
                           "--staff", "g2", "--pin", "2468", json_out=False)
    assert rc == 0 and "lockout" in out, (out, err)
    assert dev.run("login", "--staff", "g2", "--pin", "2468")["ok"]


test_cli_logout_and_failed_login_leave_nobody.timeout = 120


def test_cli_dead_letters_list_show_clear(ctx):
    """`fieldsync dead` lists the rejected changes, `dead show N` gives the
    reason and the change, `dead clear N` / `clear --all` removes them.
    Before: only `status` listed them and nothing could clear them."""
    srv = ctx.server()
    now = H.now_ms()
    round_site(srv, 3, shifts=[{"id": "shA", "role": "guard",
                                "staff": ["g1"], "route": "r1",
                                "starts": now - HOUR, "ends": now + 8 * HOUR}])
    dev = Cli(ctx, srv, "guard")
    dev.enroll_login("g1", role="guard")
    H.admin_push(srv, [H.op("shift", "shA", {"staff": ["g2"]})])
    bad = [dev.run("--offline", "checkin", "cp-0%d" % i)["id"]
           for i in (1, 2)]
    assert dev.run("sync")["rejected"] == 2
    lst = dev.run("dead")["dead"]
    assert [d["id"] for d in lst] == bad, lst
    seq = lst[0]["seq"]
    rc, out, _ = dev.run("dead", "show", seq, json_out=False)
    assert rc == 0 and lst[0]["code"] in out and bad[0] in out and \
        "cp-01" in out, out
    assert dev.run("dead", "clear", seq)["cleared"] == 1
    assert [d["id"] for d in dev.run("dead")["dead"]] == bad[1:]
    dev.run("dead", "show", seq, ok=False)
    assert dev.run("dead", "clear", "--all")["cleared"] == 1
    assert dev.run("status")["dead_letters"] == 0
    dev.run("dead", "clear", ok=False)  # neither N nor --all: usage


def test_cli_every_subcommand_has_help(ctx):
    """`fieldsync COMMAND --help` explains that command and exits 0 (before:
    the same global usage for every command)."""
    dev = Cli(ctx, None, "nohome")
    for cmd in ("enroll", "login", "logout", "server", "shift", "tasks",
                "checkin", "done", "skip", "report", "order", "orders",
                "handover", "sync", "status", "get", "dead", "check",
                "rescue", "requeue", "admin"):
        rc, out, err = dev.run(cmd, "--help", json_out=False)
        first = out.splitlines()[0] if out else ""
        assert rc == 0 and first.startswith("usage: fieldsync") and \
            (" %s" % cmd) in first and len(out.splitlines()) >= 3, \
            (cmd, out, err)
    assert not os.path.exists(dev.home)


def test_cli_admin_commands(ctx):
    """`fieldsync admin` against a running server with its admin token:
    an enrollment code with a QR code that a handheld enrolls with, the
    device listed with its pending count, open orders with deadlines, a
    revoked device refused; and the supervisor's own session on a handheld
    sets a PIN of its site."""
    srv = ctx.server()
    round_site(srv, 3)
    tok = os.path.join(srv.data, "admin.token")
    adm = Cli(ctx, None, "admin-nohome")
    base = ["admin", "--token-file", tok, "--server", srv.url,
            "--insecure-http"]
    rc, out, err = adm.run(*(base + ["enroll-code", "--site", "s1", "--role",
                                     "guard"]), json_out=False)
    assert rc == 0 and "\033[40m" in out and "fieldsync://enroll?" in out, \
        (out, err)
    code = out.split("enrollment code ")[1].split()[0]
    dev = Cli(ctx, srv, "phone")
    b = dev.run("enroll", "--server", srv.url, "--code", code,
                "--insecure-http")
    device = b["device"]
    assert dev.run("login", "--staff", "g1", "--pin", "1234")["ok"]
    rep = dev.run("report", "repair", "--title", "door closer broken")
    assert rep["state"] == "sent", rep
    devs = adm.run(*(base + ["devices", "--site", "s1"]))["report"]["devices"]
    mine = [d for d in devs if d["device"] == device]
    assert mine and mine[0]["staff"] == "g1" and mine[0]["last_sync"], devs
    rc, out, _ = adm.run(*(base + ["devices", "--site", "s1"]),
                         json_out=False)
    assert device in out and "CST" in out, out
    o = adm.run(*(base + ["orders", "--site", "s1"]))["orders"]
    assert [x["id"] for x in o] == [rep["id"]] and \
        o[0]["deadline_field"] == "resolve_by" and o[0]["deadline"], o
    rc, out, _ = adm.run(*(base + ["orders", "--site", "s1"]),
                         json_out=False)
    assert rep["id"] in out and "resolve_by" in out and "CST" in out, out
    # the supervisor on their own handheld resets a guard's PIN
    sup = Cli(ctx, srv, "sup")
    sup.enroll_login("sv", role="supervisor")
    b = sup.run("admin", "pin", "--staff", "g2", "--pin", "7531")
    assert b["ok"], b
    g2 = Cli(ctx, srv, "g2phone")
    g2.run("enroll", "--server", srv.url, "--code",
           H.enroll_code(srv, "s1"), "--insecure-http")
    assert g2.run("login", "--staff", "g2", "--pin", "7531")["ok"]
    # a guard's session may not
    b = dev.run("admin", "pin", "--staff", "g2", "--pin", "1111", ok=False)
    assert "FORBIDDEN" in b["error"], b
    assert adm.run(*(base + ["revoke", "--device", device]))["ok"]
    s = dev.run("sync", ok=False)
    assert not s["ok"], s
    rc, out, err = adm.run("admin", "devices", json_out=False, ok=None)
    assert rc == 1 and "no handheld at" in err, err


test_cli_admin_commands.timeout = 120


def test_cli_staff_views(ctx):
    """What staff need to see: `shift` shows the handover note left for it
    and the next shift of the post; `handover` without --to-shift goes
    there; times carry the site's zone (CST for Asia/Shanghai); `get` is
    readable (`--raw` has the stamps); a guard's own report stays listed by
    `orders` after its bucket leaves the device."""
    srv = ctx.server()
    now = H.now_ms()
    round_site(srv, 3, shifts=[
        {"id": "day", "role": "guard", "staff": ["g1"], "route": "r1",
         "lead": "g1", "starts": now - HOUR, "ends": now + 8 * HOUR},
        {"id": "night", "role": "guard", "staff": ["g2"], "route": "r1",
         "starts": now + 8 * HOUR, "ends": now + 20 * HOUR},
        {"id": "other", "role": "cleaner", "staff": ["c1"],
         "starts": now + 2 * HOUR, "ends": now + 9 * HOUR}])
    H.admin_push(srv, [H.op("handover", "ho-prev", {
        "site": "s1", "from_shift": "prev", "to_shift": "day", "by": "sv",
        "at": now - HOUR, "note": "gate 3 lock sticks", "open_items": []})])
    dev = Cli(ctx, srv, "guard")
    dev.enroll_login("g1", role="guard")
    b = dev.run("shift")
    assert b["next_shift"] == "night", b
    assert [h["note"] for h in b["handovers"]] == ["gate 3 lock sticks"], b
    rc, out, _ = dev.run("shift", json_out=False)
    assert "gate 3 lock sticks" in out and "next shift night" in out and \
        " CST" in out, out
    h = dev.run("handover", "--note", "all quiet")
    assert h["bucket"] == "shift/night" and h["state"] == "sent", h
    rep = dev.run("report", "repair", "--title", "tap drips")
    assert rep["state"] == "sent", rep
    dev.run("sync")
    o = dev.run("orders")["orders"]
    assert [x["id"] for x in o] == [rep["id"]], o
    rc, out, _ = dev.run("sync", json_out=False)
    assert "dropped" not in out, out
    rc, out, _ = dev.run("get", "shift", "day", json_out=False)
    assert "starts" in out and " CST" in out and '"s"' not in out, out
    raw = dev.run("get", "shift", "day", "--raw", json_out=False)[1]
    assert '"s":' in raw, raw
