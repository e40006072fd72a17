/**
 * HTTP client for the dashboard API (/api/v1), shared by the CLI, tests and later the UI's tooling.
 * The token travels only in the Authorization header. Errors:
 * - ApiError: the dashboard answered with `{ error: { code, message } }` (status, code, message kept);
 * - ApiUnreachableError: no HTTP answer at all (connection refused, timeout, DNS, a certificate not trusted).
 * An https:// dashboard is verified against `tls.ca` (the CLI's --cacert / REDSLOT_CACERT) or the system CAs.
 */
import type tls from 'node:tls';
import { describeRequestError, httpRequest, type HttpResponse } from '../../shared/tls/http-request.js';
import type {
  AddServerRequest,
  AssignRequest,
  AssignResponseBody,
  AuditBody,
  CreateGroupRequest,
  GroupMutationBody,
  GroupsBody,
  LeaderResponseBody,
  OverviewBody,
  PromoteRequest,
  PromoteResponseBody,
  ProxiesBody,
  SlotsBody,
  StatusBody,
} from '../schemas/index.js';
import type { CodisImportResult } from '../imports/codis-import.js';
import type { ClusterLoad, HotKeyView } from '../load/poller.js';
import type { FailoverBody } from '../failover/schemas.js';

export type { FailoverBody } from '../failover/schemas.js';
export type {
  AssignResponseBody,
  AuditBody,
  GroupMutationBody,
  GroupsBody,
  LeaderResponseBody,
  OverviewBody,
  PromoteResponseBody,
  ProxiesBody,
  SlotsBody,
  StatusBody,
} from '../schemas/index.js';

export type { CodisImportResult } from '../imports/codis-import.js';
export type { ClusterLoad, HotKeyView } from '../load/poller.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ApiUnreachableError extends Error {
  constructor(
    readonly url: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ApiUnreachableError';
  }
}

export interface ApiClientOptions {
  /** http://host:port or https://host:port of a dashboard. */
  baseUrl: string;
  /** For https: the CA to trust (and a client certificate when the dashboard requires one). */
  tls?: tls.ConnectionOptions | null;
  token?: string;
  /** Per-request timeout (default 60 s: promotions and assignments wait for barriers). */
  timeoutMs?: number;
}

export class DashboardClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly tls: tls.ConnectionOptions | null;

  constructor(opts: ApiClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.tls = opts.tls ?? null;
  }

  /** Low-level call: returns the parsed JSON body of a 2xx, throws ApiError / ApiUnreachableError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: HttpResponse;
    try {
      res = await httpRequest(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), timeoutMs: this.timeoutMs, tls: this.tls });
    } catch (err) {
      const reason = describeRequestError(err, 'pass its CA with --cacert FILE or REDSLOT_CACERT');
      throw new ApiUnreachableError(url, `dashboard ${this.baseUrl} unreachable: ${reason}`, { cause: err });
    }
    const text = res.body;
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? `HTTP ${res.status} ${res.statusText}: ${text.slice(0, 200)}`);
    }
    return parsed as T;
  }

  health() {
    return this.request<{ ok: boolean; id: string; role: 'leader' | 'standby'; leader: { id: string; addr: string; since: string } | null }>('GET', '/api/v1/health');
  }
  leader() {
    return this.request<LeaderResponseBody>('GET', '/api/v1/leader');
  }
  status() {
    return this.request<StatusBody>('GET', '/api/v1/status');
  }
  failover() {
    return this.request<FailoverBody>('GET', '/api/v1/failover');
  }
  /** enabled: automatic failover on/off; sentinel: follow that Sentinel service (null: decide again). */
  setFailover(gid: number, body: { enabled?: boolean; sentinel?: { name: string; addrs: string[] } | null }) {
    return this.request<{ gid: number; enabled: boolean; sentinel: { name: string; addrs: string[] } | null }>('PUT', `/api/v1/groups/${gid}/failover`, body);
  }
  topology() {
    return this.request<{ revision: number; groups: GroupsBody['groups']; slots: SlotsBody['slots'] }>('GET', '/api/v1/topology');
  }
  groups() {
    return this.request<GroupsBody>('GET', '/api/v1/groups');
  }
  group(gid: number) {
    return this.request<GroupMutationBody>('GET', `/api/v1/groups/${gid}`);
  }
  createGroup(req: CreateGroupRequest) {
    return this.request<GroupMutationBody>('POST', '/api/v1/groups', req);
  }
  removeGroup(gid: number, ifRevision?: number) {
    return this.request<GroupMutationBody>('DELETE', `/api/v1/groups/${gid}${ifRevision === undefined ? '' : `?ifRevision=${ifRevision}`}`);
  }
  addServer(gid: number, req: AddServerRequest) {
    return this.request<GroupMutationBody>('POST', `/api/v1/groups/${gid}/servers`, req);
  }
  removeServer(gid: number, addr: string, ifRevision?: number) {
    return this.request<GroupMutationBody>(
      'DELETE',
      `/api/v1/groups/${gid}/servers/${encodeURIComponent(addr)}${ifRevision === undefined ? '' : `?ifRevision=${ifRevision}`}`,
    );
  }
  promote(gid: number, req: PromoteRequest) {
    return this.request<PromoteResponseBody>('POST', `/api/v1/groups/${gid}/promote`, req);
  }
  slots() {
    return this.request<SlotsBody>('GET', '/api/v1/slots');
  }
  assignSlots(req: AssignRequest) {
    return this.request<AssignResponseBody>('PUT', '/api/v1/slots/assignment', req);
  }
  proxies() {
    return this.request<ProxiesBody>('GET', '/api/v1/proxies');
  }
  removeProxy(id: string) {
    return this.request<{ revision: number; removed: boolean }>('DELETE', `/api/v1/proxies/${encodeURIComponent(id)}`);
  }
  overview(history = true) {
    return this.request<OverviewBody>('GET', `/api/v1/overview?history=${history}`);
  }
  /** Codis import: preview, or the import with confirm: true (dashboard/imports/). */
  importCodis(body: { codis: Record<string, unknown>; confirm?: boolean; ifRevision?: number }) {
    return this.request<CodisImportResult>('POST', '/api/v1/imports/codis', body);
  }
  load(refresh = false) {
    return this.request<ClusterLoad>('GET', `/api/v1/load${refresh ? '?refresh=true' : ''}`);
  }
  hotKeys(limit = 20) {
    return this.request<{ at: number; keys: HotKeyView[] }>('GET', `/api/v1/hotkeys?limit=${limit}`);
  }
  audit(limit?: number, before?: string) {
    const q = new URLSearchParams();
    if (limit !== undefined) q.set('limit', String(limit));
    if (before !== undefined) q.set('before', before);
    const qs = q.toString();
    return this.request<AuditBody>('GET', `/api/v1/audit${qs ? `?${qs}` : ''}`);
  }
}
