/**
 * Child-process probe for test/unit/heap-tuning.test.ts: does V8 allocate a proxy's short-lived per-request
 * objects in the old generation after a phase in which such objects lived through scavenges (pretenuring)?
 *
 *   node --import tsx test/support/pretenure-probe.ts MODE
 *     MODE plain        fan-out requests in a process as V8 sets it up
 *          data-path    the same after a DataPath (what a proxy process serves clients with) was constructed
 *
 * Phase 1, slow requests: 200,000 requests, each kept alive while the next 20,000 are made (they live through
 * scavenges, as requests do at pipeline 16 with big values or on a busy machine). Phase 2, fast requests: bursts
 * of 5,000 dropped at once; old-space bytes allocated during a burst with no GC in it (none is promoted then, so
 * anything old is pretenured). Prints JSON { oldBytesPerRequest }.
 */
import v8 from 'node:v8';
import type { BackendServer } from '../../proxy/backend/pool.js';
import { loadProxyConfig } from '../../proxy/config.js';
import { DataPath } from '../../proxy/data-path.js';
import type { RouterSession } from '../../proxy/router/requests/base.js';
import { MsetRequest } from '../../proxy/router/requests/mset.js';
import type { SlotRoute } from '../../proxy/router/slot-table.js';
import { createLogger } from '../../shared/log.js';

const mode = process.argv[2] ?? 'plain';

const session = { id: 1, db: 0, proto: 2, readReplica: false } as unknown as RouterSession;
const servers = [{ addr: 'a' }, { addr: 'b' }] as unknown as BackendServer[];
const routes = servers.map((server) => ({ inflight: 0, server, migrateFrom: null, done() {} }) as unknown as SlotRoute);
const NO_ARGV: Buffer[] = [];

/** An MSET of 10 keys over two masters, routed but not started (its per-request objects: request, parts, key lists). */
function fanout(): unknown {
  const req = new MsetRequest(session, 0, 0, NO_ARGV, undefined, 21);
  for (let k = 0; k < 10; k++) req.addKey(routes[k & 1]!, 1 + 2 * k);
  return req;
}

if (mode === 'data-path') {
  const path = new DataPath(loadProxyConfig({ env: {}, overrides: { listen: '127.0.0.1:0', admin: '' } }), createLogger(), { defaultMetrics: false });
  void path.stopServing(0);
}

function space(name: string): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === name)!.space_used_size;
}

const window = new Array<unknown>(20_000);
for (let i = 0; i < 200_000; i++) window[i % window.length] = fanout();

let sink = 0;
const samples: number[] = [];
for (let attempt = 0; attempt < 50 && samples.length < 5; attempt++) {
  const young = space('new_space');
  const old = space('old_space');
  for (let i = 0; i < 5_000; i++) if (fanout() !== null) sink++;
  // A scavenge during the burst (young space shrank) promotes survivors: not a clean sample.
  if (space('new_space') > young) samples.push((space('old_space') - old) / 5_000);
}
samples.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ mode, oldBytesPerRequest: samples[samples.length >> 1] ?? NaN, samples: samples.length, sink: sink + window.length }) + '\n');
process.exit(0);
