import { Server, setupSite, browser, phone, enrollAndLogin, sleep } from "./harness.mjs";
const srv = await new Server().start();
const b = await browser();
try {
  const { site } = await setupSite(srv);
  const { ctx, page } = await phone(b);
  page.on("console", (m) => console.log("console:", m.type(), m.text()));
  page.on("response", async (r) => { if (r.status() >= 400) { const b = await r.body().catch(() => Buffer.alloc(0)); console.log("resp", r.request().method(), r.url(), r.status(), JSON.stringify(r.request().headers()), b.toString("latin1").slice(0, 200)); } });
  await enrollAndLogin(page, srv, site, process.argv[2] || "guard", process.argv[3] || "g-1");
  await sleep(1500);
  if (process.argv[4]) await page.goto(srv.url + "/#/" + process.argv[4]);
  await sleep(1000);
  console.log((await page.locator("body").innerText()).slice(0, 1500));
  if ((process.argv[2] || "guard") === "guard") {
    await page.getByRole("textbox", { name: "Tag" }).fill("TAG-1001");
    await page.getByRole("button", { name: "Check in" }).click();
    await sleep(1000);
    console.log("---- after checkin\n" + (await page.locator("body").innerText()).slice(0, 1500));
  }
  await page.screenshot({ path: "/tmp/wdbg/shot.png" });
  console.log("errors", page.errors);
} finally { await b.close(); await srv.stop(); }
