/**
 * Tests of the Worker's settings (config.ts): defaults, valid overrides, and bad values falling back
 * to their defaults with a warning rather than an exception, since a typo in a dashboard variable
 * must not take the canvas down. console.warn is spied on, both to check it and to keep output quiet.
 */

import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { canvasConfig, edgeConfig, parsePalette } from "./config.ts";
import { DEFAULT_PALETTE, MAX_CANVAS_SIDE } from "./protocol.ts";

let warn: MockInstance<typeof console.warn>;

beforeEach(() => {
  warn = vi.spyOn(console, "warn").mockImplementation(() => {});
});

afterEach(() => {
  warn.mockRestore();
});

describe("edgeConfig", () => {
  it("has defaults for everything", () => {
    expect(edgeConfig({})).toEqual({
      region: "",
      allowedOrigins: [],
      pixelsPerSecond: 10,
      pixelBurst: 30,
      framesPerSecond: 30,
      presenceHeartbeatMs: 10_000,
      batchMs: 5,
      liveOpensPerSecond: 20,
    });
    expect(warn).not.toHaveBeenCalled();
  });

  it("takes valid overrides", () => {
    expect(
      edgeConfig({
        REGION: "  eu-west ",
        ALLOWED_ORIGINS: "https://a.example, https://b.example ,,",
        RATE_LIMIT_PIXELS_PER_SECOND: "50",
        RATE_LIMIT_PIXEL_BURST: "100",
        RATE_LIMIT_FRAMES_PER_SECOND: "200",
        PRESENCE_HEARTBEAT_MS: "500",
        EDGE_BATCH_MS: "0",
        LIVE_OPENS_PER_NETWORK_PER_SECOND: "0",
      }),
    ).toEqual({
      region: "eu-west",
      allowedOrigins: ["https://a.example", "https://b.example"],
      pixelsPerSecond: 50,
      pixelBurst: 100,
      framesPerSecond: 200,
      presenceHeartbeatMs: 500,
      batchMs: 0,
      liveOpensPerSecond: 0,
    });
    expect(warn).not.toHaveBeenCalled();
  });

  it("accepts the bounds of each range: 1 and 65535 (they go out as u16 in the hello), 100000 frames/s", () => {
    expect(
      edgeConfig({
        RATE_LIMIT_PIXELS_PER_SECOND: "1",
        RATE_LIMIT_PIXEL_BURST: "65535",
        RATE_LIMIT_FRAMES_PER_SECOND: "100000",
      }),
    ).toMatchObject({ pixelsPerSecond: 1, pixelBurst: 65535, framesPerSecond: 100000 });
    expect(edgeConfig({ RATE_LIMIT_PIXELS_PER_SECOND: "65535", RATE_LIMIT_PIXEL_BURST: "1" })).toMatchObject({
      pixelsPerSecond: 65535,
      pixelBurst: 1,
    });
    expect(warn).not.toHaveBeenCalled();
  });

  it.each([["0"], ["-5"], ["65536"], ["2.5"], ["ten"], ["10px"], ["NaN"], ["Infinity"]])(
    "falls back to the default for RATE_LIMIT_PIXELS_PER_SECOND=%j and warns",
    (raw) => {
      expect(edgeConfig({ RATE_LIMIT_PIXELS_PER_SECOND: raw }).pixelsPerSecond).toBe(10);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toContain("RATE_LIMIT_PIXELS_PER_SECOND");
    },
  );

  it("an empty or blank value means the default, without a warning", () => {
    expect(edgeConfig({ RATE_LIMIT_PIXEL_BURST: "", RATE_LIMIT_FRAMES_PER_SECOND: "   " })).toMatchObject({
      pixelBurst: 30,
      framesPerSecond: 30,
      presenceHeartbeatMs: 10_000,
    });
    expect(warn).not.toHaveBeenCalled();
  });

  it("one bad value does not disturb the others", () => {
    expect(
      edgeConfig({
        RATE_LIMIT_PIXELS_PER_SECOND: "20",
        RATE_LIMIT_PIXEL_BURST: "0",
        RATE_LIMIT_FRAMES_PER_SECOND: "100001",
      }),
    ).toMatchObject({ pixelsPerSecond: 20, pixelBurst: 30, framesPerSecond: 30 });
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it("tolerates whitespace around a number", () => {
    expect(edgeConfig({ RATE_LIMIT_PIXEL_BURST: " 42 " }).pixelBurst).toBe(42);
  });
});

describe("canvasConfig", () => {
  it("has defaults: 1000×1000, the default palette, a 15 ms broadcast interval", () => {
    expect(canvasConfig({})).toEqual({
      width: 1000,
      height: 1000,
      palette: [...DEFAULT_PALETTE],
      broadcastIntervalMs: 15,
      broadcastSendBudget: 12_000,
      broadcastMaxIntervalMs: 100,
      presenceExpiryMs: 30_000,
      limits: {
        pixelsPerSecond: 10,
        pixelBurst: 30,
        networkPixelsPerSecond: 100,
        networkPixelBurst: 300,
        socketsPerIdentity: 10,
        socketsPerNetwork: 100,
        frozen: false,
      },
      pixelLogRetention: { maxAgeMs: 7 * 24 * 3_600_000, maxRows: 10_000_000 },
    });
    expect(warn).not.toHaveBeenCalled();
  });

  it("gives a copy of the default palette, so a caller cannot change the default", () => {
    const config = canvasConfig({});
    expect(config.palette[0]).toBe(0xffffff);
    config.palette[0] = 0x123456;
    expect(DEFAULT_PALETTE[0]).toBe(0xffffff);
    expect(canvasConfig({}).palette[0]).toBe(0xffffff);
  });

  it("takes valid overrides", () => {
    expect(
      canvasConfig({
        CANVAS_WIDTH: "256",
        CANVAS_HEIGHT: "128",
        CANVAS_PALETTE: "#000000, #ffffff, #FF4500",
        BROADCAST_INTERVAL_MS: "50",
        PRESENCE_HEARTBEAT_MS: "500",
        RATE_LIMIT_PIXELS_PER_SECOND: "5",
        RATE_LIMIT_NETWORK_PIXELS_PER_SECOND: "0",
        MAX_SOCKETS_PER_IDENTITY: "3",
        MAX_SOCKETS_PER_NETWORK: "0",
        PIXEL_LOG_RETENTION_HOURS: "24",
        PIXEL_LOG_MAX_ROWS: "5000",
      }),
    ).toEqual({
      width: 256,
      height: 128,
      palette: [0x000000, 0xffffff, 0xff4500],
      broadcastIntervalMs: 50,
      broadcastSendBudget: 12_000,
      broadcastMaxIntervalMs: 100,
      presenceExpiryMs: 1500,
      limits: {
        pixelsPerSecond: 5,
        pixelBurst: 30,
        networkPixelsPerSecond: 0,
        networkPixelBurst: 300,
        socketsPerIdentity: 3,
        socketsPerNetwork: 0,
        frozen: false,
      },
      pixelLogRetention: { maxAgeMs: 24 * 3_600_000, maxRows: 5000 },
    });
    expect(warn).not.toHaveBeenCalled();
  });

  it("falls back for a per-identity rate of 0 (it may not be off) and a log smaller than 1,000 rows", () => {
    const config = canvasConfig({ RATE_LIMIT_PIXELS_PER_SECOND: "0", PIXEL_LOG_MAX_ROWS: "10" });
    expect(config.limits.pixelsPerSecond).toBe(10);
    expect(config.pixelLogRetention.maxRows).toBe(10_000_000);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it("accepts sides from 1 to MAX_CANVAS_SIDE and intervals from 1 to 1000 ms", () => {
    expect(
      canvasConfig({ CANVAS_WIDTH: "1", CANVAS_HEIGHT: String(MAX_CANVAS_SIDE), BROADCAST_INTERVAL_MS: "1" }),
    ).toMatchObject({ width: 1, height: MAX_CANVAS_SIDE, broadcastIntervalMs: 1 });
    expect(canvasConfig({ BROADCAST_INTERVAL_MS: "1000" }).broadcastIntervalMs).toBe(1000);
    expect(warn).not.toHaveBeenCalled();
  });

  it("falls back for a side of 0, over MAX_CANVAS_SIDE, or not an integer, and warns for each", () => {
    expect(canvasConfig({ CANVAS_WIDTH: "0", CANVAS_HEIGHT: String(MAX_CANVAS_SIDE + 1) })).toMatchObject({
      width: 1000,
      height: 1000,
    });
    expect(canvasConfig({ CANVAS_WIDTH: "512.5", CANVAS_HEIGHT: "big" })).toMatchObject({ width: 1000, height: 1000 });
    expect(warn).toHaveBeenCalledTimes(4);
    const messages = warn.mock.calls.map((call) => String(call[0]));
    expect(messages.filter((m) => m.includes("CANVAS_WIDTH"))).toHaveLength(2);
    expect(messages.filter((m) => m.includes("CANVAS_HEIGHT"))).toHaveLength(2);
  });

  it("falls back for a broadcast interval of 0 or over 1000 ms", () => {
    expect(canvasConfig({ BROADCAST_INTERVAL_MS: "0" }).broadcastIntervalMs).toBe(15);
    expect(canvasConfig({ BROADCAST_INTERVAL_MS: "1001" }).broadcastIntervalMs).toBe(15);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it("falls back to the default palette, with a warning, when CANVAS_PALETTE is malformed", () => {
    for (const raw of ["#000000", "#000000,#gggggg", "red,blue", "#fff,#000"]) {
      expect(canvasConfig({ CANVAS_PALETTE: raw }).palette, raw).toEqual([...DEFAULT_PALETTE]);
    }
    expect(warn).toHaveBeenCalledTimes(4);
    expect(String(warn.mock.calls[0]?.[0])).toContain("CANVAS_PALETTE");
  });

  it("a blank CANVAS_PALETTE means the default palette, without a warning", () => {
    expect(canvasConfig({ CANVAS_PALETTE: "  " }).palette).toEqual([...DEFAULT_PALETTE]);
    expect(canvasConfig({ CANVAS_PALETTE: "" }).palette).toEqual([...DEFAULT_PALETTE]);
    expect(warn).not.toHaveBeenCalled();
  });
});

describe("parsePalette", () => {
  it("parses colours with and without '#', in any case, in order", () => {
    expect(parsePalette("#ff0000,00ff00,#0000FF,AbCdEf")).toEqual([0xff0000, 0x00ff00, 0x0000ff, 0xabcdef]);
  });

  it("ignores whitespace around entries and empty entries", () => {
    expect(parsePalette(" #010203 ,\n#040506\t, , ")).toEqual([0x010203, 0x040506]);
  });

  it("needs at least 2 colours", () => {
    expect(parsePalette("")).toBeUndefined();
    expect(parsePalette("#123456")).toBeUndefined();
    expect(parsePalette("#123456,,")).toBeUndefined();
    expect(parsePalette("#123456,#654321")).toEqual([0x123456, 0x654321]);
  });

  it("allows at most 255 colours (a palette index is a u8 and its count is too)", () => {
    const colours = (n: number) => Array.from({ length: n }, (_, i) => `#${i.toString(16).padStart(6, "0")}`).join(",");
    const parsed = parsePalette(colours(255));
    expect(parsed).toHaveLength(255);
    expect(parsed?.[254]).toBe(254);
    expect(parsePalette(colours(256))).toBeUndefined();
  });

  it.each([
    ["short form", "#fff,#000"],
    ["seven digits", "#1234567,#000000"],
    ["five digits", "#12345,#000000"],
    ["not hex", "#12345g,#000000"],
    ["a name", "red,#000000"],
    ["two hashes", "##123456,#000000"],
    ["0x prefix", "0x123456,#000000"],
    ["rgb()", "rgb(1,2,3),#000000"],
    ["space inside", "#12 3456,#000000"],
    ["a sign", "+12345,#000000"],
  ])("rejects a malformed colour (%s)", (_, raw) => {
    expect(parsePalette(raw)).toBeUndefined();
  });

  it("one malformed colour rejects the whole list", () => {
    expect(parsePalette("#000000,#ffffff,#00000z,#123456")).toBeUndefined();
  });

  it("does not warn by itself (canvasConfig does)", () => {
    parsePalette("nonsense");
    expect(warn).not.toHaveBeenCalled();
  });
});

describe("numbers are plain decimal", () => {
  it("hex and exponent forms fall back to the default", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(canvasConfig({ CANVAS_WIDTH: "0x10" }).width).toBe(1000);
    expect(canvasConfig({ CANVAS_WIDTH: "1e3" }).width).toBe(1000);
    expect(canvasConfig({ CANVAS_WIDTH: " 640 " }).width).toBe(640);
    warn.mockRestore();
  });
});
