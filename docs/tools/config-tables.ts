/**
 * docs/configuration.md's knob tables, generated from the config schemas so they cannot drift: every knob's
 * name (as files, env and flags spell it), default and description come from proxy/config/schema.ts,
 * dashboard/config.ts and the sections they include.
 *
 *   node --import tsx docs/tools/config-tables.ts           print the tables
 *   node --import tsx docs/tools/config-tables.ts --write   replace them in docs/configuration.md (between the markers)
 *
 * A test (test/unit/config-docs.test.ts) checks that the page holds exactly what renderConfigTables() produces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TSchema } from 'typebox';
import { DashboardKnobs } from '../../dashboard/config.js';
import { ProxyKnobs } from '../../proxy/config.js';
import { knobMeta } from '../../shared/config/knobs.js';
import { replaceBetweenMarkers } from './markers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The page that holds the generated tables between the markers. */
export const CONFIGURATION_MD = path.join(ROOT, 'docs/configuration.md');

/** Each generated table: its markers, its schema and the header of its first column. */
export const CONFIG_TABLES = [
  { begin: '<!-- config:proxy:begin -->', end: '<!-- config:proxy:end -->', schema: ProxyKnobs as TSchema, keyHeader: 'key (env `REDSLOT_<KEY>`)' },
  { begin: '<!-- config:dashboard:begin -->', end: '<!-- config:dashboard:end -->', schema: DashboardKnobs as TSchema, keyHeader: 'key (env `REDSLOT_DASHBOARD_<KEY>`)' },
] as const;

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function shownDefault(knob: TSchema): string {
  const m = knobMeta(knob);
  if (m.docDefault !== undefined) return m.docDefault;
  const d = m.default;
  if (d === undefined || d === null) return '–';
  if (d === '') return "`''`";
  return `\`${typeof d === 'string' ? d : JSON.stringify(d)}\``;
}

/** Rows of one table: a section is walked into (`limits.maxClients`), anything else is one knob. */
function rows(schema: TSchema, prefix: string, out: string[]): string[] {
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  for (const [key, knob] of Object.entries(props)) {
    const name = prefix + (knobMeta(knob).from ?? key);
    if ((knob as { properties?: unknown }).properties !== undefined) {
      rows(knob, `${name}.`, out);
      continue;
    }
    out.push(`| \`${name}\` | ${shownDefault(knob)} | ${cell(knobMeta(knob).description ?? '')} |`);
  }
  return out;
}

export function renderConfigTable(schema: TSchema, keyHeader: string): string {
  return [`| ${keyHeader} | default | meaning |`, '|---|---|---|', ...rows(schema, '', [])].join('\n') + '\n';
}

/** The page with every table regenerated. */
export function renderConfigurationPage(page: string): string {
  return CONFIG_TABLES.reduce((text, t) => replaceBetweenMarkers(text, t.begin, t.end, renderConfigTable(t.schema, t.keyHeader)), page);
}

function main(): void {
  if (process.argv.includes('--write')) {
    writeFileSync(CONFIGURATION_MD, renderConfigurationPage(readFileSync(CONFIGURATION_MD, 'utf8')));
    process.stderr.write('docs/configuration.md knob tables updated\n');
  } else {
    for (const t of CONFIG_TABLES) process.stdout.write(renderConfigTable(t.schema, t.keyHeader) + '\n');
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
