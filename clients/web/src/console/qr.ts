// qr.ts — QR codes as SVG (rects drawn with the DOM, no markup strings).
// The encoder is qrcode-generator (npm, MIT, no dependencies, pinned in
// package-lock.json): a proven encoder is safer than a new one for codes
// printed on walls; ~8 KB gzipped in the bundle.
import qrcode from "qrcode-generator";
import { s } from "../dom";

export function qrSvg(text: string, label: string): SVGElement {
  const q = qrcode(0, "M");
  q.addData(text, "Byte");
  q.make();
  const n = q.getModuleCount(), m = 4;
  const svg = s("svg", { viewBox: `0 0 ${n + 2 * m} ${n + 2 * m}`, class: "qr", role: "img", "aria-label": label,
    "shape-rendering": "crispEdges" });
  svg.appendChild(s("rect", { x: 0, y: 0, width: n + 2 * m, height: n + 2 * m, class: "qr-bg" }));
  let d = "";
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++)
      if (q.isDark(r, c)) d += `M${c + m},${r + m}h1v1h-1z`;
  svg.appendChild(s("path", { d, class: "qr-fg" }));
  return svg;
}
