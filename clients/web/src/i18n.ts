// i18n.ts — the language: zh-CN or en, from the browser's language on the
// first visit, then the person's choice (kept in localStorage).
import { en, zh, type Key } from "./strings";

export type Lang = "en" | "zh-CN";
const KEY = "fieldsync.lang";
let current: Lang = pick();
const listeners: Array<() => void> = [];

function pick(): Lang {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === "en" || saved === "zh-CN") return saved;
  } catch { /* storage off: fall through */ }
  const langs = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const l of langs) {
    if (/^zh\b/i.test(l)) return "zh-CN";
    if (/^en\b/i.test(l)) return "en";
  }
  return "en";
}

export function lang(): Lang { return current; }

export function setLang(l: Lang): void {
  current = l;
  try { localStorage.setItem(KEY, l); } catch { /* not kept */ }
  document.documentElement.lang = l;
  for (const f of listeners) f();
}

export function onLang(f: () => void): void { listeners.push(f); }

export function t(k: Key, params?: Record<string, string | number>): string {
  let s = (current === "zh-CN" ? zh : en)[k];
  if (params) s = s.replace(/\{(\w+)\}/g, (m, p) => (p in params ? String(params[p]) : m));
  return s;
}

/* A label for an enum value that has one ("cat_repair"), else the value. */
export function tx(prefix: string, v: unknown): string {
  const k = (prefix + String(v)) as Key;
  return k in en ? t(k) : String(v ?? "");
}

export function minutesText(min: number): string {
  if (min % 1440 === 0) return current === "zh-CN" ? min / 1440 * 24 + " 小时" : min / 60 + " h";
  if (min % 60 === 0) return current === "zh-CN" ? min / 60 + " 小时" : min / 60 + " h";
  return current === "zh-CN" ? min + " 分钟" : min + " min";
}
