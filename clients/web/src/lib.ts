// lib.ts — the one place the app touches the TypeScript client library
// (clients/js/, issue 12).  Screens use only what this file exports, so
// the library's API can move without the screens noticing.
export interface Rec { c: string; id: string; [field: string]: unknown }
export interface Dead { c: string; id: string; code: string; msg: string; at?: number }
export interface Status {
  online: boolean;
  pending: number;
  lastSync: number | null;
  urgent: Rec[];          // urgent orders not yet acked by the server
  dead: Dead[];
  offsetMs: number;       // server clock - device clock
  syncing: boolean;
  error: string | null;   // the last sync's failure, if it failed
  live: boolean;          // /v1/live is open: changes arrive at once
}
export interface Session { staff: string; role: string; site: string; expires: number; admin?: boolean }

export const URGENT = ["elevator_entrapment", "urgent_water", "urgent_power", "incident"];

/* The collections a change touched ([] when unknown). */
export type Change = string;

/* What the screens need from the client library. */
export interface Client {
  enrolled(): boolean;
  server(): string | null;
  device(): string | null;
  enroll(server: string, code: string, name: string): Promise<string>;
  session(): Session | null;
  login(staff: string, pin: string): Promise<Session>;
  logout(): Promise<void>;
  get(c: string, id: string): Promise<Rec | null>;
  query(c: string, where?: Record<string, unknown>): Promise<Rec[]>;
  checkin(tag: string, method: "nfc" | "qr" | "manual", extra?: Record<string, unknown>): Promise<Rec>;
  done(task: string, note?: string, photo?: Blob): Promise<void>;
  put(c: string, id: string, fields: Record<string, unknown>): Promise<void>;
  report(category: string, title: string, detail?: string, photo?: Blob): Promise<string>;
  /* An order step with an optional note and photos (added to the order's
   * photos, uploaded before the order is sent). */
  orderStep(id: string, step: "accept" | "onSite" | "resolve", note?: string, photos?: Blob[]): Promise<void>;
  /* Sync every `ms` while online and /v1/live is not open, every `liveMs`
   * (default 120 s) while it is: a server change arrives over /v1/live at
   * once, the poll is only the fallback (protocol/PROTOCOL.md, /v1/live). */
  syncEvery(ms: number, liveMs?: number): void;
  photo(hash: string): Promise<Blob | null>;
  subscribe(cb: (changes: Change[]) => void): () => void;
  onStatus(cb: (s: Status) => void): () => void;
  status(): Status;
  sync(): Promise<void>;
  clearDead(): Promise<void>;
  /* An authenticated request to the server (reports, audit, admin):
   * JSON out and in; throws ApiError. */
  call<T>(method: string, path: string, body?: unknown, accept?: string): Promise<T>;
  /* A body sent as it is with its content type (a CSV import): the
   * status and the decoded answer, whatever the status. */
  send(method: string, path: string, body: string | Uint8Array, ctype: string): Promise<{ status: number; body: unknown }>;
  /* The alerts on this device (alert records of alerts/<site>), newest
   * first; ack writes acked_by/acked_at (queued like any change). */
  alerts(all?: boolean): Promise<Rec[]>;
  ack(id: string): Promise<void>;
  callText(path: string): Promise<string>;
  /* The console for an admin: the admin token instead of a device. */
  attachAdmin(server: string, token: string): Promise<void>;
}

export class ApiError extends Error {
  constructor(public status: number, public code: string, msg: string) { super(msg); }
}
