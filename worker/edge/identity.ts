/**
 * @module identity
 * Who is drawing, without accounts: an anonymous identity signed by the edge, the network a request
 * comes from, and the admin token check.
 *
 * An identity is 16 random bytes (base64url, 22 characters) kept in an HttpOnly cookie as
 * `<id>.<signature>`, the signature an HMAC-SHA256 of the id under `IDENTITY_SECRET`. Anyone may get a
 * fresh identity (clearing cookies does that), so an identity is not a person; but nobody can take
 * someone else's, so limits, bans and rollbacks follow a browser across its sockets, tabs and regions.
 * Clearing cookies to dodge a limit is what the per-network limits are for.
 */

export const IDENTITY_COOKIE = "pp_id";
/** Used when no `IDENTITY_SECRET` is set (local development); /api/health says so. */
export const DEV_IDENTITY_SECRET = "pixel-playground-dev-identity-secret";
const ONE_YEAR_SECONDS = 365 * 24 * 3600;
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** True for an identity's id: 22 base64url characters. */
export function isIdentityId(value: string): boolean {
  return ID_PATTERN.test(value);
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array | undefined {
  // A length of 1 mod 4 is no base64 at all, and `atob` throws on it rather than returning nothing.
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Keys are plain data, so an isolate may keep them between requests; one per secret seen. */
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, key);
  }
  return key;
}

/** The cookie value for a new identity: its id and a signature. */
export async function mintIdentity(secret: string): Promise<{ id: string; cookieValue: string }> {
  const id = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const signature = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(id));
  return { id, cookieValue: `${id}.${base64url(new Uint8Array(signature))}` };
}

/** The id in a cookie value, if its signature is ours (`crypto.subtle.verify` compares in constant time). */
export async function verifyIdentity(cookieValue: string, secret: string): Promise<string | undefined> {
  const dot = cookieValue.indexOf(".");
  if (dot < 0) return undefined;
  const id = cookieValue.slice(0, dot);
  const signature = fromBase64url(cookieValue.slice(dot + 1));
  if (!isIdentityId(id) || !signature || signature.length !== 32) return undefined;
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), signature, new TextEncoder().encode(id));
  return valid ? id : undefined;
}

/** One cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie header for an identity: HttpOnly, a year long, Secure on https. */
export function identityCookie(cookieValue: string, secure: boolean): string {
  return `${IDENTITY_COOKIE}=${cookieValue}; Path=/; Max-Age=${ONE_YEAR_SECONDS}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/**
 * The request's identity from its cookie, or a new one (with the cookie to set) when it has none or
 * a forged one.
 */
export async function identify(
  cookieHeader: string | undefined,
  secret: string,
): Promise<{ id: string; setCookie: string | undefined }> {
  const presented = readCookie(cookieHeader, IDENTITY_COOKIE);
  const verified = presented === undefined ? undefined : await verifyIdentity(presented, secret);
  if (verified) return { id: verified, setCookie: undefined };
  const minted = await mintIdentity(secret);
  return { id: minted.id, setCookie: minted.cookieValue };
}

/**
 * The network a client address belongs to, for per-network limits: an IPv4 address as it is, an IPv6
 * address grouped by its /64 (one household or one phone usually holds a whole /64, so per-address
 * limits on IPv6 would count nothing). Anything else is "unknown", one shared group.
 */
export function networkOf(ip: string | undefined): string {
  const text = (ip ?? "").trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text) && text.split(".").every((o) => Number(o) <= 255)) return text;
  const hextets = expandIPv6(text);
  if (!hextets) return "unknown";
  // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address.
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    const [a, b] = [hextets[6] ?? 0, hextets[7] ?? 0];
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return `${hextets
    .slice(0, 4)
    .map((h) => h.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function expandIPv6(text: string): number[] | undefined {
  let address = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!address.includes(":")) return undefined;
  // A dotted IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (tail) {
    const o = tail.slice(1).map(Number);
    if (o.some((n) => n > 255)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = o;
    address = `${address.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined) => (part ? part.split(":") : []);
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => Number.parseInt(g, 16));
}

/**
 * Compares a presented admin token with the configured one in time that does not depend on where they
 * differ: both are hashed first, so lengths leak nothing either.
 */
export async function tokenMatches(presented: string, expected: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0 && expected.length > 0;
}
