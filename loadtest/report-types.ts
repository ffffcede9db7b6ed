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
  /** For restart and storm: the canvas host killed and restarted, and how the clients came back. */
  fault?: FaultReport | undefined;
  thresholds: Threshold[];
  pass: boolean;
}

/**
 * The canvas host killed (SIGKILL) mid-run and started again on the same state and port. Times are
 * milliseconds from the kill, from client-side clocks (Date.now() in the load generator); undefined
 * when it never happened within the watch.
 */
export interface FaultReport {
  kind: "canvas restart";
  /** Placements sent when the host was killed. */
  atPlacement: number;
  /** From the kill until the restarted host answered /api/health. */
  canvasDownMs: number;
  /** Clients whose socket the fault closed (every one of them: each channel ran through the host). */
  socketsDropped: number;
  /** The clients' reconnect pacing: full-jitter backoff in [0, min(cap, base·2^attempt)), given up after. */
  backoff: { baseMs: number; capMs: number; giveUpAfterMs: number };
  bucketMs: number;
  /** Reconnect attempts (successful or not) per bucket, from the kill. */
  attemptsPerBucket: number[];
  /** Each client's successful reconnect, per bucket, from the kill. */
  connectsPerBucket: number[];
  attempts: number;
  /** The fullest bucket of attempts, when it began (ms from the kill), and as a rate per second. */
  peakAttemptsPerBucket: number;
  peakAtMs: number;
  peakAttemptsPerS: number;
  /** The same bucket if every client retried at once: the number of clients. */
  everyoneAtOncePerBucket: number;
  /** Until every client was connected again, caught up to the sequence its new hello named, and presence exact. */
  allConnectedMs: number | undefined;
  allCaughtUpMs: number | undefined;
  presenceExactMs: number | undefined;
  /** Resync frames answered with a snapshot, clients that gave up, `canvas_unavailable` errors seen. */
  resyncs: number;
  gaveUp: number;
  canvasUnavailable: number;
  /** At rest after the run: the server's sequence and how many clients held exactly it. */
  serverSeq: number;
  clientsAtServerSeq: number;
  /** Pixels that are neither an accepted placement nor as they were before the run (must be 0). */
  changedElsewhere: number;
  /** The load generator's worst event-loop delay after the kill: how late its own timers could fire. */
  generatorLoopDelayMaxMs: number;
}
