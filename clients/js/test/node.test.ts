/*
 * node.test.ts — the client with the in-memory storage against real
 * fieldsyncd processes on loopback (harness.ts): the contract of
 * protocol/PROTOCOL.md as clients/sync.c keeps it.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, copyFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { open, memoryStorage, FieldsyncError, type Client, type Options } from "../src/node.js";
import { hlcWall } from "../src/clock.js";
import { Net } from "./net.js";
import { Server, SERVER_BIN, adminPull, adminPush, call, enrollCode, metric, op, setupSite, tmp } from "./harness.js";

const servers: Server[] = [];
after(async () => {
	for (const s of servers) await s.cleanup();
});

async function server(args: string[] = []): Promise<Server> {
	const s = await new Server(args).start();
	servers.push(s);
	return s;
}

async function device(srv: Server, staff: string, role: string, net = new Net(), opts: Options = {}) {
	const c = await open(memoryStorage("mem-" + Math.random()), { fetch: net.fetch, attempts: 2, backoffMs: 20, ...opts });
	await c.enroll(srv.url, await enrollCode(srv, "s1", role), "test " + staff);
	await c.login(staff, "1234");
	return { c, net };
}

async function rejects(p: Promise<unknown>, code: string) {
	await assert.rejects(p, (e: unknown) => e instanceof FieldsyncError && e.code === code);
}

test("an offline round: checkins, a task done with a photo and an urgent report queue offline, one sync sends them all, the scans are verified", async () => {
	const srv = await server();
	const s = await setupSite(srv);
	const { c, net } = await device(srv, "g1", "guard");
	await c.sync();
	assert.equal((await c.query({ collection: "checkpoint" })).length, 3);
	assert.equal(await c.currentShift(), s.shift);

	net.offline = true;
	const k1 = await c.checkin("TAG-0");
	const k2 = await c.checkin("cp-1", { method: "qr", note: "door shut" });
	const photo = new Uint8Array(50000).map((_, i) => (i * 7) & 255);
	await c.done("task-0", { note: "mopped", photo });
	const rep = await c.report({ category: "urgent_water", title: "pipe burst", detail: "B2" });
	assert.equal(rep.urgent, true);
	let st = await c.status();
	assert.equal(st.pendingOps, 4);
	assert.equal(st.urgentUnsent, 1);
	assert.equal(st.photosQueued, 1);
	assert.equal((await c.get("task", "task-0"))!.f.status, "done", "the local copy shows the write at once");
	await rejects(c.sync(), "ENET");
	assert.equal((await c.status()).pendingOps, 4, "an offline sync loses nothing");

	net.offline = false;
	const stats = await c.sync();
	assert.equal(stats.opsAcked, 4);
	assert.equal(stats.photosUploaded, 1);
	st = await c.status();
	assert.deepEqual([st.pendingOps, st.urgentUnsent, st.photosQueued, st.deadLetters], [0, 0, 0, 0]);
	assert.ok(st.lastSync > 0);
	assert.ok(Math.abs(st.clockOffset) < 5000);

	const recs = await adminPull(srv, "shift/" + s.shift);
	for (const k of [k1, k2]) {
		const r = recs.get("checkin/" + k.id);
		assert.ok(r, "checkin on the server");
		assert.equal(r.f.trust, "verified");
		assert.equal(r.f.staff, "g1");
	}
	const hex = createHash("sha256").update(photo).digest("hex");
	assert.equal(recs.get("task/task-0").f.photo, hex);
	const blob = await call(srv, "GET", "/v1/blobs/" + hex);
	assert.equal(blob.status, 200);
	assert.deepEqual(new Uint8Array(blob.body), photo);
	// the pulled server fields land in the local copy
	assert.equal((await c.get("checkin", k1.id))!.f.trust, "verified");
	assert.ok(net.log.some((l) => l.url.endsWith("/v1/sync") && l.encoding === "deflate"), "sync bodies go deflated");
	c.close();
});

test("a lost reply: the resend of the same batch comes back dup and nothing applies twice", async () => {
	const srv = await server();
	await setupSite(srv);
	const { c, net } = await device(srv, "g1", "guard");
	await c.sync();
	const w = await c.checkin("TAG-1");
	const dup0 = await metric(srv, "fieldsync_batches_dup_total");
	const applied0 = await metric(srv, "fieldsync_ops_applied_total");
	net.dropSyncReplies = 1;
	const st = await c.sync();
	assert.ok(st.retries >= 1);
	assert.equal(st.opsAcked, 1);
	assert.equal(await metric(srv, "fieldsync_batches_dup_total"), dup0 + 1, "the resend was dup");
	assert.equal(await metric(srv, "fieldsync_ops_applied_total"), applied0 + 1, "applied once");
	assert.equal((await c.status()).pendingOps, 0);
	assert.ok((await c.get("checkin", w.id))!.f.rcv, "server fields pulled");
	c.close();
});

test("kill -9 of the server in the middle of a push: after the restart one sync brings every op exactly once", async () => {
	const srv = await server();
	const s = await setupSite(srv);
	const { c, net } = await device(srv, "g1", "guard", new Net(), { attempts: 1 });
	await c.sync();
	const ids = new Set<string>();
	for (let i = 0; i < 1500; i++) ids.add((await c.checkin(`TAG-${i % 3}`)).id);
	net.before = async (url, init) => {
		if (url.endsWith("/v1/sync") && init.body) {
			net.before = null;
			setTimeout(() => void srv.kill9(), 15);
		}
	};
	await rejects(c.sync(), "ENET");
	assert.equal((await c.status()).pendingOps, 1500, "nothing acknowledged, nothing dropped");
	await srv.start();
	const st = await c.sync();
	assert.equal(st.opsRejected, 0);
	assert.equal((await c.status()).pendingOps, 0);
	const recs = await adminPull(srv, "shift/" + s.shift);
	const held = [...recs.keys()].filter((k) => k.startsWith("checkin/")).map((k) => k.slice(8));
	assert.equal(held.length, 1500);
	assert.deepEqual(new Set(held), ids);
	c.close();
});

test("a restored store (new store id): the copy is cleared and pulled again, the outbox is kept and sent", async () => {
	const srv = await server();
	const s = await setupSite(srv);
	const { c, net } = await device(srv, "g1", "guard");
	await c.sync();
	const archive = join(tmp("bk"), "b.tar");
	execFileSync(SERVER_BIN, ["backup", "--data", srv.data, "--out", archive], { stdio: "pipe" });
	await adminPush(srv, [op("checkpoint", "cp-late", { site: "s1", name: "after the backup", tag: "TAG-L" })]);
	await c.sync();
	assert.ok(await c.get("checkpoint", "cp-late"));
	const store0 = (await c.status()).store;
	net.offline = true;
	const w = await c.checkin("TAG-L");
	await srv.stop();
	const rdata = join(mkdtempSync(join(srv.data, "..", "fsjs-r-")), "d");
	execFileSync(SERVER_BIN, ["restore", "--from", archive, "--data", rdata], { stdio: "pipe" });
	copyFileSync(join(srv.data, "admin.token"), join(rdata, "admin.token"));
	const rsrv = new Server([], rdata);
	rsrv.port = srv.port;
	await rsrv.start();
	servers.push(rsrv);
	net.offline = false;
	const st = await c.sync();
	assert.equal(st.storeChanged, true);
	assert.notEqual((await c.status()).store, store0);
	assert.equal(await c.get("checkpoint", "cp-late"), null, "what the restored store lacks is gone from the copy");
	assert.ok(await c.get("checkpoint", "cp-0"), "and the rest pulled again");
	// the queued checkin names a checkpoint the restored store lacks; it
	// was kept and sent all the same (checkins are evidence)
	const recs = await adminPull(rsrv, "shift/" + s.shift);
	assert.ok(recs.get("checkin/" + w.id));
	assert.equal((await c.status()).pendingOps, 0);
	c.close();
});

test("CLOCK_AHEAD: a phone 20 minutes fast has its op restamped and accepted, and its later stamps are pulled back", async () => {
	const srv = await server();
	await setupSite(srv);
	const { c } = await device(srv, "t1", "technician", new Net(), { clock: { wallShiftMs: 20 * 60000 } });
	// written before any sync: stamped with the fast clock
	const w = await c.report({ category: "repair", title: "lift door squeaks" });
	assert.ok(hlcWall(w.hlc) > Date.now() + 15 * 60000);
	const st = await c.sync();
	assert.equal(st.opsRestamped, 1);
	assert.equal(st.opsRejected, 0);
	const s2 = await c.status();
	assert.equal(s2.deadLetters, 0);
	assert.equal(s2.pendingOps, 0);
	assert.ok(Math.abs(s2.clockOffset + 20 * 60000) < 5000, "offset learnt");
	const recs = await adminPull(srv, "orders/s1");
	const o = recs.get("order/" + w.id);
	assert.ok(o, "the order reached the server");
	assert.ok(Math.abs(hlcWall(BigInt(o.s.title[0])) - Date.now()) < 60000, "stamped with the corrected clock");
	const w2 = await c.accept(w.id, "on my way");
	assert.ok(Math.abs(hlcWall(w2.hlc) - Date.now()) < 60000, "the HLC was pulled back");
	const st2 = await c.sync();
	assert.equal(st2.opsRestamped, 0);
	assert.equal((await adminPull(srv, "orders/s1")).get("order/" + w.id).f.status, "accepted");
	c.close();
});

test("a phone clock set back is marked corrected; a scan from an earlier page session is unverified", async () => {
	const srv = await server();
	const s = await setupSite(srv);
	const { c } = await device(srv, "g1", "guard", new Net(), { clock: { wallShiftMs: -3 * 3600000 } });
	await c.sync();
	const a = await c.checkin("TAG-0");
	c.setClock({ bootId: "an-older-page-session" });
	const b = await c.checkin("TAG-1");
	c.setClock({ bootId: "the-page-after-reload" });
	await c.sync();
	const recs = await adminPull(srv, "shift/" + s.shift);
	assert.equal(recs.get("checkin/" + a.id).f.trust, "corrected");
	assert.equal(recs.get("checkin/" + b.id).f.trust, "unverified");
	c.close();
});

test("dead letters: a refused op is listed with its code, its local write is undone from cur, the rest of the batch applies", async () => {
	const srv = await server();
	await setupSite(srv);
	const { c } = await device(srv, "g1", "guard");
	await c.sync();
	await c.put("checkpoint", "cp-0", { name: "renamed by a guard" });
	const k = await c.checkin("TAG-2");
	assert.equal((await c.get("checkpoint", "cp-0"))!.f.name, "renamed by a guard");
	const st = await c.sync();
	assert.equal(st.opsRejected, 1);
	assert.equal(st.opsAcked, 1);
	const dead = await c.dead();
	assert.equal(dead.length, 1);
	assert.equal(dead[0].code, "FORBIDDEN");
	assert.equal(dead[0].c, "checkpoint");
	assert.equal(dead[0].by, "g1");
	assert.equal((await c.get("checkpoint", "cp-0"))!.f.name, "Checkpoint 0", "undone to the server's value");
	assert.ok(await c.get("checkin", k.id));
	assert.equal((await c.status()).deadLetters, 1);
	assert.equal(await c.clearDead(), 1);
	assert.equal((await c.status()).deadLetters, 0);
	// a write into a bucket outside the scope: OUT_OF_SCOPE, and the local
	// record (which the server has not) goes away
	await c.put("checkin", "ck-else", { site: "s1", shift: "other-shift", checkpoint: "cp-0", staff: "g1", at: Date.now(), method: "manual" });
	assert.ok(await c.get("checkin", "ck-else"));
	await c.sync();
	assert.equal((await c.dead())[0].code, "OUT_OF_SCOPE");
	assert.equal(await c.get("checkin", "ck-else"), null);
	c.close();
});

test("paging through 5,000 records, gone when a record moves away, drop when a bucket leaves the scope", async () => {
	const srv = await server();
	const s = await setupSite(srv);
	const ops = [];
	for (let i = 0; i < 5000; i++) ops.push(op("task", `bulk-${i}`, { site: "s1", shift: s.shift, title: `bulk ${i}`, status: "open" }));
	await adminPush(srv, ops);
	const { c } = await device(srv, "g1", "guard");
	const st = await c.sync();
	assert.ok(st.rounds >= 6, `rounds ${st.rounds}`);
	assert.equal((await c.query({ collection: "task" })).length, 5003);
	assert.equal((await c.query({ bucket: "shift/" + s.shift, where: { title: "bulk 4999" } })).length, 1);
	// a task moved to a shift the guard is not on: gone
	const now = Date.now();
	await adminPush(srv, [
		op("shift", "other", { site: "s1", role: "guard", starts: now - 3600000, ends: now + 3600000, staff: ["g2"] }),
		op("task", "bulk-7", { shift: "other" }),
	]);
	const st2 = await c.sync();
	assert.equal(st2.gone, 1);
	assert.equal(await c.get("task", "bulk-7"), null);
	// the guard taken off the shift: its bucket is dropped
	await adminPush(srv, [op("shift", s.shift, { staff: ["g2"] })]);
	const st3 = await c.sync();
	assert.equal(st3.bucketsDropped, 1);
	assert.equal((await c.query({ collection: "task" })).length, 0);
	c.close();
});

test("photos: an upload cut off mid-body stays queued and holds back the record naming it; the next sync resumes; one copy per photo", async () => {
	const srv = await server();
	const s = await setupSite(srv);
	const { c, net } = await device(srv, "c1", "cleaner", new Net(), { attempts: 1 });
	await c.sync();
	const photo = new Uint8Array(2 << 20).map((_, i) => (i * 31 + (i >> 9)) & 255);
	const hex = createHash("sha256").update(photo).digest("hex");
	await c.done("task-1", { photo });
	await c.done("task-2", { photo: photo.buffer.slice(0) });
	assert.equal((await c.status()).photosQueued, 1, "one copy queued");
	net.before = async (url, init) => {
		if (!url.includes("/v1/blobs/")) return;
		net.before = null;
		const body = init.body as Uint8Array;
		let sent = false;
		init.body = new ReadableStream({
			pull(ctl) {
				if (!sent) {
					sent = true;
					ctl.enqueue(body.subarray(0, body.length >> 1));
				} else ctl.error(new Error("connection cut"));
			},
		});
		(init as { duplex?: string }).duplex = "half";
	};
	await rejects(c.sync(), "ENET");
	let st = await c.status();
	assert.equal(st.photosQueued, 1);
	assert.equal(st.pendingOps, 2, "the records wait for their photo");
	assert.equal((await call(srv, "GET", "/v1/blobs/" + hex)).status, 404);
	assert.equal((await adminPull(srv, "shift/" + s.shift)).get("task/task-1").f.status, "open");
	const stats = await c.sync();
	assert.equal(stats.photosUploaded, 1);
	st = await c.status();
	assert.deepEqual([st.photosQueued, st.pendingOps], [0, 0]);
	const blob = await call(srv, "GET", "/v1/blobs/" + hex);
	assert.deepEqual(new Uint8Array(blob.body), photo);
	const recs = await adminPull(srv, "shift/" + s.shift);
	assert.equal(recs.get("task/task-1").f.photo, hex);
	assert.equal(recs.get("task/task-2").f.photo, hex);
	// the cleaner's device can fetch what it uploaded
	assert.deepEqual(await c.photo(hex), photo);
	c.close();
});

test("two clients over one storage (two tabs) syncing at once never send a batch twice nor lose an op", async () => {
	const srv = await server();
	const s = await setupSite(srv);
	const store = memoryStorage("shared-tabs");
	const a = await open(store, { attempts: 2 });
	await a.enroll(srv.url, await enrollCode(srv, "s1", "guard"));
	await a.login("g1", "1234");
	await a.sync();
	const b = await open(store, { attempts: 2 });
	const heard: string[] = [];
	b.subscribe((ev) => heard.push(ev.source));
	const dup0 = await metric(srv, "fieldsync_batches_dup_total");
	const ids: string[] = [];
	for (let round = 0; round < 5; round++) {
		const writes = [];
		for (let i = 0; i < 20; i++) writes.push((i % 2 ? a : b).checkin(`TAG-${i % 3}`));
		ids.push(...(await Promise.all(writes)).map((w) => w.id));
		await Promise.all([a.sync(), b.sync(), a.sync()]);
	}
	assert.equal((await a.status()).pendingOps, 0);
	assert.equal(await metric(srv, "fieldsync_batches_dup_total"), dup0, "no batch sent twice");
	const recs = await adminPull(srv, "shift/" + s.shift);
	assert.equal([...recs.keys()].filter((k) => k.startsWith("checkin/")).length, 100);
	for (const id of ids) assert.ok(recs.has("checkin/" + id));
	assert.ok(heard.includes("other-tab"), "a tab hears the other's changes");
	a.close();
	b.close();
});

test("a shared handheld: the first staff member's queued work goes out under their name (by) after the next one logs in", async () => {
	const srv = await server();
	const s = await setupSite(srv);
	const { c, net } = await device(srv, "g1", "guard");
	await c.sync();
	net.offline = true;
	const k1 = await c.checkin("TAG-0");
	await c.logout();
	assert.equal(await c.session(), null);
	await rejects(c.checkin("TAG-1"), "ESTATE");
	net.offline = false;
	await c.login("g2", "1234");
	const k2 = await c.checkin("TAG-1");
	const st = await c.sync();
	assert.equal(st.opsAcked, 2);
	assert.equal(st.opsRejected, 0);
	const recs = await adminPull(srv, "shift/" + s.shift);
	assert.equal(recs.get("checkin/" + k1.id).f.staff, "g1");
	assert.equal(recs.get("checkin/" + k2.id).f.staff, "g2");
	const who = await c.session();
	assert.deepEqual([who!.staff, who!.role, who!.site], ["g2", "guard", "s1"]);
	assert.match(who!.store, /^[0-9a-f]{32}$/);
	c.close();
});

test("UNAVAILABLE: a batch the server could not store stays queued and is sent by a later sync", async () => {
	const shim = join(process.env.FS_BUILD ?? "", "tests", "syncshim.so");
	const fail = join(tmp("shim"), "fail");
	const srv = new Server();
	srv.env = { LD_PRELOAD: shim, FS_SHIM_FAIL: fail };
	await srv.start();
	servers.push(srv);
	const s = await setupSite(srv);
	const { c } = await device(srv, "g1", "guard");
	await c.sync();
	const k = await c.checkin("TAG-0");
	execFileSync("touch", [fail]);
	const st = await c.sync();
	assert.ok(st.batchesUnavailable >= 1);
	assert.equal((await c.status()).pendingOps, 1);
	rmSync(fail);
	const st2 = await c.sync();
	assert.equal(st2.opsAcked, 1);
	assert.ok((await adminPull(srv, "shift/" + s.shift)).get("checkin/" + k.id));
	c.close();
});

test("automatic sync: a write is sent on its own, and a /v1/live poke brings another device's change", async () => {
	const srv = await server();
	await setupSite(srv);
	const { c } = await device(srv, "g1", "guard");
	const stop = c.auto({ intervalMs: 60000 });
	const until = async (cond: () => Promise<boolean>, ms = 8000) => {
		const end = Date.now() + ms;
		while (Date.now() < end) {
			if (await cond()) return;
			await new Promise((r) => setTimeout(r, 50));
		}
		assert.fail("not in time");
	};
	await until(async () => (await c.status()).lastSync > 0);
	await c.checkin("TAG-0");
	await until(async () => (await c.status()).pendingOps === 0);
	await new Promise((r) => setTimeout(r, 500)); // the socket is open
	await adminPush(srv, [op("checkpoint", "cp-new", { site: "s1", name: "new", tag: "TAG-N" })]);
	await until(async () => (await c.get("checkpoint", "cp-new")) !== null);
	stop();
	c.close();
});

test("order steps take photos: each uploaded before the order that names it, added to the reporter's, once each", async () => {
	const srv = await server();
	await setupSite(srv);
	const { c: g } = await device(srv, "g1", "guard");
	const { c: t } = await device(srv, "t1", "technician");
	const pic = (k: number, n = 30000) => new Uint8Array(n).map((_, i) => (i * k + 11) & 255);
	const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
	const [p0, p1, p2, p3] = [pic(3), pic(5), pic(7), pic(9)];
	const w = await g.report({ category: "repair", title: "Door closer", photo: p0 });
	await g.sync();
	await t.sync();
	await t.accept(w.id, { note: "on my way", photos: [p1] });
	await t.onSite(w.id, "here");
	await t.resolve(w.id, { note: "replaced", photos: [p2, p3, p1] });
	const st = await t.status();
	assert.equal(st.photosQueued, 3, "three photos queued, p1 once");
	assert.deepEqual((await t.get("order", w.id))!.f.photos, [hex(p0), hex(p1), hex(p2), hex(p3)]);
	const stats = await t.sync();
	assert.equal(stats.photosUploaded, 3);
	assert.deepEqual([(await t.status()).photosQueued, (await t.status()).pendingOps], [0, 0]);
	const o = (await adminPull(srv, "orders/s1")).get("order/" + w.id).f;
	assert.equal(o.status, "resolved");
	assert.equal(o.note, "replaced");
	assert.deepEqual(o.photos, [hex(p0), hex(p1), hex(p2), hex(p3)]);
	for (const p of [p0, p1, p2, p3]) {
		const b = await call(srv, "GET", "/v1/blobs/" + hex(p));
		assert.equal(b.status, 200);
		assert.deepEqual(new Uint8Array(b.body), p);
	}
	// limits are checked before any work: 21 photos in one step, and (on
	// an order still open, since a resolved one takes no further step) 17
	// more on top of the 4 the order holds
	await rejects(t.resolve(w.id, { photos: Array.from({ length: 21 }, (_, i) => pic(i + 20, 10)) }), "EINVAL");
	const w2 = await g.report({ category: "repair", title: "Gate hinge", photo: p0 });
	await g.sync();
	await t.sync();
	await t.accept(w2.id, { photos: [p1, p2, p3] });
	await t.sync();
	await rejects(t.onSite(w2.id, { photos: Array.from({ length: 17 }, (_, i) => pic(i + 50, 10)) }), "EINVAL");
	assert.deepEqual([(await t.status()).photosQueued, (await t.status()).pendingOps], [0, 0]);
	g.close();
	t.close();
});

test("an attached admin token writes setup records (zones, checkpoints, routes, staff, standards, shifts) with the admin's rights; evidence still needs a staff login", async () => {
	const srv = await server();
	await setupSite(srv);
	await adminPush(srv, [op("site", "s2", { name: "Site s2", tz: "Asia/Shanghai" })]);
	const c = await open(memoryStorage("mem-admin"), { attempts: 2, backoffMs: 20 });
	await c.attach(srv.url, srv.adminToken);
	await c.sync();
	const now = Date.now();
	await c.put("zone", "z-new", { site: "s2", name: "Lobby", kind: "lobby" });
	await c.put("checkpoint", "cp-2", { name: "Renamed by the admin" });
	await c.put("checkpoint", "cp-s2", { site: "s2", zone: "z-new", name: "Gate", tag: "TAG-S2" });
	await c.put("route", "r-s2", { site: "s2", name: "day", checkpoints: ["cp-s2"], every_min: 60, grace_min: 10 });
	await c.put("staff", "sup2", { site: "s2", name: "Supervisor two", role: "supervisor", active: true });
	await c.put("staff", "g2", { active: false });
	await c.put("standard", "std-s2", { site: "s2", zone: "z-new", title: "Sweep", role: "cleaner", per: "day", times: 1, evidence: "none" });
	await c.put("shift", "sh-s2", { site: "s2", role: "guard", starts: now, ends: now + 3600000, staff: ["sup2"], route: "r-s2" });
	await c.put("site", "s2", { households: 300 });
	assert.equal((await c.status()).pendingOps, 9);
	const st = await c.sync();
	assert.equal(st.opsAcked, 9, "every setup write applied");
	const after = await c.status();
	assert.deepEqual([after.pendingOps, after.deadLetters], [0, 0]);
	const s1 = await adminPull(srv, "site/s1");
	const s2 = await adminPull(srv, "site/s2");
	assert.equal(s1.get("checkpoint/cp-2").f.name, "Renamed by the admin");
	assert.equal(s1.get("staff/g2").f.active, false);
	for (const k of ["zone/z-new", "checkpoint/cp-s2", "route/r-s2", "staff/sup2", "standard/std-s2", "shift/sh-s2", "site/s2"]) assert.ok(s2.has(k), k);
	assert.equal(s2.get("site/s2").f.households, 300);
	assert.match(s2.get("zone/z-new").s.name[1], /^admin-/, "the server stamps it with the admin's device");
	assert.equal((await c.get("zone", "z-new"))?.f.name, "Lobby", "the local copy has the server's version");
	// server-owned fields stay the server's, for the admin too
	await rejects(c.put("order", "o-admin", { site: "s2", respond_by: now }), "EINVAL");
	// evidence is a person's: no staff, no checkin
	await rejects(c.checkin("TAG-0"), "ESTATE");
	await rejects(c.done("task-0"), "ESTATE");
	// a staff login ends the admin's writing rights on this store
	await c.logout();
	await rejects(c.put("zone", "z-x", { site: "s1", name: "x" }), "ESTATE");
	c.close();
});

test("bad input gets clear errors and queues nothing", async () => {
	const srv = await server();
	await setupSite(srv);
	const { c } = await device(srv, "g1", "guard");
	await c.sync();
	await rejects(c.put("nope", "x", { a: 1 }), "EINVAL");
	await rejects(c.put("task", "bad id!", { note: "x" }), "EINVAL");
	await rejects(c.put("task", "task-0", { nofield: 1 }), "EINVAL");
	await rejects(c.put("checkin", "ck-x", { trust: "verified" }), "EINVAL");
	await rejects(c.put("task", "task-0", { done_at: -5 }), "EINVAL");
	await rejects(c.checkin("NO-SUCH-TAG"), "EINVAL");
	await rejects(c.done("no-task"), "ENOTFOUND");
	await rejects(c.report({ category: "fire" as never, title: "x" }), "EINVAL");
	await rejects(c.enroll(srv.url, "AAAA"), "ESTATE");
	assert.equal((await c.status()).pendingOps, 0);
	const fresh = await open(memoryStorage(), { attempts: 1 });
	await rejects(fresh.enroll(srv.url, "WRONGCODE2345678"), "EAUTH");
	await fresh.enroll(srv.url, await enrollCode(srv, "s1", "guard"));
	await rejects(fresh.login("g1", "9999"), "EAUTH");
	await rejects(fresh.login("t1", "1234"), "ESERVER"); // a guard's code: 403
	fresh.close();
	c.close();
});

test("checkin({sun}): a secure tag's URL (AN12196's all-zero-key example) goes as read and the server verifies it once, then calls it replayed", async () => {
	const dir = tmp("tagkey");
	const keyFile = join(dir, "tag.key");
	writeFileSync(keyFile, "3c".repeat(32) + "\n", { mode: 0o600 });
	const srv = await server(["--tag-key-file", keyFile]);
	const s = await setupSite(srv);
	const zero = "00".repeat(16);
	const reg = await call(srv, "POST", "/v1/admin/tags", { checkpoint: "cp-0", uid: "04de5f1eacc040", meta_key: zero, file_key: zero });
	assert.equal(reg.status, 200);
	const { c } = await device(srv, "g1", "guard");
	await c.sync();
	const url = "https://sdm.nfcdeveloper.com/tag?picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086";
	const k1 = await c.checkin("TAG-0", { sun: url });
	const k2 = await c.checkin("TAG-0", { sun: url });
	await rejects(c.checkin("TAG-0", { sun: "x".repeat(1025) }), "EINVAL");
	await c.sync();
	const recs = await adminPull(srv, "shift/" + s.shift);
	const f1 = recs.get("checkin/" + k1.id).f, f2 = recs.get("checkin/" + k2.id).f;
	assert.equal(f1.sun, url);
	assert.deepEqual([f1.tag, f1.tag_ctr, f1.verdict], ["verified", 61, "strong"]);
	assert.deepEqual([f2.tag, f2.verdict], ["replayed", "suspect"]);
	assert.equal((await c.get("checkin", k2.id))!.f.tag, "replayed", "the verdict is pulled into the local copy");
	c.close();
	rmSync(dir, { recursive: true, force: true });
});

test("orders move forward only: two phones step one order offline, the older resolve beats the newer accept, both converge with the server; a step back is refused; a done task ticked again changes nothing", async () => {
	const srv = await server();
	await setupSite(srv);
	await adminPush(srv, [
		op("order", "wo-leak-1", { site: "s1", category: "repair", title: "Leak", reporter: "sup", reported_at: Date.now() - 3600000, status: "reported", assignee: "t1" }),
	]);
	const a = await device(srv, "t1", "technician");
	const b = await device(srv, "t1", "technician");
	await a.c.sync();
	await b.c.sync();
	a.net.offline = true;
	b.net.offline = true;
	await a.c.accept("wo-leak-1");
	await a.c.onSite("wo-leak-1");
	await a.c.resolve("wo-leak-1");
	await rejects(a.c.accept("wo-leak-1"), "ESTATE");
	await new Promise((r) => setTimeout(r, 5));
	await b.c.accept("wo-leak-1"); // the newer stamp
	const bAccepted = (await b.c.get("order", "wo-leak-1"))!.f.accepted_at;
	a.net.offline = false;
	b.net.offline = false;
	for (let i = 0; i < 2; i++) for (const d of [b, a]) await d.c.sync();
	const ra = (await a.c.get("order", "wo-leak-1"))!;
	const rb = (await b.c.get("order", "wo-leak-1"))!;
	const srvRec = (await adminPull(srv, "orders/s1")).get("order/wo-leak-1");
	assert.equal(ra.f.status, "resolved");
	assert.deepEqual(ra.f, rb.f);
	const num = (f: Record<string, unknown>) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]));
	assert.deepEqual(ra.f, num(srvRec.f));
	assert.equal(ra.f.accepted_at, bAccepted, "the first accept the server got sets accepted_at");
	assert.equal(ra.f.resolved_trust, "verified");

	const { c } = await device(srv, "c1", "cleaner");
	await c.sync();
	await c.done("task-0");
	await rejects(c.done("task-0"), "ESTATE");
	await c.sync();
	const t = (await adminPull(srv, "shift/s1-day")).get("task/task-0");
	assert.equal(t.f.done_trust, "verified");
	assert.ok(Number(t.f.done_at_est) > 0);
});

test("alerts: a supervisor's client lists the entrapment's alert and acknowledges it; a guard's has none", async () => {
	const srv = await server(["--alert-poll-ms", "200"]);
	await setupSite(srv);
	const g = await device(srv, "g1", "guard");
	await g.c.report({ category: "elevator_entrapment", title: "lift 2" });
	await g.c.sync();
	const sup = await device(srv, "sup", "supervisor");
	let list: Awaited<ReturnType<Client["alerts"]>> = [];
	for (let i = 0; i < 50 && !list.length; i++) {
		await sup.c.sync();
		list = await sup.c.alerts();
		if (!list.length) await new Promise((r) => setTimeout(r, 100));
	}
	assert.equal(list.length, 1);
	assert.equal(list[0].f.kind, "urgent_order");
	assert.match(String(list[0].f.text_zh), /电梯困人/);
	await sup.c.ack(list[0].id);
	await sup.c.sync();
	const srvRec = (await adminPull(srv, "alerts/s1")).get("alert/" + list[0].id);
	assert.equal(srvRec.f.acked_by, "sup");
	await rejects(sup.c.ack("al:none"), "ENOTFOUND");
	await g.c.sync();
	assert.deepEqual(await g.c.alerts({ all: true }), []);
});
