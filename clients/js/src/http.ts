/*
 * http.ts — requests to fieldsyncd: msgpack bodies, deflate request bodies
 * (CompressionStream where the runtime has it), gzip answers (fetch undoes
 * Content-Encoding itself), retries with backoff and jitter on network
 * errors, 429 and 503 (Retry-After honoured, as clients/client.c's
 * cl_request does). A resend is the same bytes: a sync's batch ids do not
 * change, so the server answers dup.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { FieldsyncError } from "./types.js";

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const decoder = new Decoder({ useBigInt64: true });

/* With useBigInt64 the encoder writes numbers past 32 bits as floats (the
 * server wants integers: times are uint): such integers go as bigint. */
function ints(v: unknown): unknown {
	if (typeof v === "number")
		return Number.isSafeInteger(v) && (v >= 0x100000000 || v < -0x80000000) ? BigInt(v) : v;
	if (Array.isArray(v)) return v.map(ints);
	if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
		const o: Record<string, unknown> = {};
		for (const [k, x] of Object.entries(v)) o[k] = ints(x);
		return o;
	}
	return v;
}

export const pack = (v: unknown): Uint8Array => encoder.encode(ints(v));
export const unpack = (b: Uint8Array): unknown => decoder.decode(b);

export interface HttpOpts {
	fetch: typeof fetch;
	timeoutMs: number;
	attempts: number;
	backoffMs: number;
	compress: boolean;
}

export interface Answer {
	status: number;
	body: Uint8Array;
	headers: Headers;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function deflate(b: Uint8Array): Promise<Uint8Array | null> {
	if (typeof CompressionStream === "undefined") return null;
	const s = new Blob([b as BlobPart]).stream().pipeThrough(new CompressionStream("deflate"));
	return new Uint8Array(await new Response(s).arrayBuffer());
}

/** Bodies smaller than this go out plain (deflate would not pay). */
const DEFLATE_MIN = 256;

export interface ReqSpec {
	method: string;
	url: string;
	token?: string;
	body?: Uint8Array;
	ctype?: string;
	/** deflate the body when it pays */
	deflate?: boolean;
	/** retry network errors, 429 and 503 (not for login: a PIN try counts) */
	retry?: boolean;
	/** called before each attempt (the device time it was sent) */
	onSend?: () => void;
}

/** One request with retries; throws ENET when the server was not reached. */
export async function request(o: HttpOpts, r: ReqSpec, stats?: { retries: number }): Promise<Answer> {
	let body = r.body;
	const headers: Record<string, string> = { Accept: "application/msgpack" };
	if (r.token) headers.Authorization = "Bearer " + r.token;
	if (body && r.ctype) headers["Content-Type"] = r.ctype;
	if (body && r.deflate && o.compress && body.length >= DEFLATE_MIN) {
		const z = await deflate(body);
		if (z) {
			body = z;
			headers["Content-Encoding"] = "deflate";
		}
	}
	const attempts = r.retry === false ? 1 : Math.max(1, o.attempts);
	let backoff = o.backoffMs;
	let last: Answer | null = null;
	let err = "";
	for (let att = 0; att < attempts; att++) {
		if (att) {
			if (stats) stats.retries++;
			let wait = backoff + Math.floor(Math.random() * (backoff + 1));
			const ra = last ? Number(last.headers.get("Retry-After") ?? "0") : 0;
			if (ra * 1000 > wait) wait = ra * 1000;
			await sleep(Math.min(wait, 30000));
			backoff *= 2;
		}
		r.onSend?.();
		const ac = new AbortController();
		const timer = setTimeout(() => ac.abort(), o.timeoutMs);
		try {
			const resp = await o.fetch(r.url, {
				method: r.method,
				headers,
				body: body as BodyInit | undefined,
				signal: ac.signal,
				cache: "no-store",
			});
			const bytes = new Uint8Array(await resp.arrayBuffer());
			last = { status: resp.status, body: bytes, headers: resp.headers };
			if (resp.status !== 429 && resp.status !== 503) return last;
			err = `the server is busy (HTTP ${resp.status})`;
		} catch (e) {
			last = null;
			err = e instanceof Error ? e.message : String(e);
		} finally {
			clearTimeout(timer);
		}
	}
	if (last) throw serverError("request", last);
	throw new FieldsyncError("ENET", `could not reach the server: ${err}`);
}

/** The {error, msg} of a refused request as a FieldsyncError. */
export function serverError(what: string, a: Answer): FieldsyncError {
	let code = "";
	let msg = "";
	try {
		const v = unpack(a.body) as Record<string, unknown>;
		if (typeof v?.error === "string") code = v.error;
		if (typeof v?.msg === "string") msg = v.msg;
	} catch {
		/* not msgpack: CivetWeb's own answers (PROTOCOL.md difference 16) */
	}
	const text = `${what} refused (HTTP ${a.status}): ${code || "error"}${msg ? ": " + msg : ""}`;
	return new FieldsyncError(a.status === 401 ? "EAUTH" : "ESERVER", text, code, a.status);
}
