// harness.mjs — real fieldsyncd processes on loopback for the browser
// tests (like tests/integration/harness.py): init, serve the built app
// with --web, and the admin's side of the protocol (msgpack) to set up a
// site and to read back what the server holds.  Chromium is Debian's
// /usr/bin/chromium driven by playwright-core (no browser download).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { encode, decode } from "@msgpack/msgpack";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, "../../..");
const BIN = process.env.FIELDSYNCD || join(ROOT, "build/fieldsyncd");
const WEB = process.env.FIELDSYNC_WEB || join(ROOT, "build/web");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
    s.on("error", rej);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Integers above 32 bits as bigint, so msgpack sends them as integers
 * (times in ms), not as floats the server refuses. */
function ints(v) {
  if (typeof v === "number" && Number.isInteger(v) && Math.abs(v) > 0xffffffff) return BigInt(v);
  if (Array.isArray(v)) return v.map(ints);
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, ints(x)]));
  return v;
}
/* ...and back to numbers for the tests' comparisons. */
function nums(v) {
  if (typeof v === "bigint") return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (Array.isArray(v)) return v.map(nums);
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, nums(x)]));
  return v;
}

export class Server {
  /* prepare(bin, data): runs after init, before serve (the demo loads then). */
  constructor(args = [], prepare = null) { this.args = args; this.prepare = prepare; this.proc = null; }
  async start() {
    this.data = mkdtempSync(join(tmpdir(), "fieldsync-web-"));
    execFileSync(BIN, ["init", "--data", this.data], { stdio: "ignore", timeout: 60000 });
    this.token = readFileSync(join(this.data, "admin.token"), "utf8").trim();
    if (this.prepare) this.prepare(BIN, this.data);
    this.port = await freePort();
    this.url = "http://127.0.0.1:" + this.port;
    this.proc = spawn(BIN, ["serve", "--data", this.data, "--listen", "127.0.0.1:" + this.port, "--insecure-http",
      "--web", WEB, "--pbkdf2-iter", "1000", ...this.args], { stdio: ["ignore", "ignore", "pipe"] });
    this.log = "";
    this.proc.stderr.on("data", (d) => { this.log += d; });
    for (let i = 0; i < 100; i++) {
      try { if ((await fetch(this.url + "/healthz")).ok) return this; } catch { /* not up yet */ }
      await sleep(100);
    }
    throw new Error("fieldsyncd did not start: " + this.log);
  }
  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      await Promise.race([done, sleep(10000)]);
      if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
    }
    if (this.data && existsSync(this.data) && !process.env.KEEP) rmSync(this.data, { recursive: true, force: true });
  }
  /* A msgpack request with the admin token (or `token`); the decoded answer. */
  async req(method, path, body, token = this.token) {
    const r = await fetch(this.url + path, {
      method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/msgpack", Accept: "application/msgpack" },
      body: body === undefined ? undefined : encode(ints(body), { useBigInt64: true }),
    });
    const buf = new Uint8Array(await r.arrayBuffer());
    let out = null;
    try { out = buf.length ? nums(decode(buf, { useBigInt64: true })) : null; } catch { out = new TextDecoder().decode(buf); }
    if (!r.ok) throw new Error(method + " " + path + ": " + r.status + " " + JSON.stringify(out, (k, v) => typeof v === "bigint" ? String(v) : v));
    return out;
  }
  /* Admin writes: ops [{c, id, f}], stamped now. */
  async push(ops) {
    let hlc = BigInt(Date.now()) << 16n;
    const body = { v: 1, push: [{ batch: randomBytes(16), ops: ops.map((o) => ({ c: o.c, id: o.id, s: hlc++, f: o.f })) }] };
    const r = await this.req("POST", "/v1/sync", body);
    const ack = r.acks[0];
    if (ack.err || ack.rej.length) throw new Error("admin push refused: " + JSON.stringify(ack.rej));
    return r;
  }
  /* Every record of a bucket the server holds, as {c, id, f}. */
  async pull(bucket) {
    const recs = [];
    let cursor = 0;
    for (let i = 0; i < 50; i++) {
      const r = await this.req("POST", "/v1/sync", { v: 1, pull: { [bucket]: cursor }, limit: 10000 });
      const b = r.buckets[bucket];
      if (!b) return recs;
      recs.push(...b.recs);
      cursor = b.cursor;
      if (!b.more) return recs;
    }
    throw new Error("pull did not end");
  }
  async code(site, role) { return (await this.req("POST", "/v1/admin/enroll-codes", { site, role, uses: 5 })).code; }
  async pin(staff, pin) { return this.req("POST", "/v1/admin/staff-pin", { staff, pin }); }
}


/* A site for the tests: zone, 6 checkpoints with tags, a route every 30
 * min, a guard shift now (started 10 min ago), a cleaner's shift with a
 * task due now and one due later, a technician and a supervisor. */
export async function setupSite(srv, o = {}) {
  const site = o.site || "t1";
  const now = Date.now();
  const cpName = o.cpName || ((i) => "Checkpoint " + i);
  const ops = [
    { c: "site", id: site, f: { name: o.siteName || "Harbour Court", tz: "Asia/Shanghai", households: 400, ...(o.phone ? { phone: o.phone } : {}) } },
    { c: "zone", id: "z-lobby", f: { site, name: "Lobby", kind: "lobby" } },
    { c: "zone", id: "z-stair", f: { site, name: "Stairwell A", kind: "stairwell" } },
  ];
  const cps = [];
  for (let i = 1; i <= 6; i++) {
    const id = "cp-" + String(i).padStart(2, "0");
    cps.push(id);
    ops.push({ c: "checkpoint", id, f: { site, zone: "z-lobby", name: cpName(i), tag: "TAG-" + (1000 + i) } });
  }
  ops.push({ c: "route", id: "rt-night", f: { site, name: "Patrol", checkpoints: cps, every_min: o.every ?? 30, grace_min: o.grace ?? 10 } });
  const staff = [["g-1", "guard", "Li Wei"], ["c-1", "cleaner", "Wang Fang"], ["t-1", "technician", "Zhao Lei"], ["s-1", "supervisor", "Liu Yang"]];
  for (const [id, role, name] of staff) ops.push({ c: "staff", id, f: { site, name, role, active: true } });
  const start = o.start ?? now - 10 * 60000;
  ops.push({ c: "shift", id: "sh-guard", f: { site, role: "guard", starts: start, ends: start + 8 * 3600000, staff: ["g-1"], route: "rt-night", lead: "g-1" } });
  ops.push({ c: "shift", id: "sh-guard-next", f: { site, role: "guard", starts: start + 8 * 3600000, ends: start + 16 * 3600000, staff: ["g-1"] } });
  ops.push({ c: "shift", id: "sh-clean", f: { site, role: "cleaner", starts: now - 3600000, ends: now + 7 * 3600000, staff: ["c-1"] } });
  ops.push({ c: "shift", id: "sh-tech", f: { site, role: "technician", starts: now - 3600000, ends: now + 7 * 3600000, staff: ["t-1"] } });
  ops.push({ c: "shift", id: "sh-sup", f: { site, role: "supervisor", starts: now - 3600000, ends: now + 7 * 3600000, staff: ["s-1"] } });
  ops.push({ c: "task", id: "tk-now", f: { site, shift: "sh-clean", zone: "z-lobby", title: "Mop the lobby", due_from: now - 1800000, due_to: now + 3600000, status: "open" } });
  ops.push({ c: "task", id: "tk-later", f: { site, shift: "sh-clean", zone: "z-stair", title: "Sweep stairwell A", due_from: now + 3 * 3600000, due_to: now + 4 * 3600000, status: "open" } });
  if (o.extra) ops.push(...o.extra(site));
  await srv.push(ops);
  for (const [id] of staff) await srv.pin(id, "1234");
  return { site, cps };
}

export async function browser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROME_FLAGS, headless: true });
}

/* A phone-sized page, English unless asked. */
export async function phone(b, locale = "en-US") {
  const ctx = await b.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, locale, hasTouch: true, isMobile: true,
    timezoneId: "Europe/Berlin" });
  const page = await ctx.newPage();
  watch(page);
  return { ctx, page };
}

/* page.errors: uncaught errors and Content-Security-Policy violations. */
function watch(page) {
  page.on("pageerror", (e) => { (page.errors ??= []).push(String(e)); });
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) (page.errors ??= []).push(m.text()); });
}

export async function desktop(b, locale = "en-US") {
  const ctx = await b.newContext({ viewport: { width: 1366, height: 768 }, locale, timezoneId: "Europe/Berlin" });
  const page = await ctx.newPage();
  watch(page);
  return { ctx, page };
}

/* Enroll and log in through the screens (the testing contract's names). */
export async function enrollAndLogin(page, srv, site, role, staff) {
  const code = await srv.code(site, role);
  await page.goto(srv.url + "/");
  await page.getByRole("textbox", { name: "Server address" }).fill(srv.url);
  await page.getByRole("textbox", { name: "Enrollment code" }).fill(code);
  await page.getByRole("button", { name: "Enroll" }).click();
  await page.getByRole("textbox", { name: "Staff ID" }).fill(staff);
  await page.getByRole("textbox", { name: "PIN" }).fill("1234");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("link", { name: "Me", exact: true }).waitFor(); // logged in: the tabs are drawn
  await page.getByRole("status").filter({ hasText: /last sync/ }).waitFor({ timeout: 15000 });
}

/* Open a tab of the app by its link (a route change re-draws the screen). */
export async function tab(page, name, ready) {
  await page.getByRole("link", { name, exact: true }).click();
  await page.locator('a[aria-current="page"]', { hasText: name }).waitFor();
  if (ready) await ready.waitFor();
}

export async function waitPending(page, n, timeout = 15000) {
  await page.getByRole("status").filter({ hasText: new RegExp("\\b" + n + " pending") }).waitFor({ timeout });
}

export { sleep };
