/**
 * The README's error table, generated from the catalogue so it cannot drift.
 *
 *   node --import tsx docs/tools/errors-table.ts           print the table
 *   node --import tsx docs/tools/errors-table.ts --write   replace it in docs/errors.md (between the markers)
 *
 * Every module that calls defineErrors() is listed in CATALOGUE_MODULES; a test checks that no such module
 * is missing from the list and that README.md holds exactly what renderErrorsMarkdown() produces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allErrorSpecs, type ErrorSpec } from '../../shared/errors.js';
import { replaceBetweenMarkers } from './markers.js';

/** Repo-relative source paths of every module that registers error specs. */
export const CATALOGUE_MODULES = [
  'shared/errors.ts',
  'shared/coordinator/errors.ts',
  'dashboard/redis/link.ts',
  'proxy/errors.ts',
  'proxy/topology/errors.ts',
  'proxy/acl/errors.ts',
  'dashboard/errors.ts',
  'dashboard/migration/errors.ts',
  'dashboard/migration/split/errors.ts',
] as const;

export const ERRORS_BEGIN = '<!-- errors:begin -->';
export const ERRORS_END = '<!-- errors:end -->';


const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The page that holds the generated table between the markers. */
export const ERRORS_MD = path.join(ROOT, 'docs/errors.md');

/** Imports every catalogue module (registering its specs) and returns all specs sorted by code. */
export async function loadCatalogue(): Promise<ErrorSpec[]> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const ext = path.extname(fileURLToPath(import.meta.url)); // .ts (docs/tools is run from source by tsx or vitest)
  for (const m of CATALOGUE_MODULES) {
    await import(path.relative(here, path.join(ROOT, m.replace(/\.ts$/, ext))).replace(/^(?!\.)/, './'));
  }
  return allErrorSpecs().sort((a, b) => a.code.localeCompare(b.code));
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderErrorsMarkdown(specs: ErrorSpec[]): string {
  const lines = [
    '| code | client sees / HTTP | message | when |',
    '|---|---|---|---|',
  ];
  for (const s of specs) {
    const wire = [s.replyPrefix ? `\`-${s.replyPrefix}\`` : '', s.httpStatus ? `HTTP ${s.httpStatus}` : ''].filter(Boolean).join(', ');
    lines.push(`| \`${s.code}\` | ${wire || '–'} | ${cell(s.message)} | ${cell(s.description)} |`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const table = renderErrorsMarkdown(await loadCatalogue());
  if (process.argv.includes('--write')) {
    writeFileSync(ERRORS_MD, replaceBetweenMarkers(readFileSync(ERRORS_MD, 'utf8'), ERRORS_BEGIN, ERRORS_END, table));
    process.stderr.write('docs/errors.md error table updated\n');
  } else {
    process.stdout.write(table);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stderr.write(String((err as Error).stack ?? err) + '\n');
    process.exitCode = 1;
  });
}
