/*
 * colwire.test.ts — the TypeScript decoder of the v2 pull encoding
 * (src/colwire.ts) against protocol/PROTOCOL.md's worked example and,
 * differentially, against the C codec (protocol/colwire.c through
 * build/tests/colwire_tool): random v1 records are encoded by C, and
 * the TypeScript decoder must read each page to exactly what the C
 * decoder reads (and to the records themselves, grouped by collection).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ColwireError, decodePage } from "../src/colwire.js";
import { pack, unpack } from "../src/http.js";
import { BUILD } from "./harness.js";

const TOOL = join(BUILD, "tests", "colwire_tool");
const c = (mode: "encode" | "decode", input: Uint8Array): Uint8Array =>
	new Uint8Array(execFileSync(TOOL, [mode], { input, maxBuffer: 64 << 20 }));

const EXAMPLE = Uint8Array.from(
	(
		"02 04 03 63 2d 37 09 77 65 74 20 66 6c 6f 6f 72 04 6f 70 65 6e 04 64 6f 6e 65 02 04 64 2d 35 66 06 73 65 72" +
		" 76 65 72 01 04 74 61 73 6b 02 05 08 61 73 73 69 67 6e 65 65 04 64 6f 6e 65 03 64 75 65 04 6e 6f 74 65 06 73" +
		" 74 61 74 75 73 00 04 74 2d 30 31 03 01 32 80 80 ee c4 aa b5 a6 a2 03 02 21 01 00 00 00 00 00 03 00 00 00 00" +
		" 02 02 00 01 00 01 80 b8 a3 db c9 68 c0 a9 07 11 02 00 00 01 01 00 00 00 00 02 03"
	)
		.split(" ")
		.map((h) => parseInt(h, 16)),
);

test("the PROTOCOL.md worked example decodes to its two records", () => {
	const H = 117741019391180800n;
	const budget = { left: 1000 };
	const got = decodePage(EXAMPLE, budget);
	assert.deepEqual(got, [
		{
			c: "task",
			id: "t-01",
			f: { assignee: null, done: false, due: 1796600000000n, status: "open" },
			s: { assignee: [H, "d-5f"], done: [H, "d-5f"], due: [H, "d-5f"], status: [H, "d-5f"] },
		},
		{
			c: "task",
			id: "t-02",
			f: { assignee: "c-7", done: true, due: 1796600060000n, note: "wet floor", status: "done" },
			s: {
				assignee: [H + 1n, "d-5f"],
				done: [H + 1n, "d-5f"],
				due: [H, "server"],
				note: [H + 1n, "d-5f"],
				status: [H + 1n, "d-5f"],
			},
		},
	]);
	assert.equal(budget.left, 1000 - 73);
	// the C decoder reads the same
	assert.deepEqual(unpack(c("decode", EXAMPLE)), got);
});

test("every proper prefix and a value budget one short are refused", () => {
	for (let n = 0; n < EXAMPLE.length; n++)
		assert.throws(() => decodePage(EXAMPLE.subarray(0, n), { left: 1e9 }), (e: unknown) => e instanceof ColwireError && e.code === "BAD_MSGPACK");
	const b = { left: 72 };
	assert.throws(() => decodePage(EXAMPLE, b), (e: unknown) => e instanceof ColwireError && e.code === "TOO_LARGE");
	assert.equal(b.left, 72);
	const extra = new Uint8Array(EXAMPLE.length + 1);
	extra.set(EXAMPLE);
	assert.throws(() => decodePage(extra, { left: 1e9 }), ColwireError);
});

test("one-byte changes of the example decode as C decodes them or are refused by both", () => {
	let same = 0;
	for (let i = 1; i < EXAMPLE.length; i += 3)
		for (const v of [0x00, 0x01, 0x7f, 0x80, 0xff, EXAMPLE[i] ^ 1]) {
			const m = EXAMPLE.slice();
			m[i] = v;
			let ts: unknown = null, cs: unknown = null;
			try {
				ts = decodePage(m, { left: 8 << 20 });
			} catch (e) {
				assert.ok(e instanceof ColwireError, String(e));
			}
			try {
				cs = unpack(c("decode", m));
			} catch {
				cs = null;
			}
			assert.deepEqual(ts, cs, `byte ${i} = ${v}`);
			if (ts) same++;
		}
	assert.ok(same > 0);
});

/* ---- random records, C encoder, both decoders ------------------------------ */

let seed = 0x2545f491;
const rnd = (n: number) => {
	seed ^= seed << 13;
	seed ^= seed >>> 17;
	seed ^= seed << 5;
	return (seed >>> 0) % n;
};

const WORDS = ["open", "done", "z-lobby-a", "", "c-0001", "Lobby floor wet-mop", "été", "sh-00001", "日本"];
const NAMES = ["assignee", "at", "done", "due_from", "note", "photos", "score", "shift", "site", "status", "zone"];

function value(kind: number, depth = 0): unknown {
	switch (kind) {
		case 0:
			return null;
		case 1:
			return rnd(2) === 1;
		case 2:
			return [0, 5, 127, 128, 65535, 0xffffffff, 2 ** 32, 1796600000000 + rnd(100000), -1, -33, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 40)][rnd(13)];
		case 3:
			return 18446744073709551615n - BigInt(rnd(5)); // past int64: a raw column
		case 4:
			return WORDS[rnd(WORDS.length)];
		case 5:
			return rnd(1000) / 8 + 0.5;
		case 6:
			return Uint8Array.from([1, 2, rnd(256)]);
		default:
			if (depth > 2) return [];
			if (kind === 7) return Array.from({ length: rnd(4) }, () => value(rnd(8), depth + 1));
			return Object.fromEntries(Array.from({ length: rnd(4) }, (_, i) => [NAMES[i], value(rnd(8), depth + 1)]));
	}
}

function randomRecords(n: number): unknown[] {
	const recs = [];
	for (let k = 0; k < n; k++) {
		const mixed = rnd(4) === 0;
		const f: Record<string, unknown> = {}, s: Record<string, unknown> = {};
		const h = (1796600000000n << 16n) + BigInt(rnd(1000));
		NAMES.forEach((name, i) => {
			if (rnd(3) === 0) return;
			f[name] = value(rnd(10) === 0 ? 0 : mixed ? rnd(9) : (i * 7 + 3) % 9);
			s[name] = [h + (rnd(2) ? 0n : BigInt(rnd(1 << 20))), ["server", "d-5f01", "admin-7"][rnd(3)]];
		});
		recs.push({ c: ["task", "checkin", "order"][rnd(3)], id: `t-${rnd(3) ? "bench" : "x"}-${String(k * (1 + rnd(3))).padStart(7, "0")}`, f, s });
	}
	return recs;
}

function grouped(recs: Record<string, unknown>[]): Record<string, unknown>[] {
	const order: string[] = [];
	for (const r of recs) if (!order.includes(r.c as string)) order.push(r.c as string);
	return order.flatMap((cl) => recs.filter((r) => r.c === cl));
}

test("random records: the TypeScript decoder reads C's pages as C does", () => {
	for (let round = 0; round < 60; round++) {
		const input = pack(randomRecords(round === 0 ? 0 : 1 + rnd(round < 50 ? 40 : 400)));
		const page = c("encode", input);
		const mine = decodePage(page, { left: 8 << 20 });
		assert.deepEqual(mine, unpack(c("decode", page)), `round ${round}`);
		assert.deepEqual(mine, grouped(unpack(input) as Record<string, unknown>[]), `round ${round}`);
	}
});
