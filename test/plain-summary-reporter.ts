import type { Reporter, TestCase, TestModule } from 'vitest/node';

/**
 * Prints, last, what CI reads: the failed tests (one line each, with the first line of their error), the tests
 * that passed only on a retry (flaky: named, never hidden), unhandled errors grouped by message, then the plain
 * closing line `N passed, N failed[, N skipped]`. Everything is at the end because CI keeps only the tail.
 */
export default class PlainSummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const failures: string[] = [];
    const flaky: string[] = [];
    for (const mod of modules) {
      const tests = [...mod.children.allTests()];
      for (const t of tests) {
        const r = t.result();
        if (r.state === 'passed') {
          passed++;
          if ((t.diagnostic()?.retryCount ?? 0) > 0) flaky.push(`${nameOf(mod, t)} (passed on retry ${t.diagnostic()!.retryCount})`);
        } else if (r.state === 'failed') {
          failed++;
          failures.push(`${nameOf(mod, t)}: ${firstLine(r.errors?.[0])}`);
        } else skipped++;
      }
      // A file that failed to load has no failed test of its own: count it once.
      if (mod.state() === 'failed' && !tests.some((t) => t.result().state === 'failed')) {
        failed++;
        failures.push(`${mod.moduleId}: ${firstLine(mod.errors()[0])}`);
      }
    }
    failed += unhandledErrors.length;
    const lines: string[] = [];
    if (failures.length) lines.push('Failed tests:', ...failures.map((f) => `  FAILED ${f}`));
    if (flaky.length) lines.push('Flaky tests (failed, then passed on retry):', ...flaky.map((f) => `  FLAKY ${f}`));
    if (unhandledErrors.length) {
      const byMessage = new Map<string, number>();
      for (const e of unhandledErrors) byMessage.set(firstLine(e), (byMessage.get(firstLine(e)) ?? 0) + 1);
      lines.push('Unhandled errors:', ...[...byMessage].map(([m, n]) => `  ${n} x ${m}`));
    }
    process.stdout.write(`\n${lines.map((l) => `${l}\n`).join('')}${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}

function nameOf(mod: TestModule, t: TestCase): string {
  const file = mod.moduleId.replace(/^.*?\/test\//, 'test/');
  return `${file} > ${t.fullName}`;
}

function firstLine(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: string; message?: string; stack?: string };
    const where = /test\/[^\s)]+:\d+/.exec(e.stack ?? '')?.[0];
    return `${e.name ?? 'Error'}: ${(e.message ?? '').split('\n')[0]!.slice(0, 300)}${where ? ` (${where})` : ''}`;
  }
  return String(err).split('\n')[0]!.slice(0, 300);
}
