// bench/web.mjs — the web app's targets (issue 13), measured in Debian's
// Chromium against a real fieldsyncd on loopback:
//   size        app.js + app.css gzipped (what a phone downloads)      < 150 KB
//   first load  a cold phone (no cache, no service worker) on 400 kbit/s
//               and 400 ms round trip (DevTools protocol), from navigation
//               to the enrollment form usable                          < 4 s
//   tap         Check in tapped -> "queued" on screen (IndexedDB write
//               durable first), median of 20                           < 50 ms
//   board       a site with 20 shifts x 10 rounds x 20 checkpoints: the
//               supervisor's board, every grid drawn                   < 1 s
// `make bench-web`; prints one line per figure and a JSON summary; exits 1
// when a target is missed.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Server, setupSite, browser, phone, desktop, enrollAndLogin, sleep, ROOT } from "../clients/web/test/harness.mjs";

const WEB = process.env.FIELDSYNC_WEB || join(ROOT, "build/web");
const res = {};
const median = (xs) => { const a = [...xs].sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };

// size
const gz = ["app.js", "app.css"].reduce((n, f) => n + statSync(join(WEB, f + ".gz")).size, 0);
res.size_kb_gzip = +(gz / 1024).toFixed(1);
res.size_kb_raw = +(["app.js", "app.css"].reduce((n, f) => n + statSync(join(WEB, f)).size, 0) / 1024).toFixed(1);

const b = await browser();
const srv = await new Server().start();
try {
  const { site } = await setupSite(srv);
  // first load, throttled
  const loads = [];
  for (let i = 0; i < 3; i++) {
    const { ctx, page } = await phone(b);
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 400,
      downloadThroughput: 400000 / 8, uploadThroughput: 400000 / 8 });
    const t0 = Date.now();
    await page.goto(srv.url + "/", { waitUntil: "commit" });
    await page.getByRole("button", { name: "Enroll" }).waitFor({ timeout: 30000 });
    loads.push(Date.now() - t0);
    await ctx.close();
  }
  res.first_load_ms = median(loads);
  res.first_load_runs_ms = loads;

  // tap to queued
  const { ctx, page } = await phone(b);
  await enrollAndLogin(page, srv, site, "guard", "g-1");
  await page.getByRole("textbox", { name: "Tag" }).waitFor();
  await sleep(500);
  const taps = await page.evaluate(async () => {
    const out = [];
    const tag = document.querySelector('input[name="tag"]');
    const btn = [...document.querySelectorAll("button")].find((x) => x.textContent === "Check in");
    const msg = document.getElementById("checkin-msg");
    for (let i = 0; i < 20; i++) {
      tag.value = "TAG-" + (1001 + (i % 6));
      const seen = new Promise((res) => {
        const mo = new MutationObserver(() => { if (/queued/.test(msg.textContent)) { mo.disconnect(); res(performance.now()); } });
        mo.observe(msg, { childList: true, subtree: true, characterData: true });
      });
      msg.textContent = "";
      const t0 = performance.now();
      btn.click();
      out.push((await seen) - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
    return out;
  });
  res.tap_to_queued_ms_median = +median(taps).toFixed(1);
  res.tap_to_queued_ms_max = +Math.max(...taps).toFixed(1);
  await ctx.close();
} finally { await srv.stop(); }

// board: 20 shifts x 10 rounds x 20 checkpoints, half the pairs scanned
const big = await new Server().start();
try {
  const site = "big";
  const now = Date.now(), H = 3600000;
  const ops = [{ c: "site", id: site, f: { name: "Big Estate", tz: "Asia/Shanghai", households: 2000 } }];
  const cps = [];
  for (let i = 1; i <= 20; i++) { cps.push("cp-" + i); ops.push({ c: "checkpoint", id: "cp-" + i, f: { site, name: "Checkpoint " + i, tag: "T-" + i } }); }
  ops.push({ c: "route", id: "rt", f: { site, name: "Route", checkpoints: cps, every_min: 60, grace_min: 10 } });
  ops.push({ c: "staff", id: "sup", f: { site, name: "Supervisor", role: "supervisor", active: true } });
  const checkins = [];
  for (let s = 0; s < 20; s++) {
    const starts = now - 9 * H + s * 60000;
    ops.push({ c: "staff", id: "g" + s, f: { site, name: "Guard " + s, role: "guard", active: true } });
    ops.push({ c: "shift", id: "sh" + s, f: { site, role: "guard", starts, ends: starts + 10 * H, staff: ["g" + s], route: "rt" } });
    for (let k = 0; k < 9; k++) for (let c = 0; c < 20; c++) if ((k + c + s) % 2 === 0)
      checkins.push({ c: "checkin", id: `ck-${s}-${k}-${c}`, f: { site, shift: "sh" + s, route: "rt", checkpoint: cps[c], staff: "g" + s, at: starts + k * H + 60000, method: "nfc" } });
  }
  ops.push({ c: "shift", id: "sh-sup", f: { site, role: "supervisor", starts: now - H, ends: now + 8 * H, staff: ["sup"] } });
  await big.push(ops);
  for (let i = 0; i < checkins.length; i += 1000) await big.push(checkins.slice(i, i + 1000));
  await big.pin("sup", "1234");
  const { ctx, page } = await desktop(b);
  await enrollAndLogin(page, big, site, "supervisor", "sup");
  const runs = [], draw = [];
  for (let i = 0; i < 3; i++) {
    await page.reload();
    await page.locator("table.grid").nth(19).waitFor({ timeout: 30000 });
    await page.waitForFunction(() => performance.getEntriesByName("fs-board-grids").length > 0);
    const m = await page.evaluate(() => ({
      patrol: performance.getEntriesByName("fs-board-patrol").at(-1).duration,
      grids: performance.getEntriesByName("fs-board-grids").at(-1).duration,
      cells: document.querySelectorAll("table.grid td").length,
    }));
    runs.push(m.patrol); draw.push(m.grids);
    res.board_cells = m.cells;
  }
  res.board_ms_with_20_reports = +median(runs).toFixed(0);
  res.board_ms_drawing = +median(draw).toFixed(0);
  await ctx.close();
} finally { await big.stop(); await b.close(); }

const ok = { size: res.size_kb_gzip < 150, first_load: res.first_load_ms < 4000, tap: res.tap_to_queued_ms_median < 50, board: res.board_ms_with_20_reports < 1000 };
console.log(`size        ${res.size_kb_gzip} KB gzipped (${res.size_kb_raw} KB raw)   target < 150 KB   ${ok.size ? "met" : "MISSED"}`);
console.log(`first load  ${res.first_load_ms} ms median of ${JSON.stringify(res.first_load_runs_ms)} at 400 kbit/s, 400 ms RTT   target < 4000 ms   ${ok.first_load ? "met" : "MISSED"}`);
console.log(`tap         ${res.tap_to_queued_ms_median} ms median (max ${res.tap_to_queued_ms_max}) Check in -> queued   target < 50 ms   ${ok.tap ? "met" : "MISSED"}`);
console.log(`board       ${res.board_ms_with_20_reports} ms for 20 shift reports fetched and drawn (${res.board_cells} cells; drawing ${res.board_ms_drawing} ms)   target < 1000 ms   ${ok.board ? "met" : "MISSED"}`);
console.log(JSON.stringify({ web: res, load: readFileSync("/proc/loadavg", "utf8").trim() }));
process.exit(Object.values(ok).every(Boolean) ? 0 : 1);
