"""Integration tests: the web app served at / (server/http/web.h, issue 13).

A directory given with --web is served with the app's headers (CSP with
no inline script, nosniff, Referrer-Policy; HSTS only on HTTPS), correct
content types, ETag answered with 304, a precompressed .gz to clients
that accept gzip, the app shell for screen paths; nothing outside the
directory (dot segments, encoded slashes, hidden files, symlinks) and
never the API's paths."""
import gzip
import http.client
import os
import tempfile

from harness import Server, raw_http, req

SHELL = b"<!doctype html><title>shell</title>"
APP = b"console.log('app');" * 200


def _webdir():
    d = tempfile.mkdtemp(prefix="fieldsync-webdir-")
    outside = tempfile.mkdtemp(prefix="fieldsync-outside-")
    with open(os.path.join(outside, "secret.js"), "wb") as f:
        f.write(b"SECRET")
    files = {"index.html": SHELL, "app.js": APP, "app.css": b"body{}",
             "manifest.webmanifest": b"{}", "sw.js": b"//sw", ".env": b"SECRET",
             "notes.exe": b"SECRET"}
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    with open(os.path.join(d, "app.js.gz"), "wb") as f:
        f.write(gzip.compress(APP))
    st = os.stat(os.path.join(d, "app.js"))
    os.utime(os.path.join(d, "app.js.gz"), ns=(st.st_atime_ns, st.st_mtime_ns))
    os.symlink(os.path.join(outside, "secret.js"), os.path.join(d, "link.js"))
    return d


def test_serves_the_app_with_its_headers(ctx):
    d = _webdir()
    srv = ctx.server(args=["--web", d])
    r = raw_http(srv, "GET", "/")
    assert r.status == 200 and r.raw == SHELL, r
    h = r.headers
    assert h["content-type"] == "text/html; charset=utf-8"
    csp = h["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and \
        "object-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in h, "no HSTS over plain HTTP"
    assert h["etag"].startswith('"') and h["cache-control"] == "no-cache"
    types = {"/app.js": "text/javascript; charset=utf-8",
             "/app.css": "text/css; charset=utf-8",
             "/manifest.webmanifest": "application/manifest+json",
             "/sw.js": "text/javascript; charset=utf-8"}
    for path, ctype in types.items():
        r = raw_http(srv, "GET", path)
        assert r.status == 200 and r.headers["content-type"] == ctype, (path, r)
    # the app's screens are hash routes: other paths are not the shell,
    # and the API keeps its own answers
    for path in ("/board", "/setup/", "/V1/SYNC", "/nothing/here"):
        r = raw_http(srv, "GET", path)
        assert r.status == 404 and r.raw != SHELL, (path, r)
    assert raw_http(srv, "GET", "/healthz").raw.startswith(b"ok\nstore ")
    r = raw_http(srv, "GET", "/v1/nothing")
    assert r.status == 404 and r.raw != SHELL
    r = raw_http(srv, "POST", "/app.js", body=b"x",
                 headers={"Content-Type": "application/msgpack"})
    assert r.status == 404, "only GET and HEAD reach the files: %r" % r


def test_etag_gzip_and_head(ctx):
    d = _webdir()
    srv = ctx.server(args=["--web", d])
    r = raw_http(srv, "GET", "/app.js")
    assert r.status == 200 and r.raw == APP and "content-encoding" not in r.headers
    r2 = raw_http(srv, "GET", "/app.js",
                  headers={"If-None-Match": r.headers["etag"]})
    assert r2.status == 304 and r2.raw == b"", r2
    z = raw_http(srv, "GET", "/app.js", headers={"Accept-Encoding": "gzip"})
    assert z.headers.get("content-encoding") == "gzip", z.headers
    assert gzip.decompress(z.raw) == APP and len(z.raw) < len(APP)
    assert z.headers["etag"] != r.headers["etag"], "the gzip copy has its own ETag"
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("HEAD", "/app.js")
    hd = c.getresponse()
    assert hd.status == 200 and hd.read() == b"" and \
        int(hd.getheader("content-length")) == len(APP)
    c.close()


def test_nothing_outside_the_directory(ctx):
    d = _webdir()
    srv = ctx.server(args=["--web", d])
    bad = ["/.env", "/notes.exe", "/link.js", "/%2e%2e/%2e%2e/etc/passwd.js",
           "/..%2fetc%2fpasswd.js", "/a/../../secret.js", "/.%2e/secret.js",
           "//etc/passwd.js", "/app.js\\..\\x.js", "/" + "a" * 300 + ".js"]
    for path in bad:
        r = raw_http(srv, "GET", path)
        assert r.status in (400, 404), (path, r.status)
        assert b"SECRET" not in (r.raw or b"") and b"root:" not in (r.raw or b""), path


def test_hsts_on_https_and_no_web_dir(ctx):
    d = _webdir()
    srv = ctx.server(args=["--web", d], tls=True)
    r = req(srv, "GET", "/")
    assert r.status == 200 and r.raw == SHELL
    assert r.headers["strict-transport-security"].startswith("max-age="), r.headers
    # --web "" serves no app: / is the API's 404
    srv2 = ctx.server(args=["--web", ""])
    assert raw_http(srv2, "GET", "/").status == 404


def test_demo_site_has_a_control_room_phone(ctx):
    """The site record's `phone` (schema/SCHEMA.md) is what the entrapment
    banner shows; the demo property has one, and an admin can set it."""
    import subprocess
    from harness import sync
    srv = ctx.server()
    srv.stop()
    p = subprocess.run([srv.binary, "demo"] + srv.store_args(),
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr[-500:]
    srv.start()
    r = sync(srv, srv.admin_token, pull={"site/harbour": 0}, limit=10000)
    assert r.status == 200, r
    site = [x for x in r.body["buckets"]["site/harbour"]["recs"]
            if x["c"] == "site" and x["id"] == "harbour"]
    assert site and site[0]["f"].get("phone", "").startswith("+86"), site
