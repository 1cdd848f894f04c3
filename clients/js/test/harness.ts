/*
 * harness.ts — real fieldsyncd processes on loopback for the client's
 * tests, as tests/integration/harness.py starts them: `init`, then
 * `serve --insecure-http` on a free port with cheap PINs; admin pushes to
 * set a site up; the C CLI for interoperability.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync, existsSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { pack, unpack } from "../src/http.js";

const here = dirname(fileURLToPath(import.meta.url));
/** build/ of the repository (tests run from build/js/test/). */
export const BUILD = process.env.FS_BUILD ?? resolve(here, "../..");
export const SERVER_BIN = join(BUILD, "fieldsyncd");
export const CLI_BIN = join(BUILD, "fieldsync");

export const tmp = (p: string) => mkdtempSync(join(tmpdir(), "fsjs-" + p + "-"));

export function freePort(): Promise<number> {
	return new Promise((res, rej) => {
		const s = createServer();
		s.once("error", rej);
		s.listen(0, "127.0.0.1", () => {
			const p = (s.address() as AddressInfo).port;
			s.close(() => res(p));
		});
	});
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Server {
	data: string;
	port = 0;
	proc: ChildProcess | null = null;
	args: string[];
	env: Record<string, string> = {};
	constructor(args: string[] = [], data?: string) {
		this.args = args;
		this.data = data ?? tmp("srv");
	}
	get url() {
		return `http://127.0.0.1:${this.port}`;
	}
	get adminToken(): string {
		return readFileSync(join(this.data, "admin.token"), "utf8").trim();
	}
	async start(): Promise<this> {
		if (!existsSync(join(this.data, "admin.token")))
			execFileSync(SERVER_BIN, ["init", "--data", this.data], { stdio: "pipe", timeout: 60000 });
		for (let attempt = 0; attempt < 3; attempt++) {
			if (!this.port || attempt) this.port = await freePort();
			const log = openSync(join(this.data, "serve.log"), "a");
			this.proc = spawn(
				SERVER_BIN,
				["serve", "--data", this.data, "--listen", `127.0.0.1:${this.port}`, "--insecure-http", "--pbkdf2-iter", "1000", "--rate-device-per-s", "0", ...this.args],
				{ stdio: ["ignore", log, log], env: { ...process.env, ...this.env } },
			);
			closeSync(log);
			const deadline = Date.now() + 10000;
			while (Date.now() < deadline && this.proc.exitCode === null) {
				try {
					const r = await fetch(this.url + "/healthz");
					if (r.status === 200) return this;
				} catch {
					/* not yet */
				}
				await sleep(50);
			}
			if (this.proc.exitCode === null) break;
		}
		throw new Error("fieldsyncd would not start: " + readFileSync(join(this.data, "serve.log"), "utf8").slice(-2000));
	}
	/** SIGKILL, as a power cut; wait for the process to be gone. */
	async kill9(): Promise<void> {
		const p = this.proc;
		if (!p || p.exitCode !== null) return;
		const gone = new Promise((r) => p.once("exit", r));
		p.kill("SIGKILL");
		await gone;
	}
	async stop(): Promise<void> {
		const p = this.proc;
		if (!p || p.exitCode !== null || p.signalCode) return;
		const gone = new Promise((r) => p.once("exit", r));
		p.kill("SIGTERM");
		const t = setTimeout(() => p.kill("SIGKILL"), 5000);
		await gone;
		clearTimeout(t);
	}
	/** Start again on the same port (a device keeps its URL). */
	async restart(): Promise<this> {
		await this.stop();
		return this.start();
	}
	async cleanup(): Promise<void> {
		await this.stop();
		rmSync(this.data, { recursive: true, force: true });
	}
}

export interface Resp {
	status: number;
	body: any;
}

export async function call(srv: Server | string, method: string, path: string, body?: unknown, token?: string): Promise<Resp> {
	const url = typeof srv === "string" ? srv : srv.url;
	const tok = token ?? (typeof srv === "string" ? undefined : srv.adminToken);
	const h: Record<string, string> = { Accept: "application/msgpack" };
	if (tok) h.Authorization = "Bearer " + tok;
	if (body !== undefined) h["Content-Type"] = "application/msgpack";
	const r = await fetch(url + path, { method, headers: h, body: body === undefined ? undefined : (pack(body) as BodyInit) });
	const b = new Uint8Array(await r.arrayBuffer());
	const ct = r.headers.get("content-type") ?? "";
	let out: unknown = b;
	if (ct.includes("msgpack") && b.length) out = unpack(b);
	else if (ct.includes("json")) out = JSON.parse(new TextDecoder().decode(b));
	else if (ct.startsWith("text/")) out = new TextDecoder().decode(b);
	return { status: r.status, body: out };
}

let lastHlc = 0n;
export function nowHlc(): bigint {
	let h = BigInt(Date.now()) << 16n;
	if (h <= lastHlc) h = lastHlc + 1n;
	lastHlc = h;
	return h;
}

export const op = (c: string, id: string, f: Record<string, unknown>, s?: bigint) => ({ c, id, s: s ?? nowHlc(), f });

/** Push ops as the admin; every op must apply. */
export async function adminPush(srv: Server, ops: unknown[], chunk = 1000): Promise<void> {
	for (let i = 0; i < ops.length; i += chunk) {
		const part = ops.slice(i, i + chunk);
		const r = await call(srv, "POST", "/v1/sync", { v: 1, push: [{ batch: randomBytes(16), ops: part }], pull: {}, limit: 1 });
		const ack = r.body?.acks?.[0];
		if (r.status !== 200 || ack?.err || ack?.rej?.length || ack?.applied !== part.length)
			throw new Error("admin push not applied: " + JSON.stringify(r.body, (_, v) => (typeof v === "bigint" ? String(v) : v)).slice(0, 500));
	}
}

/** The server's copy of a bucket, seen by the admin (every page). */
export async function adminPull(srv: Server, bucket: string): Promise<Map<string, any>> {
	const out = new Map<string, any>();
	let cursor = 0;
	for (let i = 0; i < 1000; i++) {
		const r = await call(srv, "POST", "/v1/sync", { v: 1, pull: { [bucket]: cursor }, limit: 10000 });
		const b = r.body?.buckets?.[bucket];
		if (!b) return out;
		for (const rec of b.recs) out.set(rec.c + "/" + rec.id, rec);
		cursor = Number(b.cursor);
		if (!b.more) break;
	}
	return out;
}

export interface Site {
	site: string;
	shift: string;
	checkpoints: string[];
	tasks: string[];
}

/** A site with a guard, a cleaner, a technician and a supervisor (PIN
 * 1234), one current shift with all of them, three checkpoints (tags
 * TAG-0..2) and three tasks. */
export async function setupSite(srv: Server, site = "s1"): Promise<Site> {
	const now = Date.now();
	const shift = `${site}-day`;
	const ops: unknown[] = [op("site", site, { name: "Site " + site, tz: "Asia/Shanghai", households: 100 })];
	const staff = [
		["g1", "guard"],
		["c1", "cleaner"],
		["t1", "technician"],
		["sup", "supervisor"],
		["g2", "guard"],
	];
	for (const [id, role] of staff) ops.push(op("staff", id, { site, name: "Staff " + id, role, active: true }));
	ops.push(op("route", "r1", { site, name: "night", checkpoints: ["cp-0", "cp-1", "cp-2"] }));
	ops.push(op("shift", shift, { site, role: "guard", starts: now - 3600000, ends: now + 8 * 3600000, staff: staff.map((s) => s[0]), route: "r1", lead: "sup" }));
	const checkpoints: string[] = [];
	for (let i = 0; i < 3; i++) {
		ops.push(op("checkpoint", `cp-${i}`, { site, name: `Checkpoint ${i}`, tag: `TAG-${i}` }));
		checkpoints.push(`cp-${i}`);
	}
	const tasks: string[] = [];
	for (let i = 0; i < 3; i++) {
		ops.push(op("task", `task-${i}`, { site, shift, title: `Task ${i}`, status: "open" }));
		tasks.push(`task-${i}`);
	}
	await adminPush(srv, ops);
	for (const [id] of staff) {
		const r = await call(srv, "POST", "/v1/admin/staff-pin", { staff: id, pin: "1234" });
		if (r.status !== 200) throw new Error("staff-pin: " + r.status);
	}
	return { site, shift, checkpoints, tasks };
}

export async function enrollCode(srv: Server, site: string, role?: string, uses = 1): Promise<string> {
	const r = await call(srv, "POST", "/v1/admin/enroll-codes", { site, ...(role ? { role } : {}), uses });
	if (r.status !== 200) throw new Error("enroll-codes: " + r.status);
	return r.body.code;
}

export async function metric(srv: Server, name: string): Promise<number> {
	const r = await fetch(srv.url + "/metrics");
	let n = 0;
	for (const line of (await r.text()).split("\n"))
		if (line.startsWith(name + " ") || line.startsWith(name + "{")) n += Number(line.split(" ").pop());
	return n;
}

/** Run the C CLI (build/fieldsync); returns stdout; throws on failure. */
export function cli(home: string, args: string[]): string {
	return execFileSync(CLI_BIN, ["--home", home, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60000 });
}
