// Smoke test of an assembled runtime stage (called by build-stages.sh; plain Node, no dependencies):
//   node smoke-runtime.mjs <app dir> '<HEALTHCHECK CMD as JSON>'
// Starts `redslot proxy` (empty static topology) and `redslot dashboard` (memory coordinator) from the
// runtime files on loopback ports, runs the image's HEALTHCHECK command against the proxy admin /healthz
// and the dashboard's /api/v1/health, fetches the dashboard UI, then SIGTERMs both and expects exit 0.
import { spawn } from 'node:child_process';

const [appDir, healthcheckJson] = process.argv.slice(2);
const healthcheck = JSON.parse(healthcheckJson);
const children = new Set();
const fail = (msg) => {
  for (const c of children) c.kill('SIGKILL');
  console.error(`smoke: FAIL: ${msg}`);
  process.exit(1);
};
const timer = setTimeout(() => fail('timed out after 60 s'), 60_000);

function start(args, pattern) {
  const child = spawn(process.execPath, ['dist/deploy/bin/redslot.js', ...args], {
    cwd: appDir,
    env: { ...process.env, NODE_ENV: 'production', REDSLOT_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => { children.delete(child); resolve(code ?? signal); }));
  const match = new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((code) => reject(new Error(`redslot ${args[0]} exited ${code}: ${out}`)));
  });
  return { child, match, exited, log: () => out };
}

function runHealthcheck(url) {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, healthcheck.slice(1), { env: { ...process.env, REDSLOT_HEALTHCHECK_URL: url }, stdio: 'inherit' });
    c.on('exit', (code) => resolve(code));
  });
}

async function stop(p, name) {
  p.child.kill('SIGTERM');
  const code = await p.exited;
  if (code !== 0) fail(`${name} exited ${code} after SIGTERM: ${p.log()}`);
}

try {
  if (healthcheck[0] !== 'node') fail(`HEALTHCHECK must run node, got ${healthcheck[0]}`);
  const proxy = start(
    ['proxy', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--topology', '{"groups":[],"slots":[]}'],
    /admin on http:\/\/(\S+)/,
  );
  const admin = (await proxy.match)[1];
  const hcProxy = await runHealthcheck(`http://${admin}/healthz`);
  if (hcProxy !== 0) fail(`HEALTHCHECK against the proxy admin /healthz exited ${hcProxy}`);
  const ready = await fetch(`http://${admin}/readyz`);
  if (ready.status !== 200) fail(`proxy /readyz answered ${ready.status}`);
  console.log(`smoke: proxy ok (admin ${admin}, HEALTHCHECK 0, /readyz 200)`);

  const dash = start(
    ['dashboard', '--coordinator', 'memory://image-smoke', '--listen', '127.0.0.1:0', '--token', 'image-smoke-token-0123456789'],
    /listening on (http:\/\/\S+)/,
  );
  const url = (await dash.match)[1];
  const hcDash = await runHealthcheck(`${url}/api/v1/health`);
  if (hcDash !== 0) fail(`HEALTHCHECK against the dashboard /api/v1/health exited ${hcDash}`);
  const ui = await fetch(`${url}/ui/`);
  if (ui.status !== 200) fail(`dashboard /ui/ answered ${ui.status}: ${(await ui.text()).slice(0, 200)}`);
  console.log(`smoke: dashboard ok (${url}, HEALTHCHECK 0, /ui/ 200)`);

  await stop(proxy, 'proxy');
  await stop(dash, 'dashboard');
  console.log('smoke: both stopped cleanly on SIGTERM');
  clearTimeout(timer);
} catch (err) {
  fail(err.message);
}
