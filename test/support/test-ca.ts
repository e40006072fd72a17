// Throwaway certificates for a TLS test file: a temporary folder with a CA, a server certificate (SANs localhost,
// 127.0.0.1, ::1) and a client certificate it signed, and another CA that signed neither (what a client trusting
// the wrong CA uses); made in beforeAll, removed in afterAll.
// Call it first in the file: its afterAll then runs last, after the servers that read the files have stopped.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { issueCert, makeCa, type CertFiles, type LocalCa } from '../../shared/tls/certs.js';

export interface TestCa {
  dir: string;
  ca: LocalCa;
  otherCa: LocalCa;
  server: CertFiles;
  client: CertFiles;
}

/** `prefix` names the temporary folder, `serverName` the server certificate's files. */
export function useTestCa(prefix: string, serverName: string, assign: (made: TestCa) => void): void {
  let dir: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    const ca = makeCa(path.join(dir, 'ca'));
    const otherCa = makeCa(path.join(dir, 'other'), 'other-ca');
    assign({ dir, ca, otherCa, server: issueCert(ca, serverName), client: issueCert(ca, 'client', { client: true }) });
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}
