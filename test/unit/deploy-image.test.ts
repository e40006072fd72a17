/**
 * deploy/image without a Docker engine (none on dev or CI machines).
 *
 * Static: the Dockerfile's stages, COPY sources, user, ports, entrypoint and CMD agree with the repository
 * (tsconfig outDir, package.json bin, the CLI's routes, the proxy's and dashboard's default ports).
 * Behaviour: the HEALTHCHECK command is run with node against real local HTTP servers; build-stages.sh (which
 * executes the Dockerfile's stages without Docker) is run on small Dockerfiles to show it passes a good one
 * and refuses a missing COPY source, a root USER and a failing RUN. The full build of the real image through
 * build-stages.sh is in test/integration/deploy-image-build.test.ts (slow: npm ci + tsc).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_DASHBOARD_PORT } from '../../dashboard/config.js';
import { PROXY_DEFAULTS } from '../../proxy/config.js';
import { parseHostPort } from '../../shared/config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const IMAGE = path.join(ROOT, 'deploy/image');
const DOCKERFILE = path.join(IMAGE, 'Dockerfile');

interface Instr {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  name: string;
  from: string;
  instrs: Instr[];
}

export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i]!;
    const start = i + 1;
    if (/^\s*(#|$)/.test(l)) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) l = l.slice(0, -1) + ' ' + lines[++i]!.trim();
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile:${start}: cannot parse ${l}`);
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    if (op === 'FROM') {
      const f = /^(\S+)\s+AS\s+(\S+)$/i.exec(rest);
      if (!f) throw new Error(`Dockerfile:${start}: FROM needs AS <name>`);
      stages.push({ name: f[2]!, from: f[1]!, instrs: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args.set(k!, v ?? '');
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile:${start}: ${op} before FROM`);
      stages[stages.length - 1]!.instrs.push({ op, args: rest, line: start });
    }
  }
  return { args, stages };
}

const df = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const stage = (name: string): Stage => {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};
const all = (s: Stage, op: string): Instr[] => s.instrs.filter((i) => i.op === op);
const one = (s: Stage, op: string): Instr => {
  const xs = all(s, op);
  if (xs.length !== 1) throw new Error(`stage ${s.name}: want exactly one ${op}, found ${xs.length}`);
  return xs[0]!;
};
const execForm = (i: Instr): string[] => JSON.parse(i.args) as string[];
const workdir = (s: Stage): string => one(s, 'WORKDIR').args;
const copies = (s: Stage) =>
  all(s, 'COPY').map((i) => {
    const parts = i.args.split(/\s+/);
    const from = parts[0]!.startsWith('--from=') ? parts.shift()!.slice('--from='.length) : undefined;
    const dest = parts.pop()!;
    return { from, srcs: parts, dest, line: i.line };
  });

/** .dockerignore patterns as predicates over repo-relative paths. */
function ignored(rel: string): boolean {
  const ignore = path.join(IMAGE, 'Dockerfile.dockerignore');
  const pats = readFileSync(ignore, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  return pats.some((p) => {
    const re = new RegExp(
      '^' +
        p
          .split('**/')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
          .join('(?:.*/)?') +
        '(?:/.*)?$',
    );
    return re.test(rel);
  });
}

describe('Dockerfile (static)', () => {
  it('the dockerignore matcher behaves like Docker\'s for the patterns used', () => {
    expect(ignored('node_modules')).toBe(true);
    expect(ignored('deploy/local/node_modules/x')).toBe(true);
    expect(ignored('dist/deploy/bin/redslot.js')).toBe(true);
    expect(ignored('deploy/k8s/proxy.yaml')).toBe(true);
    expect(ignored('npm-debug.log')).toBe(true);
    expect(ignored('deploy/local')).toBe(false);
    expect(ignored('deploy/bin/redslot.ts')).toBe(false);
    expect(ignored('distance.ts')).toBe(false);
  });

  it('has a build and a runtime stage on node:20-bookworm-slim, matching the Node major the project runs on', () => {
    expect(df.stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    const base = df.args.get('NODE_IMAGE');
    expect(base).toBe('node:20-bookworm-slim');
    for (const s of df.stages) expect(s.from).toBe('${NODE_IMAGE}');
    expect(process.versions.node.split('.')[0]).toBe('20');
  });

  it('build stage: npm ci, npm run build, npm prune --omit=dev', () => {
    const runs = all(stage('build'), 'RUN').map((r) => r.args).join(' && ');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm run build\b.*npm prune --omit=dev/);
  });

  it('every COPY source of the build stage exists and is not excluded by Dockerfile.dockerignore', () => {
    for (const c of copies(stage('build'))) {
      expect(c.from).toBeUndefined();
      for (const src of c.srcs) {
        expect(existsSync(path.join(ROOT, src)), `${src} (line ${c.line})`).toBe(true);
        expect(ignored(src), `${src} is excluded by the dockerignore`).toBe(false);
      }
    }
  });

  it('the copied sources are self-contained: no relative import leaves them', () => {
    const roots = copies(stage('build')).flatMap((c) => c.srcs).filter((s) => existsSync(path.join(ROOT, s)) && statSync(path.join(ROOT, s)).isDirectory());
    expect(roots).toEqual(expect.arrayContaining(['shared', 'proxy', 'dashboard']));
    const inside = (abs: string) => roots.some((r) => abs.startsWith(path.join(ROOT, r) + path.sep)) && !ignored(path.relative(ROOT, abs));
    const escapes: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name !== 'node_modules' && !ignored(path.relative(ROOT, p))) walk(p);
        } else if (e.name.endsWith('.ts')) {
          const text = readFileSync(p, 'utf8');
          for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
            const target = path.resolve(path.dirname(p), m[1]!);
            if (!inside(target)) escapes.push(`${path.relative(ROOT, p)} -> ${m[1]}`);
          }
        }
      }
    };
    for (const r of roots) if (!ignored(r)) walk(path.join(ROOT, r));
    expect(escapes).toEqual([]);
  });

  it('runtime stage copies only dist, production node_modules, package.json and the dashboard UI files', () => {
    const build = workdir(stage('build'));
    const cs = copies(stage('runtime'));
    expect(cs.every((c) => c.from === 'build')).toBe(true);
    expect(cs.flatMap((c) => c.srcs).sort()).toEqual(
      [`${build}/dashboard/ui/static`, `${build}/dist`, `${build}/node_modules`, `${build}/package.json`].sort(),
    );
    // The UI folder is where dashboard/ui/plugin.ts looks when running from dist/, and it is in the repo.
    const ui = cs.find((c) => c.srcs[0] === `${build}/dashboard/ui/static`)!;
    expect(path.posix.join(workdir(stage('runtime')), ui.dest)).toBe(`${workdir(stage('runtime'))}/dashboard/ui/static`);
    expect(existsSync(path.join(ROOT, 'dashboard/ui/static/index.html'))).toBe(true);
  });

  it('the runtime smoke script parses (node --check)', () => {
    const r = spawnSync(process.execPath, ['--check', path.join(IMAGE, 'smoke-runtime.mjs')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('runs as a numeric non-root USER', () => {
    const user = one(stage('runtime'), 'USER').args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
  });

  it('ENTRYPOINT is the compiled CLI (tsconfig outDir + package.json bin) and CMD is a CLI route', () => {
    const ep = execForm(one(stage('runtime'), 'ENTRYPOINT'));
    expect(ep[0]).toBe('node');
    const tsconfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    const { outDir, rootDir } = tsconfig.compilerOptions;
    expect(ep[1]!.startsWith(`${outDir}/`)).toBe(true);
    const source = path.join(ROOT, rootDir, ep[1]!.slice(outDir.length + 1).replace(/\.js$/, '.ts'));
    expect(existsSync(source), source).toBe(true);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin['redslot']).toBe(ep[1]);
    const cmd = execForm(one(stage('runtime'), 'CMD'));
    expect(cmd).toEqual(['proxy']);
    expect(readFileSync(source, 'utf8')).toMatch(new RegExp(`^\\s*${cmd[0]}: \\{ load:`, 'm'));
  });

  it('EXPOSEs the proxy RESP and admin ports and the dashboard port, as the code defaults them', async () => {
    const exposed = one(stage('runtime'), 'EXPOSE').args.split(/\s+/).map(Number).sort();
    const want = [DEFAULT_DASHBOARD_PORT, parseHostPort(PROXY_DEFAULTS.listen, 'listen').port, parseHostPort(PROXY_DEFAULTS.admin, 'admin').port];
    expect(exposed).toEqual(expect.arrayContaining(want));
  });
});

describe('HEALTHCHECK (run with node against real HTTP servers)', () => {
  const servers: http.Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  const serve = async (status: number): Promise<number> => {
    const s = http.createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end();
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  };
  const check = one(stage('runtime'), 'HEALTHCHECK').args;
  const argv = JSON.parse(check.slice(check.indexOf('CMD') + 3).trim()) as string[];
  const runCheck = (url: string): Promise<number | null> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, argv.slice(1), { env: { ...process.env, REDSLOT_HEALTHCHECK_URL: url }, stdio: 'ignore' });
      child.on('exit', (code) => resolve(code));
    });

  it('is exec-form node, with a timeout, defaulting to the proxy admin /healthz', async () => {
    expect(argv[0]).toBe('node');
    expect(check).toMatch(/--timeout=\d+s/);
    const adminPort = parseHostPort(PROXY_DEFAULTS.admin, 'admin').port;
    expect(argv.join(' ')).toContain(`'http://127.0.0.1:${adminPort}/healthz'`);
  });

  it('exits 0 on 200, 1 on 503, 1 when nothing listens', async () => {
    const ok = await serve(200);
    const bad = await serve(503);
    const closed = await serve(200);
    await new Promise((r) => servers.pop()!.close(r));
    expect(await runCheck(`http://127.0.0.1:${ok}/healthz`)).toBe(0);
    expect(await runCheck(`http://127.0.0.1:${bad}/healthz`)).toBe(1);
    expect(await runCheck(`http://127.0.0.1:${closed}/healthz`)).toBe(1);
  });
});

describe('build-stages.sh (runs a Dockerfile without Docker)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const run = (dockerfile: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-df-'));
    dirs.push(dir);
    const file = path.join(dir, 'Dockerfile');
    writeFileSync(file, dockerfile);
    // Same context rules as the real image (keeps node_modules out of the copied context).
    writeFileSync(`${file}.dockerignore`, readFileSync(path.join(IMAGE, 'Dockerfile.dockerignore')));
    const r = spawnSync('bash', [path.join(IMAGE, 'build-stages.sh')], {
      env: { ...process.env, REDSLOT_DOCKERFILE: file }, encoding: 'utf8', timeout: 60_000,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  const good = (over: Partial<Record<'copy' | 'run' | 'user', string>> = {}) => `
ARG NODE_IMAGE=node:20-bookworm-slim
FROM \${NODE_IMAGE} AS build
WORKDIR /src
COPY ${over.copy ?? 'package.json'} ./
RUN ${over.run ?? `mkdir -p dist && echo 'console.log(process.argv[2])' > dist/x.js`}
FROM \${NODE_IMAGE} AS runtime
WORKDIR /app
COPY --from=build /src/dist ./dist
COPY --from=build /src/package.json ./package.json
USER ${over.user ?? '1000:1000'}
ENTRYPOINT ["node", "dist/x.js"]
CMD ["proxy"]
`;

  it('executes a good Dockerfile and smoke-tests its runtime stage', () => {
    const r = run(good());
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/\[build-stages\] OK/);
  });

  it('refuses a COPY source that does not exist', () => {
    const r = run(good({ copy: 'no-such-file.json' }));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/COPY source missing: .*no-such-file.json/);
  });

  it('refuses a failing RUN', () => {
    const r = run(good({ run: 'exit 3' }));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/RUN failed: exit 3/);
  });

  it('refuses a root USER', () => {
    const r = run(good({ user: '0' }));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/non-root USER/);
  });

  it('refuses an ENTRYPOINT that fails in the runtime stage', () => {
    const r = run(good({ run: `mkdir -p dist && echo 'process.exit(2)' > dist/x.js` }));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/ENTRYPOINT --help exited non-zero/);
  });
});
