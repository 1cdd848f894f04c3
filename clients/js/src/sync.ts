/*
 * sync.ts — one round of POST /v1/sync as clients/sync.c does it:
 * prepare() seals the open batches and builds the request in one
 * transaction (so a batch's contents are fixed before it is first sent);
 * apply() takes the whole answer in one transaction: clock offset and HLC
 * (pulled back after CLOCK_AHEAD), the store id (reset: keep the outbox,
 * clear the copy), acks (dead letters undone with `cur`, restamps,
 * UNAVAILABLE left for later), buckets (reset, recs, gone, cursors, more)
 * and eviction of buckets that left the scope once the outbox holds
 * nothing for them. No transaction is open while the network is used.
 */
import { DevClock, hlcMake, hlcRecv, hlcWall } from "./clock.js";
import {
	allOps,
	clearBucket,
	originOf,
	deleteRec,
	emptyRec,
	loadRec,
	mergeFields,
	metaBig,
	metaNum,
	metaStr,
	newBatch,
	normStamps,
	normValue,
	recBucket,
	replayOutbox,
	setMeta,
	storeRec,
	type Batch,
	type Op,
	type StoredRec,
} from "./local.js";
import { pack } from "./http.js";
import { ColwireError, decodePage } from "./colwire.js";
import type { Tx } from "./storage.js";
import { FieldsyncError, type Fields, type Stamp, type SyncStats } from "./types.js";

const BATCHES_MAX = 64;
const BYTES_MAX = 3 << 20;
/** A clock this far ahead of the corrected clock is pulled back. */
const HLC_SLACK_MS = 60000;
/** The server's max_skew_ms (PROTOCOL.md difference 17: the wire does not say). */
export const ASSUMED_MAX_SKEW_MS = 300000;

export function newStats(): SyncStats {
	return {
		rounds: 0,
		retries: 0,
		opsSent: 0,
		opsAcked: 0,
		opsRejected: 0,
		opsRestamped: 0,
		batchesUnavailable: 0,
		recsPulled: 0,
		gone: 0,
		bucketsReset: 0,
		bucketsDropped: 0,
		photosUploaded: 0,
		photosLeft: 0,
		storeChanged: false,
		pendingAfter: 0,
	};
}

export interface SyncReq {
	body: Uint8Array;
	seqs: number[];
	ids: Uint8Array[];
	ops: number;
	tSend: number;
}

/** The corrected clock: the device's wall clock plus the learnt offset. */
export async function correctedNow(tx: Tx, clk: DevClock): Promise<number> {
	return Math.max(0, clk.wall() + (await metaNum(tx, "offset")));
}

/** A fresh stamp from the corrected clock (kept in meta "hlc"). */
export async function stampNow(tx: Tx, clk: DevClock): Promise<bigint> {
	const last = await metaBig(tx, "hlc");
	const t = last + 1n;
	const w = hlcMake(await correctedNow(tx, clk));
	const s = w > t ? w : t;
	await setMeta(tx, "hlc", s);
	return s;
}

/** The request of one round; `seal` (a read-write tx) seals open batches,
 * else they are left out. */
export async function prepare(tx: Tx, clk: DevClock, after: number, limit: number, seal: boolean, wire: 1 | 2 = 2): Promise<SyncReq> {
	const batches = await tx.all<Batch>("out");
	let pending = 0;
	for (const b of batches) {
		pending += b.ops.length;
		if (!b.sealed && seal) {
			b.sealed = true;
			await tx.put("out", b.seq, b);
		}
	}
	const push: unknown[] = [];
	const seqs: number[] = [];
	const ids: Uint8Array[] = [];
	let bytes = 0;
	let nops = 0;
	for (const b of batches) {
		if (b.seq <= after || !b.sealed) continue;
		if (push.length >= BATCHES_MAX || (push.length && bytes >= BYTES_MAX)) break;
		const wire: Record<string, unknown> = {
			batch: b.id,
			ops: b.ops.map((o) => ({ c: o.c, id: o.id, s: o.s, f: o.f })),
		};
		if (b.by) wire.by = b.by;
		bytes += pack(wire).length;
		push.push(wire);
		seqs.push(b.seq);
		ids.push(b.id);
		nops += b.ops.length;
	}
	const pull: Record<string, number> = {};
	const keys = await tx.keys("curs");
	const vals = await tx.all<number>("curs");
	keys.forEach((k, i) => (pull[String(k)] = vals[i]));
	const last = await metaBig(tx, "hlc");
	const w = hlcMake(await correctedNow(tx, clk));
	const body = pack({
		v: 1,
		// the columnar pull encoding unless v1 is asked for; a server that
		// does not know `enc` ignores it and answers v1 (applyBucket takes both)
		enc: wire === 2 ? 2 : undefined,
		hlc: last > w ? last : w,
		push,
		pull,
		limit,
		dev: { boot: clk.boot, mono: clk.mono(), wall: clk.wall(), pending },
	});
	return { body, seqs, ids, ops: nops, tSend: clk.wall() };
}

interface Ctx {
	tx: Tx;
	clk: DevClock;
	dev: string;
	st: SyncStats;
	again: boolean;
	touched: Set<string>;
	budget: { left: number }; // values the answer's v2 pages may decode to
}

const sameStamp = (a: Stamp | undefined, s: bigint, dev: string) => !!a && a[0] === s && a[1] === dev;

/** Undo a rejected op's local write: its fields that still carry its stamp
 * go back to the server's (cur) or away; then cur merges in. */
async function undoOp(x: Ctx, op: Op, cur: unknown): Promise<void> {
	const cm = cur && typeof cur === "object" ? (cur as Record<string, unknown>) : null;
	const cf = cm?.f && typeof cm.f === "object" ? (normValue(cm.f) as Fields) : null;
	const cs = cm ? normStamps(cm.s) : {};
	const had = await loadRec(x.tx, op.c, op.id);
	if (!had && !cf) return;
	const r = had ?? emptyRec(op.c, op.id);
	for (const k of Object.keys(op.f))
		if (sameStamp(r.s[k], op.s, x.dev)) {
			delete r.f[k];
			delete r.s[k];
		}
	if (cf) mergeFields(r, cf, cs);
	x.touched.add(op.c);
	if (Object.keys(r.f).length === 0) return deleteRec(x.tx, op.c, op.id);
	const b = had?.b || recBucket(r);
	if (!b) return deleteRec(x.tx, op.c, op.id);
	r.b = b;
	await storeRec(x.tx, r);
}

/** Give a CLOCK_AHEAD op a fresh stamp, in the local record and a new batch. */
async function restampOp(x: Ctx, op: Op, nb: Batch): Promise<void> {
	const s = await stampNow(x.tx, x.clk);
	const r = await loadRec(x.tx, op.c, op.id);
	if (r) {
		for (const k of Object.keys(op.f)) if (sameStamp(r.s[k], op.s, x.dev)) r.s[k] = [s, x.dev];
		await storeRec(x.tx, r);
	}
	nb.ops.push({ ...op, s });
}

async function deadLetter(x: Ctx, op: Op, by: string, code: string, msg: string): Promise<void> {
	const seq = (await metaNum(x.tx, "deadseq")) + 1;
	await setMeta(x.tx, "deadseq", seq);
	await x.tx.put("dead", seq, {
		seq,
		code,
		msg,
		c: op.c,
		id: op.id,
		by,
		op: { c: op.c, id: op.id, s: op.s, f: op.f },
		at: x.clk.wall(),
	});
	if (op.c === "order") {
		const u = await x.tx.get<Record<string, unknown>>("urg", op.id);
		if (u) await x.tx.put("urg", op.id, { ...u, state: "rejected " + code });
	}
}

function findRej(rej: unknown, i: number): Record<string, unknown> | null {
	if (!Array.isArray(rej)) return null;
	for (const r of rej) if (r && typeof r === "object" && Number((r as { i?: unknown }).i) === i) return r as Record<string, unknown>;
	return null;
}

async function applyAck(x: Ctx, seq: number, ack: Record<string, unknown>): Promise<void> {
	const berr = typeof ack.err === "string" ? ack.err : null;
	if (berr === "UNAVAILABLE") {
		x.st.batchesUnavailable++;
		return; // not recorded by the server: sent again by a later sync
	}
	const b = await x.tx.get<Batch>("out", seq);
	if (!b) return; // another tab applied this ack already
	let restamp: Batch | null = null;
	for (let i = 0; i < b.ops.length; i++) {
		const op = b.ops[i];
		const r = findRej(ack.rej, i);
		if (!r && !berr) {
			x.st.opsAcked++;
			if (op.c === "order") await x.tx.del("urg", op.id);
			continue;
		}
		const code = (r && typeof r.code === "string" ? r.code : berr) ?? "INTERNAL";
		const msg = r && typeof r.msg === "string" ? r.msg : "rejected by the server";
		if (code === "CLOCK_AHEAD") {
			restamp ??= await newBatch(x.tx, b.by, true);
			await restampOp(x, op, restamp);
			x.st.opsRestamped++;
			x.again = true;
			continue;
		}
		await deadLetter(x, op, b.by, code, msg);
		await undoOp(x, op, r ? r.cur : null);
		x.st.opsRejected++;
	}
	if (restamp) await x.tx.put("out", restamp.seq, restamp);
	await x.tx.del("out", seq);
}

/** Values all v2 pages of one answer may decode to (as clients/sync.c). */
const V2_MAX_VALUES = 8 << 20;

function decodeV2(bucket: string, page: Uint8Array, budget: { left: number }): Record<string, unknown>[] {
	try {
		return decodePage(page, budget);
	} catch (e) {
		if (e instanceof ColwireError) throw new FieldsyncError("ESERVER", `sync: bucket ${bucket}: the v2 records do not decode (${e.code})`);
		throw e;
	}
}

async function applyBucket(x: Ctx, bucket: string, bv: Record<string, unknown>): Promise<void> {
	const cursor = bv.cursor;
	if (typeof cursor !== "number" && typeof cursor !== "bigint") return;
	if (bv.reset === true) {
		// served from 0 in this same answer: start over, keeping the outbox
		await clearBucket(x.tx, bucket);
		await replayOutbox(x.tx, bucket, x.dev);
		x.st.bucketsReset++;
	}
	// v2: one column page with the records v1 sends in `recs`
	const recs =
		bv.cols instanceof Uint8Array
			? decodeV2(bucket, bv.cols, x.budget)
			: Array.isArray(bv.recs)
				? (bv.recs as Record<string, unknown>[])
				: [];
	const valid = recs.filter((r) => r && typeof r.c === "string" && typeof r.id === "string");
	// all reads first, then all writes: no round trip per record
	const have = await Promise.all(valid.map((r) => loadRec(x.tx, r.c as string, r.id as string)));
	const puts: Promise<void>[] = [];
	valid.forEach((rv, i) => {
		const r: StoredRec = have[i] ?? emptyRec(rv.c as string, rv.id as string);
		mergeFields(r, normValue(rv.f ?? {}) as Fields, normStamps(rv.s));
		r.b = bucket;
		x.touched.add(r.c);
		puts.push(storeRec(x.tx, r));
	});
	await Promise.all(puts);
	x.st.recsPulled += valid.length;
	for (const g of Array.isArray(bv.gone) ? bv.gone : []) {
		if (!Array.isArray(g) || g.length !== 2 || typeof g[0] !== "string" || typeof g[1] !== "string") continue;
		const r = await loadRec(x.tx, g[0], g[1]);
		if (!r) continue;
		x.st.gone++;
		x.touched.add(g[0]);
		// it left this bucket; if we already hold it in its new one, keep it
		if (r.b === bucket) await deleteRec(x.tx, g[0], g[1]);
	}
	await x.tx.put("curs", bucket, Number(cursor));
	if (bv.more === true) x.again = true;
}

/** Evict every local bucket not in the scope once no queued op is in it. */
async function evict(x: Ctx, scope: string[]): Promise<void> {
	const local = new Set<string>([
		...(await x.tx.distinct("recs", "b")),
		...(await x.tx.keys("curs")).map(String),
	]);
	const queued = new Set((await allOps(x.tx)).map((e) => e.op.b));
	for (const b of local) {
		if (scope.includes(b) || queued.has(b)) continue;
		await clearBucket(x.tx, b);
		await x.tx.del("curs", b);
		x.st.bucketsDropped++;
		x.touched.add("*");
	}
}

export interface Applied {
	again: boolean; // a bucket has more, ops were restamped, the store changed
	later: boolean; // batches after `after` wait in the outbox
	unsealed: boolean; // an open batch (written meanwhile) waits
	photos: number; // photos queued
	pending: number; // ops in the outbox
	touched: string[];
}

export async function apply(
	tx: Tx,
	clk: DevClock,
	rq: SyncReq,
	resp: Record<string, unknown>,
	tRecv: number,
	st: SyncStats,
	after: number,
): Promise<Applied> {
	const x: Ctx = {
		tx,
		clk,
		dev: (await originOf(tx)) || "unenrolled",
		st,
		again: false,
		touched: new Set(),
		budget: { left: V2_MAX_VALUES },
	};
	const now = Number(resp.now);
	const shlc = BigInt(resp.hlc as bigint);
	const store = resp.store as string;

	// clock: offset = server now - device now (midpoint of the trip)
	const off = now - Math.round((rq.tSend + tRecv) / 2);
	await setMeta(tx, "offset", off);
	const corr = await correctedNow(tx, clk);
	let last = await metaBig(tx, "hlc");
	// Stamps the server can still accept reach corr + its max skew; the HLC
	// never goes below those (nor the server's own HLC), or a later edit of
	// this device would lose to its own earlier one. Anything beyond comes
	// back CLOCK_AHEAD and is restamped below.
	const bound = hlcMake(corr + ASSUMED_MAX_SKEW_MS, 0xffff);
	let cand = hlcMake(corr);
	if (shlc <= bound && shlc > cand) cand = shlc;
	for (const { op } of await allOps(tx)) if (op.s <= bound && op.s > cand) cand = op.s;
	if (hlcWall(last) > corr + HLC_SLACK_MS && last > cand) last = cand; // stamped with a clock that was ahead
	await setMeta(tx, "hlc", hlcRecv(last, corr, cand));

	const old = await metaStr(tx, "store");
	let changed = false;
	if (old && old !== store) {
		// a restored or new server: reset every bucket, keep the outbox
		await tx.clear("recs");
		await tx.clear("curs");
		await replayOutbox(tx, null, x.dev);
		changed = true;
		st.storeChanged = true;
		x.again = true;
		x.touched.add("*");
	}
	await setMeta(tx, "store", store);

	const acks = Array.isArray(resp.acks) ? resp.acks : [];
	for (const ack of acks) {
		const bid = (ack as Record<string, unknown>)?.batch;
		if (!(bid instanceof Uint8Array) || bid.length !== 16) continue;
		const j = rq.ids.findIndex((id) => id.every((v, k) => v === bid[k]));
		if (j < 0) continue;
		await applyAck(x, rq.seqs[j], ack as Record<string, unknown>);
	}

	if (!changed) {
		const buckets = resp.buckets;
		if (buckets && typeof buckets === "object")
			for (const [name, bv] of Object.entries(buckets as Record<string, unknown>))
				if (bv && typeof bv === "object") await applyBucket(x, name, bv as Record<string, unknown>);
		if (Array.isArray(resp.scope)) {
			const scope = resp.scope.filter((s): s is string => typeof s === "string");
			await setMeta(tx, "scope", scope);
			await evict(x, scope);
		}
	}
	await setMeta(tx, "last_sync", clk.wall());
	const out = await tx.all<Batch>("out");
	return {
		again: x.again,
		later: out.some((b) => b.seq > after),
		unsealed: out.some((b) => !b.sealed),
		photos: await tx.count("photos"),
		pending: out.reduce((n, b) => n + b.ops.length, 0),
		touched: [...x.touched],
	};
}
