// import.ts — Setup › CSV import: one list (a kind) into the site from a
// CSV file, by POST /v1/admin/import/<site>?kind=K (text/csv; the admin
// or the site's supervisor), whose contract is schema/IMPORT.md: every
// row is checked first; a wrong file is refused whole with 400 and
// {issues: [{row, column, name, msg}], more}; a good one answers 200
// {kind, rows, created, changed, unchanged}, and the same file again
// changes nothing.  The file is sent as the bytes picked (UTF-8, BOM and
// line ends are the server's to read).
import { app } from "../app";
import { h, mount, field } from "../dom";
import { t, tx } from "../i18n";
import { ApiError } from "../lib";
import { explain, enc } from "./api";

// the order schema/IMPORT.md asks for: later kinds name earlier ones
export const IMPORT_KINDS = ["zone", "checkpoint", "route", "staff", "roster", "standard"];
const FILE_MAX = 2 * 1024 * 1024; // the server's body cap (413 past it)

interface Issue { row: number; column: number; name?: string; msg: string }
interface Answer { error?: string; msg?: string; issues?: Issue[]; more?: number;
  kind?: string; rows?: number; created?: number; changed?: number; unchanged?: number }

/* The kind a file name suggests (its last word: riverside-staff.csv). */
export function kindOfName(name: string): string | null {
  const m = /([A-Za-z]+)\.csv$/i.exec(name);
  const w = m?.[1].toLowerCase() ?? "";
  return IMPORT_KINDS.includes(w) ? w : null;
}

function issuesTable(a: Answer): HTMLElement {
  return h("div", { role: "alert" },
    h("p", { class: "err" }, t("importFix")),
    h("table", { class: "issues", "aria-label": t("importIssues") },
      h("caption", null, t("importIssues")),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, t("importRow")), h("th", { scope: "col" }, t("importColumn")),
        h("th", { scope: "col" }, t("importProblem")))),
      h("tbody", null, (a.issues ?? []).map((x) => h("tr", null,
        h("td", { class: "num" }, x.row), h("td", null, x.column ? x.column + (x.name ? " (" + x.name + ")" : "") : "—"),
        h("td", null, x.msg))))),
    a.more ? h("p", { class: "hint" }, t("importMore", { n: a.more })) : null);
}

function summary(a: Answer): HTMLElement {
  const n = { rows: a.rows ?? 0, created: a.created ?? 0, changed: a.changed ?? 0, unchanged: a.unchanged ?? 0 };
  return h("p", { class: "import-result ok", role: "status" },
    n.created || n.changed ? t("importDone", n) : t("importNothing", n));
}

export function importTab(box: HTMLElement, site: string): void {
  const kind = h("select", null, IMPORT_KINDS.map((k) => h("option", { value: k }, tx("ik_", k))));
  const file = h("input", { type: "file", accept: ".csv,text/csv", required: true });
  const go = h("button", { type: "submit", class: "primary" }, t("importButton"));
  const out = h("div", { class: "import-out", "aria-live": "polite" });
  file.addEventListener("change", () => {
    const k = kindOfName(file.files?.[0]?.name ?? "");
    if (k) kind.value = k;
  });
  mount(box, h("p", { class: "hint" }, t("importIntro")),
    h("form", { class: "editor row", onsubmit: async (e: Event) => {
      e.preventDefault();
      const f = file.files?.[0];
      if (!f) { mount(out, h("p", { class: "err", role: "alert" }, t("importNoFile"))); return; }
      if (f.size > FILE_MAX) { mount(out, h("p", { class: "err", role: "alert" }, t("importTooBig"))); return; }
      go.disabled = true;
      mount(out, h("p", null, t("importing")));
      try {
        const bytes = new Uint8Array(await f.arrayBuffer());
        const r = await app.client.send("POST", "/v1/admin/import/" + enc(site) + "?kind=" + enc(kind.value), bytes, "text/csv; charset=utf-8");
        const a = (r.body && typeof r.body === "object" ? r.body : { msg: String(r.body ?? "") }) as Answer;
        if (r.status === 200) {
          mount(out, summary(a));
          // the records came in on the server: fetch them for the other tabs
          void app.client.sync().catch(() => undefined);
        } else if (a.issues?.length) mount(out, issuesTable(a));
        else if (r.status === 403) mount(out, h("p", { class: "err", role: "alert" }, t("forbidden")));
        else mount(out, h("p", { class: "err", role: "alert" }, t("importRefused", { msg: a.msg ?? a.error ?? "HTTP " + r.status })));
      } catch (err) {
        const off = err instanceof ApiError && err.status === 0; // not reached
        mount(out, h("p", { class: "err", role: "alert" }, off ? t("importNeedsServer") : explain(err)));
      } finally { go.disabled = false; }
    } }, field(t("importKind"), kind), field(t("importFile"), file), go),
    out);
}
