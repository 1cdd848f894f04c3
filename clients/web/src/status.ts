// status.ts — the line at the top of every screen: online or offline, how
// many changes wait, the last sync, urgent reports not yet sent (with
// "phone the control room"), and changes the server refused.
import { app, str, toast, errText, controlPhone } from "./app";
import { h, mount } from "./dom";
import { t, tx, onLang } from "./i18n";
import { hm } from "./time";
import type { Status } from "./lib";

export function statusLine(root: HTMLElement): void {
  const line = h("p", { role: "status", id: "status-text", "aria-live": "polite" });
  const syncBtn = h("button", { type: "button", id: "sync-now",
    onclick: async () => {
      try { await app.client.sync(); } catch (e) { toast(t("syncFailed", { msg: errText(e) }), "err"); }
    } });
  const urgent = h("div", { id: "urgent" });
  const dead = h("div", { id: "dead" });
  mount(root, h("div", { class: "statusbar" }, line, syncBtn), urgent, dead);

  const draw = (st: Status): void => {
    const online = st.online;
    root.classList.toggle("is-offline", !online);
    mount(line,
      h("span", { class: online ? "dot on" : "dot off", "aria-hidden": "true" }),
      (online ? t("online") : t("offline")) + " · ",
      h("strong", { id: "pending-count" }, t("pending", { n: st.pending })),
      " · " + (st.syncing ? t("syncing") : st.lastSync ? t("lastSync", { t: hm(st.lastSync) }) : t("neverSynced")),
      st.error && !st.syncing ? h("span", { class: "err" }, " · " + t("syncFailed", { msg: st.error })) : null,
      Math.abs(st.offsetMs) > 120000 ? h("span", { class: "warn" }, " · " + t("clockOff", { n: Math.round(st.offsetMs / 60000) })) : null);
    syncBtn.textContent = t("syncNow");
    mount(urgent, st.urgent.map((o) => h("div", { class: "banner urgent", role: "alert" },
      h("strong", null, t("urgentUnsent", { title: tx("cat_", o.category) + (o.title ? " — " + str(o.title) : "") })),
      " ", ...(controlPhone() ? [t("urgentBannerAt"), controlPhone()] : [t("urgentBanner")]))));
    mount(dead, st.dead.length ? h("details", { class: "banner dead" },
      h("summary", null, t("deadLetters", { n: st.dead.length })),
      h("ul", null, st.dead.map((d) => h("li", null, h("code", null, d.c + " " + d.id), " — ", d.code + ": " + d.msg))),
      h("button", { type: "button", onclick: () => void app.client.clearDead() }, t("deadClear"))) : null);
  };
  app.client.onStatus(draw);
  onLang(() => draw(app.client.status()));
  draw(app.client.status());
}
