/*
 * chromium.test.ts — the client in headless Chromium with IndexedDB:
 * durability across a reload while offline, two tabs syncing at once, and
 * evidence trust per page session (protocol/PROTOCOL.md, "Evidence time").
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { Server, adminPull, adminPush, enrollCode, metric, op, setupSite, type Site } from "./harness.js";
import { browser, front, openPage, routeAssets, type Context, type Front, type Page } from "./browser.js";

let srv: Server;
let site: Site;
let fr: Front;
let ctx: Context;

before(async () => {
	srv = await new Server().start();
	site = await setupSite(srv);
	fr = await front(() => srv.url);
	ctx = await browser();
	await routeAssets(ctx, fr.url);
});

after(async () => {
	await ctx?.close();
	await fr?.close();
	await srv?.cleanup();
});

// in the page: window.fs is the library, window.c the open client
type W = { fs: typeof import("../src/index.js"); c: import("../src/index.js").Client };

/** Enroll the page's client with a fresh code, log staff in, sync. */
async function enrollIn(p: Page, role: string, staff: string) {
	const code = await enrollCode(srv, "s1", role);
	await p.evaluate(
		async ([code, staff]) => {
			const { c } = window as unknown as W;
			await c.enroll(location.origin, code);
			await c.login(staff, "1234");
			await c.sync();
		},
		[code, staff],
	);
}

async function openClient(p: Page, db: string) {
	await p.evaluate(async (db) => {
		const w = window as unknown as W;
		w.c = await w.fs.open(w.fs.indexedDBStorage(db), { attempts: 1 });
	}, db);
}

test("IndexedDB: checkins resolved while offline survive page.reload() while still offline; scans of a page session that synced are verified, scans of a session reloaded away offline unverified", async () => {
	const p = await openPage(ctx, fr.url);
	await openClient(p, "durable");
	await enrollIn(p, "guard", "g1");
	const online = await p.evaluate(async () => {
		const { c } = window as unknown as W;
		const w = await c.checkin("TAG-0");
		await c.sync();
		return w.id;
	});
	await ctx.setOffline(true);
	const before = await p.evaluate(async () => {
		const { c } = window as unknown as W;
		const ids = [];
		for (const t of ["TAG-1", "cp-2", "TAG-0"]) ids.push((await c.checkin(t)).id);
		let err = "";
		await c.sync().catch((e: { code: string }) => (err = e.code));
		return { ids, err };
	});
	assert.equal(before.err, "ENET");
	// session 2: an offline reload; everything resolved before is there
	await p.reload();
	await p.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
	await openClient(p, "durable");
	const s2 = await p.evaluate(async () => {
		const { c } = window as unknown as W;
		const st = await c.status();
		const here = (await c.query({ collection: "checkin" })).map((r) => r.id);
		const ids = [];
		for (const t of ["TAG-2", "TAG-1"]) ids.push((await c.checkin(t)).id);
		return { pending: st.pendingOps, here, ids, loggedIn: st.loggedIn };
	});
	assert.equal(s2.pending, 3, "every resolved write survived the reload");
	assert.equal(s2.loggedIn, true);
	for (const id of before.ids) assert.ok(s2.here.includes(id));
	// session 3: reloaded again before any sync, then back online
	await p.reload();
	await p.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
	await openClient(p, "durable");
	assert.equal(await p.evaluate(async () => (await (window as unknown as W).c.status()).pendingOps), 5);
	await ctx.setOffline(false);
	const s3 = await p.evaluate(async () => {
		const { c } = window as unknown as W;
		const first = await c.sync();
		const w = await c.checkin("TAG-0");
		const s = await c.sync();
		return { acked: first.opsAcked + s.opsAcked, pending: (await c.status()).pendingOps, id: w.id };
	});
	assert.deepEqual([s3.acked, s3.pending], [6, 0]);
	const recs = await adminPull(srv, "shift/" + site.shift);
	assert.equal(recs.get("checkin/" + online).f.trust, "verified");
	for (const id of before.ids)
		assert.equal(recs.get("checkin/" + id).f.trust, "verified", "offline scans of a page session that had synced are anchored");
	for (const id of s2.ids)
		assert.equal(recs.get("checkin/" + id).f.trust, "unverified", "scans of a page session that never synced (reloaded offline)");
	assert.equal(recs.get("checkin/" + s3.id).f.trust, "verified", "scanned in the page session that synced");
	await p.close();
});

test("two tabs of one app sync at once: no batch sent twice, no op lost, each tab sees the other's changes", async () => {
	const a = await openPage(ctx, fr.url);
	const b = await openPage(ctx, fr.url);
	await openClient(a, "tabs");
	await openClient(b, "tabs");
	await enrollIn(a, "guard", "g2");
	await b.evaluate(() => {
		const w = window as unknown as W & { heard: string[] };
		w.heard = [];
		w.c.subscribe((ev) => w.heard.push(ev.source));
	});
	const dup0 = await metric(srv, "fieldsync_batches_dup_total");
	const work = async (p: Page) =>
		p.evaluate(async () => {
			const { c } = window as unknown as W;
			const ids: string[] = [];
			for (let r = 0; r < 4; r++) {
				const ws = [];
				for (let i = 0; i < 10; i++) ws.push(c.checkin(`TAG-${i % 3}`));
				ids.push(...(await Promise.all(ws)).map((w) => w.id));
				await Promise.all([c.sync(), c.sync()]);
			}
			return ids;
		});
	const [ia, ib] = await Promise.all([work(a), work(b)]);
	const left = await a.evaluate(async () => {
		const { c } = window as unknown as W;
		await c.sync();
		return (await c.status()).pendingOps;
	});
	assert.equal(left, 0);
	assert.equal(await metric(srv, "fieldsync_batches_dup_total"), dup0, "no batch sent twice at once");
	const recs = await adminPull(srv, "shift/" + site.shift);
	for (const id of [...ia, ...ib]) assert.ok(recs.has("checkin/" + id), "op " + id + " arrived");
	const heard = await b.evaluate(() => (window as unknown as { heard: string[] }).heard);
	assert.ok(heard.includes("other-tab"));
	const seen = await b.evaluate(async (ids) => {
		const { c } = window as unknown as W;
		return (await Promise.all(ids.map((id) => c.get("checkin", id)))).every((r) => r !== null);
	}, ia);
	assert.ok(seen, "tab b reads tab a's writes");
	const locks = await a.evaluate(() => !!navigator.locks);
	assert.ok(locks, "Web Locks in Chromium");
	await a.close();
	await b.close();
});

test("/v1/live in the browser: the token rides as a subprotocol (never in the URL) and a server change arrives without waiting for the interval", async () => {
	// a front of its own, its page not routed from memory: Chromium lets a
	// page fulfilled by routing (an unknown address space) open no socket
	// to loopback (Local Network Access)
	const fr2 = await front(() => srv.url);
	const p = await openPage(ctx, fr2.url);
	const urls: string[] = [];
	p.on("websocket", (ws) => urls.push(ws.url()));
	await openClient(p, "live");
	await enrollIn(p, "guard", "g1");
	const live0 = await metric(srv, "fieldsync_live_sockets");
	await p.evaluate(async () => {
		const { c } = window as unknown as W;
		(window as unknown as { stop: () => void }).stop = c.auto({ intervalMs: 600000 });
	});
	const until = async (what: string, cond: () => Promise<boolean>, ms = 8000) => {
		const end = Date.now() + ms;
		while (Date.now() < end) {
			if (await cond()) return;
			await new Promise((r) => setTimeout(r, 50));
		}
		assert.fail(what + " not in time");
	};
	await until("the live socket", async () => (await metric(srv, "fieldsync_live_sockets")) > live0);
	await adminPush(srv, [op("checkpoint", "cp-live", { site: "s1", name: "live", tag: "TAG-LIVE" })]);
	const t0 = Date.now();
	await until("the poked sync", () => p.evaluate(async () => (await (window as unknown as W).c.get("checkpoint", "cp-live")) !== null), 5000);
	assert.ok(Date.now() - t0 < 5000);
	assert.ok(urls.length >= 1, "the page opened a WebSocket");
	for (const u of urls) assert.match(u, /\/v1\/live$/, "no token in the URL: " + u);
	await p.evaluate(() => (window as unknown as { stop: () => void }).stop());
	await p.close();
	await fr2.close();
});
