// shift.ts — the guard's screen: my shift, the current round with each
// checkpoint's state, and checking in by tag (typed, QR or NFC).  The
// tag is looked up in the local copy, so it works with no network.
import { app, session, str, errText, type View } from "../app";
import { h, mount, field } from "../dom";
import { t, tx } from "../i18n";
import { hm, zoneName } from "../time";
import { canScan, scanQr, canNfc, readNfc } from "../scan";
import type { Rec } from "../lib";
import { myShift, currentRound, findCheckpoint, n, live } from "./model";

const STATE_KEY = { due: "stDue", on_time: "stOnTime", late: "stLate", missed: "stMissed", open: "stOpen" } as const;

export function shiftView(el: HTMLElement): View {
  const head = h("section", { class: "card", "aria-labelledby": "shift-h" });
  const roundBox = h("section", { class: "card", "aria-label": t("navShift") });
  const tag = h("input", { type: "text", name: "tag", autocomplete: "off", autocapitalize: "characters",
    spellcheck: "false", maxlength: 128, enterkeyhint: "done" });
  const msg = h("p", { class: "msg", id: "checkin-msg", "aria-live": "assertive" });
  const cam = h("div", { class: "cam" });
  const recent = h("section", { class: "card" });
  let shift: Rec | null = null, route: Rec | null = null, cps: Rec[] = [];
  let stopCam: (() => void) | null = null;

  const doCheckin = async (text: string, method: "manual" | "qr" | "nfc", sun?: string): Promise<void> => {
    await loaded; // a tap right after the screen opened waits for the local copy
    const cp = findCheckpoint(cps, text);
    if (!cp) { mount(msg, h("span", { class: "err", role: "alert" }, t("unknownTag", { tag: text }))); return; }
    if (!shift) { mount(msg, h("span", { class: "err", role: "alert" }, t("noShift"))); return; }
    try {
      const rec = await app.client.checkin(cp.id, method, { shift: shift.id, route: shift.route ?? undefined, site: shift.site, sun });
      mount(msg, h("span", { class: "ok" }, t("queued", { name: str(cp.name) || cp.id, t: hm(n(rec.at) || Date.now()) })));
      tag.value = "";
    } catch (e) {
      mount(msg, h("span", { class: "err", role: "alert" }, t("error", { msg: errText(e) })));
    }
  };

  const form = h("form", { class: "card checkin", onsubmit: (e: Event) => { e.preventDefault(); void doCheckin(tag.value, "manual"); } },
    field(t("tag"), tag, t("tagHint")),
    h("div", { class: "row" },
      h("button", { type: "submit", class: "primary big" }, t("checkin")),
      canScan() ? h("button", { type: "button", onclick: async () => {
        if (stopCam) { stopCam(); stopCam = null; return; }
        try { stopCam = await scanQr(cam, (txt) => { stopCam = null; void doCheckin(txt, "qr"); }); }
        catch (e) { mount(msg, h("span", { class: "err" }, errText(e))); }
      } }, t("scanQr")) : null,
      canNfc() ? h("button", { type: "button", onclick: async () => {
        mount(msg, t("nfcReady"));
        try { await readNfc((txt, url) => void doCheckin(txt, "nfc", url)); } catch (e) { mount(msg, h("span", { class: "err" }, errText(e))); }
      } }, t("scanNfc")) : null),
    cam, msg);
  mount(el, head, form, roundBox, recent);

  const update = async (): Promise<void> => {
    const s = session();
    if (!s) return;
    const now = Date.now();
    shift = myShift(await app.client.query("shift"), s.staff, now);
    if (!shift) { mount(head, h("h1", { id: "shift-h" }, t("noShift"))); mount(roundBox); mount(recent); return; }
    route = shift.route ? await app.client.get("route", String(shift.route)) : null;
    cps = (await app.client.query("checkpoint")).filter(live);
    const checkins = await app.client.query("checkin", { shift: shift.id });
    const hin = (await app.client.query("handover", { to_shift: shift.id })).filter(live).sort((a, b) => n(b.at) - n(a.at))[0];
    mount(head, h("h1", { id: "shift-h" }, t("shiftOf", { role: tx("role_", shift.role), from: hm(n(shift.starts)), to: hm(n(shift.ends)) })),
      h("p", { class: "hint" }, (app.site ? str(app.site.name) + " · " : "") + t("timesIn", { zone: zoneName() })),
      hin ? h("div", { class: "banner handover" }, h("strong", null, t("handoverIn") + " (" + str(hin.by) + "): "), str(hin.note)) : null);
    const r = route ? currentRound(shift, route, checkins, now) : null;
    if (!r) { mount(roundBox, h("p", null, t("noRoute"))); }
    else {
      const name = (id: string) => str(cps.find((c) => c.id === id)?.name) || id;
      mount(roundBox,
        h("h2", null, t("round", { k: r.k + 1, n: r.count, from: hm(r.from), to: hm(r.to) })),
        h("p", null, t("roundSummary", { done: r.done, total: r.cps.length, missed: r.missedSoFar })),
        h("ul", { class: "cps" }, r.cps.map((c) => h("li", { class: "cp st-" + c.state },
          h("span", { class: "cp-name" }, name(c.id)),
          h("span", { class: "cp-state" }, t(STATE_KEY[c.state]) + (c.at ? " " + hm(c.at) : ""))))));
    }
    const mine = checkins.filter((c) => c.staff === s.staff).sort((a, b) => n(b.at) - n(a.at)).slice(0, 8);
    mount(recent, h("h2", null, t("recentCheckins")),
      h("ul", { class: "plain" }, mine.map((c) => h("li", null, hm(n(c.at)) + " · ",
        str(cps.find((x) => x.id === c.checkpoint)?.name) || str(c.checkpoint),
        c.trust ? h("small", { class: "trust-" + str(c.trust) }, " " + str(c.trust)) : null))));
  };
  const loaded = update();
  const timer = setInterval(() => void update(), 30000);
  return { update, stop: () => { clearInterval(timer); stopCam?.(); } };
}
