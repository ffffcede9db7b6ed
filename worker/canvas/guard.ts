/**
 * @module guard
 * The canvas's authoritative admission rules for placements and sockets, without sockets or storage:
 * freeze, bans, per-identity and per-network token buckets, and socket caps. The canvas is the one
 * place that sees every socket of an identity (tabs, regions) and of a network, so the limits that
 * must hold across them are decided here; the edge only pre-checks to stop floods early.
 *
 * Memory stays bounded: a bucket that has refilled remembers nothing a fresh one would not, so full
 * buckets are swept away once the maps grow.
 */
import type { Limits } from "../limits.ts";
import { ErrorCode } from "../protocol.ts";
import { TokenBucket } from "../token-bucket.ts";

/** Buckets kept before a sweep of full ones is worth its time. */
const SWEEP_ABOVE = 4096;
const SWEEP_EVERY_MS = 10_000;

/** Token buckets by key, created full on first use and dropped again once full. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  get size(): number {
    return this.buckets.size;
  }

  /** Milliseconds until `cost` tokens are there for `key` (0: now; Infinity: never). */
  waitMs(key: string, cost: number, capacity: number, rate: number, now: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return cost > capacity ? Number.POSITIVE_INFINITY : 0;
    if (bucket.capacity !== capacity || bucket.ratePerSecond !== rate) bucket.setLimits(capacity, rate, now);
    return bucket.waitMs(cost, now);
  }

  /** Takes `cost` tokens for `key`; call after `waitMs` said 0. */
  take(key: string, cost: number, capacity: number, rate: number, now: number): void {
    const bucket = this.buckets.get(key);
    if (bucket) {
      bucket.take(cost, now);
      return;
    }
    // Spend before sweeping: a fresh bucket is full, so the sweep would drop it and forget the spend.
    const fresh = new TokenBucket(capacity, rate, now);
    fresh.take(cost, now);
    this.buckets.set(key, fresh);
    this.maybeSweep(now);
  }

  private maybeSweep(now: number): void {
    if (this.buckets.size <= SWEEP_ABOVE || now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }
}

export interface Refusal {
  code: ErrorCode;
  message: string;
  retryAfterMs: number;
}

/** Where a channel comes from: the identity and network its edge vouched for. */
export interface Origin {
  identity: string;
  network: string;
}

/** The canvas's two kinds of socket: an edge channel per connection, and its live socket [P19]. */
export type SocketKind = "channel" | "live";

export class Guard {
  private readonly identityBuckets = new KeyedBuckets();
  private readonly networkBuckets = new KeyedBuckets();
  private readonly banned = new Set<string>();
  /** Open sockets per identity and per network, counted apart for channels and live sockets. */
  private readonly sockets: Record<SocketKind, { identity: Map<string, number>; network: Map<string, number> }> = {
    channel: { identity: new Map(), network: new Map() },
    live: { identity: new Map(), network: new Map() },
  };

  constructor(public limits: Limits) {}

  setBanned(identity: string, banned: boolean): void {
    if (banned) this.banned.add(identity);
    else this.banned.delete(identity);
  }

  isBanned(identity: string): boolean {
    return this.banned.has(identity);
  }

  /**
   * Admits a placement of `pixels` pixels, spending from both buckets, or says why not. Nothing is
   * spent from either bucket when the placement is refused.
   */
  admitPlacement(origin: Origin, pixels: number, now: number): Refusal | undefined {
    const l = this.limits;
    if (l.frozen) return { code: ErrorCode.Frozen, message: "the canvas is frozen", retryAfterMs: 0 };
    if (this.banned.has(origin.identity)) {
      return { code: ErrorCode.Banned, message: "this identity may not draw", retryAfterMs: 0 };
    }
    const identityWait = this.identityBuckets.waitMs(origin.identity, pixels, l.pixelBurst, l.pixelsPerSecond, now);
    if (identityWait === Number.POSITIVE_INFINITY) {
      return {
        code: ErrorCode.TooLarge,
        message: `${pixels} pixels at once; the burst is ${l.pixelBurst}`,
        retryAfterMs: 0,
      };
    }
    if (identityWait > 0) {
      return {
        code: ErrorCode.RateLimited,
        message: `${l.pixelsPerSecond} pixels per second per person`,
        retryAfterMs: Math.ceil(identityWait),
      };
    }
    const networkOn = l.networkPixelsPerSecond > 0 && l.networkPixelBurst > 0;
    if (networkOn) {
      const wait = this.networkBuckets.waitMs(
        origin.network,
        pixels,
        l.networkPixelBurst,
        l.networkPixelsPerSecond,
        now,
      );
      if (wait > 0) {
        return {
          code: ErrorCode.RateLimited,
          message: `${l.networkPixelsPerSecond} pixels per second per network`,
          retryAfterMs: wait === Number.POSITIVE_INFINITY ? 1000 : Math.ceil(wait),
        };
      }
      this.networkBuckets.take(origin.network, pixels, l.networkPixelBurst, l.networkPixelsPerSecond, now);
    }
    this.identityBuckets.take(origin.identity, pixels, l.pixelBurst, l.pixelsPerSecond, now);
    return undefined;
  }

  /**
   * Whether one more socket of `kind` from `origin` fits under the caps; a message when it does not.
   * A connection is a channel and a live socket [P19]: each kind has the whole cap, so the caps
   * count connections, and neither kind can be opened without bound on its own.
   */
  socketRefusal(origin: Origin, kind: SocketKind = "channel"): string | undefined {
    const { socketsPerIdentity, socketsPerNetwork } = this.limits;
    const counts = this.sockets[kind];
    const what = kind === "live" ? "live sockets" : "open sockets";
    if (socketsPerIdentity > 0 && (counts.identity.get(origin.identity) ?? 0) >= socketsPerIdentity) {
      return `at most ${socketsPerIdentity} ${what} per person`;
    }
    if (socketsPerNetwork > 0 && (counts.network.get(origin.network) ?? 0) >= socketsPerNetwork) {
      return `at most ${socketsPerNetwork} ${what} per network`;
    }
    return undefined;
  }

  socketOpened(origin: Origin, kind: SocketKind = "channel"): void {
    bump(this.sockets[kind].identity, origin.identity, 1);
    bump(this.sockets[kind].network, origin.network, 1);
  }

  socketClosed(origin: Origin, kind: SocketKind = "channel"): void {
    bump(this.sockets[kind].identity, origin.identity, -1);
    bump(this.sockets[kind].network, origin.network, -1);
  }

  socketsOf(origin: Partial<Origin>, kind: SocketKind = "channel"): { identity: number; network: number } {
    const counts = this.sockets[kind];
    return {
      identity: origin.identity === undefined ? 0 : (counts.identity.get(origin.identity) ?? 0),
      network: origin.network === undefined ? 0 : (counts.network.get(origin.network) ?? 0),
    };
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next > 0) map.set(key, next);
  else map.delete(key);
}
