#!/usr/bin/env node
/**
 * `redslot` — the one CLI. A thin dispatcher: each subcommand's module is loaded only when used, so
 * `redslot proxy` never loads the dashboard and vice versa.
 *
 *   redslot proxy ...        the RESP proxy               (proxy/main.ts)
 *   redslot dashboard ...    the control plane            (dashboard/main.ts)
 *   redslot up ...           a local cluster              (deploy/local/up.ts)
 *   redslot etcd-auth ...    etcd roles, users, auth on   (deploy/etcd/auth-setup.ts)
 *   redslot <admin> ...      status, group, server, slots, ... against a dashboard (dashboard/cli/)
 */
import { REDSLOT_VERSION } from '../../shared/version.js';

type Runner = (argv: string[]) => Promise<number | void>;

interface Route {
  /** A literal import() per command, so the compiler checks each module and export while loading stays lazy. */
  load: () => Promise<Runner>;
  summary: string;
}

const ROUTES: Record<string, Route> = {
  proxy: { load: async () => (await import('../../proxy/main.js')).runProxyCommand, summary: 'run a proxy (RESP 19000, admin 11080)' },
  dashboard: { load: async () => (await import('../../dashboard/main.js')).runDashboardCommand, summary: 'run a dashboard (HTTP 18080)' },
  up: { load: async () => (await import('../local/up.js')).runUp, summary: 'start a local cluster: redis-servers, proxy, dashboard' },
  'etcd-auth': { load: async () => (await import('../etcd/auth-setup.js')).runEtcdAuthCommand, summary: "enable etcd authentication with redslot's roles" },
};
const loadAdmin = () => import('../../dashboard/cli/index.js');

async function adminCommands(): Promise<string[]> {
  return [...(await loadAdmin()).CLI_COMMANDS];
}

async function usage(): Promise<string> {
  const lines = ['usage: redslot <command> [options]', '', 'services:'];
  for (const [name, r] of Object.entries(ROUTES)) lines.push(`  ${name.padEnd(12)} ${r.summary}`);
  const admin = await adminCommands();
  if (admin.length > 0) {
    lines.push('', 'admin (talk to a dashboard; --dashboard URL, token from --token or REDSLOT_TOKEN):');
    lines.push('  ' + admin.join(', '));
  }
  lines.push('', 'redslot <command> --help for its options; redslot --version');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write((await usage()) + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === 'version') {
    process.stdout.write(`redslot ${REDSLOT_VERSION}\n`);
    return 0;
  }
  const route = ROUTES[cmd];
  if (route) return (await (await route.load())(rest)) ?? 0;
  if ((await adminCommands()).includes(cmd)) {
    // One-shot: exit with its code even if an HTTP keep-alive socket would hold the loop open.
    const code = (await (await loadAdmin()).runAdminCommand(argv)) ?? 0;
    process.stdout.write('', () => process.exit(code));
    return code;
  }
  process.stderr.write(`redslot: unknown command '${cmd}'\n\n${await usage()}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Services keep running (their handles hold the loop); one-shot commands exit with their code.
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error & { code?: string };
    process.stderr.write(`redslot: ${e.code ? `[${e.code}] ` : ''}${e.message}\n`);
    process.exitCode = 1;
  },
);
