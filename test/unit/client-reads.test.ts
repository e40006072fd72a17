/**
 * Accepted sockets reading into the shared scratch (proxy/session/client-reads.ts): it must be active on this
 * Node (else every client read falls back to a fresh ArrayBuffer, silently), and 'end', pause()/resume() must
 * behave as with 'data' events.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientArena, readIntoScratch } from '../../proxy/session/client-reads.js';
import { lendFrame, returnFrame } from '../../proxy/util/lent-slabs.js';
import { acceptedPair } from '../support/socket-pair.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function accepted(): Promise<{ server: net.Socket; client: net.Socket }> {
  const { accepted: server, client } = await acceptedPair({ allowHalfOpen: true });
  cleanups.push(() => {
    server.destroy();
    client.destroy();
  });
  return { server, client };
}

const until = async (f: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
};

describe('client reads into the shared scratch', () => {
  it('is active on accepted plain sockets: every byte arrives through the callback, none as a data event; end and pause work', async () => {
    const { server, client } = await accepted();
    const got: Buffer[] = [];
    let dataEvents = 0;
    let ended = false;
    expect(readIntoScratch(server, (b, n) => got.push(Buffer.from(b.subarray(0, n))))).toBe(true);
    server.on('data', () => dataEvents++);
    server.on('end', () => (ended = true));
    const payload = Buffer.alloc(300_000, 0x61);
    for (let i = 0; i < payload.length; i += 977) payload[i] = i & 0xff;
    client.write(payload);
    await until(() => Buffer.concat(got).length >= payload.length);
    expect(Buffer.concat(got).equals(payload)).toBe(true);
    expect(dataEvents).toBe(0);

    server.pause();
    const before = Buffer.concat(got).length;
    client.write('paused');
    await new Promise((r) => setTimeout(r, 100));
    expect(Buffer.concat(got).length).toBe(before); // nothing read while paused
    server.resume();
    await until(() => Buffer.concat(got).length === before + 6);
    expect(Buffer.concat(got).subarray(before).toString()).toBe('paused');

    client.end(); // half-close: the server side sees 'end' and may still write
    await until(() => ended);
    expect(ended).toBe(true);
  });

  it('the arena writes over a slab only once every request view of it is given back', () => {
    const arena = new ClientArena();
    const a = arena.copyIn(Buffer.from('first'));
    lendFrame(a);
    const b = arena.copyIn(Buffer.from('second'));
    expect(a.toString()).toBe('first'); // still lent: appended after it
    expect(b.byteOffset).toBe(a.byteOffset + 5);
    returnFrame(a);
    const c = arena.copyIn(Buffer.from('third')); // nothing lent: from the start again
    expect(c.byteOffset).toBe(a.byteOffset);
  });

  it('copies the first n bytes of a read, short ones byte by byte and long ones with one set, exactly', () => {
    const arena = new ClientArena();
    const read = Buffer.allocUnsafe(4096);
    for (let i = 0; i < read.length; i++) read[i] = (i * 7 + 3) & 0xff;
    for (const n of [0, 1, 47, 48, 49, 1000, 4096]) {
      const copy = arena.copyIn(read, n);
      expect(copy.length).toBe(n);
      expect(copy.equals(read.subarray(0, n))).toBe(true);
      expect(copy.buffer).not.toBe(read.buffer);
    }
  });
});
