/**
 * @module identity
 * The page's own anonymous identity, as the server knows it: `GET /api/session` answers
 * `{"identity": "<22-char id>"}` and sets the signed, HttpOnly `pp_id` cookie when the browser has
 * none. The page cannot read that cookie (HttpOnly), so it asks once, and uses the answer only to say
 * "you" in the pixel info panel. Identities are anonymous and nothing here is secret.
 *
 * main.ts asks before it opens the socket: a browser without the cookie would otherwise get one from
 * the socket's upgrade and another from this request, racing, and the page would not recognise its
 * own pixels. If the request fails, the page starts anyway (the socket sets the cookie) and asks again
 * the next time the identity is wanted.
 */

/** 16 random bytes in base64url, as the server mints them. */
const IDENTITY_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** The identity in a `/api/session` body, if it is one. */
export function parseSession(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || !("identity" in body)) return undefined;
  const identity = body.identity;
  return typeof identity === "string" && IDENTITY_PATTERN.test(identity) ? identity : undefined;
}

export class IdentityLookup {
  private known: string | undefined;
  private inFlight: Promise<string | undefined> | undefined;

  constructor(
    private readonly url: string,
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  /** The identity if it is known already. */
  get id(): string | undefined {
    return this.known;
  }

  /** The identity: known, or asked for (once at a time); undefined when the server cannot say now. */
  get(): Promise<string | undefined> {
    if (this.known !== undefined) return Promise.resolve(this.known);
    this.inFlight ??= this.ask().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async ask(): Promise<string | undefined> {
    try {
      // Same origin, so the cookie goes along and comes back; no-store, as the server also says.
      const response = await this.fetcher(this.url, { cache: "no-store", credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const identity = parseSession(await response.json());
      if (identity === undefined) throw new Error("the answer names no identity");
      this.known = identity;
      return identity;
    } catch (error) {
      console.warn(`pixel playground: /api/session failed: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }
}
