/**
 * Builds the real image's stages without Docker (deploy/image/build-stages.sh): npm ci, npm run build,
 * npm prune --omit=dev in a temp copy of the build context, then the runtime stage assembled from its
 * COPY --from lines only, where `node dist/deploy/bin/redslot.js --help` and `--version` must exit 0 and every
 * file must be readable by the image's non-root user.
 *
 * Slow (npm ci + a full tsc build, ~20-60 s on 2 cores) and needs the npm registry or a warm npm cache, so
 * it runs in CI (CI=true) or when asked (REDSLOT_TEST_IMAGE=1), and is skipped otherwise.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENABLED = process.env['CI'] === 'true' || process.env['REDSLOT_TEST_IMAGE'] === '1';

describe('container image build stages', () => {
  it.skipIf(!ENABLED)('build-stages.sh builds the image\'s build stage and the runtime stage starts the CLI', async () => {
    // Own process group, so a timeout stops npm/tsc too (killed by our PID's group, nothing else).
    const child = spawn('bash', [path.join(ROOT, 'deploy/image/build-stages.sh')], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGTERM'), 280_000);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    expect(code, out).toBe(0);
    expect(out).toMatch(/ENTRYPOINT --version: redslot \d+\.\d+\.\d+/);
    expect(out).toMatch(/\[build-stages\] OK/);
  }, 300_000);
});
