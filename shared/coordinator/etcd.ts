/** etcd v3 coordinator: being written (issue 3); this placeholder lets memory:// users build now. */
import type { Coordinator } from './types.js';

export interface EtcdCoordinatorOptions {
  /** Per-call deadline in ms for unary calls (default 5000). */
  callTimeoutMs?: number;
}

export const EtcdCoordinator: new (hosts: string[], opts?: EtcdCoordinatorOptions) => Coordinator = class {
  constructor(hosts: string[]) {
    throw new Error(`etcd coordinator not implemented yet (${hosts.join(',')})`);
  }
} as never;
