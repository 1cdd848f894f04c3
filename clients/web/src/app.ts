// app.ts — the shared state every screen uses: the client, the session,
// the site, a toast, and the re-render hooks.
import type { Client, Rec, Session } from "./lib";
import { h, mount, clear } from "./dom";
import { setZone } from "./time";

export interface View { update?(): void | Promise<void>; stop?(): void }

export const app = {
  client: null as unknown as Client,
  site: null as Rec | null,
};

export function session(): Session | null { return app.client?.session() ?? null; }

export async function loadSite(): Promise<Rec | null> {
  const s = session();
  if (!s) return null;
  // supervisors and staff: their site; the admin: the one picked (sitePicker)
  let pick = s.site;
  if (!pick) try { pick = localStorage.getItem(SITE_KEY) ?? ""; } catch { /* none kept */ }
  const sites = s.site ? [await app.client.get("site", s.site)] : (await app.client.query("site")).filter((x) => x._deleted !== true);
  app.site = sites.find((x) => x && x.id === pick) ?? sites.find((x) => x) ?? null;
  setZone((app.site?.tz as string) || "UTC");
  return app.site;
}

const SITE_KEY = "fieldsync.site";

/* The admin's choice of site for the console (others have one site). */
export async function sitePicker(label: string, then: () => void): Promise<HTMLElement | null> {
  if (session()?.role !== "admin") return null;
  const sites = (await app.client.query("site")).filter((x) => x._deleted !== true);
  const sel = h("select", { "aria-label": label, onchange: async (e: Event) => {
    try { localStorage.setItem(SITE_KEY, (e.target as HTMLSelectElement).value); } catch { /* not kept */ }
    await loadSite();
    then();
  } }, sites.map((x) => h("option", { value: x.id }, str(x.name) || x.id)));
  sel.value = app.site?.id ?? "";
  return sel;
}

/* The site's control-room number (site.phone) as a tel: link, text only;
 * null when the site has none. */
export function controlPhone(): HTMLElement | null {
  const n = str(app.site?.phone).trim();
  if (!n) return null;
  return h("a", { class: "phone", href: "tel:" + n.replace(/[^0-9+*#]/g, "") }, n);
}

let toastTimer = 0;
export function toast(msg: string, kind: "ok" | "err" = "ok"): void {
  const el = document.getElementById("toast");
  if (!el) return;
  mount(el, h("p", { class: "toast " + kind }, msg));
  clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => clear(el), 6000);
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function str(v: unknown): string { return typeof v === "string" ? v : v == null ? "" : String(v); }
export function num(v: unknown): number | null { return typeof v === "number" ? v : null; }

/* A record id the server accepts ([A-Za-z0-9._:-], 1-128): prefix + time + random. */
export function newId(prefix: string): string {
  const r = crypto.getRandomValues(new Uint8Array(5));
  return prefix + "-" + Date.now().toString(36) + Array.from(r, (b) => b.toString(16).padStart(2, "0")).join("");
}
