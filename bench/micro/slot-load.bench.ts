/**
 * The router's load counting call (proxy/load/slot-load.ts): SlotLoad.count per routed key, counting on
 * (default knobs: top-64, one sample in 16 on average) vs off (load.count: false), over redis-benchmark-like
 * keys: 100,000 random 16-byte keys, one hot key on every 4th call. Measured in process CPU time
 * (process.cpuUsage), not wall time, so a busy shared machine inflates it less; median of 15 rounds.
 * The difference is the hot-path cost per routed key; compare it with the proxy's CPU per request
 * (bench/load/ab.sh prints it).
 */
import { SlotLoad } from '../../proxy/load/slot-load.js';
import { stamped1 } from '../../proxy/util/clock.js';
import { slotOf } from '../../shared/slot.js';

const N = 100_000;
const chunk = Buffer.from(Array.from({ length: N }, (_, i) => `key:${String((i * 7919) % N).padStart(12, '0')}`).join(''));
const keys = Array.from({ length: N }, (_, i) => chunk.subarray(i * 16, i * 16 + 16));
const hot = Buffer.from('key:000000000000');
const slots = keys.map((k) => slotOf(k));
const hotSlot = slotOf(hot);

function batch(l: SlotLoad): void {
  for (let i = 0; i < N; i++) {
    if ((i & 3) === 0) l.count(hotSlot, hot, 37);
    else l.count(slots[i]!, keys[i]!, 37);
  }
}

function median(a: number[]): number {
  return [...a].sort((x, y) => x - y)[a.length >> 1]!;
}

export function run(): void {
  const knobs = { hotKeys: 64, sampleEvery: 16, maxKeyBytes: 256, windowMs: 10_000 }; // the defaults
  const sides = { on: new SlotLoad({ count: true, ...knobs }), off: new SlotLoad({ count: false, ...knobs }) };
  const ns: Record<keyof typeof sides, number[]> = { on: [], off: [] };
  // stamped1: as on the proxy, where routing runs inside a socket read and the clock is read once per read.
  for (let w = 0; w < 30; w++) for (const l of Object.values(sides)) stamped1(batch, l);
  for (let r = 0; r < 15; r++) {
    for (const side of ['on', 'off'] as const) {
      const c0 = process.cpuUsage();
      for (let k = 0; k < 20; k++) stamped1(batch, sides[side]);
      const c = process.cpuUsage(c0);
      ns[side].push(((c.user + c.system) * 1000) / (20 * N));
    }
  }
  const on = median(ns.on);
  const off = median(ns.off);
  process.stdout.write(`SlotLoad.count, CPU ns per call (median of 15 x 2,000,000 calls): counting on ${on.toFixed(1)}, off ${off.toFixed(1)}; counting costs ${(on - off).toFixed(1)} ns per routed key\n`);
  const top = sides.on.report(3).hotKeys.keys[0];
  if (top === undefined || Buffer.from(top.key, 'base64').toString() !== hot.toString()) throw new Error('hot key not found first');
}
