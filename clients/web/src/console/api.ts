// api.ts — the console's server lookups (each one is logged in the
// server's audit trail, protocol/PROTOCOL.md), with the site's scope
// rules left to the server: a 403 is shown as "not allowed".
import { app } from "../app";
import { ApiError } from "../lib";
import { t } from "../i18n";
import type { ShiftReport } from "./grid";

export const enc = encodeURIComponent;

export function shiftReport(id: string): Promise<ShiftReport> {
  return app.client.call<ShiftReport>("GET", "/v1/reports/shift/" + enc(id));
}
export interface DeviceRow { device: string; name?: string; staff?: string; last_sync?: number; pending?: number; rejected?: number; skew?: number; revoked?: boolean }
export function devices(site: string): Promise<{ devices: DeviceRow[] }> {
  return app.client.call("GET", "/v1/reports/devices/" + enc(site));
}
export function explain(e: unknown): string {
  if (e instanceof ApiError && e.status === 403) return t("forbidden");
  if (e instanceof ApiError && e.status === 0) return t("offlineData");
  return t("error", { msg: e instanceof Error ? e.message : String(e) });
}
