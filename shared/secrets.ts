/**
 * Secrets in configuration: a value may be given directly (config file, REDSLOT_* environment) or through a
 * sibling `<name>File` key naming a file that holds it (Kubernetes Secret volumes, Docker secrets), so a
 * secret never has to appear on a command line. A trailing newline in the file is ignored.
 */
import { readFileSync } from 'node:fs';
import { CommonErrors, RedslotError } from './errors.js';

/** The secret `obj[key]`, or the content of the file `obj[key + 'File']`; '' when neither is set. */
export function secretValue(obj: Record<string, unknown>, key: string, path: string): string {
  const direct = obj[key];
  const file = obj[`${key}File`];
  const hasDirect = direct !== undefined && direct !== null && direct !== '';
  const hasFile = typeof file === 'string' && file !== '';
  if (hasDirect && hasFile) throw invalid(`${path}: give either ${key} or ${key}File, not both`);
  if (hasFile) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw invalid(`${path}File: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (!hasDirect) return '';
  if (typeof direct === 'string') return direct;
  if (typeof direct === 'number') return String(direct);
  throw invalid(`${path}: expected a string`);
}

/** Refuses a non-empty secret shorter than `min` characters. */
export function checkSecretLength(value: string, min: number, path: string): string {
  if (value !== '' && value.length < min) throw invalid(`${path}: at least ${min} characters`);
  return value;
}

function invalid(reason: string): RedslotError {
  return new RedslotError(CommonErrors.REDSLOT_ERR_CONFIG_INVALID, { reason });
}
