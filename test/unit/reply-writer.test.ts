import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { packingScratch, PACK_LIMIT, writeReplies } from '../../proxy/session/reply-writer.js';
import { acceptedPair } from '../support/socket-pair.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** `writer` is the proxy's side, `reader` the client's. */
async function pair(): Promise<{ writer: net.Socket; reader: net.Socket }> {
  const { accepted: writer, client: reader } = await acceptedPair();
  cleanups.push(() => {
    writer.destroy();
    reader.destroy();
  });
  return { writer, reader };
}

/** A reply-sized buffer whose bytes name it (a byte from another reply shows). */
function reply(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let j = 0; j < size; j++) b[j] = (i * 31 + j * 7) & 0xff;
  return b;
}

function collect(s: net.Socket): () => Buffer {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return () => Buffer.concat(chunks);
}

async function until(f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe('client reply writes', () => {
  it('packs small replies into one shared scratch that is written over once the kernel took them (no buffer per flush)', async () => {
    const { writer, reader } = await pair();
    const got = collect(reader);
    const sent: Buffer[] = [];
    let first: Buffer | null = null;
    for (let f = 0; f < 300; f++) {
      const list = Array.from({ length: 16 }, (_, i) => reply(f * 16 + i, 20 + i));
      sent.push(...list);
      writeReplies(writer, list, list.reduce((n, b) => n + b.length, 0));
      if (f === 0) first = packingScratch();
    }
    expect(first).not.toBeNull();
    expect(packingScratch()).toBe(first); // 300 flushes, one scratch: each was written over
    const want = Buffer.concat(sent);
    await until(() => got().length >= want.length);
    expect(got().equals(want)).toBe(true);
  });

  it('never writes over bytes a socket still holds: a client that stops reading gets every reply intact', async () => {
    const { writer, reader } = await pair();
    reader.pause(); // the kernel buffers fill up, writes stay pending in the socket
    const sent: Buffer[] = [];
    for (let f = 0; f < 400; f++) {
      // Small replies around a big one (written as it is), and flushes of small ones only.
      const list = f % 3 === 0 ? [reply(f, 900), reply(f + 1, PACK_LIMIT + 10), reply(f + 2, 50)] : Array.from({ length: 12 }, (_, i) => reply(f * 12 + i, 700));
      sent.push(...list);
      writeReplies(writer, list, list.reduce((n, b) => n + b.length, 0));
      // Other sockets' flushes use the same scratch meanwhile.
    }
    expect(writer.writableLength).toBeGreaterThan(0); // the test did make writes wait
    const got = collect(reader);
    reader.resume();
    const want = Buffer.concat(sent);
    await until(() => got().length >= want.length);
    expect(got().length).toBe(want.length);
    expect(got().equals(want)).toBe(true);
  });
});
