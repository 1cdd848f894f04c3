// web.test.mjs — the web app in Debian's Chromium against real fieldsyncd
// processes (issue 13's tests).  `make test-web`; node's test runner
// prints the pass/fail summary and exits non-zero on a failure.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { Server, setupSite, browser, phone, desktop, enrollAndLogin, waitPending, tab, ROOT } from "./harness.mjs";

let b;
before(async () => { b = await browser(); });
after(async () => { await b?.close(); });

async function withServer(fn, args) {
  const srv = await new Server(args).start();
  try { await fn(srv); } finally { await srv.stop(); }
}

const f = (r) => r.f;

test("guard: offline round from a cold start, 5 checkins verified", () => withServer(async (srv) => {
  const { site } = await setupSite(srv);
  const { ctx, page } = await phone(b);
  await enrollAndLogin(page, srv, site, "guard", "g-1");
  await waitPending(page, 0);
  // the service worker holds the shell before we cut the network
  await page.waitForFunction(() => navigator.serviceWorker?.controller != null || navigator.serviceWorker.ready.then(() => true), null, { timeout: 10000 });
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await ctx.setOffline(true);
  await page.reload();
  await page.getByRole("textbox", { name: "Tag" }).waitFor();
  for (let i = 1; i <= 5; i++) {
    await page.getByRole("textbox", { name: "Tag" }).fill("TAG-" + (1000 + i));
    await page.getByRole("button", { name: "Check in" }).click();
    await waitPending(page, i);
  }
  await page.getByRole("status").filter({ hasText: "Offline" }).waitFor();
  await ctx.setOffline(false);
  await page.getByRole("button", { name: "Sync now" }).click();
  await waitPending(page, 0, 20000);
  const cks = (await srv.pull("shift/sh-guard")).filter((r) => r.c === "checkin");
  assert.equal(cks.length, 5, "the server holds exactly the 5 checkins");
  assert.deepEqual(cks.map((r) => f(r).checkpoint).sort(), ["cp-01", "cp-02", "cp-03", "cp-04", "cp-05"]);
  for (const r of cks) assert.equal(f(r).trust, "verified", r.id + " trust");
  // a 6th scan queued offline survives a reload; its page session had
  // synced before (the server holds that session's anchor), so it is
  // still verified when the next page session sends it
  await ctx.setOffline(true);
  await page.getByRole("textbox", { name: "Tag" }).fill("TAG-1006");
  await page.getByRole("button", { name: "Check in" }).click();
  await waitPending(page, 1);
  await page.reload();
  await waitPending(page, 1);
  await ctx.setOffline(false);
  await page.getByRole("button", { name: "Sync now" }).click();
  await waitPending(page, 0, 20000);
  const six = (await srv.pull("shift/sh-guard")).filter((r) => r.c === "checkin" && f(r).checkpoint === "cp-06");
  assert.equal(six.length, 1);
  assert.equal(f(six[0]).trust, "verified");
  assert.deepEqual(page.errors ?? [], []);
  await ctx.close();
}));

test("cleaner: a tick with a photo; an early tick refused", () => withServer(async (srv) => {
  const { site } = await setupSite(srv);
  const { ctx, page } = await phone(b);
  await enrollAndLogin(page, srv, site, "cleaner", "c-1");
  await page.getByRole("heading", { name: "Mop the lobby" }).waitFor();
  // early: the later task
  await page.getByRole("button", { name: "Done: Sweep stairwell A" }).click();
  await page.getByRole("alert").filter({ hasText: "Too early" }).waitFor();
  // a 64x48 PNG made by the page itself
  const png = await page.evaluate(async () => {
    const c = document.createElement("canvas"); c.width = 64; c.height = 48;
    const g = c.getContext("2d"); g.fillStyle = "#3a7"; g.fillRect(0, 0, 64, 48);
    const blob = await new Promise((r) => c.toBlob(r, "image/png"));
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  });
  const item = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: "Mop the lobby" }) });
  await item.getByRole("textbox", { name: "Note" }).fill("wet floor sign out");
  await item.getByLabel("Photo").setInputFiles({ name: "lobby.png", mimeType: "image/png", buffer: Buffer.from(png) });
  await page.getByRole("button", { name: "Done: Mop the lobby" }).click();
  await waitPending(page, 1);
  await page.getByRole("button", { name: "Sync now" }).click();
  await waitPending(page, 0, 20000);
  const tasks = await srv.pull("shift/sh-clean");
  const now = f(tasks.find((r) => r.id === "tk-now"));
  const later = f(tasks.find((r) => r.id === "tk-later"));
  assert.equal(now.status, "done");
  assert.equal(now.note, "wet floor sign out");
  assert.match(String(now.photo), /^[0-9a-f]{64}$/);
  const blob = await fetch(srv.url + "/v1/blobs/" + now.photo, { headers: { Authorization: "Bearer " + srv.token } });
  assert.equal(blob.status, 200, "the photo was uploaded");
  assert.equal(later.status, "open", "the early tick was not sent");
  await ctx.close();
}));

test("technician: order reported to resolved; an offline entrapment shows its banner with the control room's number until sent", () => withServer(async (srv) => {
  const { site } = await setupSite(srv, { phone: "+86 21 5555 0199" });
  const { ctx, page } = await phone(b);
  await enrollAndLogin(page, srv, site, "technician", "t-1");
  await tab(page, "Orders", page.getByRole("heading", { name: "Open orders" }));
  await page.getByRole("combobox", { name: "Category" }).selectOption("repair");
  await page.getByRole("textbox", { name: "Title" }).fill("Lobby door closer broken");
  await page.getByRole("button", { name: "Report" }).click();
  // two photos of the repair, made by the page (PNGs of two colours)
  const pngs = await page.evaluate(async () => {
    const out = [];
    for (const colour of ["#a33", "#33a"]) {
      const c = document.createElement("canvas"); c.width = 40; c.height = 30;
      const g = c.getContext("2d"); g.fillStyle = colour; g.fillRect(0, 0, 40, 30);
      const blob = await new Promise((r) => c.toBlob(r, "image/png"));
      out.push(Array.from(new Uint8Array(await blob.arrayBuffer())));
    }
    return out;
  });
  for (const step of ["Accept", "On site", "Resolve"]) {
    if (step === "Resolve") {
      const item = page.getByRole("listitem").filter({ hasText: "Lobby door closer broken" });
      await item.getByLabel("Photos").setInputFiles(pngs.map((p, i) => ({ name: "fix" + i + ".png", mimeType: "image/png", buffer: Buffer.from(p) })));
    }
    await page.getByRole("button", { name: step, exact: true }).click();
    await page.getByRole("button", { name: step, exact: true }).waitFor({ state: "detached" });
  }
  await page.getByRole("button", { name: "Sync now" }).click();
  await waitPending(page, 0, 20000);
  const orders = (await srv.pull("orders/" + site)).map(f);
  const o = orders.find((x) => x.title === "Lobby door closer broken");
  assert.ok(o, "the order reached the server");
  assert.equal(o.status, "resolved");
  assert.equal(o.assignee, "t-1");
  assert.ok(o.accepted_at && o.on_site_at && o.resolved_at);
  assert.equal(o.photos?.length, 2, "resolved with two photos: " + JSON.stringify(o.photos));
  for (const hx of o.photos) {
    const blob = await fetch(srv.url + "/v1/blobs/" + hx, { headers: { Authorization: "Bearer " + srv.token } });
    assert.equal(blob.status, 200, "the photo was uploaded before the order");
  }
  // the entrapment, offline
  await ctx.setOffline(true);
  await page.getByRole("combobox", { name: "Category" }).selectOption("elevator_entrapment");
  await page.getByText("within 5 minutes").waitFor();
  await page.getByText("Phone the control room: +86 21 5555 0199").waitFor();
  await page.getByRole("textbox", { name: "Title" }).fill("Lift 2 stuck between floors");
  await page.getByRole("button", { name: "Report" }).click();
  const banner = page.locator("#urgent").getByRole("alert").filter({ hasText: "phone the control room" });
  await banner.waitFor({ timeout: 10000 });
  const call = banner.getByRole("link", { name: "+86 21 5555 0199" });
  assert.equal(await call.getAttribute("href"), "tel:+862155550199", "the banner dials the site's control room");
  await page.reload();
  await banner.waitFor({ timeout: 10000 });
  await banner.getByRole("link", { name: "+86 21 5555 0199" }).waitFor();
  await ctx.setOffline(false);
  await page.getByRole("button", { name: "Sync now" }).click();
  await banner.waitFor({ state: "detached", timeout: 20000 });
  const ent = (await srv.pull("orders/" + site)).map(f).find((x) => x.category === "elevator_entrapment");
  assert.ok(ent && ent.respond_by - ent.reported_at === 300000, "server holds it with its 5-minute deadline");
  await ctx.close();
}));

test("board: a guard's checkin shows within 2 s of the sync; hostile text does nothing", () => withServer(async (srv) => {
  const hostile = '<img src=x onerror="window.__pwned=1">';
  const { site } = await setupSite(srv, { cpName: (i) => (i === 1 ? hostile + "</script><script>window.__pwned=2</script>" : "Checkpoint " + i) });
  const sup = await desktop(b);
  // the board learns of the guard's sync over /v1/live (its poll is 10 s
  // without the socket, 60 s with it): a frame must arrive after the sync
  const sockets = [], frames = [];
  sup.page.on("websocket", (ws) => { sockets.push(ws.url()); ws.on("framereceived", () => frames.push(Date.now())); });
  await enrollAndLogin(sup.page, srv, site, "supervisor", "s-1");
  await sup.page.locator('table.grid[data-shift="sh-guard"]').waitFor({ timeout: 15000 });
  const guard = await phone(b);
  await enrollAndLogin(guard.page, srv, site, "guard", "g-1");
  // hostile text in an order note, reported by the guard
  await tab(guard.page, "Orders", guard.page.getByRole("heading", { name: "Open orders" }));
  await guard.page.getByRole("textbox", { name: "Title" }).fill("</script><img src=x onerror=window.__pwned=3>");
  await guard.page.getByRole("textbox", { name: "Detail" }).fill('<svg onload="window.__pwned=4">');
  await guard.page.getByRole("button", { name: "Report" }).click();
  await tab(guard.page, "Shift", guard.page.getByRole("textbox", { name: "Tag" }));
  await guard.page.getByRole("textbox", { name: "Tag" }).fill("TAG-1002");
  await guard.page.getByRole("button", { name: "Check in" }).click();
  await guard.page.getByRole("button", { name: "Sync now" }).click();
  await waitPending(guard.page, 0, 20000);
  const synced = Date.now();
  const cell = sup.page.locator('table.grid[data-shift="sh-guard"] td[data-cp="cp-02"][data-round="0"]');
  await cell.and(sup.page.locator(".st-on_time")).waitFor({ timeout: 2000 });
  const ms = Date.now() - synced;
  console.log("# board showed the checkin " + ms + " ms after the guard's sync");
  assert.ok(ms <= 2000);
  assert.ok(sockets.length >= 1 && sockets.every((u) => /\/v1\/live$/.test(u)), "the board opened /v1/live, no token in its URL: " + sockets);
  assert.ok(frames.some((t) => t >= synced - 1000), "the board was told over /v1/live");
  await sup.page.getByText("Lift", { exact: false }).count();
  await sup.page.getByText("</script><img src=x onerror=window.__pwned=3>").first().waitFor({ timeout: 5000 });
  for (const p of [sup.page, guard.page]) {
    assert.equal(await p.evaluate(() => window.__pwned), undefined);
    assert.equal(await p.locator('img[src="x"], svg[onload]').count(), 0);
  }
  await sup.page.getByRole("rowheader", { name: hostile, exact: false }).first().waitFor();
  await guard.page.reload();
  await guard.page.getByText(hostile, { exact: false }).first().waitFor();
  assert.equal(await guard.page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(sup.page.errors ?? [], [], "no script error, no CSP violation on the board");
  assert.deepEqual(guard.page.errors ?? [], []);
  await sup.ctx.close(); await guard.ctx.close();
}));

test("board: a round shows pending while the guard's device is unsynced, missed once it synced", () => withServer(async (srv) => {
  const now = Date.now();
  const starts = now - 50000; // round 0 ends 10 s from now
  const { site } = await setupSite(srv, { extra: (s) => [
    { c: "staff", id: "g-2", f: { site: s, name: "Chen Jun", role: "guard", active: true } },
    { c: "route", id: "rt-fast", f: { site: s, name: "Fast", checkpoints: ["cp-01", "cp-02"], every_min: 1, grace_min: 0 } },
    { c: "shift", id: "sh-fast", f: { site: s, role: "guard", starts, ends: starts + 4 * 60000, staff: ["g-2"], route: "rt-fast" } },
  ] });
  await srv.pin("g-2", "1234");
  const guard = await phone(b);
  await enrollAndLogin(guard.page, srv, site, "guard", "g-2");
  await waitPending(guard.page, 0);
  await guard.ctx.setOffline(true);
  await new Promise((r) => setTimeout(r, Math.max(0, starts + 60000 - Date.now()) + 1500));
  const sup = await desktop(b);
  await enrollAndLogin(sup.page, srv, site, "supervisor", "s-1");
  const cell = sup.page.locator('table.grid[data-shift="sh-fast"] td[data-cp="cp-01"][data-round="0"]');
  await cell.waitFor({ timeout: 15000 });
  assert.match(await cell.getAttribute("class"), /st-pending/, "unsynced device: pending, not missed");
  await guard.ctx.setOffline(false);
  await guard.page.getByRole("button", { name: "Sync now" }).click();
  await waitPending(guard.page, 0, 20000);
  await cell.and(sup.page.locator(".st-missed")).waitFor({ timeout: 15000 });
  await sup.ctx.close(); await guard.ctx.close();
}));

test("admin console: the admin token writes zones, checkpoints, routes, staff, standards and shifts", () => withServer(async (srv) => {
  const { site } = await setupSite(srv);
  const { ctx, page } = await desktop(b);
  await page.goto(srv.url + "/");
  await page.locator("details summary").click();
  await page.getByRole("textbox", { name: "Admin token" }).fill(srv.token);
  await page.getByRole("button", { name: "Open console" }).click();
  await page.getByRole("link", { name: "Me", exact: true }).waitFor();
  await page.getByRole("status").filter({ hasText: /last sync/ }).waitFor({ timeout: 15000 });
  // roster times are typed in the site's zone (Asia/Shanghai, UTC+8, no DST)
  const local = (ms) => new Date(ms + 8 * 3600000).toISOString().slice(0, 16);
  const soon = Date.now() + 86400000;
  const writes = [
    ["zones", "z-garage", { Name: "Garage", Kind: "garage" }],
    ["checkpoints", "cp-gate", { Name: "Garage gate", Zone: "z-garage", Tag: "TAG-GATE" }],
    ["routes", "rt-day", { Name: "Day patrol", "Checkpoints (IDs in order, comma separated)": "cp-gate, cp-01", "Every (min)": "45", "Grace (min)": "5" }],
    ["staffTab", "g-9", { Name: "Sun Li", Role: "guard" }],
    ["standards", "std-gate", { Title: "Sweep the gate", Zone: "z-garage", Role: "cleaner", Per: "week", Times: "2" }],
    ["shifts", "sh-day", { Role: "guard", Starts: local(soon), Ends: local(soon + 8 * 3600000), "Staff (IDs, comma separated)": "g-9", Route: "rt-day", Lead: "g-9" }],
  ];
  for (const [tabName, id, fields] of writes) {
    await page.goto(srv.url + "/#/setup/" + tabName);
    await page.locator('nav a[aria-current="page"][href="#/setup/' + tabName + '"]').waitFor();
    const form = page.locator(".edit-slot form");
    await form.getByLabel("ID", { exact: true }).fill(id);
    for (const [label, v] of Object.entries(fields)) {
      const ctl = form.getByLabel(label, { exact: true });
      if ((await ctl.evaluate((e) => e.tagName)) === "SELECT") await ctl.selectOption(v);
      else await ctl.fill(v);
    }
    await form.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved — queued").waitFor({ timeout: 5000 });
    await page.getByRole("cell", { name: id, exact: true }).waitFor({ timeout: 5000 });
  }
  // an edit of an existing record: deactivate the cleaner
  await page.goto(srv.url + "/#/setup/staffTab");
  await page.getByRole("button", { name: "Edit c-1" }).click();
  await page.locator(".edit-slot form").getByLabel("Active", { exact: true }).uncheck();
  await page.locator(".edit-slot form").getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved — queued").waitFor({ timeout: 5000 });
  await page.getByRole("button", { name: "Sync now" }).click();
  await waitPending(page, 0, 20000);
  assert.equal(await page.locator("#dead .dead").count(), 0, "no dead letters");
  const recs = new Map((await srv.pull("site/" + site)).map((r) => [r.c + "/" + r.id, r.f]));
  assert.equal(recs.get("zone/z-garage")?.name, "Garage");
  assert.equal(recs.get("checkpoint/cp-gate")?.tag, "TAG-GATE");
  assert.deepEqual(recs.get("route/rt-day")?.checkpoints, ["cp-gate", "cp-01"]);
  assert.equal(recs.get("route/rt-day")?.every_min, 45);
  assert.equal(recs.get("staff/g-9")?.role, "guard");
  assert.equal(recs.get("standard/std-gate")?.per, "week");
  assert.equal(recs.get("shift/sh-day")?.route, "rt-day");
  assert.ok(Math.abs(recs.get("shift/sh-day")?.starts - soon) < 60000, "the roster time as typed");
  assert.equal(recs.get("staff/c-1")?.active, false, "the edit reached the server");
  assert.deepEqual(page.errors ?? [], []);
  await ctx.close();
}));

test("zh-CN: the Chinese screens render with CJK glyphs", () => withServer(async (srv) => {
  const { site } = await setupSite(srv);
  const out = join(ROOT, "build/screenshots");
  mkdirSync(out, { recursive: true });
  const { ctx, page } = await phone(b, "zh-CN");
  await page.goto(srv.url + "/");
  await page.getByRole("heading", { name: "登记本手持终端" }).waitFor();
  await page.screenshot({ path: join(out, "test-zh-enroll.png") });
  const code = await srv.code(site, "guard");
  await page.getByRole("textbox", { name: "登记码" }).fill(code);
  await page.getByRole("button", { name: "登记", exact: true }).click();
  await page.getByRole("textbox", { name: "员工编号" }).fill("g-1");
  await page.getByRole("textbox", { name: "PIN 码" }).fill("1234");
  await page.getByRole("button", { name: "登录" }).click();
  await page.getByRole("link", { name: "巡更" }).waitFor();
  await page.getByText("条待同步").waitFor();
  await page.locator("#shift-h").waitFor();
  await page.screenshot({ path: join(out, "test-zh-shift.png") });
  // no missing glyph: Chromium says which platform fonts drew the
  // heading's text, and how many glyphs each (Debian fonts-noto-cjk)
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("DOM.enable"); await cdp.send("CSS.enable");
  for (const sel of ["#shift-h", ".tabs a"]) {
    let fonts = [];
    // the screen redraws as the sync lands: ask again until the node is laid out
    for (let i = 0; i < 20 && !fonts.length; i++) {
      if (i) await new Promise((r) => setTimeout(r, 250));
      const { root } = await cdp.send("DOM.getDocument", { depth: -1 });
      const { nodeId } = await cdp.send("DOM.querySelector", { nodeId: root.nodeId, selector: sel });
      if (nodeId) ({ fonts } = await cdp.send("CSS.getPlatformFontsForNode", { nodeId }).catch(() => ({ fonts: [] })));
    }
    assert.ok(fonts.some((x) => /CJK/.test(x.familyName)), sel + " drawn with " + JSON.stringify(fonts));
    assert.ok(fonts.every((x) => !/LastResort|Tofu/i.test(x.familyName)), JSON.stringify(fonts));
  }
  assert.equal(await page.evaluate(() => document.documentElement.lang), "zh-CN");
  await ctx.close();
}));


/* A guard's handheld reports an elevator entrapment and syncs it; the guard's page. */
async function entrapment(srv, site, title) {
  const guard = await phone(b);
  await enrollAndLogin(guard.page, srv, site, "guard", "g-1");
  await tab(guard.page, "Orders", guard.page.getByRole("heading", { name: "Open orders" }));
  await guard.page.getByRole("combobox", { name: "Category" }).selectOption("elevator_entrapment");
  await guard.page.getByRole("textbox", { name: "Title" }).fill(title);
  await guard.page.getByRole("button", { name: "Report" }).click();
  await guard.page.getByRole("button", { name: "Sync now" }).click();
  await waitPending(guard.page, 0, 20000);
  return guard;
}

test("alerts: a guard's entrapment shows on the supervisor's board within seconds and is acknowledged", () => withServer(async (srv) => {
  const { site } = await setupSite(srv);
  const sup = await desktop(b);
  await enrollAndLogin(sup.page, srv, site, "supervisor", "s-1");
  const panel = sup.page.locator("#open-alerts");
  await panel.getByText("No open alerts.").waitFor({ timeout: 15000 });
  const guard = await entrapment(srv, site, "Lift 3 stopped at B1, two people inside");
  const synced = Date.now();
  const item = panel.locator("li.alert.sev-critical").filter({ hasText: "Lift 3 stopped at B1" });
  await item.waitFor({ timeout: 5000 });
  console.log("# the entrapment alert showed on the board " + (Date.now() - synced) + " ms after the guard's sync");
  assert.match(await item.innerText(), /Urgent order/);
  assert.match(await item.innerText(), /Work order: Lift 3 stopped at B1/, "its subject, by the order's title");
  const badge = sup.page.getByRole("link", { name: "1 open alert(s)" });
  await badge.waitFor();
  // the server's record of it, and the id the panel shows
  const held = (await srv.pull("alerts/" + site)).filter((r) => r.c === "alert");
  assert.equal(held.length, 1, "one alert raised");
  assert.equal(f(held[0]).kind, "urgent_order");
  assert.equal(await item.getAttribute("data-alert"), held[0].id);
  await item.getByRole("button", { name: "Acknowledge" }).click();
  await panel.getByText("No open alerts.").waitFor({ timeout: 5000 });
  await badge.waitFor({ state: "hidden" });
  const earlier = sup.page.locator("details.earlier");
  assert.match(await earlier.locator("summary").innerText(), /Earlier \(1\)/);
  await earlier.locator("summary").click();
  await earlier.getByText("Acknowledged by s-1").waitFor();
  await waitPending(sup.page, 0, 20000);
  const after = await pullFind(srv, "alerts/" + site, (r) => r.id === held[0].id && f(r).acked_by);
  assert.ok(after, "the server holds the acknowledgement");
  assert.equal(f(after).acked_by, "s-1", "the server holds acked_by");
  assert.ok(f(after).acked_at > 0);
  assert.deepEqual(sup.page.errors ?? [], []);
  await sup.ctx.close(); await guard.ctx.close();
}));

/* The status line can read "0 pending" before a click's write reaches the
   outbox, so a test that checks the server after a screen's save polls the
   server (bounded) for the record it expects instead of trusting that line. */
async function pullFind(srv, scope, pred, timeout = 20000) {
  const end = Date.now() + timeout;
  for (;;) {
    const r = (await srv.pull(scope)).find(pred);
    if (r || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

/* A webhook receiver on loopback that checks the signature (deploy/OPERATIONS.md, "Webhooks"). */
async function receiver(secret) {
  const got = [];
  const srv = createServer((req, res) => {
    const parts = [];
    req.on("data", (d) => parts.push(d));
    req.on("end", () => {
      const body = Buffer.concat(parts);
      const sig = Object.fromEntries(String(req.headers["x-fieldsync-signature"] ?? "").split(",").map((x) => x.split("=")));
      const want = createHmac("sha256", secret).update(sig.t + "." + body).digest("hex");
      got.push({ valid: sig.v1 === want, key: req.headers["idempotency-key"], alert: req.headers["x-fieldsync-alert"], body: String(body) });
      res.writeHead(sig.v1 === want ? 200 : 401).end();
    });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { got, url: "http://127.0.0.1:" + srv.address().port + "/hook", close: () => new Promise((r) => srv.close(r)) };
}

test("webhooks: a supervisor sets one up in the console; an entrapment is delivered to it, signed", () => withServer(async (srv) => {
  const { site } = await setupSite(srv);
  const secret = "s3cret-for-the-office-robot";
  const rcv = await receiver(secret);
  try {
    const sup = await desktop(b);
    await enrollAndLogin(sup.page, srv, site, "supervisor", "s-1");
    await tab(sup.page, "Setup");
    await sup.page.getByRole("link", { name: "Webhooks" }).click();
    await sup.page.getByText("No webhooks yet.").waitFor();
    const form = sup.page.getByRole("form", { name: "Webhooks" });
    await form.getByRole("textbox", { name: "ID" }).fill("wh-office");
    await form.getByRole("textbox", { name: "URL" }).fill("ftp://nope");
    await form.getByRole("textbox", { name: "Secret" }).fill(secret);
    await form.getByRole("button", { name: "Save" }).click();
    await sup.page.getByText("The URL must start with http:// or https://.").waitFor();
    await form.getByRole("textbox", { name: "URL" }).fill(rcv.url);
    await form.getByRole("combobox", { name: "Format" }).selectOption("json");
    await form.getByRole("checkbox", { name: "Urgent order" }).check();
    await form.getByRole("button", { name: "Save" }).click();
    await sup.page.getByRole("cell", { name: rcv.url }).waitFor();
    await waitPending(sup.page, 0, 20000);
    const hook = await pullFind(srv, "alerts/" + site, (r) => r.c === "webhook" && r.id === "wh-office");
    assert.ok(hook, "the server holds the webhook");
    assert.deepEqual(f(hook), { site, url: rcv.url, format: "json", kinds: ["urgent_order"], secret, enabled: true });
    // an entrapment reported by a guard is posted to it once, signed
    const guard = await entrapment(srv, site, "Lift 1 stuck");
    for (let i = 0; i < 100 && !rcv.got.length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(rcv.got.length, 1, "delivered once");
    assert.ok(rcv.got[0].valid, "signed with the secret typed in the console");
    assert.match(rcv.got[0].body, /Lift 1 stuck/);
    // the console shows the delivery (the alert's log, pulled with it)
    await sup.page.locator("tr", { hasText: "wh-office" }).getByText("delivered").waitFor({ timeout: 15000 });
    // switched off: edited in place, the secret kept
    await sup.page.getByRole("button", { name: "Edit wh-office" }).click();
    await form.getByRole("checkbox", { name: "Enabled" }).uncheck();
    await form.getByRole("button", { name: "Save" }).click();
    await waitPending(sup.page, 0, 20000);
    const off = await pullFind(srv, "alerts/" + site, (r) => r.id === "wh-office" && f(r).enabled === false);
    assert.ok(off, "the server holds the webhook switched off");
    assert.equal(f(off).secret, secret, "an empty secret field keeps the secret");
    assert.deepEqual(sup.page.errors ?? [], []);
    await sup.ctx.close(); await guard.ctx.close();
  } finally { await rcv.close(); }
}, ["--webhook-allow-private"]));

// POST /v1/admin/import/<site>?kind=K, as schema/IMPORT.md says
test("import: a staff CSV with bad rows shows each row/column, a good one imports, again changes nothing", () => withServer(async (srv) => {
  const { site } = await setupSite(srv);
  const sup = await desktop(b);
  await enrollAndLogin(sup.page, srv, site, "supervisor", "s-1");
  await tab(sup.page, "Setup");
  await sup.page.getByRole("link", { name: "CSV import" }).click();
  const file = sup.page.getByLabel("CSV file");
  const bad = "id,name,role,active\r\nn-1,Sun Li,guard,true\r\nn-2,\"Ma, Jing\",gaurd,yes\r\nn-3,,cleaner,maybe\r\n";
  await file.setInputFiles({ name: "harbour-staff.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
  assert.equal(await sup.page.getByRole("combobox", { name: "List" }).inputValue(), "staff", "the kind from the file name");
  await sup.page.getByRole("button", { name: "Import" }).click();
  const issues = sup.page.getByRole("table", { name: "Rows to fix" });
  await issues.waitFor({ timeout: 10000 });
  const rows = await issues.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => Array.from(tr.cells, (c) => c.textContent)));
  console.log("# import issues shown: " + JSON.stringify(rows));
  assert.ok(rows.some(([r, c, m]) => r === "3" && c === "3 (role)" && /gaurd/.test(m)), "row 3, column 3 (role)");
  assert.ok(rows.some(([r, c]) => r === "4" && c === "2 (name)"), "row 4's empty name");
  assert.ok(rows.some(([r, c]) => r === "4" && c === "4 (active)"), "row 4's active");
  await sup.page.getByText("Nothing was imported").waitFor();
  const staffIds = async () => (await srv.pull("site/" + site)).filter((r) => r.c === "staff").map((r) => r.id).sort();
  assert.deepEqual(await staffIds(), ["c-1", "g-1", "s-1", "t-1"], "a refused file writes nothing");
  const good = "id,name,role,active\nn-1,Sun Li,guard,true\nn-2,\"Ma, Jing\",cleaner,yes\n";
  await file.setInputFiles({ name: "staff.csv", mimeType: "text/csv", buffer: Buffer.from(good) });
  await sup.page.getByRole("button", { name: "Import" }).click();
  await sup.page.getByText("Imported 2 row(s): 2 new, 0 changed, 0 unchanged.").waitFor({ timeout: 10000 });
  assert.equal(await issues.count(), 0, "the issues are gone");
  const held = (await srv.pull("site/" + site)).filter((r) => r.c === "staff" && r.id.startsWith("n-"));
  assert.deepEqual(held.map((r) => [r.id, r.f.name, r.f.role]), [["n-1", "Sun Li", "guard"], ["n-2", "Ma, Jing", "cleaner"]]);
  await sup.page.getByRole("button", { name: "Import" }).click();
  await sup.page.getByText("Nothing changed: all 2 row(s) match what the site already holds.").waitFor({ timeout: 10000 });
  // the imported staff reach the console's own copy
  await sup.page.getByRole("link", { name: "Staff" }).click();
  await sup.page.getByRole("cell", { name: "Ma, Jing" }).waitFor({ timeout: 15000 });
  assert.deepEqual(sup.page.errors ?? [], []);
  await sup.ctx.close();
}));
