/**
 * Counts how a socket's writes go out: through Writable (socket._write / _writev: a WriteWrap per write,
 * afterWrite on nextTick) or straight through its handle (writeBuffer / writev, proxy/util/direct-write.ts).
 * Tests use it to fail when a direct write path goes inactive.
 */
import type net from 'node:net';

export interface WriteCounts {
  writable: number;
  writeBuffer: number;
  writev: number;
}

/** Wraps `s`'s write methods (and its handle's) to count calls from now on. */
export function countWrites(s: net.Socket): WriteCounts {
  const n: WriteCounts = { writable: 0, writeBuffer: 0, writev: 0 };
  const wrap = (o: Record<string, unknown>, name: string, count: () => void): void => {
    const f = o[name] as (...a: unknown[]) => unknown;
    o[name] = function (this: unknown, ...a: unknown[]) {
      count();
      return f.apply(this, a);
    };
  };
  const sock = s as unknown as Record<string, unknown> & { _handle: Record<string, unknown> };
  wrap(sock, '_write', () => n.writable++);
  wrap(sock, '_writev', () => n.writable++);
  wrap(sock._handle, 'writeBuffer', () => n.writeBuffer++);
  wrap(sock._handle, 'writev', () => n.writev++);
  return n;
}
