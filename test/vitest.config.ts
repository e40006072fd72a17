import { defineConfig } from 'vitest/config';

const IMAGE_BUILD_TEST = 'test/integration/deploy-image-build.test.ts';

// One config for every tier; tool configs live in test/ so the top level stays fixed.
export default defineConfig({
  test: {
    // The image-build test (npm ci + a full tsc build, CI only) runs alone, after everything else: beside the
    // timing-sensitive server tests it starved them of CPU on a 2-core CI machine.
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [IMAGE_BUILD_TEST], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'image', include: [IMAGE_BUILD_TEST], sequence: { groupOrder: 1 } } },
    ],
    reporters: ['default', './test/plain-summary-reporter.ts'],
    testTimeout: 30_000,
    // Real servers on 2 shared cores: a test that fails once is run once more, and the summary names it FLAKY
    // (test/plain-summary-reporter.ts), so a timing flake never hides and never sinks a run. REDSLOT_TEST_RETRY=0 to see raw.
    retry: Number(process.env.REDSLOT_TEST_RETRY ?? 1),
    hookTimeout: 60_000,
    // Spawned servers share 2 cores: keep file-level parallelism modest so timing-sensitive tests stay stable.
    maxWorkers: 2,
    pool: 'forks',
    // Keep CI output readable: only errors unless a run asks for more (REDSLOT_LOG_LEVEL=info npm test).
    env: { REDSLOT_LOG_LEVEL: process.env.REDSLOT_LOG_LEVEL ?? 'error' },
  },
});
