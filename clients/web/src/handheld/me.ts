// me.ts — who is logged in, switch person (a shared handheld), log out.
import { app, session, str, type View } from "../app";
import { h, mount } from "../dom";
import { t, tx } from "../i18n";
import { dayhm, zoneName } from "../time";
import { render } from "../main";

export function meView(el: HTMLElement): View {
  const s = session()!;
  mount(el, h("section", { class: "card" },
    h("h1", null, s.staff),
    h("p", null, tx("role_", s.role) + " · " + (app.site ? str(app.site.name) : s.site)),
    h("p", { class: "hint" }, t("device") + ": " + (app.client.device() ?? "") + " · " + (app.client.server() ?? "")),
    h("p", { class: "hint" }, t("timesIn", { zone: zoneName() }) + " · " + dayhm(s.expires)),
    h("div", { class: "row" },
      h("button", { type: "button", class: "primary", onclick: async () => { await app.client.logout(); await render(); } }, t("switchPerson")),
      h("button", { type: "button", onclick: async () => { await app.client.logout(); await render(); } }, t("logout")))));
  return {};
}
