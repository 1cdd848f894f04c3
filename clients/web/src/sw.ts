// sw.ts — the service worker: keeps the app shell (HTML, JS, CSS,
// manifest, icon) so the app starts with no network at all.  The API
// (/v1/...) is never cached: the client library owns the data offline.
// __BUILD__ is the bundle's hash (build.mjs): a new build is a new cache.
declare const __BUILD__: string;
const sw = self as unknown as ServiceWorkerGlobalScope;

const CACHE = "fieldsync-" + __BUILD__;
const SHELL = ["/", "/app.js", "/app.css", "/manifest.webmanifest", "/icon.svg"];

sw.addEventListener("install", (e: ExtendableEvent) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => sw.skipWaiting()));
});

sw.addEventListener("activate", (e: ExtendableEvent) => {
  e.waitUntil(caches.keys()
    .then((ks) => Promise.all(ks.filter((k) => k.startsWith("fieldsync-") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => sw.clients.claim()));
});

sw.addEventListener("fetch", (e: FetchEvent) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin || url.pathname.startsWith("/v1/") ||
      url.pathname === "/healthz") return;
  // Screens are hash routes: every navigation is the shell.
  const key = e.request.mode === "navigate" ? "/" : url.pathname;
  if (!SHELL.includes(key)) return;
  // Cache first (offline start in no time); refresh the copy behind it.
  e.respondWith(caches.open(CACHE).then(async (c) => {
    const hit = await c.match(key);
    const net = fetch(key, { cache: "no-cache" }).then((r) => { if (r.ok) void c.put(key, r.clone()); return r; });
    if (hit) { net.catch(() => undefined); return hit; }
    return net;
  }));
});
export {};
