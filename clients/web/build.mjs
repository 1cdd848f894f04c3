// build.mjs — bundles the app into OUT (default ../../build/web):
// app.js + app.css (esbuild, minified), sw.js (its cache named by the
// hash of what it caches), index.html, manifest, icon, and a .gz copy of
// each text file but the HTML (server/http/web.c sends it to clients that accept gzip).
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, copyFileSync, readdirSync, statSync, utimesSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, "../../build/web");
mkdirSync(out, { recursive: true });

const common = { bundle: true, minify: true, sourcemap: false, target: ["chrome100", "safari15", "firefox100"], logLevel: "warning", legalComments: "none" };
await esbuild.build({ ...common, entryPoints: [join(here, "src/main.ts")], outfile: join(out, "app.js"), format: "esm" });
await esbuild.build({ ...common, entryPoints: [join(here, "src/app.css")], outfile: join(out, "app.css") });
for (const f of readdirSync(join(here, "static"))) copyFileSync(join(here, "static", f), join(out, f));

const h = createHash("sha256");
for (const f of ["app.js", "app.css", "index.html", "manifest.webmanifest", "icon.svg"]) h.update(readFileSync(join(out, f)));
const build = h.digest("hex").slice(0, 16);
await esbuild.build({ ...common, entryPoints: [join(here, "src/sw.ts")], outfile: join(out, "sw.js"), format: "iife",
  define: { __BUILD__: JSON.stringify(build) } });

let gz = 0, raw = 0;
for (const f of readdirSync(out)) {
  // not the HTML shell: a compressed HTML page is what BREACH attacks
  // (testssl.sh flags it; deploy/OPERATIONS.md, "TLS scan"), and the
  // shell is 1 KB
  if (!/\.(js|css|webmanifest|svg|json)$/.test(f)) continue;
  const p = join(out, f);
  const data = readFileSync(p);
  const z = gzipSync(data, { level: 9 });
  writeFileSync(p + ".gz", z);
  const st = statSync(p);
  utimesSync(p + ".gz", st.atime, st.mtime); // same age: web.c sends .gz only when not older
  if (f === "app.js" || f === "app.css") { raw += data.length; gz += z.length; }
}
console.log(`web: ${out} build ${build}; app.js+app.css ${(raw / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`);
