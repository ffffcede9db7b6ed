/**
 * @module report-types
 * The shape of a load-test report: what `--json` writes, what the terminal table and the `--html`
 * page are drawn from, and what the pass/fail thresholds are checked against.
 */

export interface LatencySummary {
  /** Number of samples (one per pixel delivery to a client other than its sender). */
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface RegionReport {
  name: string;
  /** Clients this region served (at the end of the run). */
  clients: number;
  /** Distinct edge isolates that served them (from the isolate ids in their hellos). */
  isolates: number;
  /** Delivery latency as seen by this region's clients. */
  latencyMs: LatencySummary;
  /** Presence: what the canvas reports for this region at rest, and how many sockets it really has. */
  presenceReported: number;
  presenceActual: number;
}

export interface Threshold {
  name: string;
  /** Human-readable requirement, e.g. "= 100.0 %". */
  want: string;
  got: string;
  pass: boolean;
}

export interface LoadReport {
  scenario: string;
  /** "local (K regions)" or the URLs targeted. */
  target: string;
  startedAt: string;
  durationS: number;
  clients: number;
  regions: RegionReport[];
  distribution: {
    /** Largest region's client count over the smallest's (1 is perfectly even). */
    maxOverMin: number;
    perIsolate: { isolateId: string; region: string; clients: number }[];
  };
  broadcast: {
    /** Pixel deliveries expected: accepted placements × clients that should see them. */
    expected: number;
    received: number;
    ratio: number;
    /** Deliveries of pixels that were rejected (must be 0). */
    phantom: number;
  };
  presence: {
    actual: number;
    reported: number;
    ratio: number;
    perRegionExact: boolean;
    /** Milliseconds from the last connect/disconnect until the reported total equalled the truth. */
    convergenceMs: number | undefined;
    /** For the chaos scenario: ms from an edge's death until its isolate left the presence table. */
    deadIsolateExpiryMs?: number | undefined;
  };
  latencyMs: LatencySummary;
  /** Latency histogram for the chart: bucket upper bounds in ms and counts. */
  latencyHistogram: { le: number; count: number }[];
  throughput: {
    placementsPerS: number;
    framesPerS: number;
    bytesPerS: number;
  };
  /** `lostInFlight`: sent through an edge that was killed, never seen by anyone, not on the canvas. */
  placements: { sent: number; accepted: number; rejected: number; lostInFlight: number };
  errors: { connectFailures: number; disconnects: number; reconnects: number; rejected: number; protocol: number };
  /** The load generator's own CPU use over the run, as a share of one core. */
  generatorCpu: number;
  /** For chaos: whether the canvas snapshot after the run holds every accepted pixel. */
  canvasIntact?: boolean | undefined;
  thresholds: Threshold[];
  pass: boolean;
}
