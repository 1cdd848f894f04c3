/*
 * types.ts — the public types of the fieldsync client (clients/js/README.md).
 * The wire they stand for is protocol/PROTOCOL.md; the collections and
 * fields are schema/SCHEMA.md.
 */

/** A field value as it travels in msgpack. Integers above 2^53 stay bigint. */
export type Value =
	| null
	| boolean
	| number
	| bigint
	| string
	| Uint8Array
	| Value[]
	| { [k: string]: Value };

export type Fields = Record<string, Value>;

/** A field's stamp: [hlc, origin device id]. hlc = wall_ms << 16 | counter. */
export type Stamp = [bigint, string];

/** A record of the local copy. */
export interface Rec {
	c: string; // collection
	id: string;
	bucket: string; // "site/<site>", "shift/<shift>", "orders/<site>", "alerts/<site>"
	f: Fields; // fields (a tombstoned record has f._deleted === true)
	s: Record<string, Stamp>; // per-field stamps
}

/** What a write queued. */
export interface Write {
	id: string; // the record's id (made here for new records)
	bucket: string;
	hlc: bigint; // the op's stamp
	urgent: boolean; // an urgent order: call the control room until acked
}

/** Error codes of the library (FSC_* in clients/fieldsync.h). */
export type ErrorCode =
	| "EINVAL" // bad argument (unknown field, bad id, bad usage)
	| "ENOTFOUND" // no such record here
	| "ESTATE" // not enrolled, not logged in, already enrolled...
	| "ENET" // the server could not be reached (offline)
	| "EAUTH" // the server refused the token or the PIN (401)
	| "ESERVER" // the server refused the request: see .server
	| "ESTORE"; // the local storage failed

export class FieldsyncError extends Error {
	code: ErrorCode;
	/** the server's error code ("FORBIDDEN", "RATE_LIMITED"...) or "" */
	server: string;
	/** the HTTP status when the server answered, else 0 */
	status: number;
	constructor(code: ErrorCode, message: string, server = "", status = 0) {
		super(message);
		this.name = "FieldsyncError";
		this.code = code;
		this.server = server;
		this.status = status;
	}
}

/** The logged-in staff member and the device (for the app's header). */
export interface Session {
	server: string; // server URL given to enroll
	device: string; // device id ("d-...")
	staff: string; // staff id
	role: string; // guard, cleaner, technician, supervisor
	site: string;
	expires: number; // session expiry, ms since 1970
	store: string; // the server's store id (32 hex) seen at the last sync, "" before
}

export interface Status {
	enrolled: boolean;
	loggedIn: boolean;
	server: string;
	device: string;
	staff: string;
	role: string;
	site: string;
	store: string;
	sessionExpires: number;
	pendingOps: number; // ops in the outbox
	pendingBatches: number;
	deadLetters: number;
	urgentUnsent: number; // urgent reports not yet acknowledged
	photosQueued: number;
	lastSync: number; // device ms of the last successful sync, 0: never
	clockOffset: number; // ms, server - device
	now: number; // corrected clock now, ms
	online: boolean; // the last request reached the server
	syncing: boolean; // a sync runs in this tab now
	live: boolean; // auto()'s /v1/live socket is open (changes arrive at once)
	lastError: string; // the last automatic sync's error, "" after success
}

export interface DeadLetter {
	seq: number;
	code: string; // FORBIDDEN, OUT_OF_SCOPE, IMMUTABLE, BAD_TYPE, ...
	msg: string;
	c: string;
	id: string;
	by: string; // the staff member the batch was made for
	op: { c: string; id: string; s: bigint; f: Fields };
	at: number; // device ms when it was rejected
}

export interface Urgent {
	id: string;
	category: string;
	title: string;
	at: number;
	state: string; // "queued", or "rejected CODE"
}

export interface SyncStats {
	rounds: number;
	retries: number;
	opsSent: number;
	opsAcked: number;
	opsRejected: number;
	opsRestamped: number; // CLOCK_AHEAD ops queued again, restamped
	batchesUnavailable: number;
	recsPulled: number;
	gone: number;
	bucketsReset: number;
	bucketsDropped: number;
	photosUploaded: number;
	photosLeft: number;
	storeChanged: boolean;
	pendingAfter: number;
}

/** A change of the local copy, by this tab or another one. */
export interface ChangeEvent {
	source: "write" | "sync" | "other-tab" | "dead" | "session";
	collections: string[]; // collections touched ([] when unknown)
}

export interface CheckinExtra {
	method?: "nfc" | "qr" | "manual"; // default nfc
	note?: string;
	shift?: string; // default: the current shift
	lat?: number;
	lon?: number;
	acc?: number; // the position's accuracy in metres (GeolocationCoordinates.accuracy)
	/** The URL record a secure tag (NTAG 424 DNA) wrote when tapped, exactly
	 * as read (Web NFC gives it): the server verifies it (schema/EVIDENCE.md). */
	sun?: string;
}

/** Photo bytes: a Blob/File from <input type=file>, or raw bytes. */
export type PhotoInput = Blob | ArrayBuffer | Uint8Array;

export interface DoneExtra {
	note?: string;
	photo?: PhotoInput;
	checklist?: Value[]; // checklist_done
}

/** An order step's note and photos (order.photos: added to the order's
 * list, each uploaded before the record that names it). */
export interface OrderStepExtra {
	note?: string;
	photos?: PhotoInput[];
}

export interface ReportInput {
	category:
		| "elevator_entrapment"
		| "urgent_water"
		| "urgent_power"
		| "repair"
		| "complaint"
		| "incident";
	title: string;
	detail?: string;
	photo?: PhotoInput;
}

export interface Query {
	collection?: string;
	bucket?: string;
	/** fields that must equal these values (arrays: must contain the value) */
	where?: Record<string, Value>;
	/** include tombstoned records (default false) */
	deleted?: boolean;
}

/** Test and simulation hooks for the device clock (fs_set_clock). */
export interface ClockHooks {
	wallShiftMs?: number; // shift the device wall clock
	bootId?: string; // pretend this boot id
	monoShiftMs?: number; // add to the ms since boot
}

export interface WebSocketLike {
	binaryType: string;
	onopen: ((ev: unknown) => void) | null;
	onmessage: ((ev: { data: unknown }) => void) | null;
	onclose: ((ev: unknown) => void) | null;
	onerror: ((ev: unknown) => void) | null;
	close(): void;
}

export interface Options {
	/** per request; default 15000 ms */
	timeoutMs?: number;
	/** tries per request on network errors, 429 and 503; default 5 */
	attempts?: number;
	/** first backoff; default 200 ms (then x2, + jitter) */
	backoffMs?: number;
	/** records per pull round (limit); default 1000, at most 10000 */
	pullLimit?: number;
	/** pull encoding to ask for: 2 (default) the columnar one, 1 the v1 maps
	 * (protocol/PROTOCOL.md, "Pull encoding v2"); answers in either are read */
	wire?: 1 | 2;
	/** the fetch to use (tests: a fault-injecting one); default globalThis.fetch */
	fetch?: typeof fetch;
	/** opens /v1/live with the session token; default: the runtime's WebSocket
	 * with the token as a subprotocol (browsers; src/live.ts), Node's own
	 * client through the Node entry (src/node.ts); null: no live socket */
	webSocket?: ((url: string, token: string) => WebSocketLike) | null;
	clock?: ClockHooks;
	/** deflate request bodies when the runtime can (default true) */
	compress?: boolean;
	/** the name that the device enrolls with */
	deviceName?: string;
}

export interface AutoOptions {
	/** sync every this many ms while online; default 30000 */
	intervalMs?: number;
	/** longest wait after failures; default 300000 */
	maxBackoffMs?: number;
	/** open /v1/live and sync when poked; default true */
	live?: boolean;
	/** the slow poll while /v1/live is open (a fallback for a socket that
	 * died without a close); default 120000, never below intervalMs */
	liveIntervalMs?: number;
}
