/*
 * interop.test.ts — the TypeScript client and the C CLI (build/fieldsync)
 * on one site: a record written by one and edited by the other converges
 * to the same fields and stamps on both devices and the server.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { open, memoryStorage, type Rec } from "../src/node.js";
import { normValue } from "../src/local.js";
import { Server, adminPull, cli, enrollCode, setupSite, tmp } from "./harness.js";

const srv = new Server();
after(() => srv.cleanup());

/** fieldsync --json get, with the 64-bit stamps kept exact (as strings). */
function cliGet(home: string, c: string, id: string): { f: Record<string, unknown>; s: Record<string, [string, string]> } {
	const out = cli(home, ["--json", "get", c, id]).replace(/\[(\d{15,}),/g, '["$1",');
	return JSON.parse(out).record;
}

const tsStamps = (r: Rec) => Object.fromEntries(Object.entries(r.s).map(([k, v]) => [k, [String(v[0]), v[1]]]));
const srvStamps = (r: { s: Record<string, [bigint | number, string]> }) =>
	Object.fromEntries(Object.entries(r.s).map(([k, v]) => [k, [String(v[0]), v[1]]]));

function same(label: string, a: { f: unknown; s: unknown }, b: { f: unknown; s: unknown }) {
	assert.deepEqual(a.f, b.f, label + ": fields");
	assert.deepEqual(a.s, b.s, label + ": stamps");
}

async function cliDevice(staff: string, role: string): Promise<string> {
	const home = tmp("cli-" + staff);
	cli(home, ["enroll", "--server", srv.url, "--code", await enrollCode(srv, "s1", role), "--insecure-http"]);
	cli(home, ["login", "--staff", staff, "--pin", "1234"]);
	cli(home, ["sync"]);
	return home;
}

test("a task done by the C CLI and edited by the TS client, and an order reported by the TS client and worked by the C CLI, converge everywhere", async () => {
	await srv.start();
	const s = await setupSite(srv);
	const cleaner = await cliDevice("c1", "cleaner");
	const tech = await cliDevice("t1", "technician");
	const ts = await open(memoryStorage(), { attempts: 2 });
	await ts.enroll(srv.url, await enrollCode(srv, "s1", "supervisor"));
	await ts.login("sup", "1234");
	await ts.sync();

	// C writes, TS edits
	cli(cleaner, ["done", "task-0", "--note", "mopped by C"]);
	cli(cleaner, ["sync"]);
	await ts.sync();
	assert.equal((await ts.get("task", "task-0"))!.f.note, "mopped by C");
	await ts.put("task", "task-0", { note: "checked by the supervisor (TS)", checklist_done: ["floor", "bins"] });
	await ts.sync();
	cli(cleaner, ["sync"]);
	const tsTask = (await ts.get("task", "task-0"))!;
	const cTask = cliGet(cleaner, "task", "task-0");
	const sTask = (await adminPull(srv, "shift/" + s.shift)).get("task/task-0");
	assert.equal(cTask.f.note, "checked by the supervisor (TS)");
	assert.equal(cTask.f.status, "done");
	same("task C vs TS", cTask, { f: tsTask.f, s: tsStamps(tsTask) });
	same("task server vs TS", { f: normValue(sTask.f), s: srvStamps(sTask) }, { f: tsTask.f, s: tsStamps(tsTask) });

	// TS writes, C edits, TS edits again
	const w = await ts.report({ category: "repair", title: "lobby light out", detail: "north door" });
	await ts.sync();
	cli(tech, ["sync"]);
	cli(tech, ["order", w.id, "accept", "--note", "on it (C)"]);
	cli(tech, ["order", w.id, "resolve", "--note", "new bulb (C)"]);
	cli(tech, ["sync"]);
	await ts.sync();
	assert.equal((await ts.get("order", w.id))!.f.status, "resolved");
	await ts.put("order", w.id, { status: "closed" });
	await ts.sync();
	cli(tech, ["sync"]);
	const tsOrder = (await ts.get("order", w.id))!;
	const cOrder = cliGet(tech, "order", w.id);
	const sOrder = (await adminPull(srv, "orders/s1")).get("order/" + w.id);
	assert.equal(cOrder.f.status, "closed");
	assert.equal(cOrder.f.assignee, "t1");
	assert.equal(cOrder.f.note, "new bulb (C)");
	assert.ok(typeof cOrder.f.resolve_by === "number", "server fields reach both");
	same("order C vs TS", cOrder, { f: tsOrder.f, s: tsStamps(tsOrder) });
	same("order server vs TS", { f: normValue(sOrder.f), s: srvStamps(sOrder) }, { f: tsOrder.f, s: tsStamps(tsOrder) });
	ts.close();
});
