/**
 * Tests of the HTML report page (html.ts): it is one complete document, its verdict matches the
 * report, it draws both charts, it escapes every server-supplied string (region names and isolate ids
 * are hostile input as far as the page is concerned), and an empty run renders without a "NaN".
 * The fixture is built with the same stats functions the load test uses, from seeded samples.
 */

import { describe, expect, it } from "vitest";
import { prng } from "../test/support/random.ts";
import { renderHtml } from "./html.ts";
import type { FaultReport, LoadReport, RegionReport } from "./report-types.ts";
import {
  bucketTimes,
  DEFAULT_LATENCY_BOUNDS_MS,
  histogram,
  maxOverMin,
  peakBucket,
  ratio,
  summarizeLatency,
} from "./stats.ts";

const HOSTILE_REGION = "<script>alert(1)</script>";
const HOSTILE_ISOLATE = `"><img src=x onerror=alert(2)>`;

/** Roughly log-normal latencies around `medianMs`, with a long tail, as real deliveries have. */
function latencies(count: number, medianMs: number, seed: number): Float64Array {
  const rand = prng(seed);
  return Float64Array.from({ length: count }, () => {
    const u = Math.max(rand(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    return medianMs * Math.exp(0.6 * z);
  });
}

function region(name: string, clients: number, isolates: number, samples: Float64Array): RegionReport {
  return {
    name,
    clients,
    isolates,
    latencyMs: summarizeLatency(samples),
    presenceReported: clients,
    presenceActual: clients,
  };
}

/** A three-region run with one hostile region name; `samples: false` gives a run that measured nothing. */
function fixture(opts: { pass: boolean; samples?: boolean; regions?: number }): LoadReport {
  const withSamples = opts.samples ?? true;
  const specs: [string, number, number][] = [
    ["wnam", 412, 8],
    ["weur", 395, 14],
    [HOSTILE_REGION, 193, 40],
  ];
  const used = specs.slice(0, opts.regions ?? specs.length);
  const samples = used.map(([, clients, median], i) =>
    withSamples ? latencies(clients * 20, median, i + 1) : new Float64Array(0),
  );
  const regions = used.map(([name, clients], i) => region(name, clients, 2, samples[i] ?? new Float64Array(0)));
  const all = Float64Array.from(samples.flatMap((s) => [...s]));
  const clients = regions.reduce((s, r) => s + r.clients, 0);
  const expected = all.length;
  const received = all.length;
  return {
    scenario: "steady",
    target: `local (${regions.length} regions)`,
    startedAt: "2026-04-27T10:15:00.000Z",
    durationS: 95.4,
    clients,
    regions,
    distribution: {
      maxOverMin: maxOverMin(regions.map((r) => r.clients)),
      perIsolate: regions.flatMap((r, i) => [
        {
          isolateId: i === 2 ? HOSTILE_ISOLATE : `iso-${r.name}-a1f3`,
          region: r.name,
          clients: Math.ceil(r.clients / 2),
        },
        { isolateId: `iso-${i}-7c09`, region: r.name, clients: Math.floor(r.clients / 2) },
      ]),
    },
    broadcast: { expected, received, ratio: ratio(received, expected), phantom: 0 },
    presence: { actual: clients, reported: clients, ratio: 1, perRegionExact: true, convergenceMs: 1840 },
    latencyMs: summarizeLatency(all),
    latencyHistogram: histogram(all, DEFAULT_LATENCY_BOUNDS_MS),
    throughput: { placementsPerS: 48.2, framesPerS: 2210, bytesPerS: 1_480_000 },
    placements: { sent: 4600, accepted: 4590, rejected: 10, lostInFlight: 0 },
    errors: { connectFailures: 0, disconnects: 3, reconnects: 3, rejected: 10, protocol: 0 },
    generatorCpu: 0.42,
    thresholds: [
      { name: "broadcast delivery", want: "= 100.0 %", got: "100.0 %", pass: true },
      { name: "phantom deliveries", want: "= 0", got: "0", pass: true },
      { name: "presence total", want: "= 100.0 %", got: "100.0 %", pass: true },
      { name: "region spread max/min", want: "≤ 2.50", got: "2.13", pass: true },
      {
        name: "latency p99 < 250 ms & steady",
        want: "≤ 250 ms",
        got: opts.pass ? "180.2 ms" : "412.9 ms",
        pass: opts.pass,
      },
    ],
    pass: opts.pass,
  };
}

/** The text a reader sees: no style sheet, no tags, entities decoded. */
function visibleText(doc: string): string {
  return doc
    .replace(/<style>[\s\S]*?<\/style>/g, "")
    .replace(/<[^>]*>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

function verdict(doc: string): string | undefined {
  return /<p class="verdict (pass|fail)" id="verdict">([^<]*)<\/p>/.exec(doc)?.slice(1).join(":");
}

describe("renderHtml", () => {
  it("renders one complete, self-contained document", () => {
    const doc = renderHtml(fixture({ pass: true }));
    expect(doc.startsWith("<!doctype html>")).toBe(true);
    expect(doc).toMatch(/<html lang="en">[\s\S]*<head>[\s\S]*<\/head>[\s\S]*<body>[\s\S]*<\/body>\s*<\/html>\s*$/);
    expect(doc).toContain('<meta charset="utf-8">');
    // Nothing that would reach the network or run: no scripts, no external links or sources.
    expect(doc).not.toMatch(/<script|<link|<[^>]*\s(src|href)=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
    expect(doc).toContain("default-src 'none'");
  });

  it("shows a PASS badge for a passing run and a FAIL badge for a failing one", () => {
    expect(verdict(renderHtml(fixture({ pass: true })))).toBe("pass:PASS");
    expect(verdict(renderHtml(fixture({ pass: false })))).toBe("fail:FAIL");
  });

  it("draws the latency distribution and the per-region load as inline SVG", () => {
    const doc = renderHtml(fixture({ pass: true }));
    expect(doc.match(/<svg\b/g)).toHaveLength(2);
    expect(doc).toMatch(/<svg[^>]*aria-label="Delivery latency histogram[^"]*"/);
    expect(doc).toMatch(/<svg[^>]*aria-label="Clients and p99 delivery latency per region"/);
    // One bar per non-empty histogram bucket, labelled by its bound; the overflow bucket by the last bound.
    expect(visibleText(doc)).toContain("≤ 5000");
    expect(visibleText(doc)).toContain("> 5000");
    // Every region's client count is drawn as a bar.
    for (const clients of ["412", "395", "193"]) expect(doc).toContain(`: ${clients} clients</title>`);
  });

  it("escapes region names and isolate ids from servers", () => {
    const doc = renderHtml(fixture({ pass: true }));
    expect(doc).not.toContain(HOSTILE_REGION);
    expect(doc).not.toContain("<img");
    expect(doc).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(doc).toContain("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;");
    // Escaped, the text is still there for the reader.
    expect(visibleText(doc)).toContain(HOSTILE_REGION);
    expect(visibleText(doc)).toContain(HOSTILE_ISOLATE);
  });

  it("shows every threshold, with its result", () => {
    const report = fixture({ pass: false });
    const doc = renderHtml(report);
    const text = visibleText(doc);
    for (const t of report.thresholds) expect(text).toContain(t.name);
    expect(doc).toContain("latency p99 &lt; 250 ms &amp; steady");
    expect(doc.match(/<tr class="fail">/g)).toHaveLength(1);
    expect(doc.match(/<tr class="pass">/g)).toHaveLength(4);
    expect(text).toContain("1 of 5 thresholds failed.");
  });

  it("renders a run with no latency samples without NaN anywhere", () => {
    const report = fixture({ pass: false, samples: false });
    expect(report.latencyMs.count).toBe(0);
    const doc = renderHtml(report);
    expect(doc).not.toMatch(/NaN|Infinity|undefined/);
    expect(visibleText(doc)).toContain("No latency samples in this run");
    expect(visibleText(doc)).toContain("no samples");
    expect(doc.match(/<svg\b/g)).toHaveLength(2);
  });

  it("renders a single region and an empty report", () => {
    const one = renderHtml(fixture({ pass: true, regions: 1 }));
    expect(one).not.toMatch(/NaN|Infinity|undefined/);
    expect(one).toContain(": 412 clients</title>");
    // An even-share line means nothing with one region.
    expect(one).not.toContain("even share");

    const none = renderHtml({ ...fixture({ pass: false, regions: 0 }), latencyHistogram: [] });
    expect(none).not.toMatch(/NaN|Infinity|undefined/);
    expect(visibleText(none)).toContain("No regions in this report");
    expect(visibleText(none)).toContain("No isolates reported.");
  });

  it("labels the overflow bucket after a JSON round trip turned its Infinity into null", () => {
    const report: LoadReport = JSON.parse(JSON.stringify(fixture({ pass: true })));
    expect(report.latencyHistogram.at(-1)?.le).toBeNull();
    const doc = renderHtml(report);
    expect(visibleText(doc)).toContain("> 5000");
    expect(doc).not.toMatch(/NaN|Infinity|undefined/);
  });

  it("shows the nulls that NaN latencies become in JSON as no data", () => {
    const report: LoadReport = JSON.parse(JSON.stringify(fixture({ pass: false, samples: false })));
    expect(report.latencyMs.p99).toBeNull();
    const doc = renderHtml(report);
    expect(doc).not.toMatch(/NaN|Infinity|undefined|null|∞/);
    expect(visibleText(doc)).toContain("No latency samples in this run");
  });

  it("draws the canvas restart: figures and reconnect attempts per bucket", () => {
    const doc = renderHtml({ ...fixture({ pass: true }), fault: fault() });
    expect(doc.match(/<svg\b/g)).toHaveLength(3);
    expect(doc).toMatch(/<svg[^>]*aria-label="Reconnect attempts per 100 ms after the canvas host was killed"/);
    const text = visibleText(doc);
    expect(text).toContain("Canvas host restart");
    // The peak bucket of the fixture: 7 attempts in [200, 300) ms.
    expect(text).toContain("7 at +200.0 ms");
    expect(doc).toContain("<title>+200.0 ms: 7 attempts</title>");
    expect(text).toContain("all back");
    expect(doc).not.toMatch(/NaN|Infinity|undefined/);
  });

  it("renders a restart that never recovered, after a JSON round trip, without NaN", () => {
    const never: FaultReport = {
      ...fault(),
      allConnectedMs: undefined,
      allCaughtUpMs: undefined,
      presenceExactMs: undefined,
      attemptsPerBucket: [],
      connectsPerBucket: [],
      canvasDownMs: Number.NaN,
    };
    const report: LoadReport = JSON.parse(JSON.stringify({ ...fixture({ pass: false }), fault: never }));
    const doc = renderHtml(report);
    expect(doc).not.toMatch(/NaN|Infinity|undefined|null/);
    expect(visibleText(doc)).toContain("No reconnect attempts recorded");
    expect(visibleText(doc)).toContain("never");
  });
});

/** A small restart: 20 clients, attempts from seeded times after the kill at t = 0. */
function fault(): FaultReport {
  const attempts = [10, 40, 90, 120, 150, 200, 210, 220, 230, 250, 260, 290, 450, 900, 1400, 2100];
  const connects = [900, 1400, 2100];
  const perBucket = bucketTimes(attempts, 0, 100);
  const peak = peakBucket(perBucket);
  return {
    kind: "canvas restart",
    atPlacement: 400,
    canvasDownMs: 850,
    socketsDropped: 20,
    backoff: { baseMs: 250, capMs: 10_000, giveUpAfterMs: 60_000 },
    bucketMs: 100,
    attemptsPerBucket: perBucket,
    connectsPerBucket: bucketTimes(connects, 0, 100, perBucket.length * 100),
    attempts: attempts.length,
    peakAttemptsPerBucket: peak.count,
    peakAtMs: peak.index * 100,
    peakAttemptsPerS: peak.count * 10,
    everyoneAtOncePerBucket: 20,
    allConnectedMs: 2100,
    allCaughtUpMs: 2140,
    presenceExactMs: 2300,
    resyncs: 0,
    gaveUp: 0,
    canvasUnavailable: 20,
    serverSeq: 120,
    clientsAtServerSeq: 20,
    changedElsewhere: 0,
    generatorLoopDelayMaxMs: 31,
  };
}
