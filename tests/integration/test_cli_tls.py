"""The handheld's transport (issue 3): HTTPS with certificate verification by
default, a --ca file for a private CA, the host name checked against the
certificate, and plain http:// only with --insecure-http.

The harness serves plain HTTP only, so this test starts its own fieldsyncd
with a certificate (and stops it by PID)."""

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TlsServer:
    """fieldsyncd over HTTPS with a self-signed certificate for `san`."""

    def __init__(self, ctx, san):
        self.bin = ctx.binary
        self.dir = os.path.join(ctx.tmpdir, "tls-srv")
        self.data = os.path.join(self.dir, "data")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        os.makedirs(self.dir, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-sha256", "-nodes", "-days", "2", "-subj", "/CN=test",
                        "-addext", "subjectAltName=%s" % san,
                        "-addext", "basicConstraints=critical,CA:FALSE",
                        "-addext", "extendedKeyUsage=serverAuth",
                        "-keyout", self.key, "-out", self.cert],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        subprocess.run([self.bin, "init", "--data", self.data], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
        self.port = _free_port()
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [self.bin, "serve", "--data", self.data, "--listen",
             "127.0.0.1:%d" % self.port, "--cert", self.cert, "--key",
             self.key, "--pbkdf2-iter", "1000"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.url = "https://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + 10
        while True:
            try:
                if H.req(self.url, "GET", "/healthz", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise AssertionError("TLS server did not start")
            time.sleep(0.05)

    @property
    def admin_token(self):
        with open(os.path.join(self.data, "admin.token")) as f:
            return f.read().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _cli(ctx, home, *args):
    cli = os.path.join(os.path.dirname(os.path.abspath(ctx.binary)),
                       "fieldsync")
    p = subprocess.run([cli, "--home", os.path.join(ctx.tmpdir, home)] +
                       [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _site(srv):
    H.admin_push(srv, [H.op("site", "s1", {"name": "S", "tz": "UTC",
                                           "households": 1}),
                       H.op("staff", "g1", {"site": "s1", "name": "G",
                                            "role": "guard", "active": True}),
                       H.op("checkpoint", "cp-01", {"site": "s1", "name": "1",
                                                    "tag": "T1"}),
                       H.op("shift", "sh1", {"site": "s1", "role": "guard",
                                             "staff": ["g1"],
                                             "starts": H.now_ms() - 3600000,
                                             "ends": H.now_ms() + 3600000})])
    H.set_pin(srv, "g1", "1234")


def test_cli_tls_verifies_certificate_and_name(ctx):
    srv = TlsServer(ctx, "IP:127.0.0.1,DNS:localhost")
    try:
        _site(srv)
        # not trusted by the system CAs: refused, one line, non-zero
        rc, out, err = _cli(ctx, "a", "enroll", "--server", srv.url, "--code",
                            H.enroll_code(srv, "s1"))
        assert rc != 0 and "not trusted" in err and \
            len(err.strip().splitlines()) == 1, (rc, out, err)
        # trusted with --ca: the whole path works over TLS
        rc, out, err = _cli(ctx, "b", "enroll", "--server", srv.url, "--code",
                            H.enroll_code(srv, "s1"), "--ca", srv.cert)
        assert rc == 0 and "enrolled" in out, (rc, out, err)
        rc, out, err = _cli(ctx, "b", "login", "--staff", "g1", "--pin", "1234")
        assert rc == 0 and "synced" in out, (rc, out, err)
        rc, out, err = _cli(ctx, "b", "checkin", "T1")
        assert rc == 0 and out.startswith("sent:"), (rc, out, err)
        # by DNS name too
        rc, out, err = _cli(ctx, "c", "enroll", "--server",
                            "https://localhost:%d" % srv.port, "--code",
                            H.enroll_code(srv, "s1"), "--ca", srv.cert)
        assert rc == 0, (rc, out, err)
        # plain http:// needs the explicit flag
        rc, out, err = _cli(ctx, "d", "enroll", "--server",
                            "http://127.0.0.1:%d" % srv.port, "--code", "X")
        assert rc != 0 and "--insecure-http" in err, (rc, out, err)
    finally:
        srv.stop()


def test_cli_tls_wrong_name_refused(ctx):
    """A certificate that does not name the host is refused even when its
    CA is trusted."""
    srv = TlsServer(ctx, "DNS:elsewhere.example")
    try:
        _site(srv)
        rc, out, err = _cli(ctx, "a", "enroll", "--server", srv.url, "--code",
                            H.enroll_code(srv, "s1"), "--ca", srv.cert)
        assert rc != 0 and "not trusted for 127.0.0.1" in err, (rc, out, err)
    finally:
        srv.stop()
