// chart.ts — the reports' charts as SVG drawn here (no chart library):
// a line chart of daily rates with the seed's targets as dashed lines,
// and stacked horizontal bars.  Sizes come from the viewBox, so the SVG
// scales to the page and prints sharp.
import { s } from "../dom";

export interface Series { name: string; values: Array<number | null>; cls: string; target?: number | null }

const W = 720, H = 260, L = 44, R = 26, T = 16, B = 40;

/* targetLabel(v): the text beside a target line ("target 100%"). */
export function lineChart(title: string, labels: string[], series: Series[], targetLabel: (v: number) => string): SVGElement {
  const iw = W - L - R, ih = H - T - B;
  const x = (i: number) => L + (labels.length <= 1 ? iw / 2 : (i * iw) / (labels.length - 1));
  const y = (v: number) => T + ih - v * ih;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
  svg.appendChild(s("title", null, title));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    svg.appendChild(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "gridline" }));
    svg.appendChild(s("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, Math.round(v * 100) + "%"));
  }
  const step = Math.max(1, Math.ceil(labels.length / 10));
  labels.forEach((lb, i) => {
    if (i % step === 0 || i === labels.length - 1)
      svg.appendChild(s("text", { x: x(i), y: H - B + 16, class: "axis", "text-anchor": "middle" }, lb.slice(5)));
  });
  // one dashed line per target value (the seed's targets often agree)
  const targets = new Map<number, Series[]>();
  for (const se of series) if (se.target != null) targets.set(se.target, [...(targets.get(se.target) ?? []), se]);
  for (const [v, ss] of targets) {
    svg.appendChild(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "target " + (ss.length === 1 ? ss[0].cls : "tmulti") }));
    svg.appendChild(s("text", { x: W - R, y: y(v) - 4, class: "tlabel", "text-anchor": "end" }, targetLabel(v) + " · " + ss.map((x) => x.name).join(", ")));
  }
  series.forEach((se) => {
    let d = "";
    se.values.forEach((v, i) => {
      if (v == null) return;
      d += (d && se.values[i - 1] != null ? "L" : "M") + x(i).toFixed(1) + "," + y(v).toFixed(1);
      svg.appendChild(s("circle", { cx: x(i), cy: y(v), r: 3, class: "pt " + se.cls }, s("title", null, se.name + " " + labels[i] + ": " + Math.round(v * 100) + "%")));
    });
    if (d) svg.insertBefore(s("path", { d, class: "ln " + se.cls }), svg.firstChild?.nextSibling ?? null);
  });
  return svg;
}

export interface Bar { label: string; sub: string; parts: Array<{ v: number; cls: string; name: string }> }

export function barChart(title: string, bars: Bar[]): SVGElement {
  const rowH = 30, lw = 230, h0 = bars.length * rowH + 10;
  const max = Math.max(1, ...bars.map((b) => b.parts.reduce((a, p) => a + p.v, 0)));
  const svg = s("svg", { viewBox: `0 0 ${W} ${h0}`, class: "chart", role: "img", "aria-label": title });
  svg.appendChild(s("title", null, title));
  bars.forEach((b, i) => {
    const yy = 5 + i * rowH;
    svg.appendChild(s("text", { x: lw - 8, y: yy + 13, class: "axis", "text-anchor": "end" }, b.label));
    svg.appendChild(s("text", { x: lw - 8, y: yy + 25, class: "axis sub", "text-anchor": "end" }, b.sub));
    let xx = lw;
    for (const p of b.parts) {
      const w = ((W - lw - 60) * p.v) / max;
      if (w > 0) svg.appendChild(s("rect", { x: xx, y: yy + 3, width: w, height: rowH - 10, class: "bar " + p.cls },
        s("title", null, p.name + ": " + p.v)));
      xx += w;
    }
    svg.appendChild(s("text", { x: xx + 6, y: yy + 18, class: "axis" }, String(b.parts.reduce((a, p) => a + p.v, 0))));
  });
  return svg;
}
