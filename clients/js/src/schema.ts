/*
 * schema.ts — the collections and fields of schema/SCHEMA.md (source:
 * schema/schema.c), for checking a write before it is queued and for
 * naming a record's bucket. Rights and scope are the server's to check.
 */
import type { Fields, Value } from "./types.js";

type FT = "str" | "id" | "uint" | "int" | "num" | "bool" | "ids" | "arr" | string[];
interface Coll {
	fields: Record<string, FT>;
	server: string[]; // server-owned fields
	bucket: "self" | "site" | "shift" | "orders" | "alerts";
	by: string; // the field naming the bucket ("" for site)
}

const ROLES = ["guard", "cleaner", "technician", "supervisor", "admin"];
/** How far an evidence time is trusted (protocol/PROTOCOL.md, "Evidence time"). */
const TRUST = ["verified", "corrected", "unverified"];

/** The order lattice's ranks (schema/schema.c `steps[]`): status only
 * moves to a higher rank; cancelled is an end reached from an open state. */
export const STATUS_RANK: Record<string, number> = {
	reported: 0,
	accepted: 1,
	on_site: 2,
	resolved: 3,
	closed: 4,
	cancelled: 4,
};

export const CATEGORIES = [
	"elevator_entrapment",
	"urgent_water",
	"urgent_power",
	"repair",
	"complaint",
	"incident",
];
export const URGENT = ["elevator_entrapment", "urgent_water", "urgent_power", "incident"];

const C: Record<string, Coll> = {
	site: {
		fields: {
			name: "str",
			tz: "str",
			households: "uint",
			phone: "str",
			alerts_off: "arr",
			alert_warn_pct: "uint",
			lone_worker_min: "uint",
			sync_fail_runs: "uint",
			require_position: "bool",
		},
		server: [],
		bucket: "self",
		by: "",
	},
	zone: { fields: { site: "id", name: "str", kind: "str" }, server: [], bucket: "site", by: "site" },
	checkpoint: {
		fields: { site: "id", zone: "id", name: "str", tag: "str", lat: "num", lon: "num", radius: "num" },
		server: [],
		bucket: "site",
		by: "site",
	},
	route: {
		fields: { site: "id", name: "str", checkpoints: "ids", every_min: "uint", grace_min: "uint" },
		server: [],
		bucket: "site",
		by: "site",
	},
	staff: { fields: { site: "id", name: "str", role: ROLES, active: "bool" }, server: [], bucket: "site", by: "site" },
	shift: {
		fields: { site: "id", role: ROLES, starts: "uint", ends: "uint", staff: "ids", route: "id", lead: "id" },
		server: [],
		bucket: "site",
		by: "site",
	},
	standard: {
		fields: {
			site: "id",
			zone: "id",
			title: "str",
			role: ROLES,
			per: ["day", "week", "month", "year"],
			times: "uint",
			window: "arr",
			months: "arr",
			evidence: ["none", "photo", "checklist"],
			checklist: "arr",
		},
		server: [],
		bucket: "site",
		by: "site",
	},
	task: {
		fields: {
			site: "id",
			shift: "id",
			standard: "id",
			zone: "id",
			title: "str",
			due_from: "uint",
			due_to: "uint",
			assignee: "id",
			status: ["open", "done", "skipped"],
			done_at: "uint",
			done_by: "id",
			note: "str",
			photo: "str",
			checklist_done: "arr",
			boot: "str",
			mono: "uint",
			done_at_est: "uint",
			done_trust: TRUST,
		},
		server: ["done_at_est", "done_trust"],
		bucket: "shift",
		by: "shift",
	},
	checkin: {
		fields: {
			site: "id",
			shift: "id",
			route: "id",
			checkpoint: "id",
			staff: "id",
			at: "uint",
			boot: "str",
			mono: "uint",
			method: ["nfc", "qr", "manual"],
			lat: "num",
			lon: "num",
			note: "str",
			sun: "str",
			acc: "num",
			rcv: "uint",
			skew: "int",
			at_est: "uint",
			trust: TRUST,
			tag: ["verified", "replayed", "invalid", "absent"],
			tag_ctr: "uint",
			place: ["inside", "outside", "unknown"],
			verdict: ["strong", "normal", "weak", "suspect"],
			reasons: "arr",
		},
		server: ["rcv", "skew", "at_est", "trust", "tag", "tag_ctr", "place", "verdict", "reasons"],
		bucket: "shift",
		by: "shift",
	},
	order: {
		fields: {
			site: "id",
			category: CATEGORIES,
			title: "str",
			detail: "str",
			reported_at: "uint",
			reporter: "id",
			assignee: "id",
			status: ["reported", "accepted", "on_site", "resolved", "closed", "cancelled"],
			accepted_at: "uint",
			on_site_at: "uint",
			resolved_at: "uint",
			respond_by: "uint",
			resolve_by: "uint",
			photos: "arr",
			note: "str",
			boot: "str",
			mono: "uint",
			accepted_at_est: "uint",
			accepted_trust: TRUST,
			on_site_at_est: "uint",
			on_site_trust: TRUST,
			resolved_at_est: "uint",
			resolved_trust: TRUST,
		},
		server: [
			"respond_by",
			"resolve_by",
			"accepted_at_est",
			"accepted_trust",
			"on_site_at_est",
			"on_site_trust",
			"resolved_at_est",
			"resolved_trust",
		],
		bucket: "orders",
		by: "site",
	},
	handover: {
		fields: {
			site: "id",
			from_shift: "id",
			to_shift: "id",
			by: "id",
			at: "uint",
			note: "str",
			open_items: "arr",
		},
		server: [],
		bucket: "shift",
		by: "to_shift",
	},
	alert: {
		fields: {
			site: "id",
			kind: ["urgent_order", "sla_warning", "sla_breach", "patrol_missed", "lone_worker", "task_overdue", "sync_failing", "tag_replayed", "tag_invalid", "boot_overlap"],
			subject_c: "str",
			subject: "id",
			step: "str",
			raised_at: "uint",
			severity: ["info", "warning", "critical"],
			text_zh: "str",
			text_en: "str",
			resolved_at: "uint",
			deliveries: "arr",
			acked_by: "id",
			acked_at: "uint",
		},
		server: [],
		bucket: "alerts",
		by: "site",
	},
	webhook: {
		fields: { site: "id", url: "str", kinds: "arr", format: ["json", "wecom", "dingtalk", "slack"], secret: "str", enabled: "bool" },
		server: [],
		bucket: "alerts",
		by: "site",
	},
};

const ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;
const enc = new TextEncoder();

export function validId(id: unknown): id is string {
	return typeof id === "string" && ID_RE.test(id);
}

export function isCollection(c: string): boolean {
	return Object.prototype.hasOwnProperty.call(C, c);
}

/** The bucket of a record with these (merged) fields, or null. */
export function bucketOf(c: string, id: string, f: Fields): string | null {
	const k = C[c];
	if (!k) return null;
	if (k.bucket === "self") return "site/" + id;
	const v = f[k.by];
	if (!validId(v)) return null;
	return k.bucket + "/" + v;
}

function depthOk(v: Value, d: number): boolean {
	if (d > 4) return false;
	if (Array.isArray(v)) return v.every((x) => depthOk(x, d + 1));
	if (v && typeof v === "object" && !(v instanceof Uint8Array))
		return Object.values(v).every((x) => depthOk(x as Value, d + 1));
	if (typeof v === "string") return enc.encode(v).length <= 65536;
	if (v instanceof Uint8Array) return v.length <= 65536;
	return true;
}

function typeOk(t: FT, v: Value): boolean {
	if (v === null) return true;
	if (Array.isArray(t)) return typeof v === "string" && t.includes(v);
	const int = (x: Value) =>
		typeof x === "bigint" || (typeof x === "number" && Number.isInteger(x));
	switch (t) {
		case "str":
			return typeof v === "string";
		case "id":
			return validId(v);
		case "uint":
			return int(v) && (v as number | bigint) >= 0;
		case "int":
			return int(v);
		case "num":
			return typeof v === "number" || typeof v === "bigint";
		case "bool":
			return typeof v === "boolean";
		case "ids":
			return Array.isArray(v) && v.every(validId);
		case "arr":
			return Array.isArray(v);
	}
	return false;
}

/** Check a write as fs_put does; returns an error message or "". */
export function checkWrite(c: string, id: string, f: Fields): string {
	const k = C[c];
	if (!k) return `unknown collection "${c}"`;
	if (!validId(id)) return `bad id "${id}": 1-128 of [A-Za-z0-9._:-]`;
	const names = Object.keys(f);
	if (names.length === 0 || names.length > 64) return "an op writes 1-64 fields";
	for (const n of names) {
		const v = f[n];
		if (v === undefined) return `${n}: no value`;
		if (n === "_deleted") {
			if (typeof v !== "boolean") return "_deleted must be true or false";
			if (c === "checkin") return "a checkin is never deleted";
			continue;
		}
		const t = k.fields[n];
		if (!t) return `${c} has no field "${n}"`;
		if (k.server.includes(n)) return `${c}.${n} is written by the server only`;
		if (!typeOk(t, v)) return `${c}.${n}: wrong type (${Array.isArray(t) ? t.join("|") : t})`;
		if (!depthOk(v, 1)) return `${n}: value too large or too deep`;
		if (n === k.by && v === null) return `${c}.${n} names the bucket and cannot be cleared`;
	}
	return "";
}
