/**
 * How every CLI command reaches the dashboard: --dashboard URL (env REDSLOT_DASHBOARD), --token (env
 * REDSLOT_TOKEN), --timeout, and for an https:// dashboard --cacert FILE (env REDSLOT_CACERT) with the CA to
 * trust, plus --cert/--key (env REDSLOT_CERT / REDSLOT_KEY) when it requires client certificates, and
 * --tls-servername (env REDSLOT_TLS_SERVERNAME) when a leader is dialled by its pod IP.
 */
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { DashboardClient } from './api-client.js';
import { flagInt, flagString, UsageError, type ParsedArgs } from './args.js';

/** Value flags every command takes. */
export const CONNECT_FLAGS = ['dashboard', 'token', 'timeout', 'cacert', 'cert', 'key', 'tls-servername'] as const;

export const CONNECT_USAGE = `  --dashboard URL     dashboard to talk to (default http://127.0.0.1:18080, env REDSLOT_DASHBOARD)
  --token TOKEN       API token (default env REDSLOT_TOKEN)
  --cacert FILE       CA certificate to trust for an https:// dashboard (env REDSLOT_CACERT)
  --cert/--key FILE   client certificate and key, when the dashboard requires one (env REDSLOT_CERT/REDSLOT_KEY)
  --tls-servername N  the name the dashboard's certificate must carry, when dialled by IP (env REDSLOT_TLS_SERVERNAME)
  --timeout DURATION  request timeout in seconds (default 60)`;

export interface Connection {
  client: DashboardClient;
  token: string | undefined;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The client the flags and environment describe; UsageError on a malformed URL or an unreadable file. */
export function connect(args: ParsedArgs, env: NodeJS.ProcessEnv): Connection {
  const baseUrl = flagString(args, 'dashboard') ?? env['REDSLOT_DASHBOARD'] ?? 'http://127.0.0.1:18080';
  const token = flagString(args, 'token') ?? env['REDSLOT_TOKEN'];
  if (!/^https?:\/\/[^/?#]+\/?$/.test(baseUrl)) throw new UsageError(`--dashboard: expected http://host:port or https://host:port, got ${JSON.stringify(baseUrl)}`);
  const timeout = flagInt(args, 'timeout', 1, 3600);
  const cacert = flagString(args, 'cacert') ?? env['REDSLOT_CACERT'];
  const cert = flagString(args, 'cert') ?? env['REDSLOT_CERT'];
  const key = flagString(args, 'key') ?? env['REDSLOT_KEY'];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together');
  const servername = flagString(args, 'tls-servername') ?? env['REDSLOT_TLS_SERVERNAME'];
  const secure: tls.ConnectionOptions = {
    ...(cacert ? { ca: readPem(cacert, 'cacert') } : {}),
    ...(cert && key ? { cert: readPem(cert, 'cert'), key: readPem(key, 'key') } : {}),
    ...(servername ? { servername } : {}),
  };
  return { client: new DashboardClient({ baseUrl, token, timeoutMs: (timeout ?? 60) * 1000, tls: secure }), token };
}
