/**
 * Error catalogue. Two families:
 * - reply errors: what a Redis client sees on the wire (`-PREFIX message`); the prefix is exact Redis vocabulary
 *   (ERR, CROSSSLOT, NOAUTH, WRONGPASS, NOPROTO, CLUSTERDOWN, TRYAGAIN, ...).
 * - internal errors: thrown inside redslot (`RedslotError`), carrying a stable `REDSLOT_ERR_*` code and a `cause`.
 * Every code is listed once here (reply and internal) and in docs/errors.md's generated table (a test pins both).
 * Areas register their entries in their own file (proxy/errors.ts, dashboard/errors.ts) through `defineErrors`.
 */

export interface ErrorSpec {
  /** Stable code, `REDSLOT_ERR_*`. */
  readonly code: string;
  /** For reply errors: the wire prefix (`ERR`, `CROSSSLOT`, ...). Absent for internal-only errors. */
  readonly replyPrefix?: string;
  /** Message template; `{name}` placeholders are filled from the params. */
  readonly message: string;
  /** HTTP status when the error crosses an HTTP API. */
  readonly httpStatus?: number;
  /** One line for the docs/errors.md table. */
  readonly description: string;
}

const registry = new Map<string, ErrorSpec>();

/** Registers a group of specs; throws on a duplicate code (codes are global and stable). */
export function defineErrors<T extends Record<string, Omit<ErrorSpec, 'code'>>>(specs: T): { [K in keyof T]: ErrorSpec } {
  const out = {} as { [K in keyof T]: ErrorSpec };
  for (const [code, spec] of Object.entries(specs)) {
    if (registry.has(code)) throw new Error(`duplicate error code ${code}`);
    const full: ErrorSpec = { code, ...spec };
    registry.set(code, full);
    (out as Record<string, ErrorSpec>)[code] = full;
  }
  return out;
}

/** Every registered spec (for the catalogue test and the docs/errors.md generator). */
export function allErrorSpecs(): ErrorSpec[] {
  return [...registry.values()];
}

export function formatMessage(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => (name in params ? String(params[name]) : `{${name}}`));
}

/** Internal error with a stable code. */
export class RedslotError extends Error {
  readonly code: string;
  readonly spec: ErrorSpec;
  readonly params: Record<string, string | number>;

  constructor(spec: ErrorSpec, params: Record<string, string | number> = {}, options?: ErrorOptions) {
    super(formatMessage(spec.message, params), options);
    this.name = 'RedslotError';
    this.code = spec.code;
    this.spec = spec;
    this.params = params;
  }

  /** The RESP error line (without CRLF) a client should see for this error. */
  toReplyLine(): string {
    const prefix = this.spec.replyPrefix ?? 'ERR';
    return `${prefix} ${this.message}`.replace(/[\r\n]+/g, ' ');
  }
}

/** Errors shared by every part of redslot. */
export const CommonErrors = defineErrors({
  REDSLOT_ERR_CONFIG_INVALID: {
    message: 'invalid configuration: {reason}',
    httpStatus: 400,
    description: 'A config file, flag or environment value is malformed or out of range.',
  },
  REDSLOT_ERR_COORDINATOR_UNAVAILABLE: {
    message: 'coordinator unavailable: {reason}',
    httpStatus: 503,
    description: 'etcd (or the embedded coordinator) could not be reached.',
  },
  REDSLOT_ERR_CAS_CONFLICT: {
    message: 'concurrent modification of {what}: it changed since revision {revision}; re-read and retry',
    httpStatus: 409,
    description: 'A compare-and-swap on the topology failed because someone else changed it first.',
  },
  REDSLOT_ERR_MISSING_BINARY: {
    message: '{binary} not found on PATH; install it with: {install}',
    description: 'A required program (redis-server, etcd) is not installed.',
  },
});
