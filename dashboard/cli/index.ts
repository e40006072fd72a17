/**
 * The admin CLI (`redslot <command>`): every dashboard API operation, over dashboard/cli/api-client.ts.
 *
 * Human output by default, `--json` prints the API's JSON (stable shapes from dashboard/schemas).
 * Exit codes: 0 ok; 1 refused or failed (the message says why); 2 usage error; 3 dashboard unreachable or
 * authentication refused. `--dashboard URL` (default http://127.0.0.1:18080, env REDSLOT_DASHBOARD),
 * token from `--token` or env REDSLOT_TOKEN (sent only in the Authorization header); an https:// dashboard
 * is verified against `--cacert` / REDSLOT_CACERT (./connect.ts).
 */
import { isMigrationCommand, MIGRATION_COMMANDS, MIGRATION_USAGE, runMigrationCommand } from './migrations.js';
import { cmdSplit, cmdSplits } from './splits.js';
import { ApiError, ApiUnreachableError } from './api-client.js';
import { connect, CONNECT_FLAGS, CONNECT_USAGE } from './connect.js';
import { flagInt, flagString, parseArgs, parseIntArg, UsageError, type ParsedArgs } from './args.js';
import { cmdHotkeys, cmdSlotsLoad } from './load.js';
import { cmdImport } from './import.js';
import type { CliRun } from './run.js';
import { formatAudit, formatGroups, formatLeader, formatOverview, formatProxies, formatSlots, formatStatus, rangesText, table } from './format.js';
import { formatFailover } from './failover-format.js';

/** Top-level commands routed to runAdminCommand by deploy/bin/redslot.ts. */
export const ADMIN_COMMANDS = ['status', 'group', 'server', 'slots', 'proxies', 'promote', 'failover', 'audit', 'overview', 'leader'] as const;
export type AdminCommand = (typeof ADMIN_COMMANDS)[number];

/** Every command `redslot` routes here: the admin commands and the migration commands (dashboard/cli/migrations.ts). */
export const CLI_COMMANDS: readonly string[] = [...ADMIN_COMMANDS, ...MIGRATION_COMMANDS, 'import', 'hotkeys', 'split', 'splits'];

/** Commands of the Codis import and load views (dashboard/cli/import.ts, load.ts). */
const EXTRA_HANDLERS: Record<string, (r: CliRun) => Promise<void>> = { import: cmdImport, hotkeys: cmdHotkeys, split: cmdSplit, splits: cmdSplits };

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNREACHABLE: 3 } as const;

export const ADMIN_USAGE = `usage: redslot <command> [options]

commands:
  status                                  the cluster at a glance: leader, groups, slot ranges, proxies
  group list | show <gid>                 groups with servers and slots
  group create <gid> [--weight W]         create an empty group (ids 1..9999)
  group remove <gid>                      remove a group that owns no slots
  server add <gid> <host:port> [--force]  add a server (first = master; later ones become replicas)
  server remove <gid> <host:port>         remove a server from the model
  slots [list]                            slot ranges per group
  slots --load [--limit N]                ops/s and bytes/s per group and for the busiest slots (proxies' counters)
  hotkeys [--limit N]                     the hottest keys across proxies (sampled top-K), ops/s each
  import codis --from http://HOST:PORT | --from-file FILE [--confirm]
                                          take over a Codis cluster's groups and slots without moving data
  slots assign --range A-B --group G      assign offline (or empty) slots A..B to group G
  slots assign --even [--groups 1,2]      spread every offline slot evenly over groups
  split <gid> --to <new gid> [--slots A-B] [--confirm] [--watch]
                                          split a group by replication into a new, empty group (default
                                          the upper half of its slots); preview without --confirm
  split abort <gid>                       before the switch: release the hold, detach and flush the new group
  splits [--watch] [--interval S]         splits with their step, sync / lag / purge progress
  proxies [list]                          live proxies: acked revision, state, stats
  proxies remove <id>                     revoke a proxy's lease (a live one fences, re-registers as a new id)
  promote <gid> <host:port> [--force]     promote a replica to master (barrier-guarded)
  failover [status]                       automatic failover per group: state, replica lag, last failover
  failover enable|disable <gid>           switch automatic failover on or off for one group
  failover sentinel <gid> <name> <h:p,..> follow a Sentinel service for one group (off: decide again)
  audit [--limit N]                       who changed what, newest first
  overview                                ops/s, keys, memory per server and proxy
  leader                                  dashboards and which one leads

options:
${CONNECT_USAGE}
  --json              print JSON instead of tables
  --if-revision N     refuse (409) if what the command changes was modified after revision N

exit codes: 0 ok, 1 refused/failed, 2 usage, 3 unreachable or not authorised
`;

const VALUE_FLAGS = [...CONNECT_FLAGS, 'weight', 'range', 'group', 'groups', 'limit', 'server', 'if-revision', 'before', 'from', 'from-file', 'to', 'slots', 'interval'] as const;
const BOOL_FLAGS = ['json', 'even', 'force', 'help', 'load', 'confirm', 'watch'] as const;

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

const defaultIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
};

type Run = CliRun;

function gidArg(v: string | undefined, what = 'group id'): number {
  return parseIntArg(v, what, 1, 9999);
}

function addrArg(v: string | undefined): string {
  if (v === undefined || !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(v)) {
    throw new UsageError(`expected a server address host:port, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }
  return v;
}

function sub(rest: string[], allowed: string[], dflt?: string): string {
  const s = rest[0] ?? dflt;
  if (s === undefined) throw new UsageError(`expected one of: ${allowed.join(', ')}`);
  if (!allowed.includes(s)) throw new UsageError(`unknown subcommand ${JSON.stringify(s)} (expected ${allowed.join(', ')})`);
  return s;
}

function noExtra(rest: string[], n: number): void {
  if (rest.length > n) throw new UsageError(`unexpected argument ${JSON.stringify(rest[n])}`);
}

async function cmdStatus(r: Run): Promise<void> {
  noExtra(r.rest, 0);
  const [s, f] = await Promise.all([r.client.status(), r.client.failover()]);
  r.out(`${formatStatus(s)}\n\n${formatFailover(f)}`, { ...s, failover: f });
}

async function cmdFailover(r: Run): Promise<void> {
  const action = sub(r.rest, ['status', 'enable', 'disable', 'sentinel'], 'status');
  if (action === 'status') {
    noExtra(r.rest, 1);
    const f = await r.client.failover();
    r.out(formatFailover(f), f);
    return;
  }
  const gid = gidArg(r.rest[1]);
  if (action === 'sentinel') {
    const name = r.rest[2];
    if (name === undefined) throw new UsageError('usage: redslot failover sentinel <gid> <master-name> <host:port,...> | off');
    noExtra(r.rest, name === 'off' ? 3 : 4);
    const addrs = name === 'off' ? [] : (r.rest[3] ?? '').split(',').filter((a) => a !== '');
    if (name !== 'off' && addrs.length === 0) throw new UsageError('give the Sentinels as host:port,host:port');
    const res = await r.client.setFailover(gid, { sentinel: name === 'off' ? null : { name, addrs } });
    r.out(res.sentinel ? `group ${gid}: follows Sentinel service ${res.sentinel.name} at ${res.sentinel.addrs.join(', ')}` : `group ${gid}: decides its failovers itself again`, res);
    return;
  }
  noExtra(r.rest, 2);
  const res = await r.client.setFailover(gid, { enabled: action === 'enable' });
  r.out(`group ${gid}: automatic failover ${res.enabled ? 'enabled' : 'disabled'}`, res);
}

async function cmdGroup(r: Run): Promise<void> {
  const action = sub(r.rest, ['list', 'show', 'create', 'remove'], 'list');
  if (action === 'list') {
    noExtra(r.rest, 1);
    const [g, s] = await Promise.all([r.client.groups(), r.json ? Promise.resolve(undefined) : r.client.slots()]);
    r.out(formatGroups(g.groups, s?.ranges ?? []), g);
    return;
  }
  const gid = gidArg(r.rest[1] ?? flagString(r.args, 'group'));
  noExtra(r.rest, 2);
  if (action === 'show') {
    const [g, s] = await Promise.all([r.client.group(gid), r.client.slots()]);
    r.out(g.group ? formatGroups([g.group], s.ranges) : `group ${gid} not found`, g);
  } else if (action === 'create') {
    const weight = flagString(r.args, 'weight');
    const w = weight === undefined ? undefined : Number(weight);
    if (w !== undefined && !(w > 0)) throw new UsageError(`--weight: expected a positive number, got ${JSON.stringify(weight)}`);
    const res = await r.client.createGroup({ id: gid, ...(w !== undefined ? { weight: w } : {}), ...(r.ifRevision !== undefined ? { ifRevision: r.ifRevision } : {}) });
    r.out(`created group ${gid} (revision ${res.revision})`, res);
  } else {
    const res = await r.client.removeGroup(gid, r.ifRevision);
    r.out(`removed group ${gid} (revision ${res.revision})${res.detail ? `: ${res.detail}` : ''}`, res);
  }
}

async function cmdServer(r: Run): Promise<void> {
  const action = sub(r.rest, ['add', 'remove']);
  const groupFlag = flagString(r.args, 'group');
  const pos = r.rest.slice(1);
  const gid = gidArg(groupFlag ?? pos.shift());
  const addr = addrArg(flagString(r.args, 'server') ?? pos.shift());
  noExtra(pos, 0);
  if (action === 'add') {
    const res = await r.client.addServer(gid, { addr, ...(r.args.flags.has('force') ? { force: true } : {}), ...(r.ifRevision !== undefined ? { ifRevision: r.ifRevision } : {}) });
    r.out(`group ${gid}: ${res.detail ?? `added ${addr}`} (revision ${res.revision})`, res);
  } else {
    const res = await r.client.removeServer(gid, addr, r.ifRevision);
    r.out(`group ${gid}: ${res.detail ?? `removed ${addr}`} (revision ${res.revision})`, res);
  }
}

async function cmdSlots(r: Run): Promise<void> {
  if (r.args.flags.has('load')) return cmdSlotsLoad(r);
  const action = sub(r.rest, ['list', 'assign'], 'list');
  noExtra(r.rest, 1);
  if (action === 'list') {
    const s = await r.client.slots();
    r.out(formatSlots(s), s);
    return;
  }
  const range = flagString(r.args, 'range');
  const even = r.args.flags.has('even');
  if ((range === undefined) === !even) throw new UsageError('slots assign needs exactly one of --range A-B (with --group G) or --even');
  let res;
  if (range !== undefined) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(range);
    if (!m) throw new UsageError(`--range: expected A-B like 0-511, got ${JSON.stringify(range)}`);
    const from = parseIntArg(m[1], '--range start', 0, 1023);
    const to = parseIntArg(m[2] ?? m[1], '--range end', 0, 1023);
    if (from > to) throw new UsageError(`--range: start ${from} is after end ${to}`);
    const group = gidArg(flagString(r.args, 'group'), '--group');
    res = await r.client.assignSlots({ mode: 'range', from, to, group, ...(r.ifRevision !== undefined ? { ifRevision: r.ifRevision } : {}) });
  } else {
    const list = flagString(r.args, 'groups');
    const groups = list === undefined ? undefined : list.split(',').map((g) => gidArg(g.trim(), '--groups'));
    res = await r.client.assignSlots({ mode: 'even', ...(groups ? { groups } : {}), ...(r.ifRevision !== undefined ? { ifRevision: r.ifRevision } : {}) });
  }
  const byGroup = new Map<number, Array<{ from: number; to: number }>>();
  for (const x of res.ranges) byGroup.set(x.group, [...(byGroup.get(x.group) ?? []), x]);
  const lines = [`assigned ${res.assigned} slots (revision ${res.revision})`];
  if (byGroup.size > 0) lines.push(table(['GROUP', 'SLOTS'], [...byGroup].map(([g, rs]) => [String(g), rangesText(rs)])));
  for (const w of res.warnings) lines.push(`warning: ${w}`);
  r.out(lines.join('\n'), res);
}

async function cmdProxies(r: Run): Promise<void> {
  const action = sub(r.rest, ['list', 'remove'], 'list');
  if (action === 'list') {
    noExtra(r.rest, 1);
    const p = await r.client.proxies();
    r.out(formatProxies(p), p);
    return;
  }
  const id = r.rest[1];
  if (!id) throw new UsageError('proxies remove needs a proxy id (see redslot proxies)');
  noExtra(r.rest, 2);
  const res = await r.client.removeProxy(id);
  r.out(`removed proxy ${id} (revision ${res.revision})`, res);
}

async function cmdPromote(r: Run): Promise<void> {
  const pos = r.rest.slice();
  const gid = gidArg(flagString(r.args, 'group') ?? pos.shift());
  const addr = addrArg(flagString(r.args, 'server') ?? pos.shift());
  noExtra(pos, 0);
  const res = await r.client.promote(gid, { addr, ...(r.args.flags.has('force') ? { force: true } : {}), ...(r.ifRevision !== undefined ? { ifRevision: r.ifRevision } : {}) });
  const lines = [`group ${gid}: ${addr} is the master now (revision ${res.revision})`, ...res.steps.map((s) => `  - ${s}`), ...res.warnings.map((w) => `warning: ${w}`)];
  r.out(lines.join('\n'), res);
}

async function cmdAudit(r: Run): Promise<void> {
  noExtra(r.rest, 0);
  const a = await r.client.audit(flagInt(r.args, 'limit', 1, 1000) ?? 20, flagString(r.args, 'before'));
  r.out(formatAudit(a), a);
}

async function cmdOverview(r: Run): Promise<void> {
  noExtra(r.rest, 0);
  const o = await r.client.overview(r.json);
  r.out(formatOverview(o), o);
}

async function cmdLeader(r: Run): Promise<void> {
  noExtra(r.rest, 0);
  const l = await r.client.leader();
  r.out(formatLeader(l), l);
}

const HANDLERS: Record<AdminCommand, (r: Run) => Promise<void>> = {
  status: cmdStatus,
  group: cmdGroup,
  server: cmdServer,
  slots: cmdSlots,
  proxies: cmdProxies,
  promote: cmdPromote,
  failover: cmdFailover,
  audit: cmdAudit,
  overview: cmdOverview,
  leader: cmdLeader,
};

/** Runs one admin command; resolves with the process exit code (never calls process.exit). */
export async function runAdminCommand(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const { stdout, stderr, env } = { ...defaultIo, ...io };
  if (isMigrationCommand(argv[0])) return runMigrationCommand(argv, { stdout, stderr, env });
  let args: ParsedArgs;
  let command: AdminCommand | 'import' | 'hotkeys' | 'split' | 'splits';
  try {
    args = parseArgs(argv, VALUE_FLAGS, BOOL_FLAGS);
    const first = args.positionals[0];
    if (args.flags.has('help') || first === undefined || first === 'help') {
      stdout(`${ADMIN_USAGE}\n${MIGRATION_USAGE}`);
      return first === undefined && !args.flags.has('help') ? EXIT.USAGE : EXIT.OK;
    }
    if (!(ADMIN_COMMANDS as readonly string[]).includes(first) && !Object.hasOwn(EXTRA_HANDLERS, first)) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
    command = first as AdminCommand;
  } catch (err) {
    if (err instanceof UsageError) {
      stderr(`redslot: ${err.message}\n\n${ADMIN_USAGE}`);
      return EXIT.USAGE;
    }
    throw err;
  }
  const json = args.flags.has('json');
  let token: string | undefined;
  try {
    const conn = connect(args, env);
    token = conn.token;
    const client = conn.client;
    let failed = false;
    const run: Run = {
      client,
      args,
      rest: args.positionals.slice(1),
      json,
      ifRevision: flagInt(args, 'if-revision', 0, Number.MAX_SAFE_INTEGER),
      out: (human, data) => stdout(json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`),
      fail: () => (failed = true),
    };
    await (Object.hasOwn(EXTRA_HANDLERS, command) ? EXTRA_HANDLERS[command]! : HANDLERS[command as AdminCommand])(run);
    return failed ? EXIT.FAILED : EXIT.OK;
  } catch (err) {
    if (err instanceof UsageError) {
      stderr(`redslot ${command}: ${err.message}\n`);
      return EXIT.USAGE;
    }
    const report = (code: string, message: string, status?: number) => {
      if (json) stderr(`${JSON.stringify({ error: { code, message, ...(status ? { status } : {}) } })}\n`);
      else stderr(`redslot ${command}: ${message}${code ? ` [${code}]` : ''}\n`);
    };
    if (err instanceof ApiUnreachableError) {
      report('UNREACHABLE', err.message);
      return EXIT.UNREACHABLE;
    }
    if (err instanceof ApiError) {
      const hint = err.status === 401 && !token ? ' (no token given: use --token or REDSLOT_TOKEN)' : '';
      report(err.code, err.message + hint, err.status);
      return err.code === 'REDSLOT_ERR_UNAUTHORIZED' || err.code === 'REDSLOT_ERR_FORBIDDEN' ? EXIT.UNREACHABLE : EXIT.FAILED;
    }
    report('INTERNAL', (err as Error).message);
    return EXIT.FAILED;
  }
}
