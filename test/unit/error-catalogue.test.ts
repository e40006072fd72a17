/**
 * The error catalogue across all of redslot: stable, unique codes, each documented in the generated error table
 * of docs/errors.md (docs/tools/errors-table.ts), and no catalogue module forgotten.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CATALOGUE_MODULES, ERRORS_BEGIN, ERRORS_END, ERRORS_MD, loadCatalogue, renderErrorsMarkdown } from '../../docs/tools/errors-table.js';
import { sectionBetweenMarkers } from '../../docs/tools/markers.js';

describe('error catalogue', () => {
  it('every module that defines errors is part of the catalogue', () => {
    const files = execFileSync('git', ['grep', '-l', 'defineErrors(', '--', 'shared', 'proxy', 'dashboard'], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts'));
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

  it('docs/errors.md holds exactly the generated error table (run: npm run gen:docs)', async () => {
    const page = readFileSync(ERRORS_MD, 'utf8');
    const section = sectionBetweenMarkers(page, ERRORS_BEGIN, ERRORS_END);
    expect(section, 'docs/errors.md lacks the error table markers').toBeDefined();
    expect(section).toBe(renderErrorsMarkdown(await loadCatalogue()));
  });
});
