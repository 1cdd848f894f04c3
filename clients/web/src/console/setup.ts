// setup.ts — setting up and running a site: zones, checkpoints (with a
// printable sheet of QR tags), routes, standards, staff (PIN reset),
// devices (last sync, revoke), enrollment codes shown as QR codes, the
// alert webhooks (console/webhooks.ts) and the CSV import (console/import.ts).
// Records are written through the client like any other change (queued,
// synced); PINs, revocations and codes are admin calls to the server.
import { app, session, str, errText, toast, newId, type View } from "../app";
import { h, mount, field } from "../dom";
import { t, tx } from "../i18n";
import { dayhm, toLocalInput, fromLocalInput } from "../time";
import type { Rec } from "../lib";
import { live, ids } from "../handheld/model";
import { siteOf } from "./board";
import { devices, explain } from "./api";
import { qrSvg } from "./qr";
import { webhooksTab } from "./webhooks";
import { importTab } from "./import";

type Tab = "zones" | "checkpoints" | "routes" | "standards" | "staffTab" | "shifts" | "devices" | "enrollCodes" | "webhooks" | "importTab";
const TABS: Tab[] = ["zones", "checkpoints", "routes", "standards", "staffTab", "shifts", "devices", "enrollCodes", "webhooks", "importTab"];

interface Col { key: string; label: () => string; type?: "text" | "number" | "ids" | "select" | "bool" | "time"; options?: string[] }

const COLS: Partial<Record<Tab, { c: string; prefix: string; cols: Col[] }>> = {
  zones: { c: "zone", prefix: "z", cols: [{ key: "name", label: () => t("name") }, { key: "kind", label: () => t("kind") }] },
  checkpoints: { c: "checkpoint", prefix: "cp", cols: [{ key: "name", label: () => t("name") }, { key: "zone", label: () => t("zone") },
    { key: "tag", label: () => t("tag") }] },
  routes: { c: "route", prefix: "rt", cols: [{ key: "name", label: () => t("name") }, { key: "checkpoints", label: () => t("routeCheckpoints"), type: "ids" },
    { key: "every_min", label: () => t("everyMin"), type: "number" }, { key: "grace_min", label: () => t("graceMin"), type: "number" }] },
  standards: { c: "standard", prefix: "st", cols: [{ key: "title", label: () => t("title") }, { key: "zone", label: () => t("zone") },
    { key: "role", label: () => t("role"), type: "select", options: ["cleaner", "guard", "technician"] },
    { key: "per", label: () => t("perPeriod"), type: "select", options: ["day", "week", "month", "year"] },
    { key: "times", label: () => t("times"), type: "number" }, { key: "evidence", label: () => t("evidence"), type: "select", options: ["none", "photo", "checklist"] }] },
  staffTab: { c: "staff", prefix: "s", cols: [{ key: "name", label: () => t("name") },
    { key: "role", label: () => t("role"), type: "select", options: ["guard", "cleaner", "technician", "supervisor"] },
    { key: "active", label: () => t("active"), type: "bool" }] },
  // the roster: times are typed in the site's zone
  shifts: { c: "shift", prefix: "sh", cols: [{ key: "role", label: () => t("role"), type: "select", options: ["guard", "cleaner", "technician", "supervisor"] },
    { key: "starts", label: () => t("starts"), type: "time" }, { key: "ends", label: () => t("ends"), type: "time" },
    { key: "staff", label: () => t("staffIds"), type: "ids" }, { key: "route", label: () => t("route") }, { key: "lead", label: () => t("lead") }] },
};

function show(v: unknown): string {
  if (Array.isArray(v)) return v.map(str).join(", ");
  if (typeof v === "boolean") return v ? "✓" : "✕";
  return str(v);
}

function editor(tab: Tab, site: string, rec: Rec | null, after: () => void): HTMLElement {
  const spec = COLS[tab]!;
  const idIn = h("input", { type: "text", value: rec?.id ?? "", required: true, pattern: "[A-Za-z0-9._:-]{1,128}", readonly: !!rec });
  const inputs = spec.cols.map((c) => {
    const v = rec?.[c.key];
    if (c.type === "select") { const sel = h("select", null, c.options!.map((o) => h("option", { value: o }, tx("role_", o)))); sel.value = str(v) || c.options![0]; return sel; }
    if (c.type === "bool") return h("input", { type: "checkbox", checked: v !== false });
    if (c.type === "time") return h("input", { type: "datetime-local", value: typeof v === "number" ? toLocalInput(v) : "", required: true });
    return h("input", { type: c.type === "number" ? "number" : "text", value: c.type === "ids" ? ids(v).join(", ") : str(v), min: 0 });
  });
  return h("form", { class: "editor row", onsubmit: async (e: Event) => {
    e.preventDefault();
    const f: Record<string, unknown> = { site };
    spec.cols.forEach((c, i) => {
      const inp = inputs[i] as HTMLInputElement;
      if (c.type === "number") f[c.key] = inp.value === "" ? null : Math.max(0, Math.floor(Number(inp.value)));
      else if (c.type === "time") f[c.key] = fromLocalInput(inp.value);
      else if (c.type === "ids") f[c.key] = inp.value.split(/[\s,]+/).filter(Boolean);
      else if (c.type === "bool") f[c.key] = inp.checked;
      else f[c.key] = inp.value.trim() || null;
    });
    try {
      await app.client.put(spec.c, idIn.value.trim() || newId(spec.prefix), f);
      toast(t("saved"));
      after();
    } catch (err) { toast(t("error", { msg: errText(err) }), "err"); }
  } }, field(t("id"), idIn), spec.cols.map((c, i) => field(c.label(), inputs[i])),
  h("button", { type: "submit", class: "primary" }, t("save")));
}

async function recordTab(box: HTMLElement, tab: Tab, site: string): Promise<void> {
  const spec = COLS[tab]!;
  const week = 7 * 86400000, now = Date.now();
  const recs = (await app.client.query(spec.c)).filter((r) => live(r) && (spec.c === "site" || r.site === site))
    .filter((r) => spec.c !== "shift" || Math.abs(Number(r.starts) - now) < week)
    .sort((a, b) => spec.c === "shift" ? Number(a.starts) - Number(b.starts) : a.id.localeCompare(b.id));
  const redraw = () => void recordTab(box, tab, site);
  const extra: HTMLElement[] = [];
  if (tab === "checkpoints") {
    extra.push(h("button", { type: "button", class: "noprint", onclick: () => { document.body.classList.add("print-qr"); window.print(); document.body.classList.remove("print-qr"); } }, t("printQr")),
      h("div", { class: "qr-sheet" }, recs.filter((r) => r.tag).map((r) => h("figure", { class: "qr-tag" },
        qrSvg(str(r.tag), str(r.name)), h("figcaption", null, h("strong", null, str(r.name)), h("br"), str(r.tag))))));
  }
  const pinCell = (r: Rec) => {
    const pin = h("input", { type: "text", class: "masked", inputmode: "numeric", minlength: 4, maxlength: 64, required: true, "aria-label": t("newPin") + " " + r.id });
    return h("form", { class: "inline", onsubmit: async (e: Event) => {
      e.preventDefault();
      try { await app.client.call("POST", "/v1/admin/staff-pin", { staff: r.id, pin: pin.value }); toast(t("pinSet", { staff: r.id })); pin.value = ""; }
      catch (err) { toast(explain(err), "err"); }
    } }, pin, h("button", { type: "submit" }, t("setPin")));
  };
  mount(box, h("p", { class: "hint noprint" }, t("importNote")),
    h("table", { class: "data noprint" },
      h("thead", null, h("tr", null, h("th", null, t("id")), spec.cols.map((c) => h("th", null, c.label())), h("th", null, ""))),
      h("tbody", null, recs.map((r) => h("tr", null, h("td", null, h("code", null, r.id)),
        spec.cols.map((c) => h("td", null, c.type === "time" ? dayhm(typeof r[c.key] === "number" ? r[c.key] as number : null) : show(r[c.key]))),
        h("td", null,
          h("button", { type: "button", "aria-label": t("edit") + " " + r.id, title: t("edit"),
            onclick: () => mount(box.querySelector(".edit-slot")!, editor(tab, site, r, redraw)) }, "✎"),
          tab === "staffTab" ? pinCell(r) : null,
          h("a", { href: "#/audit/" + spec.c + "/" + encodeURIComponent(r.id) }, t("audit"))))))),
    h("div", { class: "edit-slot noprint" }, editor(tab, site, null, redraw)), extra);
}

async function devicesTab(box: HTMLElement, site: string): Promise<void> {
  try {
    const d = await devices(site);
    mount(box, h("table", { class: "data" },
      h("thead", null, h("tr", null, [t("device"), t("name"), t("staff"), t("lastSyncCol"), t("pendingCol"), ""].map((x) => h("th", null, x)))),
      h("tbody", null, d.devices.map((x) => h("tr", { class: x.revoked ? "revoked" : "" },
        h("td", null, h("code", null, x.device)), h("td", null, str(x.name)), h("td", null, str(x.staff)),
        h("td", null, dayhm(x.last_sync ?? null)), h("td", { class: "num" }, x.pending ?? 0),
        h("td", null, x.revoked ? t("revoked") : h("button", { type: "button", class: "danger", onclick: async () => {
          if (!confirm(t("revokeConfirm", { d: x.device }))) return;
          try { await app.client.call("POST", "/v1/admin/revoke", { device: x.device }); void devicesTab(box, site); }
          catch (err) { toast(explain(err), "err"); }
        } }, t("revoke"))))))));
  } catch (e) { mount(box, h("p", { class: "err" }, explain(e))); }
}

function codesTab(box: HTMLElement, site: string): void {
  const role = h("select", null, ["guard", "cleaner", "technician", "supervisor"].map((r) => h("option", { value: r }, tx("role_", r))));
  const uses = h("input", { type: "number", min: 1, max: 100000, value: 1 });
  const hours = h("input", { type: "number", min: 1, max: 8760, value: 24 });
  const out = h("div", { class: "codes" });
  mount(box, h("form", { class: "row", onsubmit: async (e: Event) => {
    e.preventDefault();
    try {
      const r = await app.client.call<{ code: string }>("POST", "/v1/admin/enroll-codes",
        { site, role: role.value, uses: Number(uses.value), ttl_s: Number(hours.value) * 3600 });
      const url = (app.client.server() ?? location.origin) + "/#enroll=" + r.code;
      out.prepend(h("figure", { class: "code" }, qrSvg(url, t("enrollCode") + " " + r.code),
        h("figcaption", null, h("strong", { class: "code-text" }, r.code), h("br"),
          t("codeFor", { role: tx("role_", role.value), site, uses: uses.value, t: dayhm(Date.now() + Number(hours.value) * 3600000) }), h("br"), h("small", null, url))));
    } catch (err) { toast(explain(err), "err"); }
  } }, field(t("role"), role), field(t("uses"), uses), field(t("validHours"), hours), h("button", { type: "submit", class: "primary" }, t("makeCode"))), out);
}

export function setupView(el: HTMLElement): View {
  const site = siteOf();
  const m = /^#\/setup\/([A-Za-z]+)/.exec(location.hash);
  const tab: Tab = m && TABS.includes(m[1] as Tab) ? (m[1] as Tab) : "zones";
  const box = h("div");
  mount(el, h("h1", { class: "noprint" }, t("setupTitle") + " · " + (str(app.site?.name) || site)),
    h("p", { class: "hint noprint" }, t("scopeNote")),
    h("nav", { class: "subnav noprint", "aria-label": t("setupTitle") }, h("ul", null, TABS.map((x) => h("li", null,
      h("a", { href: "#/setup/" + x, "aria-current": x === tab ? "page" : null }, t(x)))))), box);
  const update = async (): Promise<void> => {
    if (tab === "devices") await devicesTab(box, site);
    else if (tab === "enrollCodes" && session()?.role !== "admin") mount(box, h("p", null, t("codesAdminOnly")));
    else if (tab === "enrollCodes") codesTab(box, site);
    else if (tab === "webhooks") await webhooksTab(box, site);
    else if (tab === "importTab") importTab(box, site);
    else await recordTab(box, tab, site);
  };
  void update();
  // forms the person is filling are not redrawn under them
  return { update: () => { if (tab !== "enrollCodes" && tab !== "importTab" && !el.contains(document.activeElement)) void update(); } };
}

