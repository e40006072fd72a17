/**
 * docs/configuration.md's knob tables are generated from the config schemas (docs/tools/config-tables.ts):
 * the page must hold exactly what the generator renders, and every knob must carry what the table shows.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { TSchema } from 'typebox';
import { CONFIG_TABLES, CONFIGURATION_MD, renderConfigTable } from '../../docs/tools/config-tables.js';
import { sectionBetweenMarkers } from '../../docs/tools/markers.js';
import { knobMeta } from '../../shared/config/knobs.js';

/** [path, schema] of every leaf knob. */
function leaves(schema: TSchema, prefix = ''): Array<[string, TSchema]> {
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  return Object.entries(props).flatMap(([key, knob]) => {
    const name = prefix + (knobMeta(knob).from ?? key);
    return (knob as { properties?: unknown }).properties !== undefined ? leaves(knob, `${name}.`) : [[name, knob] as [string, TSchema]];
  });
}

describe('configuration docs', () => {
  it('docs/configuration.md holds exactly the generated knob tables (run: npm run gen:docs)', () => {
    const page = readFileSync(CONFIGURATION_MD, 'utf8');
    for (const t of CONFIG_TABLES) {
      const section = sectionBetweenMarkers(page, t.begin, t.end);
      expect(section, `docs/configuration.md lacks ${t.begin}`).toBeDefined();
      expect(section).toBe(renderConfigTable(t.schema, t.keyHeader));
    }
  });

  it('every knob has a description and a default', () => {
    for (const t of CONFIG_TABLES) {
      const knobs = leaves(t.schema);
      expect(knobs.length).toBeGreaterThan(20);
      for (const [name, knob] of knobs) {
        const m = knobMeta(knob);
        expect(m.description?.length ?? 0, name).toBeGreaterThan(5);
        expect(m.default !== undefined || m.docDefault !== undefined, name).toBe(true);
      }
    }
  });
});
