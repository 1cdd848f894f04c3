/*
 * client.ts — the fieldsync client: the handheld contract of
 * clients/fieldsync.h for browsers and Node (clients/js/README.md).
 *
 * Every write changes the local record and appends its op to the outbox in
 * ONE storage transaction that is durable before the call resolves. A sync
 * runs in one tab at a time (Web Locks, or a lease in the store where the
 * runtime has none); every tab hears about changes over BroadcastChannel.
 */
import { DevClock, randomHex } from "./clock.js";
import { defaultLive } from "./live.js";
import { request, serverError, pack, unpack, type HttpOpts } from "./http.js";
import {
	loadRec,
	meta,
	metaNum,
	metaStr,
	originOf,
	mergeFields,
	emptyRec,
	outAppend,
	setMeta,
	storeRec,
	type Batch,
	type StoredRec,
} from "./local.js";
import { bucketOf, checkWrite, CATEGORIES, STATUS_RANK, URGENT, validId } from "./schema.js";
import type { Mode, Storage, Tx } from "./storage.js";
import { apply, correctedNow, newStats, prepare, stampNow, type SyncReq } from "./sync.js";
import {
	FieldsyncError,
	type AutoOptions,
	type ChangeEvent,
	type CheckinExtra,
	type DeadLetter,
	type DoneExtra,
	type OrderStepExtra,
	type Fields,
	type Options,
	type PhotoInput,
	type Query,
	type Rec,
	type ReportInput,
	type Session,
	type Stamp,
	type Status,
	type SyncStats,
	type Urgent,
	type Value,
	type WebSocketLike,
	type Write,
} from "./types.js";

/** Rounds in one sync (pullLimit records each): a later sync goes on. */
const SYNC_MAX_ROUNDS = 1000;
const SHIFT_GRACE_MS = 2 * 3600 * 1000;
const PHOTO_MAX = 16 << 20;
/** Longest `sun` the server takes (server/lib/sun.h). */
const SUN_MAX = 1024;
const ORDER_PHOTOS_MAX = 20; // photos one order names (order.photos)
const LEASE_MS = 60000;
const B32 = "0123456789abcdefghjkmnpqrstvwxyz";

/** "<prefix>-" + 26 base32 characters over 128 random bits. */
export function newId(prefix: string): string {
	const r = new Uint8Array(16);
	crypto.getRandomValues(r);
	let acc = 0n;
	for (const b of r) acc = (acc << 8n) | BigInt(b);
	acc <<= 2n; // 130 bits: 26 groups of 5
	let s = "";
	for (let i = 25; i >= 0; i--) s += B32[Number((acc >> BigInt(i * 5)) & 31n)];
	return prefix + "-" + s;
}

async function toBytes(p: PhotoInput): Promise<Uint8Array> {
	if (p instanceof Uint8Array) return p;
	if (p instanceof ArrayBuffer) return new Uint8Array(p);
	return new Uint8Array(await p.arrayBuffer());
}

async function sha256hex(b: Uint8Array): Promise<string> {
	const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b as BufferSource));
	let s = "";
	for (const x of d) s += x.toString(16).padStart(2, "0");
	return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A body sent as it is (call with a content type): bytes, or text as UTF-8. */
function rawBody(b: unknown): Uint8Array {
	if (b instanceof Uint8Array) return b;
	if (typeof b === "string") return new TextEncoder().encode(b);
	throw new FieldsyncError("EINVAL", "a body with a content type is bytes or text");
}

function toRec(r: StoredRec): Rec {
	return { c: r.c, id: r.id, bucket: r.b, f: r.f, s: r.s };
}

function matches(r: StoredRec, where: Record<string, Value> | undefined): boolean {
	if (!where) return true;
	for (const [k, want] of Object.entries(where)) {
		const v = r.f[k];
		if (Array.isArray(v)) {
			if (!v.includes(want)) return false;
		} else if (v !== want) return false;
	}
	return true;
}

export class Client {
	readonly storage: Storage;
	readonly options: Options;
	readonly clock: DevClock;
	private http: HttpOpts;
	private subs = new Set<(ev: ChangeEvent) => void>();
	private bc: BroadcastChannel | null = null;
	private tab = randomHex(8);
	private syncing: Promise<SyncStats> | null = null;
	private online = false;
	private lastError = "";
	private stopAuto: (() => void) | null = null;

	constructor(storage: Storage, options: Options = {}) {
		this.storage = storage;
		this.options = options;
		this.clock = new DevClock(options.clock);
		this.http = {
			fetch: options.fetch ?? ((i, init) => globalThis.fetch(i, init)),
			timeoutMs: options.timeoutMs ?? 15000,
			attempts: options.attempts ?? 5,
			backoffMs: options.backoffMs ?? 200,
			compress: options.compress ?? true,
		};
		if (typeof BroadcastChannel !== "undefined") {
			this.bc = new BroadcastChannel("fieldsync:" + storage.name);
			this.bc.onmessage = (m: MessageEvent) => {
				const ev = m.data as ChangeEvent;
				this.deliver({ source: "other-tab", collections: ev?.collections ?? [] });
			};
			// Node: a channel must not keep the process alive
			(this.bc as unknown as { unref?: () => void }).unref?.();
		}
	}

	// ---- storage helpers ---------------------------------------------------

	private async run<T>(mode: Mode, fn: (tx: Tx) => Promise<T>): Promise<T> {
		try {
			return await this.storage.run(mode, fn);
		} catch (e) {
			if (e instanceof FieldsyncError) throw e;
			throw new FieldsyncError("ESTORE", "the local store failed: " + (e instanceof Error ? e.message : String(e)));
		}
	}

	private deliver(ev: ChangeEvent) {
		for (const cb of [...this.subs])
			try {
				cb(ev);
			} catch {
				/* a subscriber's error is its own */
			}
	}

	private emit(source: ChangeEvent["source"], collections: string[]) {
		const ev: ChangeEvent = { source, collections };
		this.deliver(ev);
		try {
			this.bc?.postMessage(ev);
		} catch {
			/* closed */
		}
	}

	private async url(tx: Tx): Promise<string> {
		const u = await metaStr(tx, "url");
		if (!u) throw new FieldsyncError("ESTATE", "this device is not enrolled (enroll first)");
		return u;
	}

	// ---- device ------------------------------------------------------------

	/** POST /v1/enroll: bind this store to the server with a one-time code. */
	async enroll(server: string, code: string, name?: string): Promise<{ device: string }> {
		if (!server || !code) throw new FieldsyncError("EINVAL", "enroll needs a server URL and a code");
		const url = server.replace(/\/+$/, "");
		const dev = await this.run("ro", (tx) => metaStr(tx, "device"));
		if (dev) throw new FieldsyncError("ESTATE", `this store is already enrolled as device ${dev}`);
		const nm = name || this.options.deviceName || "fieldsync web";
		const a = await request(this.http, {
			method: "POST",
			url: url + "/v1/enroll",
			body: pack({ code, name: nm }),
			ctype: "application/msgpack",
			retry: false,
		});
		this.online = true;
		if (a.status !== 200) throw serverError("enroll", a);
		const v = unpack(a.body) as Record<string, unknown>;
		if (typeof v?.device !== "string" || typeof v?.token !== "string")
			throw new FieldsyncError("ESERVER", "enroll: the server's answer has no device and token");
		await this.run("rw", async (tx) => {
			if (await metaStr(tx, "device")) throw new FieldsyncError("ESTATE", "enrolled meanwhile by another tab");
			await setMeta(tx, "url", url);
			await setMeta(tx, "device", v.device);
			await setMeta(tx, "dtoken", v.token);
			await setMeta(tx, "name", nm);
		});
		this.emit("session", []);
		return { device: v.device };
	}

	/** Use a session token from elsewhere (an admin token) for syncs and for
	 * put(): the server applies those writes with the admin's rights (every
	 * field but server-owned ones; protocol/PROTOCOL.md, "Write rules").
	 * Evidence (checkins, ticks, orders) still needs a staff login. */
	async attach(server: string, token: string): Promise<void> {
		if (!server || !token) throw new FieldsyncError("EINVAL", "attach needs a server URL and a token");
		await this.run("rw", async (tx) => {
			await setMeta(tx, "url", server.replace(/\/+$/, ""));
			await setMeta(tx, "stoken", token);
			await setMeta(tx, "attached", "1");
			for (const k of ["staff", "role", "site", "expires"]) await tx.del("meta", k);
		});
		this.emit("session", []);
	}

	/** POST /v1/login as a staff member of the device's site. Sync after it
	 * so the device holds its scope for working offline. The previous staff
	 * member's queued work stays in the outbox under their name (`by`). */
	async login(staff: string, pin: string): Promise<Session> {
		if (!staff || !pin) throw new FieldsyncError("EINVAL", "login needs a staff id and a PIN");
		const [url, dtok] = await this.run("ro", async (tx) => [await this.url(tx), await metaStr(tx, "dtoken")]);
		if (!dtok) throw new FieldsyncError("ESTATE", "this device is not enrolled (enroll first)");
		const a = await request(this.http, {
			method: "POST",
			url: url + "/v1/login",
			token: dtok,
			body: pack({ staff, pin }),
			ctype: "application/msgpack",
			retry: false,
		});
		this.online = true;
		if (a.status !== 200) throw serverError("login", a);
		const v = unpack(a.body) as Record<string, unknown>;
		if (typeof v?.token !== "string" || typeof v?.staff !== "string")
			throw new FieldsyncError("ESERVER", "login: the server's answer has no token");
		await this.run("rw", async (tx) => {
			await tx.del("meta", "attached");
			await setMeta(tx, "stoken", v.token);
			await setMeta(tx, "staff", v.staff);
			await setMeta(tx, "role", typeof v.role === "string" ? v.role : "");
			await setMeta(tx, "site", typeof v.site === "string" ? v.site : "");
			await setMeta(tx, "expires", Number(v.expires ?? 0));
		});
		this.emit("session", []);
		return (await this.session())!;
	}

	/** Forget the session; queued work stays and is sent under its `by`. */
	async logout(): Promise<void> {
		await this.run("rw", async (tx) => {
			await tx.del("meta", "stoken");
			await tx.del("meta", "staff");
			await tx.del("meta", "role");
			await tx.del("meta", "attached");
		});
		this.emit("session", []);
	}

	/** Who is logged in on this device, or null. */
	async session(): Promise<Session | null> {
		return this.run("ro", async (tx) => {
			if (!(await metaStr(tx, "stoken")) || !(await metaStr(tx, "staff"))) return null;
			return {
				server: await metaStr(tx, "url"),
				device: await metaStr(tx, "device"),
				staff: await metaStr(tx, "staff"),
				role: await metaStr(tx, "role"),
				site: await metaStr(tx, "site"),
				expires: await metaNum(tx, "expires"),
				store: await metaStr(tx, "store"),
			};
		});
	}

	// ---- writes --------------------------------------------------------------

	/** Merge fields into the local record with a fresh stamp and queue the
	 * op, inside tx (cl_write in clients/client.c). */
	private async writeTx(tx: Tx, c: string, id: string, f: Fields): Promise<Write> {
		const bad = checkWrite(c, id, f);
		if (bad) throw new FieldsyncError("EINVAL", bad);
		const dev = await originOf(tx);
		if (!dev) throw new FieldsyncError("ESTATE", "this device is not enrolled (enroll first)");
		// an attached admin token writes as itself: no staff, no `by`
		const staff = await metaStr(tx, "staff");
		if (!staff && !(await metaStr(tx, "attached")))
			throw new FieldsyncError("ESTATE", "nobody is logged in on this device (login first)");
		const r = (await loadRec(tx, c, id)) ?? emptyRec(c, id);
		const s = await stampNow(tx, this.clock);
		const st: Record<string, Stamp> = {};
		for (const k of Object.keys(f)) st[k] = [s, dev];
		mergeFields(r, f, st);
		const bucket = bucketOf(c, id, r.f);
		if (!bucket)
			throw new FieldsyncError("EINVAL", `${c} ${id} is not on this device and the change does not say its bucket`);
		r.b = bucket;
		await storeRec(tx, r);
		await outAppend(tx, staff, { c, id, s, f, b: bucket });
		return { id, bucket, hlc: s, urgent: false };
	}

	/** fn inside one write transaction for the logged-in staff member (or,
	 * with `admin`, an attached admin token too), then tell and sync. */
	private async action(cols: string[], fn: (tx: Tx, who: { staff: string; site: string }) => Promise<Write>, admin = false): Promise<Write> {
		const w = await this.run("rw", async (tx) => {
			const staff = await metaStr(tx, "staff");
			if (!staff && !(admin && (await metaStr(tx, "attached"))))
				throw new FieldsyncError("ESTATE", "nobody is logged in on this device (login first)");
			return fn(tx, { staff, site: await metaStr(tx, "site") });
		});
		this.emit("write", cols);
		this.poke();
		return w;
	}

	/** Write any fields of a record (supervisors edit their site's records,
	 * an attached admin token every site's). id null makes a new record
	 * with a fresh id. */
	async put(collection: string, id: string | null, fields: Fields): Promise<Write> {
		const rid = id ?? newId(collection.slice(0, 2) || "r");
		return this.action([collection], (tx) => this.writeTx(tx, collection, rid, fields), true);
	}

	private async shiftTx(tx: Tx, staff: string, site: string): Promise<string | null> {
		const now = await correctedNow(tx, this.clock);
		let best = "";
		let kind = 0;
		let key = 0;
		for (const r of await tx.all<StoredRec>("recs", { index: "c", value: "shift" })) {
			const f = r.f;
			if (f._deleted === true || (site && f.site !== site)) continue;
			if (!Array.isArray(f.staff) || !f.staff.includes(staff)) continue;
			const starts = Number(f.starts);
			const ends = Number(f.ends);
			if (!Number.isFinite(starts) || !Number.isFinite(ends)) continue;
			if (starts <= now && now < ends) {
				if (kind < 2 || starts > key) [best, kind, key] = [r.id, 2, starts];
			} else if (ends <= now && now - ends < SHIFT_GRACE_MS && kind < 2) {
				if (kind < 1 || ends > key) [best, kind, key] = [r.id, 1, ends];
			}
		}
		return best || null;
	}

	/** The logged-in staff member's current shift: on now, else the one that
	 * ended last less than 2 h ago (fs_current_shift). */
	async currentShift(): Promise<string | null> {
		return this.run("ro", async (tx) => {
			const staff = await metaStr(tx, "staff");
			if (!staff) throw new FieldsyncError("ESTATE", "nobody is logged in on this device (login first)");
			return this.shiftTx(tx, staff, await metaStr(tx, "site"));
		});
	}

	/** A patrol checkin at a checkpoint (its id, or its NFC/QR tag): evidence,
	 * never changed. Carries the phone's own clock (at), this page session's
	 * boot id and its ms since the page loaded (boot, mono). */
	async checkin(checkpointOrTag: string, extra: CheckinExtra = {}): Promise<Write> {
		const method = extra.method ?? "nfc";
		if (!["nfc", "qr", "manual"].includes(method)) throw new FieldsyncError("EINVAL", "method must be nfc, qr or manual");
		if (!checkpointOrTag) throw new FieldsyncError("EINVAL", "which checkpoint? (its id or tag)");
		if (extra.sun !== undefined && (typeof extra.sun !== "string" || !extra.sun || new TextEncoder().encode(extra.sun).length > SUN_MAX))
			throw new FieldsyncError("EINVAL", "the tag's URL (sun) must be 1-1024 bytes");
		const at = this.clock.wall();
		const mono = this.clock.mono();
		return this.action(["checkin"], async (tx, who) => {
			const shift = extra.shift || (await this.shiftTx(tx, who.staff, who.site));
			if (!shift) throw new FieldsyncError("ENOTFOUND", "no current shift for you on this device (sync first)");
			let cp = validId(checkpointOrTag) ? await loadRec(tx, "checkpoint", checkpointOrTag) : undefined;
			if (!cp)
				cp = (await tx.all<StoredRec>("recs", { index: "c", value: "checkpoint" })).find(
					(r) => r.f.tag === checkpointOrTag && r.f._deleted !== true,
				);
			if (!cp)
				throw new FieldsyncError("EINVAL", `no checkpoint or tag "${checkpointOrTag}" on this device (sync to fetch the checkpoints)`);
			const sh = await loadRec(tx, "shift", shift);
			const site = who.site || (sh?.f.site as string) || (cp.f.site as string) || "";
			const f: Fields = { site, shift };
			if (typeof sh?.f.route === "string") f.route = sh.f.route;
			Object.assign(f, { checkpoint: cp.id, staff: who.staff, at, boot: this.clock.boot, mono, method });
			if (extra.note !== undefined) f.note = extra.note;
			if (extra.lat !== undefined && extra.lon !== undefined) {
				Object.assign(f, { lat: extra.lat, lon: extra.lon });
				if (extra.acc !== undefined && extra.acc >= 0) f.acc = extra.acc;
			}
			if (extra.sun !== undefined) f.sun = extra.sun;
			return this.writeTx(tx, "checkin", newId("ck"), f);
		});
	}

	/** Photo bytes hashed and checked before the transaction (WebCrypto
	 * cannot run inside one). */
	private async photoPrep(p: PhotoInput | undefined): Promise<{ hex: string; bytes: Uint8Array } | null> {
		if (p === undefined) return null;
		const bytes = await toBytes(p);
		if (bytes.length > PHOTO_MAX) throw new FieldsyncError("EINVAL", "a photo is at most 16 MiB");
		return { hex: await sha256hex(bytes), bytes };
	}

	/** Queue the photo once (content-addressed): stored until uploaded. */
	private async photoQueue(tx: Tx, ph: { hex: string; bytes: Uint8Array }): Promise<void> {
		if (!(await tx.get("photos", ph.hex)))
			await tx.put("photos", ph.hex, { hex: ph.hex, bytes: ph.bytes, size: ph.bytes.length, t: this.clock.wall() });
	}

	private async taskUpdate(taskId: string, status: string, extra: DoneExtra): Promise<Write> {
		const ph = await this.photoPrep(extra.photo);
		return this.action(["task"], async (tx, who) => {
			const cur = await loadRec(tx, "task", taskId);
			if (!cur) throw new FieldsyncError("ENOTFOUND", `no task ${taskId} on this device (sync to fetch your tasks)`);
			if (status === "done" && cur.f.status === "done" && extra.note === undefined && !ph && extra.checklist === undefined)
				throw new FieldsyncError("ESTATE", `task ${taskId} is already done; nothing changed`);
			const f: Fields = { status, ...this.stepEvidence("done_at"), done_by: who.staff };
			if (extra.note !== undefined) f.note = extra.note;
			if (extra.checklist !== undefined) f.checklist_done = extra.checklist;
			if (ph) {
				f.photo = ph.hex;
				await this.photoQueue(tx, ph);
			}
			return this.writeTx(tx, "task", taskId, f);
		});
	}

	/** Task completion: status done, done_at, done_by, note, photo. */
	async done(taskId: string, extra: DoneExtra = {}): Promise<Write> {
		return this.taskUpdate(taskId, "done", extra);
	}

	/** Skip a task with a reason. */
	async skip(taskId: string, note: string): Promise<Write> {
		if (!note) throw new FieldsyncError("EINVAL", "skipping a task needs a reason");
		return this.taskUpdate(taskId, "skipped", { note });
	}

	/** A new work order / incident report. Urgent categories stay listed by
	 * urgent() until the server acknowledges them. */
	async report(r: ReportInput): Promise<Write> {
		if (!CATEGORIES.includes(r.category))
			throw new FieldsyncError("EINVAL", "category must be one of " + CATEGORIES.join(", "));
		if (!r.title) throw new FieldsyncError("EINVAL", "a report needs a title");
		const ph = await this.photoPrep(r.photo);
		return this.action(["order"], async (tx, who) => {
			if (!who.site) throw new FieldsyncError("ESTATE", "this session has no site");
			const now = await correctedNow(tx, this.clock);
			const id = newId("wo");
			const f: Fields = { site: who.site, category: r.category, title: r.title };
			if (r.detail !== undefined) f.detail = r.detail;
			Object.assign(f, { reported_at: now, reporter: who.staff, status: "reported" });
			if (ph) {
				f.photos = [ph.hex];
				await this.photoQueue(tx, ph);
			}
			const w = await this.writeTx(tx, "order", id, f);
			if (URGENT.includes(r.category)) {
				await tx.put("urg", id, { id, category: r.category, title: r.title, at: now, state: "queued" });
				w.urgent = true;
			}
			return w;
		});
	}

	/** A step's time as evidence, like a checkin's: the phone's own clock
	 * with this boot's id and ms since boot (the server dates it). */
	private stepEvidence(atField: string): Fields {
		return { [atField]: this.clock.wall(), boot: this.clock.boot, mono: this.clock.mono() };
	}

	private async orderStep(orderId: string, step: "accept" | "on-site" | "resolve", extra?: string | OrderStepExtra): Promise<Write> {
		const x: OrderStepExtra = typeof extra === "string" ? { note: extra } : (extra ?? {});
		const list = x.photos ?? [];
		if (!Array.isArray(list) || list.length > ORDER_PHOTOS_MAX)
			throw new FieldsyncError("EINVAL", `an order step takes at most ${ORDER_PHOTOS_MAX} photos`);
		const phs: { hex: string; bytes: Uint8Array }[] = [];
		for (const p of list) phs.push((await this.photoPrep(p))!);
		const note = x.note;
		return this.action(["order"], async (tx, who) => {
			const r = await loadRec(tx, "order", orderId);
			if (!r) throw new FieldsyncError("ENOTFOUND", `no order ${orderId} on this device (sync to fetch the orders)`);
			const assignee = typeof r.f.assignee === "string" ? r.f.assignee : "";
			if (assignee && assignee !== who.staff)
				throw new FieldsyncError("EINVAL", `order ${orderId} is assigned to ${assignee}`);
			const to = step === "accept" ? "accepted" : step === "on-site" ? "on_site" : "resolved";
			const from = typeof r.f.status === "string" ? r.f.status : "reported";
			// the server refuses a status that moves back (protocol/PROTOCOL.md, "Orders")
			if (from === "cancelled" || STATUS_RANK[from] >= STATUS_RANK[to])
				throw new FieldsyncError("ESTATE", `order ${orderId} is already ${from}: status cannot go from ${from} to ${to}`);
			const f: Fields = { status: to, ...this.stepEvidence(to + "_at") };
			if (step === "accept" && !assignee) f.assignee = who.staff;
			if (note !== undefined) f.note = note;
			if (phs.length) {
				// added to the order's photos (the reporter's stay), once each
				const had = Array.isArray(r.f.photos) ? r.f.photos.filter((p): p is string => typeof p === "string") : [];
				const all = [...new Set([...had, ...phs.map((p) => p.hex)])];
				if (all.length > ORDER_PHOTOS_MAX)
					throw new FieldsyncError("EINVAL", `an order holds at most ${ORDER_PHOTOS_MAX} photos (it has ${had.length})`);
				for (const ph of phs) await this.photoQueue(tx, ph);
				f.photos = all;
			}
			return this.writeTx(tx, "order", orderId, f);
		});
	}

	/** Technician: take the order (assigns it to you when unassigned).
	 * The second argument is a note, or {note, photos}. */
	accept(orderId: string, extra?: string | OrderStepExtra): Promise<Write> {
		return this.orderStep(orderId, "accept", extra);
	}
	/** Technician: arrived (a note, or {note, photos}). */
	onSite(orderId: string, extra?: string | OrderStepExtra): Promise<Write> {
		return this.orderStep(orderId, "on-site", extra);
	}
	/** Technician: fixed (a note, or {note, photos} of the repair). */
	resolve(orderId: string, extra?: string | OrderStepExtra): Promise<Write> {
		return this.orderStep(orderId, "resolve", extra);
	}

	/** Shift lead / supervisor: the handover from the current shift to
	 * toShift, listing the current shift's open tasks (at most 1000). */
	async handover(toShift: string, note: string): Promise<Write> {
		if (!toShift || note === undefined) throw new FieldsyncError("EINVAL", "a handover needs the next shift and a note");
		return this.action(["handover"], async (tx, who) => {
			const from = await this.shiftTx(tx, who.staff, who.site);
			if (!from) throw new FieldsyncError("ENOTFOUND", "no current shift for you on this device");
			const open = (await tx.all<StoredRec>("recs", { index: "c", value: "task" }))
				.filter((t) => t.f.shift === from && t.f._deleted !== true && (t.f.status ?? "open") === "open")
				.map((t) => t.id)
				.slice(0, 1000);
			return this.writeTx(tx, "handover", newId("ho"), {
				site: who.site,
				from_shift: from,
				to_shift: toShift,
				by: who.staff,
				at: await correctedNow(tx, this.clock),
				note,
				open_items: open,
			});
		});
	}

	// ---- alerts (a supervisor's, pulled in alerts/<site>) ---------------------

	/** The alerts on this device, newest first: the open ones, or all. */
	async alerts(opts: { all?: boolean } = {}): Promise<Rec[]> {
		const at = (r: Rec) => Number(r.f.raised_at ?? 0);
		return (await this.query({ collection: "alert" }))
			.filter((r) => opts.all || r.f.resolved_at === undefined || r.f.resolved_at === null)
			.sort((a, b) => at(b) - at(a));
	}

	/** Acknowledge an alert: acked_by you, acked_at now (queued and sent
	 * like any write). */
	async ack(alertId: string): Promise<Write> {
		return this.action(["alert"], async (tx, who) => {
			if (!(await loadRec(tx, "alert", alertId)))
				throw new FieldsyncError("ENOTFOUND", `no alert ${alertId} on this device (sync to fetch the alerts)`);
			return this.writeTx(tx, "alert", alertId, { acked_by: who.staff, acked_at: await correctedNow(tx, this.clock) });
		});
	}

	// ---- reading the local copy ---------------------------------------------

	/** The local record (tombstoned ones too: f._deleted), or null. */
	async get(collection: string, id: string): Promise<Rec | null> {
		const r = await this.run("ro", (tx) => loadRec(tx, collection, id));
		return r ? toRec(r) : null;
	}

	/** Local records by collection, bucket and field values, in key order. */
	async query(q: Query = {}): Promise<Rec[]> {
		const rows = await this.run("ro", (tx) =>
			q.bucket
				? tx.all<StoredRec>("recs", { index: "b", value: q.bucket })
				: q.collection
					? tx.all<StoredRec>("recs", { index: "c", value: q.collection })
					: tx.all<StoredRec>("recs"),
		);
		return rows
			.filter((r) => (!q.collection || r.c === q.collection) && (q.deleted || r.f._deleted !== true) && matches(r, q.where))
			.sort((a, b) => (a.c === b.c ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.c < b.c ? -1 : 1))
			.map(toRec);
	}

	/** Call cb on every change of the local copy (this tab's writes and
	 * syncs, and other tabs'). Returns the function that unsubscribes. */
	subscribe(cb: (ev: ChangeEvent) => void): () => void {
		this.subs.add(cb);
		return () => this.subs.delete(cb);
	}

	// ---- state ---------------------------------------------------------------

	async status(): Promise<Status> {
		return this.run("ro", async (tx) => {
			const batches = await tx.all<Batch>("out");
			const urg = await tx.all<Urgent>("urg");
			return {
				enrolled: !!(await metaStr(tx, "device")),
				loggedIn: !!(await metaStr(tx, "stoken")),
				server: await metaStr(tx, "url"),
				device: await metaStr(tx, "device"),
				staff: await metaStr(tx, "staff"),
				role: await metaStr(tx, "role"),
				site: await metaStr(tx, "site"),
				store: await metaStr(tx, "store"),
				sessionExpires: await metaNum(tx, "expires"),
				pendingOps: batches.reduce((n, b) => n + b.ops.length, 0),
				pendingBatches: batches.length,
				deadLetters: await tx.count("dead"),
				urgentUnsent: urg.filter((u) => u.state === "queued").length,
				photosQueued: await tx.count("photos"),
				lastSync: await metaNum(tx, "last_sync"),
				clockOffset: await metaNum(tx, "offset"),
				now: await correctedNow(tx, this.clock),
				online: this.online,
				syncing: this.syncing !== null,
				live: this.liveOpen,
				lastError: this.lastError,
			};
		});
	}

	/** Ops the server rejected, oldest first (their local writes were undone). */
	async dead(): Promise<DeadLetter[]> {
		return this.run("ro", (tx) => tx.all<DeadLetter>("dead"));
	}

	/** Remove dead letters (the given seqs, or all); returns how many. */
	async clearDead(seqs?: number[]): Promise<number> {
		const n = await this.run("rw", async (tx) => {
			const all = await tx.all<DeadLetter>("dead");
			const gone = seqs ? all.filter((d) => seqs.includes(d.seq)) : all;
			for (const d of gone) await tx.del("dead", d.seq);
			return gone.length;
		});
		this.emit("dead", []);
		return n;
	}

	/** Urgent reports not yet acknowledged by the server. */
	async urgent(): Promise<Urgent[]> {
		return this.run("ro", (tx) => tx.all<Urgent>("urg"));
	}

	/** A photo's bytes: from the upload queue, else GET /v1/blobs/<hex>. */
	async photo(hex: string): Promise<Uint8Array | null> {
		const [local, url, tok] = await this.run("ro", async (tx) => [
			await tx.get<{ bytes: Uint8Array }>("photos", hex),
			await metaStr(tx, "url"),
			await metaStr(tx, "stoken"),
		] as const);
		if (local) return local.bytes;
		if (!/^[0-9a-f]{64}$/.test(hex) || !url || !tok) return null;
		const a = await request(this.http, { method: "GET", url: `${url}/v1/blobs/${hex}`, token: tok });
		if (a.status === 404) return null;
		if (a.status !== 200) throw serverError("photo download", a);
		return a.body;
	}

	/** A raw request with the session token (reports, admin calls): the body
	 * is sent as msgpack, or as it is with `ctype` (a CSV import is
	 * text/csv); the answer is decoded (msgpack, JSON or text). */
	async call(method: string, path: string, body?: unknown, ctype?: string): Promise<{ status: number; body: unknown }> {
		const [url, tok] = await this.run("ro", async (tx) => [await this.url(tx), await metaStr(tx, "stoken")]);
		if (!tok) throw new FieldsyncError("ESTATE", "nobody is logged in on this device");
		const a = await request(this.http, {
			method,
			url: url + path,
			token: tok,
			body: body === undefined ? undefined : ctype ? rawBody(body) : pack(body),
			ctype: ctype ?? "application/msgpack",
		});
		const ct = a.headers.get("Content-Type") ?? "";
		let out: unknown = a.body;
		try {
			if (ct.includes("msgpack")) out = unpack(a.body);
			else if (ct.includes("json")) out = JSON.parse(new TextDecoder().decode(a.body));
			else if (ct.startsWith("text/")) out = new TextDecoder().decode(a.body);
		} catch {
			/* keep the bytes */
		}
		return { status: a.status, body: out };
	}

	// ---- sync ----------------------------------------------------------------

	/** Hold the device-wide sync lock (one tab syncs at a time). */
	private async withLock<T>(fn: () => Promise<T>): Promise<T> {
		const nav = (globalThis as { navigator?: { locks?: LockManager } }).navigator;
		const name = "fieldsync-sync:" + this.storage.name;
		if (nav?.locks?.request) return nav.locks.request(name, { mode: "exclusive" }, fn) as Promise<T>;
		// Fallback: a lease in the store. IndexedDB serialises read-write
		// transactions, so two tabs cannot both take it; a crashed holder's
		// lease runs out after LEASE_MS; the holder renews it every round.
		const deadline = Date.now() + 2 * LEASE_MS;
		for (;;) {
			const got = await this.run("rw", async (tx) => {
				const l = await meta<{ owner: string; until: number }>(tx, "lease");
				if (l && l.owner !== this.tab && l.until > Date.now()) return false;
				await setMeta(tx, "lease", { owner: this.tab, until: Date.now() + LEASE_MS });
				return true;
			});
			if (got) break;
			if (Date.now() > deadline) throw new FieldsyncError("ESTATE", "another tab holds the sync lease");
			await sleep(50 + Math.random() * 100);
		}
		try {
			return await fn();
		} finally {
			await this.run("rw", async (tx) => {
				const l = await meta<{ owner: string }>(tx, "lease");
				if (l?.owner === this.tab) await tx.del("meta", "lease");
			}).catch(() => undefined);
		}
	}

	private async renewLease(): Promise<void> {
		const nav = (globalThis as { navigator?: { locks?: LockManager } }).navigator;
		if (nav?.locks?.request) return;
		await this.run("rw", async (tx) => {
			const l = await meta<{ owner: string }>(tx, "lease");
			if (l && l.owner !== this.tab) throw new FieldsyncError("ESTATE", "the sync lease was lost");
			await setMeta(tx, "lease", { owner: this.tab, until: Date.now() + LEASE_MS });
		});
	}

	/** One sync: upload queued photos, push the outbox and pull every bucket
	 * of the scope, repeated while a bucket has more or unsent batches
	 * remain. ENET when the server cannot be reached (nothing is lost). A
	 * sync already running in this tab is waited for, then one more runs. */
	async sync(): Promise<SyncStats> {
		while (this.syncing) await this.syncing.catch(() => undefined);
		const p = this.withLock(() => this.syncLocked());
		this.syncing = p;
		try {
			const st = await p;
			this.online = true;
			return st;
		} catch (e) {
			if (e instanceof FieldsyncError && e.code === "ENET") this.online = false;
			throw e;
		} finally {
			this.syncing = null;
		}
	}

	private async uploadPhotos(url: string, tok: string, st: SyncStats, stats: { retries: number }): Promise<void> {
		const hexes = (await this.run("ro", (tx) => tx.keys("photos"))).map(String);
		for (let i = 0; i < hexes.length; i++) {
			const ph = await this.run("ro", (tx) => tx.get<{ hex: string; bytes: Uint8Array }>("photos", hexes[i]));
			if (!ph) continue; // uploaded by another tab
			let a;
			try {
				a = await request(
					this.http,
					{ method: "PUT", url: `${url}/v1/blobs/${ph.hex}`, token: tok, body: ph.bytes, ctype: "application/octet-stream" },
					stats,
				);
			} catch (e) {
				st.photosLeft = hexes.length - i;
				throw e;
			}
			if (a.status === 401) {
				st.photosLeft = hexes.length - i;
				throw serverError("photo upload", a);
			}
			const err = a.status === 200 ? null : serverError("photo upload", a);
			await this.run("rw", async (tx) => {
				await tx.del("photos", ph.hex);
				if (err) {
					// the server will never take these bytes: say so, go on
					const seq = (await metaNum(tx, "deadseq")) + 1;
					await setMeta(tx, "deadseq", seq);
					await tx.put("dead", seq, {
						seq,
						code: err.server || "HTTP_" + a.status,
						msg: err.message,
						c: "blob",
						id: ph.hex,
						by: "",
						op: { c: "blob", id: ph.hex, s: 0n, f: {} },
						at: this.clock.wall(),
					});
				}
			});
			if (!err) st.photosUploaded++;
		}
	}

	private async syncLocked(): Promise<SyncStats> {
		const st = newStats();
		const stats = { retries: 0 };
		const st0 = await this.run("ro", async (tx) => ({
			url: await metaStr(tx, "url"),
			tok: await metaStr(tx, "stoken"),
			photos: await tx.count("photos"),
			unsealed: (await tx.all<Batch>("out")).some((b) => !b.sealed),
		}));
		const { url, tok } = st0;
		if (!tok || !url) throw new FieldsyncError("ESTATE", "nobody is logged in on this device (login first)");
		let state = { photos: st0.photos, unsealed: st0.unsealed, pending: -1 };
		const limit = Math.min(10000, Math.max(1, this.options.pullLimit ?? 1000));
		const touched = new Set<string>();
		let after = 0;
		try {
			for (let round = 0; round < SYNC_MAX_ROUNDS; round++) {
				if (round) await this.renewLease();
				// photos go up before the records that name them
				if (state.photos) await this.uploadPhotos(url, tok, st, stats);
				// sealing is durable before the batch is first sent (a lost seal
				// would let a resend under the same id carry more ops); with
				// nothing to seal the request is built read-only (and leaves out
				// a batch another tab opened meanwhile)
				const seal = state.unsealed;
				const rq: SyncReq = await this.run(seal ? "rw" : "ro", (tx) => prepare(tx, this.clock, after, limit, seal, this.options.wire ?? 2));
				const a = await request(
					this.http,
					{
						method: "POST",
						url: url + "/v1/sync",
						token: tok,
						body: rq.body,
						ctype: "application/msgpack",
						deflate: true,
						onSend: () => (rq.tSend = this.clock.wall()),
					},
					stats,
				);
				if (a.status !== 200) {
					const e = serverError("sync", a);
					if (e.code === "EAUTH") e.message = `the server no longer accepts this session (${e.server}): log in again`;
					throw e;
				}
				let resp: Record<string, unknown>;
				try {
					resp = unpack(a.body) as Record<string, unknown>;
				} catch {
					throw new FieldsyncError("ESERVER", "sync: the server's answer is not msgpack");
				}
				if (!resp || typeof resp !== "object" || resp.now === undefined || resp.hlc === undefined || typeof resp.store !== "string" || !resp.store)
					throw new FieldsyncError("ESERVER", "sync: the server's answer is not a sync response");
				st.rounds++;
				st.opsSent += rq.ops;
				const tRecv = this.clock.wall();
				// relaxed: an answer lost with a crash is asked for again (the
				// cursors stay behind, the batches come back dup with their acks)
				if (rq.seqs.length) after = rq.seqs[rq.seqs.length - 1];
				const res = await this.run("rw-relaxed", (tx) => apply(tx, this.clock, rq, resp, tRecv, st, after));
				res.touched.forEach((c) => touched.add(c));
				state = res;
				if (!res.again && !res.later) break;
			}
			if (state.photos) await this.uploadPhotos(url, tok, st, stats);
		} finally {
			st.retries = stats.retries;
			st.pendingAfter =
				state.pending >= 0 && !st.photosUploaded
					? state.pending
					: await this.run("ro", async (tx) => (await tx.all<Batch>("out")).reduce((n, b) => n + b.ops.length, 0)).catch(() => 0);
			if (st.rounds) this.emit("sync", [...touched]);
		}
		return st;
	}

	// ---- automatic sync ------------------------------------------------------

	private pokeTimer: ReturnType<typeof setTimeout> | null = null;
	private liveOpen = false; // auto()'s /v1/live socket is open
	private wake: (() => void) | null = null;

	/** Ask the automatic sync (if running) to sync soon. */
	private poke() {
		if (!this.wake || this.pokeTimer) return;
		this.pokeTimer = setTimeout(() => {
			this.pokeTimer = null;
			this.wake?.();
		}, 50);
	}

	/** Sync automatically: now, after every write, on network return, when
	 * /v1/live pokes (and when it opens, to catch up on what it missed),
	 * every intervalMs while online (liveIntervalMs while the live socket is
	 * open), and with doubling backoff after failures. Returns the function
	 * that stops it. */
	auto(opts: AutoOptions = {}): () => void {
		this.stopAuto?.();
		const interval = opts.intervalMs ?? 30000;
		const liveInterval = Math.max(interval, opts.liveIntervalMs ?? 120000);
		const every = () => (this.liveOpen ? liveInterval : interval);
		const maxBackoff = opts.maxBackoffMs ?? 300000;
		let stopped = false;
		let backoff = 1000;
		let timer: ReturnType<typeof setTimeout> | null = null;
		let live: WebSocketLike | null = null;
		let liveBackoff = 1000;
		let liveTimer: ReturnType<typeof setTimeout> | null = null;

		const schedule = (ms: number) => {
			if (stopped) return;
			if (timer) clearTimeout(timer);
			timer = setTimeout(tick, ms);
		};
		const tick = async () => {
			timer = null;
			if (stopped) return;
			try {
				if (!(await this.session())) return schedule(every());
				await this.sync();
				this.lastError = "";
				backoff = 1000;
				openLive();
				schedule(every());
			} catch (e) {
				this.lastError = e instanceof Error ? e.message : String(e);
				if (e instanceof FieldsyncError && e.code === "EAUTH") return schedule(maxBackoff);
				schedule(backoff + Math.floor(Math.random() * backoff));
				backoff = Math.min(backoff * 2, maxBackoff);
			}
		};
		this.wake = () => schedule(0);

		const openLive = () => {
			if (stopped || live || liveTimer || opts.live === false) return;
			void (async () => {
				const [url, tok] = await this.run("ro", async (tx) => [await metaStr(tx, "url"), await metaStr(tx, "stoken")]);
				if (!url || !tok || stopped) return;
				const factory = this.options.webSocket === undefined ? defaultLive() : this.options.webSocket;
				if (!factory) return; // no WebSocket here: the interval sync still runs
				let ws: WebSocketLike;
				try {
					ws = factory(url.replace(/^http/, "ws") + "/v1/live", tok);
				} catch {
					return; // a URL the runtime refuses: no live, sync still works
				}
				live = ws;
				ws.binaryType = "arraybuffer";
				ws.onopen = () => {
					liveBackoff = 1000;
					this.liveOpen = true;
					this.poke(); // what changed while it was closed
				};
				ws.onmessage = () => this.poke();
				ws.onerror = () => undefined;
				ws.onclose = () => {
					live = null;
					if (stopped) return;
					if (this.liveOpen) schedule(interval); // back to the short poll
					this.liveOpen = false;
					liveTimer = setTimeout(() => {
						liveTimer = null;
						openLive();
					}, liveBackoff + Math.floor(Math.random() * liveBackoff));
					liveBackoff = Math.min(liveBackoff * 2, 60000);
				};
			})().catch(() => undefined);
		};

		const onOnline = () => schedule(0);
		const g = globalThis as { addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void };
		g.addEventListener?.("online", onOnline);
		schedule(0);
		const stop = () => {
			stopped = true;
			if (timer) clearTimeout(timer);
			if (liveTimer) clearTimeout(liveTimer);
			if (this.pokeTimer) clearTimeout(this.pokeTimer);
			this.pokeTimer = null;
			live?.close();
			live = null;
			this.liveOpen = false;
			g.removeEventListener?.("online", onOnline);
			this.wake = null;
			if (this.stopAuto === stop) this.stopAuto = null;
		};
		this.stopAuto = stop;
		return stop;
	}

	/** Change the device clock (tests and simulation: fs_set_clock). */
	setClock(h: { wallShiftMs?: number; bootId?: string; monoShiftMs?: number }): void {
		this.clock.set(h);
	}

	/** Stop automatic sync and release the storage. */
	close(): void {
		this.stopAuto?.();
		this.bc?.close();
		this.bc = null;
		this.subs.clear();
		this.storage.close();
	}
}

/** Open the client over a storage (indexedDBStorage() in browsers,
 * memoryStorage() in tests). */
export async function open(storage: Storage, options: Options = {}): Promise<Client> {
	const c = new Client(storage, options);
	await c.status(); // the storage opens (and fails) here, not at first use
	return c;
}
