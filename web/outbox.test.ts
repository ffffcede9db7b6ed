/**
 * Tests of the queue of pixels placed while the page cannot send them (outbox.ts): bounded, one pixel
 * per place (the latest wins), oldest first, dropped by age, and unconfirmed pixels put back in front.
 */

import { describe, expect, it } from "vitest";
import { QUEUE_CAPACITY, QUEUE_MAX_AGE_MS, UnsentQueue } from "./outbox.ts";

const px = (x: number, y = 0, colour = 1) => ({ x, y, colour });

describe("UnsentQueue", () => {
  it("keeps pixels oldest first and hands them out in that order", () => {
    const queue = new UnsentQueue();
    expect(queue.push(px(1), 0)).toBe("queued");
    expect(queue.push(px(2), 1)).toBe("queued");
    expect(queue.push(px(3), 2)).toBe("queued");
    expect(queue.size).toBe(3);
    expect(queue.take(2).map((e) => e.pixel.x)).toEqual([1, 2]);
    expect(queue.pixels()).toEqual([px(3)]);
    expect(queue.take(5).map((e) => e.at)).toEqual([2]);
    expect(queue.size).toBe(0);
  });

  it("is bounded: past the capacity a pixel is refused, not an older one dropped", () => {
    const queue = new UnsentQueue(3);
    for (let x = 0; x < 3; x++) expect(queue.push(px(x), x)).toBe("queued");
    expect(queue.push(px(9), 9)).toBe("full");
    expect(queue.pixels().map((p) => p.x)).toEqual([0, 1, 2]);
    expect(new UnsentQueue().capacity).toBe(QUEUE_CAPACITY);
  });

  it("keeps one pixel per place: a later one replaces the earlier, moves to the back, and fits when full", () => {
    const queue = new UnsentQueue(2);
    queue.push(px(1, 1, 3), 0);
    queue.push(px(2, 2, 3), 1);
    expect(queue.push(px(1, 1, 5), 2)).toBe("replaced");
    expect(queue.size).toBe(2);
    expect(queue.pixels()).toEqual([px(2, 2, 3), px(1, 1, 5)]);
    expect(queue.take(2).map((e) => e.at)).toEqual([1, 2]);
  });

  it("drops pixels that waited longer than the maximum age, and returns them", () => {
    const queue = new UnsentQueue();
    queue.push(px(1), 0);
    queue.push(px(2), 10_000);
    expect(queue.expire(QUEUE_MAX_AGE_MS)).toEqual([]);
    expect(queue.expire(QUEUE_MAX_AGE_MS + 1).map((e) => e.pixel)).toEqual([px(1)]);
    expect(queue.pixels()).toEqual([px(2)]);
    expect(queue.expire(10_000 + QUEUE_MAX_AGE_MS + 1)).toHaveLength(1);
    expect(queue.size).toBe(0);
  });

  it("puts unconfirmed pixels back in front, unless a newer one holds the place or there is no room", () => {
    const queue = new UnsentQueue(3);
    queue.push(px(5, 0, 9), 50);
    queue.push(px(6), 60);
    const refused = queue.requeue([
      { pixel: px(1), at: 10 },
      { pixel: px(5, 0, 2), at: 20 }, // the queue's own (5, 0) is newer: skipped, not refused
      { pixel: px(1, 0, 4), at: 30 }, // the same place twice in the batch: the first stays
      { pixel: px(7), at: 40 }, // no room left
    ]);
    expect(queue.pixels()).toEqual([px(1), px(5, 0, 9), px(6)]);
    expect(refused.map((e) => e.pixel)).toEqual([px(7)]);
    // Requeued pixels keep the time they were placed, so they age out as if they had never left.
    expect(queue.expire(10 + QUEUE_MAX_AGE_MS + 1).map((e) => e.pixel)).toEqual([px(1)]);
  });
});
