/**
 * Failover knobs (dashboard config section `failover:`); documented in docs/configuration.md, generated
 * from this schema.
 */
import { type StaticDecode, Type } from 'typebox';
import { Bool, Duration, Section } from '../../shared/config/knobs.js';
import { decodeConfig } from '../../shared/config/validate.js';

export const FailoverKnobs = Type.Decode(
  Section(
    {
      enabled: Bool(true, 'automatic failover for every group (per group: `redslot failover enable|disable <gid>`)'),
      downAfterMs: Duration('5s', "a master is down when the leader's own probes AND a majority of live proxies failed for this long (at least 500ms)", { from: 'downAfter' }),
      maxLagMs: Duration('20s', 'a replica is eligible only if it heard from its master within this long (link up and master_last_io_seconds_ago, or master_link_down_since_seconds)', { from: 'maxLag' }),
      cooldownMs: Duration('60s', 'no second automatic failover of the same group within this long', { from: 'cooldown' }),
      checkIntervalMs: Duration('500ms', "how often the leader probes every server and reads the proxies' reports (at least 100ms)", { from: 'checkInterval' }),
      probeTimeoutMs: Duration('1s', 'a probe (connect + INFO) without an answer within this counts as a failure (at least 50ms)', { from: 'probeTimeout' }),
    },
    'automatic failover (docs/failover.md)',
  ),
  (f) => ({
    ...f,
    downAfterMs: Math.max(500, f.downAfterMs),
    checkIntervalMs: Math.max(100, f.checkIntervalMs),
    probeTimeoutMs: Math.max(50, f.probeTimeoutMs),
  }),
);

export type FailoverConfig = StaticDecode<typeof FailoverKnobs>;

export const DEFAULT_FAILOVER_CONFIG: FailoverConfig = decodeConfig(FailoverKnobs, {});
