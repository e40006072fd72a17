/** A raw TCP client that records every byte it receives, and a wait for lent views to come back (proxy tests). */
import net from 'node:net';
import { lendCounts } from '../../proxy/util/lent-slabs.js';

export interface RawClient {
  s: net.Socket;
  got: Buffer[];
  closed: Promise<void>;
}

/** Connects to `port`; `cleanups` gets its destroy. */
export async function connectRaw(port: number, cleanups: Array<() => Promise<void> | void>): Promise<RawClient> {
  const s = net.connect(port, '127.0.0.1');
  cleanups.push(() => void s.destroy());
  s.on('error', () => {});
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  return { s, got, closed };
}

/** Lent views back to `to` (they come back as writes complete and sockets close); returns the count then. */
export async function lentBackTo(to: number): Promise<number> {
  for (let i = 0; i < 100 && lendCounts().lent !== to; i++) await new Promise((r) => setTimeout(r, 20));
  return lendCounts().lent;
}
