/** The static topology of a proxy run without a coordinator (`topology:` in its config). */
import { Type } from 'typebox';
import { invalidConfig, parseEnum, parseHostPort, parseIntInRange } from '../../shared/config.js';
import { SLOT_COUNT } from '../../shared/slot.js';
import type { GroupRecord, ServerRole } from '../../shared/model/types.js';

export interface StaticTopologyConfig {
  groups: GroupRecord[];
  /** [from, to, group] inclusive ranges. */
  slots: Array<[number, number, number]>;
}


function str(v: unknown, name: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw invalidConfig(`${name}: expected a string (got ${JSON.stringify(v)})`);
}

function obj(v: unknown, name: string): Record<string, unknown> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  throw invalidConfig(`${name}: expected a mapping`);
}

export function parseStaticTopology(v: unknown): StaticTopologyConfig | null {
  if (v === null || v === undefined || v === '') return null;
  const t = obj(typeof v === 'string' ? (JSON.parse(v) as unknown) : v, 'topology');
  if (!Array.isArray(t.groups)) throw invalidConfig('topology.groups: expected a list');
  const groups: GroupRecord[] = t.groups.map((g: unknown, i: number) => {
    const go = obj(g, `topology.groups[${i}]`);
    const id = parseIntInRange(go.id, `topology.groups[${i}].id`, 1, 9999);
    if (!Array.isArray(go.servers)) throw invalidConfig(`topology.groups[${i}].servers: expected a list`);
    const servers = go.servers.map((s: unknown, j: number) => {
      const so = typeof s === 'string' ? { addr: s, role: j === 0 ? 'master' : 'replica' } : obj(s, `topology.groups[${i}].servers[${j}]`);
      const addr = str(so.addr, `topology.groups[${i}].servers[${j}].addr`);
      parseHostPort(addr, `topology.groups[${i}].servers[${j}].addr`);
      const role = parseEnum<ServerRole>(so.role ?? (j === 0 ? 'master' : 'replica'), `topology.groups[${i}].servers[${j}].role`, ['master', 'replica']);
      return { addr, role };
    });
    if (servers.filter((s) => s.role === 'master').length > 1) throw invalidConfig(`topology.groups[${i}]: more than one master`);
    return { id, servers, weight: go.weight === undefined ? 1 : Number(go.weight) };
  });
  const ids = new Set<number>();
  for (const g of groups) {
    if (ids.has(g.id)) throw invalidConfig(`topology.groups: duplicate id ${g.id}`);
    ids.add(g.id);
  }
  const rawSlots = t.slots ?? [];
  if (!Array.isArray(rawSlots)) throw invalidConfig('topology.slots: expected a list of [from, to, group]');
  const slots = rawSlots.map((r: unknown, i: number): [number, number, number] => {
    if (!Array.isArray(r) || r.length !== 3) throw invalidConfig(`topology.slots[${i}]: expected [from, to, group]`);
    const from = parseIntInRange(r[0], `topology.slots[${i}][0]`, 0, SLOT_COUNT - 1);
    const to = parseIntInRange(r[1], `topology.slots[${i}][1]`, from, SLOT_COUNT - 1);
    const group = parseIntInRange(r[2], `topology.slots[${i}][2]`, 0, 9999);
    if (group !== 0 && !ids.has(group)) throw invalidConfig(`topology.slots[${i}]: group ${group} is not defined`);
    return [from, to, group];
  });
  return { groups, slots };
}

/** Checked by parseStaticTopology (cross-references a schema cannot express); a JSON string is accepted too. */
export const TopologyKnob = Type.Decode(
  Type.Unknown({
    default: null,
    docDefault: '–',
    description: 'static topology without a coordinator: `{groups: [{id, servers: [{addr, role}]}], slots: [[from, to, group], ...]}`',
  }),
  (v) => parseStaticTopology(v),
);
