/**
 * Every dashboard endpoint through inject(), on the embedded memory coordinator: auth (no token, wrong token,
 * token in the query string, read-only token, open reads), JSON errors from the catalogue, the audit trail of
 * each mutation, compare-and-swap refusals, standby refusals, and the OpenAPI document.
 * Server add/promotion against real redis-servers live in test/integration/dashboard-servers.test.ts.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { AUTH, OPERATOR, VIEWER_AUTH, makeDashboard, registerProxy, seedGroup, seedSlots, uniqueCluster, waitFor, type Harness } from './dashboard-harness.js';

const open: Harness[] = [];
async function dash(...args: Parameters<typeof makeDashboard>): Promise<Harness> {
  const h = await makeDashboard(...args);
  open.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

type Json = Record<string, any>;
async function call(h: Harness, method: string, url: string, body?: unknown, headers: Record<string, string> = AUTH): Promise<{ status: number; body: Json }> {
  const r = await h.app.inject({ method: method as 'GET', url, payload: body as Json | undefined, headers });
  return { status: r.statusCode, body: r.body ? (JSON.parse(r.body) as Json) : {} };
}

/** A loopback port nothing listens on. */
async function closedAddr(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

describe('auth', () => {
  it('refuses every API route without a token, with a wrong token, and with the token only in the query string', async () => {
    const h = await dash();
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/status'],
      ['GET', '/api/v1/groups'],
      ['GET', '/api/v1/groups/1'],
      ['POST', '/api/v1/groups', { id: 1 }],
      ['DELETE', '/api/v1/groups/1'],
      ['POST', '/api/v1/groups/1/servers', { addr: '127.0.0.1:7000' }],
      ['DELETE', '/api/v1/groups/1/servers/127.0.0.1:7000'],
      ['POST', '/api/v1/groups/1/promote', { addr: '127.0.0.1:7000' }],
      ['GET', '/api/v1/slots'],
      ['PUT', '/api/v1/slots/assignment', { mode: 'even' }],
      ['GET', '/api/v1/proxies'],
      ['DELETE', '/api/v1/proxies/p1'],
      ['GET', '/api/v1/overview'],
      ['GET', '/api/v1/audit'],
      ['GET', '/api/v1/leader'],
      ['GET', '/api/v1/topology'],
    ];
    for (const [method, url, body] of routes) {
      const none = await call(h, method, url, body, {});
      expect(none.status, `${method} ${url} without token`).toBe(401);
      expect(none.body.error.code).toBe('REDSLOT_ERR_UNAUTHORIZED');
      const wrong = await call(h, method, url, body, { authorization: `Bearer ${OPERATOR}x` });
      expect(wrong.status, `${method} ${url} wrong token`).toBe(401);
      const sep = url.includes('?') ? '&' : '?';
      const query = await call(h, method, `${url}${sep}token=${OPERATOR}&access_token=${OPERATOR}`, body, {});
      expect(query.status, `${method} ${url} token in query`).toBe(401);
    }
    // Other schemes and malformed headers are refused too.
    expect((await call(h, 'GET', '/api/v1/status', undefined, { authorization: `Basic ${OPERATOR}` })).status).toBe(401);
    expect((await call(h, 'GET', '/api/v1/status', undefined, { authorization: `Bearer` })).status).toBe(401);
    // Nothing was created by the refused POST.
    expect((await call(h, 'GET', '/api/v1/groups')).body.groups).toEqual([]);
    const res = await h.app.inject({ method: 'GET', url: '/api/v1/status', headers: {} });
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it('accepts the token case-insensitively in the scheme and with several spaces', async () => {
    const h = await dash();
    expect((await call(h, 'GET', '/api/v1/status', undefined, { authorization: `bearer   ${OPERATOR}` })).status).toBe(200);
  });

  it('serves health, OpenAPI and the UI shell without a token', async () => {
    const h = await dash();
    const health = await call(h, 'GET', '/api/v1/health', undefined, {});
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ ok: true, role: 'leader' });
    expect(health.body.leader.addr).toBe(`dash.${h.cluster}:18080`);
    const ui = await h.app.inject({ method: 'GET', url: '/ui/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('redslot dashboard');
    const root = await h.app.inject({ method: 'GET', url: '/' });
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe('/ui/');
  });

  it('a viewer token reads but every write is refused with 403 and audited as refused', async () => {
    const h = await dash();
    expect((await call(h, 'GET', '/api/v1/groups', undefined, VIEWER_AUTH)).status).toBe(200);
    const r = await call(h, 'POST', '/api/v1/groups', { id: 3 }, VIEWER_AUTH);
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('REDSLOT_ERR_FORBIDDEN');
    expect(r.body.error.message).toContain('grafana');
    expect((await call(h, 'GET', '/api/v1/groups')).body.groups).toEqual([]);
    const audit = await call(h, 'GET', '/api/v1/audit');
    expect(audit.body.entries[0]).toMatchObject({ action: 'group.create', result: 'refused', who: expect.stringMatching(/^grafana@/) });
  });

  it('openReads opens GET endpoints only; writes still need a token', async () => {
    const h = await dash(uniqueCluster(), { openReads: true });
    expect((await call(h, 'GET', '/api/v1/status', undefined, {})).status).toBe(200);
    expect((await call(h, 'GET', '/api/v1/audit', undefined, {})).status).toBe(200);
    expect((await call(h, 'POST', '/api/v1/groups', { id: 1 }, {})).status).toBe(401);
    // A wrong token is still refused even though reads are open.
    expect((await call(h, 'GET', '/api/v1/status', undefined, { authorization: 'Bearer nope-nope-nope' })).status).toBe(401);
  });

  it('metrics are open by default and list the dashboard metrics; openMetrics=false requires the token', async () => {
    const h = await dash();
    await call(h, 'GET', '/api/v1/groups');
    const m = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(m.statusCode).toBe(200);
    expect(m.body).toContain('redslot_dashboard_http_requests_total{route="/api/v1/groups",method="GET",status="200"} 1');
    expect(m.body).toContain('redslot_dashboard_is_leader 1');
    const closed = await dash(uniqueCluster(), { openMetrics: false });
    expect((await closed.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    expect((await closed.app.inject({ method: 'GET', url: '/metrics', headers: AUTH })).statusCode).toBe(200);
  });
});

describe('errors and schemas', () => {
  it('validation errors are 400 REDSLOT_ERR_BAD_REQUEST; unknown fields are refused, not dropped', async () => {
    const h = await dash();
    for (const body of [{ id: 0 }, { id: 10000 }, { id: 'x' }, { id: 2, weigth: 3 }, {}]) {
      const r = await call(h, 'POST', '/api/v1/groups', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('REDSLOT_ERR_BAD_REQUEST');
    }
    expect((await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 1024, group: 1 })).status).toBe(400);
    expect((await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'sideways' })).status).toBe(400);
    expect((await call(h, 'POST', '/api/v1/groups/1/servers', { addr: 'not an address' })).status).toBe(400);
    expect((await call(h, 'GET', '/api/v1/groups/abc')).status).toBe(400);
  });

  it('unknown routes are 404 JSON', async () => {
    const h = await dash();
    const r = await call(h, 'GET', '/api/v1/nope');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('REDSLOT_ERR_NOT_FOUND');
  });

  it('serves an OpenAPI document listing every API route with its schemas', async () => {
    const h = await dash();
    const r = await call(h, 'GET', '/api/v1/openapi.json', undefined, {});
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\./);
    const paths = r.body.paths as Record<string, Record<string, Json>>;
    const expected: Record<string, string[]> = {
      '/api/v1/health': ['get'],
      '/api/v1/leader': ['get'],
      '/api/v1/status': ['get'],
      '/api/v1/topology': ['get'],
      '/api/v1/overview': ['get'],
      '/api/v1/groups': ['get', 'post'],
      '/api/v1/groups/{gid}': ['get', 'delete'],
      '/api/v1/groups/{gid}/servers': ['post'],
      '/api/v1/groups/{gid}/servers/{addr}': ['delete'],
      '/api/v1/groups/{gid}/promote': ['post'],
      '/api/v1/slots': ['get'],
      '/api/v1/slots/assignment': ['put'],
      '/api/v1/proxies': ['get'],
      '/api/v1/proxies/{id}': ['delete'],
      '/api/v1/audit': ['get'],
    };
    for (const [p, methods] of Object.entries(expected)) {
      expect(paths[p], p).toBeDefined();
      for (const m of methods) {
        expect(paths[p]![m], `${m} ${p}`).toBeDefined();
        expect(paths[p]![m]!.responses, `${m} ${p} responses`).toBeDefined();
      }
    }
    expect(paths['/api/v1/groups']!.post!.requestBody).toBeDefined();
    expect(r.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});

describe('groups', () => {
  it('creates, lists, shows and removes a group; every call is audited with who, what, params and result', async () => {
    const h = await dash();
    const c = await call(h, 'POST', '/api/v1/groups', { id: 1, weight: 2 });
    expect(c.status).toBe(201);
    expect(c.body.group).toMatchObject({ id: 1, weight: 2, servers: [], slotCount: 0 });
    expect(JSON.parse((await h.coord.get(h.paths.group(1)))!.value)).toMatchObject({ id: 1, weight: 2, servers: [] });
    const dup = await call(h, 'POST', '/api/v1/groups', { id: 1 });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('REDSLOT_ERR_GROUP_EXISTS');
    expect((await call(h, 'GET', '/api/v1/groups')).body.groups.map((g: Json) => g.id)).toEqual([1]);
    expect((await call(h, 'GET', '/api/v1/groups/1')).body.group.id).toBe(1);
    const missing = await call(h, 'GET', '/api/v1/groups/2');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('group 2 not found');
    const rm = await call(h, 'DELETE', '/api/v1/groups/1');
    expect(rm.status).toBe(200);
    expect(await h.coord.get(h.paths.group(1))).toBeUndefined();
    expect((await call(h, 'DELETE', '/api/v1/groups/1')).status).toBe(404);
    const audit = (await call(h, 'GET', '/api/v1/audit')).body.entries as Json[];
    expect(audit.map((e) => [e.action, e.result])).toEqual([
      ['group.remove', 'refused'],
      ['group.remove', 'ok'],
      ['group.create', 'refused'],
      ['group.create', 'ok'],
    ]);
    expect(audit[3]).toMatchObject({ who: 'alice@127.0.0.1', target: 'group 1', params: { id: 1, weight: 2 } });
    expect(new Date(audit[3]!.at).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(audit[2]!.detail).toContain('already exists');
  });

  it('refuses to remove a group that owns slots or is a migration target, and says why', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    await seedGroup(h, { id: 2 });
    await seedSlots(h, 0, 9, 1);
    const r = await call(h, 'DELETE', '/api/v1/groups/1');
    expect(r.status).toBe(409);
    expect(r.body.error).toEqual({ code: 'REDSLOT_ERR_GROUP_NOT_EMPTY', message: 'group 1 cannot be removed: it owns 10 slots; move them to another group first' });
    await seedSlots(h, 10, 10, 1, { state: 'pending', target: 2, index: 1 });
    const r2 = await call(h, 'DELETE', '/api/v1/groups/2');
    expect(r2.status).toBe(409);
    expect(r2.body.error.message).toContain('1 slots are migrating to it');
  });

  it('audit paging: limit and before', async () => {
    const h = await dash();
    for (let i = 1; i <= 5; i++) await call(h, 'POST', '/api/v1/groups', { id: i });
    const first = (await call(h, 'GET', '/api/v1/audit?limit=2')).body.entries as Json[];
    expect(first.map((e) => e.target)).toEqual(['group 5', 'group 4']);
    const next = (await call(h, 'GET', `/api/v1/audit?limit=2&before=${first[1]!.id}`)).body.entries as Json[];
    expect(next.map((e) => e.target)).toEqual(['group 3', 'group 2']);
  });
});

describe('servers (no redis needed)', () => {
  it('refuses an address already registered, a missing group, and an unreachable server (502, audited as failed)', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    await seedGroup(h, { id: 2 });
    const dup = await call(h, 'POST', '/api/v1/groups/2/servers', { addr: '127.0.0.1:7001' });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toEqual({ code: 'REDSLOT_ERR_SERVER_EXISTS', message: 'server 127.0.0.1:7001 is already registered in group 1' });
    expect((await call(h, 'POST', '/api/v1/groups/9/servers', { addr: '127.0.0.1:7009' })).status).toBe(404);
    const addr = await closedAddr();
    const down = await call(h, 'POST', '/api/v1/groups/2/servers', { addr });
    expect(down.status).toBe(502);
    expect(down.body.error.code).toBe('REDSLOT_ERR_REDIS_UNREACHABLE');
    expect(down.body.error.message).toContain(addr);
    expect(JSON.parse((await h.coord.get(h.paths.group(2)))!.value).servers).toEqual([]);
    const audit = (await call(h, 'GET', '/api/v1/audit?limit=1')).body.entries[0];
    expect(audit).toMatchObject({ action: 'server.add', result: 'failed', target: `group 2 server ${addr}` });
  });

  it('removes a replica; refuses removing a master that has replicas or owns slots', async () => {
    const h = await dash();
    await seedGroup(h, {
      id: 1,
      servers: [
        { addr: '127.0.0.1:7001', role: 'master' },
        { addr: '127.0.0.1:7002', role: 'replica' },
      ],
    });
    await seedSlots(h, 0, 3, 1);
    const m = await call(h, 'DELETE', '/api/v1/groups/1/servers/127.0.0.1:7001');
    expect(m.status).toBe(409);
    expect(m.body.error.code).toBe('REDSLOT_ERR_SERVER_IN_USE');
    expect(m.body.error.message).toContain('promote a replica first');
    const r = await call(h, 'DELETE', '/api/v1/groups/1/servers/127.0.0.1%3A7002');
    expect(r.status).toBe(200);
    expect(r.body.group.servers).toEqual([{ addr: '127.0.0.1:7001', role: 'master' }]);
    const m2 = await call(h, 'DELETE', '/api/v1/groups/1/servers/127.0.0.1:7001');
    expect(m2.status).toBe(409);
    expect(m2.body.error.message).toContain('owns 4 slots');
    expect((await call(h, 'DELETE', '/api/v1/groups/1/servers/127.0.0.1:7999')).status).toBe(404);
  });

  it('promote refuses a missing server, the current master, and a group with migrating slots', async () => {
    const h = await dash();
    await seedGroup(h, {
      id: 1,
      servers: [
        { addr: '127.0.0.1:7001', role: 'master' },
        { addr: '127.0.0.1:7002', role: 'replica' },
      ],
    });
    await seedGroup(h, { id: 2, servers: [{ addr: '127.0.0.1:7003', role: 'master' }] });
    expect((await call(h, 'POST', '/api/v1/groups/1/promote', { addr: '127.0.0.1:7009' })).status).toBe(404);
    const m = await call(h, 'POST', '/api/v1/groups/1/promote', { addr: '127.0.0.1:7001' });
    expect(m.status).toBe(409);
    expect(m.body.error.code).toBe('REDSLOT_ERR_SERVER_ROLE');
    await seedSlots(h, 5, 5, 2, { state: 'migrating', target: 1, index: 1 });
    const busy = await call(h, 'POST', '/api/v1/groups/1/promote', { addr: '127.0.0.1:7002' });
    expect(busy.status).toBe(409);
    expect(busy.body.error).toEqual({ code: 'REDSLOT_ERR_GROUP_BUSY', message: 'group 1 is busy: 1 slots are migrating from or to it' });
  });
});

describe('slots', () => {
  it('assigns a range of offline slots, lists them as ranges, and skips slots already owned by the group', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    const r = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 299, group: 1 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ assigned: 300, ranges: [{ from: 0, to: 299, group: 1 }], warnings: [] });
    const s = await call(h, 'GET', '/api/v1/slots');
    expect(s.body.slots).toHaveLength(1024);
    expect(s.body.ranges).toEqual([
      { from: 0, to: 299, group: 1 },
      { from: 300, to: 1023, group: 0 },
    ]);
    expect(JSON.parse((await h.coord.get(h.paths.slot(299)))!.value)).toEqual({ id: 299, group: 1 });
    const again = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 299, group: 1 });
    expect(again.body.assigned).toBe(0);
    const topo = await call(h, 'GET', '/api/v1/topology');
    expect(topo.body.groups[0]).toMatchObject({ id: 1, slotCount: 300 });
    expect(topo.body.slots[0]).toEqual({ id: 0, group: 1 });
  });

  it('spreads offline slots evenly over groups with a master, in contiguous runs', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    await seedGroup(h, { id: 2, servers: [{ addr: '127.0.0.1:7002', role: 'master' }] });
    await seedGroup(h, { id: 3, servers: [{ addr: '127.0.0.1:7003', role: 'master' }] });
    await seedGroup(h, { id: 4 }); // no master: left out
    await seedSlots(h, 0, 99, 1);
    const r = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'even' });
    expect(r.status).toBe(200);
    expect(r.body.assigned).toBe(924);
    const groups = (await call(h, 'GET', '/api/v1/groups')).body.groups as Json[];
    expect(groups.map((g) => g.slotCount)).toEqual([342, 341, 341, 0]);
    const ranges = (await call(h, 'GET', '/api/v1/slots')).body.ranges as Json[];
    expect(ranges).toEqual([
      { from: 0, to: 341, group: 1 },
      { from: 342, to: 682, group: 2 },
      { from: 683, to: 1023, group: 3 },
    ]);
    const none = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'even' });
    expect(none.status).toBe(409);
    expect(none.body.error.message).toContain('no offline slots');
  });

  it('even assignment over explicit groups', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    await seedGroup(h, { id: 2, servers: [{ addr: '127.0.0.1:7002', role: 'master' }] });
    const r = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'even', groups: [2] });
    expect(r.body.ranges).toEqual([{ from: 0, to: 1023, group: 2 }]);
  });

  it('refuses groups without a master, missing groups, slots with a migration action, and owned slots whose group is unreachable', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1 });
    const noMaster = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 1, group: 1 });
    expect(noMaster.status).toBe(409);
    expect(noMaster.body.error).toEqual({ code: 'REDSLOT_ERR_SLOTS_REFUSED', message: 'slot assignment refused: group 1 has no master; add a server to it first' });
    expect((await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 1, group: 7 })).status).toBe(404);
    const down = await closedAddr();
    await seedGroup(h, { id: 2, servers: [{ addr: '127.0.0.1:7002', role: 'master' }] });
    await seedGroup(h, { id: 3, servers: [{ addr: down, role: 'master' }] });
    await seedSlots(h, 20, 20, 2, { state: 'migrating', target: 3, index: 1 });
    const act = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 15, to: 25, group: 2 });
    expect(act.status).toBe(409);
    expect(act.body.error.message).toContain('slot 20 has a migration action (migrating -> group 3)');
    await seedSlots(h, 30, 31, 3);
    const owned = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 30, to: 31, group: 2 });
    expect(owned.status).toBe(502);
    expect(owned.body.error.message).toContain(down);
    expect(JSON.parse((await h.coord.get(h.paths.slot(30)))!.value).group).toBe(3);
  });
});

describe('compare-and-swap', () => {
  it('two writers deciding on the same revision: the second is refused with 409 REDSLOT_ERR_CAS_CONFLICT', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    await seedGroup(h, { id: 2, servers: [{ addr: '127.0.0.1:7002', role: 'master' }] });
    const rev = (await call(h, 'GET', '/api/v1/slots')).body.revision as number;
    const a = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 9, group: 1, ifRevision: rev });
    const b = await call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 5, to: 14, group: 2, ifRevision: rev });
    expect(a.status).toBe(200);
    expect(b.status).toBe(409);
    expect(b.body.error.code).toBe('REDSLOT_ERR_CAS_CONFLICT');
    expect(b.body.error.message).toContain(`since revision ${rev}`);
    // Nothing of B's was written; A's stands.
    const ranges = (await call(h, 'GET', '/api/v1/slots')).body.ranges as Json[];
    expect(ranges[0]).toEqual({ from: 0, to: 9, group: 1 });
    const audit = (await call(h, 'GET', '/api/v1/audit?limit=1')).body.entries[0];
    expect(audit).toMatchObject({ action: 'slots.assign', result: 'refused' });
  });

  it('racing concurrently on the same revision: exactly one wins', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    await seedGroup(h, { id: 2, servers: [{ addr: '127.0.0.1:7002', role: 'master' }] });
    const rev = (await call(h, 'GET', '/api/v1/groups')).body.revision as number;
    const [a, b] = await Promise.all([
      call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 511, group: 1, ifRevision: rev }),
      call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 511, group: 2, ifRevision: rev }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const loser = a.status === 409 ? a : b;
    expect(loser.body.error.code).toBe('REDSLOT_ERR_CAS_CONFLICT');
    const winner = a.status === 200 ? 1 : 2;
    const owners = new Set(((await call(h, 'GET', '/api/v1/slots')).body.slots as Json[]).slice(0, 512).map((s) => s.group));
    expect([...owners]).toEqual([winner]);
  });

  it('racing without ifRevision: the txn compares what each read, so concurrent writes never overwrite each other', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    await seedGroup(h, { id: 2, servers: [{ addr: '127.0.0.1:7002', role: 'master' }] });
    const results = await Promise.all([
      call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 50, group: 1 }),
      call(h, 'PUT', '/api/v1/slots/assignment', { mode: 'range', from: 0, to: 50, group: 2 }),
    ]);
    const statuses = results.map((r) => r.status).sort();
    // Either both serialised (the second then finds the slots owned and asks group 1 for keys: 502, the
    // address is not a real server) or the second lost the CAS (409). Never two 200s.
    expect(statuses[0]).toBe(200);
    expect([409, 502]).toContain(statuses[1]);
    const owners = new Set(((await call(h, 'GET', '/api/v1/slots')).body.slots as Json[]).slice(0, 51).map((s) => s.group));
    expect(owners.size).toBe(1);
  });

  it('group create with ifRevision older than an existing key is refused; remove with a stale ifRevision is refused', async () => {
    const h = await dash();
    const c = await call(h, 'POST', '/api/v1/groups', { id: 1 });
    const rev = c.body.revision as number;
    await call(h, 'POST', '/api/v1/groups/1/servers', { addr: await closedAddr() }); // refused; changes nothing
    await seedGroup(h, { id: 1, weight: 3 }); // someone else changed group 1 after rev
    const r = await call(h, 'DELETE', `/api/v1/groups/1?ifRevision=${rev}`);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('REDSLOT_ERR_CAS_CONFLICT');
    const fresh = (await call(h, 'GET', '/api/v1/groups/1')).body.revision as number;
    expect((await call(h, 'DELETE', `/api/v1/groups/1?ifRevision=${fresh}`)).status).toBe(200);
  });
});

describe('proxies', () => {
  it('lists live proxies with acked revision and state; a proxy whose admin API does not answer shows the error', async () => {
    const h = await dash();
    await seedGroup(h, { id: 1, servers: [{ addr: '127.0.0.1:7001', role: 'master' }] });
    const topoRev = await seedSlots(h, 0, 0, 1);
    const deadAdmin = await closedAddr();
    const p1 = await registerProxy(h, 'p1', deadAdmin, topoRev);
    await registerProxy(h, 'p2', deadAdmin, topoRev - 1);
    const r = await call(h, 'GET', '/api/v1/proxies');
    expect(r.status).toBe(200);
    const byId = Object.fromEntries((r.body.proxies as Json[]).map((p) => [p.id, p]));
    expect(byId['p1']).toMatchObject({ live: true, ackedRevision: topoRev, upToDate: true, fenced: false, stats: null, adminAddr: deadAdmin });
    expect(byId['p1']!.statsError).toBeTruthy();
    expect(byId['p2']).toMatchObject({ upToDate: false, ackedRevision: topoRev - 1 });
    const status = await call(h, 'GET', '/api/v1/status');
    expect(status.body.proxies).toHaveLength(2);
    await p1.lease.revoke();
    const after = await call(h, 'GET', '/api/v1/proxies');
    expect((after.body.proxies as Json[]).map((p) => p.id)).toEqual(['p2']);
  });

  it("removes a proxy's registration and ack; 404 for an unknown proxy", async () => {
    const h = await dash();
    await registerProxy(h, 'p9', await closedAddr(), 1, 30);
    const r = await call(h, 'DELETE', '/api/v1/proxies/p9');
    expect(r.status).toBe(200);
    expect(await h.coord.get(h.paths.proxy('p9'))).toBeUndefined();
    expect(await h.coord.get(h.paths.ack('p9'))).toBeUndefined();
    expect((await call(h, 'DELETE', '/api/v1/proxies/p9')).status).toBe(404);
    expect((await call(h, 'GET', '/api/v1/audit?limit=2')).body.entries.map((e: Json) => e.result)).toEqual(['refused', 'ok']);
  });
});

describe('overview', () => {
  it('reports servers that do not answer as down, keeps a history ring, and bounds it', async () => {
    const h = await dash(uniqueCluster(), { statsHistory: 3 });
    const down = await closedAddr();
    await seedGroup(h, { id: 1, servers: [{ addr: down, role: 'master' }] });
    const r = await call(h, 'GET', '/api/v1/overview');
    expect(r.status).toBe(200);
    expect(r.body.current.groups[0]).toMatchObject({ id: 1, healthy: false, servers: [{ addr: down, up: false }] });
    for (let i = 0; i < 4; i++) await h.app.dashboard.stats.pollOnce();
    const r2 = await call(h, 'GET', '/api/v1/overview?history=true');
    expect(r2.body.history).toHaveLength(3);
    expect(r2.body.history[0].groups['1']).toEqual({ opsPerSec: 0, keys: 0, usedMemory: 0 });
    const r3 = await call(h, 'GET', '/api/v1/overview?history=false');
    expect(r3.body.history).toEqual([]);
  });

  it('never dials an address that is not in the model (SSRF guard)', async () => {
    const h = await dash();
    const guard = h.app.dashboard.dialer;
    expect(() => guard.assertAllowed('169.254.169.254:80', new Set(['127.0.0.1:7001']))).toThrowError(/not a server or proxy registered/);
    await expect(guard.fetchProxyJson('169.254.169.254:80', '/latest/meta-data', new Set())).rejects.toMatchObject({ code: 'REDSLOT_ERR_ADDRESS_NOT_ALLOWED' });
    await expect(guard.withServer('10.0.0.1:6379', new Set(), async () => 1)).rejects.toMatchObject({ code: 'REDSLOT_ERR_ADDRESS_NOT_ALLOWED' });
  });
});

describe('leadership', () => {
  it('a standby serves reads, refuses writes with 503 naming the leader, and takes over when the leader stops', async () => {
    const cluster = uniqueCluster();
    const leader = await dash(cluster, { advertise: '10.1.1.1:18080', id: 'dash-a' });
    const standby = await dash(cluster, { advertise: '10.1.1.2:18080', id: 'dash-b' });
    expect((await call(standby, 'GET', '/api/v1/health', undefined, {})).body).toMatchObject({ role: 'standby', leader: { id: 'dash-a', addr: '10.1.1.1:18080' } });
    expect((await call(standby, 'GET', '/api/v1/groups')).status).toBe(200);
    const w = await call(standby, 'POST', '/api/v1/groups', { id: 1 });
    expect(w.status).toBe(503);
    expect(w.body.error.code).toBe('REDSLOT_ERR_NOT_LEADER');
    expect(w.body.error.message).toContain('10.1.1.1:18080');
    const members = (await call(standby, 'GET', '/api/v1/leader')).body;
    expect(members.self).toEqual({ id: 'dash-b', addr: '10.1.1.2:18080', leader: false });
    expect(members.members.map((m: Json) => [m.id, m.leader])).toEqual([
      ['dash-a', true],
      ['dash-b', false],
    ]);
    // Refusals on the standby are audited too.
    expect((await call(leader, 'GET', '/api/v1/audit?limit=1')).body.entries[0]).toMatchObject({ action: 'group.create', result: 'refused' });
    await leader.close();
    open.splice(open.indexOf(leader), 1);
    await waitFor(() => standby.app.dashboard.election.isLeader(), 3000, 'standby to lead');
    expect((await call(standby, 'POST', '/api/v1/groups', { id: 1 })).status).toBe(201);
  });

  it('fencing: a txn from a dashboard that lost the leader key is refused even before it notices', async () => {
    const h = await dash();
    const fence = h.app.dashboard.election.fence();
    expect(fence).not.toBeNull();
    // Someone else's term: the key is recreated with another createRevision.
    await h.coord.delete(h.paths.leader);
    await h.coord.put(h.paths.leader, JSON.stringify({ id: 'other', addr: 'x:1', since: 'now' }));
    const res = await h.coord.txn([fence!], [{ type: 'put', key: h.paths.group(5), value: '{}' }]);
    expect(res.succeeded).toBe(false);
    expect(await h.coord.get(h.paths.group(5))).toBeUndefined();
  });
});

it('the dialer refuses with a connect timeout on a silent address (fault: a listener that accepts and never answers)', async () => {
  const h = await dash();
  const server = net.createServer(() => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  try {
    await seedGroup(h, { id: 1 });
    const r = await call(h, 'POST', '/api/v1/groups/1/servers', { addr });
    expect(r.status).toBe(504);
    expect(r.body.error.code).toBe('REDSLOT_ERR_REDIS_TIMEOUT');
    expect(r.body.error.message).toContain('PING');
  } finally {
    server.close();
  }
});
