// model.ts — reading the local copy for the handheld's screens: my
// shift, its route and rounds, my tasks.  Pure functions over records
// (the board's bench and the tests use them without a server).
import type { Rec } from "../lib";

const HOUR = 3600000;

export function n(v: unknown): number { return typeof v === "number" ? v : 0; }
export function ids(v: unknown): string[] { return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []; }
export function live(r: Rec): boolean { return r._deleted !== true; }

/* My shift now, else my next one within 24 h. */
export function myShift(shifts: Rec[], staff: string, now: number): Rec | null {
  const mine = shifts.filter((s) => live(s) && ids(s.staff).includes(staff) && n(s.ends) > now && n(s.starts) < now + 24 * HOUR)
    .sort((a, b) => n(a.starts) - n(b.starts));
  return mine.find((s) => n(s.starts) <= now) ?? mine[0] ?? null;
}

export type CpState = "due" | "on_time" | "late" | "missed" | "open";

export interface Round {
  k: number; count: number; from: number; to: number;
  cps: Array<{ id: string; state: CpState; at: number | null }>;
  done: number; missedSoFar: number;
}

/* The handheld's own view of the patrol (the server's report is the
 * authority, server/patrol.h): round k's window is
 * [starts + k*every, starts + (k+1)*every); a scan in it is on time, one in
 * the grace after it late; earlier rounds without a scan are missed. */
export function currentRound(shift: Rec, route: Rec, checkins: Rec[], now: number): Round | null {
  const every = n(route.every_min) * 60000, grace = n(route.grace_min) * 60000;
  const cps = ids(route.checkpoints);
  const starts = n(shift.starts), ends = n(shift.ends);
  if (!every || !cps.length || ends <= starts) return null;
  const count = Math.ceil((ends - starts) / every);
  const k = Math.max(0, Math.min(count - 1, Math.floor((now - starts) / every)));
  const byCp = new Map<string, number[]>();
  for (const c of checkins) {
    const at = n(c.at_est) || n(c.at);
    const cp = String(c.checkpoint);
    if (!byCp.has(cp)) byCp.set(cp, []);
    byCp.get(cp)!.push(at);
  }
  const inWin = (cp: string, a: number, b: number) => (byCp.get(cp) ?? []).find((x) => x >= a && x < b) ?? null;
  let missed = 0;
  for (let j = 0; j < k; j++) {
    const a = starts + j * every, b = a + every;
    for (const cp of cps) if (inWin(cp, a, b + grace) === null) missed++;
  }
  const from = starts + k * every, to = from + every;
  const out = cps.map((id) => {
    const on = inWin(id, from, to);
    if (on !== null) return { id, state: "on_time" as CpState, at: on };
    const late = inWin(id, to, to + grace);
    if (late !== null) return { id, state: "late" as CpState, at: late };
    return { id, state: (now < to + grace ? "due" : "missed") as CpState, at: null };
  });
  return { k, count, from, to, cps: out, done: out.filter((c) => c.at !== null).length, missedSoFar: missed };
}

/* Tasks of the shift, split by when they are due. */
export function taskGroups(tasks: Rec[], now: number): { now: Rec[]; next: Rec[]; done: Rec[] } {
  const live2 = tasks.filter(live).sort((a, b) => n(a.due_from) - n(b.due_from));
  return {
    now: live2.filter((x) => x.status !== "done" && x.status !== "skipped" && n(x.due_from) <= now),
    next: live2.filter((x) => x.status !== "done" && x.status !== "skipped" && n(x.due_from) > now),
    done: live2.filter((x) => x.status === "done"),
  };
}

export function findCheckpoint(cps: Rec[], text: string): Rec | null {
  const q = text.trim();
  if (!q) return null;
  return cps.find((c) => live(c) && c.tag === q) ?? cps.find((c) => live(c) && c.id === q)
    ?? cps.find((c) => live(c) && typeof c.tag === "string" && c.tag.toUpperCase() === q.toUpperCase()) ?? null;
}
