/*
 * browser.ts — Debian's Chromium driven by playwright-core (no browser
 * download), and a tiny same-origin front: fieldsyncd answers no CORS, so a
 * Node server on loopback serves the test page and the bundled library and
 * forwards /v1/* to fieldsyncd — the page and the API share one origin, as
 * a deployment behind one reverse proxy does.
 */
import { createServer, request, type Server as HttpServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { connect, type AddressInfo } from "node:net";
import { BUILD, tmp } from "./harness.js";

const ROOT = join(BUILD, "..");
const requireJs = createRequire(join(ROOT, "clients/js/package.json"));
// playwright-core is CommonJS, installed under clients/js/node_modules
const pw = requireJs("playwright-core") as typeof import("playwright-core");

export const CHROMIUM = process.env.FS_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-dev-shm-usage",
];

const PAGE = `<!doctype html><meta charset="utf-8"><title>fieldsync test</title>
<script type="module">import * as fs from "/fieldsync.js"; window.fs = fs; window.ready = true;</script>`;

export interface Front {
	url: string;
	close(): Promise<void>;
}

/** The page, the library and /v1/* forwarded to the server at `api`. */
export function front(api: () => string): Promise<Front> {
	const lib = join(BUILD, "js", "fieldsync.js");
	const srv: HttpServer = createServer((req, res) => {
		const path = req.url ?? "/";
		if (path.startsWith("/v1/") || path === "/healthz") {
			const u = new URL(api());
			const headers = { ...req.headers, host: u.host };
			const up = request({ host: u.hostname, port: u.port, method: req.method, path, headers }, (r) => {
				res.writeHead(r.statusCode ?? 502, r.headers);
				r.pipe(res);
			});
			up.on("error", () => {
				if (!res.headersSent) res.writeHead(502);
				res.end();
			});
			req.pipe(up);
			return;
		}
		if (path === "/fieldsync.js") {
			res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-store" });
			res.end(readFileSync(lib));
			return;
		}
		res.writeHead(200, { "Content-Type": "text/html", "Cache-Control": "no-store" });
		res.end(PAGE);
	});
	// a WebSocket upgrade (/v1/live) is forwarded byte for byte
	srv.on("upgrade", (req, sock, head) => {
		const u = new URL(api());
		const up = connect(Number(u.port), u.hostname, () => {
			const lines = [`${req.method} ${req.url} HTTP/1.1`];
			for (let i = 0; i < req.rawHeaders.length; i += 2)
				lines.push(`${req.rawHeaders[i]}: ${/^host$/i.test(req.rawHeaders[i]) ? u.host : req.rawHeaders[i + 1]}`);
			up.write(lines.join("\r\n") + "\r\n\r\n");
			up.write(head);
			sock.pipe(up).pipe(sock);
		});
		const end = () => {
			up.destroy();
			sock.destroy();
		};
		up.on("error", end);
		sock.on("error", end);
		up.on("close", end);
		sock.on("close", end);
	});
	return new Promise((resolve) =>
		srv.listen(0, "127.0.0.1", () =>
			resolve({
				url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
				close: () => new Promise<void>((r) => srv.close(() => r())),
			}),
		),
	);
}

/** A fresh Chromium profile; the page assets are also served from memory
 * by routing, so a reload works while the context is offline. */
export async function browser() {
	const ctx = await pw.chromium.launchPersistentContext(tmp("chromium"), {
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_ARGS,
	});
	return ctx;
}

export type Context = Awaited<ReturnType<typeof browser>>;
export type Page = Awaited<ReturnType<Context["newPage"]>>;

/** Serve the page and library from memory for pages of ctx (works offline). */
export async function routeAssets(ctx: Context, origin: string): Promise<void> {
	const lib = readFileSync(join(BUILD, "js", "fieldsync.js"));
	await ctx.route(origin + "/fieldsync.js", (r) => r.fulfill({ status: 200, contentType: "text/javascript", body: lib }));
	await ctx.route(origin + "/", (r) => r.fulfill({ status: 200, contentType: "text/html", body: PAGE }));
}

export async function openPage(ctx: Context, origin: string): Promise<Page> {
	const p = await ctx.newPage();
	await p.goto(origin + "/");
	await p.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
	return p;
}
