/**
 * @module scenarios
 * The load test's named scenarios and their pass/fail thresholds. Each is a default set of options;
 * command-line flags override any of them.
 */

export type ScenarioName = "smoke" | "standard" | "stress" | "churn" | "chaos" | "restart" | "storm";

export interface Scenario {
  name: ScenarioName;
  description: string;
  regions: number;
  /** Clients that stay connected for the whole run (delivery is measured on them). */
  clients: number;
  /** Placements per client. */
  pixels: number;
  /** Placements per second, all clients together. */
  rate: number;
  /** Churn: extra clients opened and closed in bursts of this size every 500 ms while placing. */
  churnBurst: number;
  /** Chaos: kill the last edge region when this share of the placements has been sent. */
  killAt: number | undefined;
  /**
   * Restart and storm: kill the canvas host (SIGKILL of its process group, as a crash) when this share
   * of the placements has been sent, and start it again on the same state and port. Clients then
   * reconnect with the page's backoff (web/pacing.ts).
   */
  restartAt: number | undefined;
  /** Storm: also hold the reconnect storm to its thresholds (peak rate below everyone at once, presence). */
  storm: boolean;
  /** Presence heartbeat for the local stack (expiry is three of them). */
  heartbeatMs: number;
  /**
   * The p99 latency (place → seen by others) the run must stay under: a sanity bound ("still
   * interactive"), not a speed goal — those live in `npm run bench`, since this machine is shared.
   */
  p99LimitMs: number;
}

const base = { churnBurst: 0, killAt: undefined, restartAt: undefined, storm: false, heartbeatMs: 2000 } as const;

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  smoke: {
    ...base,
    name: "smoke",
    description: "small and quick, for CI: 2 regions, 20 clients",
    regions: 2,
    clients: 20,
    pixels: 10,
    rate: 100,
    p99LimitMs: 1000,
  },
  standard: {
    ...base,
    name: "standard",
    description: "4 regions, 200 clients, 200 placements/s",
    regions: 4,
    clients: 200,
    pixels: 20,
    rate: 200,
    p99LimitMs: 1500,
  },
  stress: {
    ...base,
    name: "stress",
    // Found by stepping clients up on this 2-core machine (docs/loadtest.md): 2,000 pass the
    // thresholds with 100 % delivery and exact presence (p99 1.6 s); 3,000 stay exact but p99 is 2.6 s.
    description: "the most this machine carries within the thresholds: 4 regions, 2,000 clients",
    regions: 4,
    clients: 2000,
    pixels: 3,
    rate: 500,
    p99LimitMs: 2500,
  },
  churn: {
    ...base,
    name: "churn",
    description: "100 steady clients plus bursts of 20 connecting and 20 leaving every 500 ms",
    regions: 4,
    clients: 100,
    pixels: 30,
    rate: 300,
    churnBurst: 20,
    p99LimitMs: 2500,
  },
  chaos: {
    ...base,
    name: "chaos",
    description: "3 regions, one killed mid-run: its clients move, nothing is lost, its presence expires",
    regions: 3,
    clients: 150,
    pixels: 20,
    rate: 200,
    killAt: 0.4,
    heartbeatMs: 1000,
    p99LimitMs: 10_000,
  },
  restart: {
    ...base,
    name: "restart",
    description:
      "3 regions, 150 clients; the canvas host crashes at 40 % and restarts on its state: all resume, nothing seen is lost",
    regions: 3,
    clients: 150,
    pixels: 20,
    rate: 200,
    restartAt: 0.4,
    // A delivery to a client that is still waiting out its backoff arrives when it is back, so the
    // tail is the recovery time, which has its own bound (all back within the backoff's 60 s). A
    // tighter bound failed on a busy machine with everything else passing (p99 21.0 s and 34.4 s:
    // clients back after 31 s and 44 s), so this one is the same 60 s.
    p99LimitMs: 60_000,
  },
  storm: {
    ...base,
    name: "storm",
    description:
      "3 regions, 300 clients; every socket dropped at once (canvas host restart): reconnect rate, time to all back",
    regions: 3,
    clients: 300,
    pixels: 3,
    rate: 100,
    restartAt: 0.3,
    storm: true,
    p99LimitMs: 60_000, // as for restart: the tail is the recovery time
  },
};

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(SCENARIOS, name);
}
