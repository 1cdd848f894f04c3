/*
 * client.ts — the fieldsync client: the handheld contract of
 * clients/fieldsync.h for browsers and Node (README.md beside src/).
 */
import type { Storage } from "./storage.js";
import {
	FieldsyncError,
	type AutoOptions,
	type ChangeEvent,
	type CheckinExtra,
	type DeadLetter,
	type DoneExtra,
	type Fields,
	type Options,
	type Query,
	type Rec,
	type ReportInput,
	type Session,
	type Status,
	type SyncStats,
	type Urgent,
	type Write,
} from "./types.js";

const todo = (): never => {
	throw new FieldsyncError("ESTATE", "not built yet");
};

export class Client {
	readonly storage: Storage;
	readonly options: Options;
	constructor(storage: Storage, options: Options = {}) {
		this.storage = storage;
		this.options = options;
	}
	async enroll(server: string, code: string, name?: string): Promise<{ device: string }> { return todo(); }
	async login(staff: string, pin: string): Promise<Session> { return todo(); }
	async logout(): Promise<void> { return todo(); }
	async session(): Promise<Session | null> { return todo(); }
	async checkin(checkpointOrTag: string, extra: CheckinExtra = {}): Promise<Write> { return todo(); }
	async done(taskId: string, extra: DoneExtra = {}): Promise<Write> { return todo(); }
	async skip(taskId: string, note: string): Promise<Write> { return todo(); }
	async report(r: ReportInput): Promise<Write> { return todo(); }
	async accept(orderId: string, note?: string): Promise<Write> { return todo(); }
	async onSite(orderId: string, note?: string): Promise<Write> { return todo(); }
	async resolve(orderId: string, note?: string): Promise<Write> { return todo(); }
	async handover(toShift: string, note: string): Promise<Write> { return todo(); }
	async put(collection: string, id: string | null, fields: Fields): Promise<Write> { return todo(); }
	async get(collection: string, id: string): Promise<Rec | null> { return todo(); }
	async query(q: Query = {}): Promise<Rec[]> { return todo(); }
	async currentShift(): Promise<string | null> { return todo(); }
	subscribe(cb: (ev: ChangeEvent) => void): () => void { return todo(); }
	async sync(): Promise<SyncStats> { return todo(); }
	auto(opts: AutoOptions = {}): () => void { return todo(); }
	async status(): Promise<Status> { return todo(); }
	async dead(): Promise<DeadLetter[]> { return todo(); }
	async clearDead(seqs?: number[]): Promise<number> { return todo(); }
	async urgent(): Promise<Urgent[]> { return todo(); }
	async photo(hex: string): Promise<Uint8Array | null> { return todo(); }
	close(): void {}
}

/** Open the client over a storage (indexedDBStorage() or memoryStorage()). */
export async function open(storage: Storage, options: Options = {}): Promise<Client> {
	return new Client(storage, options);
}
