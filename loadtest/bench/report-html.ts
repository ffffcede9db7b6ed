/**
 * @module bench/report-html
 * Renders the results of `npm run bench` (docs/bench/latest.json) as one self-contained HTML page:
 * the sustained capacity of each system per client count with its ratio to the baseline, and, against
 * the placement rate on a log scale, the p99 place → seen latency with the pass bound, the frames each
 * client received per second (batching keeps it flat or falling), and the CPU the runtime used.
 *
 * Like the load-test page (../html.ts) it must open offline years later: no scripts, no fonts, no
 * network, a Content-Security-Policy that forbids them, inline SVG charts. Unlike it, it follows the
 * reader's light or dark scheme: every colour is a CSS variable, and the SVG is styled by class.
 *
 * The JSON is read as untrusted and possibly old: `readBench` keeps only the fields it can check and
 * the page says "—" for the rest. `renderBenchHtml` is pure; run directly, the module is a CLI:
 * `tsx loadtest/bench/report-html.ts docs/bench/latest.json docs/bench/latest.html`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { escapeHtml } from "../html.ts";
import { formatCount, formatMs, formatPercent } from "../stats.ts";

// ---------------------------------------------------------------------------------------------------
// The model: what the page can rely on after reading the JSON.

export interface BenchStep {
  rate: number;
  sent: number | undefined;
  deliveryRatio: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
  framesPerClientPerS: number | undefined;
  runtimeCpuMs: number | undefined;
  generatorCpuPct: number | undefined;
  /** As recorded; derived from the criteria when an old file lacks it; undefined if neither can tell. */
  pass: boolean | undefined;
}

export interface BenchClientCount {
  clients: number;
  /** Sustained placements/s: the highest passing rate; 0 when none passed; undefined if unknown. */
  capacity: number | undefined;
  steps: BenchStep[];
}

export interface BenchSystem {
  name: string;
  description: string;
  byClients: BenchClientCount[];
}

export interface Bench {
  machine: string | undefined;
  deliveryMin: number | undefined;
  /** The p99 pass bound; run.ts's 250 ms when a file does not say. */
  p99MaxMs: number;
  stepMs: number | undefined;
  capacityRatio: number | undefined;
  systems: BenchSystem[];
  /** Every client count any system was measured at, ascending. */
  clientCounts: number[];
}

const DEFAULT_P99_MAX_MS = 250;

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A finite number or undefined: NaN was written as null by JSON.stringify, and null means "no data". */
function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** `{ C200: 10000, C1000: 100 }` → Map(200 → 10000, 1000 → 100). */
function capacityMap(v: unknown): Map<number, number> {
  const out = new Map<number, number>();
  if (!isRecord(v)) return out;
  for (const [key, value] of Object.entries(v)) {
    const clients = Number(key.replace(/^C/, ""));
    const capacity = num(value);
    if (Number.isInteger(clients) && clients > 0 && capacity !== undefined) out.set(clients, capacity);
  }
  return out;
}

/** Reads the bench JSON, keeping what checks out. Never throws: garbage in gives an empty page. */
export function readBench(input: unknown): Bench {
  const root = isRecord(input) ? input : {};
  const criteria = isRecord(root.criteria) ? root.criteria : {};
  const deliveryMin = num(criteria.deliveryMin);
  const p99MaxMs = num(criteria.p99MaxMs) ?? DEFAULT_P99_MAX_MS;

  // The summary maps: a fallback for capacities, and the only data in files that predate `systems`.
  const summary = new Map<string, Map<number, number>>();
  if (isRecord(root.capacity)) {
    for (const [name, caps] of Object.entries(root.capacity)) summary.set(name, capacityMap(caps));
  }
  const baselineCaps = capacityMap(root.baseline);
  if (baselineCaps.size > 0) summary.set("baseline", baselineCaps);

  const systems: BenchSystem[] = list(root.systems)
    .filter(isRecord)
    .map((s, i) => {
      const name = str(s.system) ?? `system ${i + 1}`;
      const byClients = list(s.byClients)
        .filter(isRecord)
        .flatMap((b): BenchClientCount[] => {
          const clients = num(b.clients);
          if (clients === undefined || clients <= 0) return [];
          const steps = list(b.steps)
            .filter(isRecord)
            .flatMap((st) => readStep(st, deliveryMin, p99MaxMs))
            .sort((x, y) => x.rate - y.rate);
          const lastPass = steps.filter((st) => st.pass === true).at(-1)?.rate;
          const capacity =
            num(b.capacity) ?? summary.get(name)?.get(clients) ?? (steps.length > 0 ? (lastPass ?? 0) : undefined);
          return [{ clients, capacity, steps }];
        });
      return { name, description: str(s.description) ?? "", byClients };
    });
  for (const [name, caps] of summary) {
    if (systems.some((s) => s.name === name)) continue;
    const byClients = [...caps].map(([clients, capacity]) => ({ clients, capacity, steps: [] }));
    systems.push({ name, description: "", byClients });
  }
  const clientCounts = [...new Set(systems.flatMap((s) => s.byClients.map((b) => b.clients)))].sort((a, b) => a - b);
  return {
    machine: str(root.machine),
    deliveryMin,
    p99MaxMs,
    stepMs: num(criteria.stepMs),
    capacityRatio: num(root.capacityRatio),
    systems,
    clientCounts,
  };
}

function readStep(st: Json, deliveryMin: number | undefined, p99MaxMs: number): BenchStep[] {
  const rate = num(st.rate);
  // A rate of 0 or less has no place on a log axis, and run.ts never steps at one.
  if (rate === undefined || rate <= 0) return [];
  const deliveryRatio = num(st.deliveryRatio);
  const p99 = num(st.p99);
  let pass = typeof st.pass === "boolean" ? st.pass : undefined;
  if (pass === undefined) {
    // One bound broken is enough to fail; passing needs both figures.
    const latencyOk = p99 === undefined ? undefined : p99 < p99MaxMs;
    const deliveryOk =
      deliveryRatio === undefined || deliveryMin === undefined ? undefined : deliveryRatio >= deliveryMin;
    if (latencyOk === false || deliveryOk === false) pass = false;
    else if (latencyOk && deliveryOk) pass = true;
  }
  return [
    {
      rate,
      sent: num(st.sent),
      deliveryRatio,
      p50: num(st.p50),
      p99,
      framesPerClientPerS: num(st.framesPerClientPerS),
      runtimeCpuMs: num(st.runtimeCpuMs),
      generatorCpuPct: num(st.generatorCpuPct),
      pass,
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// Escaping: markup is built only with the `html` tag, which escapes every value that is not markup.
// System names, descriptions and the machine string come from a file, so they are hostile input here.

class Markup {
  constructor(readonly value: string) {}
}

type Part = Markup | string | number | undefined | readonly Part[];

function part(p: Part): string {
  if (p === undefined) return "";
  if (p instanceof Markup) return p.value;
  if (typeof p === "number") return escapeHtml(String(p));
  if (typeof p === "string") return escapeHtml(p);
  return p.map(part).join("");
}

function html(strings: TemplateStringsArray, ...values: Part[]): Markup {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += part(values[i]) + (strings[i + 1] ?? "");
  return new Markup(out);
}

// ---------------------------------------------------------------------------------------------------
// The page.

/** The bench results (the JSON `npm run bench --json` writes, parsed) as an HTML document. */
export function renderBenchHtml(input: unknown): string {
  const bench = readBench(input);
  const maxClients = bench.clientCounts.at(-1);
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Capacity benchmark · Pixel Playground</title>
<style>${new Markup(CSS)}</style>
</head>
<body>
<header>
<h1>Capacity benchmark: the project against the baseline</h1>
<p>For each system and number of connected clients, the placement rate steps up until a step fails, and two more steps halve the gap between the last pass and the first failure. A step passes when ${criteriaText(bench)}; a failing step is run once more and the second run decides. The highest passing rate is the system's sustained capacity.</p>
<dl class="meta">
<dt>Machine</dt><dd>${bench.machine ?? "—"}</dd>
<dt>Pass criteria</dt><dd>${criteriaText(bench)}</dd>
<dt>Step length</dt><dd>${bench.stepMs === undefined ? "—" : `${formatSeconds(bench.stepMs)} of load per rate, then a drain of up to 2 s`}</dd>
<dt>capacityRatio</dt><dd><strong>${bench.capacityRatio === undefined ? "—" : formatRatio(bench.capacityRatio)}</strong>${maxClients === undefined ? undefined : ` (project / baseline at C = ${formatCount(maxClients)})`}</dd>
</dl>
</header>
${systemsSection(bench)}
${capacitySection(bench)}
${chartSection(bench, LATENCY)}
${chartSection(bench, FRAMES)}
${chartSection(bench, CPU)}
${stepsSection(bench)}
<footer>Pixel Playground · rendered from the JSON of <code>npm run bench</code> (docs/bench/latest.json by default) · self-contained: no scripts, no network. How it is measured: docs/performance.md.</footer>
</body>
</html>
`.value;
}

function criteriaText(b: Bench): string {
  const delivery = b.deliveryMin === undefined ? "" : `delivery ≥ ${formatPercent(b.deliveryMin)} and `;
  return `${delivery}p99 place → seen < ${formatCount(b.p99MaxMs)} ms`;
}

function systemsSection(b: Bench): Markup {
  if (b.systems.length === 0) return html`<section><h2>Systems</h2><p>No systems in this file.</p></section>`;
  const items = b.systems.map(
    (s, i) =>
      html`<li>${legendSwatch(i)}<strong>${s.name}</strong>${s.description ? html` — ${s.description}` : undefined}</li>`,
  );
  return html`<section id="systems">
<h2>Systems</h2>
<ul class="legend">${items}</ul>
<p class="note">Each system keeps its colour, line style and marker shape in every chart. A <span class="fail-text">✗</span> marks a step that failed; after a system's first failure only the two steps between it and the last pass are run.</p>
</section>`;
}

/** A small inline SVG of the series' line and marker, for legends in HTML. */
function legendSwatch(i: number): Markup {
  return html`<svg class="swatch" viewBox="0 0 30 14" aria-hidden="true"><g class="${seriesClass(i)}"><line class="line" x1="1" x2="29" y1="7" y2="7"/>${marker(i, 15, 7, true)}</g></svg>`;
}

// ---------------------------------------------------------------------------------------------------
// Capacity: a table for every client count, and a bar chart per client count (each its own scale:
// 40,000/s at 200 clients would flatten 200/s at 1,000 to nothing).

function capacityOf(s: BenchSystem, clients: number): BenchClientCount | undefined {
  return s.byClients.find((b) => b.clients === clients);
}

function baselineCapacity(b: Bench, clients: number): number | undefined {
  const base = b.systems.find((s) => s.name === "baseline");
  return base ? capacityOf(base, clients)?.capacity : undefined;
}

/** capacity / baseline capacity, or undefined when there is nothing to divide by. */
function vsBaseline(b: Bench, s: BenchSystem, clients: number): number | undefined {
  const base = baselineCapacity(b, clients);
  const cap = capacityOf(s, clients)?.capacity;
  return base !== undefined && base > 0 && cap !== undefined ? cap / base : undefined;
}

/** Why a capacity is what it is: the failing step that ended the run, or that none failed. */
function capacityNote(b: Bench, m: BenchClientCount | undefined): string {
  if (!m || m.steps.length === 0) return m?.capacity === undefined ? "not measured" : "";
  const failed = m.steps.find((st) => st.pass === false);
  if (!failed) return "every step passed: a lower bound";
  return `${formatCount(failed.rate)}/s failed: ${failReason(b, failed)}`;
}

function failReason(b: Bench, st: BenchStep): string {
  const reasons: string[] = [];
  if (st.p99 === undefined) reasons.push("no latency samples");
  else if (st.p99 >= b.p99MaxMs) reasons.push(`p99 ${formatMs(st.p99)}`);
  if (st.deliveryRatio !== undefined && b.deliveryMin !== undefined && st.deliveryRatio < b.deliveryMin) {
    reasons.push(`delivery ${formatPercent(st.deliveryRatio, 2)}`);
  }
  return reasons.join(", ") || "failed";
}

function capacityText(m: BenchClientCount | undefined): string {
  if (m?.capacity === undefined) return "—";
  if (m.capacity === 0) {
    const lowest = m.steps[0]?.rate;
    return lowest === undefined ? "0" : `< ${formatCount(lowest)}`;
  }
  return formatCount(m.capacity);
}

/** The distinct rates of these steps, lowest first. */
function stepRates(steps: readonly BenchStep[]): number[] {
  return [...new Set(steps.map((st) => st.rate))].sort((x, y) => x - y);
}

function capacitySection(b: Bench): Markup {
  if (b.clientCounts.length === 0 || b.systems.length === 0) {
    return html`<section id="capacity"><h2>Sustained capacity</h2><p>No capacities in this file.</p></section>`;
  }
  const hasBaseline = b.systems.some((s) => s.name === "baseline");
  const ladder = stepRates(b.systems.flatMap((s) => s.byClients.flatMap((c) => c.steps)));
  const head = b.clientCounts.map(
    (c) => html`<th class="group" colspan="${hasBaseline ? 2 : 1}">C = ${formatCount(c)} clients</th>`,
  );
  const sub = b.clientCounts.map(
    () =>
      html`<th class="num group-start">placements/s</th>${hasBaseline ? html`<th class="num">vs baseline</th>` : undefined}`,
  );
  const rows = b.systems.map((s, i) => {
    const cells = b.clientCounts.map((c) => {
      const m = capacityOf(s, c);
      const note = capacityNote(b, m);
      const ratio = vsBaseline(b, s, c);
      return html`<td class="num group-start${m?.capacity === 0 ? " bad" : ""}">${capacityText(m)}${note ? html`<div class="cell-note">${note}</div>` : undefined}</td>${
        hasBaseline ? html`<td class="num">${ratio === undefined ? "—" : formatRatio(ratio)}</td>` : undefined
      }`;
    });
    return html`<tr data-system="${s.name}"><td class="name">${legendSwatch(i)}${s.name}</td>${cells}</tr>`;
  });
  const charts = b.clientCounts.map(
    (c) => html`<figure id="capacity-c${c}"><h3>C = ${formatCount(c)} clients</h3>${capacityChart(b, c)}</figure>`,
  );
  return html`<section id="capacity">
<h2>Sustained capacity</h2>
<div class="wide">
<table class="capacity">
<thead><tr><th rowspan="2">System</th>${head}</tr><tr>${sub}</tr></thead>
<tbody>
${rows}
</tbody>
</table>
</div>
<div class="charts">${charts}</div>
<p class="note">Capacity is the highest placement rate that passed, in the steps ${ladder.map(formatCount).join(", ") || "—"} per second; the true figure lies between it and the next step, and where every step passed it is a lower bound. “&lt; ${formatCount(ladder[0] ?? 100)}” means even the first step failed. The ratio divides by the baseline's capacity at the same client count.</p>
</section>`;
}

function capacityChart(b: Bench, clients: number): Markup {
  const W = 440;
  const rowH = 34;
  const barH = 18;
  const top = 14;
  const left = 92;
  const valueW = 150;
  const plotW = W - left - valueW;
  const bottom = top + b.systems.length * rowH;
  const H = bottom + 30;
  const caps = b.systems.map((s) => capacityOf(s, clients)?.capacity);
  const axis = niceAxis(Math.max(0, ...caps.map((c) => c ?? 0)), 3);
  const x = (v: number) => left + (v / axis.max) * plotW;
  const label = `Sustained placements per second at ${formatCount(clients)} clients, per system`;
  const grid = axis.ticks.map(
    (t) => html`<line class="grid" x1="${n1(x(t))}" x2="${n1(x(t))}" y1="${top - 4}" y2="${bottom}"/>
<text class="muted" x="${n1(x(t))}" y="${bottom + 16}" text-anchor="middle" font-size="11">${shortRate(t)}</text>`,
  );
  const rows = b.systems.map((s, i) => {
    const cy = top + i * rowH + rowH / 2;
    const cap = caps[i];
    const m = capacityOf(s, clients);
    const ratio = vsBaseline(b, s, clients);
    const value =
      cap === undefined
        ? "not measured"
        : cap === 0
          ? `${capacityText(m)}/s: no step passed`
          : `${formatCount(cap)}/s${ratio === undefined || s.name === "baseline" ? "" : ` · ${formatRatio(ratio)}`}`;
    const bar =
      cap !== undefined && cap > 0
        ? html`<rect class="bar" x="${left}" y="${n1(cy - barH / 2)}" width="${n1(Math.max(1, x(cap) - left))}" height="${barH}"><title>${s.name}: ${formatCount(cap)} placements/s</title></rect>`
        : undefined;
    const textX = cap !== undefined && cap > 0 ? x(cap) + 6 : left + 6;
    return html`<g class="${seriesClass(i)}">
<text x="${left - 8}" y="${n1(cy + 4)}" text-anchor="end">${truncate(s.name, 12)}<title>${s.name}</title></text>
${bar}
<text class="${cap === 0 ? "fail-text" : "value"}" x="${n1(textX)}" y="${n1(cy + 4)}" font-size="11.5">${value}</text>
</g>`;
  });
  return html`${svgOpen(W, H, label)}
${grid}
${rows}
<line class="axis" x1="${left}" x2="${left}" y1="${top - 4}" y2="${bottom}"/>
</svg>`;
}

// ---------------------------------------------------------------------------------------------------
// Charts against the placement rate: one per client count, side by side, one line per system.

interface MetricChart {
  id: string;
  title: string;
  yTitle: string;
  value: (st: BenchStep) => number | undefined;
  format: (v: number) => string;
  caption: (b: Bench) => string;
  /** The axis top for these values; values above it are drawn at the top edge and labelled. */
  axisMax: (b: Bench, values: number[]) => number;
  /** A horizontal line, labelled in two short lines in the right margin (clear of any data). */
  bound?: (b: Bench) => { value: number; label: [string, string] } | undefined;
}

const LATENCY: MetricChart = {
  id: "latency",
  title: "p99 place → seen latency vs placement rate",
  yTitle: "p99 latency, ms",
  value: (st) => st.p99,
  format: (v) => formatMs(v),
  caption: (b) =>
    `The 99th percentile of the time from sending a placement to seeing it in a frame, over the timed clients. The dashed line is the ${formatCount(b.p99MaxMs)} ms pass bound; steps above it fail. Values beyond twice the bound are drawn at the top edge with their value.`,
  // Up to twice the bound: one runaway failing step (seconds) would otherwise flatten every other.
  axisMax: (b, values) => Math.max(b.p99MaxMs * 1.2, Math.min(Math.max(0, ...values), b.p99MaxMs * 2)),
  bound: (b) => ({ value: b.p99MaxMs, label: [`${formatCount(b.p99MaxMs)} ms`, "bound"] }),
};

const FRAMES: MetricChart = {
  id: "frames",
  title: "Frames per client per second vs placement rate",
  yTitle: "frames / client / s",
  value: (st) => st.framesPerClientPerS,
  format: (v) => v.toFixed(1),
  caption: () =>
    "Frames each client received per second during the step. Broadcasts are batched per tick, so this stays flat or falls as the rate grows (the load pacing stretches the tick under load); a line climbing with the rate would mean one frame per placement.",
  axisMax: (_b, values) => Math.max(1, ...values) * 1.08,
};

const CPU: MetricChart = {
  id: "cpu",
  title: "Runtime CPU per step vs placement rate",
  yTitle: "runtime CPU per step, ms",
  value: (st) => st.runtimeCpuMs,
  format: (v) => `${formatCount(v)} ms`,
  caption: (b) =>
    `CPU time of all the runtime's processes (from /proc) over one step: ${b.stepMs === undefined ? "the load" : `${formatSeconds(b.stepMs)} of load`} plus the drain of up to 2 s. The dashed line is one core busy for the whole load phase; the generator's own CPU is in the table of steps.`,
  axisMax: (b, values) => Math.max(1, b.stepMs ?? 0, ...values) * 1.08,
  bound: (b) => (b.stepMs === undefined ? undefined : { value: b.stepMs, label: ["1 core", "× step"] }),
};

function chartSection(b: Bench, metric: MetricChart): Markup {
  const figures = b.clientCounts.map(
    (c) =>
      html`<figure id="${metric.id}-c${c}"><h3>C = ${formatCount(c)} clients</h3>${rateChart(b, c, metric)}</figure>`,
  );
  return html`<section id="${metric.id}">
<h2>${metric.title}</h2>
${b.clientCounts.length === 0 ? html`<p>No steps in this file.</p>` : html`<div class="charts">${figures}</div>`}
<p class="note">${metric.caption(b)}</p>
</section>`;
}

function rateChart(b: Bench, clients: number, metric: MetricChart): Markup {
  const W = 560;
  const H = 330;
  const m = { top: 50, right: 62, bottom: 46, left: 62 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const bottom = m.top + plotH;
  const label = `${metric.title}, ${formatCount(clients)} clients`;
  const series = b.systems.map((s, i) => ({ s, i, steps: capacityOf(s, clients)?.steps ?? [] }));
  const rates = stepRates(series.flatMap((x) => x.steps));
  const lo = rates[0];
  const hi = rates.at(-1);
  if (lo === undefined || hi === undefined) {
    return html`${svgOpen(W, 120, label)}
<rect class="frame" x="${m.left}" y="10" width="${plotW}" height="100"/>
<text class="muted" x="${n1(m.left + plotW / 2)}" y="65" text-anchor="middle" font-size="15">No steps measured at ${formatCount(clients)} clients</text>
</svg>`;
  }

  // Log x: the steps roughly double, so equal ratios get equal room. Padding keeps end markers inside.
  const span = Math.log10(hi) - Math.log10(lo);
  const pad = Math.max(0.12 * span, 0.15);
  const x0 = Math.log10(lo) - pad;
  const x = (rate: number) => m.left + ((Math.log10(rate) - x0) / (span + 2 * pad)) * plotW;
  const values = series.flatMap((x) => x.steps.map(metric.value)).filter((v) => v !== undefined);
  const bound = metric.bound?.(b);
  const axis = niceAxis(metric.axisMax(b, values), 5);
  const y = (v: number) => bottom - (Math.min(v, axis.max) / axis.max) * plotH;

  const grid = axis.ticks.map(
    (t) => html`<line class="grid" x1="${m.left}" x2="${m.left + plotW}" y1="${n1(y(t))}" y2="${n1(y(t))}"/>
<text class="muted" x="${m.left - 8}" y="${n1(y(t) + 4)}" text-anchor="end">${shortNumber(t)}</text>`,
  );
  // Every step gets a grid line; labels are thinned, left to right, so that none overlap.
  const labelled = new Set<number>();
  let lastLabelX = Number.NEGATIVE_INFINITY;
  for (const r of rates) {
    if (x(r) - lastLabelX < MIN_TICK_LABEL_GAP) continue;
    labelled.add(r);
    lastLabelX = x(r);
  }
  const xTicks = rates.map(
    (r) =>
      html`<line class="grid" x1="${n1(x(r))}" x2="${n1(x(r))}" y1="${m.top}" y2="${bottom}"/>${
        labelled.has(r)
          ? html`<text class="muted" x="${n1(x(r))}" y="${bottom + 17}" text-anchor="middle" font-size="11">${shortRate(r)}</text>`
          : undefined
      }`,
  );
  const boundLine =
    bound && bound.value <= axis.max
      ? html`<line class="bound" x1="${m.left}" x2="${m.left + plotW}" y1="${n1(y(bound.value))}" y2="${n1(y(bound.value))}"/>
<text class="bound-text" x="${m.left + plotW + 6}" y="${n1(y(bound.value) - 2)}" font-size="11">${bound.label[0]}<tspan x="${m.left + plotW + 6}" dy="13">${bound.label[1]}</tspan></text>`
      : undefined;

  // Values drawn at the top edge carry their value as text; labels that would overlap go a row lower.
  const overRow = new Map<string, number>();
  const overs = series
    .flatMap(({ i, steps }) =>
      steps.flatMap((st) => {
        const v = metric.value(st);
        return v !== undefined && v > axis.max ? [{ key: `${i}:${st.rate}`, px: x(st.rate) }] : [];
      }),
    )
    .sort((a, c) => a.px - c.px);
  const rowEnds: number[] = [];
  for (const o of overs) {
    let row = rowEnds.findIndex((end) => o.px - end >= OVER_LABEL_WIDTH);
    if (row < 0) row = rowEnds.length;
    rowEnds[row] = o.px;
    overRow.set(o.key, row);
  }

  const lines = series.map(({ s, i, steps }) => {
    if (steps.length === 0) return undefined;
    const drawn = steps.flatMap((st) => {
      const v = metric.value(st);
      return v === undefined ? [] : [{ st, v, px: x(st.rate), py: y(v) }];
    });
    const points = drawn.map((d) => `${n1(d.px)},${n1(d.py)}`).join(" ");
    const marks = drawn.map((d) => {
      const status = d.st.pass === false ? "failed" : d.st.pass === true ? "passed" : "no verdict";
      const tip = `${s.name}, ${formatCount(d.st.rate)} placements/s: ${metric.format(d.v)} (${status})`;
      const over = d.v > axis.max;
      return html`<g>${marker(i, d.px, d.py, d.st.pass !== false)}${d.st.pass === false ? cross(d.px, d.py) : undefined}<title>${tip}</title></g>${
        over
          ? html`<text class="value halo" x="${n1(d.px - 8)}" y="${n1(d.py + 4 + 14 * (overRow.get(`${i}:${d.st.rate}`) ?? 0))}" text-anchor="end" font-size="11">↑ ${metric.format(d.v)}</text>`
          : undefined
      }`;
    });
    return html`<g class="${seriesClass(i)}" data-system="${s.name}">
<polyline class="line" points="${points}"/>
${marks}
</g>`;
  });

  return html`${svgOpen(W, H, label)}
${chartLegend(b, clients, W)}
${grid}
${xTicks}
${boundLine}
<line class="axis" x1="${m.left}" x2="${m.left + plotW}" y1="${bottom}" y2="${bottom}"/>
<line class="axis" x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${bottom}"/>
${lines}
<text class="muted" x="${n1(m.left + plotW / 2)}" y="${H - 8}" text-anchor="middle">placements/s (log scale)</text>
<text class="muted" transform="translate(16 ${n1(m.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${metric.yTitle}</text>
</svg>`;
}

/** The legend across the top of a rate chart, so a chart cut out of the page still reads. */
function chartLegend(b: Bench, clients: number, width: number): Markup {
  let xPos = 10;
  const items = b.systems.map((s, i) => {
    const name = truncate(s.name, 16);
    const missing = (capacityOf(s, clients)?.steps.length ?? 0) === 0;
    const text = missing ? `${name} (no steps)` : name;
    const at = xPos;
    xPos += 34 + text.length * 6.8 + 14;
    return html`<g class="${seriesClass(i)}" transform="translate(${n1(at)} 20)"><line class="line" x1="0" x2="26" y1="0" y2="0"/>${marker(i, 13, 0, true)}<text x="32" y="4"${missing ? new Markup(' class="muted"') : undefined}>${text}</text></g>`;
  });
  // The failed-step key goes at the right edge when there is room, otherwise on the row below.
  const failAt = xPos + 90 < width ? { x: width - 90, y: 20 } : { x: 10, y: 38 };
  return html`${items}<g transform="translate(${n1(failAt.x)} ${failAt.y})">${cross(6, 0)}<text x="16" y="4">failed step</text></g>`;
}

// ---------------------------------------------------------------------------------------------------
// Every step, as numbers.

function stepsSection(b: Bench): Markup {
  const tables = b.clientCounts.map((c) => {
    const rows = b.systems.flatMap((s) =>
      (capacityOf(s, c)?.steps ?? []).map(
        (st) => html`<tr class="${st.pass === false ? "fail" : ""}">
<td>${s.name}</td><td class="num">${formatCount(st.rate)}</td><td class="num">${opt(st.sent, formatCount)}</td><td class="num">${opt(st.deliveryRatio, (v) => formatPercent(v, 2))}</td><td class="num">${opt(st.p50, formatMs)}</td><td class="num">${opt(st.p99, formatMs)}</td><td class="num">${opt(st.framesPerClientPerS, (v) => v.toFixed(1))}</td><td class="num">${opt(st.runtimeCpuMs, formatCount)}</td><td class="num">${opt(st.generatorCpuPct, (v) => formatPercent(v / 100))}</td><td class="result">${st.pass === undefined ? "—" : st.pass ? "✓ pass" : "✗ FAIL"}</td>
</tr>`,
      ),
    );
    return html`<h3>C = ${formatCount(c)} clients</h3>
<div class="wide"><table class="steps">
<thead><tr><th>System</th><th class="num">Rate /s</th><th class="num">Sent</th><th class="num">Delivery</th><th class="num">p50</th><th class="num">p99</th><th class="num">Frames /client /s</th><th class="num">Runtime CPU ms</th><th class="num">Generator CPU</th><th>Result</th></tr></thead>
<tbody>${rows.length > 0 ? rows : html`<tr><td colspan="10">No steps.</td></tr>`}</tbody>
</table></div>`;
  });
  return html`<section id="steps">
<details>
<summary><h2>Every step</h2></summary>
${tables}
<p class="note">Generator CPU is the load generator's share of one core; it shares the machine with the runtime.</p>
</details>
</section>`;
}

function opt(v: number | undefined, format: (v: number) => string): string {
  return v === undefined ? "—" : format(v);
}

// ---------------------------------------------------------------------------------------------------
// Chart pieces. Colours live in the stylesheet (classes s0…s5), so dark mode is a CSS matter; each
// series also has its own dash and marker shape, so colour never carries the meaning alone.

const SERIES = 6;

function seriesClass(i: number): string {
  return `series s${i % SERIES}`;
}

/** The series' marker at (cx, cy): circle, square, triangle, diamond; hollow for a failed step. */
function marker(i: number, cx: number, cy: number, filled: boolean): Markup {
  const cls = filled ? "mark" : "mark hollow";
  switch (i % 4) {
    case 0:
      return html`<circle class="${cls}" cx="${n1(cx)}" cy="${n1(cy)}" r="4.2"/>`;
    case 1:
      return html`<rect class="${cls}" x="${n1(cx - 3.8)}" y="${n1(cy - 3.8)}" width="7.6" height="7.6"/>`;
    case 2:
      return html`<path class="${cls}" d="M${n1(cx)} ${n1(cy - 5.2)}L${n1(cx + 4.8)} ${n1(cy + 3.6)}H${n1(cx - 4.8)}Z"/>`;
    default:
      return html`<path class="${cls}" d="M${n1(cx)} ${n1(cy - 5.4)}L${n1(cx + 5.4)} ${n1(cy)}L${n1(cx)} ${n1(cy + 5.4)}L${n1(cx - 5.4)} ${n1(cy)}Z"/>`;
  }
}

function cross(cx: number, cy: number): Markup {
  const d = 5.5;
  return html`<path class="cross" d="M${n1(cx - d)} ${n1(cy - d)}L${n1(cx + d)} ${n1(cy + d)}M${n1(cx - d)} ${n1(cy + d)}L${n1(cx + d)} ${n1(cy - d)}"/>`;
}

function svgOpen(width: number, height: number, label: string): Markup {
  return html`<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}" xmlns="http://www.w3.org/2000/svg" font-size="12">
<title>${label}</title>`;
}

/** Room for one "↑ 813.3 ms" label at the top edge of a chart, px. */
const OVER_LABEL_WIDTH = 70;

/** Least distance between two rate labels on an x axis, px: "1.5k" at 11 px is about 24 px wide. */
const MIN_TICK_LABEL_GAP = 30;

/** An axis from 0 to a round number at or above `max`, with about `target` round ticks. */
function niceAxis(max: number, target: number): { max: number; ticks: number[] } {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  const rough = top / target;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const norm = rough / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const n = Math.ceil(top / step - 1e-9);
  // Multiplying rather than adding keeps 0.1-steps from drifting to 0.30000000000000004.
  const ticks = Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
  return { max: n * step, ticks };
}

/** SVG coordinates with one decimal; a non-finite coordinate would break the drawing, so it is 0. */
function n1(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : "0";
}

/** Rates as the steps are named: 500, 1k, 2.5k, 40k. */
function shortRate(v: number): string {
  if (!Number.isFinite(v)) return "—";
  return Math.abs(v) >= 1000 ? `${Number((v / 1000).toPrecision(4))}k` : String(Number(v.toPrecision(6)));
}

function shortNumber(v: number): string {
  return Number.isInteger(v) ? formatCount(v) : String(Number(v.toPrecision(6)));
}

/** Whole seconds as "3 s"; anything else as formatMs does. */
function formatSeconds(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : formatMs(ms);
}

function formatRatio(v: number): string {
  return `${v.toFixed(2)}×`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// ---------------------------------------------------------------------------------------------------
// Style: system fonts, the reader's colour scheme, high contrast in both.

const CSS = `
:root { color-scheme: light dark;
  --bg: #ffffff; --text: #1f2328; --muted: #57606a; --border: #d0d7de; --card: #f6f8fa;
  --grid: #e4e8ec; --axis: #6e7781; --pass: #1a7f37; --fail: #cf222e; --fail-bg: #ffebe9;
  --s0: #0969da; --s1: #bc4c00; --s2: #8250df; --s3: #1a7f37; --s4: #bf3989; --s5: #57606a; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --text: #e6edf3; --muted: #9198a1; --border: #3d444d; --card: #151b23;
    --grid: #262c36; --axis: #8b949e; --pass: #3fb950; --fail: #ff7b72; --fail-bg: #3c1618;
    --s0: #4493f8; --s1: #f0883e; --s2: #b692f6; --s3: #3fb950; --s4: #f778ba; --s5: #9198a1; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px 28px 40px; color: var(--text); background: var(--bg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { border-bottom: 2px solid var(--border); padding-bottom: 14px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 30px 0 10px; break-after: avoid; }
h3 { font-size: 14px; margin: 10px 0 4px; color: var(--muted); font-weight: 600; }
header p { margin: 0 0 10px; max-width: 80ch; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
ul.legend { list-style: none; padding: 0; margin: 0; display: grid; gap: 4px; }
ul.legend li { overflow-wrap: anywhere; }
svg.swatch { display: inline-block; width: 30px; height: 14px; vertical-align: -2px; margin-right: 8px; }
.note { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; max-width: 110ch; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--border); text-align: left; vertical-align: top; }
th { background: var(--card); font-weight: 600; }
thead tr:last-child th { border-bottom: 2px solid var(--border); }
th.group { text-align: center; border-left: 1px solid var(--border); }
.group-start { border-left: 1px solid var(--border); }
.num { text-align: right; white-space: nowrap; }
td.name { min-width: 9em; overflow-wrap: anywhere; font-weight: 600; }
.cell-note { color: var(--muted); font-size: 11.5px; font-weight: 400; }
td.bad { color: var(--fail); font-weight: 700; }
.wide { overflow-x: auto; }
tr.fail td { background: var(--fail-bg); }
td.result { font-weight: 700; white-space: nowrap; }
tr.fail td.result, .fail-text { color: var(--fail); }
details summary { cursor: pointer; }
details summary h2 { display: inline-block; margin: 30px 0 10px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr)); gap: 8px 24px; }
figure { margin: 0; break-inside: avoid; }
svg { display: block; width: 100%; height: auto; font-family: inherit; }
svg text { fill: var(--text); }
svg text.muted { fill: var(--muted); }
svg text.fail-text { fill: var(--fail); font-weight: 600; }
svg text.bound-text { fill: var(--text); font-weight: 600; }
svg .halo { paint-order: stroke; stroke: var(--bg); stroke-width: 3px; stroke-linejoin: round; }
svg .grid { stroke: var(--grid); }
svg .axis { stroke: var(--axis); }
svg .frame { fill: none; stroke: var(--grid); }
svg .bound { stroke: var(--text); stroke-width: 1.5; stroke-dasharray: 6 4; }
.s0 { --c: var(--s0); } .s1 { --c: var(--s1); } .s2 { --c: var(--s2); }
.s3 { --c: var(--s3); } .s4 { --c: var(--s4); } .s5 { --c: var(--s5); }
svg .line { fill: none; stroke: var(--c); stroke-width: 2.2; stroke-linejoin: round; stroke-linecap: round; }
.s1 .line { stroke-dasharray: 8 4; }
.s2 .line { stroke-dasharray: 2 4; }
.s4 .line { stroke-dasharray: 10 3 2 3; }
svg .mark { fill: var(--c); stroke: var(--bg); stroke-width: 1; }
svg .mark.hollow { fill: var(--bg); stroke: var(--c); stroke-width: 1.6; }
svg .cross { stroke: var(--fail); stroke-width: 2.4; stroke-linecap: round; fill: none; }
svg .bar { fill: var(--c); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
footer { margin-top: 32px; padding-top: 8px; border-top: 1px solid var(--border); color: var(--muted); font-size: 12px; }
@page { margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr { break-inside: avoid; }
  .wide { overflow: visible; }
}
`;

// ---------------------------------------------------------------------------------------------------
// CLI: `tsx loadtest/bench/report-html.ts BENCH.json OUT.html`, only when run directly (run.ts
// imports this module and must not trigger it).

function main(args: string[]): void {
  const [input, output] = args;
  if (!input || !output) {
    console.error("usage: tsx loadtest/bench/report-html.ts BENCH.json OUT.html");
    process.exit(2);
  }
  const parsed: unknown = JSON.parse(readFileSync(input, "utf8"));
  writeFileSync(output, renderBenchHtml(parsed));
  console.log(`wrote ${output}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
