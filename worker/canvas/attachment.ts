/**
 * @module attachment
 * What the Canvas Durable Object remembers about each edge channel. It lives in the socket's
 * serialized attachment, because a hibernated object wakes with its sockets but without its fields;
 * it is shape-checked on every read, since a wake after a deploy may find an older shape.
 */

export interface ChannelAttachment {
  v: 1;
  /** The edge isolate that holds the client end of this channel. */
  isolateId: string;
  region: string;
  connectedAt: number;
}

export function isChannelAttachment(value: unknown): value is ChannelAttachment {
  if (typeof value !== "object" || value === null) return false;
  return (
    Reflect.get(value, "v") === 1 &&
    typeof Reflect.get(value, "isolateId") === "string" &&
    typeof Reflect.get(value, "region") === "string" &&
    typeof Reflect.get(value, "connectedAt") === "number"
  );
}
