/*
 * colwire.ts — decoder of the v2 pull encoding: one bucket page (a
 * bucket's `cols` bin) into the records v1 would have sent in `recs`
 * (protocol/PROTOCOL.md, "Pull encoding v2"; the C twin is
 * protocol/colwire.c's cw_decode).
 *
 * Bounded like the C decoder: the whole page is walked and checked once
 * without building anything (every count against the bytes left, every
 * index against its table, every raw value decoded), its v1 value count
 * is checked against the caller's budget, and only then are the records
 * built. Integers come out as @msgpack/msgpack reads the v1 bytes the
 * server would have sent (msgpack-c writes the smallest width): a number
 * when it fits 32 bits, else a bigint.
 */
import { unpack } from "./http.js";

export type V1Record = {
	c: string;
	id: string;
	f: Record<string, unknown>;
	s: Record<string, [number | bigint, string]>;
};

/** A page that is not a well-formed v2 page (BAD_MSGPACK), or over the
 *  value budget (TOO_LARGE). */
export class ColwireError extends Error {
	constructor(
		readonly code: "BAD_MSGPACK" | "TOO_LARGE",
		msg: string,
	) {
		super(msg);
	}
}

const NAME_MAX = 255;
const FIELDS_MAX = 1024;
const VALUES_PER_REC = 9;
const VALUES_PER_FIELD = 6;
const M64 = (1n << 64n) - 1n;
const K_RAW = 0, K_STR = 1, K_INT = 2, K_BOOL = 3;
const F_PRESENCE = 0x10, F_NILS = 0x20;
const ascii = new TextDecoder();

/** A string as @msgpack/msgpack reads it in v1 (its way with invalid
 * UTF-8 included): ASCII directly, anything else through the library. */
function str(b: Uint8Array): string {
	if (b.every((x) => x < 0x80)) return ascii.decode(b);
	const m = new Uint8Array(b.length + 5);
	m[0] = 0xdb;
	new DataView(m.buffer).setUint32(1, b.length);
	m.set(b, 5);
	return unpack(m) as string;
}

function bad(why: string): never {
	throw new ColwireError("BAD_MSGPACK", "v2 page: " + why);
}

class Rd {
	constructor(
		readonly p: Uint8Array,
		public o: number,
	) {}
	left(): number {
		return this.p.length - this.o;
	}
	byte(): number {
		if (this.o >= this.p.length) bad("truncated");
		return this.p[this.o++];
	}
	/** A varint as bigint (stamps, bases, integers). */
	big(): bigint {
		let x = 0n;
		for (let s = 0n; s < 64n; s += 7n) {
			const b = this.byte();
			if (s === 63n && b > 1) bad("varint past 64 bits");
			x |= BigInt(b & 0x7f) << s;
			if (!(b & 0x80)) return x;
		}
		return bad("varint too long");
	}
	/** A varint as number (counts, lengths, indices): past 2^53 it is
	 *  rounded but stays above every bound it is checked against. */
	num(): number {
		let x = 0, mul = 1;
		for (let i = 0; i < 10; i++) {
			const b = this.byte();
			if (i === 9 && b > 1) bad("varint past 64 bits");
			x += (b & 0x7f) * mul;
			mul *= 128;
			if (!(b & 0x80)) return x;
		}
		return bad("varint too long");
	}
	below(lim: number, what: string): number {
		const v = this.num();
		if (v >= lim) bad(what + " index out of range");
		return v;
	}
	bytes(max: number): Uint8Array {
		const n = this.num();
		if (n > max || n > this.left()) bad("bytes past the end or a limit");
		const b = this.p.subarray(this.o, this.o + n);
		this.o += n;
		return b;
	}
	/** A bitmap of `bits` bits: its offset and how many are set. */
	bitmap(bits: number): { at: number; set: number } {
		const n = Math.ceil(bits / 8);
		if (n > this.left()) bad("bitmap past the end");
		let set = 0;
		for (let i = 0; i < n; i++) for (let v = this.p[this.o + i]; v; v &= v - 1) set++;
		if (bits % 8 && this.p[this.o + n - 1] >> bits % 8) bad("bitmap padding bit set");
		const at = this.o;
		this.o += n;
		return { at, set };
	}
	bit(at: number, i: number): boolean {
		return ((this.p[at + (i >> 3)] >> (i & 7)) & 1) === 1;
	}
}

const cmpBytes = (a: Uint8Array, b: Uint8Array): number => {
	const n = Math.min(a.length, b.length);
	for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
	return a.length - b.length;
};

/** Values a decoded msgpack value holds, counted as the C decoder counts. */
function countValues(v: unknown): number {
	if (Array.isArray(v)) return v.reduce((n: number, x) => n + countValues(x), 1);
	if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
		let n = 1;
		for (const x of Object.values(v)) n += 1 + countValues(x);
		return n;
	}
	return 1;
}

interface Col {
	kind: number;
	pres: number; // bitmap offset, -1: every record has the field
	nil: number; // bitmap offset, -1: no nil
	npres: number;
	nval: number;
	hlc: number; // offsets of the sections
	org: number;
	val: number;
	raws: unknown[]; // the raw values, decoded while checking
	rawValues: number;
}

function readColumn(r: Rd, nrec: number, nS: number, nO: number): Col {
	const head = r.byte();
	const kind = head & 0x0f;
	if (kind > K_BOOL || head & ~(0x0f | F_PRESENCE | F_NILS)) bad("unknown column head");
	const c: Col = { kind, pres: -1, nil: -1, npres: nrec, nval: 0, hlc: 0, org: 0, val: 0, raws: [], rawValues: 0 };
	if (head & F_PRESENCE) {
		const m = r.bitmap(nrec);
		c.pres = m.at;
		c.npres = m.set;
	}
	c.nval = c.npres;
	if (head & F_NILS) {
		const m = r.bitmap(c.npres);
		c.nil = m.at;
		c.nval -= m.set;
	}
	c.hlc = r.o;
	for (let i = 0; i < c.npres; i++) r.big();
	c.org = r.o;
	for (let i = 0; i < c.npres; i++) r.below(nO, "origin");
	c.val = r.o;
	if (kind === K_BOOL) {
		r.bitmap(c.nval);
		return c;
	}
	for (let i = 0; i < c.nval; i++) {
		if (kind === K_STR) r.below(nS, "string");
		else if (kind === K_INT) r.big();
		else {
			const b = r.bytes(Number.MAX_SAFE_INTEGER);
			let v: unknown;
			try {
				if (!b.length) throw new Error("empty");
				v = unpack(b);
			} catch {
				bad("a raw value is not one msgpack object");
			}
			c.raws.push(v);
			c.rawValues += countValues(v) - 1;
		}
	}
	return c;
}

interface Group {
	coll: Uint8Array;
	nrec: number;
	names: Uint8Array[];
	ids: number; // offset of the ids, read again when building
	bases: bigint[];
	cols: Col[];
}

/** A group, read and checked. */
function readGroup(r: Rd, nS: number, nO: number): Group {
	const coll = r.bytes(NAME_MAX);
	if (!coll.length) bad("empty collection");
	const nrec = r.num();
	if (!nrec || nrec > r.left() / 2) bad("record count");
	const nf = r.num();
	if (nf > FIELDS_MAX || nf > r.left()) bad("field count");
	const names: Uint8Array[] = [];
	for (let j = 0; j < nf; j++) {
		const n = r.bytes(NAME_MAX);
		if (j && cmpBytes(names[j - 1], n) >= 0) bad("names not strictly ascending");
		names.push(n);
	}
	const ids = r.o;
	let prev = 0;
	for (let i = 0; i < nrec; i++) {
		const keep = r.num();
		if (keep > prev) bad("id keeps more than the previous id");
		prev = keep + r.bytes(NAME_MAX - keep).length;
		if (!prev) bad("empty id");
	}
	const bases: bigint[] = [];
	let acc = 0n;
	for (let i = 0; i < nrec; i++) bases.push((acc = (acc + unzigzag(r.big())) & M64));
	const cols: Col[] = [];
	for (let j = 0; j < nf; j++) cols.push(readColumn(r, nrec, nS, nO));
	return { coll, nrec, names, ids, bases, cols };
}

function unzigzag(z: bigint): bigint {
	return ((z >> 1n) ^ -(z & 1n)) & M64;
}

/** As @msgpack/msgpack reads the smallest msgpack integer for v. */
function intOut(v: bigint): number | bigint {
	return v >= -0x80000000n && v <= 0xffffffffn ? Number(v) : v;
}

function table(r: Rd): Uint8Array[] {
	const n = r.num();
	if (n > r.left()) bad("table count");
	const t: Uint8Array[] = [];
	for (let i = 0; i < n; i++) t.push(r.bytes(Number.MAX_SAFE_INTEGER));
	return t;
}

function buildGroup(r: Rd, g: Group, S: string[], O: string[], out: V1Record[]): void {
	const coll = str(g.coll);
	const names = g.names.map((n) => str(n));
	const recs: V1Record[] = [];
	const ir = new Rd(r.p, g.ids);
	let prev = new Uint8Array(0);
	for (let i = 0; i < g.nrec; i++) {
		const keep = ir.num(), suf = ir.bytes(NAME_MAX);
		const id = new Uint8Array(keep + suf.length);
		id.set(prev.subarray(0, keep));
		id.set(suf, keep);
		recs.push({ c: coll, id: str(id), f: {}, s: {} });
		prev = id;
	}
	g.cols.forEach((c, j) => {
		const h = new Rd(r.p, c.hlc), o = new Rd(r.p, c.org), v = new Rd(r.p, c.val);
		let pi = 0, vi = 0, acc = 0n;
		for (let i = 0; i < g.nrec; i++) {
			if (c.pres >= 0 && !r.bit(c.pres, i)) continue;
			const hlc = (g.bases[i] - h.big()) & M64;
			const origin = O[o.num()];
			let val: unknown = null;
			if (c.nil < 0 || !r.bit(c.nil, pi)) {
				if (c.kind === K_STR) val = S[v.num()];
				else if (c.kind === K_INT) {
					acc = (acc + unzigzag(v.big())) & M64;
					val = intOut(acc >= 1n << 63n ? acc - (1n << 64n) : acc);
				} else if (c.kind === K_BOOL) val = r.bit(c.val, vi);
				else val = c.raws[vi];
				vi++;
			}
			pi++;
			recs[i].f[names[j]] = val;
			recs[i].s[names[j]] = [intOut(hlc), origin];
		}
	});
	out.push(...recs);
}

/**
 * Decode one v2 page into v1 records, in page order. `budget.left` is the
 * number of values (the v1 tree's: 1 for the array, 9 a record, 6 a
 * field, plus what a raw value holds) the page may take; it is reduced by
 * what it took. Throws ColwireError.
 */
export function decodePage(page: Uint8Array, budget: { left: number }): V1Record[] {
	if (!page.length || page[0] !== 2) bad("not a version 2 page");
	const r = new Rd(page, 1);
	const sRaw = table(r);
	const O = table(r).map((b) => str(b));
	const ng = r.num();
	if (ng > r.left()) bad("group count");
	const groups: Group[] = [];
	let values = 1;
	for (let k = 0; k < ng; k++) {
		const g = readGroup(r, sRaw.length, O.length);
		values += VALUES_PER_REC * g.nrec;
		for (const c of g.cols) values += VALUES_PER_FIELD * c.npres + c.rawValues;
		if (values > budget.left) throw new ColwireError("TOO_LARGE", "v2 page: over the value budget");
		groups.push(g);
	}
	if (r.left()) bad("bytes after the last group");
	const S = sRaw.map((b) => str(b));
	const out: V1Record[] = [];
	for (const g of groups) buildGroup(r, g, S, O, out);
	budget.left -= values;
	return out;
}
