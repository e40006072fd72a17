/**
 * Issue 15 hole 9: the audit entry of an operator action is written BEFORE the action (intent), then
 * completed with the outcome, against a real etcd. A dashboard that dies mid-operation leaves the intent.
 */
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../dashboard/topom/audit.js';
import { EtcdCoordinator } from '../../shared/coordinator/etcd.js';
import { createLogger, setLogLevel } from '../../shared/log.js';
import { clusterPaths } from '../../shared/model/paths.js';
import { freePort } from '../support/free-port.js';
import { useEtcdCoordinator } from '../support/use-etcd.js';

setLogLevel('silent');

let coord: EtcdCoordinator;

useEtcdCoordinator((s) => ({ coord } = s));

describe('audit: intent first, then outcome (hole 9)', () => {
  it('while an action runs its entry already exists (result started); afterwards the same entry holds the outcome', async () => {
    // Fails before issue 15: nothing was written until the action had finished, so a crash mid-operation
    // (the slow action below never finishing) left no trace of who started what.
    const paths = clusterPaths('audit1');
    const audit = new AuditLog(coord, paths, createLogger({ test: 'audit' }));
    let finish!: () => void;
    const gate = new Promise<void>((r) => (finish = r));
    let ran = false;
    const running = audit.run('alice@127.0.0.1', 'migration.start', 'slots 0-9', { to: 2 }, async () => {
      ran = true;
      await gate;
      return 42;
    });
    for (let i = 0; i < 100 && !ran; i++) await new Promise((r) => setTimeout(r, 50));
    expect(ran).toBe(true);
    const during = await audit.list(10);
    expect(during).toHaveLength(1);
    expect(during[0]).toMatchObject({ who: 'alice@127.0.0.1', action: 'migration.start', target: 'slots 0-9', params: { to: 2 }, result: 'started' });
    finish();
    expect(await running).toBe(42);
    const after = await audit.list(10);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: during[0]!.id, result: 'ok', startedAt: during[0]!.startedAt });
  });

  it('a failing action keeps its one entry, completed as failed', async () => {
    const paths = clusterPaths('audit2');
    const audit = new AuditLog(coord, paths, createLogger({ test: 'audit' }));
    await expect(audit.run('bob@x', 'group.remove', 'group 3', {}, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    const entries = await audit.list(10);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: 'group.remove', result: 'failed', detail: 'boom' });
  });

  it('when the intent cannot be written (coordinator unreachable) the action does not run', async () => {
    const dead = new EtcdCoordinator([`127.0.0.1:${await freePort()}`], { callTimeoutMs: 500 });
    try {
      const audit = new AuditLog(dead, clusterPaths('audit3'), createLogger({ test: 'audit' }));
      let ran = false;
      await expect(audit.run('carol@x', 'slots.assign', undefined, {}, async () => { ran = true; })).rejects.toThrow();
      expect(ran).toBe(false);
    } finally {
      await dead.close();
    }
  });
});
