// time.ts — every time on screen is shown in the site's zone (site.tz,
// IANA), with the zone's name beside it where the screen says it once.
import { lang } from "./i18n";

let zone = "UTC";
const cache = new Map<string, Intl.DateTimeFormat>();

export function setZone(tz: string | undefined | null): void {
  if (!tz) return;
  try { new Intl.DateTimeFormat("en", { timeZone: tz }); zone = tz; } catch { /* unknown zone: keep */ }
}
export function siteZone(): string { return zone; }

function fmt(key: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const k = lang() + "|" + zone + "|" + key;
  let f = cache.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(lang(), { timeZone: zone, hourCycle: "h23", ...opts });
    cache.set(k, f);
  }
  return f;
}

export function hm(ms: number | null | undefined): string {
  return ms == null ? "—" : fmt("hm", { hour: "2-digit", minute: "2-digit" }).format(ms);
}
export function hms(ms: number | null | undefined): string {
  return ms == null ? "—" : fmt("hms", { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(ms);
}
export function dayhm(ms: number | null | undefined): string {
  return ms == null ? "—" : fmt("dhm", { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(ms);
}
export function dateStr(ms: number): string {
  return fmt("d", { year: "numeric", month: "2-digit", day: "2-digit" }).format(ms);
}
/* YYYY-MM-DD of `ms` in the site's zone (for report ranges). */
export function isoDate(ms: number): string {
  const p = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(ms);
  const g = (t: string) => p.find((x) => x.type === t)?.value ?? "";
  return g("year") + "-" + g("month") + "-" + g("day");
}
/* ms -> "YYYY-MM-DDTHH:MM" of the site's zone (a datetime-local input). */
export function toLocalInput(ms: number): string {
  const p = new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit" }).formatToParts(ms);
  const g = (t: string) => p.find((x) => x.type === t)?.value ?? "00";
  return `${g("year")}-${g("month")}-${g("day")}T${g("hour")}:${g("minute")}`;
}
function offsetAt(ms: number): number {
  const [d, tm] = toLocalInput(ms).split("T");
  const [y, mo, da] = d.split("-").map(Number), [hh, mi] = tm.split(":").map(Number);
  return Date.UTC(y, mo - 1, da, hh, mi) - Math.floor(ms / 60000) * 60000;
}
/* "YYYY-MM-DDTHH:MM" in the site's zone -> ms (null when malformed). */
export function fromLocalInput(v: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(v);
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  const first = guess - offsetAt(guess);
  return guess - offsetAt(first); // again at the result: the offset may differ across a DST change
}

/* The zone's name as people read it: "Asia/Shanghai (GMT+8)". */
export function zoneName(): string {
  const p = fmt("z", { timeZoneName: "short" }).formatToParts(Date.now());
  const short = p.find((x) => x.type === "timeZoneName")?.value;
  return short && short !== zone ? zone + " (" + short + ")" : zone;
}
/* "4 min 05 s", "-1 h 02 min" (negative: overdue). */
export function countdown(ms: number): string {
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const mm = Math.floor(s / 60); s -= mm * 60;
  const txt = hh ? hh + " h " + String(mm).padStart(2, "0") + " min"
    : mm + " min " + String(s).padStart(2, "0") + " s";
  return (neg ? "−" : "") + txt;
}
