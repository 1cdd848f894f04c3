"""The handheld's network (issue 9): libfieldsync speaks HTTP through
libcurl.  A `--proxy URL` option, or the usual environment variables
(https_proxy, http_proxy, no_proxy), carry its requests: https through a
CONNECT tunnel (TLS and the pinned --ca stay end to end), plain http://
(--insecure-http) as forwarded requests.  A proxy that cannot be reached
fails the command with one clear line, and a change made meanwhile stays
queued.  A server that accepts and then says nothing times the request
out; a closed port is reported as refused.

The proxy is a small one in this file, on a loopback port, counting what
it carries; it forwards only to 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from test_cli_tls import TlsServer, _site  # noqa: E402

HEAD_MAX = 16384
IO_TIMEOUT = 20


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_head(conn):
    """The request head (bytes up to the blank line) and what followed."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk or len(buf) > HEAD_MAX:
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


class Proxy:
    """CONNECT tunnels and absolute-URI forwarding to 127.0.0.1, one
    thread per client connection; `seen` lists (method, target, headers)
    of every request it took."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.seen = []
        self.lock = threading.Lock()
        self.open = []
        self.threads = []
        self.stopping = False
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)

    def count(self, method):
        with self.lock:
            return sum(1 for m, _, _ in self.seen if m == method)

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(IO_TIMEOUT)
            with self.lock:
                self.open.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,),
                                 daemon=True)
            t.start()
            with self.lock:
                self.threads.append(t)

    def _serve(self, conn):
        try:
            head, rest = _read_head(conn)
            if head is None:
                return
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            with self.lock:
                self.seen.append((method, target, headers))
            if method == "CONNECT":
                self._tunnel(conn, target, rest)
            elif target.startswith("http://127.0.0.1:"):
                self._forward(conn, method, target, lines[1:], headers,
                              rest)
            else:
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\n"
                             b"Content-Length: 0\r\n\r\n")
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def _tunnel(self, conn, target, rest):
        host, _, port = target.rpartition(":")
        if host != "127.0.0.1":
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            return
        up = socket.create_connection((host, int(port)), IO_TIMEOUT)
        with self.lock:
            self.open.append(up)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            up.sendall(rest)

        def pipe(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        back = threading.Thread(target=pipe, args=(up, conn), daemon=True)
        back.start()
        pipe(conn, up)
        back.join(IO_TIMEOUT)
        up.close()

    def _forward(self, conn, method, target, hlines, headers, rest):
        # one request per connection: sent upstream with Connection:
        # close, the answer relayed as it comes until the server closes
        hostport, _, path = target[len("http://"):].partition("/")
        host, _, port = hostport.rpartition(":")
        n = int(headers.get("content-length", "0"))
        body = rest
        while len(body) < n:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
        keep = [h for h in hlines if h.split(":", 1)[0].strip().lower()
                not in ("connection", "proxy-connection", "keep-alive")]
        req = "%s /%s HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n" % (
            method, path, "\r\n".join(keep))
        up = socket.create_connection((host, int(port)), IO_TIMEOUT)
        try:
            up.sendall(req.encode("latin-1") + body)
            while True:
                data = up.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        finally:
            up.close()

    def stop(self):
        self.stopping = True
        self.sock.close()
        with self.lock:
            socks, threads = list(self.open), list(self.threads)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        for t in threads:
            t.join(5)


def _cli(ctx, home, *args, env=None):
    cli = os.path.join(os.path.dirname(os.path.abspath(ctx.binary)),
                       "fieldsync")
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([cli, "--home", os.path.join(ctx.tmpdir, home)] +
                       [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _device(ctx, srv, home, site=True):
    """A handheld in `home` enrolled (plain http) and logged in as g1."""
    if site:
        _site(srv)
    rc, out, err = _cli(ctx, home, "enroll", "--server", srv.url, "--code",
                        H.enroll_code(srv, "s1"), "--insecure-http")
    assert rc == 0, (rc, out, err)
    rc, out, err = _cli(ctx, home, "login", "--staff", "g1", "--pin", "1234")
    assert rc == 0, (rc, out, err)


def test_cli_proxy_option_tunnels_https(ctx):
    """--proxy carries enroll, login, a checkin and a sync through CONNECT
    tunnels to the server, with the pinned CA verified end to end and no
    token shown to the proxy; without --proxy the device goes direct."""
    srv = TlsServer(ctx, "IP:127.0.0.1,DNS:localhost")
    proxy = Proxy()
    try:
        _site(srv)
        via = ("--proxy", proxy.url)
        rc, out, err = _cli(ctx, "a", *via, "enroll", "--server", srv.url,
                            "--code", H.enroll_code(srv, "s1"), "--ca",
                            srv.cert)
        assert rc == 0 and "enrolled" in out, (rc, out, err)
        assert proxy.count("CONNECT") >= 1, proxy.seen
        rc, out, err = _cli(ctx, "a", *via, "login", "--staff", "g1", "--pin",
                            "1234")
        assert rc == 0 and "synced" in out, (rc, out, err)
        rc, out, err = _cli(ctx, "a", *via, "checkin", "T1")
        assert rc == 0 and out.startswith("sent:"), (rc, out, err)
        rc, out, err = _cli(ctx, "a", *via, "sync")
        assert rc == 0, (rc, out, err)
        n = proxy.count("CONNECT")
        assert n >= 4, "each command must reach the server through the " \
            "proxy: %d CONNECTs, %r" % (n, proxy.seen)
        assert len(proxy.seen) == n, "only tunnels for https: %r" % proxy.seen
        for _, target, headers in proxy.seen:
            assert target == "127.0.0.1:%d" % srv.port, proxy.seen
            assert "authorization" not in headers, \
                "the proxy must not see the device's token: %r" % headers
        # the tunnel does not weaken the pin: a CA that did not sign the
        # server's certificate is refused through the proxy too
        other_cert = os.path.join(ctx.tmpdir, "other.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "2", "-subj", "/CN=other",
                        "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", os.path.join(ctx.tmpdir, "other.key"),
                        "-out", other_cert], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
        rc, out, err = _cli(ctx, "b", *via, "enroll", "--server", srv.url,
                            "--code", H.enroll_code(srv, "s1"), "--ca",
                            other_cert)
        assert rc != 0 and "not trusted for 127.0.0.1" in err, (rc, out, err)
        # no --proxy: straight to the server
        before = len(proxy.seen)
        rc, out, err = _cli(ctx, "a", "checkin", "T1")
        assert rc == 0 and out.startswith("sent:"), (rc, out, err)
        assert len(proxy.seen) == before, proxy.seen[before:]
    finally:
        proxy.stop()
        srv.stop()


test_cli_proxy_option_tunnels_https.timeout = 120


def test_cli_proxy_from_environment(ctx):
    """http_proxy carries a plain-http device's requests (forwarded, in
    absolute form); no_proxy and --proxy '' turn it off."""
    srv = ctx.server()
    _site(srv)
    proxy = Proxy()
    env = {"http_proxy": proxy.url}
    try:
        rc, out, err = _cli(ctx, "a", "enroll", "--server", srv.url, "--code",
                            H.enroll_code(srv, "s1"), "--insecure-http",
                            env=env)
        assert rc == 0 and "enrolled" in out, (rc, out, err)
        rc, out, err = _cli(ctx, "a", "login", "--staff", "g1", "--pin",
                            "1234", env=env)
        assert rc == 0, (rc, out, err)
        rc, out, err = _cli(ctx, "a", "checkin", "T1", env=env)
        assert rc == 0 and out.startswith("sent:"), (rc, out, err)
        posts = [t for m, t, _ in proxy.seen if m == "POST"]
        assert any(t == srv.url + "/v1/enroll" for t in posts) and \
            any(t == srv.url + "/v1/login" for t in posts) and \
            any(t == srv.url + "/v1/sync" for t in posts), proxy.seen
        before = len(proxy.seen)
        for extra, more_env in ((["--proxy", ""], {}),
                                ([], {"no_proxy": "127.0.0.1"})):
            e = dict(env)
            e.update(more_env)
            rc, out, err = _cli(ctx, "a", *extra, "checkin", "T1", env=e)
            assert rc == 0 and out.startswith("sent:"), (extra, rc, out, err)
            assert len(proxy.seen) == before, (extra, proxy.seen[before:])
    finally:
        proxy.stop()


def test_cli_proxy_unreachable_fails_clearly(ctx):
    """--proxy naming a closed port: enroll and sync fail with one line
    naming the proxy and the reason, exit 1; a checkin meanwhile is queued,
    and a sync without the proxy delivers it.  A proxy that is no URL is
    refused as such."""
    srv = ctx.server()
    _site(srv)
    dead = "http://127.0.0.1:%d" % _free_port()
    rc, out, err = _cli(ctx, "a", "--proxy", dead, "enroll", "--server",
                        srv.url, "--code", H.enroll_code(srv, "s1"),
                        "--insecure-http")
    assert rc == 1 and len(err.strip().splitlines()) == 1, (rc, out, err)
    assert "through the proxy " + dead in err and \
        "Connection refused" in err, err
    _device(ctx, srv, "a", site=False)
    rc, out, err = _cli(ctx, "a", "--proxy", dead, "--json", "checkin", "T1")
    assert rc == 0 and json.loads(out)["state"] == "queued (offline)", \
        (rc, out, err)
    rc, out, err = _cli(ctx, "a", "--proxy", dead, "sync")
    assert rc == 1 and "through the proxy " + dead in err and \
        len(err.strip().splitlines()) == 1, (rc, out, err)
    rc, out, err = _cli(ctx, "a", "--json", "sync")
    assert rc == 0 and json.loads(out)["acked"] == 1, (rc, out, err)
    rc, out, err = _cli(ctx, "a", "--proxy", "ftp://127.0.0.1:21", "sync")
    assert rc == 1 and "bad proxy" in err, (rc, out, err)


test_cli_proxy_unreachable_fails_clearly.timeout = 90


def test_cli_silent_server_times_out_then_refused(ctx):
    """The server's port accepts connections but never answers: a checkin
    (3 s timeout) waits that long, no more, and says queued (offline); the
    port closed: sync fails with the refusal; the server back: one sync
    delivers the checkin."""
    srv = ctx.server()
    _device(ctx, srv, "a")
    srv.stop()
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", srv.port))
    silent.listen(16)  # connections complete in the backlog, unanswered
    try:
        t0 = time.monotonic()
        rc, out, err = _cli(ctx, "a", "--json", "checkin", "T1")
        took = time.monotonic() - t0
        assert rc == 0 and json.loads(out)["state"] == "queued (offline)", \
            (rc, out, err)
        assert 2.5 <= took < 12, "the 3 s timeout must bound the wait: " \
            "%.1f s" % took
    finally:
        silent.close()
    rc, out, err = _cli(ctx, "a", "sync")
    assert rc == 1 and "cannot connect to 127.0.0.1 port %d" % srv.port in err \
        and "Connection refused" in err, (rc, out, err)
    srv.start()
    rc, out, err = _cli(ctx, "a", "--json", "sync")
    assert rc == 0 and json.loads(out)["acked"] == 1, (rc, out, err)


test_cli_silent_server_times_out_then_refused.timeout = 120


class OneAnswer:
    """A loopback HTTP server giving every request the same answer."""

    def __init__(self, port, answer):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.answer = answer
        self.requests = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(IO_TIMEOUT)
            try:
                while True:
                    head, rest = _read_head(conn)
                    if head is None:
                        break
                    n = 0
                    for line in head.split("\r\n")[1:]:
                        k, _, v = line.partition(":")
                        if k.strip().lower() == "content-length":
                            n = int(v)
                    while len(rest) < n:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        rest += chunk
                    self.requests += 1
                    conn.sendall(self.answer)
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self.sock.close()
        self.thread.join(5)


def test_cli_inflate_cap_holds_on_responses(ctx):
    """A sync answer of 100 KiB that inflates to 100 MiB (over the 64 MiB
    cap): the sync fails with one line saying so (the body is inflated by
    protocol/zbody.h with its cap, not by libcurl), nothing queued is
    lost; the real server back, it syncs."""
    srv = ctx.server()
    _device(ctx, srv, "a")
    srv.stop()
    bomb = zlib.compress(b"\0" * (100 << 20), 9)
    fake = OneAnswer(srv.port, b"HTTP/1.1 200 OK\r\n"
                     b"Content-Type: application/msgpack\r\n"
                     b"Content-Encoding: deflate\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb)
    try:
        rc, out, err = _cli(ctx, "a", "--offline", "checkin", "T1")
        assert rc == 0, (rc, out, err)
        # had libcurl inflated it, the 100 MiB would hit the raw-body cap
        # ("over 64 MiB"), not zbody's inflate cap
        rc, out, err = _cli(ctx, "a", "sync")
        assert rc == 1 and "does not inflate" in err and \
            len(err.strip().splitlines()) == 1, (rc, out, err)
        assert fake.requests >= 1, "the sync never reached the fake server"
    finally:
        fake.stop()
    srv.start()
    rc, out, err = _cli(ctx, "a", "--json", "sync")
    assert rc == 0 and json.loads(out)["acked"] == 1, (rc, out, err)


test_cli_inflate_cap_holds_on_responses.timeout = 180
