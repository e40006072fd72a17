/**
 * The dashboard's error catalogue (dashboard/errors.ts, redis-admin errors) and the audit log's retention.
 */
import { describe, expect, it } from 'vitest';
import { DashboardErrors } from '../../dashboard/errors.js';
import { AuditLog, classifyError } from '../../dashboard/topom/audit.js';
import { openCoordinator } from '../../shared/coordinator/index.js';
import { CommonErrors, RedslotError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { RedisAdminErrors } from '../../dashboard/redis/admin.js';
import { uniqueCluster } from './dashboard-harness.js';

describe('dashboard error catalogue', () => {
  const all = { ...DashboardErrors, ...RedisAdminErrors };
  it('every entry: key = code, REDSLOT_ERR_ prefix, an HTTP status, a description', () => {
    for (const [key, spec] of Object.entries(all)) {
      expect(spec.code).toBe(key);
      expect(key).toMatch(/^REDSLOT_ERR_[A-Z_]+$/);
      expect(spec.httpStatus, key).toBeGreaterThanOrEqual(400);
      expect(spec.description.length, key).toBeGreaterThan(10);
    }
  });

  it('classifies results for the audit log: 4xx and 503 are refusals, other 5xx failures', () => {
    expect(classifyError(new RedslotError(CommonErrors.REDSLOT_ERR_CAS_CONFLICT, {}))).toBe('refused');
    expect(classifyError(new RedslotError(DashboardErrors.REDSLOT_ERR_NOT_LEADER, {}))).toBe('refused');
    expect(classifyError(new RedslotError(RedisAdminErrors.REDSLOT_ERR_REDIS_UNREACHABLE, {}))).toBe('failed');
    expect(classifyError(new Error('boom'))).toBe('failed');
  });
});

describe('audit log', () => {
  it('lists newest first and trims the oldest entries beyond the retention', async () => {
    const { coordinator, paths } = await openCoordinator(`memory://${uniqueCluster('audit')}`);
    try {
      const audit = new AuditLog(coordinator, paths, createLogger());
      for (let i = 0; i < 15; i++) await audit.record({ at: new Date().toISOString(), who: 't', action: `a${i}`, result: 'ok' });
      expect((await audit.list(3)).map((e) => e.action)).toEqual(['a14', 'a13', 'a12']);
      expect(await audit.trim(10)).toBe(5);
      const left = await audit.list(100);
      expect(left).toHaveLength(10);
      expect(left.at(-1)!.action).toBe('a5');
    } finally {
      await coordinator.close();
    }
  });
});
