// One etcd server for a test file with a coordinator client on it: started in beforeAll, the client closed and
// the server stopped in afterAll (also when beforeAll failed half way). Call at the top level of a test file;
// `assign` receives both once they are up.
import { afterAll, beforeAll } from 'vitest';
import { EtcdCoordinator } from '../../shared/coordinator/etcd.js';
import { startEtcd, type EtcdHandle } from './etcd-server.js';

export interface EtcdWithCoordinator {
  etcd: EtcdHandle;
  coord: EtcdCoordinator;
}

export function useEtcdCoordinator(assign: (started: EtcdWithCoordinator) => void): void {
  let started: Partial<EtcdWithCoordinator> = {};
  beforeAll(async () => {
    const etcd = await startEtcd();
    started = { etcd, coord: new EtcdCoordinator([etcd.endpoint]) };
    assign(started as EtcdWithCoordinator);
  });
  afterAll(async () => {
    await started.coord?.close();
    await started.etcd?.stop();
  });
}
