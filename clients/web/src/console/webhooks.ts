// webhooks.ts — Setup › Webhooks: the site's `webhook` records in
// alerts/<site> (schema/SCHEMA.md, "webhook"; delivery, headers and the
// signature in deploy/OPERATIONS.md, "Webhooks"): URL, format (json,
// wecom, dingtalk, slack), alert kinds (none ticked: every kind), secret,
// enabled.  Written through the client like any record (queued, synced);
// the server checks the address when it delivers.
import { app, str, toast, errText, newId } from "../app";
import { h, mount, field } from "../dom";
import { t, tx } from "../i18n";
import { dayhm } from "../time";
import type { Rec } from "../lib";
import { live, ids } from "../handheld/model";

export const ALERT_KINDS = ["urgent_order", "sla_warning", "sla_breach", "patrol_missed", "lone_worker", "task_overdue", "sync_failing"];
const FORMATS = ["json", "wecom", "dingtalk", "slack"];
const SECRET_MIN = 16;

function randomSecret(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/* The last delivery to this webhook from the alerts' delivery logs
 * (each alert's `deliveries`: {hook, state, attempts, last_at, code,
 * error}, deploy/OPERATIONS.md "Webhooks"). */
function lastDelivery(hook: Rec, alerts: Rec[]): string {
  let last: Record<string, unknown> | null = null;
  for (const a of alerts) {
    for (const d of Array.isArray(a.deliveries) ? a.deliveries as Array<Record<string, unknown>> : []) {
      if (d.hook !== hook.id) continue;
      if (!last || Number(d.last_at ?? 0) > Number(last.last_at ?? 0)) last = d;
    }
  }
  if (!last) return "—";
  const at = typeof last.last_at === "number" ? last.last_at : null;
  return [dayhm(at), tx("ds_", last.state), last.code ? "HTTP " + str(last.code) : "", str(last.error)].filter(Boolean).join(" · ");
}

function editor(site: string, rec: Rec | null, after: () => void): HTMLElement {
  const idIn = h("input", { type: "text", value: rec?.id ?? newId("wh"), required: true, pattern: "[A-Za-z0-9._:-]{1,128}", readonly: !!rec });
  const url = h("input", { type: "url", value: str(rec?.url), required: true, maxlength: 2048, placeholder: "https://", spellcheck: "false" });
  const fmt = h("select", null, FORMATS.map((f) => h("option", { value: f }, tx("fmt_", f))));
  fmt.value = str(rec?.format) || "json";
  const chosen = new Set(ids(rec?.kinds));
  const boxes = ALERT_KINDS.map((k) => h("input", { type: "checkbox", value: k, checked: chosen.has(k) }));
  const secret = h("input", { type: "text", value: rec ? "" : randomSecret(), minlength: rec ? 0 : SECRET_MIN, maxlength: 256, spellcheck: "false",
    autocomplete: "off", placeholder: rec?.secret ? t("secretHidden") : "" });
  const enabled = h("input", { type: "checkbox", checked: rec ? rec.enabled !== false : true });
  return h("form", { class: "editor", "aria-label": t("webhooks"), onsubmit: async (e: Event) => {
    e.preventDefault();
    const u = url.value.trim();
    if (!/^https?:\/\/[^\s]+$/i.test(u)) { toast(t("badUrl"), "err"); return; }
    const f: Record<string, unknown> = { site, url: u, format: fmt.value,
      kinds: boxes.filter((b) => b.checked).map((b) => b.value), enabled: enabled.checked };
    const s = secret.value.trim();
    if (s || !rec) {
      if (s.length < SECRET_MIN) { toast(t("secretShort"), "err"); return; }
      f.secret = s;
    }
    try {
      await app.client.put("webhook", idIn.value.trim(), f);
      toast(t("saved"));
      after();
      void app.client.sync().catch(() => undefined);
    } catch (err) { toast(t("error", { msg: errText(err) }), "err"); }
  } },
  h("div", { class: "row" }, field(t("id"), idIn), field(t("webhookUrl"), url), field(t("webhookFormat"), fmt)),
  h("fieldset", { class: "kinds" }, h("legend", null, t("webhookKinds") + " — " + t("kindsHint")),
    ALERT_KINDS.map((k, i) => h("label", null, boxes[i], " " + tx("ak_", k)))),
  h("div", { class: "row" }, field(t("webhookSecret"), secret),
    h("button", { type: "button", onclick: () => { secret.value = randomSecret(); } }, t("newSecret")),
    h("label", null, enabled, " " + t("webhookEnabled"))),
  h("button", { type: "submit", class: "primary" }, t("save")));
}

export async function webhooksTab(box: HTMLElement, site: string): Promise<void> {
  const hooks = (await app.client.query("webhook")).filter((r) => live(r) && r.site === site).sort((a, b) => a.id.localeCompare(b.id));
  const alerts = (await app.client.query("alert")).filter((a) => a.site === site);
  const redraw = () => void webhooksTab(box, site);
  const slot = h("div", { class: "edit-slot" }, editor(site, null, redraw));
  mount(box, h("p", { class: "hint" }, t("webhooksNote")),
    hooks.length ? h("table", { class: "data", "aria-label": t("webhooks") },
      h("thead", null, h("tr", null, [t("id"), t("webhookUrl"), t("webhookFormat"), t("webhookKinds"), t("webhookEnabled"), t("deliveries"), ""]
        .map((x) => h("th", null, x)))),
      h("tbody", null, hooks.map((r) => h("tr", { class: r.enabled === false ? "revoked" : "" },
        h("td", null, h("code", null, r.id)), h("td", null, str(r.url)), h("td", null, tx("fmt_", r.format ?? "json")),
        h("td", null, ids(r.kinds).length ? ids(r.kinds).map((k) => tx("ak_", k)).join(", ") : t("kindsAll")),
        h("td", null, r.enabled === false ? "✕" : "✓"),
        h("td", null, lastDelivery(r, alerts)),
        h("td", null, h("button", { type: "button", "aria-label": t("edit") + " " + r.id, title: t("edit"),
          onclick: () => mount(slot, editor(site, r, redraw)) }, "✎"),
          " ", h("a", { href: "#/audit/webhook/" + encodeURIComponent(r.id) }, t("audit"))))))) : h("p", null, t("noWebhooks")),
    slot);
}
