/*
 * bench.ts — `make bench-js`: the TypeScript client's size and its timings
 * in headless Chromium on this machine, against a real fieldsyncd on
 * loopback behind the tests' same-origin front (clients/js/test/browser.ts).
 *   size       build/js/fieldsync.min.js (library + @msgpack/msgpack),
 *              gzip -9; target < 30 KB
 *   checkin    checkin() resolved = durably queued in IndexedDB; median of
 *              200; target < 20 ms
 *   first sync 10,000 records of a site into IndexedDB; target < 3 s
 *   empty sync a sync with nothing new: requests and median of 20;
 *              target 1 request, < 50 ms
 * Prints the figures and writes them to build/js/bench.json.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { BUILD, Server, adminPush, enrollCode, op, setupSite } from "../../clients/js/test/harness.js";
import { browser, front, openPage } from "../../clients/js/test/browser.js";

const RECORDS = 10000;
const CHECKINS = 200;
const EMPTY = 20;

type W = { fs: typeof import("../../clients/js/src/index.js"); c: import("../../clients/js/src/index.js").Client };

const median = (xs: number[]) => {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor(s.length / 2)];
};
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];

async function main() {
	const min = readFileSync(join(BUILD, "js", "fieldsync.min.js"));
	const gz = gzipSync(min, { level: 9 }).length;

	const srv = await new Server().start();
	const fr = await front(() => srv.url);
	const ctx = await browser();
	try {
		const s = await setupSite(srv);
		// 10,000 records in the guard's scope: tasks of the shift and
		// checkpoints, zones of the site, besides setupSite's few
		const ops = [];
		for (let i = 0; ops.length < RECORDS - 20; i++) {
			ops.push(op("task", `b-task-${i}`, { site: "s1", shift: s.shift, title: `Clean stairwell ${i}`, status: "open", due_from: Date.now(), due_to: Date.now() + 3600000 }));
			if (i % 4 === 0) ops.push(op("zone", `b-zone-${i}`, { site: "s1", name: `Zone ${i}`, kind: "stairwell" }));
		}
		await adminPush(srv, ops, 2000);
		const p = await openPage(ctx, fr.url);
		let syncs = 0;
		p.on("request", (r) => {
			if (r.url().endsWith("/v1/sync")) syncs++;
		});
		const code = await enrollCode(srv, "s1", "guard");
		const first = await p.evaluate(async (code) => {
			const w = window as unknown as W;
			w.c = await w.fs.open(w.fs.indexedDBStorage("bench"));
			await w.c.enroll(location.origin, code);
			await w.c.login("g1", "1234");
			const t0 = performance.now();
			const st = await w.c.sync();
			const ms = performance.now() - t0;
			return { ms, recs: st.recsPulled, rounds: st.rounds, held: (await w.c.query()).length };
		}, code);
		const checkins = await p.evaluate(async (n) => {
			const { c } = window as unknown as W;
			const out = [];
			for (let i = 0; i < n; i++) {
				const t0 = performance.now();
				await c.checkin(`TAG-${i % 3}`);
				out.push(performance.now() - t0);
			}
			await c.sync();
			return out;
		}, CHECKINS);
		syncs = 0;
		const empty = await p.evaluate(async (n) => {
			const { c } = window as unknown as W;
			const out = [];
			const net = [];
			for (let i = 0; i < n; i++) {
				performance.clearResourceTimings();
				const t0 = performance.now();
				await c.sync();
				out.push(performance.now() - t0);
				const e = performance.getEntriesByType("resource").filter((x) => x.name.endsWith("/v1/sync"));
				net.push(e.reduce((a, x) => a + x.duration, 0));
			}
			return { out, net };
		}, EMPTY);
		const r = {
			size_min_bytes: min.length,
			size_min_gzip_bytes: gz,
			first_sync_ms: Math.round(first.ms),
			first_sync_records: first.recs,
			first_sync_rounds: first.rounds,
			records_held: first.held,
			checkin_median_ms: +median(checkins).toFixed(2),
			checkin_p95_ms: +p95(checkins).toFixed(2),
			empty_sync_requests: syncs / EMPTY,
			empty_sync_median_ms: +median(empty.out).toFixed(2),
			empty_sync_request_median_ms: +median(empty.net).toFixed(2),
			chromium: ctx.browser()?.version() ?? "",
		};
		console.log(JSON.stringify(r, null, 2));
		writeFileSync(join(BUILD, "js", "bench.json"), JSON.stringify(r, null, 2) + "\n");
		const fails = [];
		if (gz >= 30 * 1024) fails.push("size");
		if (r.checkin_median_ms >= 20) fails.push("checkin");
		if (r.first_sync_ms >= 3000) fails.push("first sync");
		if (r.empty_sync_requests !== 1 || r.empty_sync_median_ms >= 50) fails.push("empty sync");
		console.log(fails.length ? "bench-js: over target: " + fails.join(", ") : "bench-js: every target met");
	} finally {
		await ctx.close();
		await fr.close();
		await srv.cleanup();
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
