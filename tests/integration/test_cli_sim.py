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
                           "--seed", 5, "--json", "--wire", "mixed")
    assert rc == 0, "simulator failed (exit %d):\n%s\n%s" % (rc, out, err)
    lines = [x for x in out.splitlines() if x.startswith("{")]
    assert lines, out
    r = json.loads(lines[-1])
    assert r["verdict"] == "PASS", r
    assert r["applied_once_checked"] is True, r
    assert r["devices"] == 6 and r["ops_made"] > 50, r
    assert r["acked"] + r["rejected"] == r["ops_made"], r
    assert r["checkins"] > 0 and r["task_edits"] > 0, r
    # the faults really happened
    assert r["offline_slots"] > 0 and r["reboots"] > 0, r
    assert r["restamped"] > 0, "a skew of 15 min must hit CLOCK_AHEAD: %r" % r
    # odd devices pull v2, even ones v1 (--wire mixed): they still agree
    assert r["agree_pairs"] >= 12 and r["disagree"] == 0, r
    assert r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"], r
    assert r["wall_s"] < 60, r


test_cli_sim_few_devices_passes_its_check.timeout = 150


def test_cli_sim_usage_errors(ctx):
    srv = ctx.server()
    rc, out, err = run_sim(ctx, srv, "--devices", 0, "--duration", 1)
    assert rc == 2 and "usage" in err, (rc, err)
    rc, out, err = run_sim(ctx, srv, "--devices", 1, "--duration", 1,
                           "--wire", "v3")
    assert rc == 2 and "wire v1, v2 or mixed" in err, (rc, err)
    rc, out, err = run_sim(ctx, srv, "--devices", 2, "--duration", 1,
                           "--offline-ratio", 3)
    assert rc == 2, (rc, err)


class _NoMetricsProxy:
    """A reverse proxy in front of the server that answers /metrics 403, as
    the server itself answers it to any address but loopback: the
    simulator then sees what it sees against a remote server."""

    def __init__(self, srv):
        import http.client
        import http.server
        import threading
        upstream = srv.port

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                if self.path.split("?")[0] == "/metrics":
                    status, headers, data = 403, [], b"loopback only\n"
                else:
                    c = http.client.HTTPConnection("127.0.0.1", upstream,
                                                   timeout=30)
                    hdr = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "host")}
                    c.request(self.command, self.path, body=body, headers=hdr)
                    r = c.getresponse()
                    status, data = r.status, r.read()
                    headers = [(k, v) for k, v in r.getheaders()
                               if k.lower() not in ("connection",
                                                    "content-length",
                                                    "transfer-encoding")]
                    c.close()
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_cli_sim_says_when_it_could_not_check_applied_once(ctx):
    """/metrics unreadable (a remote server): the run still passes its other
    checks, and its verdict says the applied-once check was not made."""
    srv = ctx.server()
    proxy = _NoMetricsProxy(srv)

    class Via:
        url = proxy.url
        data = srv.data
    try:
        rc, out, err = run_sim(ctx, Via, "--devices", 2, "--duration", 2,
                               "--seed", 7)
        assert rc == 0, "simulator failed (exit %d):\n%s\n%s" % (rc, out, err)
        verdict = [x for x in out.splitlines() if "verdict:" in x]
        assert verdict == ["  verdict: PASS (each acked op applied once: not "
                           "checked, %s/metrics could not be read)"
                           % proxy.url], out
        rc, out, err = run_sim(ctx, Via, "--devices", 2, "--duration", 2,
                               "--seed", 8, "--json",
                               "--dir", os.path.join(ctx.tmpdir, "sim2"))
        r = json.loads([x for x in out.splitlines() if x.startswith("{")][-1])
        assert rc == 0 and r["verdict"] == "PASS", (rc, out, err)
        assert r["applied_once_checked"] is False and r["acked"] > 0, r
    finally:
        proxy.close()


test_cli_sim_says_when_it_could_not_check_applied_once.timeout = 90
