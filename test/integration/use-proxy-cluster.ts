/**
 * The hook form of startCluster (proxy-cluster.ts) for a test file or a describe block: the cluster starts in
 * beforeAll with the clients asked for on proxy 0; in afterAll the clients close and the cluster stops, also when
 * beforeAll failed half way. `assign` receives them once they are up, so tests keep plain `let c: Cluster`.
 *
 * Vitest runs after-hooks as a stack: an afterAll the file registers after this call runs before the cluster
 * stops (its own clients first), a beforeAll after it runs once the cluster is up.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisClientType } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import { type ClientPair, type Cluster, type ClusterOptions, connectClients, startCluster } from './proxy-cluster.js';

export interface ProxyClusterSetup extends ClusterOptions {
  /**
   * Clients on proxy 0: `'ioredis'` one ioredis client (`{ port, maxRetriesPerRequest: 0 }` plus `ioredis`),
   * `'both'` the ioredis and node-redis pair of connectClients(). None by default.
   */
  clients?: 'ioredis' | 'both';
  /** Options added to the `'ioredis'` client's (a password...). */
  ioredis?: RedisOptions;
}

export interface ProxyCluster {
  cluster: Cluster;
}
export interface ProxyClusterWithIo extends ProxyCluster {
  io: Redis;
}
export interface ProxyClusterWithClients extends ProxyClusterWithIo {
  nr: RedisClientType;
}

export function useProxyCluster(setup: ProxyClusterSetup & { clients: 'both' }, assign: (started: ProxyClusterWithClients) => void): void;
export function useProxyCluster(setup: ProxyClusterSetup & { clients: 'ioredis' }, assign: (started: ProxyClusterWithIo) => void): void;
export function useProxyCluster(setup: ProxyClusterSetup & { clients?: undefined }, assign: (started: ProxyCluster) => void): void;
export function useProxyCluster(setup: ProxyClusterSetup, assign: (started: ProxyClusterWithClients) => void): void {
  const { clients, ioredis, ...options } = setup;
  let cluster: Cluster | undefined;
  let io: Redis | undefined;
  let pair: ClientPair | undefined;
  beforeAll(async () => {
    cluster = await startCluster(options);
    if (clients === 'both') pair = await connectClients(cluster.port);
    else if (clients === 'ioredis') io = new Redis({ port: cluster.port, maxRetriesPerRequest: 0, ...ioredis });
    // The overloads hand each caller only the clients it asked for.
    assign({ cluster, io: (pair?.io ?? io)!, nr: pair?.nr as RedisClientType });
  });
  afterAll(async () => {
    io?.disconnect();
    await pair?.close();
    await cluster?.stop();
  });
}
