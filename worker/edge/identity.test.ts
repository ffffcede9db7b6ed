/**
 * Tests of the edge's identity module (identity.ts): signed anonymous identity cookies and every way a
 * forged one is refused, the Cookie and Set-Cookie headers, the network a client address belongs to
 * (with a property test of the IPv6 /64 grouping) and the admin token comparison. Signatures are
 * checked against an HMAC computed here, so an encoding bug in the module cannot cancel itself out.
 * Runs in Node (WebCrypto is global).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  IDENTITY_COOKIE,
  identify,
  identityCookie,
  isIdentityId,
  mintIdentity,
  networkOf,
  readCookie,
  tokenMatches,
  verifyIdentity,
} from "./identity.ts";

const SECRET = "test-secret";
const OTHER_SECRET = "another-secret";

function base64(bytes: Uint8Array): string {
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

function base64url(bytes: Uint8Array): string {
  return base64(bytes).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

function bytesOfBase64url(text: string): Uint8Array {
  return Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
}

/** HMAC-SHA256 of `id` under `secret`, base64url without padding, written independently of the module. */
async function sign(id: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(id));
  return base64url(new Uint8Array(signature));
}

/** `text` with the character at `index` replaced by another base64url character that changes its bits. */
function flipChar(text: string, index: number): string {
  const replacement = text[index] === "A" ? "B" : "A";
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

describe("mintIdentity / verifyIdentity", () => {
  it("a minted identity verifies to its own id", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    expect(isIdentityId(id)).toBe(true);
    expect(await verifyIdentity(cookieValue, SECRET)).toBe(id);
  });

  it("the cookie value is `<id>.<HMAC-SHA256 of the id>` and the id is 16 random bytes", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    expect(cookieValue).toBe(`${id}.${await sign(id, SECRET)}`);
    expect(bytesOfBase64url(id)).toHaveLength(16);
    expect(cookieValue.split(".")[1]).toHaveLength(43); // 32 bytes, unpadded
  });

  it("every mint is a different identity", async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add((await mintIdentity(SECRET)).id);
    expect(ids.size).toBe(50);
  });

  it("a cookie signed here by hand verifies, so the format is the documented one", async () => {
    const id = "AAAAAAAAAAAAAAAAAAAAAA";
    expect(await verifyIdentity(`${id}.${await sign(id, SECRET)}`, SECRET)).toBe(id);
  });

  it("a tampered id is refused", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const signature = cookieValue.slice(id.length + 1);
    expect(await verifyIdentity(`${flipChar(id, 0)}.${signature}`, SECRET)).toBeUndefined();
    expect(await verifyIdentity(`${flipChar(id, 10)}.${signature}`, SECRET)).toBeUndefined();
  });

  it("a tampered signature is refused", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const signature = cookieValue.slice(id.length + 1);
    // The first characters carry whole bits of the MAC (the last one has two unused bits).
    expect(await verifyIdentity(`${id}.${flipChar(signature, 0)}`, SECRET)).toBeUndefined();
    expect(await verifyIdentity(`${id}.${flipChar(signature, 20)}`, SECRET)).toBeUndefined();
  });

  it("an identity signed under another secret is refused", async () => {
    const { cookieValue } = await mintIdentity(OTHER_SECRET);
    expect(await verifyIdentity(cookieValue, OTHER_SECRET)).toBeDefined();
    expect(await verifyIdentity(cookieValue, SECRET)).toBeUndefined();
  });

  it("a value without a dot, or with nothing on one side of it, is refused", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const signature = cookieValue.slice(id.length + 1);
    expect(await verifyIdentity(id, SECRET)).toBeUndefined();
    expect(await verifyIdentity(`${id}${signature}`, SECRET)).toBeUndefined();
    expect(await verifyIdentity(`${id}.`, SECRET)).toBeUndefined();
    expect(await verifyIdentity(`.${signature}`, SECRET)).toBeUndefined();
    expect(await verifyIdentity("", SECRET)).toBeUndefined();
  });

  it("an id of the wrong length is refused even when correctly signed", async () => {
    for (const id of ["AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAA", "", "A".repeat(44)]) {
      expect(await verifyIdentity(`${id}.${await sign(id, SECRET)}`, SECRET), `id of ${id.length}`).toBeUndefined();
    }
  });

  it("a signature of the wrong length is refused", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const signature = cookieValue.slice(id.length + 1);
    expect(await verifyIdentity(`${id}.${signature.slice(0, 42)}`, SECRET)).toBeUndefined(); // 31 bytes
    expect(await verifyIdentity(`${id}.${signature}A`, SECRET)).toBeUndefined(); // 33 bytes
    expect(await verifyIdentity(`${id}.${signature}AAAA`, SECRET)).toBeUndefined(); // 35 bytes
    expect(await verifyIdentity(`${id}.${signature}${signature.slice(0, 42)}`, SECRET)).toBeUndefined();
  });

  // Regression: a signature whose length is 1 mod 4 made `atob` throw, so a forged cookie such as
  // `<id>.A` rejected the promise (a 500 at the edge) instead of being refused.
  it("a signature whose length is no base64 length is refused, not thrown on", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const signature = cookieValue.slice(id.length + 1);
    await expect(verifyIdentity(`${id}.A`, SECRET)).resolves.toBeUndefined();
    await expect(verifyIdentity(`${id}.${signature.slice(0, 41)}`, SECRET)).resolves.toBeUndefined();
    await expect(verifyIdentity(`${id}.${signature}AA`, SECRET)).resolves.toBeUndefined(); // 45 characters
    await expect(identify(`${IDENTITY_COOKIE}=${id}.A`, SECRET)).resolves.toMatchObject({
      id: expect.not.stringMatching(id),
    });
  });

  it("characters outside base64url are refused, in the id or the signature", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const signature = cookieValue.slice(id.length + 1);
    const standard = base64(bytesOfBase64url(signature)); // + / and = padding
    expect(await verifyIdentity(`${id}.${standard}`, SECRET)).toBeUndefined();
    expect(await verifyIdentity(`${id}.${signature.slice(0, 42)}=`, SECRET)).toBeUndefined();
    expect(await verifyIdentity(`${id}.${signature.slice(0, 42)}!`, SECRET)).toBeUndefined();
    expect(await verifyIdentity(`${id}.${signature.slice(0, 20)} ${signature.slice(21)}`, SECRET)).toBeUndefined();
    const plusId = `${id.slice(0, 21)}+`;
    expect(await verifyIdentity(`${plusId}.${await sign(plusId, SECRET)}`, SECRET)).toBeUndefined();
  });
});

describe("isIdentityId", () => {
  it("accepts exactly 22 base64url characters", () => {
    expect(isIdentityId("abcdefghijklmnopqrstu-")).toBe(true);
    expect(isIdentityId("ABCDEFGHIJKLMNOPQRST_9")).toBe(true);
    expect(isIdentityId("abcdefghijklmnopqrstu")).toBe(false);
    expect(isIdentityId("abcdefghijklmnopqrstuvw")).toBe(false);
    expect(isIdentityId("abcdefghijklmnopqrstu+")).toBe(false);
    expect(isIdentityId("abcdefghijklmnopqrstu/")).toBe(false);
    expect(isIdentityId("abcdefghijklmnopqrstu=")).toBe(false);
    expect(isIdentityId("")).toBe(false);
  });
});

describe("identify", () => {
  it("a valid cookie gives its id back and sets no cookie", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const result = await identify(`theme=dark; ${IDENTITY_COOKIE}=${cookieValue}; other=1`, SECRET);
    expect(result).toEqual({ id, setCookie: undefined });
  });

  it("no Cookie header, or none of ours, mints a fresh identity with a cookie to set", async () => {
    for (const header of [undefined, "", "theme=dark; other=1"]) {
      const result = await identify(header, SECRET);
      expect(result.setCookie, `header ${header}`).toBeDefined();
      expect(await verifyIdentity(result.setCookie ?? "", SECRET)).toBe(result.id);
    }
  });

  it("a forged cookie is replaced by a fresh identity, not trusted", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const signature = cookieValue.slice(id.length + 1);
    const forgeries = [
      `${flipChar(id, 0)}.${signature}`,
      `${id}.${flipChar(signature, 0)}`,
      (await mintIdentity(OTHER_SECRET)).cookieValue,
      id,
      `${id}.A`,
      "garbage",
      "",
    ];
    for (const forged of forgeries) {
      const result = await identify(`${IDENTITY_COOKIE}=${forged}`, SECRET);
      expect(result.setCookie, forged).toBeDefined();
      expect(result.id).not.toBe(id);
      expect(result.id).not.toBe(forged.split(".")[0]);
      expect(await verifyIdentity(result.setCookie ?? "", SECRET)).toBe(result.id);
    }
  });
});

describe("readCookie", () => {
  it("finds one cookie among several, with or without spaces", () => {
    expect(readCookie("a=1; pp_id=xyz; c=3", "pp_id")).toBe("xyz");
    expect(readCookie("a=1;pp_id=xyz;c=3", "pp_id")).toBe("xyz");
    expect(readCookie("  pp_id = xyz  ;a=1", "pp_id")).toBe("xyz");
    expect(readCookie("a=1; c=3; pp_id=last", "pp_id")).toBe("last");
    expect(readCookie("a=1", "a")).toBe("1");
  });

  it("matches the whole name, not a prefix or suffix of another", () => {
    expect(readCookie("xpp_id=1; pp_idx=2; pp_id=3", "pp_id")).toBe("3");
    expect(readCookie("xpp_id=1; pp_idx=2", "pp_id")).toBeUndefined();
  });

  it("keeps an = inside the value and takes the first of two cookies of one name", () => {
    expect(readCookie("pp_id=a=b", "pp_id")).toBe("a=b");
    expect(readCookie("pp_id=first; pp_id=second", "pp_id")).toBe("first");
  });

  it("is undefined for a missing header, a missing cookie and a nameless part", () => {
    expect(readCookie(undefined, "pp_id")).toBeUndefined();
    expect(readCookie("", "pp_id")).toBeUndefined();
    expect(readCookie("a=1; b=2", "pp_id")).toBeUndefined();
    expect(readCookie("=pp_id; pp_id", "pp_id")).toBeUndefined();
  });

  it("an empty value is an empty string, not missing", () => {
    expect(readCookie("pp_id=; a=1", "pp_id")).toBe("");
  });
});

describe("identityCookie", () => {
  function attributes(header: string): string[] {
    return header.split(";").map((part) => part.trim());
  }

  it("sets the identity HttpOnly, SameSite=Lax, for the whole site, for a year", () => {
    const header = identityCookie("abc.def", false);
    const parts = attributes(header);
    expect(parts[0]).toBe(`${IDENTITY_COOKIE}=abc.def`);
    expect(parts).toContain("HttpOnly");
    expect(parts).toContain("SameSite=Lax");
    expect(parts).toContain("Path=/");
    expect(parts).toContain(`Max-Age=${365 * 24 * 3600}`);
    expect(parts).not.toContain("Secure");
  });

  it("adds Secure only when asked", () => {
    const parts = attributes(identityCookie("abc.def", true));
    expect(parts).toContain("Secure");
    expect(parts).toContain("HttpOnly");
  });

  it("what it sets is what readCookie and identify read back", async () => {
    const { id, cookieValue } = await mintIdentity(SECRET);
    const header = identityCookie(cookieValue, true);
    const pair = header.split(";")[0] ?? "";
    expect(readCookie(pair, IDENTITY_COOKIE)).toBe(cookieValue);
    expect(await identify(pair, SECRET)).toEqual({ id, setCookie: undefined });
  });
});

describe("networkOf", () => {
  it("an IPv4 address is its own network", () => {
    expect(networkOf("1.2.3.4")).toBe("1.2.3.4");
    expect(networkOf("255.255.255.255")).toBe("255.255.255.255");
    expect(networkOf("0.0.0.0")).toBe("0.0.0.0");
    expect(networkOf(" 10.0.0.1 ")).toBe("10.0.0.1");
    expect(networkOf("1.2.3.4")).not.toBe(networkOf("1.2.3.5"));
  });

  it("an invalid IPv4 address is unknown", () => {
    for (const ip of ["256.1.1.1", "1.2.3.256", "1.2.3", "1.2.3.4.5", "1.2.3.4444", "1.2.3.-4", "1..3.4"]) {
      expect(networkOf(ip), ip).toBe("unknown");
    }
  });

  it("IPv6 addresses group by their first 64 bits, however they are written", () => {
    const network = networkOf("2001:db8:1234:5678:9abc:def0:1234:5678");
    expect(network).toBe("2001:db8:1234:5678::/64");
    for (const ip of [
      "2001:0db8:1234:5678:0000:0000:0000:0001", // full, leading zeros
      "2001:db8:1234:5678::1", // compressed
      "2001:DB8:1234:5678::abcd", // upper case
      "2001:db8:1234:5678::", // trailing ::
      "2001:db8:1234:5678::1%eth0", // with a zone
      "[2001:db8:1234:5678::2]", // bracketed
      "[2001:db8:1234:5678:ffff:ffff:ffff:ffff]",
    ]) {
      expect(networkOf(ip), ip).toBe(network);
    }
  });

  it("IPv6 addresses that differ in the first 64 bits are different networks", () => {
    const network = networkOf("2001:db8:1234:5678::1");
    for (const ip of [
      "2001:db8:1234:5679::1",
      "2001:db8:1235:5678::1",
      "2001:db9:1234:5678::1",
      "2002:db8:1234:5678::1",
    ]) {
      expect(networkOf(ip), ip).not.toBe(network);
      expect(networkOf(ip), ip).not.toBe("unknown");
    }
  });

  it("compresses zeros inside the first 64 bits", () => {
    expect(networkOf("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(networkOf("2001:db8:0:0:1::")).toBe("2001:db8:0:0::/64");
    expect(networkOf("fe80::1%en0")).toBe("fe80:0:0:0::/64");
  });

  it("::1 and :: are IPv6 networks, not IPv4 ones", () => {
    expect(networkOf("::1")).toBe("0:0:0:0::/64");
    expect(networkOf("::")).toBe("0:0:0:0::/64");
  });

  it("an IPv4-mapped IPv6 address is that IPv4 address", () => {
    expect(networkOf("::ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(networkOf("::FFFF:1.2.3.4")).toBe("1.2.3.4");
    expect(networkOf("::ffff:102:304")).toBe("1.2.3.4");
    expect(networkOf("0:0:0:0:0:ffff:c0a8:0101")).toBe("192.168.1.1");
    expect(networkOf("[::ffff:255.255.255.255]")).toBe("255.255.255.255");
    expect(networkOf("::ffff:1.2.3.4")).toBe(networkOf("1.2.3.4"));
    expect(networkOf("::ffff:256.2.3.4")).toBe("unknown");
  });

  it("anything else is unknown", () => {
    for (const ip of [
      undefined,
      "",
      "   ",
      "garbage",
      "localhost",
      "1:2:3:4:5:6:7", // seven groups
      "1:2:3:4:5:6:7:8:9", // nine
      "1::2::3", // two ::
      "1:2:3:4:5:6:7:8::", // :: standing for nothing
      "12345::1", // a group over 4 digits
      "g::1", // not hex
      ":1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:",
    ]) {
      expect(networkOf(ip), String(ip)).toBe("unknown");
    }
  });

  describe("property: the /64 decides", () => {
    const hextet = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    const address = fc.array(hextet, { minLength: 8, maxLength: 8 });
    const style = fc.constantFrom("full", "short", "compressed", "upper", "bracketed", "zoned");

    /** True when the address is ::ffff:a.b.c.d, which networkOf treats as IPv4. */
    function isMapped(h: readonly number[]): boolean {
      return h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff;
    }

    /** RFC 5952 text: the longest run of two or more zero groups becomes "::". */
    function compressed(h: readonly number[]): string {
      let best = { at: -1, length: 1 };
      for (let i = 0; i < 8; ) {
        let j = i;
        while (j < 8 && h[j] === 0) j++;
        if (j - i > best.length) best = { at: i, length: j - i };
        i = j === i ? i + 1 : j;
      }
      const text = (part: readonly number[]) => part.map((x) => x.toString(16)).join(":");
      if (best.at < 0) return text(h);
      return `${text(h.slice(0, best.at))}::${text(h.slice(best.at + best.length))}`;
    }

    function format(h: readonly number[], how: string): string {
      switch (how) {
        case "full":
          return h.map((x) => x.toString(16).padStart(4, "0")).join(":");
        case "short":
          return h.map((x) => x.toString(16)).join(":");
        case "upper":
          return compressed(h).toUpperCase();
        case "bracketed":
          return `[${compressed(h)}]`;
        case "zoned":
          return `${compressed(h)}%eth0`;
        default:
          return compressed(h);
      }
    }

    it("addresses sharing the first four groups share a network, in any notation", () => {
      fc.assert(
        fc.property(address, address, style, style, (a, b, styleA, styleB) => {
          const sameTop = [...a.slice(0, 4), ...b.slice(4)];
          fc.pre(!isMapped(a) && !isMapped(sameTop));
          const network = networkOf(format(a, styleA));
          expect(network).toBe(
            `${a
              .slice(0, 4)
              .map((x) => x.toString(16))
              .join(":")}::/64`,
          );
          expect(networkOf(format(sameTop, styleB))).toBe(network);
        }),
        { numRuns: 2000 },
      );
    });

    it("addresses differing in the first four groups are different networks", () => {
      fc.assert(
        fc.property(address, address, style, style, (a, b, styleA, styleB) => {
          fc.pre(a.slice(0, 4).join() !== b.slice(0, 4).join());
          fc.pre(!isMapped(a) && !isMapped(b));
          expect(networkOf(format(a, styleA))).not.toBe(networkOf(format(b, styleB)));
        }),
        { numRuns: 2000 },
      );
    });
  });
});

describe("tokenMatches", () => {
  it("is true for the same token", async () => {
    expect(await tokenMatches("s3cret-admin-token", "s3cret-admin-token")).toBe(true);
    expect(await tokenMatches("ünïcødé ✓", "ünïcødé ✓")).toBe(true);
    expect(await tokenMatches("x", "x")).toBe(true);
  });

  it("is false for a different token, including one differing only in its last character or in case", async () => {
    expect(await tokenMatches("s3cret-admin-tokem", "s3cret-admin-token")).toBe(false);
    expect(await tokenMatches("S3cret-admin-token", "s3cret-admin-token")).toBe(false);
    expect(await tokenMatches("wrong", "s3cret-admin-token")).toBe(false);
  });

  it("is false for a prefix or an extension of the token", async () => {
    expect(await tokenMatches("s3cret", "s3cret-admin-token")).toBe(false);
    expect(await tokenMatches("s3cret-admin-token-and-more", "s3cret-admin-token")).toBe(false);
    expect(await tokenMatches("", "s3cret-admin-token")).toBe(false);
  });

  it("is false whenever the expected token is empty, so an unset token admits nobody", async () => {
    expect(await tokenMatches("", "")).toBe(false);
    expect(await tokenMatches("anything", "")).toBe(false);
  });
});
