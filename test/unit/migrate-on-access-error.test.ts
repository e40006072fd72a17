import { describe, expect, it } from 'vitest';
import { migrateOnAccessError } from '../../proxy/router/migrate-on-access.js';
import { errorReply, ProxyErrors } from '../../proxy/errors.js';
import { LEASE_DEADLINE_PASSED } from '../../proxy/router/serve-deadline.js';

const source = { addr: '127.0.0.1:7001' };
const target = { addr: '127.0.0.1:7002' };

describe('migrate-on-access: the client error when moving a key first failed', () => {
  it('wraps a failure of the source (the MIGRATE ran and failed) in the slot/source/target error', () => {
    const out = migrateOnAccessError(961, source, target, Buffer.from('-IOERR error or timeout writing to target instance\r\n')).toString();
    expect(out).toBe('-ERR slot 961 is migrating and moving the keys of this command from 127.0.0.1:7001 to 127.0.0.1:7002 failed: IOERR error or timeout writing to target instance\r\n');
  });

  // Before: the fence refusal came back as "-ERR slot 961 is migrating ... failed: CLUSTERDOWN lost contact ...",
  // an error kind clients and test/e2e/migration-correctness.test.ts count as a failed command.
  it("passes this proxy's own fence refusal through unchanged (nothing ran: the transient refusal every command gets)", () => {
    const refusal = errorReply(ProxyErrors.REDSLOT_ERR_FENCED, { reason: LEASE_DEADLINE_PASSED });
    const out = migrateOnAccessError(961, source, target, refusal);
    expect(out.toString()).toBe(refusal.toString());
    expect(out.toString()).toMatch(/^-CLUSTERDOWN lost contact with the coordinator/);
  });
});
