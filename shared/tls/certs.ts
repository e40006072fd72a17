/**
 * A throwaway certificate authority for local clusters and tests, made with the openssl command-line tool
 * (`redslot up --tls`, test/integration/proxy-tls.test.ts): a CA, then server certificates (SANs for
 * localhost / 127.0.0.1) and client certificates signed by it. Not for production: real deployments bring
 * their own (cert-manager, a company CA).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface LocalCa extends CertFiles {
  dir: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A new CA (EC P-256 key, self-signed) in `dir` as `<name>.crt` / `<name>.key`. */
export function makeCa(dir: string, name = 'ca', days = 30): LocalCa {
  mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl(['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', String(days), '-subj', `/CN=redslot ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { dir, cert, key };
}

export interface IssueOptions {
  /** Subject alternative names for a server certificate (default: DNS:localhost, IP:127.0.0.1, IP:::1). */
  sans?: string[];
  /** A client certificate (extendedKeyUsage clientAuth) instead of a server one. */
  client?: boolean;
  days?: number;
}

/** A certificate signed by `ca`, written to `<ca.dir>/<name>.crt` / `.key`. */
export function issueCert(ca: LocalCa, name: string, opts: IssueOptions = {}): CertFiles {
  const cert = path.join(ca.dir, `${name}.crt`);
  const key = path.join(ca.dir, `${name}.key`);
  const csr = path.join(ca.dir, `${name}.csr`);
  const ext = path.join(ca.dir, `${name}.ext`);
  const sans = opts.sans ?? ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  const lines = opts.client
    ? ['extendedKeyUsage=clientAuth', 'keyUsage=critical,digitalSignature']
    : [`subjectAltName=${sans.join(',')}`, 'extendedKeyUsage=serverAuth,clientAuth', 'keyUsage=critical,digitalSignature,keyEncipherment'];
  writeFileSync(ext, lines.join('\n') + '\n');
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', String(opts.days ?? 30), '-extfile', ext]);
  return { cert, key };
}
