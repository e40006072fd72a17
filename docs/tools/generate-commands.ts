/**
 * Regenerates `proxy/commands/redis7-commands.json` from a real Redis 7: starts a throwaway redis-server (free loopback port,
 * no persistence, own temp dir), asks it `COMMAND` and `COMMAND DOCS`, writes the data sorted by name (Redis
 * answers in hash order, which changes per process), stops the server by PID, then rewrites `docs/commands.md`.
 *
 *   npm run gen:commands            (redis-server from PATH)
 *   REDIS_SERVER=/path/to/redis-server npm run gen:commands
 *
 * Only raw Redis data is written here; redslot's policy stays in the hand-written `proxy/commands/classification.ts`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Parser from 'redis-parser';
import type { RawArgument, RawCommand, RawCommandFile, RawDocs, RawKeySpec } from '../../proxy/commands/redis7-data.js';

type Reply = string | number | null | Reply[];

/** A request/response client just big enough for the generator: one request in flight at a time. */
class TinyClient {
  private pending: Array<{ resolve(r: Reply): void; reject(e: Error): void }> = [];
  private readonly parser = new Parser({
    returnReply: (r: Reply) => this.pending.shift()?.resolve(r),
    returnError: (e: Error) => this.pending.shift()?.reject(e),
  });

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.parser.execute(d));
    socket.on('error', (e) => this.pending.splice(0).forEach((p) => p.reject(e)));
  }

  static async connect(port: number): Promise<TinyClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new TinyClient(socket);
  }

  call(...args: string[]): Promise<Reply> {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(parts.join(''));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

async function connectWithRetry(port: number, timeoutMs = 10_000): Promise<TinyClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await TinyClient.connect(port);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

// ---- RESP2 replies -> typed objects. RESP2 flattens maps into [k1, v1, k2, v2, ...]. ----

function arr(r: Reply | undefined, what: string): Reply[] {
  if (!Array.isArray(r)) throw new Error(`expected an array for ${what}, got ${JSON.stringify(r)}`);
  return r;
}
function str(r: Reply | undefined, what: string): string {
  if (typeof r !== 'string') throw new Error(`expected a string for ${what}, got ${JSON.stringify(r)}`);
  return r;
}
function int(r: Reply | undefined, what: string): number {
  if (typeof r !== 'number') throw new Error(`expected an integer for ${what}, got ${JSON.stringify(r)}`);
  return r;
}
function strings(r: Reply | undefined, what: string): string[] {
  return arr(r, what).map((x) => str(x, what));
}
/** A flattened RESP2 map as ordered [key, value] pairs. */
function pairs(r: Reply | undefined, what: string): Array<[string, Reply]> {
  const a = arr(r, what);
  const out: Array<[string, Reply]> = [];
  for (let i = 0; i < a.length; i += 2) out.push([str(a[i], `${what} key`), a[i + 1] ?? null]);
  return out;
}
/** A flat map of scalars (strings and integers), e.g. a key spec's `spec`. */
function scalarMap(r: Reply | undefined, what: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of pairs(r, what)) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${what}.${k}: not a scalar`);
    out[k] = v;
  }
  return out;
}

function keySpec(r: Reply): RawKeySpec {
  const out: Record<string, unknown> = {};
  for (const [k, v] of pairs(r, 'key spec')) {
    if (k === 'flags') out[k] = strings(v, 'key spec flags');
    else if (k === 'begin_search' || k === 'find_keys') {
      const part: Record<string, unknown> = {};
      for (const [pk, pv] of pairs(v, k)) part[pk] = pk === 'spec' ? scalarMap(pv, `${k}.spec`) : str(pv, `${k}.${pk}`);
      out[k] = part;
    } else out[k] = str(v, `key spec ${k}`);
  }
  return out as unknown as RawKeySpec;
}

function commandInfo(r: Reply): Omit<RawCommand, 'docs'> {
  const a = arr(r, 'command info');
  const name = str(a[0], 'name');
  return {
    name,
    arity: int(a[1], `${name} arity`),
    flags: strings(a[2], `${name} flags`),
    first_key: int(a[3], `${name} first key`),
    last_key: int(a[4], `${name} last key`),
    step: int(a[5], `${name} step`),
    acl_categories: strings(a[6], `${name} acl categories`),
    tips: strings(a[7], `${name} tips`),
    key_specs: arr(a[8], `${name} key specs`).map(keySpec),
    subcommands: arr(a[9], `${name} subcommands`).map((s) => ({ ...commandInfo(s), docs: {} })),
  };
}

function argument(r: Reply): RawArgument {
  const out: Record<string, unknown> = {};
  for (const [k, v] of pairs(r, 'argument')) {
    if (k === 'arguments') out[k] = arr(v, 'arguments').map(argument);
    else if (k === 'flags') out[k] = strings(v, 'argument flags');
    else if (typeof v === 'string' || typeof v === 'number') out[k] = v;
    else throw new Error(`argument field ${k}: unexpected ${JSON.stringify(v)}`);
  }
  return out as unknown as RawArgument;
}

/** Returns the docs and, separately, the docs of subcommands (keyed by full `container|sub` name). */
function docs(r: Reply, into: Map<string, RawDocs>, name: string): void {
  const out: Record<string, unknown> = {};
  for (const [k, v] of pairs(r, `${name} docs`)) {
    if (k === 'subcommands') {
      for (const [sub, subDocs] of pairs(v, `${name} subcommands`)) docs(subDocs, into, sub);
    } else if (k === 'arguments') out[k] = arr(v, 'arguments').map(argument);
    else if (k === 'doc_flags') out[k] = strings(v, 'doc_flags');
    else if (k === 'history') out[k] = arr(v, 'history').map((h) => strings(h, 'history entry'));
    else if (typeof v === 'string' || typeof v === 'number') out[k] = v;
    else throw new Error(`${name} docs field ${k}: unexpected ${JSON.stringify(v)}`);
  }
  into.set(name, out as RawDocs);
}

function attachDocs(c: Omit<RawCommand, 'docs'>, all: Map<string, RawDocs>): RawCommand {
  const d = all.get(c.name);
  if (d === undefined) throw new Error(`COMMAND DOCS has no entry for ${c.name}`);
  const subcommands = [...c.subcommands].sort((x, y) => (x.name < y.name ? -1 : 1)).map((s) => attachDocs(s, all));
  return { ...c, subcommands, docs: d };
}

export async function fetchCommands(port: number): Promise<RawCommandFile> {
  const client = await connectWithRetry(port);
  try {
    const info = str(await client.call('INFO', 'server'), 'INFO');
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
    const infos = arr(await client.call('COMMAND'), 'COMMAND').map(commandInfo);
    const allDocs = new Map<string, RawDocs>();
    for (const [name, d] of pairs(await client.call('COMMAND', 'DOCS'), 'COMMAND DOCS')) docs(d, allDocs, name);
    const commands = infos.sort((x, y) => (x.name < y.name ? -1 : 1)).map((c) => attachDocs(c, allDocs));
    return { generated_by: 'npm run gen:commands (proxy/commands/generate.ts)', redis_version: version, commands };
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const binary = process.env['REDIS_SERVER'] ?? 'redis-server';
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-gen-commands-'));
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (e) => {
    console.error(`cannot start ${binary}: ${e.message} (install it with: apt-get install -y redis-server)`);
    process.exit(1);
  });
  try {
    const data = await fetchCommands(port);
    const file = path.join(here, '../../proxy/commands/redis7-commands.json');
    writeFileSync(file, JSON.stringify(data, null, 1) + '\n');
    console.log(`wrote ${data.commands.length} commands from redis ${data.redis_version} to ${path.relative(process.cwd(), file)}`);
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
  // The Markdown table is derived from the data just written: load it in a fresh import, after the write.
  const { renderCommandsMarkdown, COMMANDS_MD } = await import('./commands-table.js');
  writeFileSync(COMMANDS_MD, renderCommandsMarkdown());
  console.log(`wrote ${path.relative(process.cwd(), fileURLToPath(COMMANDS_MD))}`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
