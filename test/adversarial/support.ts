/**
 * Shared by the adversarial tier: every scenario attacks a running cluster (real redis-servers behind an
 * in-process proxy) and checks that bystanders keep being served, the attacker gets a clear error, memory
 * returns near its baseline and no acknowledged write is lost. Figures are printed for the README / report.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeArgsFor } from '../support/compiled.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { spawnProcess, type Spawned } from '../support/processes.js';
import { startRedis, type RedisServerHandle } from '../support/redis-server.js';
import { Redis } from 'ioredis';

/** Resident set size of this process (the in-process proxy included), in MB, after a GC when exposed. */
export function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
}

/** Milliseconds `p` takes to settle (rejections count as settled). */
export async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: Error }> {
  const t0 = performance.now();
  try {
    const value = await p;
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error: error as Error };
  }
}

/** An ioredis client with no retries and no offline queue: an error is seen as it happens. */
export async function client(port: number): Promise<Redis> {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false, enableReadyCheck: false, lazyConnect: true });
  await r.connect();
  return r;
}

/** Clients opened during a test file, all disconnected by closeAll() (afterAll). */
export class Clients {
  private readonly list: Redis[] = [];

  constructor(private readonly port: () => number) {}

  async open(): Promise<Redis> {
    const r = await client(this.port());
    this.list.push(r);
    return r;
  }

  closeAll(): void {
    for (const r of this.list) r.disconnect();
  }
}

/** A figure for the report: one line, greppable. */
export function figure(name: string, value: number | string, unit = ''): void {
  console.log(`[figure] ${name}: ${typeof value === 'number' ? value.toFixed(1) : value}${unit}`);
}

/** Waits until `cond` holds (polling), or throws after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---- a proxy of its own (a separate process, so its RSS is its own and a crash is seen)


export interface ProxyProcess {
  port: number;
  adminPort: number;
  proc: Spawned;
  groups: RedisServerHandle[];
  /** RSS of the proxy process in MB, after two full GCs (admin /api/v1/proxy/gc, node --expose-gc). */
  rssMb(): Promise<number>;
  /** Live JS heap + ArrayBuffers (socket buffers, replies) of the proxy in MB, after two full GCs: what a leak grows. */
  liveMb(): Promise<number>;
  /** RSS of the proxy process in MB right now (no GC), from /proc. */
  rssNowMb(): number;
  stop(): Promise<void>;
}

/** Two redis-servers behind a proxy process (static topology), `config` merged into its config file. */
export async function spawnProxy(config: Record<string, unknown> = {}, groupCount = 2): Promise<ProxyProcess> {
  const groups: RedisServerHandle[] = [];
  for (let i = 0; i < groupCount; i++) groups.push(await startRedis());
  const port = await freePort();
  const adminPort = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-adversarial-'));
  const file = path.join(dir, 'proxy.json');
  const per = Math.floor(1024 / groupCount);
  writeFileSync(
    file,
    JSON.stringify({
      listen: `127.0.0.1:${port}`,
      admin: `127.0.0.1:${adminPort}`,
      workers: 1,
      topology: {
        groups: groups.map((g, i) => ({ id: i + 1, servers: [{ addr: g.addr, role: 'master' }] })),
        slots: groups.map((_, i) => [i * per, i === groupCount - 1 ? 1023 : (i + 1) * per - 1, i + 1]),
      },
      ...config,
    }),
  );
  const proc = spawnProcess('proxy', process.execPath, ['--expose-gc', ...nodeArgsFor('deploy/bin/redslot.ts'), 'proxy', '--config', file], {
    ...process.env,
    REDSLOT_LOG_LEVEL: process.env.REDSLOT_PROXY_LOG_LEVEL ?? 'warn',
  });
  try {
    await waitForPort(port, '127.0.0.1', 20_000);
  } catch (err) {
    await proc.stop();
    await Promise.all(groups.map((g) => g.stop()));
    throw new Error(`proxy did not start: ${proc.log()}`, { cause: err });
  }
  return {
    port,
    adminPort,
    proc,
    groups,
    async liveMb() {
      let live = 0;
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/proxy/gc`, { method: 'POST' });
        const m = (await res.json()) as { heapUsed: number; arrayBuffers: number };
        live = m.heapUsed + m.arrayBuffers;
      }
      return live / 1024 / 1024;
    },
    async rssMb() {
      let rss = 0;
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/proxy/gc`, { method: 'POST' });
        rss = ((await res.json()) as { rss: number }).rss;
      }
      return rss / 1024 / 1024;
    },
    rssNowMb() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'latin1'));
      return m ? Number(m[1]) / 1024 : 0;
    },
    async stop() {
      await proc.stop();
      await Promise.all(groups.map((g) => g.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- a strict RESP2/RESP3 reply reader, independent of the proxy's own code

/**
 * Position after the complete reply starting at `pos`, or -1 when `buf` ends inside it. Throws on anything
 * that is not a well-formed RESP2/RESP3 reply.
 */
export function replyEnd(buf: Buffer, pos: number): number {
  if (pos >= buf.length) return -1;
  const type = String.fromCharCode(buf[pos]!);
  const cr = buf.indexOf('\r\n', pos);
  if (cr < 0) return -1;
  const line = buf.toString('latin1', pos + 1, cr);
  if (line.includes('\n') || line.includes('\r')) throw new Error(`bare CR/LF in a ${type} line at ${pos}`);
  const after = cr + 2;
  const int = (): number => {
    if (!/^-?\d+$/.test(line)) throw new Error(`bad length ${JSON.stringify(line)} after ${type} at ${pos}`);
    return Number(line);
  };
  switch (type) {
    case '+':
    case '-':
      return after;
    case ':':
      int();
      return after;
    case '_':
      if (line !== '') throw new Error('bad null');
      return after;
    case ',':
    case '(':
      return after;
    case '#':
      if (line !== 't' && line !== 'f') throw new Error('bad boolean');
      return after;
    case '$':
    case '!':
    case '=': {
      const n = int();
      if (n === -1 && type === '$') return after;
      if (n < 0) throw new Error('bad blob length');
      if (buf.length < after + n + 2) return -1;
      if (buf[after + n] !== 13 || buf[after + n + 1] !== 10) throw new Error(`blob not followed by CRLF at ${after + n}`);
      return after + n + 2;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const n = int();
      if (n === -1 && type === '*') return after;
      if (n < 0) throw new Error('bad aggregate length');
      let p = after;
      const elements = type === '%' || type === '|' ? 2 * n : n;
      for (let i = 0; i < elements; i++) {
        p = replyEnd(buf, p);
        if (p < 0) return -1;
      }
      // An attribute precedes the real value.
      return type === '|' ? replyEnd(buf, p) : p;
    }
    default:
      throw new Error(`invalid reply type byte 0x${buf[pos]!.toString(16)} at ${pos}`);
  }
}

/** Splits `buf` into complete replies; `rest` is the incomplete tail (throws on malformed data). */
export function splitReplies(buf: Buffer): { replies: Buffer[]; rest: number } {
  const replies: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const end = replyEnd(buf, pos);
    if (end < 0) return { replies, rest: buf.length - pos };
    replies.push(buf.subarray(pos, end));
    pos = end;
  }
}
