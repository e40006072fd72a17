/**
 * The processes a benchmark run needs: one direct redis-server (the baseline), the backend groups, a redslot
 * proxy from dist/ over them, and nutcracker (twemproxy) over the same backends when it is installed.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../../shared/spawn/ports.js';
import { spawnProcess, stopAll, type Spawned } from '../../shared/spawn/process.js';
import { startRedis, type RedisServerHandle } from '../../shared/spawn/redis.js';
import { SLOT_COUNT } from '../../shared/slot.js';

export interface Target {
  label: string;
  host: string;
  port: number;
  /** RB_WATCH value: name=pid pairs whose CPU resp-bench reports. */
  watch: string;
}

export interface Started {
  targets: Target[];
  stop(): Promise<void>;
}

const GROUPS = Number(process.env.BENCH_GROUPS ?? 2);
const PROXY_WORKERS = process.env.BENCH_PROXY_WORKERS;

function nutcrackerBinary(): string | undefined {
  for (const p of ['/usr/sbin/nutcracker', '/usr/bin/nutcracker']) if (existsSync(p)) return p;
  return undefined;
}

export async function startServers(opts: { root: string; work: string; targets: string[] }): Promise<Started> {
  const redises: RedisServerHandle[] = [];
  const procs: Spawned[] = [];
  const targets: Target[] = [];
  const stop = async () => {
    await stopAll(procs);
    await Promise.all(redises.map((r) => r.stop()));
  };
  try {
    if (opts.targets.includes('direct')) {
      const direct = await startRedis();
      redises.push(direct);
      targets.push({ label: 'direct', host: direct.host, port: direct.port, watch: `redis=${direct.proc.pid}` });
    }
    const backends: RedisServerHandle[] = [];
    for (let g = 0; g < GROUPS; g++) backends.push(await startRedis());
    redises.push(...backends);
    const backendWatch = backends.map((b, i) => `backend${i + 1}=${b.proc.pid}`).join(',');

    if (opts.targets.includes('redslot')) {
      const port = await freePort();
      const admin = await freePort();
      const per = Math.ceil(SLOT_COUNT / GROUPS);
      const config = {
        listen: `127.0.0.1:${port}`,
        admin: `127.0.0.1:${admin}`,
        ...(PROXY_WORKERS ? { workers: Number(PROXY_WORKERS) } : {}),
        topology: {
          groups: backends.map((b, i) => ({ id: i + 1, servers: [{ addr: b.addr, role: 'master' }] })),
          slots: backends.map((_, i) => [i * per, Math.min(SLOT_COUNT, (i + 1) * per) - 1, i + 1]),
        },
      };
      const file = path.join(opts.work, 'proxy.json');
      writeFileSync(file, JSON.stringify(config, null, 2));
      const proxy = spawnProcess('redslot', process.execPath, [path.join(opts.root, 'dist/shared/bin/redslot.js'), 'proxy', '--config', file], {
        ...process.env,
        REDSLOT_LOG_LEVEL: 'warn',
      });
      procs.push(proxy);
      await waitForPort(port, '127.0.0.1', 15_000).catch((err: unknown) => {
        throw new Error(`proxy did not start: ${proxy.log()}`, { cause: err });
      });
      targets.push({ label: 'redslot', host: '127.0.0.1', port, watch: `proxy=${proxy.pid},${backendWatch}` });
    }

    const nut = nutcrackerBinary();
    if (opts.targets.includes('twemproxy') && nut) {
      const port = await freePort();
      const statsPort = await freePort();
      const conf = [
        'redslot_bench:',
        `  listen: 127.0.0.1:${port}`,
        '  hash: fnv1a_64',
        '  distribution: ketama',
        '  redis: true',
        '  auto_eject_hosts: false',
        '  servers:',
        ...backends.map((b) => `   - ${b.addr}:1`),
      ].join('\n');
      const file = path.join(opts.work, 'nutcracker.yml');
      writeFileSync(file, conf + '\n');
      const tw = spawnProcess('nutcracker', nut, ['-c', file, '-s', String(statsPort), '-v', '2']);
      procs.push(tw);
      await waitForPort(port);
      targets.push({ label: 'twemproxy', host: '127.0.0.1', port, watch: `proxy=${tw.pid},${backendWatch}` });
    } else if (opts.targets.includes('twemproxy')) {
      process.stderr.write('bench: nutcracker not installed (bash deploy/local/install-deps.sh --bench): skipping twemproxy\n');
    }
    return { targets, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
