/*
 * clock.ts — the device clock a browser has, and the HLC
 * (protocol/hlc.c's rules: a stamp is wall_ms << 16 | counter).
 *
 * Evidence time (protocol/PROTOCOL.md, "Evidence time"): `boot` is a random
 * id made once per JavaScript realm — a page load, a worker, a Node
 * process — so every reload is a new boot; `mono` is performance.now(),
 * the milliseconds since that realm's time origin, which the user cannot
 * set and which keeps counting when the wall clock is changed; `wall` is
 * Date.now(), the phone's clock as the user set it.
 */
import type { ClockHooks } from "./types.js";

export function randomHex(nbytes: number): string {
	const b = new Uint8Array(nbytes);
	crypto.getRandomValues(b);
	let s = "";
	for (const x of b) s += x.toString(16).padStart(2, "0");
	return s;
}

/** This realm's boot id: new on every page load. */
export const REALM_BOOT = randomHex(16);

export class DevClock {
	wallShift = 0;
	monoShift = 0;
	boot = REALM_BOOT;
	constructor(h: ClockHooks = {}) {
		this.set(h);
	}
	set(h: ClockHooks) {
		if (h.wallShiftMs !== undefined) this.wallShift = h.wallShiftMs;
		if (h.monoShiftMs !== undefined) this.monoShift = h.monoShiftMs;
		if (h.bootId !== undefined) this.boot = h.bootId;
	}
	wall(): number {
		return Math.max(0, Date.now() + this.wallShift);
	}
	mono(): number {
		return Math.max(0, Math.floor(performance.now()) + this.monoShift);
	}
}

export const hlcMake = (wall: number, counter = 0): bigint =>
	(BigInt(Math.max(0, Math.floor(wall))) << 16n) | BigInt(counter & 0xffff);
export const hlcWall = (h: bigint): number => Number(h >> 16n);

/** A new local stamp: above last and at least wall << 16. */
export function hlcNow(last: bigint, wall: number): bigint {
	const t = last + 1n;
	const w = hlcMake(wall);
	return w > t ? w : t;
}

/** The receive rule: above last, remote and wall << 16. */
export function hlcRecv(last: bigint, wall: number, remote: bigint): bigint {
	let t = last + 1n;
	const r = remote + 1n;
	const w = hlcMake(wall);
	if (r > t) t = r;
	if (w > t) t = w;
	return t;
}

/** Compare stamps: hlc, then origin bytewise (a prefix sorts first). */
export function stampCmp(a: [bigint, string], b: [bigint, string]): number {
	if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
	const x = new TextEncoder().encode(a[1]);
	const y = new TextEncoder().encode(b[1]);
	const n = Math.min(x.length, y.length);
	for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
	return x.length - y.length;
}
