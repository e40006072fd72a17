/**
 * The schema-driven config pipeline (shared/config/knobs.ts, shared/config/validate.ts) as the operator sees
 * it: parsed formats, strings from env and flags, renamed knobs, and errors that name the knob, the value and
 * what is allowed without echoing secrets.
 */
import { describe, expect, it } from 'vitest';
import { parseDashboardConfig } from '../../dashboard/config.js';
import { loadProxyConfig, PROXY_DEFAULTS } from '../../proxy/config.js';

const bad = (overrides: Record<string, unknown>) => () => loadProxyConfig({ env: {}, overrides });

describe('config schema pipeline', () => {
  it('decodes durations, sizes and booleans from file values and from env strings', () => {
    const c = loadProxyConfig({
      env: { REDSLOT_LIMITS__IDLE_TIMEOUT: '2m', REDSLOT_GUARD__MAX_QUERY_BUFFER: '2mb', REDSLOT_PROTECTED_MODE: 'no', REDSLOT_WORKERS: '3' },
      overrides: { backend: { dialTimeout: 1500 }, guard: { pubsubOutput: '1mb 512kb 5' }, reads: 'replica-preferred' },
    });
    expect(c.limits.idleTimeoutMs).toBe(120_000);
    expect(c.guard.maxQueryBufferBytes).toBe(2 * 1024 * 1024);
    expect(c.guard.pubsubOutput).toEqual({ hardBytes: 1024 * 1024, softBytes: 512 * 1024, softSeconds: 5 });
    expect(c.protectedMode).toBe(false);
    expect(c.workers).toBe(3);
    expect(c.backend.dialTimeoutMs).toBe(1500);
    expect(c.reads).toBe('replica-preferred');
  });

  it('names the knob as the operator writes it, the bad value and what is allowed', () => {
    expect(bad({ limits: { idleTimeout: 'soon' } })).toThrow('limits.idleTimeout: expected a duration like 30s, 500ms, 30m (got "soon")');
    expect(bad({ guard: { maxQueryBuffer: '1tb' } })).toThrow('guard.maxQueryBuffer: expected a size like 512mb, 64kb (got "1tb")');
    expect(bad({ protectedMode: 'maybe' })).toThrow('protectedMode: expected true or false (got "maybe")');
    expect(bad({ reads: 'nearest' })).toThrow('reads: expected one of master, replica-preferred (got "nearest")');
    expect(bad({ admin: 'nohost' })).toThrow('admin: expected host:port (got "nohost")');
    expect(bad({ limits: 5 })).toThrow('limits: expected a mapping (got 5)');
    expect(bad({ workers: 'many' })).toThrow('workers: expected auto or an integer in [1, 256] (got "many")');
  });

  it('keeps the cross-field rules beside the schema', () => {
    expect(bad({ backend: { backoffMin: '10s', backoffMax: '1s' } })).toThrow('backend.backoffMax must be >= backend.backoffMin');
    expect(bad({ tls: { cert: '/x.pem' } })).toThrow('tls: cert and key go together');
  });

  it('never echoes a secret in an error', () => {
    let message = '';
    try {
      parseDashboardConfig({ coordinator: 'memory://x', tokens: [{ token: 'short' }] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('tokens[0].token: expected a token of at least 8 characters');
    expect(message).not.toContain('short');
    expect(bad({ auth: { password: { nested: 'hunter2' } } })).toThrow(/^(?!.*hunter2).*auth\.password: expected a string$/);
  });

  it('derives the raw defaults (and so the REDSLOT_* names) from the schema, in the file vocabulary', () => {
    expect(PROXY_DEFAULTS).toMatchObject({ listen: '0.0.0.0:19000', limits: { idleTimeout: '0', maxClientOutput: '1gb' }, leaseTtl: '10s' });
  });
});
