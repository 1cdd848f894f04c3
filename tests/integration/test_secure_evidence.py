"""Evidence a scripted client or a photographed tag cannot fake (issue 15,
schema/EVIDENCE.md): secure NFC tags (NTAG 424 DNA SUN, verified by the
server), boots that cannot overlap, positions against the checkpoint, and
one verdict with its reasons in the shift report."""

import harness as H
from sunlib import Tag
from synclib import (HOUR, MIN, SEC, _admin, _device, _get, _op, _push_ok,
                     _shift, _site, _staff, _pull_all, check_err, post)

E = "E"
KEY = "5a" * 32


def _world(ctx, key=KEY, require_position=False, data=None, args=None):
    env = {"FIELDSYNC_TAG_KEY": key} if key else {"FIELDSYNC_TAG_KEY": None}
    srv = ctx.server(env=env, data=data, args=args or [])
    now = H.now_ms()
    site = _site(E)
    if require_position:
        site["f"]["require_position"] = True
    _admin(srv, [site, _staff(E, "g1", "guard"), _staff(E, "sup1", "supervisor"),
                 _op("zone", "z1", {"site": E, "name": "Gate", "kind": "lobby"}),
                 _op("checkpoint", "cp1", {"site": E, "zone": "z1", "name": "Gate",
                                           "lat": 31.2304, "lon": 121.4737,
                                           "radius": 30}),
                 _op("checkpoint", "cp2", {"site": E, "zone": "z1", "name": "Garage"}),
                 _op("route", "r1", {"site": E, "name": "Round",
                                     "checkpoints": ["cp1", "cp2"],
                                     "every_min": 60, "grace_min": 10}),
                 _shift(E, "se", "guard", now - 2 * HOUR, now + 6 * HOUR, ["g1"],
                        route="r1")])
    return srv


def _register(srv, tag, cp, token=None):
    return post(srv, "/v1/admin/tags", tag.register_body(cp),
                srv.admin_token if token is None else token)


def _ck(kid, cp, at, boot, mono, **extra):
    f = {"site": E, "shift": "se", "route": "r1", "checkpoint": cp, "staff": "g1",
         "at": int(at), "boot": boot, "mono": int(mono), "method": "nfc"}
    f.update(extra)
    return _op("checkin", kid, f)


class Phone:
    """A guard's honest handheld: one boot, right clock."""

    def __init__(self, srv, boot="boot-1", up=HOUR):
        self.srv = srv
        self.g = _device(srv, E, "g1", "guard")
        self.boot = boot
        self.booted = H.now_ms() - up

    def dev(self):
        t = H.now_ms()
        return {"boot": self.boot, "mono": t - self.booted, "wall": t, "pending": 0}

    def scan(self, kid, cp, **extra):
        t = H.now_ms()
        _push_ok(self.srv, self.g.token,
                 [_ck(kid, cp, t, self.boot, t - self.booted, **extra)],
                 dev=self.dev(), what="checkin " + kid)
        return _read(self.srv, kid)


def _read(srv, kid):
    r = _get(srv, srv.admin_token, "shift/se", "checkin", kid)
    assert r is not None, "checkin %s not stored" % kid
    return r["f"]


def _report(srv):
    r = H.req(srv, "GET", "/v1/reports/shift/se", token=srv.admin_token,
              headers={"Accept": "application/json"})
    assert r.status == 200, "shift report: %r" % (r,)
    return r.body


def test_tag_verified_replayed_and_older(ctx):
    srv = _world(ctx)
    tag = Tag(counter=4)
    r = _register(srv, tag, "cp1")
    assert r.status == 200 and r.body.get("uid") == tag.uid.hex(), \
        "register a tag: %r" % (r,)
    p = Phone(srv)
    first = tag.tap()                       # counter 5
    f = p.scan("k1", "cp1", sun=first)
    assert f.get("tag") == "verified" and f.get("tag_ctr") == 5, \
        "a fresh tap must verify with counter 5: %r" % f
    assert f.get("verdict") == "strong", \
        "tag and time verified: strong, got %r %r" % (f.get("verdict"), f.get("reasons"))
    assert f.get("reasons")[:2] == ["tag_verified", "time_verified"], f.get("reasons")
    # the same bytes again (a copied URL): replayed
    f = p.scan("k2", "cp1", sun=first)
    assert f.get("tag") == "replayed" and f.get("verdict") == "suspect", \
        "the same tap twice must be replayed and suspect: %r" % f
    assert "tag_replayed" in f.get("reasons"), f.get("reasons")
    newer = tag.tap()                       # 6, read later
    older = tag.url(3)                      # an old tap, photographed/copied
    f = p.scan("k3", "cp1", sun=newer)
    assert f.get("tag") == "verified" and f.get("tag_ctr") == 6, f
    f = p.scan("k4", "cp1", sun=older)
    assert f.get("tag") == "replayed" and f.get("tag_ctr") == 3, \
        "an older counter after a newer one must be replayed: %r" % f
    # the replays are kept, but score nothing
    rep = _report(srv)
    pat = rep["patrol"]
    ex = {e["checkin"]: e for e in pat["extra_checkins"]}
    for kid in ("k2", "k4"):
        assert kid in ex and ex[kid]["voided"] is True and ex[kid]["verdict"] == "suspect", \
            "%s must be listed, voided and suspect: %r" % (kid, ex.get(kid))
    assert pat["voided"] == 2, "two voided taps: %r" % pat["voided"]
    matched = [c for rd in pat["rounds"] for c in rd["checkpoints"] if c.get("checkin")]
    used = [c["checkin"] for c in matched if c["checkpoint"] == "cp1"]
    assert "k2" not in used and "k4" not in used and "k1" in used, matched
    assert all(c["verdict"] == "strong" for c in matched if c["checkpoint"] == "cp1"), matched


def test_other_checkpoints_tag_refused(ctx):
    srv = _world(ctx)
    mine, other = Tag(), Tag()
    same_keys = Tag(meta_key=mine.meta_key, file_key=mine.file_key)
    assert _register(srv, mine, "cp1").status == 200
    assert _register(srv, other, "cp2").status == 200
    r = _register(srv, other, "cp1")
    check_err(r, 409, "IMMUTABLE", "the same tag for a second checkpoint")
    p = Phone(srv)
    f = p.scan("k1", "cp1", sun=other.tap())
    assert f.get("tag") == "invalid" and f.get("verdict") == "suspect", \
        "another checkpoint's tag at cp1 must be invalid: %r" % f
    # a tag sharing cp1's keys but with another UID: decrypts, still refused
    f = p.scan("k2", "cp1", sun=same_keys.tap())
    assert f.get("tag") == "invalid", "a foreign UID must be invalid: %r" % f
    # a forged MAC
    good = mine.tap()
    f = p.scan("k3", "cp1", sun=good[:-1] + ("0" if good[-1] != "0" else "1"))
    assert f.get("tag") == "invalid", "a wrong MAC must be invalid: %r" % f
    # no tap at a secure checkpoint: absent, weak
    f = p.scan("k4", "cp1", lat=31.2304, lon=121.4737, acc=5)
    assert f.get("tag") == "absent" and f.get("verdict") == "weak" and \
        "tag_absent" in f.get("reasons"), f
    # the real tag still verifies after all that (a refused tap moves no counter)
    f = p.scan("k5", "cp1", sun=good)
    assert f.get("tag") == "verified", f


def test_tag_admin_rules_and_key_at_rest(ctx):
    srv = _world(ctx)
    tag = Tag()
    sup = _device(srv, E, "sup1", "supervisor")
    check_err(_register(srv, tag, "cp1", token=sup.token), 403, "FORBIDDEN",
              "a supervisor registering a tag")
    check_err(_register(srv, tag, "nope"), 404, "NOT_FOUND", "unknown checkpoint")
    bad = tag.register_body("cp1")
    bad["meta_key"] = "00" * 15
    check_err(post(srv, "/v1/admin/tags", bad, srv.admin_token), 400, "BAD_REQUEST",
              "a short key")
    assert _register(srv, tag, "cp1").status == 200
    # keys never leave the server: not in any pull, not on disk in clear
    allrecs = repr(_pull_all(srv, srv.admin_token, cursors={"site/" + E: 0})["recs"])
    for secret in (tag.meta_key.hex(), tag.file_key.hex()):
        assert secret not in allrecs.lower(), "a tag key reached a pull"
    srv.stop()
    blob = H.store_dump(srv)
    for secret in (tag.meta_key, tag.file_key):
        assert secret not in blob, "a tag key is stored in clear"
    # the server refuses to start without the key, or with another one
    for env in ({"FIELDSYNC_TAG_KEY": None}, {"FIELDSYNC_TAG_KEY": "6b" * 32}):
        s2 = H.Server(ctx.binary, env=env, data=srv.data)
        try:
            s2.start()
            started = True
        except Exception:
            started = False
        finally:
            s2.close()
        assert not started, "serve must refuse %r for a store with tags" % env
    # a server without a key cannot register
    s3 = _world(ctx, key=None)
    check_err(_register(s3, Tag(), "cp1"), 400, "BAD_REQUEST", "no tag key")
    # unbind, then the tap of the old tag proves nothing there
    srv.start()
    r = post(srv, "/v1/admin/tags", {"checkpoint": "cp1", "remove": True},
             srv.admin_token)
    assert r.status == 200 and r.body.get("removed") is True, r
    f = Phone(srv).scan("k1", "cp1", sun=tag.tap())
    assert f.get("tag") == "absent" and "tag_absent" not in f.get("reasons"), f


def test_boot_overlap_repro_unverified(ctx):
    """The attack pass: a device synced under boot A; a script invents boot B
    with an hour of uptime to backdate a checkin by 50 minutes."""
    srv = _world(ctx)
    p = Phone(srv, boot="boot-A", up=3 * HOUR)
    f = p.scan("k0", "cp2")
    assert f.get("trust") == "verified", f
    t = H.now_ms()
    dev = {"boot": "boot-B", "mono": HOUR, "wall": t, "pending": 0}
    _push_ok(srv, p.g.token,
             [_ck("fake", "cp2", t - 50 * MIN, "boot-B", 10 * MIN),
              _ck("now", "cp2", t, "boot-B", HOUR)],
             dev=dev, what="the invented boot")
    f = _read(srv, "fake")
    assert f.get("trust") == "unverified" and "boot_overlap" in f.get("reasons") and \
        f.get("verdict") == "suspect", \
        "a checkin before the other boot's last sync must be unverified/boot_overlap: %r" % f
    f = _read(srv, "now")
    assert f.get("trust") == "verified", \
        "the boot's evidence after the other boot's last sync stays verified: %r" % f
    r = H.req(srv, "GET", "/v1/reports/devices/" + E, token=srv.admin_token,
              headers={"Accept": "application/json"})
    d = [x for x in r.body["devices"] if x["device"] == p.g.device][0]
    assert d["boot_overlaps"] == 1 and d["last_overlap"]["boot"] == "boot-B" and \
        d["last_overlap"]["reason"] == "boot_overlap", d
    assert d["last_overlap"]["claimed_start"] < d["last_overlap"]["other_boot_seen"], d


def _evidence_alerts(srv):
    from test_alerts import alerts_of
    return {k: v for k, v in alerts_of(srv, E).items()
            if v["kind"] in ("tag_replayed", "tag_invalid", "boot_overlap")}


def test_replayed_invalid_and_overlap_raise_alerts(ctx):
    """The alerts service (server/svc/alerts.h) raises one alert for each
    checkin whose evidence is a replayed or invalid tag tap or a boot
    overlap, for the site's supervisors; a site may switch a kind off."""
    from test_alerts import wait_for
    srv = _world(ctx, args=["--alert-poll-ms", "200"])
    mine, other = Tag(), Tag()
    assert _register(srv, mine, "cp1").status == 200
    assert _register(srv, other, "cp2").status == 200
    p = Phone(srv, boot="boot-A", up=3 * HOUR)
    tap = mine.tap()
    p.scan("k1", "cp1", sun=tap)                # verified: no alert
    p.scan("k2", "cp1", sun=tap)                # replayed
    p.scan("k3", "cp2", sun=mine.tap())         # cp1's tag at cp2: invalid
    t = H.now_ms()
    _push_ok(srv, p.g.token,
             [_ck("fake", "cp2", t - 50 * MIN, "boot-B", 10 * MIN)],
             dev={"boot": "boot-B", "mono": HOUR, "wall": t, "pending": 0},
             what="the invented boot")
    want = {"al:tag_replayed:k2": ("tag_replayed", "critical", "k2"),
            "al:tag_invalid:k3": ("tag_invalid", "warning", "k3"),
            "al:boot_overlap:fake": ("boot_overlap", "warning", "fake")}
    al = wait_for(lambda: (lambda a: len(a) >= 3 and a)(_evidence_alerts(srv)),
                  timeout=10)
    assert al and sorted(al) == sorted(want), \
        "one alert per alert-worthy checkin, none for the good ones: %r" % al
    for aid, (kind, sev, ck) in want.items():
        a = al[aid]
        assert (a["kind"], a["severity"], a["subject_c"], a["subject"], a["site"]) == \
            (kind, sev, "checkin", ck, E), a
        assert ck in a["text_en"] and ck in a["text_zh"] and "se" in a["text_en"], a
        assert a.get("resolved_at") is None, a
    assert "replayed" in al["al:tag_replayed:k2"]["text_en"] and \
        "重放" in al["al:tag_replayed:k2"]["text_zh"], al
    assert "cp2" in al["al:tag_invalid:k3"]["text_en"] and \
        "无效" in al["al:tag_invalid:k3"]["text_zh"], al
    assert "overlaps" in al["al:boot_overlap:fake"]["text_en"] and \
        "重叠" in al["al:boot_overlap:fake"]["text_zh"], al
    # the site's supervisor pulls them
    sup = _device(srv, E, "sup1", "supervisor")
    assert _get(srv, sup.token, "alerts/" + E, "alert", "al:tag_replayed:k2"), \
        "the supervisor's device must pull the alert"
    # a replayed tap at a site that switched the rule off: nothing
    _admin(srv, [_op("site", E, {"alerts_off": ["tag_replayed"]})])
    p.scan("k4", "cp1", sun=tap)                # replayed again
    p.scan("k5", "cp2", sun=mine.tap())         # invalid again
    al = wait_for(lambda: (lambda a: "al:tag_invalid:k5" in a and a)(_evidence_alerts(srv)),
                  timeout=10)
    assert al and "al:tag_invalid:k5" in al, _evidence_alerts(srv)
    assert "al:tag_replayed:k4" not in al, al


def test_honest_reboot_stays_verified(ctx):
    srv = _world(ctx)
    p = Phone(srv, boot="boot-A", up=3 * HOUR)
    p.scan("k0", "cp2")
    # offline: one scan under A, then a reboot, then a scan under B
    H.time.sleep(0.3)
    t1 = H.now_ms()
    a_scan = _ck("kA", "cp2", t1, "boot-A", t1 - p.booted)
    H.time.sleep(0.3)
    rebooted = H.now_ms()
    H.time.sleep(0.3)
    t2 = H.now_ms()
    b_scan = _ck("kB", "cp2", t2, "boot-B", t2 - rebooted)
    H.time.sleep(0.3)
    t3 = H.now_ms()
    _push_ok(srv, p.g.token, [a_scan, b_scan],
             dev={"boot": "boot-B", "mono": t3 - rebooted, "wall": t3, "pending": 0},
             what="the sync after the reboot")
    for kid in ("kA", "kB"):
        f = _read(srv, kid)
        assert f.get("trust") == "verified" and "boot_overlap" not in f.get("reasons"), \
            "an honest reboot: %s must stay verified: %r" % (kid, f)
    r = H.req(srv, "GET", "/v1/reports/devices/" + E, token=srv.admin_token,
              headers={"Accept": "application/json"})
    d = [x for x in r.body["devices"] if x["device"] == p.g.device][0]
    assert d["boot_overlaps"] == 0 and d["last_overlap"] is None, d


def test_positions(ctx):
    srv = _world(ctx)
    p = Phone(srv)
    f = p.scan("in", "cp1", lat=31.23045, lon=121.47372, acc=8)
    assert f.get("place") == "inside" and "place_inside" in f["reasons"], f
    f = p.scan("out", "cp1", lat=31.2404, lon=121.4737, acc=20)   # ~1.1 km north
    assert f.get("place") == "outside" and f.get("verdict") == "suspect", f
    f = p.scan("vague", "cp1", lat=31.2314, lon=121.4737, acc=900)  # accuracy too poor
    assert f.get("place") == "unknown", f
    f = p.scan("none", "cp1")
    assert f.get("place") == "unknown" and f.get("verdict") == "normal", \
        "no position where none is required: unknown, not held against it: %r" % f
    f = p.scan("plain", "cp2", lat=31.0, lon=121.0, acc=5)
    assert f.get("place") is None, "a checkpoint without a position: no place: %r" % f


def test_position_required(ctx):
    srv = _world(ctx, require_position=True)
    p = Phone(srv)
    f = p.scan("none", "cp1")
    assert f.get("place") == "unknown" and f.get("verdict") == "weak" and \
        "place_unknown" in f["reasons"], f
    f = p.scan("plain", "cp2")
    assert f.get("place") == "unknown" and f.get("verdict") == "weak", f
    f = p.scan("in", "cp1", lat=31.2304, lon=121.4737, acc=5)
    assert f.get("place") == "inside" and f.get("verdict") == "normal", f


def test_report_counts_by_verdict(ctx):
    srv = _world(ctx)
    t1, t2 = Tag(), Tag()
    _register(srv, t1, "cp1")
    _register(srv, t2, "cp2")
    p = Phone(srv)
    tap = t1.tap()
    p.scan("a", "cp1", sun=tap)                 # strong
    p.scan("b", "cp2")                          # weak: the secure tag not tapped
    p.scan("c", "cp1", sun=tap)                 # replayed: voided
    rep = _report(srv)
    bv = rep["patrol"]["by_verdict"]
    assert bv["scans"] == {"strong": 1, "normal": 0, "weak": 1, "suspect": 0}, bv
    assert rep["patrol"]["voided"] == 1, rep["patrol"]
    rounds = rep["patrol"]["rounds"]
    assert sum(bv["rounds_on_time"].values()) == \
        sum(1 for rd in rounds if all(c["state"] == "on_time" for c in rd["checkpoints"])), \
        (bv, rounds)


def _demo(ctx, key):
    import subprocess
    srv = ctx.server(env={"FIELDSYNC_TAG_KEY": key})
    srv.stop()
    r = subprocess.run([ctx.binary, "demo"] + srv.store_args(), env=srv._environ(),
                       capture_output=True, timeout=120)
    assert r.returncode == 0, "fieldsyncd demo: %r" % r.stderr[-500:]
    loaded = H.now_ms()
    srv.start()
    # the past night: the demo's shifts come from its rosters
    # (server/svc/roster.c), the night's id sh:guards:YYYYMMDD:1; the one
    # loaded with scans is the one its handover is from
    b = H.check(H.sync(srv, srv.admin_token, pull={}, limit=10000), 200)
    night = H.demo_night(b["buckets"])
    assert night and night.startswith("sh:guards:"), "no demo night: %r" % night
    ends = [r["f"]["ends"] for r in b["buckets"]["site/harbour"]["recs"]
            if r["c"] == "shift" and r["id"] == night]
    assert ends and ends[0] < loaded, (night, ends)
    r = H.req(srv, "GET", "/v1/reports/shift/" + night, token=srv.admin_token,
              headers={"Accept": "application/json"})
    assert r.status == 200, "the demo night's report: %r" % (r,)
    return srv, night, r.body["patrol"]


def test_demo_night_counts_by_verdict(ctx):
    """The demo night (server/svc/demo.c, demo_tags.c): 12 checkpoints, 6
    rounds; cp-02, cp-06 and cp-10 carry secure tags; round 0's tap of
    cp-06 is replayed in round 1."""
    srv, night, pat = _demo(ctx, KEY)
    got = {k: pat[k] for k in ("expected", "on_time", "late", "missed", "pending",
                               "extra", "voided")}
    assert got == {"expected": 72, "on_time": 69, "late": 1, "missed": 1, "pending": 1,
                   "extra": 1, "voided": 1}, got
    # 18 secure taps (3 checkpoints x 6 rounds) verified with a verified
    # time; the other 52 matched scans normal (round 4's cp-09 among them:
    # its clock was set back, the time corrected); nothing weak or suspect
    # among the scored scans
    assert pat["by_verdict"]["scans"] == {"strong": 18, "normal": 52, "weak": 0,
                                          "suspect": 0}, pat["by_verdict"]
    # rounds with every checkpoint on time: 0, 3 and 4 (1 missed cp-07, 2
    # was late at cp-03, 5 is pending at cp-12); each has plain checkpoints
    assert pat["by_verdict"]["rounds_on_time"] == {"strong": 0, "normal": 3, "weak": 0,
                                                   "suspect": 0}, pat["by_verdict"]
    ex = {e["checkin"]: e for e in pat["extra_checkins"]}
    rp = ex.get("ck-%s-r1-cp06-replay" % night)
    assert rp and rp["voided"] and rp["verdict"] == "suspect" and \
        rp["reasons"][0] == "tag_replayed", ex
    cp02 = [c for rd in pat["rounds"] for c in rd["checkpoints"] if c["checkpoint"] == "cp-02"]
    assert all(c["verdict"] == "strong" for c in cp02), cp02
    # the replayed tap is an alert for the site's supervisors
    from test_alerts import alerts_of, wait_for
    aid = "al:tag_replayed:ck-%s-r1-cp06-replay" % night
    al = wait_for(lambda: aid in alerts_of(srv, "harbour") and alerts_of(srv, "harbour"),
                  timeout=10)
    assert al and al[aid]["kind"] == "tag_replayed", sorted(al or {})


def test_demo_night_without_tag_key(ctx):
    _, _, pat = _demo(ctx, None)
    assert pat["voided"] == 0 and pat["by_verdict"]["scans"]["strong"] == 0 and \
        pat["by_verdict"]["scans"]["normal"] == 70, pat["by_verdict"]


def test_cli_checkin_carries_sun(ctx):
    """`fieldsync checkin cp-01 --sun URL` (clients/cmd/cli.c, fs_checkin's
    `sun`): the URL reaches the server as read and is verified there."""
    from test_cli_sync import Cli, round_site
    srv = ctx.server(env={"FIELDSYNC_TAG_KEY": KEY})
    round_site(srv, n=2)
    tag = Tag()
    assert _register(srv, tag, "cp-01").status == 200
    dev = Cli(ctx, srv, "h1")
    dev.enroll_login("g1")
    first = tag.tap()
    a = dev.run("checkin", "cp-01", "--sun", first)
    b = dev.run("checkin", "cp-01", "--sun", first)
    dev.run("sync")
    dev.run("checkin", "cp-01", "--sun", "", ok=False)
    recs = {i: v["f"] for (c, i), v in __import__("test_cli_sync").admin_all(srv).items()
            if c == "checkin"}
    assert recs[a["id"]].get("sun") == first and recs[a["id"]].get("tag") == "verified", \
        recs[a["id"]]
    assert recs[b["id"]].get("tag") == "replayed", recs[b["id"]]
