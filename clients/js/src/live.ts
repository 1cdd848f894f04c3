/*
 * live.ts — how the client opens /v1/live (protocol/PROTOCOL.md, /v1/live).
 * A browser's WebSocket cannot send Authorization, so the token goes as
 * the subprotocol "bearer.<token>" next to "fieldsync.v1"; the server
 * answers with "fieldsync.v1" only.  Node has no WebSocket of its own
 * (before Node 22): node.ts, the Node entry point, installs live-node.ts's
 * client as the default, so the browser build never contains it.
 */
import type { WebSocketLike } from "./types.js";

export type LiveFactory = (url: string, token: string) => WebSocketLike;

/** The subprotocol of /v1/live, and the prefix of the one carrying the token. */
export const LIVE_PROTOCOL = "fieldsync.v1";
export const BEARER_PREFIX = "bearer.";

/** The runtime's WebSocket with the token as a subprotocol; null where
 * there is none. */
function standardWebSocket(): LiveFactory | null {
	const WS = (globalThis as { WebSocket?: new (url: string, protocols: string[]) => WebSocketLike & { protocol: string } }).WebSocket;
	if (!WS) return null;
	return (url, token) => {
		const ws = new WS(url, [LIVE_PROTOCOL, BEARER_PREFIX + token]);
		ws.binaryType = "arraybuffer";
		return ws;
	};
}

let fallback: LiveFactory | null = standardWebSocket();

/** The factory a client uses when its options name none. */
export function defaultLive(): LiveFactory | null {
	return fallback;
}

/** Replace the default (node.ts: Node's own client). */
export function setDefaultLive(f: LiveFactory | null): void {
	fallback = f;
}
