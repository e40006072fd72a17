/**
 * Structured logging: one JSON line per event on stderr, `{"t":..., "level":..., "event":..., ...fields}`.
 * `event` is a stable dotted name (`proxy.listen`, `backend.down`); fields carry the details.
 * Level from REDSLOT_LOG_LEVEL (debug|info|warn|error|silent), default info.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

let threshold: number = ORDER[(process.env.REDSLOT_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? ORDER.info;
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = ORDER[level];
}

/** Redirects log lines (tests capture them). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const e = value as Error & { code?: string };
    return { message: e.message, code: e.code, name: e.name };
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function createLogger(base: LogFields = {}): Logger {
  const emit = (level: LogLevel, event: string, fields?: LogFields): void => {
    if (ORDER[level] < threshold) return;
    const rec: LogFields = { t: new Date().toISOString(), level, event, ...base };
    if (fields) for (const [k, v] of Object.entries(fields)) rec[k] = serialise(v);
    sink(JSON.stringify(rec));
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (fields) => createLogger({ ...base, ...fields }),
  };
}
