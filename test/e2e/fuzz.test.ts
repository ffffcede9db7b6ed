/**
 * A live fuzz round against the real local stack (docs/reliability.md): 20,000 hostile frames from
 * reconnecting attackers, and attackers sending on live sockets [P19], while well-behaved clients draw. Nothing they placed may be lost, every one
 * of them must have seen every pixel and applied every frame, and the canvas must still answer.
 */
import { expect, it } from "vitest";
import { runFuzz } from "../../loadtest/fuzz.ts";
import { startStack } from "../../loadtest/stack.ts";

it("20,000 hostile frames: well-behaved clients lose nothing and the canvas keeps serving", async () => {
  const stack = await startStack({ vars: { RATE_LIMIT_FRAMES_PER_SECOND: "500", RATE_LIMIT_PIXEL_BURST: "300" } });
  try {
    const result = await runFuzz({
      wsUrl: stack.wsUrl,
      httpUrl: stack.url,
      hostileConnections: 8,
      framesEach: 2500,
      goodClients: 4,
      pixelsEach: 50,
      liveConnections: 2,
      liveFramesEach: 200,
    });
    expect(result.hostileFrames).toBe(20_000);
    expect(result.hostileReconnects).toBeGreaterThan(0); // floods and version mismatches were closed
    // The live socket only receives: each attacker there was closed and opened it again, many times;
    // a `from` that is not a number was refused at the edge.
    expect(result.liveFrames).toBeGreaterThan(0);
    expect(result.liveOpens).toBeGreaterThan(20);
    expect(result.liveRefused).toBeGreaterThan(0);
    expect(result).toMatchObject({
      goodPlacements: 200,
      completeClients: 4,
      caughtUpClients: 4,
      canvasAnswers: true,
    });
  } finally {
    await stack.stop();
  }
}, 180_000);
