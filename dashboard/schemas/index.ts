/**
 * TypeBox schemas of the dashboard API: one source for request validation, response serialisation, the
 * OpenAPI document, and the TypeScript types the CLI, the api-client and the web UI use (`Static<...>`).
 * Add fields, never rename them: scripts parse `--json` output built from these shapes.
 */
import { Type, type Static } from 'typebox';

const Addr = Type.String({ pattern: '^[A-Za-z0-9_.\\-\\[\\]:]+:[0-9]{1,5}$', maxLength: 300, description: 'host:port' });
const GroupId = Type.Integer({ minimum: 1, maximum: 9999, description: 'group id 1..9999' });
const SlotId = Type.Integer({ minimum: 0, maximum: 1023 });
const Revision = Type.Integer({ minimum: 0, description: 'coordinator revision' });
const IfRevision = Type.Optional(
  Type.Integer({
    minimum: 0,
    description:
      'compare-and-swap guard: the coordinator revision the caller based its decision on; refused with 409 if anything the call touches changed after it',
  }),
);

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

export const ServerSchema = Type.Object({
  addr: Type.String(),
  role: Type.Union([Type.Literal('master'), Type.Literal('replica')]),
});

export const PromotingSchema = Type.Object({
  state: Type.Union([Type.Literal('preparing'), Type.Literal('prepared'), Type.Literal('finished')]),
  newMaster: Type.String(),
  abandon: Type.Optional(Type.String()),
});

export const GroupSchema = Type.Object({
  id: Type.Integer(),
  weight: Type.Number(),
  servers: Type.Array(ServerSchema),
  promoting: Type.Optional(PromotingSchema),
  split: Type.Optional(
    Type.Object({
      id: Type.String(),
      role: Type.String({ description: 'source | target' }),
      peer: Type.Integer(),
      state: Type.String({ description: 'syncing | locked | switched | purging' }),
      slots: Type.Optional(Type.Array(Type.Array(Type.Integer()))),
    }),
  ),
  /** Slots this group owns (as source). */
  slotCount: Type.Integer(),
  /** modRevision of the group record. */
  modRevision: Revision,
});
export type GroupView = Static<typeof GroupSchema>;

export const SlotActionSchema = Type.Object({
  state: Type.String(),
  target: Type.Integer(),
  index: Type.Integer(),
  job: Type.Optional(Type.String()),
  aborted: Type.Optional(Type.Boolean()),
});

export const SlotSchema = Type.Object({
  id: Type.Integer(),
  group: Type.Integer(),
  action: Type.Optional(SlotActionSchema),
});
export type SlotView = Static<typeof SlotSchema>;

export const SlotRangeSchema = Type.Object({ from: Type.Integer(), to: Type.Integer(), group: Type.Integer() });
export type SlotRange = Static<typeof SlotRangeSchema>;

export const LeaderSchema = Type.Object({ id: Type.String(), addr: Type.String(), since: Type.String() });
export type LeaderView = Static<typeof LeaderSchema>;

export const MemberSchema = Type.Object({
  id: Type.String(),
  addr: Type.String(),
  since: Type.String(),
  leader: Type.Boolean(),
});

export const ProxySchema = Type.Object({
  id: Type.String(),
  addr: Type.String(),
  adminAddr: Type.String(),
  version: Type.String(),
  startedAt: Type.String(),
  pid: Type.Integer(),
  hostname: Type.String(),
  /** Registration present (its lease is alive). */
  live: Type.Boolean(),
  ackedRevision: Type.Union([Type.Integer(), Type.Null()]),
  /** True when the proxy acknowledged the current topology revision. */
  upToDate: Type.Boolean(),
  fenced: Type.Boolean(),
  /** Stats from the proxy's admin API (GET /api/v1/proxy), or null when it did not answer. */
  stats: Type.Union([Type.Unknown(), Type.Null()]),
  statsError: Type.Optional(Type.String()),
});
export type ProxyView = Static<typeof ProxySchema>;

export const AuditEntrySchema = Type.Object({
  id: Type.String(),
  at: Type.String(),
  who: Type.String(),
  action: Type.String(),
  target: Type.Optional(Type.String()),
  params: Type.Optional(Type.Unknown()),
  result: Type.Union([Type.Literal('started'), Type.Literal('ok'), Type.Literal('refused'), Type.Literal('failed')]),
  /** When the intent was written ('started' entries are actions that never recorded an outcome). */
  startedAt: Type.Optional(Type.String()),
  detail: Type.Optional(Type.String()),
});
export type AuditEntryView = Static<typeof AuditEntrySchema>;

// --- overview / stats -------------------------------------------------------------------------------------

export const ServerStatsSchema = Type.Object({
  addr: Type.String(),
  /** Role in the model. */
  role: Type.String(),
  up: Type.Boolean(),
  /** Role the server itself reports (INFO replication). */
  actualRole: Type.Optional(Type.String()),
  masterLinkStatus: Type.Optional(Type.String()),
  opsPerSec: Type.Number(),
  keys: Type.Number(),
  usedMemory: Type.Number(),
  maxmemory: Type.Number(),
  connectedClients: Type.Number(),
  error: Type.Optional(Type.String()),
});

export const GroupStatsSchema = Type.Object({
  id: Type.Integer(),
  opsPerSec: Type.Number(),
  keys: Type.Number(),
  usedMemory: Type.Number(),
  healthy: Type.Boolean(),
  servers: Type.Array(ServerStatsSchema),
});

export const ProxyStatsSchema = Type.Object({
  id: Type.String(),
  addr: Type.String(),
  up: Type.Boolean(),
  opsPerSec: Type.Number(),
  connections: Type.Number(),
  error: Type.Optional(Type.String()),
});

export const StatsSampleSchema = Type.Object({
  at: Type.Number({ description: 'ms since the epoch' }),
  opsPerSec: Type.Number(),
  proxyOpsPerSec: Type.Number(),
  keys: Type.Number(),
  usedMemory: Type.Number(),
  groups: Type.Array(GroupStatsSchema),
  proxies: Type.Array(ProxyStatsSchema),
});
export type StatsSample = Static<typeof StatsSampleSchema>;

/** A history point: totals plus per-group and per-proxy numbers, no server details. */
export const HistoryPointSchema = Type.Object({
  at: Type.Number(),
  opsPerSec: Type.Number(),
  proxyOpsPerSec: Type.Number(),
  keys: Type.Number(),
  usedMemory: Type.Number(),
  groups: Type.Record(Type.String(), Type.Object({ opsPerSec: Type.Number(), keys: Type.Number(), usedMemory: Type.Number() })),
  proxies: Type.Record(Type.String(), Type.Object({ opsPerSec: Type.Number(), connections: Type.Number() })),
});
export type HistoryPoint = Static<typeof HistoryPointSchema>;

// --- requests and responses -------------------------------------------------------------------------------

export const HealthResponse = Type.Object({
  ok: Type.Boolean(),
  id: Type.String(),
  role: Type.Union([Type.Literal('leader'), Type.Literal('standby')]),
  leader: Type.Union([LeaderSchema, Type.Null()]),
});

export const LeaderResponse = Type.Object({
  self: Type.Object({ id: Type.String(), addr: Type.String(), leader: Type.Boolean() }),
  leader: Type.Union([LeaderSchema, Type.Null()]),
  members: Type.Array(MemberSchema),
});
export type LeaderResponseBody = Static<typeof LeaderResponse>;

export const StatusResponse = Type.Object({
  cluster: Type.String(),
  revision: Revision,
  leader: Type.Union([LeaderSchema, Type.Null()]),
  members: Type.Array(MemberSchema),
  groups: Type.Array(GroupSchema),
  slotRanges: Type.Array(SlotRangeSchema),
  offlineSlots: Type.Integer(),
  migratingSlots: Type.Integer(),
  proxies: Type.Array(
    Type.Object({
      id: Type.String(),
      addr: Type.String(),
      ackedRevision: Type.Union([Type.Integer(), Type.Null()]),
      upToDate: Type.Boolean(),
      fenced: Type.Boolean(),
    }),
  ),
});
export type StatusBody = Static<typeof StatusResponse>;

export const TopologyResponse = Type.Object({
  revision: Revision,
  groups: Type.Array(GroupSchema),
  slots: Type.Array(SlotSchema),
});

export const GroupsResponse = Type.Object({ revision: Revision, groups: Type.Array(GroupSchema) });
export type GroupsBody = Static<typeof GroupsResponse>;

export const GroupParams = Type.Object({ gid: GroupId });
export const ServerParams = Type.Object({ gid: GroupId, addr: Addr });

export const CreateGroupBody = Type.Object(
  { id: GroupId, weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 })), ifRevision: IfRevision },
  { additionalProperties: false },
);
export type CreateGroupRequest = Static<typeof CreateGroupBody>;

export const IfRevisionQuery = Type.Object({ ifRevision: IfRevision }, { additionalProperties: false });

export const GroupMutationResponse = Type.Object({
  revision: Revision,
  group: Type.Union([GroupSchema, Type.Null()]),
  detail: Type.Optional(Type.String()),
});
export type GroupMutationBody = Static<typeof GroupMutationResponse>;

export const AddServerBody = Type.Object(
  {
    addr: Addr,
    /**
     * A replica being added that is currently an EMPTY stand-alone master is turned into a replica of the
     * group's master with REPLICAOF. A master holding keys is refused unless force is set (REPLICAOF would
     * discard its data).
     */
    force: Type.Optional(Type.Boolean()),
    ifRevision: IfRevision,
  },
  { additionalProperties: false },
);
export type AddServerRequest = Static<typeof AddServerBody>;

export const PromoteBody = Type.Object(
  {
    addr: Addr,
    /** Promote even if the replica's link is down or its offset lags (possible data loss). */
    force: Type.Optional(Type.Boolean()),
    ifRevision: IfRevision,
  },
  { additionalProperties: false },
);
export type PromoteRequest = Static<typeof PromoteBody>;

export const PromoteResponse = Type.Object({
  revision: Revision,
  group: GroupSchema,
  steps: Type.Array(Type.String()),
  warnings: Type.Array(Type.String()),
});
export type PromoteResponseBody = Static<typeof PromoteResponse>;

export const SlotsResponse = Type.Object({
  revision: Revision,
  ranges: Type.Array(SlotRangeSchema),
  slots: Type.Array(SlotSchema),
});
export type SlotsBody = Static<typeof SlotsResponse>;

export const AssignBody = Type.Union([
  Type.Object(
    { mode: Type.Literal('range'), from: SlotId, to: SlotId, group: GroupId, ifRevision: IfRevision },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      mode: Type.Literal('even'),
      /** Groups to spread the offline slots over (default: every group with a master). */
      groups: Type.Optional(Type.Array(GroupId, { minItems: 1, maxItems: 1024 })),
      ifRevision: IfRevision,
    },
    { additionalProperties: false },
  ),
]);
export type AssignRequest = Static<typeof AssignBody>;

export const AssignResponse = Type.Object({
  revision: Revision,
  assigned: Type.Integer(),
  /** The ranges written, one per target group run. */
  ranges: Type.Array(SlotRangeSchema),
  warnings: Type.Array(Type.String()),
});
export type AssignResponseBody = Static<typeof AssignResponse>;

export const ProxiesResponse = Type.Object({ revision: Revision, proxies: Type.Array(ProxySchema) });
export type ProxiesBody = Static<typeof ProxiesResponse>;

export const ProxyParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_.:@-]{1,128}$' }) });
export const RemoveProxyResponse = Type.Object({ revision: Revision, removed: Type.Boolean() });

export const OverviewQuery = Type.Object(
  { history: Type.Optional(Type.Boolean({ description: 'include the in-memory history (a few minutes, one point per poll)' })), since: Type.Optional(Type.Number()) },
  { additionalProperties: false },
);
export const OverviewResponse = Type.Object({
  intervalMs: Type.Number(),
  current: Type.Union([StatsSampleSchema, Type.Null()]),
  history: Type.Array(HistoryPointSchema),
});
export type OverviewBody = Static<typeof OverviewResponse>;

export const AuditQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    /** Entries strictly older than this id (paging backwards). */
    before: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export const AuditResponse = Type.Object({ entries: Type.Array(AuditEntrySchema) });
export type AuditBody = Static<typeof AuditResponse>;
