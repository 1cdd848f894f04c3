// grid.ts — a shift's patrol as a rounds x checkpoints grid, coloured by
// the server's states (schema/REPORTS.md: on_time, late, missed, pending,
// open), each scan marked with its verdict (strong, normal, weak, suspect:
// schema/EVIDENCE.md) and the night's scans counted by verdict.  A pure function of the shift report, so the bench renders 20
// shifts x 10 rounds x 20 checkpoints without a server.
import { h } from "../dom";
import { t, tx } from "../i18n";
import { hm } from "../time";

export type Verdict = "strong" | "normal" | "weak" | "suspect";
export interface PatrolCell { checkpoint: string; state: string; checkin: string | null; at_est: number | null;
  verdict?: Verdict; reasons?: string[] }
export interface PatrolRound { round: number; from: number; to: number; checkpoints: PatrolCell[] }
export interface ShiftReport {
  shift: string; site: string; role: string; starts: number; ends: number; staff: string[];
  patrol: { route: string | null; expected: number; on_time: number; late: number; missed: number;
    pending: number; open: number; completion: number | null; rounds: PatrolRound[];
    by_verdict?: { scans: Record<Verdict, number>; rounds_on_time: Record<Verdict, number> }; voided?: number };
  tasks?: { total: number; done: number; completion: number | null };
  devices?: Array<{ device: string; staff: string; last_sync: number | null; pending: number; revoked: boolean }>;
}

const VMARK: Record<Verdict, string> = { strong: "◆", normal: "", weak: "▽", suspect: "!" };
const VKEY: Record<Verdict, "v_strong" | "v_normal" | "v_weak" | "v_suspect"> =
  { strong: "v_strong", normal: "v_normal", weak: "v_weak", suspect: "v_suspect" };

/* "Proof: 18 strong · 52 normal · …" for the caption. */
function verdictLine(rep: ShiftReport): string {
  const bv = rep.patrol.by_verdict;
  if (!bv) return "";
  return " · " + t("verdicts") + " " + (Object.keys(VKEY) as Verdict[])
    .map((v) => bv.scans[v] + " " + t(VKEY[v]).split(":")[0]).join(", ");
}

const MARK: Record<string, string> = { on_time: "✓", late: "◐", missed: "✕", pending: "…", open: "○" };
const LG: Record<string, "lg_on_time" | "lg_late" | "lg_missed" | "lg_pending" | "lg_open"> =
  { on_time: "lg_on_time", late: "lg_late", missed: "lg_missed", pending: "lg_pending", open: "lg_open" };

export function legend(): HTMLElement {
  return h("ul", { class: "legend", "aria-label": t("legend") },
    Object.keys(MARK).map((st) => h("li", null, h("span", { class: "cell st-" + st, "aria-hidden": "true" }, MARK[st]), " ", t(LG[st]))));
}

export function patrolGrid(rep: ShiftReport, cpName: (id: string) => string): HTMLElement {
  const rounds = rep.patrol.rounds;
  const cps = rounds.length ? rounds[0].checkpoints.map((c) => c.checkpoint) : [];
  const pct = rep.patrol.completion == null ? "—" : Math.round(rep.patrol.completion * 100) + "%";
  const caption = h("caption", null, tx("role_", rep.role) + " " + rep.shift + " · " + rep.staff.join(", ") + " · " +
    hm(rep.starts) + "–" + hm(rep.ends) + " · " + t("completion") + " " + pct + verdictLine(rep));
  const head = h("tr", null, h("th", { scope: "col" }, t("checkpoint")),
    rounds.map((r) => h("th", { scope: "col", title: hm(r.from) + "–" + hm(r.to) }, hm(r.from))));
  const rows = cps.map((cp, i) => h("tr", null, h("th", { scope: "row" }, cpName(cp)),
    rounds.map((r) => {
      const c = r.checkpoints[i];
      const st = c?.state ?? "open";
      const v = c?.verdict;
      const why = v ? " · " + t(VKEY[v]) + (c?.reasons?.length ? " (" + c.reasons.join(", ") + ")" : "") : "";
      return h("td", { class: "cell st-" + st + (v ? " v-" + v : ""),
        title: t(LG[st] ?? "lg_open") + (c?.at_est ? " " + hm(c.at_est) : "") + why,
        "data-cp": cp, "data-round": r.round, "data-verdict": v ?? null }, (MARK[st] ?? "?") + (v ? VMARK[v] : ""));
    })));
  return h("div", { class: "grid-wrap" }, h("table", { class: "grid", "data-shift": rep.shift }, caption, h("thead", null, head), h("tbody", null, rows)));
}
