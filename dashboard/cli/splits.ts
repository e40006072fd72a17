/**
 * Admin CLI for the replication-based split, over the dashboard API (/api/v1/splits):
 *
 *   redslot split GROUP --to NEW [--slots A-B] [--confirm] [--watch] [--interval S]
 *                                   preview (guard rails checked); with --confirm start it; --watch follows it
 *   redslot split abort GROUP       before the switch: release the hold, detach and flush the new group
 *   redslot splits [--watch] [--interval S]   every split with its step and progress bars
 */
import { UsageError, flagString, parseIntArg } from './args.js';
import { bar, bytes } from './migrations.js';
import type { CliRun } from './run.js';
import type { SplitView } from '../migration/split/service.js';
import type { SplitPlan } from '../migration/split/guards.js';
import { describeRanges } from '../migration/split/record.js';

const TERMINAL = ['done', 'aborted', 'failed'];

export function formatPlan(p: SplitPlan): string {
  const lines = [
    `split group ${p.source} (${p.sourceMaster}) -> group ${p.target} (${p.targetMaster})`,
    `  ${p.slotCount} slot(s) move: ${describeRanges(p.slots)}; group ${p.source} keeps ${p.keeps}`,
    `  source dataset ${bytes(p.sourceUsedMemory)} used, ${p.sourceKeys.toLocaleString('en-US')} keys; new master maxmemory ${p.targetMaxmemory > 0 ? bytes(p.targetMaxmemory) : 'unlimited'}; repl-backlog-size ${bytes(p.replBacklogBytes)}`,
  ];
  if (p.targetReplicas.length > 0) lines.push(`  replicas of group ${p.target}: ${p.targetReplicas.join(', ')} (chained to its master during the sync, attached to it after the purge)`);
  for (const w of p.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

/** The new group's replicas, one line each (live state while running, the outcome once done). */
function replicaLines(s: SplitView): string[] {
  if (s.replicas) return s.replicas.map((o) => `  replica ${o.addr}: ${o.attached ? 'attached' : 'NOT attached'}${o.detail ? ` (${o.detail})` : ''}`);
  return (s.progress?.replicas ?? []).map((x) => {
    if (x.error !== undefined) return `  replica ${x.addr}: unreachable (${x.error})`;
    const state = x.role !== 'slave' ? x.role : x.syncing ? 'full sync' : x.linkUp ? `lag ${bytes(x.lagBytes)}` : 'link down';
    return `  replica ${x.addr}${x.master ? ` of ${x.master}` : ''}: ${state}`;
  });
}

/** One split as a few lines: step, then a bar for the running phase. */
export function formatSplit(s: SplitView): string {
  const head = `split ${s.id}: group ${s.source} -> group ${s.target}, slots ${describeRanges(s.slots)}: ${s.step.toUpperCase()}${s.running ? '' : s.step === 'done' || s.step === 'aborted' || s.step === 'failed' ? '' : ' (waiting for the leader)'}`;
  const lines = [head];
  const p = s.progress;
  if (p && s.step === 'syncing') {
    if (p.lagBytes < 0) {
      const f = p.syncTotalBytes > 0 ? p.syncReadBytes / p.syncTotalBytes : 0;
      lines.push(`  full sync ${bar(f)} ${bytes(p.syncReadBytes)}${p.syncTotalBytes > 0 ? ` of ${bytes(p.syncTotalBytes)}` : ''}`);
    } else {
      lines.push(`  replicating, lag ${bytes(p.lagBytes)}`);
    }
  }
  if (p && s.step === 'purging') {
    const total = p.purgeSourceKeys + p.purgeTargetKeys;
    const done = p.purgedSource + p.purgedTarget;
    // About half of each side's keys go: the fraction is of that estimate.
    lines.push(`  purge ${bar(total > 0 ? done / (total / 2) : 0)} ${done.toLocaleString('en-US')} keys deleted (source ${p.purgedSource.toLocaleString('en-US')}, new group ${p.purgedTarget.toLocaleString('en-US')})`);
  }
  if (s.holdMs !== undefined) lines.push(`  slots held ${s.holdMs} ms at the switch${holdParts(s.holdPartsMs)}`);
  if (s.purge) lines.push(`  purged ${s.purge.sourceDeleted.toLocaleString('en-US')} key(s) from the source, ${s.purge.targetDeleted.toLocaleString('en-US')} from the new group`);
  lines.push(...replicaLines(s));
  if (s.reason) lines.push(`  reason: ${s.reason}`);
  if (p?.lastError) lines.push(`  last error (${p.lastError.step}, ${p.lastError.at}): ${p.lastError.message}`);
  for (const w of s.warnings ?? []) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

function groupArg(v: string | undefined, what: string): number {
  if (v === undefined) throw new UsageError(`${what}: expected a group id`);
  return parseIntArg(v, what, 1, 9999);
}

async function watch(r: CliRun, fetch: () => Promise<SplitView[]>, done: (all: SplitView[]) => boolean): Promise<SplitView[]> {
  const interval = Number(flagString(r.args, 'interval') ?? '1');
  if (!(interval > 0 && interval <= 3600)) throw new UsageError('--interval: expected seconds > 0');
  let last = '';
  for (;;) {
    const all = await fetch();
    const text = all.map(formatSplit).join('\n');
    if (text !== last) r.out(text, all);
    last = text;
    if (done(all)) return all;
    await new Promise((res) => setTimeout(res, interval * 1000));
  }
}

export async function cmdSplit(r: CliRun): Promise<void> {
  if (r.rest[0] === 'abort') {
    const source = groupArg(r.rest[1], 'split abort GROUP');
    const s = await r.client.request<SplitView>('POST', `/api/v1/splits/${source}/abort`, {});
    r.out(`split ${s.id} of group ${source}: aborting (the new group is detached and flushed)`, s);
    return;
  }
  const source = groupArg(r.rest[0], 'split GROUP');
  if (r.rest.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(r.rest[1])}`);
  const target = groupArg(flagString(r.args, 'to'), '--to');
  const body: Record<string, unknown> = { source, target };
  const slots = flagString(r.args, 'slots');
  if (slots !== undefined) {
    const m = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(slots);
    if (!m) throw new UsageError(`--slots: expected A-B, got ${JSON.stringify(slots)}`);
    body['from'] = parseIntArg(m[1]!, '--slots', 0, 1023);
    body['to'] = parseIntArg(m[2] ?? m[1]!, '--slots', 0, 1023);
    if ((body['from'] as number) > (body['to'] as number)) throw new UsageError('--slots: A must be <= B');
  }
  const confirm = r.args.flags.has('confirm');
  if (confirm) body['confirm'] = true;
  if (r.ifRevision !== undefined) body['ifRevision'] = r.ifRevision;
  const res = await r.client.request<{ started: boolean; revision?: number; plan: SplitPlan; split?: SplitView }>('POST', '/api/v1/splits', body);
  if (!res.started) {
    r.out(`${formatPlan(res.plan)}\npreview only (revision ${res.revision}): run again with --confirm to start`, res);
    return;
  }
  r.out(`${formatPlan(res.plan)}\nstarted split ${res.split!.id}`, res);
  if (!r.args.flags.has('watch')) return;
  const end = await watch(r, async () => [await r.client.request<SplitView>('GET', `/api/v1/splits/${source}`)], (all) => TERMINAL.includes(all[0]!.step));
  if (end[0]!.step !== 'done') r.fail();
}

export async function cmdSplits(r: CliRun): Promise<void> {
  if (r.rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(r.rest[0])}`);
  const fetch = async () => (await r.client.request<{ splits: SplitView[] }>('GET', '/api/v1/splits')).splits;
  if (!r.args.flags.has('watch')) {
    const all = await fetch();
    r.out(all.length === 0 ? 'no split' : all.map(formatSplit).join('\n'), { splits: all });
    return;
  }
  await watch(r, fetch, (all) => all.every((s) => TERMINAL.includes(s.step)));
}

/** ' (lock txn 3 ms, barrier 5 ms, ...)' — where the hold went, when the leader that held it measured it. */
function holdParts(p: SplitView['holdPartsMs']): string {
  if (!p) return '';
  return ` (lock txn ${p.lockTxn} ms, proxies' barrier ${p.barrier} ms, catch-up ${p.catchUp} ms, promotion ${p.promote} ms)`;
}
