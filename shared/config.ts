/**
 * Config plumbing shared by proxy and dashboard: a YAML/JSON file, then REDSLOT_* environment variables,
 * then command-line flags, each layer over the defaults. Values are validated once here, at the boundary,
 * into typed numbers (durations in ms, sizes in bytes) so nothing downstream parses strings again.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CommonErrors, RedslotError } from './errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** The one error type of every config problem (REDSLOT_ERR_CONFIG_INVALID), with the reason shown to the operator. */
export function invalidConfig(reason: string): RedslotError {
  return new RedslotError(CommonErrors.REDSLOT_ERR_CONFIG_INVALID, { reason });
}

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i;
const SIZE = /^\s*(\d+)\s*(b|kb|mb|gb)?\s*$/i;

/** The string forms parseDuration / parseSize / parseHostPort accept (schema formats, shared/config/knobs.ts). */
export const isDuration = (s: string): boolean => DURATION.test(s);
export const isSize = (s: string): boolean => SIZE.test(s);
export function isHostPort(s: string): boolean {
  try {
    parseHostPort(s, '');
    return true;
  } catch {
    return false;
  }
}

/** "30s", "1500ms", "30m", "2h" or a plain number of ms -> ms. */
export function parseDuration(v: unknown, name: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const m = DURATION.exec(v);
    if (m) return Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 'ms').toLowerCase()]!);
  }
  throw invalidConfig(`${name}: expected a duration like 30s, 500ms, 30m (got ${JSON.stringify(v)})`);
}

/** "512mb", "64kb", "1gb" or a plain number of bytes -> bytes. */
export function parseSize(v: unknown, name: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const m = SIZE.exec(v);
    if (m) return Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!;
  }
  throw invalidConfig(`${name}: expected a size like 512mb, 64kb (got ${JSON.stringify(v)})`);
}

export function parseIntInRange(v: unknown, name: string, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return n;
  throw invalidConfig(`${name}: expected an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
}

export function parseEnum<T extends string>(v: unknown, name: string, allowed: readonly T[]): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw invalidConfig(`${name}: expected one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
}

export function parseBool(v: unknown, name: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw invalidConfig(`${name}: expected true or false (got ${JSON.stringify(v)})`);
}

/** host:port -> parts; rejects anything else. */
export function parseHostPort(v: unknown, name: string): { host: string; port: number } {
  if (typeof v === 'string') {
    const i = v.lastIndexOf(':');
    if (i > 0) {
      const host = v.slice(0, i).replace(/^\[(.*)\]$/, '$1');
      const port = Number(v.slice(i + 1));
      if (Number.isInteger(port) && port >= 0 && port <= 65535) return { host, port };
    }
  }
  throw invalidConfig(`${name}: expected host:port (got ${JSON.stringify(v)})`);
}

/** Reads a YAML (or JSON, a subset of YAML) config file into a plain object. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidConfig(`cannot read ${file}: ${(err as Error).message}`);
  }
  const doc: unknown = parseYaml(text);
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw invalidConfig(`${file}: expected a mapping at the top level`);
  return doc as Record<string, unknown>;
}

/**
 * Environment overrides: REDSLOT_<PATH> where PATH is the dotted key upper-cased with `.` -> `__`
 * (REDSLOT_LIMITS__MAX_CLIENTS sets limits.maxClients). Only keys present in `defaults` are read.
 */
export function envOverrides(defaults: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, prefix = 'REDSLOT_'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defaults)) {
    const envName = prefix + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
    if (def !== null && typeof def === 'object' && !Array.isArray(def)) {
      const nested = envOverrides(def as Record<string, unknown>, env, envName + '__');
      if (Object.keys(nested).length > 0) out[key] = nested;
    } else if (env[envName] !== undefined) {
      out[key] = env[envName];
    }
  }
  return out;
}

/** Deep merge of plain objects; arrays and scalars in `over` replace those in `base`. */
export function deepMerge<T extends Record<string, unknown>>(base: T, ...overs: Array<Record<string, unknown> | undefined>): T {
  let out: Record<string, unknown> = { ...base };
  for (const over of overs) {
    if (!over) continue;
    for (const [k, v] of Object.entries(over)) {
      const cur = out[k];
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && cur !== null && typeof cur === 'object' && !Array.isArray(cur)) {
        out = { ...out, [k]: deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>) };
      } else if (v !== undefined) {
        out = { ...out, [k]: v };
      }
    }
  }
  return out as T;
}
