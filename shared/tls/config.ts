/**
 * TLS settings shared by every leg (clients -> proxy, proxy/dashboard -> Redis, proxy/dashboard -> etcd,
 * CLI -> dashboard): parsed from config into file paths, and turned into Node `tls` options by reading the
 * PEM files. Node's `tls` does the cryptography; nothing here is home-made.
 *
 *   server side (a listener):  { cert, key, ca, clientAuth: no | optional | yes }
 *   client side (a dialler):   { enabled, ca, cert, key, servername }
 */
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import { CommonErrors, RedslotError } from '../errors.js';
import { parseBool, parseEnum } from '../config.js';

export interface TlsServerConfig {
  /** PEM certificate chain and private key presented to clients. */
  cert: string;
  key: string;
  /** CA bundle for client certificates ('' = system CAs); used when clientAuth is not 'no'. */
  ca: string;
  /** Like Redis's tls-auth-clients: ask for a client certificate, and require it ('yes') or not ('optional'). */
  clientAuth: 'no' | 'optional' | 'yes';
}

export interface TlsClientConfig {
  /** CA bundle the server's certificate must chain to ('' = Node's default CAs). */
  ca: string;
  /** Client certificate and key, for servers that require one ('' = none). */
  cert: string;
  key: string;
  /** SNI and the name checked in the server certificate ('' = the host dialled). */
  servername: string;
}

function invalid(reason: string): RedslotError {
  return new RedslotError(CommonErrors.REDSLOT_ERR_CONFIG_INVALID, { reason });
}

const text = (v: unknown, name: string): string => {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  throw invalid(`${name}: expected a file path`);
};

function readPem(file: string, name: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw invalid(`${name}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** A server-side block, or null when it names no certificate. */
export function parseTlsServer(raw: unknown, name: string): TlsServerConfig | null {
  const o = (raw ?? {}) as Record<string, unknown>;
  const cert = text(o.cert, `${name}.cert`);
  const key = text(o.key, `${name}.key`);
  if (cert === '' && key === '') return null;
  if (cert === '' || key === '') throw invalid(`${name}: cert and key go together`);
  const clientAuth = parseEnum(o.clientAuth ?? 'no', `${name}.clientAuth`, ['no', 'optional', 'yes'] as const);
  const ca = text(o.ca, `${name}.ca`);
  if (clientAuth !== 'no' && ca === '') throw invalid(`${name}.clientAuth: ${clientAuth} needs ${name}.ca (the CA of client certificates)`);
  const c = { cert, key, ca, clientAuth };
  serverOptions(c, name); // fail at start on unreadable files
  return c;
}

/** A server-side block that also says how often its files are polled for rotation (`reloadInterval`, default 2s). */
export interface TlsListenerConfig extends TlsServerConfig {
  reloadIntervalMs: number;
}

/** A client-side block, or null when TLS is off (`enabled` not true and no CA or certificate given). */
export function parseTlsClient(raw: unknown, name: string): TlsClientConfig | null {
  const o = (raw ?? {}) as Record<string, unknown>;
  const c = {
    ca: text(o.ca, `${name}.ca`),
    cert: text(o.cert, `${name}.cert`),
    key: text(o.key, `${name}.key`),
    servername: text(o.servername, `${name}.servername`),
  };
  // On when asked for, or when a CA or client certificate is given (a CA alone means "verify against it").
  const enabled = parseBool(o.enabled ?? false, `${name}.enabled`) || c.ca !== '' || c.cert !== '';
  if (!enabled) return null;
  if ((c.cert === '') !== (c.key === '')) throw invalid(`${name}: cert and key go together`);
  clientOptions(c, name);
  return c;
}

/** Options for tls.createServer / setSecureContext, read from the files now. */
export function serverOptions(c: TlsServerConfig, name = 'tls'): tls.TlsOptions {
  return {
    cert: readPem(c.cert, `${name}.cert`),
    key: readPem(c.key, `${name}.key`),
    ...(c.ca !== '' ? { ca: readPem(c.ca, `${name}.ca`) } : {}),
    requestCert: c.clientAuth !== 'no',
    rejectUnauthorized: c.clientAuth === 'yes',
  };
}

/** Options for tls.connect, read from the files now. The server's certificate is always verified. */
export function clientOptions(c: TlsClientConfig, name = 'tls'): tls.ConnectionOptions {
  return {
    ...(c.ca !== '' ? { ca: readPem(c.ca, `${name}.ca`) } : {}),
    ...(c.cert !== '' ? { cert: readPem(c.cert, `${name}.cert`), key: readPem(c.key, `${name}.key`) } : {}),
    ...(c.servername !== '' ? { servername: c.servername } : {}),
    rejectUnauthorized: true,
  };
}

/** The files a server block reads (watched for rotation). */
export function serverFiles(c: TlsServerConfig): string[] {
  return [c.cert, c.key, c.ca].filter((f) => f !== '');
}
