/**
 * @module attachment
 * What the Canvas Durable Object remembers about each edge channel and each live socket. It lives in the socket's
 * serialized attachment, because a hibernated object wakes with its sockets but without its fields;
 * it is shape-checked on every read, since a wake after a deploy may find an older shape (which the
 * object closes, and the edge reconnects).
 */

/** The key of a channel among all of them: its isolate and its session there. */
export function originKey(isolateId: string, session: number): string {
  return `${session} ${isolateId}`;
}

export interface ChannelAttachment {
  v: 3;
  /** The edge isolate that holds the client end of this channel. */
  isolateId: string;
  region: string;
  connectedAt: number;
  /** The signed identity of the client, and its network (IPv4 address or IPv6 /64), as the edge saw them. */
  identity: string;
  network: string;
  /** The edge session's number in its isolate: PlaceBatch entries name their channel by it. */
  session: number;
}

export function isChannelAttachment(value: unknown): value is ChannelAttachment {
  if (typeof value !== "object" || value === null) return false;
  return (
    Reflect.get(value, "v") === 3 &&
    typeof Reflect.get(value, "isolateId") === "string" &&
    typeof Reflect.get(value, "region") === "string" &&
    typeof Reflect.get(value, "connectedAt") === "number" &&
    typeof Reflect.get(value, "identity") === "string" &&
    typeof Reflect.get(value, "network") === "string" &&
    Number.isInteger(Reflect.get(value, "session"))
  );
}

/**
 * A live socket [P19]: a client's receive-only socket, forwarded by the edge straight to the canvas.
 * The edge vouched for its identity and network (socket caps), and names itself and its region.
 */
export interface LiveAttachment {
  v: 3;
  live: true;
  isolateId: string;
  region: string;
  connectedAt: number;
  identity: string;
  network: string;
}

export function isLiveAttachment(value: unknown): value is LiveAttachment {
  if (typeof value !== "object" || value === null) return false;
  return (
    Reflect.get(value, "v") === 3 &&
    Reflect.get(value, "live") === true &&
    typeof Reflect.get(value, "isolateId") === "string" &&
    typeof Reflect.get(value, "region") === "string" &&
    typeof Reflect.get(value, "connectedAt") === "number" &&
    typeof Reflect.get(value, "identity") === "string" &&
    typeof Reflect.get(value, "network") === "string"
  );
}
