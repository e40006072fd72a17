import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { spawnProcess, type Spawned } from './process.js';

export interface EtcdHandle {
  clientPort: number;
  peerPort: number;
  endpoint: string;
  dataDir: string;
  proc: Spawned;
  /** Stops the process but keeps the data dir (for restart tests). */
  stopProcess(): Promise<void>;
  /** Starts again on the same ports and data dir. */
  restart(): Promise<void>;
  /** Stops and removes the data dir. */
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  /** Fixed ports; default: free ones. */
  clientPort?: number;
  peerPort?: number;
  /**
   * Serve clients over TLS only (https:// client URLs) with this certificate; `ca` + `clientCertAuth` require
   * client certificates signed by it (etcd's --client-cert-auth --trusted-ca-file).
   */
  tls?: { cert: string; key: string; ca?: string; clientCertAuth?: boolean };
}

/** Starts a throwaway single-member etcd on loopback ports with its own data dir. */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdHandle> {
  const clientPort = opts.clientPort ?? (await freePort());
  const peerPort = opts.peerPort ?? (await freePort());
  const root = mkdtempSync(path.join(os.tmpdir(), 'redslot-etcd-'));
  const dataDir = path.join(root, 'data');
  const t = opts.tls;
  const scheme = t ? 'https' : 'http';
  const tlsArgs = t
    ? ['--cert-file', t.cert, '--key-file', t.key, ...(t.ca ? ['--trusted-ca-file', t.ca] : []), ...(t.clientCertAuth ? ['--client-cert-auth'] : [])]
    : [];
  const launch = async (): Promise<Spawned> => {
    const proc = spawnProcess('etcd', 'etcd', [
      '--name', 't', '--data-dir', dataDir,
      '--listen-client-urls', `${scheme}://127.0.0.1:${clientPort}`,
      '--advertise-client-urls', `${scheme}://127.0.0.1:${clientPort}`,
      ...tlsArgs,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `t=http://127.0.0.1:${peerPort}`,
      '--initial-cluster-state', 'new', '--logger', 'zap', '--log-level', 'error',
    ]);
    try {
      await waitForPort(clientPort);
    } catch (err) {
      await proc.stop();
      throw new Error(`etcd did not start: ${proc.log()}`, { cause: err });
    }
    return proc;
  };
  const handle: EtcdHandle = {
    clientPort,
    peerPort,
    endpoint: `127.0.0.1:${clientPort}`,
    dataDir,
    proc: await launch(),
    async stopProcess() {
      await handle.proc.stop();
    },
    async restart() {
      handle.proc = await launch();
    },
    async stop() {
      await handle.proc.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return handle;
}
