"""Integration tests: enrollment, login, tokens, revoke, admin rights (protocol/PROTOCOL.md)."""

import time

from harness import hlc_of, now_ms, pack, raw_http
from synclib import (PIN, check_err, enroll_ok, enroll_raw, login_ok,
                     login_raw, mk_device, mk_site, mk_staff, new_code, post,
                     sync_raw)


# ---- tests -----------------------------------------------------------------
WEEK_MS = 7 * 24 * 3600 * 1000


def _site_with_guard(ctx, site="s1"):
    srv = ctx.server()
    mk_site(srv, site)
    mk_staff(srv, site, "g1", "guard")
    return srv


def test_enroll_valid_code_gives_device_and_token(ctx):
    srv = _site_with_guard(ctx)
    code = new_code(srv, "s1")
    r = enroll_raw(srv, code, "handheld-1")
    assert r.status == 200, "enroll with a fresh code: expected 200, got %r" % r
    b = r.body
    assert isinstance(b, dict) and isinstance(b.get("device"), str) and \
        b["device"] and isinstance(b.get("token"), str) and b["token"], \
        "enroll: expected {device: <str>, token: <str>}, got %r" % b
    # the device token is good for login
    sess = login_ok(srv, b["token"], "g1")
    assert sess.get("staff") == "g1" and sess.get("role") == "guard" and \
        sess.get("site") == "s1", \
        "login: expected {staff: g1, role: guard, site: s1}, got %r" % sess


def test_enroll_code_single_use_by_default(ctx):
    srv = _site_with_guard(ctx)
    code = new_code(srv, "s1")
    enroll_ok(srv, code, "a")
    r = enroll_raw(srv, code, "b")
    check_err(r, 401, "UNAUTHORIZED", "second enroll with a single-use code")
    assert "token" not in (r.body or {}), "no token may be issued: %r" % r


def test_enroll_code_with_uses_3(ctx):
    srv = _site_with_guard(ctx)
    code = new_code(srv, "s1", uses=3)
    devices = set()
    for i in range(3):
        d, _ = enroll_ok(srv, code, "dev%d" % i)
        devices.add(d)
    assert len(devices) == 3, "3 enrolls must give 3 distinct device ids, " \
        "got %r" % devices
    check_err(enroll_raw(srv, code, "dev3"), 401, "UNAUTHORIZED",
              "4th enroll with a uses:3 code")


def test_enroll_code_expired(ctx):
    srv = _site_with_guard(ctx)
    code = new_code(srv, "s1", ttl_s=1)
    time.sleep(1.2)
    check_err(enroll_raw(srv, code, "late"), 401, "UNAUTHORIZED",
              "enroll with a code whose ttl_s=1 passed 1.2 s ago")


def test_enroll_unknown_code(ctx):
    srv = _site_with_guard(ctx)
    check_err(enroll_raw(srv, "no-such-code-123", "x"), 401, "UNAUTHORIZED",
              "enroll with an unknown code")


def test_code_role_limits_login(ctx):
    srv = _site_with_guard(ctx)
    mk_staff(srv, "s1", "c1", "cleaner")
    code = new_code(srv, "s1", role="guard")
    _, dtok = enroll_ok(srv, code, "guard-only")
    r = login_raw(srv, dtok, "c1")
    check_err(r, 403, "FORBIDDEN",
              "cleaner logging in on a device enrolled with role=guard")
    assert "token" not in r.body, "no session token may be issued: %r" % r
    sess = login_ok(srv, dtok, "g1")
    assert sess.get("role") == "guard", \
        "guard login on the guard device: role expected guard, got %r" % sess


def test_login_wrong_pin(ctx):
    srv = _site_with_guard(ctx)
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    r = login_raw(srv, dtok, "g1", "9999")
    check_err(r, 401, "UNAUTHORIZED", "login with a wrong PIN")
    assert "token" not in r.body, "no session token may be issued: %r" % r
    # one mistake does not lock the staff member out
    login_ok(srv, dtok, "g1", PIN)


def test_login_unknown_staff(ctx):
    srv = _site_with_guard(ctx)
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    r = login_raw(srv, dtok, "nobody", PIN)
    assert r.status in (401, 403) and isinstance(r.body, dict) and \
        r.body.get("error") in ("UNAUTHORIZED", "FORBIDDEN") and \
        "token" not in r.body, \
        "login of unknown staff: expected 401/403 error, no token, got %r" % r


def test_login_staff_of_other_site_refused(ctx):
    srv = _site_with_guard(ctx)
    mk_site(srv, "s2")
    mk_staff(srv, "s2", "g2", "guard")
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    r = login_raw(srv, dtok, "g2")
    expect = {401: "UNAUTHORIZED", 403: "FORBIDDEN"}
    assert r.status in expect and isinstance(r.body, dict) and \
        r.body.get("error") == expect[r.status] and \
        isinstance(r.body.get("msg"), str), \
        "login of site s2 staff on a site s1 device: expected 401 " \
        "UNAUTHORIZED or 403 FORBIDDEN with {error, msg}, got %r" % r
    assert "token" not in r.body, "no session token may be issued: %r" % r


def test_inactive_staff_cannot_login(ctx):
    srv = _site_with_guard(ctx)
    mk_staff(srv, "s1", "gx", "guard", active=False)
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    r = login_raw(srv, dtok, "gx")
    expect = {401: "UNAUTHORIZED", 403: "FORBIDDEN"}
    assert r.status in expect and isinstance(r.body, dict) and \
        r.body.get("error") == expect[r.status] and \
        "token" not in r.body, \
        "login of inactive staff: expected 401/403 and no token, got %r" % r


def test_session_token_syncs_device_token_does_not(ctx):
    srv = _site_with_guard(ctx)
    d = mk_device(srv, "s1", "g1", "guard", make_staff=False)
    r = sync_raw(srv, d.token, pull={})
    assert r.status == 200 and isinstance(r.body, dict) and \
        r.body.get("v") == 1, "sync with a session token: expected 200, " \
        "got %r" % r
    check_err(sync_raw(srv, d.dtok, pull={}), 401, "UNAUTHORIZED",
              "sync with a device token (not a session)")


def test_missing_or_garbage_bearer(ctx):
    srv = _site_with_guard(ctx)
    body = pack({"v": 1, "hlc": hlc_of(now_ms()), "pull": {}})
    ct = {"Content-Type": "application/msgpack"}
    cases = [("no Authorization", {}),
             ("garbage bearer", {"Authorization": "Bearer garbage-not-a-token"}),
             ("empty bearer", {"Authorization": "Bearer "}),
             ("basic scheme", {"Authorization": "Basic dXNlcjpwYXNz"}),
             ("long bearer", {"Authorization": "Bearer " + "A" * 3000})]
    for what, h in cases:
        h = dict(h, **ct)
        check_err(raw_http(srv, "POST", "/v1/sync", body, h), 401,
                  "UNAUTHORIZED", "sync with %s" % what)
    check_err(post(srv, "/v1/login", {"staff": "g1", "pin": PIN}), 401,
              "UNAUTHORIZED", "login without a device token")
    check_err(post(srv, "/v1/login", {"staff": "g1", "pin": PIN}, "junk"),
              401, "UNAUTHORIZED", "login with a garbage device token")
    check_err(post(srv, "/v1/admin/enroll-codes", {"site": "s1"}), 401,
              "UNAUTHORIZED", "admin enroll-codes without a token")


def test_revoke_stops_every_token_of_the_device_at_once(ctx):
    srv = _site_with_guard(ctx)
    mk_staff(srv, "s1", "g2", "guard")
    mk_staff(srv, "s1", "g3", "guard")
    a = mk_device(srv, "s1", "g1", "guard", make_staff=False)
    b = mk_device(srv, "s1", "g2", "guard", make_staff=False)
    a2 = login_ok(srv, a.dtok, "g3")["token"]   # a 2nd session on device a
    for tok in (a.token, a2, b.token):
        assert sync_raw(srv, tok, pull={}).status == 200, \
            "sync before revoke must work"
    r = post(srv, "/v1/admin/revoke", {"device": a.device}, srv.admin_token)
    assert r.status == 200 and isinstance(r.body, dict) and \
        r.body.get("ok") is True, "admin revoke: expected 200 {ok: true}, " \
        "got %r" % r
    check_err(sync_raw(srv, a.token, pull={}), 401, "UNAUTHORIZED",
              "sync with the session token of a revoked device")
    check_err(sync_raw(srv, a2, pull={}), 401, "UNAUTHORIZED",
              "sync with the second session (other staff) of a revoked "
              "device")
    check_err(login_raw(srv, a.dtok, "g1"), 401, "UNAUTHORIZED",
              "login with the device token of a revoked device")
    r = sync_raw(srv, b.token, pull={})
    assert r.status == 200, "another device's session must still work " \
        "after revoking %s, got %r" % (a.device, r)
    login_ok(srv, b.dtok, "g2")


def test_supervisor_revokes_own_site_guard_cannot(ctx):
    srv = _site_with_guard(ctx)
    mk_site(srv, "s2")
    mk_staff(srv, "s1", "g2", "guard")
    sup = mk_device(srv, "s1", "sup1", "supervisor")
    sup2 = mk_device(srv, "s2", "sup2", "supervisor")
    g1 = mk_device(srv, "s1", "g1", "guard", make_staff=False)
    g2 = mk_device(srv, "s1", "g2", "guard", make_staff=False)
    r = post(srv, "/v1/admin/revoke", {"device": g2.device}, g1.token)
    check_err(r, 403, "FORBIDDEN", "guard revoking another device")
    assert sync_raw(srv, g2.token, pull={}).status == 200, \
        "a refused revoke must not revoke anything"
    r = post(srv, "/v1/admin/revoke", {"device": g2.device}, sup2.token)
    check_err(r, 403, "FORBIDDEN",
              "supervisor of site s2 revoking a device of site s1")
    assert sync_raw(srv, g2.token, pull={}).status == 200, \
        "a refused revoke must not revoke anything"
    r = post(srv, "/v1/admin/revoke", {"device": g2.device}, sup.token)
    assert r.status == 200 and isinstance(r.body, dict) and \
        r.body.get("ok") is True, "supervisor of s1 revoking a s1 device: " \
        "expected 200 {ok: true}, got %r" % r
    check_err(sync_raw(srv, g2.token, pull={}), 401, "UNAUTHORIZED",
              "session of the device its supervisor revoked")
    assert sync_raw(srv, g1.token, pull={}).status == 200, \
        "the guard's own device must be unaffected"


def test_admin_endpoints_refuse_guard(ctx):
    srv = _site_with_guard(ctx)
    mk_staff(srv, "s1", "g2", "guard")
    g1 = mk_device(srv, "s1", "g1", "guard", make_staff=False)
    g2 = mk_device(srv, "s1", "g2", "guard", make_staff=False)
    cases = [("/v1/admin/enroll-codes", {"site": "s1"}),
             ("/v1/admin/staff-pin", {"staff": "g2", "pin": "5555"}),
             ("/v1/admin/revoke", {"device": g2.device})]
    for path, body in cases:
        r = post(srv, path, body, g1.token)
        check_err(r, 403, "FORBIDDEN", "guard session on POST %s" % path)
    # nothing happened: g2's PIN and device are unchanged
    login_ok(srv, g2.dtok, "g2", PIN)


def test_staff_pin_by_supervisor_own_site_only(ctx):
    srv = _site_with_guard(ctx)
    mk_site(srv, "s2")
    sup = mk_device(srv, "s1", "sup1", "supervisor")
    sup2 = mk_device(srv, "s2", "sup2", "supervisor")
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    r = post(srv, "/v1/admin/staff-pin", {"staff": "g1", "pin": "2468"},
             sup2.token)
    check_err(r, 403, "FORBIDDEN", "supervisor of s2 setting a s1 PIN")
    login_ok(srv, dtok, "g1", PIN)
    r = post(srv, "/v1/admin/staff-pin", {"staff": "g1", "pin": "2468"},
             sup.token)
    assert r.status == 200 and isinstance(r.body, dict) and \
        r.body.get("ok") is True, "supervisor of s1 setting a s1 PIN: " \
        "expected 200 {ok: true}, got %r" % r
    check_err(login_raw(srv, dtok, "g1", PIN), 401, "UNAUTHORIZED",
              "login with the old PIN after it was changed")
    login_ok(srv, dtok, "g1", "2468")


def test_login_response_fields_and_expiry(ctx):
    srv = _site_with_guard(ctx)
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    t0 = now_ms()
    b = login_ok(srv, dtok, "g1")
    t1 = now_ms()
    assert b.get("staff") == "g1" and b.get("role") == "guard" and \
        b.get("site") == "s1" and isinstance(b.get("token"), str), \
        "login: expected {token, staff: g1, role: guard, site: s1}, " \
        "got %r" % b
    exp = b.get("expires")
    assert isinstance(exp, int) and not isinstance(exp, bool), \
        "login expires: expected an integer (ms UTC), got %r" % (exp,)
    lo, hi = t0 + WEEK_MS - 60000, t1 + WEEK_MS + 60000
    assert lo <= exp <= hi, \
        "login expires: expected about now + 7 days in ms (%d..%d), got " \
        "%d (off by %.1f s)" % (lo, hi, exp,
                               (exp - (t0 + WEEK_MS)) / 1000.0)


def test_two_sessions_are_distinct_and_independent(ctx):
    srv = _site_with_guard(ctx)
    mk_staff(srv, "s1", "g2", "guard")
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    s1 = login_ok(srv, dtok, "g1")
    s2 = login_ok(srv, dtok, "g2")
    assert s1["token"] != s2["token"] and s1["token"] != dtok, \
        "each login must issue a new token distinct from the device token"
    for s in (s1, s2):
        assert sync_raw(srv, s["token"], pull={}).status == 200, \
            "both sessions on the shared device must work"


def test_session_expires_after_session_ttl(ctx):
    srv = ctx.server(args=("--session-ttl-ms", "1000"))
    mk_site(srv, "s1")
    mk_staff(srv, "s1", "g1", "guard")
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    t0 = now_ms()
    b = login_ok(srv, dtok, "g1")
    assert abs(b.get("expires", 0) - (t0 + 1000)) < 5000, \
        "login expires with --session-ttl-ms 1000: expected about now + " \
        "1 s, got %r (now %d)" % (b.get("expires"), t0)
    assert sync_raw(srv, b["token"], pull={}).status == 200, \
        "a fresh session must sync"
    time.sleep(1.3)
    check_err(sync_raw(srv, b["token"], pull={}), 401, "UNAUTHORIZED",
              "sync with a session past its expiry")
    b2 = login_ok(srv, dtok, "g1")
    assert sync_raw(srv, b2["token"], pull={}).status == 200, \
        "after expiry the device token still logs in and the new session " \
        "syncs"


def test_pin_guessing_locks_out(ctx):
    """Lockout, not iterations, protects a short PIN.
    After 20 wrong PINs in a row even the right one must not open a
    session at once."""
    srv = _site_with_guard(ctx)
    _, dtok = enroll_ok(srv, new_code(srv, "s1"))
    codes = set()
    for i in range(20):
        r = login_raw(srv, dtok, "g1", "%04d" % (5000 + i))
        assert r.status in (401, 403, 429) and "token" not in (r.body or {}), \
            "wrong PIN #%d: expected a refusal, got %r" % (i + 1, r)
        codes.add(r.status)
    r = login_raw(srv, dtok, "g1", PIN)
    assert r.status in (401, 403, 429) and "token" not in (r.body or {}), \
        "after 20 wrong PINs in a row the right PIN still opened a session " \
        "at once (no lockout): %r" % r
    if r.status == 429:
        assert "retry-after" in r.headers, \
            "a 429 RATE_LIMITED answer carries Retry-After: %r" % r.headers
    # other staff on the same site are not locked out by g1's guesses
    mk_staff(srv, "s1", "g2", "guard")
    _, dtok2 = enroll_ok(srv, new_code(srv, "s1"))
    login_ok(srv, dtok2, "g2")


def test_pin_never_synced(ctx):
    srv = _site_with_guard(ctx)
    sup = mk_device(srv, "s1", "sup1", "supervisor")
    for tok, who in ((srv.admin_token, "admin"), (sup.token, "supervisor")):
        r = sync_raw(srv, tok, pull={})
        assert r.status == 200, "%s pull: %r" % (who, r)
        staff = [x for x in r.body["buckets"].get("site/s1", {})
                 .get("recs", []) if x.get("c") == "staff"]
        assert any(x["id"] == "g1" for x in staff), \
            "%s pull must include staff g1 of site/s1" % who
        for x in staff:
            bad = [k for k in x["f"] if any(w in k.lower() for w in
                                            ("pin", "hash", "salt", "pbkdf"))]
            assert not bad, "%s pull: staff %s carries secret fields %r " \
                "(PINs are never synced)" % (who, x["id"], bad)
            assert PIN not in repr(x["f"]), "%s pull: staff %s shows " \
                "the PIN: %r" % (who, x["id"], x["f"])
