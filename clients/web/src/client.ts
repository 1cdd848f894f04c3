// client.ts — the app's Client (lib.ts) on the TypeScript client library
// of clients/js (issue 12): IndexedDB outbox, evidence time, one syncing
// tab, photos.  Records are flattened ({c, id, ...fields}) for the
// screens; status is cached so the status line draws without waiting.
import { open, indexedDBStorage, FieldsyncError, type Client as Lib, type Rec as LibRec, type Value } from "../../js/src/index";
import { ApiError, type Client, type Rec, type Session, type Status, type Change } from "./lib";

function flat(r: LibRec | null): Rec | null {
  if (!r) return null;
  return { ...(nums(r.f) as Record<string, unknown>), c: r.c, id: r.id };
}

/* The server's answers come as msgpack with 64-bit integers as bigint;
 * the screens want numbers (times in ms are far below 2^53). */
function nums(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(nums);
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) o[k] = nums((v as Record<string, unknown>)[k]);
    return o;
  }
  return v;
}

function toErr(e: unknown): Error {
  if (e instanceof FieldsyncError) return new ApiError(e.status, e.server || e.code, e.message);
  return e instanceof Error ? e : new Error(String(e));
}

const EMPTY: Status = { online: navigator.onLine, pending: 0, lastSync: null, urgent: [], dead: [], offsetMs: 0, syncing: false, error: null, live: false };

export async function openClient(): Promise<Client> {
  const lib: Lib = await open(indexedDBStorage(), { deviceName: "web" });
  let st: Status = { ...EMPTY };
  let enrolled = false, server: string | null = null, device: string | null = null;
  let sess: Session | null = null;
  const statusCbs = new Set<(s: Status) => void>();
  const changeCbs = new Set<(c: Change[]) => void>();
  let stopAuto: (() => void) | null = null;
  let autoMs = 0, autoLiveMs = 0;

  const refresh = async (): Promise<void> => {
    try {
      const s = await lib.status();
      enrolled = s.enrolled || s.loggedIn; server = s.server || null; device = s.device || null;
      // a session without a staff member is the admin token (attach)
      sess = !s.loggedIn ? null : s.staff ? { staff: s.staff, role: s.role, site: s.site, expires: s.sessionExpires }
        : { staff: "admin", role: "admin", site: "", expires: 0, admin: true };
      const urgent = s.urgentUnsent ? await lib.urgent() : [];
      const dead = s.deadLetters ? await lib.dead() : [];
      st = {
        online: s.online && navigator.onLine, pending: s.pendingOps, lastSync: s.lastSync || null,
        urgent: urgent.filter((u) => u.state === "queued").map((u) => ({ c: "order", id: u.id, category: u.category, title: u.title })),
        dead: dead.map((d) => ({ c: d.c, id: d.id, code: d.code, msg: d.msg, at: d.at })),
        offsetMs: s.clockOffset, syncing: s.syncing, error: s.lastError || null, live: s.live,
      };
    } catch { /* keep the last status */ }
    for (const f of statusCbs) f(st);
  };

  const startAuto = (ms: number, liveMs = 120000): void => {
    if (!enrolled || !sess || (ms === autoMs && liveMs === autoLiveMs)) return;
    stopAuto?.();
    autoMs = ms;
    autoLiveMs = liveMs;
    stopAuto = lib.auto({ intervalMs: ms, liveIntervalMs: liveMs });
  };

  lib.subscribe((ev) => {
    void refresh().then(() => { if (sess) startAuto(autoMs || 15000, autoLiveMs || 120000); });
    for (const f of changeCbs) f(ev.collections);
  });
  window.addEventListener("online", () => { void lib.sync().catch(() => undefined).then(refresh); });
  window.addEventListener("offline", () => void refresh());
  setInterval(() => void refresh(), 5000);
  await refresh();
  if (sess) startAuto(15000);

  const c: Client = {
    enrolled: () => enrolled,
    server: () => server,
    device: () => device,
    async enroll(srv, code, name) {
      try { const r = await lib.enroll(srv, code, name); await refresh(); return r.device; } catch (e) { throw toErr(e); }
    },
    session: () => sess,
    async login(staff, pin) {
      try { await lib.login(staff, pin); } catch (e) { throw toErr(e); }
      await refresh();
      startAuto(15000);
      void lib.sync().catch(() => undefined).then(refresh);
      return sess!;
    },
    async logout() {
      stopAuto?.(); stopAuto = null; autoMs = 0;
      await lib.logout();
      await refresh();
    },
    async get(coll, id) { return flat(await lib.get(coll, id)); },
    async query(coll, where) {
      const rs = await lib.query({ collection: coll, where: where as Record<string, Value> | undefined });
      return rs.map((r) => flat(r)!);
    },
    async checkin(cp, method, extra) {
      try {
        const w = await lib.checkin(cp, { method, shift: extra?.shift as string | undefined, note: extra?.note as string | undefined,
          sun: extra?.sun as string | undefined });
        void refresh();
        return (await c.get("checkin", w.id)) ?? { c: "checkin", id: w.id, at: Date.now() };
      } catch (e) { throw toErr(e); }
    },
    async done(task, note, photo) {
      try { await lib.done(task, { note, photo }); void refresh(); } catch (e) { throw toErr(e); }
    },
    async put(coll, id, fields) {
      try { await lib.put(coll, id, fields as Record<string, Value>); void refresh(); } catch (e) { throw toErr(e); }
    },
    async report(category, title, detail, photo) {
      try {
        const w = await lib.report({ category: category as never, title, detail, photo });
        void refresh();
        return w.id;
      } catch (e) { throw toErr(e); }
    },
    async orderStep(id, step, note, photos) {
      try { await lib[step](id, { note, photos }); void refresh(); } catch (e) { throw toErr(e); }
    },
    async photo(hex) {
      const b = await lib.photo(hex);
      return b ? new Blob([b as BlobPart]) : null;
    },
    subscribe(cb) { changeCbs.add(cb); return () => changeCbs.delete(cb); },
    onStatus(cb) { statusCbs.add(cb); return () => statusCbs.delete(cb); },
    status: () => st,
    async sync() {
      try { await lib.sync(); } catch (e) { await refresh(); throw toErr(e); }
      await refresh();
    },
    syncEvery(ms, liveMs) { startAuto(ms, liveMs); },
    async clearDead() { await lib.clearDead(); await refresh(); },
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      let r: { status: number; body: unknown };
      try { r = await lib.call(method, path, body); } catch (e) { throw toErr(e); }
      if (r.status !== 200) {
        const e = (r.body ?? {}) as { error?: string; msg?: string };
        throw new ApiError(r.status, e.error ?? "HTTP " + r.status, e.msg ?? e.error ?? "HTTP " + r.status);
      }
      return nums(r.body) as T;
    },
    async send(method, path, body, ctype) {
      try { const r = await lib.call(method, path, body, ctype); return { status: r.status, body: nums(r.body) }; }
      catch (e) { throw toErr(e); }
    },
    async alerts(all) { return (await lib.alerts({ all })).map((r) => flat(r)!); },
    async ack(id) {
      try { await lib.ack(id); void refresh(); } catch (e) { throw toErr(e); }
    },
    async callText(path) {
      const r = await c.call<unknown>("GET", path);
      return typeof r === "string" ? r : new TextDecoder().decode(r as Uint8Array);
    },
    async attachAdmin(srv, token) {
      try { await lib.attach(srv, token); await lib.sync(); } catch (e) { throw toErr(e); }
      await refresh();
      startAuto(15000);
    },
  };
  return c;
}
