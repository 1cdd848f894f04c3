// reports.ts — the site report over a date range (GET /v1/reports/site,
// schema/REPORTS.md) as charts and a table, its CSV, and a page that
// prints for a property owner (print stylesheet in app.css).
import { app, str, type View } from "../app";
import { h, mount, field, download } from "../dom";
import { t, tx, minutesText } from "../i18n";
import { isoDate, zoneName } from "../time";
import { lineChart, barChart, type Bar } from "./chart";
import { LEVELS } from "../handheld/orders";
import { siteOf } from "./board";
import { explain, enc } from "./api";
import { n, live } from "../handheld/model";

type Ratio = number | null;
interface Day {
  date: string;
  patrol: { completion: Ratio; completion_target?: number };
  tasks: { completion: Ratio; on_time_rate: Ratio; completion_target?: number; on_time_rate_target?: number };
  orders: { total: number; on_time_rate: Ratio; on_time_rate_target?: number; met: number; waiting: number; breached_respond: number; breached_resolve: number };
}
interface SiteReport { site: string; name: string; tz: string; from: string; to: string; days: Day[] }

const pct = (v: Ratio | undefined): string => (v == null ? "—" : Math.round(v * 1000) / 10 + "%");

export function reportsView(el: HTMLElement): View {
  const site = siteOf();
  const now = Date.now();
  const from = h("input", { type: "date", value: isoDate(now - 13 * 86400000), required: true });
  const to = h("input", { type: "date", value: isoDate(now), required: true });
  const out = h("div", { class: "report" });
  const range = () => "from=" + enc(from.value) + "&to=" + enc(to.value);
  const show = async (): Promise<void> => {
    mount(out, h("p", null, t("loading")));
    let rep: SiteReport;
    try { rep = await app.client.call<SiteReport>("GET", "/v1/reports/site/" + enc(site) + "?" + range()); }
    catch (e) { mount(out, h("p", { class: "err" }, explain(e))); return; }
    const labels = rep.days.map((d) => d.date);
    const d0 = rep.days[0];
    const chart1 = lineChart(t("chartCompletion"), labels, [
      { name: t("patrolCompletion"), cls: "s1", values: rep.days.map((d) => d.patrol.completion), target: d0?.patrol.completion_target },
      { name: t("taskCompletion"), cls: "s2", values: rep.days.map((d) => d.tasks.completion), target: d0?.tasks.completion_target },
      { name: t("taskOnTime"), cls: "s3", values: rep.days.map((d) => d.tasks.on_time_rate), target: d0?.tasks.on_time_rate_target },
      { name: t("orderOnTime"), cls: "s4", values: rep.days.map((d) => d.orders.on_time_rate), target: d0?.orders.on_time_rate_target },
    ], (v) => t("target", { v: pct(v) }));
    // Orders by category, from the site's orders on this device (the
    // supervisor's scope), by the same rule as the report: met when the
    // checked time is within the deadline.
    const lo = Date.parse(from.value + "T00:00:00Z") - 86400000, hi = Date.parse(to.value + "T00:00:00Z") + 2 * 86400000;
    const orders = (await app.client.query("order")).filter((o) => live(o) && n(o.reported_at) >= lo && n(o.reported_at) < hi);
    const checked: Record<string, string> = { elevator_entrapment: "on_site_at", urgent_water: "on_site_at", urgent_power: "on_site_at",
      incident: "on_site_at", complaint: "accepted_at", repair: "resolved_at" };
    const bars: Bar[] = LEVELS.map((l) => {
      let met = 0, late = 0, wait = 0;
      for (const o of orders.filter((x) => x.category === l.cat)) {
        const dl = n(o[l.field]), at = n(o[checked[l.cat]]);
        if (at && dl && at <= dl) met++; else if ((at && at > dl) || (!at && dl && Date.now() > dl)) late++; else wait++;
      }
      return { label: tx("cat_", l.cat), sub: t(l.field === "respond_by" ? "respondWithin" : "resolveWithin", { m: minutesText(l.min) }),
        parts: [{ v: met, cls: "met", name: t("met") }, { v: late, cls: "breached", name: t("breached") }, { v: wait, cls: "waiting", name: t("waiting") }] };
    });
    const key = (cls: string, txt: string) => h("li", null, h("span", { class: "sw " + cls, "aria-hidden": "true" }), txt);
    mount(out,
      h("h2", null, str(rep.name) + " · " + rep.from + " – " + rep.to),
      h("p", { class: "hint" }, t("timesIn", { zone: rep.tz || zoneName() })),
      h("figure", null, chart1, h("figcaption", null, t("chartCompletion"),
        h("ul", { class: "keys" }, key("s1", t("patrolCompletion")), key("s2", t("taskCompletion")), key("s3", t("taskOnTime")), key("s4", t("orderOnTime"))))),
      h("figure", null, barChart(t("chartOrders"), bars), h("figcaption", null, t("chartOrders"),
        h("ul", { class: "keys" }, key("met", t("met")), key("breached", t("breached")), key("waiting", t("waiting"))))),
      h("table", { class: "data" },
        h("thead", null, h("tr", null, [t("date"), t("patrolCompletion"), t("taskCompletion"), t("taskOnTime"), t("orderOnTime"), t("ordersCount")]
          .map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", null, rep.days.map((d) => h("tr", null, h("th", { scope: "row" }, d.date),
          h("td", { class: "num" }, pct(d.patrol.completion)), h("td", { class: "num" }, pct(d.tasks.completion)),
          h("td", { class: "num" }, pct(d.tasks.on_time_rate)), h("td", { class: "num" }, pct(d.orders.on_time_rate)),
          h("td", { class: "num" }, d.orders.total))))));
  };
  mount(el, h("form", { class: "card noprint row", onsubmit: (e: Event) => { e.preventDefault(); void show(); } },
    h("h1", null, t("reportsTitle")), field(t("fromDate"), from), field(t("toDate"), to),
    h("button", { type: "submit", class: "primary" }, t("show")),
    h("button", { type: "button", onclick: async () => {
      try { download("fieldsync-" + site + "-" + from.value + "-" + to.value + ".csv",
        await app.client.callText("/v1/reports/site/" + enc(site) + "?" + range() + "&format=csv"), "text/csv"); }
      catch (e) { mount(out, h("p", { class: "err" }, explain(e))); }
    } }, t("downloadCsv")),
    h("button", { type: "button", onclick: () => window.print() }, t("print"))), out);
  void show();
  return {};
}
