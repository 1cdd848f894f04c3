// handover.ts — the note the lead leaves for the next shift of the same
// role (it lives in the next shift's bucket), and the one left for mine.
import { app, session, str, errText, toast, newId, type View } from "../app";
import { h, mount, field } from "../dom";
import { t } from "../i18n";
import { dayhm } from "../time";
import type { Rec } from "../lib";
import { myShift, n, live } from "./model";

export function nextShift(shifts: Rec[], cur: Rec): Rec | null {
  return shifts.filter((x) => live(x) && x.id !== cur.id && x.role === cur.role && n(x.starts) >= n(cur.ends) - 3600000)
    .sort((a, b) => n(a.starts) - n(b.starts))[0] ?? null;
}

export function handoverView(el: HTMLElement): View {
  const s = session()!;
  const inBox = h("section", { class: "card" });
  const outBox = h("section", { class: "card" });
  mount(el, inBox, outBox);
  const update = async (): Promise<void> => {
    const shifts = await app.client.query("shift");
    const cur = myShift(shifts, s.staff, Date.now());
    if (!cur) { mount(inBox, h("p", null, t("noShift"))); mount(outBox); return; }
    const incoming = (await app.client.query("handover", { to_shift: cur.id })).filter(live)
      .sort((a, b) => n(b.at) - n(a.at))[0];
    mount(inBox, h("h2", null, t("handoverIn")), incoming
      ? h("div", null, h("p", { class: "hint" }, t("from") + " " + str(incoming.by) + " · " + dayhm(n(incoming.at))),
        h("p", { class: "detail" }, str(incoming.note)),
        Array.isArray(incoming.open_items) ? h("ul", null, incoming.open_items.map((x) => h("li", null, str(x)))) : null)
      : h("p", null, t("handoverNone")));
    const next = nextShift(shifts, cur);
    if (!next) { mount(outBox, h("h2", null, t("handoverOut")), h("p", null, t("noNextShift"))); return; }
    const note = h("textarea", { rows: 4, maxlength: 4000, name: "handover-note" });
    const items = h("textarea", { rows: 3, maxlength: 4000, name: "open-items" });
    const btn = h("button", { type: "submit", class: "primary" }, t("sendHandover"));
    mount(outBox, h("form", { onsubmit: async (e: Event) => {
      e.preventDefault();
      btn.disabled = true;
      try {
        await app.client.put("handover", newId("ho"), {
          site: cur.site, from_shift: cur.id, to_shift: next.id, by: s.staff, at: Date.now(),
          note: note.value.trim(), open_items: items.value.split("\n").map((x) => x.trim()).filter(Boolean),
        });
        toast(t("handoverSent"));
        note.value = ""; items.value = "";
      } catch (err) { toast(t("error", { msg: errText(err) }), "err"); } finally { btn.disabled = false; }
    } }, h("h2", null, t("handoverOut")), h("p", { class: "hint" }, dayhm(n(next.starts))),
    field(t("note"), note), field(t("openItems"), items), btn));
  };
  void update();
  return { update: () => { if (!el.contains(document.activeElement)) void update(); } };
}
