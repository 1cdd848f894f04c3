/*
 * net.ts — a fetch for the client that the tests can break: offline, a
 * reply lost after the server answered, a hook before each request.
 */
export class Net {
	offline = false;
	/** /v1/sync replies to throw away after the server answered */
	dropSyncReplies = 0;
	/** called with each request before it goes out */
	before: ((url: string, init: RequestInit) => Promise<void> | void) | null = null;
	log: { url: string; method: string; encoding: string }[] = [];

	fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
		const url = String(input);
		const h = (init.headers ?? {}) as Record<string, string>;
		this.log.push({ url, method: init.method ?? "GET", encoding: h["Content-Encoding"] ?? "" });
		if (this.offline) throw new TypeError("fetch failed (offline)");
		if (this.before) await this.before(url, init);
		const r = await fetch(input, init);
		if (url.endsWith("/v1/sync") && this.dropSyncReplies > 0) {
			this.dropSyncReplies--;
			await r.arrayBuffer();
			throw new TypeError("fetch failed (reply lost)");
		}
		return r;
	};
}
