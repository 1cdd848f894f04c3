// tasks.ts — the cleaner's tasks due now and next; a tick takes an
// optional note and photo.  A tick before the task's window opens is
// refused here with the time it opens (the server would accept it, but it
// would not count as done in the window).
import { app, session, str, errText, toast, type View } from "../app";
import { h, mount, field } from "../dom";
import { t } from "../i18n";
import { hm, dayhm, zoneName } from "../time";
import type { Rec } from "../lib";
import { compressPhoto } from "../photo";
import { myShift, taskGroups, n, ids } from "./model";

function taskItem(task: Rec, now: number, zones: Map<string, string>, after: () => void): HTMLElement {
  const note = h("input", { type: "text", name: "note", maxlength: 2000 });
  const photo = h("input", { type: "file", accept: "image/*", capture: "environment", name: "photo" });
  const msg = h("p", { class: "msg", "aria-live": "assertive" });
  const title = str(task.title) || task.id;
  const btn = h("button", { type: "submit", class: "primary" }, t("tick"));
  btn.setAttribute("aria-label", t("tick") + ": " + title);
  const form = h("form", { class: "task-tick", onsubmit: async (e: Event) => {
    e.preventDefault();
    if (Date.now() < n(task.due_from)) {
      mount(msg, h("span", { class: "err", role: "alert" }, t("tickEarly", { t: dayhm(n(task.due_from)) })));
      return;
    }
    btn.disabled = true;
    try {
      const f = photo.files?.[0];
      const blob = f ? await compressPhoto(f) : undefined;
      await app.client.done(task.id, note.value.trim() || undefined, blob);
      toast(t("ticked"));
      after();
    } catch (err) {
      mount(msg, h("span", { class: "err", role: "alert" }, t("error", { msg: errText(err) })));
    } finally { btn.disabled = false; }
  } },
  field(t("note"), note), field(t("photo"), photo), btn, msg);
  return h("li", { class: "task" + (n(task.due_to) < now ? " overdue" : "") },
    h("h3", null, title),
    h("p", { class: "hint" }, [zones.get(str(task.zone)) ?? str(task.zone),
      t("window", { from: hm(n(task.due_from)), to: hm(n(task.due_to)) })].filter(Boolean).join(" · ")),
    form);
}

export function tasksView(el: HTMLElement): View {
  const box = h("div");
  mount(el, box);
  const update = async (): Promise<void> => {
    const s = session();
    if (!s) return;
    const now = Date.now();
    const shifts = (await app.client.query("shift")).filter((x) => ids(x.staff).includes(s.staff));
    const shift = myShift(shifts, s.staff, now);
    const zones = new Map((await app.client.query("zone")).map((z) => [z.id, str(z.name)]));
    const tasks = shift ? await app.client.query("task", { shift: shift.id }) : [];
    const g = taskGroups(tasks, now);
    const list = (items: Rec[]) => items.length
      ? h("ul", { class: "tasks" }, items.map((x) => taskItem(x, now, zones, () => void update())))
      : h("p", null, t("noTasks"));
    mount(box,
      h("p", { class: "hint" }, t("timesIn", { zone: zoneName() })),
      h("section", { class: "card" }, h("h2", null, t("tasksNow")), list(g.now)),
      h("section", { class: "card" }, h("h2", null, t("tasksNext")), list(g.next.slice(0, 10))),
      h("section", { class: "card" }, h("h2", null, t("tasksDone")),
        h("ul", { class: "plain" }, g.done.map((x) => h("li", null, str(x.title) + " · " + hm(n(x.done_at)),
          x.photo ? " 📷" : null)))));
  };
  void update();
  // Re-rendering would wipe a note being typed: only refresh on a timer
  // when no field has focus.
  const timer = setInterval(() => { if (!el.contains(document.activeElement)) void update(); }, 60000);
  return { update: () => { if (!el.contains(document.activeElement)) void update(); }, stop: () => clearInterval(timer) };
}
