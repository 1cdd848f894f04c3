// board.ts — today's board for a site: each shift's patrol grid (from
// the server's shift report), cleaning tasks by zone, open orders by
// deadline with a live countdown, devices holding unsynced changes, and
// the site's alerts (console/alerts.ts), and the activity as changes
// arrive (the client syncs on a /v1/live poke; a changed shift's report is
// fetched again at once).
import { app, session, str, sitePicker, type View } from "../app";
import { render } from "../main";
import { h, mount } from "../dom";
import { t, tx } from "../i18n";
import { hm, dayhm, countdown, zoneName } from "../time";
import type { Change, Rec } from "../lib";
import { n, live, ids } from "../handheld/model";
import { deadlineOf } from "../handheld/orders";
import { legend, patrolGrid, type ShiftReport } from "./grid";
import { shiftReport, devices, explain } from "./api";
import { alertsPanel } from "./alerts";

const DAY = 86400000;

export function siteOf(): string {
  const s = session();
  return s?.site || str(app.site?.id) || "";
}

export function boardView(el: HTMLElement): View {
  const site = siteOf();
  const head = h("header", { class: "board-head" });
  const patrol = h("section", { class: "card wide", "aria-labelledby": "b-patrol" });
  const tasks = h("section", { class: "card", "aria-labelledby": "b-tasks" });
  const orders = h("section", { class: "card", "aria-labelledby": "b-orders" });
  const devs = h("section", { class: "card", "aria-labelledby": "b-devs" });
  const alerts = h("section", { class: "card", "aria-labelledby": "b-alerts" });
  const activity = h("section", { class: "card", "aria-labelledby": "b-activity" });
  const alertList = h("ol", { class: "alerts", "aria-live": "polite", id: "activity" });
  mount(el, head, h("div", { class: "board" }, patrol, h("div", { class: "side" }, alerts, orders, tasks, devs, activity)));
  mount(activity, h("h2", { id: "b-activity" }, t("activity")), alertList);
  const panel = alertsPanel(alerts, site);
  const reports = new Map<string, ShiftReport>();
  const grids = new Map<string, HTMLElement>();
  let cps = new Map<string, string>();
  let todays: Rec[] = [];
  let orderRecs: Rec[] = [];

  const picker = sitePicker(t("site"), () => void render());
  const drawHead = (): void => { void picker.then((p) => mount(head, h("h1", null, t("boardTitle", { site: str(app.site?.name) || site })), p,
    h("p", { class: "hint" }, t("timesIn", { zone: zoneName() }) + " · " + t("updated", { t: hm(Date.now()) })))); };

  let gridMs = 0; // time spent drawing grids (bench/web.mjs reads the measures)
  const loadShift = async (id: string): Promise<void> => {
    try {
      const rep = await shiftReport(id);
      reports.set(id, rep);
      const t0 = performance.now();
      const g = patrolGrid(rep, (c) => cps.get(c) ?? c);
      gridMs += performance.now() - t0;
      const old = grids.get(id);
      if (old?.parentNode) old.replaceWith(g);
      else patrol.appendChild(g);
      grids.set(id, g);
    } catch (e) {
      const p = h("p", { class: "err" }, id + ": " + explain(e));
      const old = grids.get(id);
      if (old?.parentNode) old.replaceWith(p); else patrol.appendChild(p);
      grids.set(id, p);
    }
  };

  const drawOrders = (): void => {
    const now = Date.now();
    const open = orderRecs.filter((o) => live(o) && o.status !== "resolved" && o.status !== "closed")
      .sort((a, b) => (deadlineOf(a) ?? Infinity) - (deadlineOf(b) ?? Infinity));
    mount(orders, h("h2", { id: "b-orders" }, t("ordersByDeadline")),
      open.length ? h("ul", { class: "orders" }, open.map((o) => {
        const dl = deadlineOf(o);
        return h("li", { class: "order cat-" + str(o.category) + (dl && dl < now ? " late" : "") },
          h("strong", null, tx("cat_", o.category)), " — ", str(o.title) || o.id, " · ", tx("os_", o.status ?? "reported"),
          dl ? h("span", { class: "countdown", "data-deadline": dl }, " · " + countdown(dl - now)) : null);
      })) : h("p", null, t("noOrders")));
  };

  const drawTasks = async (): Promise<void> => {
    const zones = new Map((await app.client.query("zone")).map((z) => [z.id, str(z.name)]));
    const by = new Map<string, { done: number; total: number }>();
    for (const s of todays) {
      if (s.role !== "cleaner") continue;
      for (const tk of (await app.client.query("task", { shift: s.id })).filter(live)) {
        const z = str(tk.zone) || "—";
        const e = by.get(z) ?? { done: 0, total: 0 };
        e.total++; if (tk.status === "done") e.done++;
        by.set(z, e);
      }
    }
    mount(tasks, h("h2", { id: "b-tasks" }, t("cleaning")),
      by.size ? h("table", { class: "bars" }, h("tbody", null, Array.from(by, ([z, e]) => h("tr", null,
        h("th", { scope: "row" }, zones.get(z) ?? z),
        h("td", null, h("meter", { min: 0, max: e.total, value: e.done, "aria-label": zones.get(z) ?? z }, e.done + "/" + e.total)),
        h("td", null, e.done + "/" + e.total))))) : h("p", null, t("noTasks")));
  };

  // A device's sync changes patrol states without changing a record
  // (pending -> missed once it synced with nothing left): the device list
  // is polled, and a device that synced re-fetches its staff's shifts.
  const lastSync = new Map<string, number>();
  const drawDevices = async (): Promise<void> => {
    try {
      const d = await devices(site);
      const moved = new Set<string>();
      for (const x of d.devices) {
        const was = lastSync.get(x.device);
        if (was !== undefined && was !== (x.last_sync ?? 0) && x.staff) moved.add(x.staff);
        lastSync.set(x.device, x.last_sync ?? 0);
      }
      const again = todays.filter((s) => s.route && ids(s.staff).some((x) => moved.has(x)));
      if (again.length) void Promise.all(again.map((s) => loadShift(s.id)));
      const rows = d.devices.filter((x) => !x.revoked && (x.pending ?? 0) > 0);
      mount(devs, h("h2", { id: "b-devs" }, t("devicesUnsynced")),
        rows.length ? h("table", null, h("thead", null, h("tr", null, h("th", null, t("device")), h("th", null, t("staff")),
          h("th", null, t("lastSyncCol")), h("th", null, t("pendingCol")))),
        h("tbody", null, rows.map((x) => h("tr", null, h("td", null, str(x.name) || x.device), h("td", null, str(x.staff)),
          h("td", null, dayhm(x.last_sync ?? null)), h("td", { class: "num" }, x.pending ?? 0))))) : h("p", null, t("noDevices")));
    } catch (e) { mount(devs, h("h2", { id: "b-devs" }, t("devicesUnsynced")), h("p", { class: "err" }, explain(e))); }
  };

  const full = async (): Promise<void> => {
    drawHead();
    const now = Date.now();
    cps = new Map((await app.client.query("checkpoint")).map((c) => [c.id, str(c.name) || c.id]));
    todays = (await app.client.query("shift")).filter((s) => live(s) && (!site || s.site === site) &&
      n(s.starts) < now + DAY / 2 && n(s.ends) > now - DAY / 2).sort((a, b) => n(a.starts) - n(b.starts));
    orderRecs = await app.client.query("order");
    mount(patrol, h("h2", { id: "b-patrol" }, t("patrol")), legend());
    grids.clear();
    const guards = todays.filter((s) => s.route);
    if (!guards.length) patrol.appendChild(h("p", null, t("noShiftsToday")));
    const t0 = performance.now();
    gridMs = 0;
    await Promise.all(guards.map((s) => loadShift(s.id)));
    performance.measure("fs-board-patrol", { start: t0, end: performance.now() });
    performance.measure("fs-board-grids", { start: t0, duration: gridMs });
    drawOrders();
    await drawTasks();
    await drawDevices();
    await noteNew();
  };

  // Changes pulled by a sync: note new checkins and orders, re-fetch the
  // patrol reports, redraw orders and tasks.
  const seen = new Set<string>();
  let first = true;
  const noteNew = async (): Promise<void> => {
    for (const sh of todays.filter((x) => x.route)) {
      for (const r of await app.client.query("checkin", { shift: sh.id })) {
        if (seen.has(r.id)) continue;
        seen.add(r.id);
        if (!first) alertList.prepend(h("li", null, t("alertCheckin", { staff: str(r.staff), cp: cps.get(str(r.checkpoint)) ?? str(r.checkpoint), t: hm(n(r.at_est) || n(r.at)) })));
      }
    }
    for (const o of orderRecs) {
      if (seen.has(o.id)) continue;
      seen.add(o.id);
      if (!first) alertList.prepend(h("li", { class: "urgent-" + str(o.category) }, t("alertOrder", { cat: tx("cat_", o.category), title: str(o.title) })));
    }
    first = false;
    while (alertList.children.length > 30) alertList.lastElementChild?.remove();
  };
  let timer = 0;
  const onChanges = (ch: Change[]): void => {
    clearTimeout(timer);
    timer = window.setTimeout(async () => {
      if (!todays.length || ch.some((c) => c === "shift" || c === "route" || c === "checkpoint" || c === "site")) { await full(); return; }
      orderRecs = await app.client.query("order");
      drawOrders();
      await noteNew();
      if (!ch.length || ch.includes("checkin") || ch.includes("task"))
        await Promise.all(todays.filter((s) => s.route).map((s) => loadShift(s.id)));
      if (!ch.length || ch.includes("task")) await drawTasks();
      void drawDevices();
      drawHead();
    }, 50);
  };
  const unsub = app.client.subscribe(onChanges);
  // changes arrive over /v1/live; the poll is the fallback (10 s without
  // the socket, 60 s with it)
  app.client.syncEvery(10000, 60000);
  const tick = setInterval(() => {
    for (const el2 of Array.from(orders.querySelectorAll<HTMLElement>(".countdown")))
      el2.textContent = " · " + countdown(Number(el2.dataset.deadline) - Date.now());
  }, 1000);
  // States move with the clock (open -> missed/pending): a full redraw a minute.
  const slow = setInterval(() => void full(), 60000);
  const devPoll = setInterval(() => void drawDevices(), 10000);
  void full();
  return { stop: () => { unsub(); panel.stop(); app.client.syncEvery(15000); clearInterval(tick); clearInterval(slow); clearInterval(devPoll); clearTimeout(timer); } };
}

