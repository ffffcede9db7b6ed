/**
 * The load test's smoke scenario against the real local multi-region stack, as CI runs it: it must
 * pass, and its JSON must carry the documented fields with figures that add up.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

it("npm run loadtest -- --scenario smoke passes on 2 local regions, with exact presence", () => {
  const out = join(mkdtempSync(join(tmpdir(), "loadtest-")), "smoke.json");
  const run = spawnSync(
    join(ROOT, "node_modules/.bin/tsx"),
    ["loadtest/run.ts", "--scenario", "smoke", "--json", out],
    {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 240_000,
    },
  );
  expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  const report: unknown = JSON.parse(readFileSync(out, "utf8"));
  expect(report).toMatchObject({
    scenario: "smoke",
    clients: 20,
    distribution: { maxOverMin: 1 },
    broadcast: { ratio: 1, phantom: 0 },
    presence: { actual: 20, reported: 20, ratio: 1, perRegionExact: true },
    placements: { sent: 200, accepted: 200, rejected: 0 },
    pass: true,
  });
  const r = report as {
    regions: { name: string; clients: number; isolates: number }[];
    broadcast: { expected: number; received: number };
    latencyMs: { p50: number; p95: number; p99: number; max: number };
    errors: Record<string, number>;
  };
  // Two regions, ten clients each, each region one distinct isolate.
  expect(r.regions.map((g) => [g.name, g.clients, g.isolates])).toEqual([
    ["eu-west", 10, 1],
    ["us-east", 10, 1],
  ]);
  expect(r.broadcast.expected).toBe(200 * 20);
  expect(r.broadcast.received).toBe(r.broadcast.expected);
  expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p95);
  expect(r.latencyMs.p95).toBeLessThanOrEqual(r.latencyMs.p99);
  expect(r.latencyMs.p99).toBeLessThanOrEqual(r.latencyMs.max);
  expect(r.errors).toMatchObject({ connectFailures: 0, disconnects: 0, protocol: 0 });
}, 300_000);
