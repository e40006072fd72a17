/**
 * One pipeline for every config schema built from shared/config/knobs.ts: the merged raw object (defaults <
 * file < env < flags, in the file's vocabulary) is renamed to the schema's keys, completed with the schema's
 * defaults, converted (strings from env and flags), checked by TypeBox and decoded into the typed config.
 * The first TypeBox error becomes one message naming the knob as the operator writes it, the bad value and
 * what is allowed: `limits.maxClients: expected an integer in [1, 10000000] (got 0)`.
 */
import type { StaticDecode, TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { invalidConfig } from '../config.js';
import { knobMeta } from './knobs.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const propertiesOf = (s: TSchema): Record<string, TSchema> | undefined => (s as { properties?: Record<string, TSchema> }).properties;
const itemsOf = (s: TSchema): TSchema | undefined => {
  const items = (s as { items?: unknown }).items;
  return items !== null && typeof items === 'object' && !Array.isArray(items) ? (items as TSchema) : undefined;
};


/** A copy of `raw` with every knob under the schema's key (knobs with `from` are written under that name). */
function toSchemaKeys(schema: TSchema, raw: unknown): unknown {
  const props = propertiesOf(schema);
  if (props !== undefined && isObj(raw)) {
    const out: Obj = { ...raw };
    for (const [key, sub] of Object.entries(props)) {
      const name = knobMeta(sub).from ?? key;
      if (name !== key) delete out[name];
      if (raw[name] !== undefined) out[key] = toSchemaKeys(sub, raw[name]);
    }
    return out;
  }
  const items = itemsOf(schema);
  if (items !== undefined && Array.isArray(raw)) return raw.map((r) => toSchemaKeys(items, r));
  return raw;
}

/** The operator's name of the knob at a JSON pointer ("/limits/maxClientsMs" -> limits.maxClients), its schema. */
function knobAt(schema: TSchema, pointer: string): { name: string; knob: TSchema; segments: string[] } {
  const segments = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let name = '';
  let knob = schema;
  for (const seg of segments) {
    const sub = propertiesOf(knob)?.[seg];
    if (sub !== undefined) {
      const part = knobMeta(sub).from ?? seg;
      name = name === '' ? part : `${name}.${part}`;
      knob = sub;
      continue;
    }
    name += `[${seg}]`;
    knob = itemsOf(knob) ?? knob;
  }
  return { name, knob, segments };
}

function valueAt(value: unknown, segments: string[]): unknown {
  let at = value;
  for (const seg of segments) at = isObj(at) || Array.isArray(at) ? (at as Obj)[seg] : undefined;
  return at;
}

/** Validates and decodes `raw` (file vocabulary, defaults not yet applied) against a knob schema. */
export function decodeConfig<S extends TSchema>(schema: S, raw: Obj): StaticDecode<S> {
  const given = Value.Default(schema, toSchemaKeys(schema, structuredClone(raw)));
  const converted = Value.Convert(schema, structuredClone(given));
  const first = Value.Errors(schema, converted)[0];
  if (first !== undefined) {
    const { name, knob, segments } = knobAt(schema, first.instancePath);
    const m = knobMeta(knob);
    const got = m.secret ? '' : ` (got ${JSON.stringify(valueAt(given, segments))})`;
    throw invalidConfig(`${name || 'config'}: expected ${m.expected ?? first.message}${got}`);
  }
  return Value.Decode(schema, converted) as StaticDecode<S>;
}

/** The schema's defaults in the file's vocabulary (what `REDSLOT_*` environment names are derived from). */
export function rawDefaults(schema: TSchema): Obj {
  const out: Obj = {};
  for (const [key, sub] of Object.entries(propertiesOf(schema) ?? {})) {
    const m = knobMeta(sub);
    out[m.from ?? key] = propertiesOf(sub) !== undefined ? rawDefaults(sub) : m.default;
  }
  return out;
}

/** A copy of `o` without `keys` (the `<name>File` siblings a secret's decoder has read). */
export function withoutKeys<T extends object, K extends keyof T>(o: T, ...keys: K[]): Omit<T, K> {
  const out = { ...o };
  for (const k of keys) delete out[k];
  return out;
}
