// main.ts — boot: service worker, client, then the screen the URL and the
// session ask for.  Hash routes (#/shift, #/board, ...) so the app shell
// is one file the service worker keeps for offline starts.
import { app, session, loadSite, type View, errText } from "./app";
import { h, mount } from "./dom";
import { t, lang, setLang, onLang, type Lang } from "./i18n";
import { openClient } from "./client";
import { statusLine } from "./status";
import { enrollView, loginView } from "./handheld/enroll";
import { shiftView } from "./handheld/shift";
import { tasksView } from "./handheld/tasks";
import { ordersView } from "./handheld/orders";
import { handoverView } from "./handheld/handover";
import { meView } from "./handheld/me";
import { boardView } from "./console/board";
import { reportsView } from "./console/reports";
import { setupView } from "./console/setup";
import { auditView } from "./console/audit";
import { alertBadge } from "./console/alerts";
import type { Key } from "./strings";

type Route = { key: Key; view: (el: HTMLElement) => View; console?: boolean };
const routes: Record<string, Route> = {
  shift: { key: "navShift", view: shiftView },
  tasks: { key: "navTasks", view: tasksView },
  orders: { key: "navOrders", view: ordersView },
  handover: { key: "navHandover", view: handoverView },
  me: { key: "navMe", view: meView },
  board: { key: "navBoard", view: boardView, console: true },
  reports: { key: "navReports", view: reportsView, console: true },
  setup: { key: "navSetup", view: setupView, console: true },
  audit: { key: "navAudit", view: auditView, console: true },
};

const HANDHELD: Record<string, string[]> = {
  guard: ["shift", "orders", "handover", "me"],
  cleaner: ["tasks", "orders", "handover", "me"],
  technician: ["orders", "tasks", "handover", "me"],
  supervisor: ["board", "reports", "setup", "audit", "orders", "me"],
  admin: ["board", "reports", "setup", "audit", "me"],
};

let current: View | null = null;
let unsub: (() => void) | null = null;

function langSwitch(): HTMLElement {
  const sel = h("select", { id: "lang", "aria-label": t("language"),
    onchange: (e: Event) => setLang((e.target as HTMLSelectElement).value as Lang) },
    h("option", { value: "zh-CN" }, "中文"), h("option", { value: "en" }, "English"));
  sel.value = lang();
  return sel;
}

function tabsFor(role: string): string[] { return HANDHELD[role] ?? ["me"]; }

function route(): { name: string; arg: string } {
  const m = /^#\/([a-z]+)(?:\/(.*))?$/.exec(location.hash);
  return { name: m?.[1] ?? "", arg: m?.[2] ?? "" };
}

export async function render(): Promise<void> {
  current?.stop?.();
  current = null;
  document.documentElement.lang = lang();
  document.title = t("app");
  const top = document.getElementById("top")!;
  const nav = document.getElementById("nav")!;
  const main = document.getElementById("view")!;
  mount(top, h("span", { class: "brand" }, "fieldsync"), langSwitch());
  const s = session();
  if (!app.client.enrolled()) { mount(nav); current = enrollView(main); return; }
  if (!s) { mount(nav); current = loginView(main); return; }
  await loadSite();
  const tabs = tabsFor(s.role);
  let { name } = route();
  if (!routes[name] || (!tabs.includes(name))) {
    name = tabs[0];
    history.replaceState(null, "", "#/" + name);
  }
  const isConsole = !!routes[name].console;
  document.body.classList.toggle("console", isConsole);
  // the board's tab carries the count of open alerts (supervisors, admins)
  mount(nav, h("ul", null, tabs.map((n) => h("li", null,
    h("a", { href: "#/" + n, "aria-current": n === name ? "page" : null }, t(routes[n].key)),
    n === "board" ? alertBadge(s.site || String(app.site?.id ?? "")) : null))));
  current = routes[name].view(main);
}

async function boot(): Promise<void> {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => { /* offline start still works from the HTTP cache */ });
  }
  try {
    app.client = await openClient();
  } catch (e) {
    mount(document.getElementById("view")!, h("p", { class: "err", role: "alert" }, t("error", { msg: errText(e) })));
    return;
  }
  statusLine(document.getElementById("status")!);
  unsub?.();
  unsub = app.client.subscribe(async (ch) => {
    // the site record (its zone) may come with the first sync after login
    if (session() && (!app.site || ch.includes("site") || !ch.length)) {
      const tz = app.site?.tz;
      await loadSite();
      if (app.site?.tz !== tz) { await render(); return; }
    }
    void current?.update?.();
  });
  window.addEventListener("hashchange", () => void render());
  onLang(() => void render());
  await render();
}

void boot();
