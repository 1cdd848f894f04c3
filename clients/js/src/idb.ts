/*
 * idb.ts — the IndexedDB adapter (storage.ts says what a Storage is).
 *
 * One database per enrolled server. Every run is one IndexedDB transaction
 * over all tables; read-write runs ask for durability "strict" (the browser
 * flushes to disk before complete fires) and resolve only on complete, so a
 * write that resolved survives a reload, a killed tab or a dead battery.
 */
import { TABLES, type Key, type Storage, type Table, type Tx, type Where } from "./storage.js";

const VERSION = 1;

function req<T>(r: IDBRequest<T>): Promise<T> {
	return new Promise((resolve, reject) => {
		r.onsuccess = () => resolve(r.result);
		r.onerror = () => reject(r.error);
	});
}

function openDb(name: string): Promise<IDBDatabase> {
	return new Promise((resolve, reject) => {
		const r = indexedDB.open(name, VERSION);
		r.onupgradeneeded = () => {
			const db = r.result;
			for (const t of TABLES)
				if (!db.objectStoreNames.contains(t)) {
					const s = db.createObjectStore(t);
					if (t === "recs") {
						s.createIndex("b", "b");
						s.createIndex("c", "c");
					}
				}
		};
		r.onsuccess = () => resolve(r.result);
		r.onerror = () => reject(r.error);
		r.onblocked = () => reject(new Error("IndexedDB open blocked by another tab"));
	});
}

function wrap(tx: IDBTransaction): Tx {
	const st = (t: Table) => tx.objectStore(t);
	return {
		get: <T>(t: Table, k: Key) => req(st(t).get(k)) as Promise<T | undefined>,
		put: async (t, k, v) => {
			await req(st(t).put(v, k));
		},
		del: async (t, k) => {
			await req(st(t).delete(k));
		},
		all: <T>(t: Table, where?: Where) =>
			(where
				? req(st(t).index(where.index).getAll(where.value))
				: req(st(t).getAll())) as Promise<T[]>,
		keys: (t) => req(st(t).getAllKeys()) as Promise<Key[]>,
		distinct: (t, index) =>
			new Promise<string[]>((resolve, reject) => {
				const out: string[] = [];
				const r = st(t).index(index).openKeyCursor(null, "nextunique");
				r.onsuccess = () => {
					const c = r.result;
					if (!c) return resolve(out);
					out.push(String(c.key));
					c.continue();
				};
				r.onerror = () => reject(r.error);
			}),
		last: async <T>(t: Table) => {
			const c = await req(st(t).openCursor(null, "prev"));
			return c ? (c.value as T) : undefined;
		},
		count: (t) => req(st(t).count()),
		clear: async (t) => {
			await req(st(t).clear());
		},
	};
}

/**
 * IndexedDB storage named `name` (default: "fieldsync@" + the page's
 * origin). An app that talks to several servers opens one per server.
 */
export function indexedDBStorage(name?: string): Storage {
	const dbName =
		name ?? "fieldsync@" + (typeof location !== "undefined" ? location.origin : "default");
	let dbp: Promise<IDBDatabase> | null = null;
	const db = () => (dbp ??= openDb(dbName));

	return {
		name: dbName,
		async run<T>(mode: "ro" | "rw", fn: (tx: Tx) => Promise<T>): Promise<T> {
			const d = await db();
			const tx =
				mode === "rw"
					? d.transaction(TABLES, "readwrite", { durability: "strict" })
					: d.transaction(TABLES, "readonly");
			const done = new Promise<void>((resolve, reject) => {
				tx.oncomplete = () => resolve();
				tx.onerror = () => reject(tx.error);
				tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
			});
			let out: T;
			try {
				out = await fn(wrap(tx));
			} catch (e) {
				try {
					tx.abort();
				} catch {
					/* already finished */
				}
				done.catch(() => undefined);
				throw e;
			}
			await done;
			return out;
		},
		close() {
			if (dbp) dbp.then((d) => d.close()).catch(() => undefined);
			dbp = null;
		},
	};
}
