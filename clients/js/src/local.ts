/*
 * local.ts — the local copy inside a storage transaction: records merged
 * last-writer-wins per field exactly as the server merges them
 * (protocol/PROTOCOL.md, "Merge"), the outbox of batches, cursors and
 * meta values. The same steps as clients/local.c.
 */
import { stampCmp } from "./clock.js";
import { bucketOf } from "./schema.js";
import type { Tx } from "./storage.js";
import type { Fields, Stamp, Value } from "./types.js";

export interface StoredRec {
	c: string;
	id: string;
	b: string; // bucket
	f: Fields;
	s: Record<string, Stamp>;
}

export interface Op {
	c: string;
	id: string;
	s: bigint;
	f: Fields;
	b: string; // the bucket the op wrote into (for drop and reset)
}

export interface Batch {
	seq: number;
	id: Uint8Array; // 16 bytes, fixed when the batch is made
	by: string; // staff member whose rights the batch uses
	sealed: boolean; // sent (or about to be): never appended to again
	ops: Op[];
}

/** Ops a batch takes before a new one is opened (clients/local.h). */
export const BATCH_OPS = 500;

export const recKey = (c: string, id: string) => c + "\u0000" + id;

export async function meta<T>(tx: Tx, k: string): Promise<T | undefined> {
	return tx.get<T>("meta", k);
}

export async function metaStr(tx: Tx, k: string): Promise<string> {
	const v = await tx.get<string>("meta", k);
	return typeof v === "string" ? v : "";
}

/** The origin of this client's own stamps: its device id; "admin" for an
 * admin token attached without enrolling (the server stamps those writes
 * with the admin's device id, admin-<hex>, which sorts after "admin", so a
 * pulled copy of our own write replaces the local one). */
export const ADMIN_ORIGIN = "admin";
export async function originOf(tx: Tx): Promise<string> {
	const dev = await metaStr(tx, "device");
	if (dev) return dev;
	return (await metaStr(tx, "attached")) ? ADMIN_ORIGIN : "";
}

export async function metaNum(tx: Tx, k: string): Promise<number> {
	const v = await tx.get<number>("meta", k);
	return typeof v === "number" ? v : 0;
}

export async function metaBig(tx: Tx, k: string): Promise<bigint> {
	const v = await tx.get<bigint>("meta", k);
	return typeof v === "bigint" ? v : 0n;
}

export const setMeta = (tx: Tx, k: string, v: unknown) => tx.put("meta", k, v);

export async function loadRec(tx: Tx, c: string, id: string): Promise<StoredRec | undefined> {
	return tx.get<StoredRec>("recs", recKey(c, id));
}

export function emptyRec(c: string, id: string): StoredRec {
	return { c, id, b: "", f: {}, s: {} };
}

/** Take each field whose stamp is strictly greater than the local one. */
export function mergeFields(r: StoredRec, f: Fields, s: Record<string, Stamp>): void {
	for (const k of Object.keys(f)) {
		const st = s[k];
		if (!st) continue;
		const have = r.s[k];
		if (!have || stampCmp(st, have) > 0) {
			r.f[k] = f[k];
			r.s[k] = st;
		}
	}
}

export const storeRec = (tx: Tx, r: StoredRec) => tx.put("recs", recKey(r.c, r.id), r);
export const deleteRec = (tx: Tx, c: string, id: string) => tx.del("recs", recKey(c, id));

/** Forget every record of a bucket. */
export async function clearBucket(tx: Tx, bucket: string): Promise<void> {
	const recs = await tx.all<StoredRec>("recs", { index: "b", value: bucket });
	await Promise.all(recs.map((r) => deleteRec(tx, r.c, r.id)));
}

export async function allOps(tx: Tx): Promise<{ batch: Batch; op: Op }[]> {
	const out: { batch: Batch; op: Op }[] = [];
	for (const b of await tx.all<Batch>("out")) for (const op of b.ops) out.push({ batch: b, op });
	return out;
}

async function nextSeq(tx: Tx, key: string): Promise<number> {
	const s = (await metaNum(tx, key)) + 1;
	await setMeta(tx, key, s);
	return s;
}

export async function newBatch(tx: Tx, by: string, sealed: boolean): Promise<Batch> {
	const id = new Uint8Array(16);
	crypto.getRandomValues(id);
	return { seq: await nextSeq(tx, "outseq"), id, by, sealed, ops: [] };
}

/** Append an op to the open batch of `by`, or to a new one. */
export async function outAppend(tx: Tx, by: string, op: Op): Promise<void> {
	let b = await tx.last<Batch>("out");
	if (!b || b.sealed || b.ops.length >= BATCH_OPS || b.by !== by) b = await newBatch(tx, by, false);
	b.ops.push(op);
	await tx.put("out", b.seq, b);
}

/** Put the outbox's ops (of one bucket, or all) back over the local copy. */
export async function replayOutbox(tx: Tx, bucket: string | null, origin: string): Promise<void> {
	for (const { op } of await allOps(tx)) {
		if (bucket !== null && op.b !== bucket) continue;
		if (!op.b) continue;
		const r = (await loadRec(tx, op.c, op.id)) ?? emptyRec(op.c, op.id);
		const s: Record<string, Stamp> = {};
		for (const k of Object.keys(op.f)) s[k] = [op.s, origin];
		mergeFields(r, op.f, s);
		r.b = op.b;
		await storeRec(tx, r);
	}
}

/** The bucket a record belongs in now, or null when its fields do not say. */
export function recBucket(r: StoredRec): string | null {
	return bucketOf(r.c, r.id, r.f);
}

/** A pulled value as the app wants it: integers that fit a number are one. */
export function normValue(v: unknown): Value {
	if (typeof v === "bigint")
		return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
			? Number(v)
			: v;
	if (Array.isArray(v)) return v.map(normValue);
	if (v instanceof Uint8Array) return v;
	if (v && typeof v === "object") {
		const o: Record<string, Value> = {};
		for (const [k, x] of Object.entries(v)) o[k] = normValue(x);
		return o;
	}
	return v as Value;
}

export function normStamps(s: unknown): Record<string, Stamp> {
	const out: Record<string, Stamp> = {};
	if (!s || typeof s !== "object") return out;
	for (const [k, v] of Object.entries(s as Record<string, unknown>))
		if (
			Array.isArray(v) &&
			v.length === 2 &&
			(typeof v[0] === "bigint" || typeof v[0] === "number") &&
			typeof v[1] === "string"
		)
			out[k] = [BigInt(v[0]), v[1]];
	return out;
}
