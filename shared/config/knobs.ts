/**
 * Building blocks of the config schemas (proxy/config/, dashboard/config.ts): one TypeBox schema per knob that
 * carries its default (in the file's vocabulary: '10s', '512mb'), its description (the docs/configuration.md
 * text) and how it decodes (durations to ms, sizes to bytes). Validation, the typed config (StaticDecode),
 * the REDSLOT_* environment names and the generated knob tables all come from these schemas.
 *
 * Adding a knob: one line in its section's schema (proxy/config/*.ts, dashboard/config.ts,
 * dashboard/failover/config.ts), e.g. `maxFoo: Size('1mb', 'what it bounds; 0 = no limit')`, keyed by the name the
 * code reads (`{ from: 'fileName' }` when the operator's name differs); rules across knobs go in the section's
 * Type.Decode callback; then `npm run gen:docs` rewrites docs/configuration.md.
 *
 * Extra schema keys read by shared/config/validate.ts and docs/tools/config-tables.ts:
 *   from      the knob's name in files, env and flags when the typed config names it differently
 *             (`idleTimeoutMs: Duration('0', '...', { from: 'idleTimeout' })`)
 *   expected  what the error message says is allowed ("limits.maxClients: expected <expected> (got 0)")
 *   secret    the value is never echoed in an error
 *   docDefault  the default as the docs show it, when the schema default does not say it well
 */
import { Type, type TProperties, type TSchema } from 'typebox';
import Format from 'typebox/format';
import { isDuration, isHostPort, isSize, parseBool, parseDuration, parseHostPort, parseSize } from '../config.js';

Format.Set('redslot-duration', isDuration);
Format.Set('redslot-size', isSize);
Format.Set('redslot-host-port', isHostPort);

export interface KnobOptions {
  /** The knob's name in files, env and flags, when the typed config uses another one. */
  from?: string;
  /** Default as the docs show it (e.g. "listen address"). */
  docDefault?: string;
  /** Never shown in errors. */
  secret?: boolean;
  /** Replaces the generated "expected ..." phrase of errors. */
  expected?: string;
}

function meta(def: unknown, description: string, expected: string, o: KnobOptions = {}): Record<string, unknown> {
  return { default: def, description, expected, ...o };
}

/** A duration ("30s", "500ms", "30m", "2h", or a number of ms) decoded to ms. */
export function Duration(def: string, description: string, o?: KnobOptions) {
  const raw = Type.Union([Type.Number({ minimum: 0 }), Type.String({ format: 'redslot-duration' })], meta(def, description, 'a duration like 30s, 500ms, 30m', o));
  return Type.Decode(raw, (v) => parseDuration(v, ''));
}

/** A size ("512mb", "64kb", "1gb", or a number of bytes) decoded to bytes. */
export function Size(def: string, description: string, o?: KnobOptions) {
  const raw = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ format: 'redslot-size' })], meta(def, description, 'a size like 512mb, 64kb', o));
  return Type.Decode(raw, (v) => parseSize(v, ''));
}

/** An integer in [min, max]; strings from env and flags are converted. */
export function Int(def: number, min: number, max: number, description: string, o?: KnobOptions) {
  return Type.Integer({ minimum: min, maximum: max, ...meta(def, description, `an integer in [${min}, ${max}]`, o) });
}

/** true/false (also "true", "1", "yes", "false", "0", "no" from env and flags). */
export function Bool(def: boolean, description: string, o?: KnobOptions) {
  const words = ['true', 'false', '1', '0', 'yes', 'no'].map((w) => Type.Literal(w));
  return Type.Decode(Type.Union([Type.Boolean(), ...words], meta(def, description, 'true or false', o)), (v) => parseBool(v, ''));
}

/** One of a fixed list of strings. */
export function Enum<const V extends readonly string[]>(def: V[number], values: V, description: string, o?: KnobOptions) {
  return Type.Enum<[...V]>([...values] as [...V], meta(def, description, `one of ${values.join(', ')}`, o));
}

/** A string (a number in YAML is taken as its digits). */
export function Str(def: string, description: string, o?: KnobOptions) {
  return Type.String(meta(def, description, 'a string', o));
}

/** "host:port", decoded to its parts. */
export function HostPort(def: string, description: string, o?: KnobOptions) {
  return Type.Decode(Type.String({ format: 'redslot-host-port', ...meta(def, description, 'host:port', o) }), (v) => parseHostPort(v, ''));
}

/** "host:port" kept as a string. */
export function HostPortString(def: string, description: string, o?: KnobOptions) {
  return Type.String({ format: 'redslot-host-port', ...meta(def, description, 'host:port', o) });
}

/** A nested section of knobs (missing = all defaults). */
export function Section<P extends TProperties>(properties: P, description = '', o?: KnobOptions) {
  return Type.Object(properties, { default: {}, description, expected: 'a mapping', ...o });
}

/** Reads the extra keys above from any schema. */
export function knobMeta(schema: TSchema): KnobOptions & { description?: string; default?: unknown } {
  return schema as KnobOptions & { description?: string; default?: unknown };
}
