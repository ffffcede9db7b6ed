/**
 * Tests of the benchmark page (report-html.ts): from a small fixture in the shape run.ts writes, the
 * page names every system with its capacity, draws one latency line per system per client count on a
 * log-rate axis with the 250 ms bound and the failing steps marked, escapes the strings that come from
 * the file, and still renders from partial or older JSON (a system without steps, no `systems` at all,
 * garbage) without printing "NaN" or "undefined".
 */
import { describe, expect, it } from "vitest";
import { readBench, renderBenchHtml } from "./report-html.ts";

const HOSTILE_NAME = "<script>alert(1)</script>";
const HOSTILE_DESCRIPTION = `"><img src=x onerror=alert(2)>`;

interface StepSpec {
  rate: number;
  p99: number;
  pass: boolean;
}

function step({ rate, p99, pass }: StepSpec) {
  return {
    rate,
    sent: rate * 3,
    deliveryRatio: 1,
    p50: p99 / 3,
    p99,
    framesPerS: 900,
    framesPerClientPerS: 45 - Math.log10(rate),
    runtimeCpuMs: 1000 + rate / 10,
    generatorCpuPct: 20,
    pass,
  };
}

function counts(caps: [number, number], steps: [StepSpec[], StepSpec[]]) {
  return [
    { clients: 20, capacity: caps[0], steps: steps[0].map(step), memoryPerClientBytes: 1e5 },
    { clients: 100, capacity: caps[1], steps: steps[1].map(step), memoryPerClientBytes: 1e5 },
  ];
}

/** Three systems at 20 and 100 clients, stepping 100 → 1,000 → 10,000 placements/s. */
function fixture() {
  return {
    machine: "2 cores, shared; load generator in the same machine",
    criteria: { deliveryMin: 0.999, p99MaxMs: 250, stepMs: 3000 },
    capacityRatio: 0.5,
    capacity: { project: { C20: 1000, C100: 100 }, regions: { C20: 100, C100: 0 } },
    baseline: { C20: 10000, C100: 200 },
    systems: [
      {
        system: "project",
        description: "one wrangler dev",
        byClients: counts(
          [1000, 100],
          [
            [
              { rate: 100, p99: 40, pass: true },
              { rate: 1000, p99: 120, pass: true },
              { rate: 10000, p99: 400, pass: false },
            ],
            [
              { rate: 100, p99: 200, pass: true },
              { rate: 1000, p99: 300, pass: false },
            ],
          ],
        ),
      },
      {
        system: "regions",
        description: "four edges",
        byClients: counts(
          [100, 0],
          [
            [
              { rate: 100, p99: 90, pass: true },
              { rate: 1000, p99: 1500, pass: false },
            ],
            [{ rate: 100, p99: 280, pass: false }],
          ],
        ),
      },
      {
        system: "baseline",
        description: "bare Durable Object",
        byClients: counts(
          [10000, 200],
          [
            [
              { rate: 100, p99: 60, pass: true },
              { rate: 1000, p99: 70, pass: true },
              { rate: 10000, p99: 200, pass: true },
            ],
            [
              { rate: 100, p99: 150, pass: true },
              { rate: 1000, p99: 260, pass: false },
            ],
          ],
        ),
      },
    ],
  };
}

/** The markup of one figure (`latency-c20`, `capacity-c100`, …). */
function figure(doc: string, id: string): string {
  const found = new RegExp(`<figure id="${id}">([\\s\\S]*?)</figure>`).exec(doc)?.[1];
  if (found === undefined) throw new Error(`no figure ${id}`);
  return found;
}

/** The table row of one system in the capacity table. */
function capacityRow(doc: string, system: string): string {
  return new RegExp(`<tr data-system="${system}">([\\s\\S]*?)</tr>`).exec(doc)?.[1] ?? "";
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

function polylines(markup: string): { system: string; points: [number, number][] }[] {
  return [
    ...markup.matchAll(/<g class="series s\d" data-system="([^"]*)">\s*<polyline class="line" points="([^"]*)"/g),
  ].map((m) => ({
    system: m[1] ?? "",
    points: (m[2] ?? "")
      .split(" ")
      .filter(Boolean)
      .map((p) => p.split(",").map(Number) as [number, number]),
  }));
}

function expectNoGaps(doc: string): void {
  expect(visibleText(doc)).not.toMatch(/NaN|undefined|Infinity/);
  expect(doc).not.toMatch(/="NaN"|="undefined"/);
}

describe("renderBenchHtml", () => {
  const doc = renderBenchHtml(fixture());

  it("is one self-contained document: no scripts, no external references", () => {
    expect(doc.startsWith("<!doctype html>")).toBe(true);
    expect(doc.trimEnd().endsWith("</html>")).toBe(true);
    expect(doc).not.toMatch(/<script|<link|src=|href=|url\(/i);
    expect(doc).toContain("Content-Security-Policy");
    expect(doc).toContain("prefers-color-scheme: dark");
    expectNoGaps(doc);
  });

  it("names every system and gives each a capacity per client count, with its ratio to the baseline", () => {
    const text = visibleText(doc);
    for (const name of ["project", "regions", "baseline"]) expect(text).toContain(name);
    expect(visibleText(capacityRow(doc, "project"))).toMatch(/1,000[\s\S]*0\.10×[\s\S]*100[\s\S]*0\.50×/);
    expect(visibleText(capacityRow(doc, "regions"))).toMatch(/100[\s\S]*0\.01×[\s\S]*< 100[\s\S]*0\.00×/);
    expect(visibleText(capacityRow(doc, "baseline"))).toMatch(/10,000[\s\S]*1\.00×[\s\S]*200[\s\S]*1\.00×/);
    // The step that ended each run is named beside the capacity.
    expect(visibleText(capacityRow(doc, "project"))).toContain("10,000/s failed: p99 400.0 ms");
    expect(visibleText(capacityRow(doc, "baseline"))).toContain("every step passed");
    expect(visibleText(doc)).toMatch(/capacityRatio\s+0\.50×/);
    // A bar per system with a capacity above 0; the one with none says so instead.
    const c100 = figure(doc, "capacity-c100");
    expect(c100.match(/<rect class="bar"/g)).toHaveLength(2);
    expect(visibleText(c100)).toContain("< 100/s: no step passed");
  });

  it("draws one latency polyline per system per client count, on a log axis of rates", () => {
    for (const c of [20, 100]) {
      const lines = polylines(figure(doc, `latency-c${c}`));
      expect(lines.map((l) => l.system)).toEqual(["project", "regions", "baseline"]);
    }
    // 100, 1,000 and 10,000 placements/s are a decade apart each, so equally far apart on the page.
    const baseline = polylines(figure(doc, "latency-c20")).find((l) => l.system === "baseline");
    const xs = baseline?.points.map(([x]) => x) ?? [];
    expect(xs).toHaveLength(3);
    expect((xs[1] ?? 0) - (xs[0] ?? 0)).toBeCloseTo((xs[2] ?? 0) - (xs[1] ?? 0), 0);
    // Lower latency is drawn lower (larger y in SVG).
    const ys = baseline?.points.map(([, y]) => y) ?? [];
    expect(ys[0]).toBeGreaterThan(ys[2] ?? 0);
  });

  it("draws the 250 ms pass bound and marks the failing steps", () => {
    for (const [c, failed] of [
      [20, 2],
      [100, 3],
    ] as const) {
      const fig = figure(doc, `latency-c${c}`);
      expect(fig).toMatch(/<line class="bound"/);
      expect(visibleText(fig)).toContain("250 ms");
      // One cross per failed step, plus the one in the legend's key.
      expect(fig.match(/class="cross"/g)).toHaveLength(failed + 1);
    }
    // The runaway 1.5 s step is pinned to the top of the axis and labelled with its value.
    expect(visibleText(figure(doc, "latency-c20"))).toContain("↑ 1.50 s");
  });

  it("has the frames-per-client and runtime-CPU charts for each client count", () => {
    for (const c of [20, 100]) {
      expect(polylines(figure(doc, `frames-c${c}`))).toHaveLength(3);
      expect(polylines(figure(doc, `cpu-c${c}`))).toHaveLength(3);
    }
  });

  it("shows the machine and the criteria from the file", () => {
    const text = visibleText(doc);
    expect(text).toContain("2 cores, shared; load generator in the same machine");
    expect(text).toContain("delivery ≥ 99.9 % and p99 place → seen < 250 ms");
    expect(text).toContain("3 s of load per rate");
  });

  it("names the rates the file stepped through, not a fixed ladder", () => {
    const text = visibleText(doc);
    expect(text).toContain("in the steps 100, 1,000, 10,000 per second");
    expect(text).toContain("“< 100” means even the first step failed");
  });

  it("stacks the value labels of runaway steps that would overlap at the top edge", () => {
    const two = fixture();
    const [a, b] = two.systems;
    if (!a || !b) throw new Error("fixture has three systems");
    a.byClients[0] = counts([1000, 0], [[{ rate: 1000, p99: 800, pass: false }], []])[0] as (typeof a.byClients)[0];
    b.byClients[0] = counts([1000, 0], [[{ rate: 1000, p99: 900, pass: false }], []])[0] as (typeof b.byClients)[0];
    const chart = figure(renderBenchHtml(two), "latency-c20");
    const labels = [...chart.matchAll(/<text class="value halo" x="([\d.]+)" y="([\d.]+)"[^>]*>↑/g)].map((m) => ({
      x: Number(m[1]),
      y: Number(m[2]),
    }));
    expect(labels).toHaveLength(2);
    expect(labels[0]?.x).toBe(labels[1]?.x);
    expect(Math.abs((labels[0]?.y ?? 0) - (labels[1]?.y ?? 0))).toBeGreaterThanOrEqual(14);
  });

  it("on a dense ladder, gives every step a grid line but thins the labels so they never overlap", () => {
    const rates = [100, 150, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10_000, 15_000, 20_000];
    const dense = fixture();
    for (const sys of dense.systems) {
      for (const c of sys.byClients) c.steps = rates.map((rate) => step({ rate, p99: 60, pass: true }));
    }
    const chart = figure(renderBenchHtml(dense), "latency-c20");
    const gridXs = [...chart.matchAll(/<line class="grid" x1="([\d.]+)" x2="\1" y1/g)].map((m) => Number(m[1]));
    expect(gridXs).toHaveLength(rates.length);
    const labelXs = [
      ...chart.matchAll(/<text class="muted" x="([\d.]+)" y="[\d.]+" text-anchor="middle" font-size="11">/g),
    ].map((m) => Number(m[1]));
    expect(labelXs.length).toBeGreaterThan(3);
    expect(labelXs.length).toBeLessThan(rates.length);
    for (let i = 1; i < labelXs.length; i++)
      expect((labelXs[i] ?? 0) - (labelXs[i - 1] ?? 0)).toBeGreaterThanOrEqual(30);
  });

  it("escapes the strings that come from the file", () => {
    const hostile = fixture();
    const first = hostile.systems[0];
    if (!first) throw new Error("fixture has no systems");
    first.system = HOSTILE_NAME;
    first.description = HOSTILE_DESCRIPTION;
    hostile.machine = "</title><script>alert(3)</script>";
    const page = renderBenchHtml(hostile);
    expect(page).not.toMatch(/<script|<img/i);
    expect(page).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page).toContain("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;");
    expect(visibleText(page)).toContain(HOSTILE_NAME);
    expect(visibleText(page)).toContain(HOSTILE_DESCRIPTION);
    expect(visibleText(page)).toContain("</title><script>alert(3)</script>");
  });

  it("copes with a system missing steps: no line for it, a note in the legend, the rest intact", () => {
    const partial = fixture();
    const regions = partial.systems[1];
    if (!regions) throw new Error("fixture has no regions");
    // At 20 clients the steps are gone (and the capacity with them); at 100 the whole entry is.
    regions.byClients = [{ clients: 20 } as (typeof regions.byClients)[number]];
    const page = renderBenchHtml(partial);
    expectNoGaps(page);
    for (const c of [20, 100]) {
      const fig = figure(page, `latency-c${c}`);
      expect(polylines(fig).map((l) => l.system)).toEqual(["project", "baseline"]);
      expect(visibleText(fig)).toContain("regions (no steps)");
    }
    // The capacity comes from the summary map when the entry lacks it.
    expect(visibleText(capacityRow(page, "regions"))).toMatch(/^\s*regions\s+100\b/);
  });

  it("renders an older file with only the summary maps, and garbage, without throwing", () => {
    const old = renderBenchHtml({ capacity: { project: { C200: 2000 } }, baseline: { C200: 10000 } });
    expectNoGaps(old);
    expect(visibleText(capacityRow(old, "project"))).toMatch(/2,000[\s\S]*0\.20×/);
    expect(visibleText(figure(old, "latency-c200"))).toContain("No steps measured at 200 clients");
    for (const garbage of [null, "x", 42, [], { systems: "no" }, { systems: [{ byClients: [{ clients: "x" }] }] }]) {
      const page = renderBenchHtml(garbage);
      expect(page).toContain("</html>");
      expectNoGaps(page);
    }
  });
});

describe("readBench", () => {
  it("keeps null (NaN) figures as missing and derives a missing verdict from the criteria", () => {
    const bench = readBench({
      criteria: { deliveryMin: 0.999, p99MaxMs: 250 },
      systems: [
        {
          system: "project",
          byClients: [
            {
              clients: 20,
              steps: [
                { rate: 200, p99: 300, deliveryRatio: 1 },
                { rate: 100, p99: 100, deliveryRatio: 1 },
                { rate: 500, p99: null, deliveryRatio: 0 },
              ],
            },
          ],
        },
      ],
    });
    const steps = bench.systems[0]?.byClients[0]?.steps ?? [];
    expect(steps.map((s) => [s.rate, s.pass])).toEqual([
      [100, true],
      [200, false],
      [500, false],
    ]);
    expect(steps[2]?.p99).toBeUndefined();
    // A step with neither verdict nor figures stays undecided rather than passing.
    const bare = readBench({ systems: [{ system: "x", byClients: [{ clients: 1, steps: [{ rate: 100 }] }] }] });
    expect(bare.systems[0]?.byClients[0]?.steps[0]?.pass).toBeUndefined();
    expect(bench.systems[0]?.byClients[0]?.capacity).toBe(100);
    expect(bench.p99MaxMs).toBe(250);
  });
});
