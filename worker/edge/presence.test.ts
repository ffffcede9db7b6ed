import { describe, expect, it } from "vitest";
import { IsolatePresence } from "./presence.ts";

describe("IsolatePresence [P16]", () => {
  it("reports a change at once when the last report is older than the coalescing interval", () => {
    const p = new IsolatePresence(250, 10_000);
    p.opened();
    expect(p.next(1000)).toEqual({ kind: "send", count: 1, reportSeq: 1 });
    expect(p.next(1001)).toEqual({ kind: "none" });
  });

  it("coalesces changes within the interval behind one timer, then sends the latest count", () => {
    const p = new IsolatePresence(250, 10_000);
    p.opened();
    expect(p.next(0)).toMatchObject({ kind: "send", count: 1 });
    p.opened();
    expect(p.next(100)).toEqual({ kind: "wait", ms: 150 });
    p.opened();
    p.closed();
    p.opened();
    // Only one session holds the timer; the others are told to do nothing.
    expect(p.next(120)).toEqual({ kind: "none" });
    p.timerFired();
    expect(p.next(250)).toEqual({ kind: "send", count: 3, reportSeq: 2 });
  });

  it("sends the report of 0 when the last socket closes", () => {
    const p = new IsolatePresence(250, 10_000);
    p.opened();
    p.next(0);
    p.closed();
    expect(p.next(5000)).toEqual({ kind: "send", count: 0, reportSeq: 2 });
  });

  it("heartbeats when nothing changed for about the heartbeat interval", () => {
    const p = new IsolatePresence(250, 10_000);
    p.opened();
    p.next(0);
    expect(p.next(8000)).toEqual({ kind: "none" });
    expect(p.next(9000)).toEqual({ kind: "send", count: 1, reportSeq: 2 });
  });

  it("a report that could not be sent is owed until one goes out", () => {
    const p = new IsolatePresence(250, 10_000);
    p.opened();
    p.next(0);
    p.unsent();
    expect(p.next(300)).toMatchObject({ kind: "send", count: 1 });
  });

  it("never counts below zero", () => {
    const p = new IsolatePresence(250, 10_000);
    p.closed();
    expect(p.count).toBe(0);
  });
});
