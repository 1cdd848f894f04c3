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
  const sites = s.site ? [await app.client.get("site", s.site)] : await app.client.query("site");
  app.site = sites.find((x) => x) ?? null;
  setZone((app.site?.tz as string) || "UTC");
  return app.site;
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
