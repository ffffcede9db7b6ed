/**
 * @module bus
 * One edge isolate's copy of the canvas's broadcasts, shared by its sessions: the canvas sends each
 * broadcast to one channel per isolate instead of one per client, and the isolate fans it out.
 *
 * A session cannot send on another request's socket, but it can wake another request: a promise
 * created in one request's context and resolved from another's runs its continuation back in the
 * context that created it (workerd tags promises with their request). So each session waits on a
 * promise of its own; the session whose channel carried a broadcast publishes it here and resolves
 * everyone's promise; each session then sends the new entries to its own client, in its own
 * context. The canvas's cost per frame becomes one send per isolate; the per-client sends happen
 * in the isolates, which scale out.
 *
 * Entries are kept in a bounded ring in the order published. Pixels frames carry their sequence and
 * presence their version, and one already published (the canvas moved an isolate's broadcasts to
 * another channel and both carried it) is dropped. A session that falls further behind than the ring skips ahead: its client
 * sees a gap and catches up, as every client does after a gap [P14].
 */

import type { Unwrapped } from "../protocol.ts";

/** A broadcast as the isolate keeps it: the client frame, its order, and its place in the ring. */
export type BusEntry = Unwrapped & {
  /** Position in publication order, from 1. */
  index: number;
};

/** Entries kept for sessions that have not caught up yet: more than a second of frames at 50/s. */
export const BUS_CAPACITY = 256;

export class BroadcastBus {
  private ring: BusEntry[] = [];
  private nextIndex = 1;
  /** The highest Pixels sequence and presence version published. */
  private newestSeq = 0;
  private newestPresence = 0;
  /** One wake-up per waiting session, by session number. */
  private readonly waiters = new Map<number, () => void>();

  constructor(readonly capacity = BUS_CAPACITY) {}

  get latestIndex(): number {
    return this.nextIndex - 1;
  }

  get latestSeq(): number {
    return this.newestSeq;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * Publishes a broadcast and wakes every waiting session. One that is not newer than what was
   * published already (a Pixels sequence or a presence version at or below the newest) is a
   * duplicate and is refused: returns false.
   */
  publish(message: Unwrapped): boolean {
    if (message.kind === "pixels") {
      if (message.seq <= this.newestSeq) return false;
      this.newestSeq = message.seq;
    } else {
      if (message.version <= this.newestPresence) return false;
      this.newestPresence = message.version;
    }
    this.ring.push({ ...message, index: this.nextIndex++ });
    if (this.ring.length > this.capacity) this.ring.shift();
    const wake = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of wake) w();
    return true;
  }

  /** Entries published after `index`, oldest first (fewer if the ring no longer holds them all). */
  since(index: number): BusEntry[] {
    const first = this.ring[0];
    if (!first || index >= this.latestIndex) return [];
    return this.ring.slice(Math.max(0, index + 1 - first.index));
  }

  /**
   * Where a session that joined at canvas sequence `seq` starts: the Pixels frames after `seq`
   * already here (published before it subscribed), then the newest presence, and the index to
   * continue from.
   */
  join(seq: number): { entries: BusEntry[]; index: number } {
    const entries: BusEntry[] = this.ring.filter((e) => e.kind === "pixels" && e.seq > seq);
    for (let i = this.ring.length - 1; i >= 0; i--) {
      const e = this.ring[i];
      if (e?.kind !== "presence") continue;
      entries.push(e);
      break;
    }
    return { entries, index: this.latestIndex };
  }

  /**
   * A promise that resolves at the next publish (or when `leave` is called). Create it in the
   * waiting session's own request context: that is where its continuation will run.
   */
  wait(session: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.get(session)?.();
      this.waiters.set(session, resolve);
    });
  }

  /** A session leaves: its wait ends now. */
  leave(session: number): void {
    const wake = this.waiters.get(session);
    this.waiters.delete(session);
    wake?.();
  }
}
