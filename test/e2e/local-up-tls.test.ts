/**
 * `redslot up --tls`: a local CA and proxy certificate are made with openssl, the proxy port serves TLS
 * only, and the banner says how to connect (`redis-cli --tls --cacert FILE -p PORT`) - which then works;
 * the dashboard and the proxy admin port serve HTTPS with the same CA, and the printed CLI line works.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { httpRequest } from '../../shared/tls/http-request.js';
import { freePort, waitForPort } from '../support/free-port.js';
import { Spawned } from '../support/processes.js';

const CLI = path.resolve('dist/deploy/bin/redslot.js');
const run = promisify(execFile);

describe('redslot up --tls (compiled CLI)', () => {
  let up: Spawned | undefined;
  afterAll(async () => {
    await up?.kill9();
  });

  it('serves TLS on the proxy port and prints the redis-cli line that connects', async () => {
    const [port, admin, dash] = [await freePort(), await freePort(), await freePort()];
    up = new Spawned(
      'redslot up --tls',
      spawn(process.execPath, [CLI, 'up', '--tls', '--redis-port', '0', '--port', String(port), '--admin-port', String(admin), '--dashboard-port', String(dash)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, REDSLOT_LOG_LEVEL: 'warn' },
      }),
    );
    await waitForPort(port, '127.0.0.1', 20_000);
    await expect.poll(() => up!.log(), { timeout: 5000 }).toContain('Ctrl-C stops everything');
    const m = /redis-cli --tls --cacert (\S+) -p (\d+)/.exec(up.log());
    expect(m, up.log()).not.toBeNull();
    const [, caFile, shownPort] = m!;
    expect(shownPort).toBe(String(port));
    const cli = await run('redis-cli', ['--tls', '--cacert', caFile!, '-p', shownPort!, 'set', 'up:tls', 'yes']);
    expect(cli.stdout.trim()).toBe('OK');
    const io = new Redis({ port, host: '127.0.0.1', tls: { ca: readFileSync(caFile!) }, maxRetriesPerRequest: 0 });
    expect(await io.get('up:tls')).toBe('yes');
    io.disconnect();
    // Plain RESP is not served on the TLS port.
    await expect(run('redis-cli', ['-p', shownPort!, 'ping'], { timeout: 3000 })).rejects.toBeDefined();

    // The dashboard and the admin port serve HTTPS with the same CA; the printed CLI line works as shown.
    const cliLine = /REDSLOT_TOKEN=(\S+) node dist\/deploy\/bin\/redslot\.js status --dashboard (https:\/\/\S+) --cacert (\S+)/.exec(up.log());
    expect(cliLine, up.log()).not.toBeNull();
    const [, token, dashboardUrl, cliCa] = cliLine!;
    expect(dashboardUrl).toBe(`https://127.0.0.1:${dash}`);
    expect(cliCa).toBe(caFile);
    expect(up.log()).toContain(`open ${dashboardUrl}/ui/`);
    const status = await run(process.execPath, [CLI, 'status', '--dashboard', dashboardUrl!, '--cacert', cliCa!], { env: { ...process.env, REDSLOT_TOKEN: token } });
    expect(status.stdout).toMatch(/^cluster local /);
    const untrusted = await run(process.execPath, [CLI, 'status', '--dashboard', dashboardUrl!], { env: { ...process.env, REDSLOT_TOKEN: token } }).catch((e: { code: number; stderr: string }) => e);
    expect(untrusted).toMatchObject({ code: 3, stderr: expect.stringContaining('--cacert') });
    const metrics = await httpRequest(`https://127.0.0.1:${admin}/metrics`, { timeoutMs: 5000, tls: { ca: readFileSync(caFile!) } });
    expect(metrics.status).toBe(200);
    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
  });
});
