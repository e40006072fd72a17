/** API shapes of the failover routes (GET /api/v1/failover, PUT /api/v1/groups/:gid/failover). */
import { Type, type Static } from 'typebox';

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

const ReplicaStatusSchema = Type.Object({
  addr: Type.String(),
  role: Type.String(),
  linkUp: Type.Boolean(),
  lagBytes: Nullable(Type.Number()),
  silentMs: Nullable(Type.Number()),
  stale: Type.Boolean(),
});

const LastFailoverSchema = Type.Object({
  at: Type.String(),
  from: Type.String(),
  to: Type.String(),
  result: Type.String(),
  durationMs: Type.Number(),
  detail: Type.String(),
  rejoinedAt: Type.Optional(Type.String()),
});

export const FailoverGroupSchema = Type.Object({
  gid: Type.Integer(),
  enabled: Type.Boolean(),
  state: Type.String(),
  master: Type.Union([Type.String(), Type.Null()]),
  masterReachable: Type.Union([Type.Boolean(), Type.Null()]),
  masterFailingForMs: Type.Number(),
  liveProxies: Type.Integer(),
  downVotes: Type.Integer(),
  quorum: Type.Integer(),
  replicas: Type.Array(ReplicaStatusSchema),
  alert: Type.Optional(Type.String()),
  lastFailover: Type.Optional(LastFailoverSchema),
  sentinel: Type.Optional(Type.Object({ name: Type.String(), addrs: Type.Array(Type.String()), master: Type.Union([Type.String(), Type.Null()]) })),
});

export const FailoverResponse = Type.Object({
  leader: Type.Boolean(),
  config: Type.Object({ enabled: Type.Boolean(), downAfterMs: Type.Number(), maxLagMs: Type.Number(), cooldownMs: Type.Number(), checkIntervalMs: Type.Number(), probeTimeoutMs: Type.Number() }),
  groups: Type.Array(FailoverGroupSchema),
});

const SentinelAddr = Type.String({ pattern: '^[A-Za-z0-9_.\\-\\[\\]:]+:[0-9]{1,5}$', maxLength: 300 });
export const SentinelConfigSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.\\-]{1,128}$', description: 'master name the Sentinels monitor' }),
    addrs: Type.Array(SentinelAddr, { minItems: 1, maxItems: 16, description: 'host:port of each Sentinel' }),
  },
  { additionalProperties: false },
);
export const SetFailoverBody = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    /** Follow this Sentinel service instead of deciding; null = decide again. */
    sentinel: Type.Optional(Type.Union([SentinelConfigSchema, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const SetFailoverResponse = Type.Object({ gid: Type.Integer(), enabled: Type.Boolean(), sentinel: Type.Union([SentinelConfigSchema, Type.Null()]) });

export type FailoverBody = Static<typeof FailoverResponse>;
