/**
 * Every coordinator key redslot uses, in one place. Layout under /redslot/<cluster>/:
 *
 *   meta                         ClusterMeta
 *   topology/groups/<gid:4>      GroupRecord            (proxies watch topology/ as one prefix, so a txn
 *   topology/slots/<sid:4>       SlotRecord              changing groups and slots is applied atomically)
 *   proxies/<proxyId>            ProxyRecord  (lease)
 *   acks/<proxyId>               ProxyAck     (lease)
 *   removed/<proxyId>            RemovedProxyRecord (unrenewed lease: a removed live proxy not yet fenced)
 *   health/<proxyId>             ReachabilityReport (the proxy's own lease): which servers it can reach
 *   dashboard/leader             LeaderRecord (lease)
 *   dashboard/members/<id>       LeaderRecord (lease)   every running dashboard
 *   audit/<ts>-<rand>            AuditRecord
 *   jobs/<jobId>                 migration jobs (issue 5)
 *   failover/<gid:4>             FailoverGroupState: per-group enable flag and last automatic failover
 *   settings/<name>              runtime knobs the dashboard owns (e.g. migration throttle)
 *   splits/<gid:4>               SplitRecord of the replication-based split whose source is group gid (issue 17)
 */

export const ROOT = '/redslot/';

function pad4(n: number): string {
  return String(n).padStart(4, '0');
}

export function clusterPaths(cluster: string) {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(cluster)) throw new Error(`invalid cluster name ${JSON.stringify(cluster)}`);
  const base = `${ROOT}${cluster}/`;
  return {
    base,
    meta: `${base}meta`,
    topology: `${base}topology/`,
    groups: `${base}topology/groups/`,
    group: (gid: number) => `${base}topology/groups/${pad4(gid)}`,
    slots: `${base}topology/slots/`,
    slot: (sid: number) => `${base}topology/slots/${pad4(sid)}`,
    proxies: `${base}proxies/`,
    proxy: (id: string) => `${base}proxies/${id}`,
    acks: `${base}acks/`,
    ack: (id: string) => `${base}acks/${id}`,
    removed: `${base}removed/`,
    removedProxy: (id: string) => `${base}removed/${id}`,
    health: `${base}health/`,
    healthOf: (id: string) => `${base}health/${id}`,
    leader: `${base}dashboard/leader`,
    members: `${base}dashboard/members/`,
    member: (id: string) => `${base}dashboard/members/${id}`,
    audit: `${base}audit/`,
    auditEntry: (id: string) => `${base}audit/${id}`,
    jobs: `${base}jobs/`,
    job: (id: string) => `${base}jobs/${id}`,
    failover: `${base}failover/`,
    failoverGroup: (gid: number) => `${base}failover/${pad4(gid)}`,
    settings: `${base}settings/`,
    setting: (name: string) => `${base}settings/${name}`,
    splits: `${base}splits/`,
    split: (sourceGid: number) => `${base}splits/${pad4(sourceGid)}`,
  } as const;
}

export type ClusterPaths = ReturnType<typeof clusterPaths>;

/** The id in the last path segment (`.../slots/0012` -> 12). */
export function lastSegment(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
