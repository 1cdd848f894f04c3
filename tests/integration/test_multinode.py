"""Several fieldsyncd nodes on one PostgreSQL store (issue 17;
deploy/OPERATIONS.md, "More than one machine").

The nodes are started from deploy/fieldsyncd-pg@.service's ExecStart and
deploy/fieldsyncd-pg.env, HAProxy from deploy/haproxy/*.cfg, as they are
(tests/integration/deploylib.py replaces addresses, ports and paths only).
The store is a database on the test process's throwaway PostgreSQL cluster
(harness.pg_cluster(), tests/pgcluster.py), whatever FS_TEST_STORE says:
these tests are about PostgreSQL, so they run, the same, in both passes of
the suite.  Loops are bounded in time; the file takes about 3 minutes."""

import json
import os
import socket
import ssl
import subprocess
import sys
import time

import harness as H
import deploylib as D

SITE = "mn"


class Pair:
    """A fresh database, `fieldsyncd init --store` on it, and n nodes on it
    sharing one blob directory."""

    def __init__(self, ctx, n=2, extra=()):
        self.cluster = H.pg_cluster()
        db = self.cluster.new_database()
        self.url = D.store_url(D.read_env(D.NODE_ENV)["FIELDSYNC_STORE"],
                               ["127.0.0.1:%d" % self.cluster.port],
                               user="postgres", db=db.rsplit("/", 1)[1])
        self.dir = ctx.tmpdir
        self.token = D.init_store(ctx.binary, self.url,
                                  os.path.join(self.dir, "init"))
        blobs = os.path.join(self.dir, "blobs")
        os.makedirs(blobs, exist_ok=True)
        self.nodes = [D.Node(ctx.binary, self.url, blobs, self.token,
                             self.dir, name="node%d" % (i + 1), extra=extra)
                      for i in range(n)]
        self.haproxy = None

    def start(self):
        for n in self.nodes:
            n.start()
        return self

    def close(self):
        if self.haproxy:
            self.haproxy.stop()
        for n in self.nodes:
            n.stop()
        if not self.cluster.alive():
            self.cluster.resume()


def _devices(front, n, prefix):
    staff = [("%s%d" % (prefix, k), "supervisor") for k in range(n)]
    H.setup_site(front, SITE, staff=staff)
    return [H.device_for(front, SITE, s, r) for s, r in staff]


def _check_store(hands, got, what):
    """Every acked op in the store exactly once; every device pulled
    exactly the store's records, each once (a cursor that skipped an entry
    would leave a record out: each record is written once)."""
    acked = [i for h in hands for ids, _ in h.acked.values() for i in ids]
    missing = [i for i in acked if i not in got]
    assert not missing, "%s: %d acked ops not in the store: %s" % (
        what, len(missing), missing[:10])
    twice = {i: n for i, n in got.items() if n != 1}
    assert not twice, "%s: served more than once: %r" % (what, twice)
    for h in hands:
        assert not h.errors, "%s: %s: %s" % (what, h.prefix, h.errors[:3])
        assert not h.outbox, "%s: %s never got an ack for %d batches" % (
            what, h.prefix, len(h.outbox))
        lost = set(got) - set(h.seen)
        extra = set(h.seen) - set(got)
        assert not lost and not extra, \
            "%s: %s's pulls lack %d records (%s) and have %d the store " \
            "lacks (%s)" % (what, h.prefix, len(lost), sorted(lost)[:5],
                            len(extra), sorted(extra)[:5])
        again = {i: n for i, n in h.seen.items() if n != 1}
        assert not again, "%s: %s pulled entries twice: %r" % (
            what, h.prefix, list(again.items())[:5])
    return len(acked)


# ------------------------------------------------------------------ a ---

def test_two_nodes_interleaved_writes_and_pulls(ctx):
    """Writers on node A and node B at once while a reader pulls from node
    B with small pages: the reader's entries are the store's, each once;
    every acked op is stored exactly once."""
    # as fast as they can: no per-device rate limit here
    p = Pair(ctx, extra=("--rate-device-per-s", "0")).start()
    try:
        a, b = p.nodes
        devs = _devices(a, 3, "i")
        stop = time.monotonic() + 8
        writers = [D.Handheld("wa", devs[0].token, [a], SITE, stop,
                              pause=(0, 0.02)),
                   D.Handheld("wb", devs[1].token, [b], SITE, stop,
                              pause=(0, 0.02))]
        reader = D.Handheld("r", devs[2].token, [b], SITE, stop, ops=0,
                            pause=(0, 0.01), limit=7)
        for h in writers:
            h.start()
        # the reader pulls only (a push of no ops would be an empty batch)
        while time.monotonic() < stop:
            reader.once(push=False)
        for h in writers:
            h.join(30)
        for h in writers + [reader]:
            h.drain()
        got = D.admin_pull(a, p.token, SITE)
        n = _check_store(writers + [reader], got, "interleaved")
        assert n > 100 and len(reader.events) > 50, \
            "too little traffic to mean anything: %d ops acked, %d pulls" % (
                n, len(reader.events))
        for w in writers:
            assert not any(d for _, d in w.acked.values()), \
                "a first send was acked dup"
    finally:
        p.close()


test_two_nodes_interleaved_writes_and_pulls.timeout = 60


# ------------------------------------------------------------------ b ---

def test_haproxy_kill9_every_10s(ctx):
    """deploy/haproxy/fieldsync.cfg (TLS at HAProxy) in front of two nodes;
    20 devices push and pull through it for 60 s while a node is kill -9ed
    and restarted every 10 s: every acked batch stored exactly once, every
    device converges on the admin pull, no cursor skipped an entry, and a
    batch resent to the other node is dup."""
    p = Pair(ctx).start()
    try:
        cert, key, pem = D.make_cert(os.path.join(ctx.tmpdir, "tls"))
        hport, sport = D.free_port(), D.free_port()
        p.haproxy = hap = D.HAProxy(D.HAPROXY_CFG, {
            "FS_HAPROXY_BIND": "127.0.0.1:%d" % hport,
            "FS_HAPROXY_CERT": pem,
            "FS_HAPROXY_STATS": "127.0.0.1:%d" % sport,
            "FS_NODE1": "127.0.0.1:%d" % p.nodes[0].port,
            "FS_NODE2": "127.0.0.1:%d" % p.nodes[1].port}, ctx.tmpdir)
        hap.check()
        hap.start(hport)
        front = H.Ids(url="https://127.0.0.1:%d" % hport, port=hport,
                      admin_token=p.token, tls=True)
        devs = _devices(front, 20, "k")
        t0 = time.monotonic()
        stop = t0 + 60
        hands = [D.Handheld("k%d" % k, d.token, [front], SITE, stop,
                            pause=(0.1, 0.3))
                 for k, d in enumerate(devs)]
        for h in hands:
            h.start()
        kills, down_seen = [], 0
        for i in range(5):
            time.sleep(max(0.0, t0 + 10 * (i + 1) - time.monotonic()))
            node = p.nodes[i % 2]
            node.kill9()
            kills.append(node.name)
            time.sleep(0.5)
            if hap.states(sport).get(node.name, "").startswith("DOWN"):
                down_seen += 1
            node.start()
        for h in hands:
            h.join(90)
        for n in p.nodes:
            assert n.alive(), "%s exited:\n%s" % (n.name, n.log_tail())
        for h in hands:
            h.drain()
        got = D.admin_pull(p.nodes[0], p.token, SITE)
        n_ops = _check_store(hands, got, "kill -9 loop")
        batches = sum(len(h.acked) for h in hands)
        dups = sum(1 for h in hands for _, d in h.acked.values() if d)
        failed = sum(1 for h in hands for ev in h.events if ev[2] != 200)
        print("kill -9 loop: %d kills (%s), %d batches acked (%d ops), "
              "%d acked dup on a resend, %d requests failed, missing 0; "
              "HAProxy showed the killed node DOWN %d times" % (
                  len(kills), ",".join(kills), batches, n_ops, dups, failed,
                  down_seen))
        assert len(kills) == 5 and batches > 200, \
            "too little traffic: %d batches" % batches

        # a batch acked through HAProxy, resent to each node directly: dup
        bid, (ids, _) = next(iter(hands[0].acked.items()))
        again = H.batch([H.op("zone", i, {"site": SITE, "name": i,
                                          "kind": "load"}) for i in ids],
                        bid=bid)
        for n in p.nodes:
            r = H.sync(n, devs[0].token, push=[again])
            ack = H.check(r)["acks"][0]
            assert ack.get("dup") and not ack.get("err"), \
                "resent batch on %s: %r" % (n.name, ack)
    finally:
        p.close()


test_haproxy_kill9_every_10s.timeout = 150


# ------------------------------------------------------------------ c ---

def _unavailable(ev):
    """The request was refused as the contract says while the store is
    down: 503 UNAVAILABLE, or 200 with every batch acked err UNAVAILABLE."""
    status, body = ev[2], ev[3]
    if status == 503:
        return isinstance(body, dict) and body.get("error") == "UNAVAILABLE"
    if status == 200 and isinstance(body, dict):
        acks = body.get("acks") or []
        return bool(acks) and all(a.get("err") == "UNAVAILABLE"
                                  for a in acks)
    return False


def test_postgresql_down_20s_under_load(ctx):
    """PostgreSQL stopped for 20 s while devices push and pull on two
    nodes: every request in that time gets UNAVAILABLE, nothing acked is
    missing from the store, the nodes serve again by themselves."""
    p = Pair(ctx).start()
    try:
        devs = _devices(p.nodes[0], 6, "o")
        t0 = time.monotonic()
        stop = t0 + 40
        hands = [D.Handheld("o%d" % k, d.token, p.nodes, SITE, stop,
                            pause=(0.1, 0.2))
                 for k, d in enumerate(devs)]
        for h in hands:
            h.start()
        time.sleep(5)
        pids = [n.pid for n in p.nodes]
        p.cluster.pause()
        down_from = time.monotonic()
        health = H.req(p.nodes[1], "GET", "/healthz", timeout=5).status
        time.sleep(max(0.0, down_from + 20 - time.monotonic()))
        down_to = time.monotonic()
        p.cluster.resume()
        up_at = time.monotonic()
        for h in hands:
            h.join(60)
        for h in hands:
            h.drain()
        during = [ev for h in hands for ev in h.events
                  if ev[0] >= down_from and ev[1] <= down_to]
        bad = [ev[2:] for ev in during if not _unavailable(ev)]
        n503 = sum(1 for ev in during if ev[2] == 503)
        per_batch = sum(1 for ev in during if ev[2] == 200)
        assert during and not bad, \
            "%d of %d requests while PostgreSQL was down were not " \
            "UNAVAILABLE: %r" % (len(bad), len(during), bad[:5])
        after = [ev for h in hands for ev in h.events if ev[0] > up_at]
        first_ok = min((ev[1] for ev in after if ev[2] == 200 and not
                        any(a.get("err") for a in ev[3].get("acks") or [])),
                       default=None)
        assert first_ok is not None, "no request acked after PostgreSQL " \
            "came back: %r" % [ev[2] for ev in after][-10:]
        assert [n.pid for n in p.nodes] == pids and \
            all(n.alive() for n in p.nodes), "a node restarted or exited"
        got = D.admin_pull(p.nodes[1], p.token, SITE)
        n_ops = _check_store(hands, got, "PostgreSQL outage")
        print("PostgreSQL down %.1f s: %d requests in that time, %d got 503 "
              "UNAVAILABLE, %d got 200 with every batch UNAVAILABLE; "
              "/healthz said %d; first ack %.1f s after it was back; "
              "%d ops acked in all, all stored" % (
                  down_to - down_from, len(during), n503, per_batch, health,
                  first_ok - up_at, n_ops))
    finally:
        p.close()


test_postgresql_down_20s_under_load.timeout = 120


# ------------------------------------------------------------------ d ---

def _live_poke(sock_ws, bucket, deadline):
    while True:
        op, payload = sock_ws.recv_message(deadline)
        msg = H.unpack(payload)
        if bucket in (msg.get("buckets") or []):
            return msg


def test_live_poke_across_nodes(ctx):
    """A device with /v1/live open on node B is poked when node A commits a
    change in its bucket (LISTEN/NOTIFY between the nodes)."""
    p = Pair(ctx).start()
    try:
        a, b = p.nodes
        devs = _devices(a, 2, "l")
        ws = H.WebSocket(b, "/v1/live", devs[0].token)
        assert ws.status == 101 and ws.accept_ok(), ws.head
        try:
            t = time.monotonic()
            r = H.sync(a, devs[1].token, push=[H.batch([H.op(
                "zone", "live-1", {"site": SITE, "name": "x",
                                   "kind": "live"})])])
            assert H.check(r)["acks"][0].get("applied") == 1
            _live_poke(ws, "site/" + SITE, t + 5)
        finally:
            ws.close()
    finally:
        p.close()


test_live_poke_across_nodes.timeout = 60


# ------------------------------------------------ webhooks, two nodes ---

RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "..", "deploy", "webhook-receiver.py")
WH_SECRET = "two-nodes-one-post"


def test_webhook_posted_once_by_two_nodes(ctx):
    """Both nodes run the delivery thread over the one store: each of 8
    entrapment alerts (raised through either node) is posted once, never
    by both (server/svc/webhook.c's claim_txn)."""
    fast = ("--webhook-allow-private", "--webhook-backoff-ms", "200",
            "--alert-poll-ms", "200")
    p = Pair(ctx, extra=fast).start()
    port = D.free_port()
    log = os.path.join(ctx.tmpdir, "receiver.log")
    rx = subprocess.Popen(
        [sys.executable, RECEIVER, "--port", str(port), "--secret",
         WH_SECRET, "--log", log], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        rx.stderr.readline()  # "listening on ..."
        a, b = p.nodes
        H.setup_site(a, SITE, staff=[("g1", "guard"), ("g2", "guard")])
        H.admin_push(a, [H.op("webhook", "wh1", {
            "site": SITE, "url": "http://127.0.0.1:%d/hook" % port,
            "secret": WH_SECRET, "format": "json"})])
        devs = [H.device_for(a, SITE, "g1", "guard"),
                H.device_for(b, SITE, "g2", "guard")]
        n = 8
        for i in range(n):
            node, dev = (a, devs[0]) if i % 2 == 0 else (b, devs[1])
            r = H.sync(node, dev.token, push=[H.batch([H.op(
                "order", "lift-%d" % i, {
                    "site": SITE, "category": "elevator_entrapment",
                    "title": "people in lift %d" % i, "reporter": dev.staff,
                    "status": "reported", "reported_at": H.now_ms()})])])
            assert H.check(r)["acks"][0].get("applied") == 1, r

        def entries():
            if not os.path.exists(log):
                return []
            with open(log) as f:
                return [json.loads(l) for l in f if l.strip()]
        end = time.monotonic() + 20
        while len(entries()) < n and time.monotonic() < end:
            time.sleep(0.1)
        time.sleep(3)  # long enough for a second POST of any of them
        got = entries()
        keys = [e["key"] for e in got]
        assert len(set(keys)) == n, "%d distinct deliveries, want %d: %r" % (
            len(set(keys)), n, got)
        assert len(keys) == n, "posted more than once: %r" % sorted(
            k for k in keys if keys.count(k) > 1)
        assert all(e["valid"] and not e["dup"] for e in got), got
    finally:
        rx.kill()
        rx.wait()
        rx.stderr.close()
        p.close()


test_webhook_posted_once_by_two_nodes.timeout = 90


# ----------------------------------------------- TLS on both hops, units ---

def _tls_websocket(port, path, token, ca):
    """harness.WebSocket over TLS (its frames code, our socket)."""
    ctx = ssl.create_default_context(cafile=ca)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 5),
                        server_hostname="127.0.0.1")
    ws = H.WebSocket.__new__(H.WebSocket)
    ws.key = "dGhlIHNhbXBsZSBub25jZQ=="
    ws.s = s
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket"
               "\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
               % (path, port, ws.key, token)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            break
        buf += c
    head, _, ws.buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    ws.status = int(lines[0].split()[1]) if lines[0] else None
    ws.headers = {k.strip().lower(): v.strip() for k, _, v in
                  (ln.partition(":") for ln in lines[1:])}
    ws.head = head
    return ws


def test_haproxy_tls_to_the_nodes(ctx):
    """deploy/haproxy/fieldsync-tls-nodes.cfg: HTTPS to HAProxy and HAProxy
    to HTTPS nodes, each node's certificate checked; the health checks mark
    both nodes up over TLS; sync and /v1/live go through; X-Forwarded-For
    reaches the nodes (a client HAProxy names outside loopback is refused
    /metrics, which loopback clients get)."""
    cert, key, pem = D.make_cert(os.path.join(ctx.tmpdir, "tls"))
    p = Pair(ctx, extra=("--cert", cert, "--key", key))
    try:
        for n in p.nodes:   # the unit's --insecure-http, TLS instead
            n.argv.remove("--insecure-http")
        p.start()
        hport, sport = D.free_port(), D.free_port()
        p.haproxy = hap = D.HAProxy(D.HAPROXY_TLS_NODES_CFG, {
            "FS_HAPROXY_BIND": "127.0.0.1:%d" % hport,
            "FS_HAPROXY_CERT": pem, "FS_NODE_CA": cert,
            "FS_HAPROXY_STATS": "127.0.0.1:%d" % sport,
            "FS_NODE1": "127.0.0.1:%d" % p.nodes[0].port,
            "FS_NODE2": "127.0.0.1:%d" % p.nodes[1].port}, ctx.tmpdir)
        hap.check()
        hap.start(hport)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                set(hap.states(sport).values()) != {"UP"}:
            time.sleep(0.2)
        assert set(hap.states(sport).values()) == {"UP"}, hap.states(sport)
        front = H.Ids(url="https://127.0.0.1:%d" % hport, port=hport,
                      admin_token=p.token, tls=True)
        devs = _devices(front, 2, "t")
        ws = _tls_websocket(hport, "/v1/live", devs[0].token, cert)
        assert ws.status == 101 and ws.accept_ok(), ws.head
        try:
            t = time.monotonic()
            r = H.sync(front, devs[1].token, push=[H.batch([H.op(
                "zone", "tls-1", {"site": SITE, "name": "x",
                                  "kind": "tls"})])])
            assert H.check(r)["acks"][0].get("applied") == 1
            _live_poke(ws, "site/" + SITE, t + 5)
        finally:
            ws.close()
        assert H.req(front, "GET", "/metrics").status == 200
        r = H.req(front, "GET", "/metrics",
                  headers={"X-Forwarded-For": "203.0.113.7"})
        assert r.status == 403, "XFF not believed through HAProxy: %r" % r
    finally:
        p.close()


test_haproxy_tls_to_the_nodes.timeout = 60


def test_units_verify(ctx):
    """systemd-analyze verify on deploy/'s units (the binary path pointed
    at the one under test; the other tests run fieldsyncd-pg@'s
    ExecStart)."""
    if not os.path.exists("/usr/bin/systemd-analyze"):
        raise H.Skip("no systemd-analyze here")
    out = os.path.join(ctx.tmpdir, "units")
    os.makedirs(out)
    names = ["fieldsyncd-pg@.service", "fieldsyncd.service",
             "fieldsyncd-backup.service", "fieldsyncd-backup.timer"]
    paths = []
    for name in names:
        with open(os.path.join(D.DEPLOY, name)) as f:
            text = f.read().replace(D.UNIT_BINARY, ctx.binary)
        dest = os.path.join(out, name.replace("@.", "@node1."))
        with open(dest, "w") as f:
            f.write(text)
        paths.append(dest)
    r = subprocess.run(["/usr/bin/systemd-analyze", "verify"] + paths,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    # it exits 0 on unknown keys and bad values, only saying so
    assert r.returncode == 0 and not r.stdout.strip(), \
        "systemd-analyze verify: %s" % r.stdout.decode()


test_units_verify.timeout = 60
