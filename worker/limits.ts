/**
 * @module limits
 * The placement limits: live knobs an admin can change at run time without a deploy. Defaults come
 * from `[vars]`; an admin's changes are stored by the canvas and win over them until reset.
 *
 * The canvas enforces them (it is the only place that sees every socket of an identity or a network);
 * the edge pre-checks the per-identity rate for the sockets of its own isolate, so floods stop there.
 */

export interface Limits {
  /** Sustained pixels per second per identity, and the burst it may spend at once. */
  pixelsPerSecond: number;
  pixelBurst: number;
  /** The same per network (an IPv4 address, or an IPv6 /64); 0 turns the network limit off. */
  networkPixelsPerSecond: number;
  networkPixelBurst: number;
  /** Open sockets per identity and per network; 0 means no cap. */
  socketsPerIdentity: number;
  socketsPerNetwork: number;
  /** While frozen every placement is refused (`frozen`); viewing goes on. */
  frozen: boolean;
}

/** The bounds of each numeric knob, shared by `[vars]` parsing and the admin API. */
export const LIMIT_RANGES: Readonly<Record<Exclude<keyof Limits, "frozen">, readonly [number, number]>> = {
  pixelsPerSecond: [1, 65535],
  pixelBurst: [1, 65535],
  networkPixelsPerSecond: [0, 1_000_000],
  networkPixelBurst: [0, 1_000_000],
  socketsPerIdentity: [0, 1_000_000],
  socketsPerNetwork: [0, 1_000_000],
};

export type LimitsPatch = Partial<Limits>;

/**
 * Checks an admin's change: a JSON object naming only known knobs, each an integer in its range
 * (`frozen` a boolean). Returns the patch or a message saying what is wrong.
 */
export function parseLimitsPatch(body: unknown): { ok: true; patch: LimitsPatch } | { ok: false; message: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, message: "expected a JSON object of limits" };
  }
  const patch: LimitsPatch = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "frozen") {
      if (typeof value !== "boolean") return { ok: false, message: "frozen must be true or false" };
      patch.frozen = value;
      continue;
    }
    if (!Object.hasOwn(LIMIT_RANGES, key)) {
      return {
        ok: false,
        message: `unknown limit ${JSON.stringify(key)}; known: ${Object.keys(LIMIT_RANGES).join(", ")}, frozen`,
      };
    }
    const name = key as keyof typeof LIMIT_RANGES;
    const [min, max] = LIMIT_RANGES[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      return { ok: false, message: `${key} must be an integer in [${min}, ${max}]` };
    }
    patch[name] = value;
  }
  return { ok: true, patch };
}

export function applyLimitsPatch(limits: Limits, patch: LimitsPatch): Limits {
  return { ...limits, ...patch };
}
