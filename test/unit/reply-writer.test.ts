import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { packingScratch, PACK_LIMIT, writeReplies, type ReplySink } from '../../proxy/session/reply-writer.js';
import { DirectWriter } from '../../proxy/util/direct-write.js';
import { acceptedPair } from '../support/socket-pair.js';
import { countWrites } from '../support/write-counts.js';

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

/**
 * A client that stops reading: the kernel buffers fill up, writes stay pending in the socket (or libuv); every
 * reply still arrives intact once it reads again. `sinkOf` gives what the replies are written through.
 */
async function stopsReading(sinkOf: (writer: net.Socket) => ReplySink): Promise<void> {
  const { writer, reader } = await pair();
  reader.pause();
  const sink = sinkOf(writer);
  const sent: Buffer[] = [];
  for (let f = 0; f < 400; f++) {
    // Small replies around a big one (written as it is), and flushes of small ones only.
    const list = f % 3 === 0 ? [reply(f, 900), reply(f + 1, PACK_LIMIT + 10), reply(f + 2, 50)] : Array.from({ length: 12 }, (_, i) => reply(f * 12 + i, 700));
    sent.push(...list);
    writeReplies(sink, list, list.reduce((n, b) => n + b.length, 0));
    // Other sockets' flushes use the same scratch meanwhile.
  }
  expect(sink.writableLength).toBeGreaterThan(0); // the test did make writes wait
  const got = collect(reader);
  reader.resume();
  const want = Buffer.concat(sent);
  await until(() => got().length >= want.length);
  expect(got().length).toBe(want.length);
  expect(got().equals(want)).toBe(true);
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
    await stopsReading((writer) => writer);
  });
});

/** Counts the writes that go through Writable (socket._write / _writev). */
function countWritableWrites(s: net.Socket): () => number {
  const counts = countWrites(s);
  return () => counts.writable;
}

describe('direct socket writes', () => {
  it('writes to an idle accepted socket straight through its handle, not through Writable (the fast path is active on this Node)', async () => {
    const { writer, reader } = await pair();
    const got = collect(reader);
    const viaWritable = countWritableWrites(writer);
    const out = new DirectWriter(writer);
    const sent: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const b = reply(i, 30 + i);
      sent.push(b);
      expect(out.write(b)).toBe(true);
      expect(out.writableLength).toBe(0);
    }
    expect(viaWritable()).toBe(0);
    const want = Buffer.concat(sent);
    await until(() => got().length >= want.length);
    expect(got().equals(want)).toBe(true);
  });

  it('keeps order and every byte when the peer stops reading: writes wait in libuv, later ones go through Writable, drained() says when the kernel took them', async () => {
    const { writer, reader } = await pair();
    reader.pause();
    let written = 0;
    const out = new DirectWriter(writer);
    out.drained = () => void written++;
    const viaWritable = countWritableWrites(writer);
    const sent: Buffer[] = [];
    let sawPending = false;
    let after = 0;
    // Until the kernel's buffers are full (a direct write waits in libuv), then as many more.
    for (let i = 0; i < 20_000 && after < 200; i++) {
      const b = reply(i, 4000 + (i % 7) * 100);
      sent.push(b);
      out.write(b);
      if (out.pending > 0) sawPending = true;
      if (sawPending) after++;
    }
    expect(sawPending).toBe(true);
    expect(viaWritable()).toBeGreaterThan(0); // what came after went through Writable, behind the pending write
    expect(out.writableLength).toBeGreaterThan(0);
    const got = collect(reader);
    reader.resume();
    const want = Buffer.concat(sent);
    await until(() => got().length >= want.length && out.writableLength === 0);
    expect(got().length).toBe(want.length);
    expect(got().equals(want)).toBe(true);
    expect(written).toBeGreaterThan(0);
    expect(out.pending).toBe(0);
  });

  it('packs replies through a DirectWriter without writing over bytes still pending (client not reading)', async () => {
    await stopsReading((writer) => new DirectWriter(writer));
  });

  it('an empty write through the socket after a pending direct write calls back only once that write is done', async () => {
    const { writer, reader } = await pair();
    reader.pause();
    const out = new DirectWriter(writer);
    let i = 0;
    while (out.pending === 0 && i < 10_000) out.write(reply(i++, 16_000));
    expect(out.pending).toBeGreaterThan(0);
    let pendingAtCallback = -1;
    writer.write(Buffer.alloc(0), () => (pendingAtCallback = out.pending));
    await new Promise((r) => setTimeout(r, 50));
    expect(pendingAtCallback).toBe(-1); // still waiting behind the direct write
    reader.resume();
    reader.on('data', () => undefined);
    await until(() => pendingAtCallback !== -1);
    expect(pendingAtCallback).toBe(0);
  });

  it('falls back to socket.write on a destroyed socket without throwing', async () => {
    const { writer } = await pair();
    const out = new DirectWriter(writer);
    writer.on('error', () => undefined);
    writer.destroy();
    expect(() => out.write(Buffer.from('+OK\r\n'))).not.toThrow();
  });
});
