/**
 * Tests of the admin API's parsers (admin.ts): for each action, what is accepted (with its defaults)
 * and every refusal — times in the future or unparseable, rectangles of no size, colours outside the
 * palette byte, identities that are not identity ids. Runs in Node.
 */
import { describe, expect, it } from "vitest";
import { type AdminAction, type Parsed, parseBan, parseLimits, parseRollback, parseTime, parseWipe } from "./admin.ts";

const NOW = Date.parse("2025-06-01T12:00:00.000Z");
const IDENTITY = "AbCdEfGhIjKlMnOpQrSt-_";

function actionOf(parsed: Parsed<AdminAction>): AdminAction {
  if (!parsed.ok) throw new Error(`expected a value, got: ${parsed.message}`);
  return parsed.value;
}

function messageOf(parsed: Parsed<AdminAction>): string {
  if (parsed.ok) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.value)}`);
  return parsed.message;
}

describe("parseTime", () => {
  it("accepts past epoch milliseconds, up to and including now", () => {
    expect(parseTime(NOW - 60_000, NOW)).toBe(NOW - 60_000);
    expect(parseTime(NOW, NOW)).toBe(NOW);
    expect(parseTime(0, NOW)).toBe(0);
  });

  it("accepts ISO 8601 strings, with or without a zone offset", () => {
    expect(parseTime("2025-06-01T11:00:00.000Z", NOW)).toBe(NOW - 3_600_000);
    expect(parseTime("2025-06-01T13:00:00+02:00", NOW)).toBe(NOW - 3_600_000);
    expect(parseTime("2025-05-31", NOW)).toBe(Date.parse("2025-05-31T00:00:00Z"));
    expect(parseTime("2025-06-01T12:00:00.000Z", NOW)).toBe(NOW);
  });

  it("refuses a time in the future, even by a millisecond", () => {
    expect(parseTime(NOW + 1, NOW)).toBeUndefined();
    expect(parseTime("2025-06-01T12:00:00.001Z", NOW)).toBeUndefined();
    expect(parseTime("2030-01-01T00:00:00Z", NOW)).toBeUndefined();
  });

  it("refuses garbage, negative and non-finite numbers, and other types", () => {
    for (const value of [
      "yesterday",
      "",
      "2025-13-45T99:00:00Z",
      -1,
      Number.NaN,
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      null,
      undefined,
      true,
      {},
      [NOW - 1],
    ]) {
      expect(parseTime(value, NOW), String(value)).toBeUndefined();
    }
  });
});

describe("parseLimits", () => {
  it("turns a valid patch into a limits action", () => {
    expect(actionOf(parseLimits({ pixelsPerSecond: 5, frozen: true }))).toEqual({
      action: "limits",
      patch: { pixelsPerSecond: 5, frozen: true },
    });
  });

  it("refuses an empty patch", () => {
    expect(messageOf(parseLimits({}))).toMatch(/at least one/);
  });

  it("passes on parseLimitsPatch's refusals", () => {
    expect(messageOf(parseLimits({ pixelsPerSecond: 0 }))).toContain("pixelsPerSecond");
    expect(messageOf(parseLimits({ nonsense: 1 }))).toContain('"nonsense"');
    expect(messageOf(parseLimits({ frozen: "yes" }))).toContain("frozen");
    for (const body of [null, [], "x", 5]) expect(parseLimits(body).ok).toBe(false);
  });
});

describe("parseWipe", () => {
  it("accepts a rectangle, colour 0 (the background) by default", () => {
    expect(actionOf(parseWipe({ x: 10, y: 20, width: 30, height: 40 }))).toEqual({
      action: "wipe",
      x: 10,
      y: 20,
      width: 30,
      height: 40,
      colour: 0,
    });
  });

  it("accepts an explicit colour up to 254", () => {
    expect(actionOf(parseWipe({ x: 0, y: 0, width: 1, height: 1, colour: 7 }))).toMatchObject({ colour: 7 });
    expect(actionOf(parseWipe({ x: 0, y: 0, width: 1, height: 1, colour: 254 }))).toMatchObject({ colour: 254 });
    expect(actionOf(parseWipe({ x: 0, y: 0, width: 1, height: 1, colour: 0 }))).toMatchObject({ colour: 0 });
  });

  it("accepts the u16 extremes", () => {
    expect(actionOf(parseWipe({ x: 65535, y: 65535, width: 65535, height: 65535 }))).toMatchObject({
      x: 65535,
      y: 65535,
      width: 65535,
      height: 65535,
    });
  });

  it("refuses colour 255 and beyond, negative and non-integer colours, and a null colour", () => {
    for (const colour of [255, 256, -1, 1.5, "3", null]) {
      expect(messageOf(parseWipe({ x: 0, y: 0, width: 1, height: 1, colour })), String(colour)).toContain("colour");
    }
  });

  it("refuses a width or height of 0, and negative, non-integer, too large or missing fields, naming the field", () => {
    const good = { x: 1, y: 2, width: 3, height: 4 };
    const cases: [keyof typeof good, unknown][] = [
      ["width", 0],
      ["height", 0],
      ["x", -1],
      ["y", -1],
      ["width", -3],
      ["x", 1.5],
      ["height", 2.5],
      ["x", 65536],
      ["width", 65536],
      ["y", "2"],
      ["height", null],
      ["width", undefined],
      ["x", Number.NaN],
      ["y", Number.POSITIVE_INFINITY],
    ];
    for (const [field, value] of cases) {
      expect(messageOf(parseWipe({ ...good, [field]: value })), `${field} = ${String(value)}`).toContain(field);
    }
    expect(messageOf(parseWipe({ x: 1, y: 2, width: 3 }))).toContain("height");
  });

  it("refuses a body that is not an object", () => {
    for (const body of [null, undefined, [], [1, 2, 3, 4], "0,0,1,1", 1]) {
      expect(messageOf(parseWipe(body)), JSON.stringify(body)).toMatch(/expected/);
    }
  });
});

describe("parseRollback", () => {
  it("accepts an identity id and a past time as epoch milliseconds", () => {
    expect(actionOf(parseRollback({ identity: IDENTITY, since: NOW - 1000 }, NOW))).toEqual({
      action: "rollback",
      identity: IDENTITY,
      since: NOW - 1000,
    });
  });

  it("accepts an ISO 8601 time", () => {
    expect(actionOf(parseRollback({ identity: IDENTITY, since: "2025-06-01T11:59:00Z" }, NOW))).toMatchObject({
      since: NOW - 60_000,
    });
  });

  it("refuses an identity that is not 22 base64url characters", () => {
    for (const identity of [
      IDENTITY.slice(0, 21),
      `${IDENTITY}A`,
      `${IDENTITY.slice(0, 21)}+`,
      `${IDENTITY.slice(0, 21)}=`,
      `${IDENTITY}.signature`,
      "",
      22,
      null,
      undefined,
    ]) {
      expect(messageOf(parseRollback({ identity, since: NOW - 1000 }, NOW)), String(identity)).toContain("identity");
    }
  });

  it("refuses a future, garbage or missing time", () => {
    for (const since of [NOW + 1, "2030-01-01T00:00:00Z", "last tuesday", "", -5, Number.NaN, null, undefined, {}]) {
      expect(messageOf(parseRollback({ identity: IDENTITY, since }, NOW)), String(since)).toContain("since");
    }
  });

  it("refuses a body that is not an object", () => {
    for (const body of [null, undefined, [], IDENTITY, 5]) expect(parseRollback(body, NOW).ok).toBe(false);
  });
});

describe("parseBan", () => {
  it("accepts an identity id and a reason", () => {
    expect(actionOf(parseBan(IDENTITY, { reason: "spam" }))).toEqual({
      action: "ban",
      identity: IDENTITY,
      reason: "spam",
    });
  });

  it("the reason is optional: no body, no reason or a reason that is not a string gives an empty one", () => {
    for (const body of [undefined, null, {}, { reason: 42 }, { reason: null }, ["spam"], "spam"]) {
      expect(actionOf(parseBan(IDENTITY, body)), JSON.stringify(body)).toEqual({
        action: "ban",
        identity: IDENTITY,
        reason: "",
      });
    }
  });

  it("truncates the reason to 200 characters", () => {
    const long = "0123456789".repeat(25);
    const banned = actionOf(parseBan(IDENTITY, { reason: long }));
    expect(banned).toMatchObject({ reason: long.slice(0, 200) });
    expect(banned.action === "ban" && banned.reason.length).toBe(200);
    const exact = "x".repeat(200);
    expect(actionOf(parseBan(IDENTITY, { reason: exact }))).toMatchObject({ reason: exact });
  });

  it("refuses an identity that is not an identity id", () => {
    for (const identity of [IDENTITY.slice(0, 21), `${IDENTITY}A`, `${IDENTITY}.sig`, "", "a b c d e f g h i j k "]) {
      expect(messageOf(parseBan(identity, { reason: "spam" })), identity).toMatch(/identity id/);
    }
  });
});
