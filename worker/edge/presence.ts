/**
 * @module presence
 * This isolate's count of its own client sockets, and when to report it to the Canvas Durable Object.
 *
 * The count is plain data at module scope, shared by every session of the isolate. The reports are
 * I/O, and I/O belongs to a request: a report can only go out through the channel of a session, from
 * code running in that session's own events (its messages, its close, its timers). So this class only
 * decides; sessions ask it "what now?" from their own events and do the sending:
 *
 * - on every open and close (the count changed): report now, unless the last report went out less
 *   than `coalesceMs` ago — then one session holds a timer for the rest of the interval, and keeps its
 *   channel open until the timer has fired, even if its client has left;
 * - on each session's heartbeat timer: report if nothing went out for about `heartbeatMs`, so the
 *   canvas knows the isolate is alive;
 * - when the last socket closes, the report of 0 goes out the same way: the closing session holds
 *   its channel for it.
 */

export type PresenceAction =
  | { kind: "send"; count: number; reportSeq: number }
  | { kind: "wait"; ms: number }
  | { kind: "none" };

export class IsolatePresence {
  count = 0;
  private reportSeq = 0;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private dirty = false;
  private timerHeld = false;

  constructor(
    readonly coalesceMs: number,
    readonly heartbeatMs: number,
  ) {}

  opened(): void {
    this.count += 1;
    this.dirty = true;
  }

  closed(): void {
    this.count = Math.max(0, this.count - 1);
    this.dirty = true;
  }

  /**
   * What the asking session should do now. "send" claims the next report number; "wait" makes the
   * asker the holder of the one coalescing timer, to call `timerFired` then `next` when it fires.
   */
  next(now: number): PresenceAction {
    // A heartbeat a little early is fine; one a whole interval late would risk expiry.
    const due = this.dirty || now - this.lastSentAt >= this.heartbeatMs * 0.9;
    if (!due) return { kind: "none" };
    const wait = this.lastSentAt + this.coalesceMs - now;
    if (wait > 0) {
      if (this.timerHeld) return { kind: "none" };
      this.timerHeld = true;
      return { kind: "wait", ms: wait };
    }
    this.reportSeq += 1;
    this.lastSentAt = now;
    this.dirty = false;
    return { kind: "send", count: this.count, reportSeq: this.reportSeq };
  }

  timerFired(): void {
    this.timerHeld = false;
  }

  /** A report that could not be sent: the count is still to be told. */
  unsent(): void {
    this.dirty = true;
  }
}
