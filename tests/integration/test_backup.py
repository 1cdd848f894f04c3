"""Integration tests: fieldsyncd backup / restore / check (issue 5).

A backup taken while devices push finds every record acked before it
started; the restored store has a new store id; devices that kept their
outboxes resend their batches (same ids) and the rest comes back."""
import hashlib
import os
import shutil
import subprocess
import io
import tarfile
import time

from harness import (batch, check, device_for, fresh_store_url, op, req,
                     setup_site, store_opts, sync)
from loadgen import OutboxClient, pull_all


def _run(ctx, *args, ok=True):
    p = subprocess.run([ctx.binary] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    if ok:
        assert p.returncode == 0, "fieldsyncd %s exited %d:\n%s" % (
            " ".join(args), p.returncode, out)
    return p.returncode, out


def _photo(srv, token, data):
    h = hashlib.sha256(data).hexdigest()
    r = req(srv, "PUT", "/v1/blobs/" + h, raw=data, token=token,
            headers={"Content-Type": "application/octet-stream"})
    check(r, 200)
    return h


def _restore_and_serve(ctx, archive, src):
    dst = os.path.join(ctx.tmpdir, "restored")
    url = fresh_store_url()
    _, out = _run(ctx, "restore", "--from", archive, *store_opts(dst, url))
    assert "integrity walk passed" in out, out
    # admin.token is a secret: it is not in the archive; the store keeps
    # its hash, so the old token still works (deploy/OPERATIONS.md)
    shutil.copy(os.path.join(src.data, "admin.token"),
                os.path.join(dst, "admin.token"))
    return ctx.server(data=dst, store_url=url)


def test_backup_under_load_restore_and_devices_resend(ctx):
    srv = ctx.server()
    setup_site(srv, "s1", staff=[("sup%d" % i, "supervisor")
                                 for i in range(3)])
    devs = [device_for(srv, "s1", "sup%d" % i, "supervisor")
            for i in range(3)]
    photo = _photo(srv, devs[0].token, b"\xff\xd8 a photo of the lobby" * 50)
    r = sync(srv, devs[0].token,
             push=[batch([op("zone", "with-photo", {"site": "s1",
                                                    "name": "lobby"})])])
    check(r, 200)
    old_store = r.body["store"]
    # three devices and the admin push while the backup runs
    clients = [OutboxClient(srv, d.token, "d%d" % i, ops_per_batch=3,
                            pace=0.06) for i, d in enumerate(devs)]
    clients.append(OutboxClient(srv, srv.admin_token, "adm", ops_per_batch=3,
                                pace=0.01))
    for c in clients:
        c.start()
    time.sleep(0.8)
    archive = os.path.join(ctx.tmpdir, "backup.tar")
    t_start = time.monotonic()
    _, out = _run(ctx, "backup", *srv.store_args(), "--out", archive)
    t_end = time.monotonic()
    time.sleep(0.6)   # more acks after the backup: these it cannot have
    for c in clients:
        c.stop()
    for c in clients:
        c.join(10)
    for c in clients:
        assert not c.errors, c.errors[:3]
    before = {b: c for c in clients for b, (t, _) in c.acked.items()
              if t < t_start}
    after = {b: c for c in clients for b, (t, _) in c.acked.items()
             if t > t_end}
    assert len(before) >= 10 and len(after) >= 5, \
        "the load must ack batches before and after the backup (%d, %d)" % (
            len(before), len(after))
    assert "backup of store %s" % old_store in out, out

    # the archive: a plain tar whose manifest checks out
    with tarfile.open(archive) as tf:
        names = tf.getnames()
        man = tf.extractfile("fieldsync-backup/MANIFEST").read().decode()
        sums = {}
        for m in tf.getmembers():
            if m.name.endswith("/MANIFEST"):
                continue
            sums[m.name[len("fieldsync-backup/"):]] = \
                hashlib.sha256(tf.extractfile(m).read()).hexdigest()
    assert names[-1] == "fieldsync-backup/MANIFEST" and \
        "fieldsync-backup/store/data.mdb" in names and \
        "fieldsync-backup/blobs/" + photo in names, names
    lines = man.splitlines()
    assert lines[0] == "fieldsync-backup 1" and \
        lines[1] == "store " + old_store and lines[-1] == "end %d" % len(sums)
    for ln in lines[3:-1]:
        h, size, name = ln.split()
        assert sums[name] == h, "manifest checksum of %s" % name

    # restore into a new directory and serve it
    rsrv = _restore_and_serve(ctx, archive, srv)
    recs, dups, new_store = pull_all(rsrv, rsrv.admin_token)
    assert not dups, dups[:5]
    assert new_store and new_store != old_store, \
        "a restored store gets a new id (%s -> %s)" % (old_store, new_store)
    missing = [o["id"] for b, c in before.items() for o in c.batches[b]
               if ("zone", o["id"]) not in recs]
    assert not missing, "records acked before the backup started are " \
        "missing after the restore: %r" % missing[:10]
    assert ("zone", "with-photo") in recs
    r = req(rsrv, "GET", "/v1/blobs/" + photo, token=rsrv.admin_token)
    assert r.status == 200 and r.raw == b"\xff\xd8 a photo of the lobby" * 50, \
        "the photo is restored: %r" % r
    lost = [o["id"] for b, c in after.items() for o in c.batches[b]
            if ("zone", o["id"]) not in recs]
    assert lost, "batches acked after the backup ended cannot be in it"

    # the devices: the store id changed, so they reset and keep their
    # outboxes; they resend every batch they made (same ids)
    for c in clients:
        c.srv = rsrv
        with c._mu:
            sent_before = dict(c.acked)
            c.acked.clear()
            c.nondup.clear()
        left = c.flush(time.monotonic() + 20)
        assert not left and not c.errors, (len(left), c.errors[:3])
        for b, (_, dup) in c.acked.items():
            if b in before:
                assert dup, "a batch the backup holds comes back dup: true"
            elif b in after:
                assert not dup, "a batch the backup lacks is applied anew"
        assert set(c.acked) >= set(sent_before)
    recs2, dups2, _ = pull_all(rsrv, rsrv.admin_token)
    assert not dups2
    gone = [o["id"] for c in clients for b in c.order for o in c.batches[b]
            if ("zone", o["id"]) not in recs2]
    assert not gone, "after the resend every record is back: %r" % gone[:10]
    # and the restored store passes the integrity walk while it serves
    _, out = _run(ctx, "check", *rsrv.store_args())
    assert "integrity walk passed" in out and new_store in out, out


test_backup_under_load_restore_and_devices_resend.timeout = 120


def test_device_sees_store_change_and_resets(ctx):
    srv = ctx.server()
    setup_site(srv, "s1", staff=[("sup", "supervisor")])
    dev = device_for(srv, "s1", "sup", "supervisor")
    r = check(dev.sync(pull={}), 200)
    cursor = r["buckets"]["site/s1"]["cursor"]
    archive = os.path.join(ctx.tmpdir, "b.tar")
    _run(ctx, "backup", *srv.store_args(), "--out", archive)
    # written after the backup: the device's cursor runs ahead of it
    c = OutboxClient(srv, dev.token, "late", max_batches=3, pace=0)
    c.run()
    r2 = check(dev.sync(pull={"site/s1": cursor}), 200)
    ahead = r2["buckets"]["site/s1"]["cursor"]
    assert ahead > cursor
    rsrv = _restore_and_serve(ctx, archive, srv)
    r3 = check(sync(rsrv, dev.token, pull={"site/s1": ahead}), 200)
    assert r3["store"] != r["store"], "the device learns the store changed"
    b = r3["buckets"]["site/s1"]
    assert b.get("reset") is True, "a cursor beyond the restored bucket's " \
        "head gets reset: true: %r" % b
    # after the reset the device pulls from 0 and has everything the
    # backup held, and its resent outbox restores the rest
    r4 = check(sync(rsrv, dev.token, pull={"site/s1": 0}), 200)
    ids = {x["id"] for x in r4["buckets"]["site/s1"]["recs"]}
    assert {"sup"} <= ids
    c.srv = rsrv
    c.acked.clear()
    assert not c.flush(time.monotonic() + 10)
    r5 = check(sync(rsrv, dev.token, pull={"site/s1": 0}), 200)
    ids = {x["id"] for x in r5["buckets"]["site/s1"]["recs"]}
    want = {o["id"] for b in c.order for o in c.batches[b]}
    assert want <= ids, want - ids


def test_restore_refuses_damaged_archives(ctx):
    srv = ctx.server()
    setup_site(srv, "s1", staff=[("sup", "supervisor")])
    archive = os.path.join(ctx.tmpdir, "b.tar")
    _run(ctx, "backup", *srv.store_args(), "--out", archive)
    rc, out = _run(ctx, "backup", *srv.store_args(), "--out", archive,
                   ok=False)
    assert rc != 0 and "exists" in out, "never overwrites: %s" % out
    data = open(archive, "rb").read()
    cases = {
        "truncated": data[:len(data) // 2],
        "no end": data[:-1024],
        "flipped byte in the store": data[:2000] + bytes([data[2000] ^ 1]) +
        data[2001:],
        "empty": b"",
        "not a tar": b"hello" * 300,
    }
    for what, blob in cases.items():
        p = os.path.join(ctx.tmpdir, "bad.tar")
        with open(p, "wb") as f:
            f.write(blob)
        dst = os.path.join(ctx.tmpdir, "r-" + what.replace(" ", "-"))
        rc, out = _run(ctx, "restore", "--from", p,
                       *store_opts(dst, fresh_store_url()), ok=False)
        assert rc == 1 and "restore failed" in out, "%s: %s" % (what, out)
        assert not os.path.exists(dst), "%s: nothing put in place" % what
        left = [n for n in os.listdir(ctx.tmpdir) if ".restore-" in n]
        assert not left, "%s: scratch left behind: %r" % (what, left)
    # a member outside the layout (path traversal) is refused
    evil = os.path.join(ctx.tmpdir, "evil.tar")
    with tarfile.open(evil, "w", format=tarfile.USTAR_FORMAT) as tf:
        ti = tarfile.TarInfo("fieldsync-backup/../../etc/x")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    rc, out = _run(ctx, "restore", "--from", evil,
                   *store_opts(os.path.join(ctx.tmpdir, "r-evil"),
                               fresh_store_url()), ok=False)
    assert rc == 1 and "unexpected member" in out, out
    # a non-empty target is refused (on PostgreSQL: a database that holds
    # a store with records, the one backed up)
    full = os.path.join(ctx.tmpdir, "full")
    os.makedirs(full)
    open(os.path.join(full, "x"), "w").close()
    target = store_opts(full, srv.store_url) if srv.store_url else \
        ["--data", full]
    rc, out = _run(ctx, "restore", "--from", archive, *target, ok=False)
    why = "already holds a store with data" if srv.store_url else "not empty"
    assert rc == 1 and why in out, out
    # the good archive still restores, into an empty existing directory
    empty = os.path.join(ctx.tmpdir, "empty")
    os.makedirs(empty)
    into = store_opts(empty, fresh_store_url())
    _run(ctx, "restore", "--from", archive, *into)
    _run(ctx, "check", *into)


def test_check_finds_no_store(ctx):
    rc, out = _run(ctx, "check", "--data", os.path.join(ctx.tmpdir, "none"),
                   ok=False)
    assert rc == 1 and "no store" in out, out
