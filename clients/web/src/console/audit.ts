// audit.ts — the history of one record (GET /v1/audit/<c>/<id>,
// deploy/OPERATIONS.md): who changed which field, from what to what, when,
// on which device.  Values are shown as text (JSON), never as markup.
import { app, str, type View } from "../app";
import { h, mount, field } from "../dom";
import { t } from "../i18n";
import { dayhm, zoneName } from "../time";
import { explain, enc } from "./api";

interface Entry { t: number; staff: string; role: string; device: string; ch: Array<{ f: string; old: unknown; new: unknown }> }
interface Page { entries: Entry[]; more: boolean; next: number }

const COLLS = ["checkin", "task", "order", "handover", "checkpoint", "zone", "route", "shift", "staff", "standard", "site"];

const TIME = /(_at|_by|^at|^at_est|^rcv|^starts|^ends|^due_from|^due_to|^expires)$/;
/* A value as text: times in the site's zone, the rest as JSON. */
function val(f: string, v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number" && TIME.test(f) && v > 1e12) return dayhm(v);
  return JSON.stringify(v);
}

export function auditView(el: HTMLElement): View {
  const m = /^#\/audit\/([a-z]+)\/(.+)$/.exec(location.hash);
  const coll = h("select", null, COLLS.map((c) => h("option", { value: c }, c)));
  coll.value = m?.[1] ?? "order";
  const id = h("input", { type: "text", value: m ? decodeURIComponent(m[2]) : "", required: true, spellcheck: "false", maxlength: 128 });
  const out = h("div");
  const look = async (after = 0): Promise<void> => {
    if (!after) mount(out, h("p", null, t("loading")));
    try {
      const p = await app.client.call<Page>("GET", "/v1/audit/" + enc(coll.value) + "/" + enc(id.value.trim()) + (after ? "?after=" + after : ""));
      const rows = p.entries.flatMap((e) => e.ch.map((c, i) => h("tr", null,
        i === 0 ? h("td", { rowspan: e.ch.length }, dayhm(e.t)) : null,
        i === 0 ? h("td", { rowspan: e.ch.length }, str(e.staff) + " (" + str(e.role) + ")", h("br"), h("small", null, str(e.device))) : null,
        h("td", null, h("code", null, c.f)), h("td", null, val(c.f, c.old)), h("td", null, val(c.f, c.new)))));
      const table = h("table", { class: "data audit" },
        h("thead", null, h("tr", null, [t("when"), t("who"), t("field"), t("oldValue"), t("newValue")].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", null, rows));
      if (after) out.appendChild(table); else mount(out, h("p", { class: "hint" }, t("timesIn", { zone: zoneName() })), table);
      if (p.more) out.appendChild(h("button", { type: "button", onclick: (e: Event) => { (e.target as HTMLElement).remove(); void look(p.next); } }, "…"));
      if (!p.entries.length && !after) out.appendChild(h("p", null, t("noData")));
    } catch (e) { mount(out, h("p", { class: "err" }, explain(e))); }
  };
  mount(el, h("form", { class: "card row", onsubmit: (e: Event) => { e.preventDefault(); void look(); } },
    h("h1", null, t("audit")), field(t("collection"), coll), field(t("recordId"), id),
    h("button", { type: "submit", class: "primary" }, t("lookUp"))), out);
  if (m) void look();
  return {};
}
