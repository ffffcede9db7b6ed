/**
 * @module html
 * Renders a load-test report as one self-contained HTML page (`--html`): verdict, thresholds, summary
 * figures, a latency histogram and a per-region load chart, and per-region and per-isolate tables.
 * The page must open from a CI artefact or an e-mail attachment years later, so it has no scripts, no
 * web fonts and no network: CSS is inline, the charts are inline SVG drawn here, and a
 * Content-Security-Policy forbids anything else. Region names and isolate ids come from servers, so
 * every interpolation goes through the `html` template tag below, which escapes unless told a
 * fragment is already markup.
 */

import type { FaultReport, LatencySummary, LoadReport, RegionReport } from "./report-types.ts";
import { formatBytes, formatCount, formatMs, formatPercent } from "./stats.ts";

// ---------------------------------------------------------------------------------------------------
// Escaping. Markup is built only with `html`, so forgetting to escape a string takes effort.

/** A fragment that is already markup; only `html` and `raw` make one. */
class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Part = SafeHtml | string | number | undefined | readonly Part[];

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML element content and for quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function part(p: Part): string {
  if (p === undefined) return "";
  if (p instanceof SafeHtml) return p.value;
  if (typeof p === "number") return escapeHtml(String(p));
  if (typeof p === "string") return escapeHtml(p);
  return p.map(part).join("");
}

function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += part(values[i]) + (strings[i + 1] ?? "");
  return new SafeHtml(out);
}

/** For the stylesheet, a constant of this file. */
function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

// ---------------------------------------------------------------------------------------------------
// The page.

/** The whole report as an HTML document. Never throws on empty or NaN figures; it prints "—". */
export function renderHtml(report: LoadReport): string {
  const verdict = report.pass ? "PASS" : "FAIL";
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${verdict} · load test ${report.scenario} · Pixel Playground</title>
<style>${raw(CSS)}</style>
</head>
<body>
${header(report)}
${thresholdsSection(report)}
${summarySection(report)}
${report.fault ? faultSection(report.fault, report.clients) : undefined}
<section>
<h2>Latency distribution</h2>
${latencyChart(report.latencyHistogram, report.latencyMs)}
</section>
<section>
<h2>Load per region</h2>
${regionChart(report.regions, report.clients)}
</section>
${regionsSection(report)}
${isolatesSection(report)}
<footer>Pixel Playground load test report · rendered from the run's JSON report · self-contained, no scripts.</footer>
</body>
</html>
`;
  return page.value;
}

function header(report: LoadReport): SafeHtml {
  const verdict = report.pass ? "PASS" : "FAIL";
  return html`<header>
<div>
<h1>Load test: ${report.scenario}</h1>
<dl class="meta">
<dt>Target</dt><dd>${report.target}</dd>
<dt>Started</dt><dd>${report.startedAt}</dd>
<dt>Duration</dt><dd>${formatDuration(report.durationS)}</dd>
</dl>
</div>
<p class="verdict ${report.pass ? "pass" : "fail"}" id="verdict">${verdict}</p>
</header>`;
}

function thresholdsSection(report: LoadReport): SafeHtml {
  const { thresholds } = report;
  if (thresholds.length === 0) return html`<section><h2>Thresholds</h2><p>No thresholds were checked.</p></section>`;
  const failed = thresholds.filter((t) => !t.pass).length;
  const rows = thresholds.map(
    (t) => html`<tr class="${t.pass ? "pass" : "fail"}">
<td>${t.name}</td><td>${t.want}</td><td>${t.got}</td><td class="result">${t.pass ? "✓ pass" : "✗ FAIL"}</td>
</tr>`,
  );
  const tally =
    failed === 0 ? `All ${thresholds.length} thresholds met.` : `${failed} of ${thresholds.length} thresholds failed.`;
  return html`<section>
<h2>Thresholds</h2>
<p class="${failed === 0 ? "ok" : "bad"}">${tally}</p>
<table class="thresholds">
<thead><tr><th>Threshold</th><th>Want</th><th>Got</th><th>Result</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

/** One labelled figure of a summary card; `bad` colours it as a problem. */
interface Figure {
  label: string;
  value: string;
  bad?: boolean;
}

function card(title: string, figures: readonly Figure[]): SafeHtml {
  const items = figures.map(
    (f) => html`<dt>${f.label}</dt><dd${f.bad ? raw(' class="bad"') : undefined}>${f.value}</dd>`,
  );
  return html`<div class="card"><h3>${title}</h3><dl>${items}</dl></div>`;
}

function summarySection(r: LoadReport): SafeHtml {
  const lat = r.latencyMs;
  const presence: Figure[] = [
    { label: "Reported / actual", value: `${formatCount(r.presence.reported)} / ${formatCount(r.presence.actual)}` },
    { label: "Ratio", value: formatPercent(r.presence.ratio, 2), bad: r.presence.ratio !== 1 },
    { label: "Exact per region", value: r.presence.perRegionExact ? "yes" : "no", bad: !r.presence.perRegionExact },
    // Undefined means the reported total never matched the truth while it was watched.
    {
      label: "Convergence",
      value: r.presence.convergenceMs === undefined ? "not reached" : formatMs(r.presence.convergenceMs),
      bad: r.presence.convergenceMs === undefined,
    },
  ];
  if (r.presence.deadIsolateExpiryMs !== undefined) {
    presence.push({ label: "Dead isolate expiry", value: formatMs(r.presence.deadIsolateExpiryMs) });
  }
  const broadcast: Figure[] = [
    { label: "Delivery ratio", value: formatPercent(r.broadcast.ratio, 2), bad: r.broadcast.ratio !== 1 },
    {
      label: "Received / expected",
      value: `${formatCount(r.broadcast.received)} / ${formatCount(r.broadcast.expected)}`,
    },
    { label: "Phantom deliveries", value: formatCount(r.broadcast.phantom), bad: r.broadcast.phantom !== 0 },
    { label: "Placements sent", value: formatCount(r.placements.sent) },
    {
      label: "accepted / rejected",
      value: `${formatCount(r.placements.accepted)} / ${formatCount(r.placements.rejected)}`,
    },
    { label: "Lost in flight (dead edge, never seen)", value: formatCount(r.placements.lostInFlight) },
  ];
  if (r.canvasIntact !== undefined) {
    broadcast.push({ label: "Canvas intact", value: r.canvasIntact ? "yes" : "no", bad: !r.canvasIntact });
  }
  const e = r.errors;
  return html`<section>
<h2>Summary</h2>
<div class="cards">
${card("Load", [
  { label: "Clients", value: formatCount(r.clients) },
  { label: "Regions", value: formatCount(r.regions.length) },
  { label: "Edge isolates", value: formatCount(r.distribution.perIsolate.length) },
  { label: "Largest / smallest region", value: formatFactor(r.distribution.maxOverMin) },
  { label: "Generator CPU (one core)", value: formatPercent(r.generatorCpu) },
])}
${card("Broadcast", broadcast)}
${card("Presence", presence)}
${card("Delivery latency", [
  { label: "Samples", value: formatCount(lat.count) },
  { label: "p50", value: formatMs(lat.p50) },
  { label: "p95", value: formatMs(lat.p95) },
  { label: "p99", value: formatMs(lat.p99) },
  { label: "max", value: formatMs(lat.max) },
  { label: "mean", value: formatMs(lat.mean) },
])}
${card("Throughput", [
  { label: "Placements", value: `${formatRate(r.throughput.placementsPerS)} /s` },
  { label: "Frames", value: `${formatRate(r.throughput.framesPerS)} /s` },
  { label: "Bytes", value: `${formatBytes(r.throughput.bytesPerS)}/s` },
])}
${card("Errors", [
  { label: "Connect failures", value: formatCount(e.connectFailures), bad: e.connectFailures !== 0 },
  { label: "Disconnects", value: formatCount(e.disconnects) },
  { label: "Reconnects", value: formatCount(e.reconnects) },
  { label: "Rejected", value: formatCount(e.rejected) },
  { label: "Protocol errors", value: formatCount(e.protocol), bad: e.protocol !== 0 },
])}
</div>
</section>`;
}

/** Restart and storm: what the fault did, how the clients came back, and the reconnect chart. */
function faultSection(f: FaultReport, clients: number): SafeHtml {
  const optionalMs = (ms: number | undefined) => (ms === undefined || ms === null ? "never" : formatMs(ms));
  return html`<section>
<h2>Canvas host restart</h2>
<div class="cards">
${card("The fault", [
  { label: "Killed at placement", value: formatCount(f.atPlacement) },
  { label: "Healthy again after", value: formatMs(f.canvasDownMs) },
  { label: "Sockets dropped", value: `${formatCount(f.socketsDropped)} / ${formatCount(clients)}` },
  { label: "canvas_unavailable errors", value: formatCount(f.canvasUnavailable) },
])}
${card("Reconnects", [
  { label: "Attempts", value: formatCount(f.attempts) },
  { label: `Peak per ${f.bucketMs} ms`, value: `${formatCount(f.peakAttemptsPerBucket)} at +${formatMs(f.peakAtMs)}` },
  { label: "Peak rate", value: `${formatCount(f.peakAttemptsPerS)} /s` },
  { label: "Everyone at once", value: `${formatCount(f.everyoneAtOncePerBucket)} per ${f.bucketMs} ms` },
  { label: "Backoff", value: `full jitter, ${formatMs(f.backoff.baseMs)} · 2ⁿ, cap ${formatMs(f.backoff.capMs)}` },
  { label: "Gave up", value: formatCount(f.gaveUp), bad: f.gaveUp !== 0 },
])}
${card("Recovery, from the kill", [
  { label: "All connected", value: optionalMs(f.allConnectedMs), bad: f.allConnectedMs === undefined },
  { label: "All caught up", value: optionalMs(f.allCaughtUpMs), bad: f.allCaughtUpMs === undefined },
  { label: "Presence exact", value: optionalMs(f.presenceExactMs), bad: f.presenceExactMs === undefined },
  { label: "Resyncs (snapshot refetched)", value: formatCount(f.resyncs) },
  {
    label: "Clients at server seq",
    value: `${formatCount(f.clientsAtServerSeq)} / ${formatCount(clients)}`,
    bad: f.clientsAtServerSeq !== clients,
  },
  { label: "Other pixels changed", value: formatCount(f.changedElsewhere), bad: f.changedElsewhere !== 0 },
  { label: "Generator timers late by (max)", value: formatMs(f.generatorLoopDelayMaxMs) },
])}
</div>
${reconnectChart(f)}
</section>`;
}

/** Reconnect attempts and successful reconnects per bucket from the kill, with the recovery marks. */
function reconnectChart(f: FaultReport): SafeHtml {
  const H = 320;
  const m = { top: 44, right: 16, bottom: 52, left: 72 };
  const plotW = CHART_W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const bottom = m.top + plotH;
  const label = `Reconnect attempts per ${f.bucketMs} ms after the canvas host was killed`;
  const attempts = f.attemptsPerBucket.map((c) => (Number.isFinite(c) ? c : 0));
  const connects = f.connectsPerBucket.map((c) => (Number.isFinite(c) ? c : 0));
  const n = Math.max(attempts.length, connects.length);
  if (n === 0) {
    return html`<figure>${svgOpen(120, label)}
<rect x="${m.left}" y="10" width="${n1(plotW)}" height="100" fill="none" stroke="${C.grid}"/>
<text x="${n1(m.left + plotW / 2)}" y="65" text-anchor="middle" font-size="16" fill="${C.muted}">No reconnect attempts recorded</text>
</svg></figure>`;
  }
  const axis = niceAxis(Math.max(1, ...attempts, ...connects) * 1.08, 5, true);
  const y = (v: number) => bottom - (v / axis.max) * plotH;
  const band = plotW / n;
  const x = (ms: number) => m.left + (ms / (n * f.bucketMs)) * plotW;
  const grid = axis.ticks.map(
    (t) => html`<line x1="${m.left}" x2="${m.left + plotW}" y1="${n1(y(t))}" y2="${n1(y(t))}" stroke="${C.grid}"/>
<text x="${m.left - 8}" y="${n1(y(t) + 4)}" text-anchor="end" fill="${C.muted}">${shortNumber(t)}</text>`,
  );
  const seconds = niceAxis((n * f.bucketMs) / 1000, 10, false);
  const xTicks = seconds.ticks
    .filter((t) => t * 1000 <= n * f.bucketMs)
    .map(
      (t) =>
        html`<text x="${n1(x(t * 1000))}" y="${bottom + 18}" text-anchor="middle" font-size="11" fill="${C.muted}">${shortNumber(t)}</text>`,
    );
  const bars = attempts.map((c, i) =>
    c > 0
      ? html`<rect x="${n1(m.left + band * i)}" y="${n1(y(c))}" width="${n1(Math.max(0.5, band * 0.9))}" height="${n1(bottom - y(c))}" fill="${C.bar}"><title>+${formatMs(i * f.bucketMs)}: ${formatCount(c)} attempts</title></rect>`
      : undefined,
  );
  const dots = connects.map((c, i) =>
    c > 0
      ? html`<circle cx="${n1(m.left + band * (i + 0.5))}" cy="${n1(y(c))}" r="2.5" fill="${C.p99}"><title>+${formatMs(i * f.bucketMs)}: ${formatCount(c)} clients back</title></circle>`
      : undefined,
  );
  const marks = (
    [
      ["canvas healthy", f.canvasDownMs],
      ["all back", f.allConnectedMs],
    ] as const
  ).map(([name, ms]) =>
    ms !== undefined && ms !== null && Number.isFinite(ms)
      ? html`<line x1="${n1(x(ms))}" x2="${n1(x(ms))}" y1="${m.top - 10}" y2="${bottom}" stroke="${C.marker}" stroke-dasharray="4 3"/>
<text x="${n1(x(ms))}" y="${m.top - 15}" text-anchor="middle" font-size="11" font-weight="600" fill="${C.marker}">${name}</text>`
      : undefined,
  );
  return html`<figure>${svgOpen(H, label)}
${grid}
${bars}
${dots}
${marks}
<line x1="${m.left}" x2="${m.left + plotW}" y1="${bottom}" y2="${bottom}" stroke="${C.axis}"/>
<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${bottom}" stroke="${C.axis}"/>
${xTicks}
<text x="${n1(m.left + plotW / 2)}" y="${H - 10}" text-anchor="middle" fill="${C.muted}">Seconds after the kill</text>
<text transform="translate(18 ${n1(m.top + plotH / 2)}) rotate(-90)" text-anchor="middle" fill="${C.muted}">Per ${f.bucketMs} ms</text>
</svg>
<figcaption>Bars: reconnect attempts (failed or not) per ${f.bucketMs} ms; dots: clients whose reconnect succeeded in that ${f.bucketMs} ms. Peak ${formatCount(f.peakAttemptsPerBucket)} attempts in one bucket; all ${formatCount(f.everyoneAtOncePerBucket)} clients retrying at once would be ${formatCount(f.everyoneAtOncePerBucket)}.</figcaption>
</figure>`;
}

/** Latency cells in a column headed "(ms)": bare numbers keep the wide region table within the page. */
function latencyCells(l: LatencySummary): SafeHtml {
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "—");
  return html`<td class="num">${formatCount(l.count)}</td><td class="num">${ms(l.p50)}</td><td class="num">${ms(l.p95)}</td><td class="num">${ms(l.p99)}</td><td class="num">${ms(l.max)}</td><td class="num">${ms(l.mean)}</td>`;
}

function regionsSection(r: LoadReport): SafeHtml {
  if (r.regions.length === 0) return html`<section><h2>Regions</h2><p>No regions in this report.</p></section>`;
  const total = r.regions.reduce((s, g) => s + g.clients, 0);
  const rows = r.regions.map((g) => {
    const exact = g.presenceReported === g.presenceActual;
    return html`<tr>
<td class="name">${g.name}</td><td class="num">${formatCount(g.clients)}</td><td class="num">${formatPercent(total === 0 ? Number.NaN : g.clients / total)}</td><td class="num">${formatCount(g.isolates)}</td>
<td class="num">${formatCount(g.presenceReported)}</td><td class="num">${formatCount(g.presenceActual)}</td><td class="${exact ? "ok" : "bad"}">${exact ? "✓ exact" : "✗ off"}</td>
${latencyCells(g.latencyMs)}
</tr>`;
  });
  return html`<section>
<h2>Regions</h2>
<div class="wide">
<table>
<thead>
<tr><th rowspan="2">Region</th><th rowspan="2" class="num">Clients</th><th rowspan="2" class="num">Share</th><th rowspan="2" class="num">Isolates</th><th colspan="3" class="group">Presence</th><th colspan="6" class="group">Delivery latency (ms)</th></tr>
<tr><th class="num">Reported</th><th class="num">Actual</th><th>Match</th><th class="num">Samples</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">max</th><th class="num">mean</th></tr>
</thead>
<tbody>
${rows}
</tbody>
</table>
</div>
</section>`;
}

function isolatesSection(r: LoadReport): SafeHtml {
  const isolates = [...r.distribution.perIsolate].sort(
    (a, b) => compare(a.region, b.region) || b.clients - a.clients || compare(a.isolateId, b.isolateId),
  );
  if (isolates.length === 0) return html`<section><h2>Edge isolates</h2><p>No isolates reported.</p></section>`;
  const regionTotals = new Map<string, number>();
  for (const i of isolates) regionTotals.set(i.region, (regionTotals.get(i.region) ?? 0) + i.clients);
  const rows = isolates.map((i) => {
    const regionTotal = regionTotals.get(i.region) ?? 0;
    return html`<tr><td class="mono">${i.isolateId}</td><td class="name">${i.region}</td><td class="num">${formatCount(i.clients)}</td><td class="num">${formatPercent(regionTotal === 0 ? Number.NaN : i.clients / regionTotal)}</td></tr>`;
  });
  return html`<section>
<h2>Edge isolates</h2>
<table>
<thead><tr><th>Isolate</th><th>Region</th><th class="num">Clients</th><th class="num">Share of region</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

// ---------------------------------------------------------------------------------------------------
// Charts: plain SVG in a fixed 900-unit-wide viewBox that CSS scales to the page (and to paper).

const CHART_W = 900;
const C = {
  text: "#1f2328",
  muted: "#57606a",
  grid: "#d8dee4",
  axis: "#6e7781",
  bar: "#0969da",
  p99: "#bc4c00",
  marker: "#8250df",
};

/** A y (or x) axis from 0 to a round number above `max`, with about `target` round ticks. */
interface Axis {
  max: number;
  ticks: number[];
}

function niceAxis(max: number, target: number, integer: boolean): Axis {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  const rough = top / target;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const norm = rough / mag;
  let step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  if (integer) step = Math.max(1, step);
  const ticks: number[] = [];
  const n = Math.ceil(top / step - 1e-9);
  // Multiplying rather than adding keeps 0.1-steps from drifting to 0.30000000000000004.
  for (let i = 0; i <= n; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { max: n * step, ticks };
}

const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** Tick and bar labels that fit a narrow bar: 950, 0.5, 12,500, 123.4K, 1.2M. */
function shortNumber(v: number): string {
  if (!Number.isFinite(v)) return "—";
  if (Math.abs(v) >= 100_000) return COMPACT.format(v);
  return Number.isInteger(v) ? formatCount(v) : String(Number(v.toPrecision(6)));
}

/** SVG coordinates with one decimal; a non-finite coordinate would break the drawing, so it is 0. */
function n1(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : "0";
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function svgOpen(height: number, label: string): SafeHtml {
  return html`<svg viewBox="0 0 ${CHART_W} ${height}" role="img" aria-label="${label}" xmlns="http://www.w3.org/2000/svg" font-size="12" fill="${C.text}">
<title>${label}</title>`;
}

/** "≤ 250" for a bucket; bounds are printed bare (no separators) to fit 17 labels side by side. */
function bucketLabel(buckets: readonly { le: number }[], i: number): string {
  const bound = (v: number) => String(Number(v.toPrecision(6)));
  const le = buckets[i]?.le ?? Number.NaN;
  if (Number.isFinite(le)) return `≤ ${bound(le)}`;
  // The overflow bucket (le = Infinity, or null after a JSON round trip): name it by the last bound.
  const prev = buckets[i - 1]?.le;
  return prev !== undefined && Number.isFinite(prev) ? `> ${bound(prev)}` : "all";
}

/** Index of the bucket a value falls in (upper bounds inclusive), or -1. */
function bucketOf(buckets: readonly { le: number }[], v: number): number {
  if (!Number.isFinite(v)) return -1;
  return buckets.findIndex((b) => !Number.isFinite(b.le) || v <= b.le);
}

function latencyChart(buckets: readonly { le: number; count: number }[], lat: LatencySummary): SafeHtml {
  const H = 360;
  const m = { top: 44, right: 16, bottom: 64, left: 72 };
  const plotW = CHART_W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const bottom = m.top + plotH;
  const label = "Delivery latency histogram: deliveries per latency bucket";
  const counts = buckets.map((b) => (Number.isFinite(b.count) ? b.count : 0));
  const total = counts.reduce((s, c) => s + c, 0);

  if (buckets.length === 0 || total === 0) {
    // No axes: a scale with nothing on it would suggest a measurement of zero.
    return html`<figure>${svgOpen(120, label)}
<rect x="${m.left}" y="10" width="${n1(plotW)}" height="100" fill="none" stroke="${C.grid}"/>
<text x="${n1(m.left + plotW / 2)}" y="65" text-anchor="middle" font-size="16" fill="${C.muted}">No latency samples in this run</text>
</svg></figure>`;
  }

  const axisTitles = html`<text x="${n1(m.left + plotW / 2)}" y="${H - 14}" text-anchor="middle" fill="${C.muted}">Delivery latency, ms (bucket upper bound, inclusive)</text>
<text transform="translate(18 ${n1(m.top + plotH / 2)}) rotate(-90)" text-anchor="middle" fill="${C.muted}">Deliveries</text>`;

  // 8 % headroom so the count above the tallest bar stays inside the plot, clear of the markers.
  const axis = niceAxis(Math.max(...counts) * 1.08, 5, true);
  const y = (v: number) => bottom - (v / axis.max) * plotH;
  const band = plotW / buckets.length;
  const barW = Math.max(1, band * 0.76);

  const grid = axis.ticks.map(
    (t) => html`<line x1="${m.left}" x2="${m.left + plotW}" y1="${n1(y(t))}" y2="${n1(y(t))}" stroke="${C.grid}"/>
<text x="${m.left - 8}" y="${n1(y(t) + 4)}" text-anchor="end" fill="${C.muted}">${shortNumber(t)}</text>`,
  );

  const bars = buckets.map((b, i) => {
    const count = counts[i] ?? 0;
    const cx = m.left + band * i + band / 2;
    const name = bucketLabel(buckets, i);
    const share = formatPercent(count / total);
    const bar =
      count > 0
        ? html`<rect x="${n1(cx - barW / 2)}" y="${n1(y(count))}" width="${n1(barW)}" height="${n1(bottom - y(count))}" fill="${C.bar}"><title>${name} ms: ${formatCount(count)} deliveries (${share})</title></rect>
<text x="${n1(cx)}" y="${n1(y(count) - 5)}" text-anchor="middle" font-size="11" stroke="#fff" stroke-width="3" paint-order="stroke">${shortNumber(count)}</text>`
        : undefined;
    return html`${bar}<text x="${n1(cx)}" y="${bottom + 18}" text-anchor="middle" font-size="11" fill="${Number.isFinite(b.le) ? C.text : C.p99}">${name}</text>`;
  });

  // p50/p95/p99 as dashed lines over the bucket each falls in; percentiles sharing a bucket share a label.
  const byBucket = new Map<number, string[]>();
  for (const [name, v] of [
    ["p50", lat.p50],
    ["p95", lat.p95],
    ["p99", lat.p99],
  ] as const) {
    const i = bucketOf(buckets, v);
    if (i >= 0) byBucket.set(i, [...(byBucket.get(i) ?? []), name]);
  }
  const markers = [...byBucket].map(([i, names]) => {
    const cx = m.left + band * i + band / 2;
    return html`<line x1="${n1(cx)}" x2="${n1(cx)}" y1="${m.top - 10}" y2="${bottom}" stroke="${C.marker}" stroke-dasharray="4 3"/>
<text x="${n1(cx)}" y="${m.top - 15}" text-anchor="middle" font-size="11" font-weight="600" fill="${C.marker}">${names.join(" ")}</text>`;
  });

  return html`<figure>${svgOpen(H, label)}
${grid}
${markers}
${bars}
<line x1="${m.left}" x2="${m.left + plotW}" y1="${bottom}" y2="${bottom}" stroke="${C.axis}"/>
<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${bottom}" stroke="${C.axis}"/>
${axisTitles}
</svg>
<figcaption>${formatCount(total)} deliveries. Buckets are not equally wide: each bar counts the deliveries above the previous bound and up to its own. Dashed lines mark the buckets holding p50, p95 and p99 (${formatMs(lat.p50)}, ${formatMs(lat.p95)}, ${formatMs(lat.p99)}).</figcaption>
</figure>`;
}

function regionChart(regions: readonly RegionReport[], totalClients: number): SafeHtml {
  const label = "Clients and p99 delivery latency per region";
  const rowH = 30;
  const barH = 16;
  const top = 52;
  const H = top + Math.max(1, regions.length) * rowH + 34;
  const bottom = top + Math.max(1, regions.length) * rowH;
  const labelW = 170;
  const a = { x: 184, w: 300 };
  const b = { x: 184 + 300 + 88, w: 240 };

  if (regions.length === 0) {
    return html`<figure>${svgOpen(H, label)}
<text x="${CHART_W / 2}" y="${n1(top + rowH / 2)}" text-anchor="middle" font-size="16" fill="${C.muted}">No regions in this report</text>
</svg></figure>`;
  }

  const clientsAxis = niceAxis(Math.max(...regions.map((r) => r.clients)), 4, true);
  const p99s = regions.map((r) => r.latencyMs.p99).filter((v) => Number.isFinite(v));
  const p99Axis = niceAxis(Math.max(0, ...p99s), 4, false);
  const xa = (v: number) => a.x + (v / clientsAxis.max) * a.w;
  const xb = (v: number) => b.x + (v / p99Axis.max) * b.w;

  const panelGrid = (axis: Axis, x: (v: number) => number) =>
    axis.ticks.map(
      (t) => html`<line x1="${n1(x(t))}" x2="${n1(x(t))}" y1="${top - 6}" y2="${bottom}" stroke="${C.grid}"/>
<text x="${n1(x(t))}" y="${bottom + 16}" text-anchor="middle" font-size="11" fill="${C.muted}">${shortNumber(t)}</text>`,
    );

  const rows = regions.map((r, i) => {
    const cy = top + i * rowH + rowH / 2;
    const p99 = r.latencyMs.p99;
    const p99Bar = Number.isFinite(p99)
      ? html`<rect x="${b.x}" y="${n1(cy - barH / 2)}" width="${n1(Math.max(1, xb(p99) - b.x))}" height="${barH}" fill="${C.p99}"><title>${r.name}: p99 ${formatMs(p99)}</title></rect>
<text x="${n1(xb(p99) + 6)}" y="${n1(cy + 4)}" font-size="11">${formatMs(p99)}</text>`
      : html`<text x="${b.x + 6}" y="${n1(cy + 4)}" font-size="11" fill="${C.muted}">no samples</text>`;
    return html`<text x="${labelW}" y="${n1(cy + 4)}" text-anchor="end">${truncate(r.name, 24)}<title>${r.name}</title></text>
<rect x="${a.x}" y="${n1(cy - barH / 2)}" width="${n1(Math.max(r.clients > 0 ? 1 : 0, xa(r.clients) - a.x))}" height="${barH}" fill="${C.bar}"><title>${r.name}: ${formatCount(r.clients)} clients</title></rect>
<text x="${n1(xa(r.clients) + 6)}" y="${n1(cy + 4)}" font-size="11">${formatCount(r.clients)}</text>
${p99Bar}`;
  });

  // With several regions, where a perfectly even spread would put every bar.
  const even = totalClients / regions.length;
  const evenLine =
    regions.length > 1 && even > 0
      ? html`<line x1="${n1(xa(even))}" x2="${n1(xa(even))}" y1="${top - 6}" y2="${bottom}" stroke="${C.text}" stroke-dasharray="5 4"/>
<text x="${n1(xa(even))}" y="${top - 10}" text-anchor="middle" font-size="10.5" fill="${C.text}">even share ${formatCount(even)}</text>`
      : undefined;

  return html`<figure>${svgOpen(H, label)}
<rect x="${a.x}" y="12" width="12" height="12" fill="${C.bar}"/><text x="${a.x + 18}" y="22" font-weight="600">Clients</text>
<rect x="${b.x}" y="12" width="12" height="12" fill="${C.p99}"/><text x="${b.x + 18}" y="22" font-weight="600">p99 delivery latency (ms)</text>
${panelGrid(clientsAxis, xa)}
${p99s.length > 0 ? panelGrid(p99Axis, xb) : undefined}
${rows}
${evenLine}
<line x1="${a.x}" x2="${a.x}" y1="${top - 6}" y2="${bottom}" stroke="${C.axis}"/>
<line x1="${b.x}" x2="${b.x}" y1="${top - 6}" y2="${bottom}" stroke="${C.axis}"/>
</svg>
<figcaption>Left: clients each region served at the end of the run${regions.length > 1 ? "; the dashed line is an even share of all clients" : ""}. Right: the 99th percentile of delivery latency seen by that region's clients.</figcaption>
</figure>`;
}

// ---------------------------------------------------------------------------------------------------
// Small formats that only the page needs.

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Largest over smallest as "1.05 ×"; Infinity when some region got no one. */
function formatFactor(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "∞ (a region got no clients)";
  return Number.isFinite(v) ? `${v.toFixed(2)} ×` : "—";
}

/** Per-second rates: a decimal below 100, whole numbers with separators above. */
function formatRate(v: number): string {
  return Number.isFinite(v) && Math.abs(v) < 100 ? v.toFixed(1) : formatCount(v);
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "—";
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

// ---------------------------------------------------------------------------------------------------
// Style: light, high contrast, system fonts; colour never carries meaning alone (✓/✗ and words do).

const CSS = `
:root { color-scheme: light; --text: #1f2328; --muted: #57606a; --border: #d0d7de; --card: #f6f8fa;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1120px; padding: 24px 28px 40px; color: var(--text); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; justify-content: space-between; align-items: flex-start; gap: 24px;
  border-bottom: 2px solid var(--border); padding-bottom: 16px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 10px; break-after: avoid; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.verdict { margin: 0; font-size: 26px; font-weight: 800; letter-spacing: 0.08em; padding: 8px 22px;
  border-radius: 8px; color: #fff; }
.verdict.pass { background: var(--pass); }
.verdict.fail { background: var(--fail); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--border); text-align: left; vertical-align: top; }
th { background: var(--card); font-weight: 600; }
thead tr:last-child th { border-bottom: 2px solid var(--border); }
th.group { text-align: center; border-left: 1px solid var(--border); }
.num { text-align: right; white-space: nowrap; }
td.name { min-width: 10em; overflow-wrap: anywhere; }
.wide { overflow-x: auto; }
td.ok, td.bad { white-space: nowrap; }
tr.fail td { background: var(--fail-bg); }
td.result { font-weight: 700; white-space: nowrap; }
tr.pass td.result, .ok { color: var(--pass); }
tr.fail td.result, .bad { color: var(--fail); font-weight: 700; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--border); border-radius: 8px; padding: 10px 14px; background: var(--card);
  break-inside: avoid; }
.card h3 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); }
.card dl { display: grid; grid-template-columns: 1fr auto; gap: 3px 12px; margin: 0; }
.card dt { color: var(--muted); }
.card dd { margin: 0; text-align: right; font-weight: 600; font-variant-numeric: tabular-nums; }
figure { margin: 0; break-inside: avoid; }
svg { display: block; width: 100%; height: auto; font-family: inherit; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  overflow-wrap: anywhere; }
footer { margin-top: 32px; padding-top: 8px; border-top: 1px solid var(--border); color: var(--muted); font-size: 12px; }
@page { margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr { break-inside: avoid; }
  .wide { overflow: visible; }
  th, td { padding: 3px 6px; }
  .wide table { font-size: 8.5pt; }
  td.name { min-width: 6em; }
}
`;
