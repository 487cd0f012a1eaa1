import { type ComponentChild, h } from "preact";

export interface Series {
  name: string;
  points: { step: number; value: number }[];
}

/** Group numeric metric points by name, in step order (non-numeric values are left out). */
export function numericSeries(items: { name: string; value: unknown; step: number }[]): Series[] {
  const by = new Map<string, { step: number; value: number }[]>();
  for (const m of items) {
    if (typeof m.value !== "number" || !Number.isFinite(m.value)) continue;
    const list = by.get(m.name) ?? [];
    list.push({ step: m.step, value: m.value });
    by.set(m.name, list);
  }
  return [...by.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, points]) => ({ name, points: points.sort((a, b) => a.step - b.step) }));
}

const W = 320;
const H = 140;
const PAD = 28;

/** A small SVG line chart of one metric, with its values also as an accessible table. */
export function MetricChart(props: { series: Series }): ComponentChild {
  const { name, points } = props.series;
  const steps = points.map((p) => p.step);
  const values = points.map((p) => p.value);
  const x0 = Math.min(...steps);
  const x1 = Math.max(...steps);
  const y0 = Math.min(...values);
  const y1 = Math.max(...values);
  const sx = (s: number) => PAD + (x1 === x0 ? (W - 2 * PAD) / 2 : ((s - x0) / (x1 - x0)) * (W - 2 * PAD));
  const sy = (v: number) =>
    H - PAD + (y1 === y0 ? -(H - 2 * PAD) / 2 : -((v - y0) / (y1 - y0)) * (H - 2 * PAD));
  const path = points.map((p) => `${sx(p.step).toFixed(1)},${sy(p.value).toFixed(1)}`).join(" ");
  const last = points[points.length - 1];
  return h(
    "figure",
    { class: "metric", "data-metric": name },
    h("figcaption", null, h("strong", null, name), last ? ` — last ${last.value} at step ${last.step}` : ""),
    h(
      "svg",
      {
        viewBox: `0 0 ${W} ${H}`,
        role: "img",
        "aria-label": `${name} over ${points.length} steps, from ${values[0]} to ${last?.value}`,
      },
      h("line", { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, class: "axis" }),
      h("line", { x1: PAD, y1: PAD, x2: PAD, y2: H - PAD, class: "axis" }),
      h("text", { x: 2, y: PAD + 4, class: "tick" }, String(y1)),
      h("text", { x: 2, y: H - PAD, class: "tick" }, String(y0)),
      h("text", { x: W - PAD, y: H - 8, class: "tick", "text-anchor": "end" }, `step ${x1}`),
      h("polyline", { points: path, class: "series" }),
      points.map((p) => h("circle", { key: p.step, cx: sx(p.step), cy: sy(p.value), r: 3, class: "point" })),
    ),
    h(
      "details",
      null,
      h("summary", null, "Values"),
      h(
        "table",
        { class: "changes" },
        h(
          "thead",
          null,
          h("tr", null, h("th", { scope: "col" }, "Step"), h("th", { scope: "col" }, "Value")),
        ),
        h(
          "tbody",
          null,
          points.map((p) =>
            h("tr", { key: p.step }, h("td", null, String(p.step)), h("td", null, String(p.value))),
          ),
        ),
      ),
    ),
  );
}
