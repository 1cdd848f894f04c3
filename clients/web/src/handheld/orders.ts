// orders.ts — work orders: anyone reports one (the category shows its
// service level; an elevator entrapment its 5-minute limit and "phone the
// control room" until the server has it); a technician accepts, is on
// site, resolves with photos.
import { app, session, str, errText, toast, controlPhone, type View } from "../app";
import { h, mount, field } from "../dom";
import { t, tx, minutesText } from "../i18n";
import { dayhm, countdown, zoneName } from "../time";
import type { Rec } from "../lib";
import { compressPhoto } from "../photo";
import { n, live } from "./model";

/* The service levels of schema/schema.c (levels[]), for the picker. */
export const LEVELS: Array<{ cat: string; field: "respond_by" | "resolve_by"; min: number }> = [
  { cat: "elevator_entrapment", field: "respond_by", min: 5 },
  { cat: "urgent_water", field: "respond_by", min: 15 },
  { cat: "urgent_power", field: "respond_by", min: 15 },
  { cat: "incident", field: "respond_by", min: 15 },
  { cat: "complaint", field: "respond_by", min: 1440 },
  { cat: "repair", field: "resolve_by", min: 1440 },
];

export function deadlineOf(o: Rec): number | null {
  const v = o.respond_by ?? o.resolve_by;
  return typeof v === "number" ? v : null;
}

async function photosOf(input: HTMLInputElement): Promise<Blob[]> {
  const out: Blob[] = [];
  for (const f of Array.from(input.files ?? []).slice(0, 6)) out.push(await compressPhoto(f));
  return out;
}

function nextStep(o: Rec, me: string): { key: "accept" | "onSite" | "resolve" } | null {
  if (o.assignee && o.assignee !== me) return null;
  switch (o.status) {
    case "reported": case undefined: case null: return { key: "accept" };
    case "accepted": return { key: "onSite" };
    case "on_site": return { key: "resolve" };
    default: return null;
  }
}

export function ordersView(el: HTMLElement): View {
  const s = session()!;
  const cat = h("select", { name: "category", required: true },
    LEVELS.map((l) => h("option", { value: l.cat },
      tx("cat_", l.cat) + " — " + t(l.field === "respond_by" ? "respondWithin" : "resolveWithin", { m: minutesText(l.min) }))));
  cat.value = "repair";
  const title = h("input", { type: "text", name: "title", maxlength: 200, required: true });
  const detail = h("textarea", { name: "detail", rows: 3, maxlength: 4000 });
  const photos = h("input", { type: "file", accept: "image/*", capture: "environment" });
  const warn = h("div", { "aria-live": "polite" });
  const msg = h("p", { class: "msg", "aria-live": "assertive" });
  const list = h("section", { class: "card" });
  const showWarn = (): void => mount(warn, cat.value === "elevator_entrapment"
    ? h("div", { class: "banner urgent" }, h("strong", null, t("entrapmentLimit")), " ",
      ...(controlPhone() ? [t("phoneControlAt"), controlPhone()] : [t("phoneControl")])) : null);
  cat.addEventListener("change", showWarn);
  const btn = h("button", { type: "submit", class: "primary" }, t("report"));
  const form = h("form", { class: "card", onsubmit: async (e: Event) => {
    e.preventDefault();
    btn.disabled = true;
    try {
      const ph = await photosOf(photos);
      await app.client.report(cat.value, title.value.trim(), detail.value.trim() || undefined, ph[0]);
      title.value = ""; detail.value = ""; photos.value = "";
      toast(t("reported"));
      mount(msg, h("span", { class: "ok" }, t("reported")));
      void update();
    } catch (err) {
      mount(msg, h("span", { class: "err", role: "alert" }, t("error", { msg: errText(err) })));
    } finally { btn.disabled = false; }
  } },
  h("h1", null, t("reportTitle")), field(t("category"), cat), warn, field(t("title"), title),
  field(t("detail"), detail), field(t("photo"), photos), btn, msg);
  mount(el, form, list);

  const update = async (): Promise<void> => {
    const now = Date.now();
    const orders = (await app.client.query("order")).filter((o) => live(o) && o.status !== "resolved" && o.status !== "closed")
      .sort((a, b) => (deadlineOf(a) ?? Infinity) - (deadlineOf(b) ?? Infinity));
    const tech = s.role === "technician" || s.role === "supervisor";
    mount(list, h("h2", null, t("ordersOpen")), h("p", { class: "hint" }, t("timesIn", { zone: zoneName() })),
      orders.length ? h("ul", { class: "orders" }, orders.map((o) => {
        const dl = deadlineOf(o);
        const step = tech ? nextStep(o, s.staff) : null;
        const note = h("input", { type: "text", maxlength: 2000 });
        // the technician's own photos (the repair, the meter), on any step
        const stepPhotos = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true });
        return h("li", { class: "order cat-" + str(o.category) },
          h("h3", null, tx("cat_", o.category) + " — " + (str(o.title) || o.id)),
          h("p", null, tx("os_", o.status ?? "reported"), " · ",
            dl ? h("span", { class: dl < now ? "err" : "" }, t("deadline", { t: dayhm(dl) }) + " (" + (dl < now ? t("overdue") + " " : "") + countdown(dl - now) + ")") : null),
          o.detail ? h("p", { class: "detail" }, str(o.detail)) : null,
          o.note ? h("p", { class: "detail" }, str(o.note)) : null,
          step ? h("form", { class: "order-step", onsubmit: async (e: Event) => {
            e.preventDefault();
            try {
              const ph = await photosOf(stepPhotos);
              await app.client.orderStep(o.id, step.key, note.value.trim() || undefined, ph.length ? ph : undefined);
              toast(t("saved"));
              void update();
            } catch (err) { toast(t("error", { msg: errText(err) }), "err"); }
          } }, step.key === "resolve" ? field(t("note"), note) : null, field(t("stepPhotos"), stepPhotos),
          h("button", { type: "submit", class: "primary" }, t(step.key))) : null);
      })) : h("p", null, t("noOrders")));
  };
  // a background redraw (a sync, a live poke) must not drop photos chosen
  // or a note typed for a step not yet submitted
  const unsent = (): boolean => Array.from(list.querySelectorAll("input")).some((i) => (i.type === "file" ? (i.files?.length ?? 0) > 0 : i.value !== ""));
  void update();
  return { update: () => { if (!el.contains(document.activeElement) && !unsent()) void update(); } };
}
