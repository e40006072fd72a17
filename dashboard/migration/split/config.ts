/**
 * Split knobs (dashboard config section `split:`); documented in docs/configuration.md, generated from this
 * schema. The runner reads them as SplitKnobs (context.ts), with the test-only `stepDelayMs` beside them.
 */
import { type StaticDecode } from 'typebox';
import { Duration, Int, Section, Size } from '../../../shared/config/knobs.js';
import { decodeConfig } from '../../../shared/config/validate.js';

export const SplitConfigKnobs = Section(
  {
    lagBytes: Size('256kb', 'the moving slots are held once the new master is this close to the source (bytes of replication stream behind)', { from: 'lag' }),
    pollMs: Duration('20ms', 'how often the replication progress of the new master is read during the sync', { from: 'poll' }),
    lockTimeoutMs: Duration('5s', "bounds the whole hold at the switch (the barrier, every Redis call and the new master reaching the source's offset); past it the split aborts and the slots are released", { from: 'lockTimeout' }),
    purgeBatchKeys: Int(500, 1, 100_000, 'keys per SCAN call and UNLINK of the purge after the switch'),
    purgePauseMs: Duration('1ms', 'pause after each UNLINK of the purge (its pace)', { from: 'purgePause' }),
    retryMs: Duration('1s', 'back-off before a failed split step is tried again', { from: 'retry' }),
    replicaTimeoutMs: Duration(
      '10m',
      "how long the split waits for the new group's replicas: to be in sync before the hold (from when the new master caught up), and to follow the new master after the purge (those not attached by then are reported as warnings)",
      { from: 'replicaTimeout' },
    ),
  },
  'replication-based group split (docs/migration.md)',
);

export type SplitConfig = StaticDecode<typeof SplitConfigKnobs>;

export const DEFAULT_SPLIT_CONFIG: SplitConfig = decodeConfig(SplitConfigKnobs, {});
