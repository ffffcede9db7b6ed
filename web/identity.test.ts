/**
 * Tests of the page's own identity (identity.ts): read from `/api/session` only when it is one, asked
 * for once at a time, remembered, and asked for again after a failure.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { IdentityLookup, parseSession } from "./identity.ts";

const ID = "Zk3_q-9xYbCdEfGhIjKlMn";

describe("parseSession", () => {
  it("takes a 22-character base64url identity and nothing else", () => {
    expect(parseSession({ identity: ID })).toBe(ID);
    expect(parseSession({ identity: "short" })).toBeUndefined();
    expect(parseSession({ identity: `${ID.slice(0, 21)}=` })).toBeUndefined();
    expect(parseSession({ identity: 22 })).toBeUndefined();
    expect(parseSession(null)).toBeUndefined();
    expect(parseSession([ID])).toBeUndefined();
  });
});

describe("IdentityLookup", () => {
  beforeEach(() => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("asks once however many want it, then remembers", async () => {
    const answers = [new Response(JSON.stringify({ identity: ID }))];
    const fetcher = vi.fn(async () => answers.shift() ?? new Response("", { status: 500 }));
    const lookup = new IdentityLookup("/api/session", fetcher);
    expect(lookup.id).toBeUndefined();
    expect(await Promise.all([lookup.get(), lookup.get()])).toEqual([ID, ID]);
    expect(await lookup.get()).toBe(ID);
    expect(lookup.id).toBe(ID);
    expect(fetcher).toHaveBeenCalledTimes(1);
  });

  it("after a failure answers undefined and asks again next time", async () => {
    const answers = [new Response("", { status: 503 }), new Response(JSON.stringify({ identity: ID }))];
    const fetcher = vi.fn(async () => answers.shift() ?? new Response("", { status: 500 }));
    const lookup = new IdentityLookup("/api/session", fetcher);
    expect(await lookup.get()).toBeUndefined();
    expect(await lookup.get()).toBe(ID);
    expect(fetcher).toHaveBeenCalledTimes(2);
  });
});
