"""Integration tests: TLS done right (protocol/PROTOCOL.md, "Transport"; issue 5).

HTTPS by default with the certificate the test makes (openssl, in a temp
dir); TLS 1.2 minimum (TLS 1.1 refused even when the client forces it
with -cipher DEFAULT@SECLEVEL=0, since OpenSSL 3's client would refuse
TLS 1.1 by itself otherwise); only ECDHE + AEAD ciphers for TLS 1.2;
certificate and key reloaded on SIGHUP: new connections see the new
serial, a keep-alive connection opened before keeps working."""
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

from harness import Server, req, check, setup_site, device_for

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
CURL = shutil.which("curl") or "/usr/bin/curl"


def _run(args, cwd=None, inp=b"", timeout=20):
    return subprocess.run(args, cwd=cwd, input=inp, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout)


def _ok(args, cwd):
    p = _run(args, cwd=cwd)
    assert p.returncode == 0, "%s failed:\n%s" % (" ".join(args),
                                                  p.stdout.decode())


def make_ca(d):
    _ok([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=fieldsync test CA"], d)


def make_cert(d, name, serial, key_type="rsa:2048"):
    """A server certificate for 127.0.0.1/localhost signed by the CA in d,
    with the given serial (an int).  Returns (cert, key) paths."""
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth\n")
    _ok([OPENSSL, "req", "-newkey", key_type, "-nodes", "-keyout",
         name + ".key", "-out", name + ".csr", "-subj",
         "/CN=localhost"], d)
    _ok([OPENSSL, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
         "-CAkey", "ca.key", "-set_serial", str(serial), "-days", "2",
         "-extfile", name + ".ext", "-out", name + ".pem"], d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


def _tls_server(ctx, serial=0x1001, args=()):
    d = ctx.tmpdir
    make_ca(d)
    cert, key = make_cert(d, "srv", serial)
    # the server reads these paths; the reload test replaces their contents
    live_cert, live_key = os.path.join(d, "live.pem"), os.path.join(d, "live.key")
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    os.chmod(live_key, 0o600)
    srv = ctx.server(tls=(live_cert, live_key), args=list(args))
    return srv, d, live_cert, live_key


def _serial_of(conn):
    cert = conn.sock.getpeercert()
    return int(cert["serialNumber"], 16)


def s_client(port, *opts):
    """openssl s_client against the server; returns (rc, output)."""
    p = _run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port,
              "-servername", "localhost"] + list(opts), inp=b"", timeout=20)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def _handshake_done(out):
    """s_client finished a handshake: a cipher was agreed and the server
    sent its certificate."""
    _, cipher = _negotiated(out)
    return cipher not in (None, "0000", "(NONE)") and \
        "Server certificate" in out


def _negotiated(out):
    """(protocol, cipher) from s_client output, or (None, None)."""
    proto = cipher = None
    for ln in out.splitlines():
        ln = ln.strip()
        if ln.startswith("Protocol") and ":" in ln:
            proto = ln.split(":", 1)[1].strip()
        if ln.startswith("Cipher") and ":" in ln and cipher is None:
            cipher = ln.split(":", 1)[1].strip()
        if ln.startswith("New, ") and ", Cipher is " in ln:
            cipher = ln.split(", Cipher is ", 1)[1].strip()
            proto = ln.split(",")[1].strip()
    return proto, cipher


def test_https_default_and_curl_cacert(ctx):
    srv, d, _, _ = _tls_server(ctx)
    assert srv.url.startswith("https://")
    p = _run([CURL, "-sS", "--max-time", "10", "--cacert",
              os.path.join(d, "ca.pem"), "https://localhost:%d/healthz"
              % srv.port, "--resolve", "localhost:%d:127.0.0.1" % srv.port])
    assert p.returncode == 0 and p.stdout.startswith(b"ok\nstore "), \
        "curl --cacert https://.../healthz: rc %d, %r" % (p.returncode,
                                                           p.stdout)
    # the certificate is really checked: without the CA curl refuses
    p = _run([CURL, "-sS", "--max-time", "10", "https://127.0.0.1:%d/healthz"
              % srv.port])
    assert p.returncode != 0, "curl without --cacert must not trust the " \
        "test CA: %r" % p.stdout
    # plain HTTP on the HTTPS port is not served
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            got = b""
        assert b"200 OK" not in got and b"\r\n\r\nok" not in got, \
            "plain HTTP to the HTTPS port was answered: %r" % got[:200]
    # the API works over it (login, sync)
    setup_site(srv, "s1", staff=[("g1", "guard")])
    g = device_for(srv, "s1", "g1", "guard")
    check(g.sync(), 200)


def test_serve_without_cert_refuses_to_start(ctx):
    """HTTPS is the default: serve without --cert/--key and without
    --insecure-http exits with an error instead of serving plain HTTP."""
    srv = ctx.server()   # makes a store; then try a second serve on it
    p = _run([srv.binary, "serve"] + srv.store_args() + [
              "--listen", "127.0.0.1:1"], timeout=20)
    assert p.returncode != 0 and b"--cert" in p.stdout, \
        "serve without --cert/--key must refuse: rc %d %r" % (
            p.returncode, p.stdout[-300:])


def test_tls11_refused_tls12_ok(ctx):
    srv, d, _, _ = _tls_server(ctx)
    for flag in ("-tls1_1", "-tls1"):
        rc, out = s_client(srv.port, flag, "-cipher", "DEFAULT@SECLEVEL=0")
        assert rc != 0 and not _handshake_done(out), \
            "a %s handshake (client forced with -cipher DEFAULT@SECLEVEL=0) " \
            "must be refused; s_client rc %d:\n%s" % (flag, rc, out[-800:])
    rc, out = s_client(srv.port, "-tls1_2", "-CAfile",
                       os.path.join(d, "ca.pem"), "-verify_return_error")
    proto, cipher = _negotiated(out)
    assert rc == 0 and _handshake_done(out) and proto == "TLSv1.2", \
        "TLS 1.2 must work: rc %d, protocol %r:\n%s" % (rc, proto, out[-800:])
    assert cipher.startswith("ECDHE-") and \
        ("GCM" in cipher or "CHACHA20" in cipher), \
        "TLS 1.2 must negotiate ECDHE with an AEAD cipher, got %r" % cipher
    rc, out = s_client(srv.port, "-tls1_3")
    proto, _ = _negotiated(out)
    assert rc == 0 and proto == "TLSv1.3", "TLS 1.3 must work:\n%s" % \
        out[-500:]


def test_tls12_weak_ciphers_refused(ctx):
    """The cipher list takes effect: static-RSA key exchange and CBC
    suites are refused even when the client offers nothing else."""
    srv, d, _, _ = _tls_server(ctx)
    for weak in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA",
                 "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-GCM-SHA256"):
        rc, out = s_client(srv.port, "-tls1_2", "-cipher",
                           weak + "@SECLEVEL=0")
        assert rc != 0 and not _handshake_done(out), \
            "TLS 1.2 with only %s offered must be refused; got rc %d " \
            "cipher %r" % (weak, rc, _negotiated(out)[1])
    rc, out = s_client(srv.port, "-tls1_2", "-cipher",
                       "ECDHE-RSA-CHACHA20-POLY1305")
    assert rc == 0 and _negotiated(out)[1] == "ECDHE-RSA-CHACHA20-POLY1305", \
        "ECDHE-RSA-CHACHA20-POLY1305 must be accepted:\n%s" % out[-500:]


def test_sighup_reloads_certificate_keeps_connections(ctx):
    srv, d, live_cert, live_key = _tls_server(ctx, serial=0x1001,
                                              args=["--keep-alive-ms", "20000"])
    new_cert, new_key = make_cert(d, "srv2", 0x2002)
    # a keep-alive connection, opened before the reload
    old = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=10,
                                      context=_ip_ctx(d))
    old.request("GET", "/healthz")
    r = old.getresponse()
    assert r.status == 200 and r.read().startswith(b"ok\n")
    assert _serial_of(old) == 0x1001
    pid = srv.pid

    # replace the files (atomically, as an operator's tooling would) and HUP
    for src, dst in ((new_cert, live_cert), (new_key, live_key)):
        tmp = dst + ".new"
        shutil.copy(src, tmp)
        os.replace(tmp, dst)
    os.kill(srv.pid, signal.SIGHUP)

    serial = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=10,
                                        context=_ip_ctx(d))
        c.request("GET", "/healthz")
        resp = c.getresponse()
        assert resp.status == 200 and resp.read().startswith(b"ok\n")
        serial = _serial_of(c)
        c.close()
        if serial == 0x2002:
            break
        time.sleep(0.1)
    assert serial == 0x2002, "after SIGHUP new connections must get the " \
        "new certificate (serial 0x2002), got %r" % serial
    assert "reloaded" in srv.log(), srv.log_tail(5)

    # the connection made before the reload still works, same certificate
    for _ in range(3):
        old.request("GET", "/healthz")
        r = old.getresponse()
        assert r.status == 200 and r.read().startswith(b"ok\n"), \
            "the keep-alive connection opened before SIGHUP was dropped"
    assert _serial_of(old) == 0x1001
    old.close()
    assert srv.alive() and srv.pid == pid, "SIGHUP must not restart the server"

    # a broken file on the next SIGHUP: the current certificate stays
    with open(live_cert, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot a cert\n")
    os.kill(srv.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "NOT reloaded" not in srv.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "NOT reloaded" in srv.log(), srv.log_tail(5)
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=10,
                                    context=_ip_ctx(d))
    c.request("GET", "/healthz")
    assert c.getresponse().status == 200 and _serial_of(c) == 0x2002
    c.close()
    # a key that does not match the certificate is refused too
    shutil.copy(new_cert, live_cert)
    other_cert, other_key = make_cert(d, "srv3", 0x3003)
    shutil.copy(other_key, live_key)
    os.kill(srv.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while srv.log().count("NOT reloaded") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.log().count("NOT reloaded") >= 2 and \
        "does not match" in srv.log(), srv.log_tail(5)
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=10,
                                    context=_ip_ctx(d))
    c.request("GET", "/healthz")
    assert c.getresponse().status == 200 and _serial_of(c) == 0x2002
    c.close()


def _ip_ctx(d):
    """Verify against the test CA; the certificate names IP 127.0.0.1."""
    c = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
    return c


def test_bind_error_names_the_address_tried(ctx):
    """issue 11: a port already taken is reported as the address given
    (not CivetWeb's '127.0.0.1:8443s' for HTTPS), with the reason."""
    import socket
    import subprocess
    srv = ctx.server(tls=True)  # makes the certificate and the store
    srv.stop()  # one server per store: the lock would refuse us first
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        p = subprocess.run(
            [ctx.binary, "serve"] + srv.store_args() + [
             "--listen", "127.0.0.1:%d" % port, "--cert", srv.tls[0], "--key", srv.tls[1]],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    finally:
        holder.close()
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0, err
    assert "cannot listen on 127.0.0.1:%d (HTTPS): " % port in err, err
    assert "Address already in use" in err, err
    assert "%ds" % port not in err, err
