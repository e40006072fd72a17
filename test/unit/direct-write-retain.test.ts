/**
 * A direct write left pending in libuv (the peer is not reading) keeps its buffers reachable until it
 * completes: libuv holds only pointers to their bytes, so a buffer the garbage collector freed meanwhile would
 * be written from freed memory. Node's own writes keep them on the request (req.buffer, req._chunks); so does
 * DirectWriter (proxy/util/direct-write.ts), for write() and writev(). Before the fix the buffer of a pending
 * write() was collectable (found with this test's WeakRef).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectWriter } from '../../proxy/util/direct-write.js';
import { acceptedPair } from '../support/socket-pair.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function stalledWriter(): Promise<{ writer: DirectWriter; resume: () => Promise<number> }> {
  const { accepted, client } = await acceptedPair();
  cleanups.push(() => {
    accepted.destroy();
    client.destroy();
  });
  client.pause();
  return {
    writer: new DirectWriter(accepted),
    resume: async () => {
      let n = 0;
      client.on('data', (d: Buffer) => (n += d.length));
      client.resume();
      const end = Date.now() + 10_000;
      while (n < 8 << 20 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return n;
    },
  };
}

/** Collects garbage a few times, letting finalizers and the ArrayBuffer sweeper run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('direct writes pending in libuv keep their buffers', () => {
  it('write(): the buffer of a pending write is not collected before the write completes', async () => {
    const { writer, resume } = await stalledWriter();
    let ref: WeakRef<ArrayBufferLike> | undefined;
    (() => {
      const b = Buffer.alloc(8 << 20, 0x41); // more than the kernel takes: the rest waits in libuv
      ref = new WeakRef(b.buffer);
      writer.write(b);
    })();
    expect(writer.pending).toBeGreaterThan(0);
    await collect();
    expect(ref!.deref()).toBeDefined();
    expect(await resume()).toBe(8 << 20);
  });

  it('writev(): the buffers of a pending vectored write (and not the caller\'s list, which may be reused) are kept', async () => {
    const { writer, resume } = await stalledWriter();
    const refs: Array<WeakRef<ArrayBufferLike>> = [];
    (() => {
      const list = [Buffer.alloc(4 << 20, 0x42), Buffer.alloc(4 << 20, 0x43)];
      for (const b of list) refs.push(new WeakRef(b.buffer));
      writer.writev(list, 8 << 20);
      list.length = 0; // the batch reuses its list
    })();
    expect(writer.pending).toBeGreaterThan(0);
    await collect();
    for (const r of refs) expect(r.deref()).toBeDefined();
    expect(await resume()).toBe(8 << 20);
  });
});
