// screenshots.mjs — `make screenshots`: every main screen, in English and
// Simplified Chinese, on the demo property (`fieldsyncd demo`), into
// build/screenshots/<lang>-<screen>.png: the handheld at 390x844, the
// console at 1366x768.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { Server, browser, phone, desktop, sleep, ROOT } from "./harness.mjs";

const out = process.argv[2] || join(ROOT, "build/screenshots");
// --docs DIR: also write the README's small copies (scaled in Chromium)
const docsAt = process.argv.indexOf("--docs");
const docs = docsAt > 0 ? process.argv[docsAt + 1] : null;
const DOCS = [
  ["zh-guard-shift", "web-guard-shift-zh", 390, 844, 0.6],
  ["en-guard-report", "web-entrapment-en", 390, 844, 0.6],
  ["en-board", "web-board-en", 1366, 1000, 0.5],
  ["zh-setup-codes", "web-codes-zh", 1366, 768, 0.5],
];
mkdirSync(out, { recursive: true });
const SITE = "harbour";

const srv = await new Server([], (bin, data) => execFileSync(bin, ["demo", "--data", data], { stdio: "ignore" })).start();
const b = await browser();
const L = {
  en: { loc: "en-US", server: "Server address", code: "Enrollment code", enroll: "Enroll", staff: "Staff ID", pin: "PIN", login: "Log in",
    tag: "Tag", checkin: "Check in", me: "Me", cat: "Category", title: "Title", tabs: { orders: "Orders", handover: "Handover", reports: "Reports", setup: "Setup", audit: "Audit" },
    admin: "Admin token", open: "Open console" },
  zh: { loc: "zh-CN", server: "服务器地址", code: "登记码", enroll: "登记", staff: "员工编号", pin: "PIN 码", login: "登录",
    tag: "巡更点标签", checkin: "签到", me: "我", cat: "类别", title: "标题", tabs: { orders: "报修", handover: "交接班", reports: "报表", setup: "设置", audit: "审计" },
    admin: "管理员令牌", open: "打开管理台" },
};

async function login(page, l, role, staff, shotEnroll) {
  await page.goto(srv.url + "/");
  await page.getByRole("textbox", { name: l.code }).waitFor();
  await page.getByRole("textbox", { name: l.code }).fill(await srv.code(SITE, role));
  if (shotEnroll) await shot(page, shotEnroll + "-enroll");
  await page.getByRole("button", { name: l.enroll, exact: true }).click();
  await page.getByRole("textbox", { name: l.staff }).fill(staff);
  await page.getByRole("textbox", { name: l.pin }).fill("1234");
  if (shotEnroll) await shot(page, shotEnroll + "-login");
  await page.getByRole("button", { name: l.login, exact: true }).click();
  await page.getByRole("link", { name: l.me, exact: true }).waitFor();
  await sleep(1500);
}

async function shot(page, name, full = false) {
  await sleep(300);
  await page.evaluate(() => document.getElementById("toast")?.replaceChildren());
  await page.screenshot({ path: join(out, name + ".png"), fullPage: full });
  console.log("screenshots: " + name + ".png");
}

async function go(page, link) {
  await page.getByRole("link", { name: link, exact: true }).click();
  await sleep(1200);
}

try {
  // today's day shift patrols the night route (the demo's day guard has none)
  const shifts = (await srv.pull("site/" + SITE)).filter((r) => r.c === "shift" && r.id.startsWith("guard-day-d0"));
  await srv.push(shifts.map((s) => ({ c: "shift", id: s.id, f: { route: "night-patrol" } })));
  const tags = (await srv.pull("site/" + SITE)).filter((r) => r.c === "checkpoint").sort((a, x) => a.id.localeCompare(x.id)).map((r) => r.f.tag);
  for (const [lang, l] of Object.entries(L)) {
    const g = await phone(b, l.loc);
    await login(g.page, l, "guard", "g-chen", lang);
    if (lang === "en") for (const tg of tags.slice(0, 3)) {
      await g.page.getByRole("textbox", { name: l.tag }).fill(tg);
      await g.page.getByRole("button", { name: l.checkin, exact: true }).click();
      await sleep(300);
    }
    await shot(g.page, lang + "-guard-shift");
    await go(g.page, l.tabs.orders);
    await g.page.getByRole("combobox", { name: l.cat }).selectOption("elevator_entrapment");
    await g.page.getByRole("textbox", { name: l.title }).fill(lang === "en" ? "Lift 2 stuck at floor 7" : "2号电梯困人，7楼");
    await shot(g.page, lang + "-guard-report");
    await go(g.page, l.tabs.handover);
    await shot(g.page, lang + "-guard-handover");
    await g.ctx.close();

    const c = await phone(b, l.loc);
    await login(c.page, l, "cleaner", "c-wang");
    await shot(c.page, lang + "-cleaner-tasks");
    await c.ctx.close();

    const t = await phone(b, l.loc);
    await login(t.page, l, "technician", "t-zhao");
    await shot(t.page, lang + "-technician-orders");
    await t.ctx.close();

    const sp = await phone(b, l.loc); // a supervisor's handheld: the alert count on the board's tab
    await login(sp.page, l, "supervisor", "s-liu");
    await sleep(1500);
    await shot(sp.page, lang + "-supervisor-phone");
    await sp.ctx.close();

    const s = await desktop(b, l.loc);
    await login(s.page, l, "supervisor", "s-liu");
    await sleep(1500);
    await shot(s.page, lang + "-board", true);
    await go(s.page, l.tabs.reports);
    const d = new Date(Date.now() - 3 * 86400000).toISOString().slice(0, 10);
    await s.page.locator('input[type="date"]').first().fill(d);
    await s.page.locator("form").first().evaluate((f) => f.requestSubmit());
    await sleep(1500);
    await shot(s.page, lang + "-reports", true);
    await go(s.page, l.tabs.setup);
    await s.page.goto(srv.url + "/#/setup/checkpoints");
    await sleep(1200);
    await shot(s.page, lang + "-setup-checkpoints", true);
    await s.page.goto(srv.url + "/#/setup/webhooks");
    await sleep(1200);
    await shot(s.page, lang + "-setup-webhooks", true);
    await s.page.goto(srv.url + "/#/setup/importTab");
    await sleep(800);
    await s.page.locator('input[type="file"]').setInputFiles({ name: "staff.csv", mimeType: "text/csv",
      buffer: Buffer.from("id,name,role\ng-new,Sun Li,guard\ng-bad,,gaurd\n") });
    await s.page.locator("form.editor").evaluate((f) => f.requestSubmit());
    await sleep(1500);
    await shot(s.page, lang + "-setup-import", true);
    await s.page.goto(srv.url + "/#/audit/order/wo-lift-1");
    await sleep(1500);
    await shot(s.page, lang + "-audit");
    await s.ctx.close();

    // the admin: the console with the admin token, enrollment codes as QR
    const a = await desktop(b, l.loc);
    await a.page.goto(srv.url + "/");
    await a.page.locator("details summary").click();
    await a.page.getByRole("textbox", { name: l.admin }).fill(srv.token);
    await a.page.getByRole("button", { name: l.open }).click();
    await a.page.getByRole("link", { name: l.me, exact: true }).waitFor();
    await a.page.goto(srv.url + "/#/setup/enrollCodes");
    await sleep(1000);
    for (const role of ["guard", "cleaner"]) {
      await a.page.locator("select").last().selectOption(role);
      await a.page.locator("form").last().evaluate((f) => f.requestSubmit());
      await sleep(500);
    }
    await shot(a.page, lang + "-setup-codes");
    await a.ctx.close();
  }
  if (docs) {
    mkdirSync(docs, { recursive: true });
    for (const [from, to, w, hgt, k] of DOCS) {
      const p = await b.newPage({ viewport: { width: Math.round(w * k), height: Math.round(hgt * k) } });
      const data = readFileSync(join(out, from + ".png")).toString("base64");
      await p.setContent(`<body style="margin:0"><img style="display:block;width:${Math.round(w * k)}px" src="data:image/png;base64,${data}"></body>`);
      await p.locator("img").evaluate((i) => i.decode());
      await p.screenshot({ path: join(docs, to + ".png") });
      await p.close();
      console.log("docs: " + to + ".png");
    }
  }
} finally {
  await b.close();
  await srv.stop();
}
