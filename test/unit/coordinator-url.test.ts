/**
 * Coordinator URLs (shared/coordinator/index.ts): parsing, validation errors, and the process-wide memory://
 * registry that lets several components of one process share one store per cluster name.
 */
import { describe, expect, it } from 'vitest';
import { dropMemoryStore, openCoordinator, parseCoordinatorUrl } from '../../shared/coordinator/index.js';
import { RedslotError } from '../../shared/errors.js';

describe('coordinator URLs', () => {
  it.each([
    ['memory://local', { kind: 'memory', cluster: 'local' }],
    ['memory://my_cluster-1.a/', { kind: 'memory', cluster: 'my_cluster-1.a' }],
    ['etcd://127.0.0.1:2479/prod', { kind: 'etcd', hosts: ['127.0.0.1:2479'], cluster: 'prod' }],
    ['etcd://a:1,b.example:2, [::1]:3/c', { kind: 'etcd', hosts: ['a:1', 'b.example:2', '[::1]:3'], cluster: 'c' }],
    ['ETCD://h:9/x', { kind: 'etcd', hosts: ['h:9'], cluster: 'x' }],
  ])('%s parses', (url, expected) => {
    expect(parseCoordinatorUrl(url)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['localhost:2379/x', /missing scheme/],
    ['zk://h:1/x', /unknown scheme "zk"/],
    ['etcd://h:1', /missing \/cluster-name/],
    ['etcd:///x', /no host:port/],
    ['etcd://h/x', /bad host:port "h"/],
    ['etcd://h:0/x', /bad host:port/],
    ['etcd://h:70000/x', /bad host:port/],
    ['etcd://h:1/', /cluster name/],
    ['etcd://h:1/a/b', /cluster name/],
    ['memory://', /cluster name/],
    ['memory://bad name', /cluster name/],
  ])('%j is refused with a clear reason', (url, reason) => {
    let err: unknown;
    try {
      parseCoordinatorUrl(url);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedslotError);
    expect((err as RedslotError).code).toBe('REDSLOT_ERR_COORDINATOR_URL_INVALID');
    expect((err as Error).message).toMatch(reason);
    expect((err as Error).message).toMatch(/expected etcd:\/\/host:port/);
  });

  it('memory:// clients of the same name share one store; other names are separate', async () => {
    const a = await openCoordinator('memory://unit-shared');
    const b = await openCoordinator('memory://unit-shared');
    const other = await openCoordinator('memory://unit-other');
    expect(a.cluster).toBe('unit-shared');
    expect(a.paths.meta).toBe('/redslot/unit-shared/meta');
    expect(a.coordinator).not.toBe(b.coordinator);
    const rev = await a.coordinator.put(a.paths.meta, 'hello');
    expect(await b.coordinator.get(a.paths.meta)).toMatchObject({ value: 'hello', modRevision: rev });
    expect(await other.coordinator.get(a.paths.meta)).toBeUndefined();
    // Closing one client does not affect the store or the other clients.
    await a.coordinator.close();
    await expect(a.coordinator.get(a.paths.meta)).rejects.toMatchObject({ code: 'REDSLOT_ERR_COORDINATOR_CLOSED' });
    expect((await b.coordinator.get(a.paths.meta))?.value).toBe('hello');
    dropMemoryStore('unit-shared');
    const fresh = await openCoordinator('memory://unit-shared');
    expect(await fresh.coordinator.get(a.paths.meta)).toBeUndefined();
    await Promise.all([b.coordinator.close(), other.coordinator.close(), fresh.coordinator.close()]);
  });

  it('etcd:// opens lazily: a client is created without contacting etcd, and calls fail typed when nothing listens', async () => {
    const { coordinator } = await openCoordinator('etcd://127.0.0.1:1/unreachable', { etcd: { callTimeoutMs: 500 } });
    expect(coordinator.describe).toBe('etcd://127.0.0.1:1');
    await expect(coordinator.get('/x')).rejects.toMatchObject({ code: 'REDSLOT_ERR_COORDINATOR_UNAVAILABLE' });
    // A watch is not left pending forever either (etcd3 alone would retry silently).
    await expect(coordinator.watchPrefix('/x/', 1, { onBatch: () => undefined })).rejects.toMatchObject({ code: 'REDSLOT_ERR_COORDINATOR_UNAVAILABLE' });
    await coordinator.close();
  });
});
