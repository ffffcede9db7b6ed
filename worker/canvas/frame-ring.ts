/**
 * @module frame-ring
 * The recent broadcast frames, kept so that a client that missed some (a dropped socket, a sleeping
 * tab, a snapshot from the edge cache that is a second old) can catch up without a full snapshot.
 * Bounded both in frames and in bytes; frames are kept as the exact bytes that were broadcast.
 */

export interface StoredFrame {
  seq: number;
  bytes: Uint8Array;
}

export class FrameRing {
  private frames: StoredFrame[] = [];
  private head = 0; // index of the oldest frame in `frames`
  private bytes = 0;

  constructor(
    readonly maxFrames: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.frames.length - this.head;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** The oldest sequence held, or undefined when empty. */
  get oldestSeq(): number | undefined {
    return this.frames[this.head]?.seq;
  }

  /** Appends a frame; sequences must increase by exactly one. */
  push(frame: StoredFrame): void {
    const last = this.frames[this.frames.length - 1];
    if (last && this.size > 0 && frame.seq !== last.seq + 1) {
      throw new RangeError(`frame ${frame.seq} does not follow ${last.seq}`);
    }
    this.frames.push(frame);
    this.bytes += frame.bytes.length;
    while (this.size > this.maxFrames || (this.bytes > this.maxBytes && this.size > 1)) {
      const dropped = this.frames[this.head];
      if (!dropped) break;
      this.bytes -= dropped.bytes.length;
      this.head++;
    }
    // Compact lazily so that dropping from the front stays O(1) amortised.
    if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Every frame after `seq` up to `current`, oldest first: empty when the client is up to date, and
   * undefined when some of them are no longer held (the client must refetch the snapshot).
   */
  since(seq: number, current: number): StoredFrame[] | undefined {
    if (seq >= current) return [];
    const oldest = this.oldestSeq;
    if (oldest === undefined || seq + 1 < oldest) return undefined;
    return this.frames.slice(this.head + (seq + 1 - oldest));
  }
}
