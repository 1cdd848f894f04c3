// alerts.ts — the board's Alerts panel and the nav's alert count: the
// `alert` records the server raises into alerts/<site> (schema/SCHEMA.md,
// "alert"), pulled by the site's supervisors and the admins like any
// record, so they show offline too.  Open ones (neither acknowledged nor
// resolved) newest first with their severity, text in the UI's language,
// raised time in the site's zone and their subject; acknowledging writes
// acked_by/acked_at through the client (queued, then synced at once).
// Acknowledged and resolved ones go to a collapsed "earlier" list.
import { app, session, str, num, toast, errText } from "../app";
import { h, mount } from "../dom";
import { t, tx, lang } from "../i18n";
import { dayhm } from "../time";
import type { Rec } from "../lib";
import { live } from "../handheld/model";
import { enc } from "./api";

const EARLIER_MAX = 50;

/* Neither acknowledged nor resolved: what someone still has to look at. */
export function isOpen(a: Rec): boolean {
  return live(a) && !a.acked_by && num(a.resolved_at) === null;
}

function ofSite(all: Rec[], site: string): Rec[] {
  return all.filter((a) => live(a) && (!site || a.site === site));
}

function textOf(a: Rec): string {
  const zh = str(a.text_zh), en = str(a.text_en);
  return (lang() === "zh-CN" ? zh || en : en || zh) || tx("ak_", a.kind);
}

/* The record an alert is about: an order by its title, else kind and id;
 * a link to its audit history. */
async function subjectOf(a: Rec): Promise<HTMLElement | null> {
  const c = str(a.subject_c), id = str(a.subject);
  if (!c || !id) return null;
  let name = id;
  if (c === "order" || c === "shift" || c === "task") {
    const r = await app.client.get(c, id).catch(() => null);
    if (r && (r.title || r.name)) name = str(r.title || r.name);
  }
  return h("a", { class: "subject", href: "#/audit/" + enc(c) + "/" + enc(id) }, tx("subj_", c) + ": " + name);
}

async function item(a: Rec, redraw: () => void): Promise<HTMLElement> {
  const sev = str(a.severity) || "info";
  const acked = !!a.acked_by, resolved = num(a.resolved_at) !== null;
  const who = session();
  const canAck = !acked && !resolved && (who?.role === "supervisor" || who?.role === "admin");
  return h("li", { class: "alert sev-" + sev + (acked || resolved ? " done" : ""), "data-alert": a.id },
    h("p", { class: "alert-head" },
      h("span", { class: "sev" }, tx("sev_", sev)), " ",
      h("strong", null, tx("ak_", a.kind)), " · ",
      h("time", { datetime: new Date(num(a.raised_at) ?? 0).toISOString() }, t("raisedAt", { t: dayhm(num(a.raised_at)) }))),
    h("p", { class: "alert-text" }, textOf(a)),
    await subjectOf(a),
    acked ? h("p", { class: "hint" }, t("ackedBy", { who: str(a.acked_by), t: dayhm(num(a.acked_at)) })) : null,
    resolved ? h("p", { class: "hint" }, t("resolvedAt", { t: dayhm(num(a.resolved_at)) })) : null,
    canAck ? h("button", { type: "button", class: "primary", "aria-describedby": null,
      onclick: async (e: Event) => {
        (e.currentTarget as HTMLButtonElement).disabled = true;
        try {
          await app.client.ack(a.id);
          redraw();
          await app.client.sync().catch(() => toast(t("ackQueued")));
        } catch (err) {
          toast(t("ackFailed", { msg: errText(err) }), "err");
          redraw();
        }
      } }, t("acknowledge")) : null);
}

/* The panel: mounts into `el`, redraws on alert changes; stop() ends it. */
export function alertsPanel(el: HTMLElement, site: string): { stop(): void } {
  const open = h("ol", { class: "alerts open", "aria-live": "polite", id: "open-alerts", "aria-labelledby": "b-alerts" });
  const earlier = h("details", { class: "earlier" });
  mount(el, h("h2", { id: "b-alerts" }, t("alertsOpen")), open, earlier);
  let gen = 0;
  const draw = async (): Promise<void> => {
    const my = ++gen;
    const all = ofSite(await app.client.alerts(true), site);
    const now = all.filter(isOpen), old = all.filter((a) => !isOpen(a)).slice(0, EARLIER_MAX);
    const openItems = await Promise.all(now.map((a) => item(a, () => void draw())));
    const oldItems = await Promise.all(old.map((a) => item(a, () => void draw())));
    if (my !== gen) return; // a newer draw started meanwhile
    mount(open, openItems.length ? openItems : h("li", { class: "none" }, t("noOpenAlerts")));
    const wasOpen = earlier.open;
    mount(earlier, h("summary", null, t("alertsEarlier", { n: old.length })), h("ol", { class: "alerts" }, oldItems));
    earlier.open = wasOpen;
  };
  const unsub = app.client.subscribe((ch) => { if (!ch.length || ch.includes("alert")) void draw(); });
  void draw();
  return { stop: unsub };
}

/* The count of open alerts beside the board's tab (a supervisor's
 * handheld and the console), a link to the board; hidden at 0. */
export function alertBadge(site: string): HTMLElement {
  const el = h("a", { class: "badge", id: "alert-badge", href: "#/board", hidden: true });
  const draw = async (): Promise<void> => {
    const n = ofSite(await app.client.alerts(false), site).filter(isOpen).length;
    el.hidden = n === 0;
    el.textContent = String(n);
    el.setAttribute("aria-label", t("alertBadge", { n }));
    el.title = t("alertBadge", { n });
  };
  const unsub = app.client.subscribe((ch) => {
    if (!el.isConnected) { unsub(); return; }
    if (!ch.length || ch.includes("alert")) void draw();
  });
  void draw();
  return el;
}
