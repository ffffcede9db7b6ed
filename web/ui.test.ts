/**
 * Tests of the words the moderation banner shows (ui.ts): frozen and banned each in their own words,
 * both named when both hold, nothing when neither does.
 */

import { describe, expect, it } from "vitest";
import { moderationText } from "./ui.ts";

describe("the moderation banner's words", () => {
  it("says nothing while this browser may draw", () => {
    expect(moderationText({ frozen: false, banned: false })).toBeUndefined();
  });

  it("tells a frozen canvas (everyone's) from a ban (this browser's)", () => {
    expect(moderationText({ frozen: true, banned: false })?.headline).toBe("The canvas is frozen.");
    expect(moderationText({ frozen: false, banned: true })?.headline).toBe("This browser may watch but not draw.");
  });

  it("names both when both hold: an unfreeze alone would not let this browser draw", () => {
    const text = moderationText({ frozen: true, banned: true });
    expect(text?.headline).toMatch(/frozen.*may watch but not draw/);
    expect(text?.detail).toBe("An unfreeze alone will not lift the ban.");
  });
});
