/*
 * live-node.ts — a minimal WebSocket client (RFC 6455, client side) for
 * Node, which has no WebSocket that sends an Authorization header: enough
 * for /v1/live (protocol/PROTOCOL.md), which only pushes binary frames.
 * Imported by node.ts only (live.ts); browsers never load it.
 */
import * as http from "node:http";
import * as https from "node:https";
import * as crypto from "node:crypto";
import type { Socket } from "node:net";
import type { WebSocketLike } from "./types.js";

function frame(opcode: number, payload: Uint8Array): Buffer {
	const mask = crypto.randomBytes(4);
	const n = payload.length;
	const head = n < 126 ? 2 : 4;
	const b = Buffer.alloc(head + 4 + n);
	b[0] = 0x80 | opcode;
	if (n < 126) b[1] = 0x80 | n;
	else {
		b[1] = 0x80 | 126;
		b.writeUInt16BE(n, 2);
	}
	mask.copy(b, head);
	for (let i = 0; i < n; i++) b[head + 4 + i] = payload[i] ^ mask[i & 3];
	return b;
}

export function nodeWebSocket(url: string, token: string): WebSocketLike {
	const u = new URL(url);
	const key = crypto.randomBytes(16).toString("base64");
	const ws: WebSocketLike = {
		binaryType: "arraybuffer",
		onopen: null,
		onmessage: null,
		onclose: null,
		onerror: null,
		close: () => {
			closed = true;
			if (sock) {
				try {
					sock.write(frame(8, new Uint8Array(0)));
				} catch {
					/* gone */
				}
				sock.destroy();
			} else req.destroy();
		},
	};
	let sock: Socket | null = null;
	let closed = false;
	let buf = Buffer.alloc(0);
	let parts: Buffer[] = [];
	const fin = () => {
		if (!closed) {
			closed = true;
			ws.onclose?.({});
		} else ws.onclose?.({});
		ws.onclose = null;
	};
	const mk = u.protocol === "https:" || u.protocol === "wss:" ? https.request : http.request;
	const req = mk({
		host: u.hostname,
		port: u.port,
		path: u.pathname,
		rejectUnauthorized: true,
		headers: {
			Connection: "Upgrade",
			Upgrade: "websocket",
			"Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": key,
			Authorization: "Bearer " + token,
		},
	});
	req.on("upgrade", (res, s: Socket) => {
		const want = crypto
			.createHash("sha1")
			.update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
			.digest("base64");
		if (res.headers["sec-websocket-accept"] !== want) {
			s.destroy();
			ws.onerror?.(new Error("bad Sec-WebSocket-Accept"));
			fin();
			return;
		}
		sock = s;
		ws.onopen?.({});
		s.on("data", (d: Buffer) => {
			buf = Buffer.concat([buf, d]);
			for (;;) {
				if (buf.length < 2) return;
				const op = buf[0] & 0x0f;
				const isFin = (buf[0] & 0x80) !== 0;
				let n = buf[1] & 0x7f;
				let off = 2;
				if (n === 126) {
					if (buf.length < 4) return;
					n = buf.readUInt16BE(2);
					off = 4;
				} else if (n === 127) {
					if (buf.length < 10) return;
					n = Number(buf.readBigUInt64BE(2));
					off = 10;
				}
				if (n > 1 << 20) {
					s.destroy();
					return;
				}
				if (buf.length < off + n) return;
				const p = buf.subarray(off, off + n);
				buf = buf.subarray(off + n);
				if (op === 9) s.write(frame(10, p));
				else if (op === 8) {
					s.destroy();
					return;
				} else if (op === 0 || op === 1 || op === 2) {
					parts.push(Buffer.from(p));
					if (isFin) {
						const all = Buffer.concat(parts);
						parts = [];
						ws.onmessage?.({ data: all.buffer.slice(all.byteOffset, all.byteOffset + all.length) });
					}
				}
			}
		});
		s.on("close", fin);
		s.on("error", (e) => ws.onerror?.(e));
	});
	req.on("response", (res) => {
		res.resume();
		ws.onerror?.(new Error(`/v1/live refused: HTTP ${res.statusCode}`));
		fin();
	});
	req.on("error", (e) => {
		ws.onerror?.(e);
		fin();
	});
	req.end();
	return ws;
}
