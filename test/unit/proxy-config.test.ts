import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProxyConfig, parseProxyFlags, redactConfig } from '../../proxy/config.js';
import { coordinatorUrl } from '../../proxy/startup.js';
import { topologyFromConfig } from '../../proxy/topology-static.js';

describe('proxy config', () => {
  it('has a default for every knob (Codis-like limits)', () => {
    const c = loadProxyConfig({ env: {} });
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 19000 });
    expect(c.admin).toEqual({ host: '0.0.0.0', port: 11080 });
    expect(c.limits).toEqual({
      maxClients: 1000,
      maxPipeline: 10000,
      idleTimeoutMs: 0,
      maxBulkBytes: 512 * 1024 * 1024,
      maxArrayLength: 1048576,
      maxInlineBytes: 64 * 1024,
      maxClientOutputBytes: 1024 ** 3,
      slabPoolBytes: 128 * 1024 * 1024,
    });
    expect(c.databases).toBe(16);
    expect(c.backend.connectionsPerServer).toBe(1);
    expect(c.backend.dialTimeoutMs).toBe(3000);
    expect(c.fencing).toBe('strict');
    expect(c.leaseTtlMs).toBe(10_000);
    expect(c.topology).toBeNull();
  });

  it('layers file < env < flags', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-cfg-'));
    try {
      const file = path.join(dir, 'p.yaml');
      writeFileSync(file, 'listen: 127.0.0.1:7000\nlimits:\n  maxClients: 10\n  idleTimeout: 30m\nbackend:\n  password: filepw\n');
      const flags = parseProxyFlags(['--config', file, '--limits.max-pipeline', '50', '--admin=']);
      const c = loadProxyConfig({ file: flags.file, env: { REDSLOT_LIMITS__MAX_CLIENTS: '20', REDSLOT_DATABASES: '4' }, overrides: flags.overrides });
      expect(c.listen.port).toBe(7000);
      expect(c.limits.maxClients).toBe(20);
      expect(c.limits.maxPipeline).toBe(50);
      expect(c.limits.idleTimeoutMs).toBe(30 * 60_000);
      expect(c.databases).toBe(4);
      expect(c.admin).toBeNull();
      expect(c.backend.password).toBe('filepw');
      expect(JSON.stringify(redactConfig(c))).not.toContain('filepw');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad values with a clear message', () => {
    expect(() => loadProxyConfig({ env: {}, overrides: { limits: { maxClients: 0 } } })).toThrow(/limits.maxClients: expected an integer/);
    expect(() => loadProxyConfig({ env: {}, overrides: { listen: 'nohost' } })).toThrow(/listen: expected host:port/);
    expect(() => loadProxyConfig({ env: {}, overrides: { fencing: 'maybe' } })).toThrow(/fencing: expected one of strict/);
    expect(() => parseProxyFlags(['--listen'])).toThrow(/needs a value/);
  });

  it("fencing: 'off' (removed in issue 15) is refused with a reason, not silently turned into strict", () => {
    // Fails before issue 15: 'off' loaded, and such a proxy kept routing past its lease while the barrier skipped it.
    expect(() => loadProxyConfig({ env: {}, overrides: { fencing: 'off' } })).toThrow(/fencing: 'off' is no longer supported.*remove the key or set fencing: strict/);
    expect(loadProxyConfig({ env: {}, overrides: { fencing: 'strict' } }).fencing).toBe('strict');
  });

  it('parses a static topology (groups and slot ranges)', () => {
    const c = loadProxyConfig({
      env: {},
      overrides: {
        topology: {
          groups: [{ id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }, '127.0.0.1:7002'] }, { id: 2, servers: ['127.0.0.1:7003'] }],
          slots: [[0, 511, 1], [512, 1023, 2]],
        },
      },
    });
    const t = topologyFromConfig(c.topology!);
    expect(t.revision).toBe(1);
    expect(t.groups.get(1)!.servers).toEqual([{ addr: '127.0.0.1:7001', role: 'master' }, { addr: '127.0.0.1:7002', role: 'replica' }]);
    expect(t.slots[511]!.group).toBe(1);
    expect(t.slots[512]!.group).toBe(2);
    expect(() => loadProxyConfig({ env: {}, overrides: { topology: { groups: [], slots: [[0, 1023, 5]] } } })).toThrow(/group 5 is not defined/);
  });

  it('fills the cluster name into a coordinator URL that has none', () => {
    expect(coordinatorUrl({ coordinator: 'etcd://10.0.0.1:2379,10.0.0.2:2379', cluster: 'prod' })).toBe('etcd://10.0.0.1:2379,10.0.0.2:2379/prod');
    expect(coordinatorUrl({ coordinator: 'etcd://h:2379/', cluster: 'prod' })).toBe('etcd://h:2379/prod');
    expect(coordinatorUrl({ coordinator: 'etcd://h:2379/other', cluster: 'prod' })).toBe('etcd://h:2379/other');
    expect(coordinatorUrl({ coordinator: 'memory://', cluster: 'dev' })).toBe('memory://dev');
  });
});

describe('proxy config: load counting knobs (hot slots and keys)', () => {
  it('has defaults, takes flags, and refuses bad values with the knob named', () => {
    expect(loadProxyConfig({ env: {} }).load).toEqual({ count: true, hotKeys: 64, sampleEvery: 16, maxKeyBytes: 256, windowMs: 10_000 });
    const c = loadProxyConfig({ env: { REDSLOT_LOAD__COUNT: 'false' }, overrides: parseProxyFlags(['--load.hot-keys', '0', '--load.max-key-bytes', '1kb', '--load.window', '30s']).overrides });
    expect(c.load).toEqual({ count: false, hotKeys: 0, sampleEvery: 16, maxKeyBytes: 1024, windowMs: 30_000 });
    expect(() => loadProxyConfig({ env: {}, overrides: { load: { window: '500ms' } } })).toThrow(/load.window must be at least 1s/);
    expect(() => loadProxyConfig({ env: {}, overrides: { load: { sampleEvery: 0 } } })).toThrow(/load.sampleEvery/);
    expect(() => loadProxyConfig({ env: {}, overrides: { load: { maxKeyBytes: '1mb' } } })).toThrow(/load.maxKeyBytes/);
    expect(() => loadProxyConfig({ env: {}, overrides: { load: { hotKeys: 100000 } } })).toThrow(/load.hotKeys/);
  });
  it('refuses a client password shorter than auth.minPasswordLength on a port beyond loopback (issue 18)', () => {
    const load = (listen: string, auth: Record<string, unknown>) => loadProxyConfig({ env: {}, overrides: { listen, auth } });
    expect(() => load('0.0.0.0:19000', { password: 'short-pw' })).toThrow(/auth.password: at least 16 characters when the proxy listens beyond loopback \(listen 0.0.0.0:19000\)/);
    expect(() => load('10.1.2.3:19000', { password: 'short-pw', minPasswordLength: 12 })).toThrow(/at least 12 characters/);
    expect(load('0.0.0.0:19000', { password: 'a-password-of-24-chars!!' }).auth.password).toBe('a-password-of-24-chars!!');
    expect(load('127.0.0.1:19000', { password: 'pw' }).auth.password).toBe('pw'); // loopback only: as Redis
    expect(load('localhost:19000', { password: 'pw' }).auth.password).toBe('pw');
    expect(load('0.0.0.0:19000', { password: 'pw', minPasswordLength: 0 }).auth.password).toBe('pw');
    expect(load('0.0.0.0:19000', {}).auth.password).toBe(''); // no password: protected mode applies instead
    // The error never shows the password itself.
    expect(() => load('0.0.0.0:19000', { password: 'secret-x' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('secret-x') }));
  });
});
