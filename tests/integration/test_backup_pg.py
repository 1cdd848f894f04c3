"""Integration tests: moving a store between backends (issue 17).

An LMDB store with records, generated tasks and a photo is backed up,
restored into a PostgreSQL database (only `init`ed) of a throwaway cluster
(tests/pgcluster.py) and served with --store: an admin pull gives the same
records, a device sees the new store id, the photo is fetchable.  The
same archive format then goes the other way: a backup of the PostgreSQL
store restores into a new LMDB directory with the same records.  A restore
into a database that already holds a store with data is refused."""
import datetime
import hashlib
import os
import shutil
import subprocess
import time

from harness import (Server, admin_push, check, lmdb_only, now_hlc,
                     now_ms, op, pg_cluster, req, sync)
from deploylib import free_port
from loadgen import pull_all

TZ8 = datetime.timezone(datetime.timedelta(hours=8))
HOUR = 3600 * 1000
PHOTO = b"\xff\xd8 the lobby, moved between backends" * 40


def _run(ctx, *args, ok=True):
    p = subprocess.run([ctx.binary] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    if ok:
        assert p.returncode == 0, "fieldsyncd %s exited %d:\n%s" % (
            " ".join(args), p.returncode, out)
    return p.returncode, out


def _serve(ctx, data, admin_token_from, store_url=None):
    """Serve a restored store (DATA, or --store URL --data DATA) with the
    old admin token (a restore keeps the tokens; admin.token is a secret
    the archive does not hold)."""
    shutil.copy(os.path.join(admin_token_from, "admin.token"),
                os.path.join(data, "admin.token"))
    s = Server(ctx.binary, data=data)
    s.store_url = store_url     # serve --store URL --data DATA
    ctx.servers.append(s)
    return s.start()


def _tasks(recs):
    return {k for k, f in recs.items()
            if k[0] == "task" and not f.get("_deleted")}


def _same(recs, want, what):
    missing = sorted(set(want) - set(recs))
    extra = sorted(set(recs) - set(want))
    assert not missing and not extra, "%s: missing %r, extra %r" % (
        what, missing[:10], extra[:10])
    differ = [k for k in want if recs[k] != want[k]]
    assert not differ, "%s: records differ: %r" % (what, [
        (k, recs[k], want[k]) for k in differ[:3]])


def test_lmdb_to_postgresql_and_back(ctx):
    lmdb_only("it moves an LMDB store to PostgreSQL and back itself")
    srv = ctx.server()
    # a site with a cleaner's shift today, and the catalogue's standards:
    # the generator makes the shift's tasks
    today = datetime.datetime.fromtimestamp(now_ms() / 1000, TZ8).date()
    start = int(datetime.datetime(today.year, today.month, today.day, 7, 0,
                                  tzinfo=TZ8).timestamp() * 1000)
    admin_push(srv, [
        op("site", "s1", {"name": "S1", "tz": "Asia/Shanghai",
                          "households": 300}),
        op("zone", "z-stair", {"site": "s1", "name": "Stairs",
                               "kind": "stairwell"}),
        op("staff", "c1", {"site": "s1", "name": "C1", "role": "cleaner",
                           "active": True}),
        op("shift", "c-today", {"site": "s1", "role": "cleaner",
                                "starts": start, "ends": start + 12 * HOUR,
                                "staff": ["c1"], "lead": "c1"}),
    ])
    srv.stop()
    _run(ctx, "catalogue", *srv.store_args(), "--site", "s1")
    srv.start()
    photo = hashlib.sha256(PHOTO).hexdigest()
    check(req(srv, "PUT", "/v1/blobs/" + photo, raw=PHOTO,
              token=srv.admin_token,
              headers={"Content-Type": "application/octet-stream"}), 200)
    admin_push(srv, [op("zone", "z-lobby", {"site": "s1", "name": "Lobby"})])
    recs = {}
    for _ in range(100):
        recs, dups, old_store = pull_all(srv, srv.admin_token)
        if _tasks(recs):
            break
        time.sleep(0.1)
    assert _tasks(recs), "the generator made no task for the shift"
    assert not dups and ("zone", "z-lobby") in recs
    time.sleep(0.5)     # the generator's pass is over: nothing more comes
    recs, dups, old_store = pull_all(srv, srv.admin_token)
    archive = os.path.join(ctx.tmpdir, "lmdb.tar")
    _, out = _run(ctx, "backup", *srv.store_args(), "--out", archive)
    assert "backup of store %s" % old_store in out, out
    srv.stop()

    # into PostgreSQL: a database only `init`ed is empty enough
    cluster = pg_cluster()
    url = cluster.new_database()
    pgdata = os.path.join(ctx.tmpdir, "pgnode")
    _run(ctx, "init", "--store", url, "--data", pgdata)
    _, out = _run(ctx, "restore", "--from", archive, "--store", url,
                  "--data", pgdata)
    assert "integrity walk passed" in out and "into PostgreSQL" in out, out
    assert os.path.exists(os.path.join(pgdata, "blobs", photo)), out
    # the same database again: it holds a store with data now
    rc, out = _run(ctx, "restore", "--from", archive, "--store", url,
                   "--blobs", os.path.join(ctx.tmpdir, "other-blobs"),
                   ok=False)
    assert rc == 1 and "already holds a store with data" in out, out
    assert not os.path.exists(os.path.join(ctx.tmpdir, "other-blobs")), \
        "a refused restore leaves no photos' directory behind"
    # and `check --store` walks it
    _, out = _run(ctx, "check", "--store", url)
    assert ": ok (" in out, out

    psrv = _serve(ctx, pgdata, srv.data, store_url=url)
    precs, dups, pg_store = pull_all(psrv, psrv.admin_token)
    assert not dups, dups[:5]
    assert pg_store and pg_store != old_store, \
        "a restored store gets a new id (%s -> %s)" % (old_store, pg_store)
    _same(precs, recs, "PostgreSQL after the restore")
    # a device that synced with the old store sees the new id: it resets
    # its cursors and pulls again (protocol/PROTOCOL.md)
    r = check(sync(psrv, psrv.admin_token, pull={"site/s1": 10 ** 9},
                   hlc=now_hlc()), 200)
    assert r["store"] == pg_store != old_store
    r = req(psrv, "GET", "/v1/blobs/" + photo, token=psrv.admin_token)
    assert r.status == 200 and r.raw == PHOTO, "the photo: %r" % r

    # and back: a backup of the PostgreSQL store (the node keeps serving)
    # restores into a new LMDB directory with the same records
    archive2 = os.path.join(ctx.tmpdir, "pg.tar")
    _, out = _run(ctx, "backup", "--store", url, "--data", pgdata,
                  "--out", archive2)
    assert "backup of store %s" % pg_store in out and "1 blobs" in out, out
    precs, _, _ = pull_all(psrv, psrv.admin_token)
    psrv.stop()
    back = os.path.join(ctx.tmpdir, "back")
    _, out = _run(ctx, "restore", "--from", archive2, "--data", back)
    assert "integrity walk passed" in out, out
    lsrv = _serve(ctx, back, srv.data)
    lrecs, dups, l_store = pull_all(lsrv, lsrv.admin_token)
    assert not dups and l_store not in (pg_store, old_store)
    _same(lrecs, precs, "LMDB after the way back")
    _same(lrecs, recs, "LMDB after the way back, against the first store")
    r = req(lsrv, "GET", "/v1/blobs/" + photo, token=lsrv.admin_token)
    assert r.status == 200 and r.raw == PHOTO, "the photo: %r" % r


def test_schema_missing_and_newer_refused(ctx):
    """serve --store on a database nobody init'ed says to run init; init
    twice is the same store; a schema newer than this fieldsyncd's
    (server/store/pg/) stops both serve and init with the version named,
    and nothing is changed by them."""
    url = pg_cluster().new_database()
    db = url.rsplit("/", 1)[1]
    data = os.path.join(ctx.tmpdir, "d")
    os.makedirs(data)
    port = "127.0.0.1:%d" % free_port()
    rc, out = _run(ctx, "serve", "--store", url, "--data", data, "--listen",
                   port, "--insecure-http", ok=False)
    assert rc != 0 and "no fieldsync schema" in out and \
        "fieldsyncd init --store" in out, (rc, out)
    _run(ctx, "init", "--store", url, "--data", data)
    rows = pg_cluster().psql("SELECT count(*) FROM fs_schema", db=db).strip()
    assert rows == "1", rows
    have = int(pg_cluster().psql("SELECT version FROM fs_schema",
                                 db=db).strip())
    _run(ctx, "init", "--store", url, "--data", os.path.join(ctx.tmpdir, "e"))
    pg_cluster().psql("UPDATE fs_schema SET version = %d" % (have + 1), db=db)
    for args in (["serve", "--store", url, "--data", data, "--listen", port,
                  "--insecure-http"],
                 ["init", "--store", url, "--data", data]):
        rc, out = _run(ctx, *args, ok=False)
        assert rc != 0, out
        assert "newer than this fieldsyncd's" in out and \
            "version %d" % (have + 1) in out, out
    assert pg_cluster().psql("SELECT version FROM fs_schema",
                             db=db).strip() == str(have + 1)
