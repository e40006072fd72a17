/**
 * Admin CLI subcommands for migrations, over the dashboard API (dashboard/cli/api-client.ts):
 *
 *   redslot rebalance [--groups 1,2:2,3] [--weights maxmemory] [--by load] [--confirm] [--if-revision N]
 *   redslot migrate range A-B --to G
 *   redslot migrate some N --from A --to B
 *   redslot migrations [--watch] [--interval S] [--limit N]      live progress bars with --watch
 *   redslot migration pause | resume
 *   redslot migration abort [JOB]                                 every in-flight job without JOB
 *   redslot migration throttle [--keys-per-sec N] [--bytes-per-sec N|64mb] [--parallel N]   0 = unlimited
 *
 * Same conventions as dashboard/cli: --dashboard URL / REDSLOT_DASHBOARD, --token / REDSLOT_TOKEN, --json,
 * exit codes 0 ok, 1 refused/failed, 2 usage, 3 unreachable or not authorised.
 */
import { parseSize } from '../../shared/config.js';
import { ApiError, ApiUnreachableError, type DashboardClient } from './api-client.js';
import { connect, CONNECT_FLAGS } from './connect.js';
import { flagInt, flagString, parseArgs, parseIntArg, UsageError, type ParsedArgs } from './args.js';
import type { Plan } from '../migration/planner.js';
import type { LoadPlan } from '../migration/load-planner.js';
import type { JobView, MigrationStatus } from '../migration/views.js';
import type { MigrationSettings } from '../migration/state-machine.js';

export const MIGRATION_COMMANDS = ['rebalance', 'migrate', 'migrations', 'migration'] as const;
export type MigrationCommand = (typeof MIGRATION_COMMANDS)[number];

export function isMigrationCommand(word: string | undefined): word is MigrationCommand {
  return word !== undefined && (MIGRATION_COMMANDS as readonly string[]).includes(word);
}

export const MIGRATION_USAGE = `migration commands:
  rebalance [--groups 1,2:2,3] [--weights maxmemory] [--by load] [--confirm]
                                          plan slots per group weight (gid[:weight], default every group
                                          with a master, weights from the model); --by load: balance the
                                          observed ops/s per group instead of slot counts; starts only
                                          with --confirm
  migrate range A-B --to G                move slots A..B to group G (keys move online)
  migrate some N --from A --to B          move N slots of group A to group B
  migrations [--watch] [--interval S]     jobs, progress, rate, ETA, errors (--watch: live bars)
  migration pause | resume                stop / restart every migration (persisted)
  migration abort [JOB]                   in-flight slots go back to their source (all jobs without JOB)
  migration throttle [--keys-per-sec N] [--bytes-per-sec N|64mb] [--parallel N]   0 = unlimited
`;

const VALUE_FLAGS = [...CONNECT_FLAGS, 'groups', 'weights', 'by', 'if-revision', 'to', 'from', 'interval', 'limit', 'keys-per-sec', 'bytes-per-sec', 'parallel'] as const;
const BOOL_FLAGS = ['json', 'confirm', 'watch', 'help'] as const;

export interface MigrationCliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** Redraw in place for --watch (default: process.stdout.isTTY). */
  isTTY?: boolean;
  /** Stops --watch (default: SIGINT). */
  signal?: AbortSignal;
}

interface Run {
  client: DashboardClient;
  args: ParsedArgs;
  rest: string[];
  json: boolean;
  io: MigrationCliIo;
  out: (human: string, json: unknown) => void;
}

// --- formatting -----------------------------------------------------------------------------------------

export function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

function n(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

export function bytes(x: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = x;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

function eta(s: number | null): string {
  if (s === null) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatPlan(p: { revision: number; plan: Plan & Partial<Pick<LoadPlan, 'load'>> }, started?: { job?: JobView }): string {
  const { plan } = p;
  const lines: string[] = [];
  const gids = [...new Set([...Object.keys(plan.before), ...Object.keys(plan.after)])].map(Number).sort((a, b) => a - b);
  lines.push('GROUP  SLOTS NOW  AFTER  TARGET');
  for (const g of gids) {
    lines.push(
      `${(g === 0 ? 'offline' : String(g)).padEnd(7)}${String(plan.before[g] ?? 0).padStart(9)}  ${String(plan.after[g] ?? 0).padStart(5)}  ${String(plan.targets[g] ?? '-').padStart(6)}`,
    );
  }
  if (plan.moves.length === 0) lines.push('nothing to move: the table already matches the plan');
  else {
    lines.push(`${plan.moves.length} slot(s) to move in ${plan.ranges.length} range(s):`);
    for (const r of plan.ranges.slice(0, 40)) lines.push(`  slots ${r.first === r.last ? r.first : `${r.first}-${r.last}`}: group ${r.from} -> group ${r.to}`);
    if (plan.ranges.length > 40) lines.push(`  ... ${plan.ranges.length - 40} more range(s)`);
  }
  if (plan.inFlight > 0) lines.push(`${plan.inFlight} slot(s) already have an action (counted toward their target)`);
  if (plan.load) lines.push(...formatLoadPlan(plan.load));
  if (started?.job) lines.push(`started job ${started.job.id} (revision ${p.revision}); follow it with: redslot migrations --watch`);
  return lines.join('\n');
}

/** The ops/s part of a rebalance by load. */
function formatLoadPlan(l: NonNullable<LoadPlan['load']>): string[] {
  const gids = Object.keys(l.target).map(Number).sort((a, b) => a - b);
  const lines = ['GROUP  OPS/S NOW    AFTER   TARGET'];
  for (const g of gids) lines.push(`${String(g).padEnd(7)}${n(l.before[g] ?? 0).padStart(9)}  ${n(l.after[g] ?? 0).padStart(7)}  ${n(l.target[g] ?? 0).padStart(7)}`);
  for (const s of l.unsplittable) lines.push(`slot ${s} alone carries more load than any group's gap: moving it would only move the hot spot (split its hot keys instead: redslot hotkeys)`);
  return lines;
}

export function formatStatus(s: MigrationStatus): string {
  const lines: string[] = [];
  const t = s.throttle;
  lines.push(
    `migrations: ${s.paused ? 'PAUSED' : 'running'} · throttle ${t.keysPerSec ? `${n(t.keysPerSec)} keys/s` : 'unlimited keys/s'}, ${t.bytesPerSec ? `${bytes(t.bytesPerSec)}/s` : 'unlimited bytes/s'} · parallel ${s.parallelSlots} slots${s.leader ? '' : ' · (this dashboard is a standby)'}`,
  );
  const st = s.slots;
  lines.push(`slots: ${st.pending} pending, ${st.preparing} preparing, ${st.prepared} prepared, ${st.migrating} migrating, ${st.finished} finished`);
  lines.push(`moved: ${n(s.keysMoved)} keys (${bytes(s.bytesMoved)}) · ${n(s.keysPerSec)} keys/s, ${bytes(s.bytesPerSec)}/s · remaining ${s.keysRemaining === null ? '?' : `≈${n(s.keysRemaining)} keys`} · ETA ${eta(s.etaSeconds)}`);
  for (const m of s.movers) lines.push(`  mover ${m.source}: ${m.slots} slot(s), pass ${m.pass}, ${n(m.keysMoved)} keys, ${n(m.keysPerSec)} keys/s, ETA ${eta(m.etaSeconds)}${m.pacing ? `, paced for ${n(m.clientOpsPerSec)} client ops/s` : ""}`);
  const active = s.jobs.filter((j) => j.state === 'running' || j.state === 'aborting');
  const done = s.jobs.filter((j) => !(j.state === 'running' || j.state === 'aborting'));
  if (s.jobs.length === 0) lines.push('no migration job');
  for (const j of [...active, ...done.slice(0, 5)]) {
    const p = j.progress;
    lines.push(
      `job ${j.id} ${j.state.padEnd(8)} ${bar(p.fraction)} ${p.slotsDone}/${p.slotsTotal} slots · ${n(p.keysMoved)} keys · ${n(p.keysPerSec)} keys/s · ETA ${j.state === 'running' || j.state === 'aborting' ? eta(p.etaSeconds) : '-'}  ${j.description}`,
    );
  }
  if (s.schedulerError) lines.push(`  SCHEDULER STALLED: ${s.schedulerError.message} [${s.schedulerError.code}] since ${s.schedulerError.at}`);
  for (const e of s.errors.slice(0, 10)) lines.push(`  ERROR slot ${e.slot}: ${e.message} [${e.code}]`);
  if (s.errors.length > 10) lines.push(`  ... ${s.errors.length - 10} more error(s)`);
  for (const b of s.bigKeys.slice(-5)) lines.push(`  big key ${JSON.stringify(b.key)} (slot ${b.slot}, db ${b.db}, ${b.type ?? '?'}, ${bytes(b.bytes)}): ${b.action}${b.blockedMs !== undefined ? ` in ${b.blockedMs} ms` : ''}`);
  return lines.join('\n');
}

function settingsText(s: MigrationSettings): string {
  return `${s.paused ? 'paused' : 'running'} · keys/s ${s.keysPerSec ? n(s.keysPerSec) : 'unlimited'} · bytes/s ${s.bytesPerSec ? bytes(s.bytesPerSec) : 'unlimited'} · parallel ${s.parallelSlots}`;
}

// --- commands ---------------------------------------------------------------------------------------------

function gid(v: string | undefined, what: string): number {
  return parseIntArg(v, what, 1, 9999);
}

function noExtra(rest: string[], k: number): void {
  if (rest.length > k) throw new UsageError(`unexpected argument ${JSON.stringify(rest[k])}`);
}

/** `1,2:2,3` -> [{id:1},{id:2,weight:2},{id:3}] */
export function parseGroupsFlag(v: string): Array<{ id: number; weight?: number }> {
  return v.split(',').map((part) => {
    const [id, w] = part.trim().split(':');
    const g: { id: number; weight?: number } = { id: gid(id, '--groups') };
    if (w !== undefined) {
      const weight = Number(w);
      if (!(weight >= 0) || !Number.isFinite(weight)) throw new UsageError(`--groups: weight of group ${g.id} must be a number >= 0, got ${JSON.stringify(w)}`);
      g.weight = weight;
    }
    return g;
  });
}

async function cmdRebalance(r: Run): Promise<void> {
  noExtra(r.rest, 0);
  const groupsFlag = flagString(r.args, 'groups');
  const weights = flagString(r.args, 'weights');
  if (weights !== undefined && weights !== 'model' && weights !== 'maxmemory') throw new UsageError('--weights: expected model or maxmemory');
  const body: Record<string, unknown> = { mode: 'rebalance' };
  if (groupsFlag !== undefined) body['groups'] = parseGroupsFlag(groupsFlag);
  if (weights !== undefined) body['weights'] = weights;
  const by = flagString(r.args, 'by');
  if (by !== undefined && by !== 'slots' && by !== 'load') throw new UsageError('--by: expected slots or load');
  if (by !== undefined) body['by'] = by;
  const ifRevision = flagInt(r.args, 'if-revision', 0, Number.MAX_SAFE_INTEGER);
  if (!r.args.flags.has('confirm')) {
    const p = await r.client.request<{ revision: number; plan: Plan }>('POST', '/api/v1/migrations/preview', body);
    r.out(`${formatPlan(p)}\npreview only (revision ${p.revision}); start it with: redslot rebalance ${groupsFlag ? `--groups ${groupsFlag} ` : ''}${by ? `--by ${by} ` : ''}--confirm --if-revision ${p.revision}`, p);
    return;
  }
  const res = await r.client.request<{ started: boolean; revision: number; plan: Plan; job?: JobView }>('POST', '/api/v1/migrations', {
    ...body,
    confirm: true,
    ...(ifRevision !== undefined ? { ifRevision } : {}),
  });
  r.out(formatPlan(res, res), res);
}

async function cmdMigrate(r: Run): Promise<void> {
  const kind = r.rest[0];
  let body: Record<string, unknown>;
  if (kind === 'range') {
    noExtra(r.rest, 2);
    const m = /^(\d+)(?:-(\d+))?$/.exec(r.rest[1] ?? '');
    if (!m) throw new UsageError(`migrate range: expected A-B like 0-511, got ${JSON.stringify(r.rest[1] ?? '')}`);
    const from = parseIntArg(m[1], 'range start', 0, 1023);
    const to = parseIntArg(m[2] ?? m[1], 'range end', 0, 1023);
    if (from > to) throw new UsageError(`migrate range: start ${from} is after end ${to}`);
    body = { mode: 'range', from, to, group: gid(flagString(r.args, 'to'), '--to') };
  } else if (kind === 'some') {
    noExtra(r.rest, 2);
    body = { mode: 'some', count: parseIntArg(r.rest[1], 'N', 1, 1024), from: gid(flagString(r.args, 'from'), '--from'), to: gid(flagString(r.args, 'to'), '--to') };
  } else {
    throw new UsageError('migrate: expected "range A-B --to G" or "some N --from A --to B"');
  }
  const ifRevision = flagInt(r.args, 'if-revision', 0, Number.MAX_SAFE_INTEGER);
  if (ifRevision !== undefined) body['ifRevision'] = ifRevision;
  const res = await r.client.request<{ started: boolean; revision: number; plan: Plan; job?: JobView }>('POST', '/api/v1/migrations', body);
  r.out(formatPlan(res, res), res);
}

async function cmdMigrations(r: Run): Promise<void> {
  noExtra(r.rest, 0);
  const limit = flagInt(r.args, 'limit', 0, 1000) ?? 10;
  if (!r.args.flags.has('watch')) {
    const s = await r.client.request<MigrationStatus>('GET', `/api/v1/migrations?limit=${limit}`);
    r.out(formatStatus(s), s);
    return;
  }
  const intervalS = Number(flagString(r.args, 'interval') ?? '1');
  if (!(intervalS >= 0.05 && intervalS <= 3600)) throw new UsageError('--interval: expected seconds between 0.05 and 3600');
  const tty = r.io.isTTY ?? Boolean(process.stdout.isTTY);
  const signal = r.io.signal;
  let lastLines = 0;
  for (let round = 0; ; round++) {
    const s = await r.client.request<MigrationStatus>('GET', `/api/v1/migrations?limit=${limit}`);
    const active = s.jobs.some((j) => j.state === 'running' || j.state === 'aborting') || Object.values(s.slots).some((x) => x > 0);
    if (r.json) r.io.stdout(`${JSON.stringify(s)}\n`);
    else {
      const text = `${formatStatus(s)}\n`;
      // Redraw in place on a terminal (cursor up + clear to end); plain lines elsewhere.
      if (tty && lastLines > 0) r.io.stdout(`\x1b[${lastLines}A\x1b[J`);
      r.io.stdout(text);
      lastLines = text.split('\n').length - 1;
    }
    if (!active || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, intervalS * 1000);
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
    if (signal?.aborted) return;
  }
}

async function cmdMigration(r: Run): Promise<void> {
  const action = r.rest[0];
  if (action === 'pause' || action === 'resume') {
    noExtra(r.rest, 1);
    const s = await r.client.request<MigrationSettings>('POST', `/api/v1/migrations/${action}`, {});
    r.out(`migrations ${action === 'pause' ? 'paused' : 'resumed'}: ${settingsText(s)}`, s);
  } else if (action === 'abort') {
    noExtra(r.rest, 2);
    const job = r.rest[1];
    const res = await r.client.request<{ revision: number; cancelled: number[]; reversed: number[]; refused: Array<{ slot: number; reason: string }> }>(
      'POST',
      job ? `/api/v1/migrations/${encodeURIComponent(job)}/abort` : '/api/v1/migrations/abort',
      {},
    );
    const lines = [`${job ? `job ${job}` : 'all jobs'}: ${res.cancelled.length} slot(s) cancelled, ${res.reversed.length} going back to their source (revision ${res.revision})`];
    for (const x of res.refused) lines.push(`  refused slot ${x.slot}: ${x.reason}`);
    r.out(lines.join('\n'), res);
  } else if (action === 'throttle') {
    noExtra(r.rest, 1);
    const body: Record<string, number> = {};
    const k = flagString(r.args, 'keys-per-sec');
    if (k !== undefined) body['keysPerSec'] = parseIntArg(k, '--keys-per-sec', 0, 1e12);
    const b = flagString(r.args, 'bytes-per-sec');
    if (b !== undefined) {
      try {
        body['bytesPerSec'] = parseSize(b, '--bytes-per-sec');
      } catch {
        throw new UsageError(`--bytes-per-sec: expected bytes or a size like 64mb, got ${JSON.stringify(b)}`);
      }
    }
    const p = flagInt(r.args, 'parallel', 1, 1024);
    if (p !== undefined) body['parallelSlots'] = p;
    if (Object.keys(body).length === 0) throw new UsageError('migration throttle: give --keys-per-sec, --bytes-per-sec and/or --parallel (0 = unlimited)');
    const s = await r.client.request<MigrationSettings>('PUT', '/api/v1/migrations/throttle', body);
    r.out(`throttle set: ${settingsText(s)}`, s);
  } else {
    throw new UsageError('migration: expected pause, resume, abort [JOB] or throttle');
  }
}

const HANDLERS: Record<MigrationCommand, (r: Run) => Promise<void>> = {
  rebalance: cmdRebalance,
  migrate: cmdMigrate,
  migrations: cmdMigrations,
  migration: cmdMigration,
};

/** Runs one migration command (argv[0] is the command word); resolves with the exit code. */
export async function runMigrationCommand(argv: string[], io: Partial<MigrationCliIo> = {}): Promise<number> {
  const full: MigrationCliIo = {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env: process.env,
    ...io,
  };
  let args: ParsedArgs;
  let command: MigrationCommand;
  try {
    args = parseArgs(argv, VALUE_FLAGS, BOOL_FLAGS);
    const first = args.positionals[0];
    if (!isMigrationCommand(first)) throw new UsageError(`unknown command ${JSON.stringify(first ?? '')}`);
    command = first;
    if (args.flags.has('help')) {
      full.stdout(MIGRATION_USAGE);
      return 0;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      full.stderr(`redslot: ${err.message}\n\n${MIGRATION_USAGE}`);
      return 2;
    }
    throw err;
  }
  const json = args.flags.has('json');
  let token: string | undefined;
  let onSigint: (() => void) | undefined;
  if (!full.signal && command === 'migrations' && args.flags.has('watch')) {
    const ctl = new AbortController();
    onSigint = () => ctl.abort();
    process.once('SIGINT', onSigint);
    full.signal = ctl.signal;
  }
  try {
    const conn = connect(args, full.env);
    token = conn.token;
    const client = conn.client;
    await HANDLERS[command]({
      client,
      args,
      rest: args.positionals.slice(1),
      json,
      io: full,
      out: (human, data) => full.stdout(json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`),
    });
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      full.stderr(`redslot ${command}: ${err.message}\n`);
      return 2;
    }
    const report = (code: string, message: string) => {
      if (json) full.stderr(`${JSON.stringify({ error: { code, message } })}\n`);
      else full.stderr(`redslot ${command}: ${message}${code ? ` [${code}]` : ''}\n`);
    };
    if (err instanceof ApiUnreachableError) {
      report('UNREACHABLE', err.message);
      return 3;
    }
    if (err instanceof ApiError) {
      report(err.code, err.message + (err.status === 401 && !token ? ' (no token given: use --token or REDSLOT_TOKEN)' : ''));
      return err.code === 'REDSLOT_ERR_UNAUTHORIZED' || err.code === 'REDSLOT_ERR_FORBIDDEN' ? 3 : 1;
    }
    report('INTERNAL', (err as Error).message);
    return 1;
  } finally {
    if (onSigint) process.removeListener('SIGINT', onSigint);
  }
}
