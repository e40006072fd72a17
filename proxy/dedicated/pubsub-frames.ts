/**
 * The Pub/Sub wire words and frames the proxy reads and writes itself: the three kinds of subscription and
 * their commands, what a frame on a subscriber connection is, (un)subscribe confirmations.
 */
import { encodeInteger } from '../../shared/resp/encoder.js';

export enum Kind {
  Channel,
  Pattern,
  Shard,
}

export interface KindWords {
  sub: string;
  unsub: string;
}

export const WORDS: KindWords[] = [
  { sub: 'subscribe', unsub: 'unsubscribe' },
  { sub: 'psubscribe', unsub: 'punsubscribe' },
  { sub: 'ssubscribe', unsub: 'sunsubscribe' },
];
export const SUB_CMD = WORDS.map((w) => Buffer.from(w.sub.toUpperCase()));
export const UNSUB_CMD = WORDS.map((w) => Buffer.from(w.unsub.toUpperCase()));

export enum Push {
  Message,
  Confirm,
  Other,
}

/** What a frame on a subscriber connection (RESP2) is: a message to deliver, a confirmation, or else. */
export function pushKind(frame: Buffer): Push {
  if (frame[0] !== 0x2a) return Push.Other;
  const h1 = frame.indexOf(10);
  if (h1 < 0 || frame[h1 + 1] !== 0x24) return Push.Other;
  let len = 0;
  let i = h1 + 2;
  for (; frame[i] !== 13 && i < frame.length; i++) len = len * 10 + frame[i]! - 48;
  const w = i + 2;
  if (len === 7) return Push.Message; // message
  if (len === 8) return frame[w] === 0x70 || frame[w] === 0x73 ? Push.Message : Push.Other; // pmessage, smessage
  if (len >= 9 && len <= 12) return Push.Confirm; // (p|s)(un)subscribe
  return Push.Other;
}

/** `*3 $9 subscribe $N name :count` (RESP2) or `>3 ...` (RESP3); name null = nil. */
export function confirmation(proto: 2 | 3, word: string, name: Buffer | null, count: number): Buffer {
  const head = Buffer.from(`${proto === 3 ? '>' : '*'}3\r\n$${word.length}\r\n${word}\r\n`);
  const n = name === null ? Buffer.from(proto === 3 ? '_\r\n' : '$-1\r\n') : Buffer.concat([Buffer.from(`$${name.length}\r\n`), name, CRLF]);
  return Buffer.concat([head, n, encodeInteger(count)]);
}

export const CRLF = Buffer.from('\r\n');
export const RESP2_ALLOWED = new Set(['subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe', 'ping', 'quit', 'reset']);
export const KIND_OF: Record<string, { kind: Kind; unsubscribe: boolean }> = {
  subscribe: { kind: Kind.Channel, unsubscribe: false },
  psubscribe: { kind: Kind.Pattern, unsubscribe: false },
  ssubscribe: { kind: Kind.Shard, unsubscribe: false },
  unsubscribe: { kind: Kind.Channel, unsubscribe: true },
  punsubscribe: { kind: Kind.Pattern, unsubscribe: true },
  sunsubscribe: { kind: Kind.Shard, unsubscribe: true },
};

export function encodeBulkOf(b: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, CRLF]);
}
