/*
 * storage.ts — the small adapter the client keeps its local copy in, and
 * the in-memory adapter (tests, Node). The IndexedDB adapter is idb.ts.
 *
 * One call of Storage.run is one transaction over every table: either all
 * its writes happen or none (a thrown error rolls back), and a read-write
 * run has completed durably when its promise resolves. Inside a run the
 * callback may await only the Tx's own calls (IndexedDB ends a transaction
 * that waits for anything else).
 */

export type Table =
	| "meta" // key string -> value (tokens, offset, hlc, store id...)
	| "recs" // "c\0id" -> {c, id, b, f, s}
	| "out" // batch seq -> {seq, id, by, sealed, ops}
	| "dead" // seq -> dead letter
	| "urg" // order id -> urgent report
	| "photos" // sha256 hex -> {hex, bytes, size, t}
	| "curs"; // bucket -> cursor

export const TABLES: Table[] = ["meta", "recs", "out", "dead", "urg", "photos", "curs"];

export type Key = string | number;

/** recs can be listed by bucket ("b") or collection ("c"). */
export interface Where {
	index: "b" | "c";
	value: string;
}

export interface Tx {
	get<T = unknown>(t: Table, k: Key): Promise<T | undefined>;
	put(t: Table, k: Key, v: unknown): Promise<void>;
	del(t: Table, k: Key): Promise<void>;
	/** values in key order (of one index value when where is given) */
	all<T = unknown>(t: Table, where?: Where): Promise<T[]>;
	keys(t: Table): Promise<Key[]>;
	/** the distinct values of an index of recs, sorted */
	distinct(t: Table, index: "b" | "c"): Promise<string[]>;
	last<T = unknown>(t: Table): Promise<T | undefined>;
	count(t: Table): Promise<number>;
	clear(t: Table): Promise<void>;
}

export interface Storage {
	/** one name per enrolled server: the Web Locks and BroadcastChannel name */
	readonly name: string;
	run<T>(mode: "ro" | "rw", fn: (tx: Tx) => Promise<T>): Promise<T>;
	close(): void;
}

function cmpKey(a: Key, b: Key): number {
	if (typeof a === "number" && typeof b === "number") return a - b;
	if (typeof a === "number") return -1; // IndexedDB: numbers before strings
	if (typeof b === "number") return 1;
	return a < b ? -1 : a > b ? 1 : 0;
}

type Rows = Map<Key, unknown>;

/**
 * Everything in memory (lost with the process): for tests and for Node
 * programs that do not need to survive a restart. Transactions run one at a
 * time; a failed one is rolled back. Values are copied in and out like
 * IndexedDB's structured clone, so no caller can change stored state.
 */
export function memoryStorage(name = "fieldsync-memory"): Storage {
	const data = new Map<Table, Rows>(TABLES.map((t) => [t, new Map()]));
	let chain: Promise<unknown> = Promise.resolve();
	let closed = false;

	const sorted = (t: Table): [Key, unknown][] =>
		[...data.get(t)!.entries()].sort((a, b) => cmpKey(a[0], b[0]));

	function makeTx(rw: boolean, undo: Array<() => void>): Tx {
		const touch = (t: Table, k: Key) => {
			const rows = data.get(t)!;
			const had = rows.has(k);
			const old = rows.get(k);
			undo.push(() => (had ? rows.set(k, old) : rows.delete(k)));
		};
		const need = () => {
			if (!rw) throw new Error("write in a read-only transaction");
		};
		return {
			async get<T>(t: Table, k: Key) {
				const v = data.get(t)!.get(k);
				return v === undefined ? undefined : (structuredClone(v) as T);
			},
			async put(t, k, v) {
				need();
				touch(t, k);
				data.get(t)!.set(k, structuredClone(v));
			},
			async del(t, k) {
				need();
				touch(t, k);
				data.get(t)!.delete(k);
			},
			async all<T>(t: Table, where?: Where) {
				const out: T[] = [];
				for (const [, v] of sorted(t))
					if (!where || (v as Record<string, unknown>)[where.index] === where.value)
						out.push(structuredClone(v) as T);
				return out;
			},
			async keys(t) {
				return sorted(t).map((e) => e[0]);
			},
			async distinct(t, index) {
				const set = new Set<string>();
				for (const v of data.get(t)!.values()) set.add((v as Record<string, string>)[index]);
				return [...set].sort();
			},
			async last<T>(t: Table) {
				const s = sorted(t);
				return s.length ? (structuredClone(s[s.length - 1][1]) as T) : undefined;
			},
			async count(t) {
				return data.get(t)!.size;
			},
			async clear(t) {
				need();
				for (const k of [...data.get(t)!.keys()]) touch(t, k);
				data.get(t)!.clear();
			},
		};
	}

	return {
		name,
		run<T>(mode: "ro" | "rw", fn: (tx: Tx) => Promise<T>): Promise<T> {
			const p = chain.then(async () => {
				if (closed) throw new Error("storage closed");
				const undo: Array<() => void> = [];
				try {
					return await fn(makeTx(mode === "rw", undo));
				} catch (e) {
					for (let i = undo.length - 1; i >= 0; i--) undo[i]();
					throw e;
				}
			});
			chain = p.catch(() => undefined);
			return p;
		},
		close() {
			closed = true;
		},
	};
}
