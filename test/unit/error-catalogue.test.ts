/**
 * The error catalogue across all of redslot: stable, unique codes, each documented in the README's
 * generated error table (shared/docs/errors-table.ts), and no catalogue module forgotten.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CATALOGUE_MODULES, ERRORS_BEGIN, ERRORS_END, loadCatalogue, renderErrorsMarkdown } from '../../shared/docs/errors-table.js';
import { sectionBetweenMarkers } from '../../shared/docs/markers.js';

describe('error catalogue', () => {
  it('every module that defines errors is part of the catalogue', () => {
    const files = execFileSync('git', ['grep', '-l', 'defineErrors(', '--', 'shared', 'proxy', 'dashboard'], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts') && f !== 'shared/docs/errors-table.ts');
    expect(files.sort()).toEqual([...CATALOGUE_MODULES].sort());
  });

  it('codes are unique, stable-looking and described', async () => {
    const specs = await loadCatalogue();
    expect(specs.length).toBeGreaterThan(20);
    const codes = specs.map((s) => s.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const s of specs) {
      expect(s.code).toMatch(/^REDSLOT_ERR_[A-Z0-9_]+$/);
      expect(s.message.length, s.code).toBeGreaterThan(3);
      expect(s.description.length, s.code).toBeGreaterThan(10);
      if (s.replyPrefix) expect(s.replyPrefix).toMatch(/^[A-Z]+$/);
    }
  });

  it('README.md holds exactly the generated error table (run: node --import tsx shared/docs/errors-table.ts --write)', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = sectionBetweenMarkers(readme, ERRORS_BEGIN, ERRORS_END);
    expect(section, 'README.md lacks the error table markers').toBeDefined();
    expect(section).toBe(renderErrorsMarkdown(await loadCatalogue()));
  });
});
