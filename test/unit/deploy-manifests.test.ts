/**
 * Offline checks of deploy/k8s (no cluster, no kubectl; see toolchain.md §7).
 *
 * The base kustomization and the dev overlay are rendered by a small kustomize emulation (resources,
 * configMapGenerator, namespace, images, JSON6902 patches and `$patch: delete` — exactly the features the
 * manifests use; anything else is refused so the emulation cannot silently diverge). Every rendered document
 * then goes through three layers:
 *   1. schema: kubernetes-models 4.x `validate()` (wrong types, missing required fields);
 *   2. unknown fields: each document written as a typed TS literal (`const doc: IDeployment = {...}`) and
 *      compiled with the project's tsc --noEmit in a temp dir: excess-property errors catch misspellings
 *      such as `readinesProbe`, which the schemas allow;
 *   3. consistency: ports, probes, labels, selectors, references and replica counts agree between the
 *      Deployments, StatefulSets, Services, PDB, HPA, ServiceMonitors, the proxy's and dashboard's own config
 *      defaults, and the coordinator URL parser.
 * Each layer has a test that feeds it a broken document and expects it to complain.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { DEFAULT_DASHBOARD_PORT, loadDashboardConfig } from '../../dashboard/config.js';
import { startDashboard } from '../../dashboard/main.js';
import { loadProxyConfig, parseProxyFlags } from '../../proxy/config.js';
import { startProxy } from '../../proxy/main.js';
import { parseCoordinatorUrl } from '../../shared/coordinator/index.js';
import { setLogLevel } from '../../shared/log.js';
import { issueCert, makeCa } from '../../shared/tls/certs.js';

type J = any;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const K8S = path.join(ROOT, 'deploy/k8s');
const DEV = path.join(K8S, 'overlays/dev');
const PART_OF = 'redslot';

const SOURCE = Symbol('source');
/** structuredClone drops symbol keys: keep where a document came from. */
function cloneDoc(d: J): J {
  const c = structuredClone(d);
  c[SOURCE] = d[SOURCE];
  return c;
}
const where = (d: J): string => `${d.kind}/${d.metadata?.name} (${d[SOURCE] ?? '?'})`;

// ---------------------------------------------------------------------------------------------------------
// Rendering: a minimal, strict kustomize.

interface Rendered {
  docs: J[];
  images: Map<string, { newName?: string; newTag?: string }>;
  /** Every file a kustomization in the tree references (resources, generator files, patch files). */
  referenced: Set<string>;
}

const KUSTOMIZATION_KEYS = new Set([
  'apiVersion', 'kind', 'namespace', 'resources', 'configMapGenerator', 'generatorOptions', 'images', 'patches',
]);

function readDocs(file: string): J[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: J[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v: J = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

function groupVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.lastIndexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

function matchesTarget(doc: J, t: J): boolean {
  const gv = groupVersion(doc.apiVersion);
  if (t.group !== undefined && t.group !== gv.group) return false;
  if (t.version !== undefined && t.version !== gv.version) return false;
  if (t.kind !== undefined && t.kind !== doc.kind) return false;
  if (t.name !== undefined && !new RegExp(`^(?:${t.name})$`).test(doc.metadata?.name ?? '')) return false;
  return true;
}

function pointer(p: string): string[] {
  if (!p.startsWith('/')) throw new Error(`bad JSON pointer ${p}`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 subset (test, replace, add, remove) with strict paths: a stale index fails loudly. */
export function applyJsonPatch(doc: J, ops: J[], where: string): J {
  const out = cloneDoc(doc);
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop()!;
    let parent = out;
    for (const p of parts) {
      if (parent === null || typeof parent !== 'object' || !(p in parent)) throw new Error(`${where}: ${op.op} ${op.path}: no ${p}`);
      parent = parent[p];
    }
    const has = parent !== null && typeof parent === 'object' && (Array.isArray(parent) ? Number(last) < parent.length : last in parent);
    switch (op.op) {
      case 'test':
        if (!has || JSON.stringify(parent[last]) !== JSON.stringify(op.value)) {
          throw new Error(`${where}: test ${op.path} expected ${JSON.stringify(op.value)}, found ${JSON.stringify(has ? parent[last] : undefined)}`);
        }
        break;
      case 'replace':
        if (!has) throw new Error(`${where}: replace ${op.path}: nothing there`);
        parent[last] = structuredClone(op.value);
        break;
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, structuredClone(op.value));
        else parent[last] = structuredClone(op.value);
        break;
      case 'remove':
        if (!has) throw new Error(`${where}: remove ${op.path}: nothing there`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      default:
        throw new Error(`${where}: unsupported op ${op.op}`);
    }
  }
  return out;
}

function render(dir: string): Rendered {
  const kfile = path.join(dir, 'kustomization.yaml');
  const k: J = parseYaml(readFileSync(kfile, 'utf8'));
  for (const key of Object.keys(k)) if (!KUSTOMIZATION_KEYS.has(key)) throw new Error(`${kfile}: unsupported or misspelled key ${key}`);
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') throw new Error(`${kfile}: not a Kustomization`);
  const referenced = new Set<string>([kfile]);
  let docs: J[] = [];
  const images = new Map<string, { newName?: string; newTag?: string }>();
  for (const r of (k.resources ?? []) as string[]) {
    const p = path.resolve(dir, r);
    if (!existsSync(p)) throw new Error(`${kfile}: resource ${r} does not exist`);
    if (statSync(p).isDirectory()) {
      const sub = render(p);
      docs.push(...sub.docs);
      for (const [n, v] of sub.images) images.set(n, v);
      for (const f of sub.referenced) referenced.add(f);
    } else {
      referenced.add(p);
      docs.push(...readDocs(p).map((d) => ({ ...d, [SOURCE]: path.relative(ROOT, p) })));
    }
  }
  const genLabels = k.generatorOptions?.labels ?? {};
  for (const g of (k.configMapGenerator ?? []) as J[]) {
    const data: Record<string, string> = {};
    for (const lit of (g.literals ?? []) as string[]) {
      const i = lit.indexOf('=');
      data[lit.slice(0, i)] = lit.slice(i + 1);
    }
    for (const f of (g.files ?? []) as string[]) {
      const i = f.indexOf('=');
      const [key, rel] = i < 0 ? [path.basename(f), f] : [f.slice(0, i), f.slice(i + 1)];
      const p = path.resolve(dir, rel);
      if (!existsSync(p)) throw new Error(`${kfile}: configMapGenerator ${g.name}: ${rel} does not exist`);
      referenced.add(p);
      data[key] = readFileSync(p, 'utf8');
    }
    const existing = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === g.name);
    if (g.behavior === 'merge' || g.behavior === 'replace') {
      if (!existing) throw new Error(`${kfile}: configMapGenerator ${g.name}: behavior ${g.behavior} but no such ConfigMap in the base`);
      existing.data = g.behavior === 'merge' ? { ...existing.data, ...data } : data;
    } else {
      if (existing) throw new Error(`${kfile}: configMapGenerator ${g.name} defined twice`);
      docs.push({
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name, labels: { ...genLabels } }, data,
        [SOURCE]: `${path.relative(ROOT, kfile)} (configMapGenerator ${g.name})`,
      });
    }
  }
  for (const p of (k.patches ?? []) as J[]) {
    const file = p.path ? path.resolve(dir, p.path) : undefined;
    if (file) {
      if (!existsSync(file)) throw new Error(`${kfile}: patch ${p.path} does not exist`);
      referenced.add(file);
    }
    const body: J = parseYaml(file ? readFileSync(file, 'utf8') : p.patch);
    if (!p.target) throw new Error(`${kfile}: every patch needs a target`);
    const hits = docs.filter((d) => matchesTarget(d, p.target));
    if (hits.length === 0) throw new Error(`${kfile}: patch ${p.path ?? ''} matches no resource (${JSON.stringify(p.target)})`);
    if (Array.isArray(body)) {
      docs = docs.map((d) => (hits.includes(d) ? applyJsonPatch(d, body, `${kfile} ${p.path}`) : d));
    } else if (body?.$patch === 'delete') {
      docs = docs.filter((d) => !hits.includes(d));
    } else {
      throw new Error(`${kfile}: patch ${p.path}: only JSON6902 lists and $patch: delete are emulated`);
    }
  }
  if (k.namespace) {
    for (const d of docs) if (d.kind !== 'Namespace') d.metadata.namespace = k.namespace;
  }
  for (const img of (k.images ?? []) as J[]) images.set(img.name, { newName: img.newName, newTag: img.newTag === undefined ? undefined : String(img.newTag) });
  return { docs, images, referenced };
}


// ---------------------------------------------------------------------------------------------------------
// Layer 1: kubernetes-models schemas.

function modelModule(apiVersion: string, kind: string): string {
  if (groupVersion(apiVersion).group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function schemaProblems(docs: J[]): Promise<string[]> {
  const problems: string[] = [];
  for (const d of docs) {
    let Model: J;
    try {
      Model = ((await import(modelModule(d.apiVersion, d.kind))) as J)[d.kind];
    } catch {
      problems.push(`${where(d)}: no kubernetes-models schema for ${d.apiVersion} ${d.kind}`);
      continue;
    }
    const plain = JSON.parse(JSON.stringify(d));
    try {
      new Model(plain).validate();
    } catch (err) {
      problems.push(`${where(d)}: ${(err as Error).message}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// Layer 2: typed literals through tsc (excess-property checks).

/** A TS object literal with bare keys where possible, so tsc's messages read `'readinesProbe' does not exist`. */
function tsLiteral(v: J, indent: string): string {
  if (Array.isArray(v)) return `[${v.map((x) => `\n${indent}  ${tsLiteral(x, indent + '  ')}`).join(',')}\n${indent}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).map(([k, x]) => `\n${indent}  ${/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : JSON.stringify(k)}: ${tsLiteral(x, indent + '  ')}`);
    return `{${entries.join(',')}\n${indent}}`;
  }
  return JSON.stringify(v);
}

interface TscResult {
  status: number | null;
  output: string;
  /** file name (without .ts) -> error lines */
  errors: Map<string, string[]>;
}

function runTypedLiterals(sets: Record<string, J[]>): TscResult {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-k8s-typed-'));
  try {
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const files: string[] = [];
    for (const [set, docs] of Object.entries(sets)) {
      docs.forEach((d, i) => {
        const name = `${set}-${String(i).padStart(2, '0')}-${d.kind}-${d.metadata?.name ?? 'x'}`.replace(/[^A-Za-z0-9_-]/g, '_');
        const type = `I${d.kind}`;
        const text =
          `import type { ${type} } from '${modelModule(d.apiVersion, d.kind)}';\n` +
          `// ${where(d)}\n` +
          `export const doc: ${type} = ${tsLiteral(d, '')};\n`;
        writeFileSync(path.join(dir, `${name}.ts`), text);
        files.push(`${name}.ts`);
      });
    }
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler',
          skipLibCheck: true, types: [], noErrorTruncation: false,
        },
        files,
      }),
    );
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--pretty', 'false'], {
      cwd: dir, encoding: 'utf8', timeout: 60_000,
    });
    const output = `${r.stdout}${r.stderr}`;
    const errors = new Map<string, string[]>();
    for (const line of output.split('\n')) {
      const m = /^(.+?)\.ts\(\d+,\d+\): error (TS\d+: .*)$/.exec(line);
      if (m) errors.set(m[1]!, [...(errors.get(m[1]!) ?? []), m[2]!]);
    }
    return { status: r.status, output, errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Layer 3: consistency.

/** The proxy's effective config as its own loader computes it from a pod's config file, env and args. */
interface ProxyEffective {
  listenPort: number;
  adminPort: number | undefined;
  /** Drain deadline on SIGTERM, ms. */
  shutdownDeadlineMs: number;
  cluster: string;
  coordinator: string;
}

/** What the code says, read from the modules themselves (never a copy). */
interface Facts {
  /** proxy/config.ts loadProxyConfig over (file text, container env, container args). */
  proxyConfig: (fileText: string, env: Record<string, string>, args: string[]) => ProxyEffective;
  /** Status a real proxy's admin app answers for each probe path the manifests use. */
  proxyAdminStatus: Map<string, number>;
  dashboardPort: number;
  /** dashboard/config.ts loadDashboardConfig over (flags, env). */
  dashboardConfig: (flags: Record<string, string>, env: Record<string, string>) => { listen: string; advertise?: string };
  /** Status a real dashboard answers, without a token, for each probe path the manifests use. */
  dashboardPublicStatus: Map<string, number>;
  parseCoordinatorUrl: (url: string) => { kind: string; hosts?: string[]; cluster: string };
}

interface Expect {
  minProxies: number;
  dashboards: number;
  etcdMembers: number;
}

function labelsOf(x: J): Record<string, string> {
  return x?.metadata?.labels ?? {};
}
function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
function quantity(q: string | number | undefined): number {
  if (q === undefined) return NaN;
  const m = /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/.exec(String(q));
  if (!m) return NaN;
  const mult: Record<string, number> = { m: 1e-3, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3, T: 1e12, Ti: 1024 ** 4 };
  return Number(m[1]) * (m[2] ? mult[m[2]]! : 1);
}
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'Job']);
function podSpec(d: J): J {
  return d.spec?.template?.spec;
}
function containersOf(d: J): J[] {
  const s = podSpec(d);
  return s ? [...(s.initContainers ?? []), ...(s.containers ?? [])] : [];
}
function envValue(c: J, name: string): string | undefined {
  return (c.env ?? []).find((e: J) => e.name === name)?.value;
}
function find(docs: J[], kind: string, name: string): J | undefined {
  return docs.find((d) => d.kind === kind && d.metadata?.name === name);
}
function argAfter(args: string[] | undefined, flag: string): string | undefined {
  const i = (args ?? []).indexOf(flag);
  return i < 0 ? undefined : args![i + 1];
}
/** A container's environment as the pod would see it (literal values and ConfigMap keys). */
function resolvedEnv(docs: J[], c: J): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = expand(docs, c, e.value);
    const ref = e.valueFrom?.configMapKeyRef;
    const v = ref && find(docs, 'ConfigMap', ref.name)?.data?.[ref.key];
    if (v !== undefined) env[e.name] = v;
    const sk = e.valueFrom?.secretKeyRef;
    const secret = sk && find(docs, 'Secret', sk.name);
    const sv = secret && (secret.stringData?.[sk.key] ?? (secret.data?.[sk.key] && Buffer.from(secret.data[sk.key], 'base64').toString()));
    if (sv !== undefined) env[e.name] = sv;
  }
  return env;
}

/** Resolves a container's `$(VAR)` references from literal env values and configMapKeyRefs. */
function expand(docs: J[], c: J, s: string): string {
  return s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => {
    const e = (c.env ?? []).find((x: J) => x.name === name);
    if (e?.value !== undefined) return e.value;
    const ref = e?.valueFrom?.configMapKeyRef;
    if (ref) return find(docs, 'ConfigMap', ref.name)?.data?.[ref.key] ?? all;
    return all;
  });
}

export function consistencyProblems(docs: J[], images: Rendered['images'], facts: Facts, want: Expect): string[] {
  const p: string[] = [];
  const workloads = docs.filter((d) => WORKLOADS.has(d.kind));
  const services = docs.filter((d) => d.kind === 'Service');

  // Labels everywhere, selectors inside their templates.
  for (const d of docs) {
    const l = labelsOf(d);
    if (!l['app.kubernetes.io/name'] || !l['app.kubernetes.io/component'] || l['app.kubernetes.io/part-of'] !== PART_OF) {
      p.push(`${where(d)}: metadata.labels need app.kubernetes.io/name, /component and part-of=${PART_OF}`);
    }
  }
  for (const w of workloads) {
    const tl = labelsOf(w.spec.template);
    if (!tl['app.kubernetes.io/name'] || !tl['app.kubernetes.io/component'] || tl['app.kubernetes.io/part-of'] !== PART_OF) {
      p.push(`${where(w)}: pod template labels need name, component and part-of=${PART_OF}`);
    }
    if (w.kind !== 'Job' && !selects(w.spec.selector?.matchLabels, tl)) p.push(`${where(w)}: selector does not match its own pod template`);
    for (const t of w.spec.volumeClaimTemplates ?? []) {
      if (labelsOf(t)['app.kubernetes.io/part-of'] !== PART_OF) p.push(`${where(w)}: volumeClaimTemplate ${t.metadata?.name} lacks part-of label`);
    }
    for (const c of containersOf(w)) {
      for (const kind of ['requests', 'limits']) {
        for (const r of ['cpu', 'memory']) {
          if (Number.isNaN(quantity(c.resources?.[kind]?.[r]))) p.push(`${where(w)}: container ${c.name} has no ${kind}.${r}`);
        }
      }
      for (const r of ['cpu', 'memory']) {
        if (quantity(c.resources?.limits?.[r]) < quantity(c.resources?.requests?.[r])) p.push(`${where(w)}: container ${c.name} ${r} limit below request`);
      }
      const portNames = new Set((c.ports ?? []).map((x: J) => x.name));
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
        const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
        if (typeof port === 'string' && !portNames.has(port)) p.push(`${where(w)}: ${c.name}.${probe} uses port ${port} the container does not declare`);
      }
      // Every image is either a pinned third-party image or `redslot`, which kustomize rewrites.
      if (c.image === 'redslot') {
        if (!images.get('redslot')?.newName || !images.get('redslot')?.newTag) p.push(`${where(w)}: image redslot has no kustomize images entry`);
      } else if (!/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/.test(c.image ?? '') || /:latest$/.test(c.image)) {
        p.push(`${where(w)}: container ${c.name} image ${c.image} must be pinned to a tag`);
      }
      // $(VAR) in an env value may only name a variable defined earlier in the list (Kubernetes leaves it
      // verbatim otherwise); in command/args, any variable of the container.
      const names = (c.env ?? []).map((e: J) => e.name);
      (c.env ?? []).forEach((e: J, i: number) => {
        for (const m of String(e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!names.slice(0, i).includes(m[1])) p.push(`${where(w)}: env ${e.name} uses $(${m[1]}) before it is defined`);
        }
      });
      for (const a of [...(c.command ?? []), ...(c.args ?? [])]) {
        for (const m of String(a).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!names.includes(m[1])) p.push(`${where(w)}: container ${c.name} uses $(${m[1]}) but defines no such env`);
        }
      }
      // References to ConfigMaps and Secrets resolve, keys included.
      for (const e of c.env ?? []) {
        const cm = e.valueFrom?.configMapKeyRef;
        if (cm && find(docs, 'ConfigMap', cm.name)?.data?.[cm.key] === undefined) p.push(`${where(w)}: env ${e.name}: ConfigMap ${cm.name} has no key ${cm.key}`);
        const sk = e.valueFrom?.secretKeyRef;
        const secret = sk && find(docs, 'Secret', sk.name);
        if (sk && (secret?.stringData?.[sk.key] ?? secret?.data?.[sk.key]) === undefined) p.push(`${where(w)}: env ${e.name}: Secret ${sk.name} has no key ${sk.key}`);
      }
      for (const vm of c.volumeMounts ?? []) {
        const vol = (podSpec(w).volumes ?? []).find((v: J) => v.name === vm.name);
        const fromClaim = (w.spec.volumeClaimTemplates ?? []).some((t: J) => t.metadata?.name === vm.name);
        if (!vol && !fromClaim) p.push(`${where(w)}: volumeMount ${vm.name} has no volume`);
      }
    }
    for (const v of podSpec(w).volumes ?? []) {
      if (v.configMap && !find(docs, 'ConfigMap', v.configMap.name)) p.push(`${where(w)}: volume ${v.name}: no ConfigMap ${v.configMap.name}`);
    }
  }

  // Services select a workload and name ports that workload declares, with the same numbers.
  const svcTargets = new Map<J, J[]>();
  for (const s of services) {
    const targets = workloads.filter((w) => selects(s.spec.selector, labelsOf(w.spec.template)));
    svcTargets.set(s, targets);
    if (targets.length !== 1) p.push(`${where(s)}: selector matches ${targets.length} workloads (want exactly 1)`);
    for (const sp of s.spec.ports ?? []) {
      for (const t of targets) {
        const cp = containersOf(t).flatMap((c) => c.ports ?? []).find((x: J) => x.name === sp.targetPort);
        if (!cp) p.push(`${where(s)}: port ${sp.name} targets ${sp.targetPort}, not a port of ${where(t)}`);
        else if (cp.containerPort !== sp.port) p.push(`${where(s)}: port ${sp.name} is ${sp.port} but the container listens on ${cp.containerPort}`);
      }
    }
  }
  for (const sts of docs.filter((d) => d.kind === 'StatefulSet')) {
    const svc = find(docs, 'Service', sts.spec.serviceName);
    if (!svc || svc.spec.clusterIP !== 'None') p.push(`${where(sts)}: serviceName ${sts.spec.serviceName} must be a headless Service`);
    else if (!svcTargets.get(svc)?.includes(sts)) p.push(`${where(sts)}: its headless Service does not select it`);
  }

  // Namespace of the kustomization exists as a document.
  const ns = docs.find((d) => d.kind === 'Namespace');
  for (const d of docs) if (d.kind !== 'Namespace' && d.metadata.namespace !== ns?.metadata.name) p.push(`${where(d)}: namespace ${d.metadata.namespace} is not the Namespace document`);

  // ---- The proxy fleet.
  const proxy = find(docs, 'Deployment', 'redslot-proxy');
  const proxySvc = find(docs, 'Service', 'redslot-proxy');
  const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler');
  const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget');
  if (!proxy || !proxySvc || !hpa || !pdb) {
    p.push('proxy Deployment, Service, HPA and PDB must all exist');
    return p;
  }
  const pc = podSpec(proxy).containers.find((c: J) => c.name === 'proxy');
  const port = (name: string): number | undefined => (pc.ports ?? []).find((x: J) => x.name === name)?.containerPort;
  // The proxy's own loader over the mounted config file, the container's env and its args.
  const cfgPath = argAfter(pc.args, '--config');
  const cfgMount = (pc.volumeMounts ?? []).find((m: J) => cfgPath?.startsWith(m.mountPath + '/'));
  const cfgVol = cfgMount && (podSpec(proxy).volumes ?? []).find((v: J) => v.name === cfgMount.name);
  const cfgText: string | undefined = cfgVol?.configMap && find(docs, 'ConfigMap', cfgVol.configMap.name)?.data?.[path.basename(cfgPath!)];
  if (!cfgPath || cfgText === undefined) p.push(`proxy --config ${cfgPath} is not a file of a mounted ConfigMap`);
  let eff: ProxyEffective | undefined;
  if (cfgText !== undefined) {
    try {
      eff = facts.proxyConfig(cfgText, resolvedEnv(docs, pc), (pc.args ?? []).slice(1).map((a: string) => expand(docs, pc, a)));
    } catch (err) {
      p.push(`proxy config does not load with proxy/config.ts: ${(err as Error).message}`);
    }
  }
  if (eff) {
    if (port('redis') !== eff.listenPort) p.push(`proxy container port redis is ${port('redis')}, the proxy listens on ${eff.listenPort}`);
    if (port('admin') !== eff.adminPort) p.push(`proxy container port admin is ${port('admin')}, the admin app listens on ${eff.adminPort}`);
  }
  if (pc.args?.[0] !== 'proxy') p.push('proxy container must run `redslot proxy`');
  if (pc.readinessProbe?.httpGet?.path !== '/readyz' || pc.readinessProbe?.httpGet?.port !== 'admin') p.push('proxy readinessProbe must be GET /readyz on the admin port');
  if (pc.livenessProbe?.httpGet?.path !== '/healthz' || pc.livenessProbe?.httpGet?.port !== 'admin') p.push('proxy livenessProbe must be GET /healthz on the admin port');
  for (const probe of [pc.readinessProbe, pc.livenessProbe]) {
    const status = facts.proxyAdminStatus.get(probe?.httpGet?.path);
    if (status !== 200) p.push(`proxy probe path ${probe?.httpGet?.path} answers ${status ?? 'nothing'} on a ready proxy's admin app (want 200)`);
  }
  if (proxy.spec.replicas !== undefined) p.push('proxy Deployment sets replicas: the HPA owns the count');
  if (proxy.spec.strategy?.rollingUpdate?.maxUnavailable !== 0) p.push('proxy rollout must keep maxUnavailable 0');
  const preStop = pc.lifecycle?.preStop?.exec?.command as string[] | undefined;
  const preStopS = preStop?.[0] === 'sleep' ? Number(preStop[1]) : pc.lifecycle?.preStop?.sleep?.seconds;
  if (!(preStopS >= 2)) p.push('proxy needs a preStop sleep (>= 2 s) so endpoints drop it before SIGTERM');
  const grace = podSpec(proxy).terminationGracePeriodSeconds;
  if (!(grace > preStopS)) p.push(`proxy terminationGracePeriodSeconds ${grace} must exceed the preStop sleep ${preStopS}s`);
  if (eff && !(grace > preStopS + eff.shutdownDeadlineMs / 1000)) {
    p.push(`proxy terminationGracePeriodSeconds ${grace} must exceed preStop ${preStopS}s + drain deadline ${eff.shutdownDeadlineMs / 1000}s`);
  }
  if (!svcTargets.get(proxySvc)?.includes(proxy)) p.push('proxy Service does not select the proxy Deployment');
  const svcPort = (name: string) => proxySvc.spec.ports.find((x: J) => x.name === name)?.port;
  if (eff && svcPort('redis') !== eff.listenPort) p.push(`proxy Service port redis must be ${eff.listenPort}`);
  if (eff && svcPort('admin') !== eff.adminPort) p.push(`proxy Service port admin must be ${eff.adminPort}`);
  const ref = hpa.spec.scaleTargetRef;
  if (ref.kind !== 'Deployment' || ref.name !== proxy.metadata.name || ref.apiVersion !== proxy.apiVersion) p.push('HPA does not target the proxy Deployment');
  if (!(hpa.spec.minReplicas >= want.minProxies) || !(hpa.spec.maxReplicas >= hpa.spec.minReplicas)) p.push(`HPA must keep at least ${want.minProxies} proxies (min ${hpa.spec.minReplicas}, max ${hpa.spec.maxReplicas})`);
  if (!hpa.spec.metrics?.some((m: J) => m.type === 'Resource' && m.resource?.name === 'cpu')) p.push('HPA must scale on CPU');
  if (!selects(pdb.spec.selector?.matchLabels, labelsOf(proxy.spec.template))) p.push('PDB does not select the proxy pods');
  if (workloads.filter((w) => selects(pdb.spec.selector?.matchLabels, labelsOf(w.spec.template))).length !== 1) p.push('PDB selects more than the proxy pods');

  // ---- The dashboard.
  const dash = find(docs, 'Deployment', 'redslot-dashboard');
  const dashSvc = find(docs, 'Service', 'redslot-dashboard');
  if (!dash || !dashSvc) {
    p.push('dashboard Deployment and Service must exist');
    return p;
  }
  const dc = podSpec(dash).containers.find((c: J) => c.name === 'dashboard');
  if (dash.spec.replicas !== want.dashboards) p.push(`dashboard replicas ${dash.spec.replicas}, want ${want.dashboards}`);
  if (dc.args?.[0] !== 'dashboard') p.push('dashboard container must run `redslot dashboard`');
  const httpPort = (dc.ports ?? []).find((x: J) => x.name === 'http')?.containerPort;
  if (httpPort !== facts.dashboardPort) p.push(`dashboard container port http ${httpPort} is not the dashboard port ${facts.dashboardPort}`);
  // The dashboard's own loader over the container's flags and env.
  const dflags: Record<string, string> = {};
  const dargs = (dc.args ?? []).slice(1).map((a: string) => expand(docs, dc, a));
  for (let i = 0; i + 1 < dargs.length; i += 2) dflags[dargs[i].replace(/^--/, '').replace(/-([a-z])/g, (_: string, ch: string) => ch.toUpperCase())] = dargs[i + 1];
  try {
    const cfg = facts.dashboardConfig(dflags, resolvedEnv(docs, dc));
    if (cfg.listen !== `0.0.0.0:${httpPort}`) p.push(`dashboard must listen on 0.0.0.0:${httpPort} (config says ${cfg.listen})`);
    if (!cfg.advertise?.endsWith(`:${httpPort}`)) p.push(`dashboard advertise ${cfg.advertise} must name port ${httpPort}: the CLI and the bootstrap reach the leader there`);
  } catch (err) {
    p.push(`dashboard config does not load with dashboard/config.ts: ${(err as Error).message}`);
  }
  for (const probe of [dc.readinessProbe, dc.livenessProbe]) {
    const status = facts.dashboardPublicStatus.get(probe?.httpGet?.path);
    if (status !== 200) p.push(`dashboard probe path ${probe?.httpGet?.path} answers ${status ?? 'nothing'} without a token (want 200)`);
  }
  if (!(dc.env ?? []).some((e: J) => e.name === 'REDSLOT_DASHBOARD_TOKEN' && e.valueFrom?.secretKeyRef)) p.push('dashboard token must come from a Secret');
  if (dashSvc.spec.ports.find((x: J) => x.name === 'http')?.port !== facts.dashboardPort) p.push(`dashboard Service must expose ${facts.dashboardPort} as http`);

  // ---- Coordinator: every service's --coordinator parses and names the etcd members that exist.
  const etcd = find(docs, 'StatefulSet', 'etcd');
  if (!etcd) p.push('etcd StatefulSet missing');
  else {
    if (etcd.spec.replicas !== want.etcdMembers) p.push(`etcd replicas ${etcd.spec.replicas}, want ${want.etcdMembers}`);
    const ec = podSpec(etcd).containers[0];
    const members = (envValue(ec, 'ETCD_INITIAL_CLUSTER') ?? '').split(',').map((m) => m.split('=')[0]);
    const expected = Array.from({ length: etcd.spec.replicas }, (_, i) => `etcd-${i}`);
    if (JSON.stringify(members) !== JSON.stringify(expected)) p.push(`ETCD_INITIAL_CLUSTER lists ${members.join(',')}, the StatefulSet has ${expected.join(',')}`);
    const clientPort = ec.ports.find((x: J) => x.name === 'client')?.containerPort;
    for (const [d, c] of [[proxy, pc], [dash, dc]] as const) {
      const url = expand(docs, c, argAfter(c.args, '--coordinator') ?? '');
      try {
        const parsed = facts.parseCoordinatorUrl(url);
        const hosts = [...(parsed.hosts ?? [])].sort();
        const want = expected.map((m) => `${m}.${etcd.spec.serviceName}:${clientPort}`);
        if (parsed.kind !== 'etcd' || JSON.stringify(hosts) !== JSON.stringify(want)) p.push(`${where(d)}: coordinator ${url} should name ${want.join(',')}`);
        if (d === proxy && eff && (eff.coordinator !== url || eff.cluster !== parsed.cluster)) {
          p.push(`proxy config: coordinator ${eff.coordinator} / cluster ${eff.cluster} disagree with --coordinator ${url}`);
        }
      } catch (err) {
        p.push(`${where(d)}: coordinator ${url}: ${(err as Error).message}`);
      }
    }
  }

  // ---- Redis groups and the bootstrap that registers them.
  const groups = docs.filter((d) => d.kind === 'StatefulSet' && d.metadata.name.startsWith('redis-group-'));
  if (groups.length < 2) p.push('want at least two Redis group StatefulSets');
  for (const g of groups) {
    const rc = podSpec(g).containers[0];
    if (!(g.spec.replicas >= 2)) p.push(`${where(g)}: a group needs a master and a replica`);
    if (Number(envValue(rc, 'GROUP_REPLICAS')) !== g.spec.replicas) p.push(`${where(g)}: GROUP_REPLICAS ${envValue(rc, 'GROUP_REPLICAS')} != replicas ${g.spec.replicas}`);
    const maxmem = quantity(String(envValue(rc, 'REDIS_MAXMEMORY')).replace(/mb$/, 'Mi').replace(/gb$/, 'Gi'));
    if (!(maxmem < quantity(rc.resources?.limits?.memory))) p.push(`${where(g)}: REDIS_MAXMEMORY must stay below the memory limit`);
  }
  for (const g of groups) {
    const vol = (podSpec(g).volumes ?? []).find((v: J) => v.configMap);
    const script: string = (vol && find(docs, 'ConfigMap', vol.configMap.name)?.data?.['redis-start.sh']) ?? '';
    if (!script.includes('master="${group}-0.${group}"') || !script.includes('--replicaof "$master"')) {
      p.push(`${where(g)}: redis-start.sh must make replicas follow <group>-0.<group>, the name the bootstrap registers`);
    }
  }
  const job = find(docs, 'Job', 'redslot-bootstrap');
  if (!job) p.push('bootstrap Job missing');
  else {
    const jc = podSpec(job).containers[0];
    // "<gid>=<master>,<replica>..." must list, per Redis StatefulSet, its pods' stable DNS names, ordinal 0 first
    // (the master, which redis-start.sh makes the others replicate by that same name).
    const spec = envValue(jc, 'REDSLOT_BOOTSTRAP_GROUPS') ?? '';
    const listed = spec.split(/\s+/).filter(Boolean).map((e) => {
      const [gid, addrs] = e.split('=');
      return `${gid}=${addrs}`;
    });
    const want = groups.map((g) => {
      const port = podSpec(g).containers[0].ports.find((x: J) => x.name === 'redis')?.containerPort;
      const addrs = Array.from({ length: g.spec.replicas }, (_, o) => `${g.metadata.name}-${o}.${g.spec.serviceName}:${port}`);
      return `${Number(g.metadata.name.slice('redis-group-'.length))}=${addrs.join(',')}`;
    });
    if (JSON.stringify(listed.sort()) !== JSON.stringify(want.sort())) p.push(`bootstrap registers ${listed.join(' ')}, the Redis StatefulSets are ${want.join(' ')}`);
    const dashUrl = envValue(jc, 'REDSLOT_DASHBOARD');
    // https: the dashboard serves TLS (lock-down checks below).
    if (dashUrl !== `https://${dashSvc.metadata.name}:${facts.dashboardPort}`) p.push(`bootstrap REDSLOT_DASHBOARD ${dashUrl} is not the dashboard Service`);
    if (!(jc.env ?? []).some((e: J) => e.name === 'REDSLOT_TOKEN' && e.valueFrom?.secretKeyRef?.key === (dc.env ?? []).find((x: J) => x.name === 'REDSLOT_DASHBOARD_TOKEN')?.valueFrom?.secretKeyRef?.key)) {
      p.push('bootstrap REDSLOT_TOKEN must be the dashboard token');
    }
  }

  // ---- ServiceMonitors: each selects a Service whose named port exists.
  for (const sm of docs.filter((d) => d.kind === 'ServiceMonitor')) {
    const selected = services.filter((s) => selects(sm.spec.selector?.matchLabels, labelsOf(s)));
    if (selected.length === 0) p.push(`${where(sm)}: selects no Service`);
    for (const ep of sm.spec.endpoints ?? []) {
      if (ep.path !== '/metrics') p.push(`${where(sm)}: endpoint path must be /metrics`);
      for (const s of selected) if (!s.spec.ports.some((x: J) => x.name === ep.port)) p.push(`${where(sm)}: ${where(s)} has no port ${ep.port}`);
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------

async function loadFacts(rendered: Rendered[]): Promise<Facts> {
  const facts: Facts = {
    dashboardPort: DEFAULT_DASHBOARD_PORT,
    parseCoordinatorUrl,
    dashboardConfig: (flags, env) => loadDashboardConfig(flags, podFiles(env)),
    dashboardPublicStatus: await dashboardProbeStatus(rendered),
    proxyConfig: proxyConfigFact,
    proxyAdminStatus: await proxyProbeStatus(rendered),
  };
  return facts;
}

/** Starts a real proxy (static empty topology, loopback, free ports) and asks its admin app each probe path. */
async function proxyProbeStatus(rendered: Rendered[]): Promise<Map<string, number>> {
  // The manifests' probe paths, plus one the app does not serve (the mutation tests use it).
  const paths = new Set<string>(['/api/v1/healthz']);
  for (const r of rendered) {
    const proxy = find(r.docs, 'Deployment', 'redslot-proxy');
    for (const c of proxy ? podSpec(proxy).containers : []) {
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) if (probe?.httpGet?.path) paths.add(probe.httpGet.path);
    }
  }
  const config = loadProxyConfig({
    env: {},
    overrides: { listen: '127.0.0.1:0', admin: '127.0.0.1:0', topology: { groups: [], slots: [] } },
  });
  const handle = await startProxy({ config, defaultMetrics: false });
  const out = new Map<string, number>();
  try {
    for (const p of paths) out.set(p, (await fetch(`http://${handle.adminAddr}${p}`)).status);
  } finally {
    await handle.close({ deadlineMs: 1000 });
  }
  return out;
}

/** Starts a real dashboard (memory coordinator, loopback, free port) and asks it each probe path without a token. */
async function dashboardProbeStatus(rendered: Rendered[]): Promise<Map<string, number>> {
  // The manifests' probe paths, plus a token-protected one the mutation tests use.
  const paths = new Set<string>(['/api/v1/leader']);
  for (const r of rendered) {
    const dash = find(r.docs, 'Deployment', 'redslot-dashboard');
    for (const c of dash ? podSpec(dash).containers : []) {
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) if (probe?.httpGet?.path) paths.add(probe.httpGet.path);
    }
  }
  setLogLevel('error'); // this worker process only: keep the dashboard's info lines out of the test output
  const running = await startDashboard({ coordinator: 'memory://deploy-manifests-test', listen: '127.0.0.1:0', token: 'deploy-test-token-0123456789' });
  const out = new Map<string, number>();
  try {
    for (const p of paths) out.set(p, (await fetch(`${running.url}${p}`)).status);
  } finally {
    await running.close();
  }
  return out;
}

/**
 * Certificates the pods mount from Secrets (/tls/<volume>/tls.crt, tls.key, ca.crt: cert-manager's names) exist
 * only in the pods: the loaders, which read them at start, get real ones made here at the same file names.
 */
let mountedCerts = '';
function makeMountedCerts(): void {
  mountedCerts = mkdtempSync(path.join(os.tmpdir(), 'redslot-k8s-tls-'));
  issueCert(makeCa(mountedCerts, 'ca'), 'tls');
}
const podPath = (s: string): string => s.replace(/\/tls\/[\w-]+\/(tls\.crt|tls\.key|ca\.crt)/g, (_all, f: string) => path.join(mountedCerts, f));
const podFiles = (env: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, podPath(v)]));

/** proxy/config.ts's own loader, fed a temp copy of the mounted file. */
function proxyConfigFact(fileText: string, env: Record<string, string>, args: string[]): ProxyEffective {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-proxycfg-'));
  try {
    const flags = parseProxyFlags(args);
    const file = path.join(dir, 'proxy.yaml');
    writeFileSync(file, podPath(fileText));
    // The pod's --config path is only meaningful in the pod: load the mounted content instead.
    const c = loadProxyConfig({ file, env: podFiles(env), overrides: flags.overrides });
    return { listenPort: c.listen.port, adminPort: c.admin?.port, shutdownDeadlineMs: c.shutdownDeadlineMs, cluster: c.cluster, coordinator: c.coordinator };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BASE_WANT: Expect = { minProxies: 3, dashboards: 2, etcdMembers: 3 };
const DEV_WANT: Expect = { minProxies: 2, dashboards: 1, etcdMembers: 1 };

let base: Rendered;
let dev: Rendered;
let facts: Facts;
let tsc: TscResult;

const CANARY: J = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'canary' },
  spec: {
    selector: { matchLabels: { a: 'b' } },
    template: {
      metadata: { labels: { a: 'b' } },
      spec: { containers: [{ name: 'c', image: 'x:1', readinesProbe: { httpGet: { path: '/readyz', port: 1 } } }] },
    },
  },
};

afterAll(() => {
  if (mountedCerts !== '') rmSync(mountedCerts, { recursive: true, force: true });
});

beforeAll(async () => {
  base = render(K8S);
  dev = render(DEV);
  makeMountedCerts();
  facts = await loadFacts([base, dev]);
  tsc = runTypedLiterals({ base: base.docs, dev: dev.docs, canary: [CANARY] });
}, 120_000);

describe('deploy/k8s rendering', () => {
  it('the base has every component and the dev overlay keeps them (minus ServiceMonitors)', () => {
    const kinds = (r: Rendered) => r.docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(kinds(base)).toEqual(expect.arrayContaining([
      'Namespace/redslot', 'Secret/redslot-tokens', 'StatefulSet/etcd', 'Service/etcd', 'StatefulSet/redis-group-1',
      'StatefulSet/redis-group-2', 'Deployment/redslot-proxy', 'Service/redslot-proxy', 'HorizontalPodAutoscaler/redslot-proxy',
      'PodDisruptionBudget/redslot-proxy', 'Deployment/redslot-dashboard', 'Service/redslot-dashboard', 'Job/redslot-bootstrap',
      'ServiceMonitor/redslot-proxy', 'ServiceMonitor/redslot-dashboard', 'ConfigMap/redslot-proxy-config',
    ]));
    expect(kinds(dev)).toEqual(kinds(base).filter((k) => !k.startsWith('ServiceMonitor/')));
  });

  it('every file under deploy/k8s is referenced by a kustomization (nothing is silently left out)', () => {
    const all: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else all.push(p);
      }
    };
    walk(K8S);
    const referenced = new Set([...base.referenced, ...dev.referenced]);
    expect(all.filter((f) => !referenced.has(f)).map((f) => path.relative(ROOT, f))).toEqual([]);
  });

  it('the emulation refuses what it does not understand (misspelled kustomization key, stale patch index)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'redslot-kust-'));
    try {
      writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n');
      writeFileSync(path.join(dir, 'kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresource:\n  - a.yaml\n');
      expect(() => render(dir)).toThrow(/misspelled key resource/);
      writeFileSync(path.join(dir, 'p.yaml'), '- op: test\n  path: /metadata/name\n  value: y\n');
      writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\npatches:\n  - path: p.yaml\n    target: {kind: Namespace}\n',
      );
      expect(() => render(dir)).toThrow(/test \/metadata\/name expected "y", found "x"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('layer 1: kubernetes-models schemas', () => {
  it('every rendered document of the base and the dev overlay validates', async () => {
    expect(await schemaProblems(base.docs)).toEqual([]);
    expect(await schemaProblems(dev.docs)).toEqual([]);
  });

  it('catches a wrong type and a missing required field', async () => {
    const proxy = cloneDoc(find(base.docs, 'Deployment', 'redslot-proxy'));
    proxy.spec.replicas = 'three';
    const svc = cloneDoc(find(base.docs, 'Service', 'redslot-proxy'));
    delete svc.spec.ports[0].port;
    const problems = await schemaProblems([proxy, svc]);
    expect(problems.join('\n')).toMatch(/replicas must be integer/);
    expect(problems.join('\n')).toMatch(/must have required property '?port'?/);
  });
});

describe('layer 2: typed literals through tsc (misspelled fields)', () => {
  it('no rendered document has a field its Kubernetes type does not know', () => {
    const real = [...tsc.errors].filter(([file]) => !file.startsWith('canary-'));
    expect(real, tsc.output).toEqual([]);
  });

  it('a deliberately misspelled readinesProbe fails the compile', () => {
    const canary = [...tsc.errors].filter(([file]) => file.startsWith('canary-')).flatMap(([, e]) => e);
    expect(tsc.status).not.toBe(0);
    expect(canary.join('\n')).toMatch(/'readinesProbe' does not exist in type 'IContainer'/);
  });
});

describe('layer 3: consistency with each other and with the code', () => {
  it('asked a real proxy and a real dashboard their probe paths', () => {
    expect(facts.proxyAdminStatus.get('/readyz')).toBe(200);
    expect(facts.proxyAdminStatus.get('/api/v1/healthz')).toBe(404);
    expect(facts.dashboardPublicStatus.get('/api/v1/health')).toBe(200);
    expect(facts.dashboardPublicStatus.get('/api/v1/leader')).toBe(401);
  });

  it('base: ports, probes, labels, selectors, references and counts agree', () => {
    expect(consistencyProblems(base.docs, base.images, facts, BASE_WANT)).toEqual([]);
  });

  it('dev overlay: the same checks with its smaller counts', () => {
    expect(consistencyProblems(dev.docs, dev.images, facts, DEV_WANT)).toEqual([]);
  });

  // Each mutation breaks one agreement; the checker must name it.
  const mutations: Array<[string, (docs: J[]) => void, RegExp]> = [
    ['Service selector with a typo', (d) => { find(d, 'Service', 'redslot-proxy').spec.selector['app.kubernetes.io/component'] = 'proxi'; }, /selector matches 0 workloads/],
    ['Service port number differs from the container', (d) => { find(d, 'Service', 'redslot-proxy').spec.ports[0].port = 6379; }, /the container listens on 19000/],
    ['readiness on a path the admin app does not serve', (d) => { podSpec(find(d, 'Deployment', 'redslot-proxy')).containers[0].readinessProbe.httpGet.path = '/ready'; }, /readinessProbe must be GET \/readyz/],
    ['an env value referring to a variable defined after it', (d) => { const env = podSpec(find(d, 'Deployment', 'redslot-proxy')).containers[0].env; env.push(env.splice(1, 1)[0]); }, /env REDSLOT_ADMIN uses \$\(POD_IP\) before it is defined/],
    ['readiness on /healthz', (d) => { podSpec(find(d, 'Deployment', 'redslot-proxy')).containers[0].readinessProbe.httpGet.path = '/healthz'; }, /readinessProbe must be GET \/readyz/],
    ['probe on an undeclared port', (d) => { podSpec(find(d, 'Deployment', 'redslot-proxy')).containers[0].livenessProbe.httpGet.port = 'metrics'; }, /does not declare/],
    ['grace period shorter than preStop', (d) => { podSpec(find(d, 'Deployment', 'redslot-proxy')).terminationGracePeriodSeconds = 3; }, /terminationGracePeriodSeconds 3/],
    ['PDB selector misses the pods', (d) => { find(d, 'PodDisruptionBudget', 'redslot-proxy').spec.selector.matchLabels['app.kubernetes.io/name'] = 'redis'; }, /PDB does not select the proxy pods/],
    ['HPA targets another Deployment', (d) => { find(d, 'HorizontalPodAutoscaler', 'redslot-proxy').spec.scaleTargetRef.name = 'redslot-dashboard'; }, /HPA does not target/],
    ['HPA below 3 proxies', (d) => { find(d, 'HorizontalPodAutoscaler', 'redslot-proxy').spec.minReplicas = 2; }, /at least 3 proxies/],
    ['ServiceMonitor on a missing port', (d) => { find(d, 'ServiceMonitor', 'redslot-proxy').spec.endpoints[0].port = 'metrics'; }, /has no port metrics/],
    ['missing memory limit', (d) => { delete podSpec(find(d, 'Deployment', 'redslot-dashboard')).containers[0].resources.limits.memory; }, /no limits.memory/],
    ['missing part-of label', (d) => { delete find(d, 'Service', 'etcd').metadata.labels['app.kubernetes.io/part-of']; }, /Service\/etcd .* part-of=redslot/],
    ['secret key typo', (d) => { podSpec(find(d, 'Deployment', 'redslot-dashboard')).containers[0].env[1].valueFrom.secretKeyRef.key = 'token'; }, /Secret redslot-tokens has no key token/],
    ['etcd scaled without its member list', (d) => { find(d, 'StatefulSet', 'etcd').spec.replicas = 5; }, /ETCD_INITIAL_CLUSTER lists etcd-0,etcd-1,etcd-2/],
    ['coordinator URL without the cluster name', (d) => { find(d, 'ConfigMap', 'redslot-coordinator').data.url = 'etcd://etcd-0.etcd:2379'; }, /coordinator etcd:\/\/etcd-0.etcd:2379: .*cluster/],
    ['dashboard listening elsewhere', (d) => { podSpec(find(d, 'Deployment', 'redslot-dashboard')).containers[0].args[4] = '0.0.0.0:8080'; }, /dashboard must listen on 0.0.0.0:18080 \(config says 0.0.0.0:8080\)/],
    ['dashboard advertising another port', (d) => { podSpec(find(d, 'Deployment', 'redslot-dashboard')).containers[0].env[3].value = '$(POD_IP):80'; }, /dashboard advertise \$\(POD_IP\):80 must name port 18080/],
    ['dashboard probe on a path it does not serve', (d) => { podSpec(find(d, 'Deployment', 'redslot-dashboard')).containers[0].readinessProbe.httpGet.path = '/readyz'; }, /dashboard probe path \/readyz answers nothing without a token/],
    ['dashboard probe on a token-protected path', (d) => { podSpec(find(d, 'Deployment', 'redslot-dashboard')).containers[0].livenessProbe.httpGet.path = '/api/v1/leader'; }, /dashboard probe path \/api\/v1\/leader answers 401 without a token/],
    ['bootstrap forgets a group', (d) => { const e = podSpec(find(d, 'Job', 'redslot-bootstrap')).containers[0].env[2]; e.value = e.value.split(' ')[0]; }, /bootstrap registers 1=redis-group-1-0.redis-group-1:6379,redis-group-1-1.redis-group-1:6379, the Redis StatefulSets are/],
    ['bootstrap names the replica first', (d) => { const e = podSpec(find(d, 'Job', 'redslot-bootstrap')).containers[0].env[2]; e.value = e.value.replace('redis-group-2-0.redis-group-2:6379,redis-group-2-1.redis-group-2:6379', 'redis-group-2-1.redis-group-2:6379,redis-group-2-0.redis-group-2:6379'); }, /bootstrap registers .*2=redis-group-2-1/],
    ['unpinned image', (d) => { podSpec(find(d, 'StatefulSet', 'redis-group-1')).containers[0].image = 'redis:latest'; }, /must be pinned/],
    ['grace period shorter than preStop + the configured drain deadline', (d) => { podSpec(find(d, 'Deployment', 'redslot-proxy')).terminationGracePeriodSeconds = 20; }, /must exceed preStop 5s \+ drain deadline 20s/],
    ['shipped proxy config listens on another port', (d) => { const cm = find(d, 'ConfigMap', 'redslot-proxy-config'); cm.data['proxy.yaml'] = cm.data['proxy.yaml'].replace('0.0.0.0:19000', '0.0.0.0:6380'); }, /the proxy listens on 6380/],
    ['a REDSLOT_ADMIN env var moves the admin port', (d) => { podSpec(find(d, 'Deployment', 'redslot-proxy')).containers[0].env.push({ name: 'REDSLOT_ADMIN', value: '0.0.0.0:9000' }); }, /the admin app listens on 9000/],
    ['shipped proxy config names another cluster', (d) => { const cm = find(d, 'ConfigMap', 'redslot-proxy-config'); cm.data['proxy.yaml'] = cm.data['proxy.yaml'].replace('cluster: redslot', 'cluster: prod'); }, /cluster prod disagree/],
    ['proxy liveness on a path the admin app does not serve', (d) => { podSpec(find(d, 'Deployment', 'redslot-proxy')).containers[0].livenessProbe.httpGet.path = '/api/v1/healthz'; }, /proxy probe path \/api\/v1\/healthz answers 404/],
    ['shipped proxy config is invalid', (d) => { const cm = find(d, 'ConfigMap', 'redslot-proxy-config'); cm.data['proxy.yaml'] = cm.data['proxy.yaml'].replace('fencing: strict', 'fencing: sometimes'); }, /does not load with proxy\/config.ts: .*fencing/],
  ];
  for (const [name, mutate, expected] of mutations) {
    it(`complains about: ${name}`, () => {
      const docs = base.docs.map(cloneDoc);
      mutate(docs);
      expect(consistencyProblems(docs, base.images, facts, BASE_WANT).join('\n')).toMatch(expected);
    });
  }
});

describe('scripts shipped in ConfigMaps', () => {
  it('parse as POSIX sh (sh -n)', () => {
    for (const f of readdirSync(path.join(K8S, 'config')).filter((n) => n.endsWith('.sh'))) {
      const r = spawnSync('sh', ['-n', path.join(K8S, 'config', f)], { encoding: 'utf8' });
      expect(r.status, `${f}: ${r.stderr}`).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Lock-down (issue 18): NetworkPolicies, Redis passwords from the Secret with protected mode on, secrets only
// through the environment.

const labelsMatch = (sel: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  Object.entries(sel ?? {}).every(([k, v]) => labels[k] === v);

/** Which pod templates (by component) a NetworkPolicy ingress rule admits, and on which ports. */
function lockDownProblems(docs: J[]): string[] {
  const problems: string[] = [];
  const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
  const pods = docs
    .filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet' || d.kind === 'Job')
    .map((d) => ({ doc: d, labels: d.spec.template.metadata.labels as Record<string, string> }));
  const podOf = (pred: (l: Record<string, string>) => boolean) => pods.filter((p) => pred(p.labels));
  const isProxy = (l: Record<string, string>) => l['app.kubernetes.io/name'] === 'redslot' && l['app.kubernetes.io/component'] === 'proxy';
  const isDashboard = (l: Record<string, string>) => l['app.kubernetes.io/name'] === 'redslot' && l['app.kubernetes.io/component'] === 'dashboard';
  if (!policies.some((p) => Object.keys(p.spec.podSelector ?? {}).length === 0 && (p.spec.policyTypes ?? []).includes('Ingress') && (p.spec.ingress ?? []).length === 0)) {
    problems.push('no default-deny ingress NetworkPolicy (podSelector {}, no ingress rules)');
  }
  /** Does some policy selecting `target` admit `from` (a pod's labels; null = any pod) on `port`? */
  const admits = (target: Record<string, string>, from: Record<string, string> | null, port: number): boolean =>
    policies.some((p) => labelsMatch(p.spec.podSelector?.matchLabels, target) && (p.spec.ingress ?? []).some((rule: J) => {
      const portOk = rule.ports === undefined || rule.ports.some((x: J) => x.port === port);
      const fromOk = rule.from === undefined || (from !== null && rule.from.some((f: J) => f.podSelector && !f.namespaceSelector && labelsMatch(f.podSelector.matchLabels, from)));
      return portOk && fromOk;
    }));
  const outsider = { 'app.kubernetes.io/name': 'some-app' };
  for (const redis of podOf((l) => l['app.kubernetes.io/name'] === 'redis')) {
    for (const p of podOf((l) => isProxy(l) || isDashboard(l))) if (!admits(redis.labels, p.labels, 6379)) problems.push(`${where(redis.doc)}: ${where(p.doc)} cannot reach Redis`);
    if (admits(redis.labels, outsider, 6379) || admits(redis.labels, null, 6379)) problems.push(`${where(redis.doc)}: reachable by any pod`);
    if (podOf(isProxy).some((p) => admits(p.labels, outsider, 6379))) problems.push('proxy admits clients on the Redis port');
  }
  for (const etcd of podOf((l) => l['app.kubernetes.io/name'] === 'etcd')) {
    for (const p of podOf((l) => isProxy(l) || isDashboard(l))) if (!admits(etcd.labels, p.labels, 2379)) problems.push(`${where(etcd.doc)}: ${where(p.doc)} cannot reach etcd`);
    if (admits(etcd.labels, outsider, 2379) || admits(etcd.labels, null, 2379)) problems.push(`${where(etcd.doc)}: reachable by any pod`);
    if (!admits(etcd.labels, etcd.labels, 2380)) problems.push(`${where(etcd.doc)}: members cannot reach each other on 2380`);
  }
  for (const p of podOf(isProxy)) if (!admits(p.labels, outsider, 19000)) problems.push(`${where(p.doc)}: clients cannot reach the proxy port`);
  // Redis: password from the Secret, protected mode on, the password never on a command line.
  const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === 'redslot-tokens');
  const secretRef = (c: J, name: string): J => c.env?.find((e: J) => e.name === name)?.valueFrom?.secretKeyRef;
  const checkRef = (d: J, c: J, name: string) => {
    const ref = secretRef(c, name);
    if (!ref) problems.push(`${where(d)}: ${name} is not taken from a Secret`);
    else if (ref.name !== secret?.metadata.name || !(ref.key in (secret.stringData ?? {}))) problems.push(`${where(d)}: ${name} names a missing Secret key ${ref.name}/${ref.key}`);
  };
  for (const redis of podOf((l) => l['app.kubernetes.io/name'] === 'redis')) {
    const c = redis.doc.spec.template.spec.containers[0];
    checkRef(redis.doc, c, 'REDIS_PASSWORD');
    checkRef(redis.doc, c, 'REDISCLI_AUTH');
  }
  for (const p of podOf(isProxy)) for (const n of ['REDSLOT_BACKEND__PASSWORD', 'REDSLOT_AUTH__PASSWORD']) checkRef(p.doc, p.doc.spec.template.spec.containers[0], n);
  for (const p of podOf(isDashboard)) checkRef(p.doc, p.doc.spec.template.spec.containers.find((c: J) => c.name === 'dashboard'), 'REDSLOT_DASHBOARD_REDIS_PASSWORD');
  const start = docs.find((d) => d.kind === 'ConfigMap' && d.data?.['redis-start.sh'])?.data['redis-start.sh'] as string | undefined;
  if (start === undefined) problems.push('no redis-start.sh ConfigMap');
  else {
    if (!/--protected-mode yes/.test(start) || /--protected-mode no/.test(start)) problems.push('redis-start.sh: protected mode is not on');
    if (!/^requirepass "\$\{REDIS_PASSWORD\}"$/m.test(start) || !/^masterauth "\$\{REDIS_PASSWORD\}"$/m.test(start)) problems.push('redis-start.sh: requirepass/masterauth not set from REDIS_PASSWORD');
    if (/--requirepass|--masterauth|-a "\$/.test(start)) problems.push('redis-start.sh: a password on a command line');
  }
  for (const d of docs) {
    for (const c of d.spec?.template?.spec?.containers ?? []) {
      const argv = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
      if (/password|token/i.test(argv)) problems.push(`${where(d)}: a secret on the command line (${argv})`);
    }
  }
  problems.push(...tlsProblems(docs, pods.map((p) => p.doc), secret));
  return problems;
}

/**
 * TLS and etcd authentication: etcd serves clients and peers over TLS and requires client certificates, with
 * files from a Secret volume under cert-manager's key names; a Job enables etcd authentication; proxies and
 * dashboards log in to etcd as their users (passwords from the Secret) with a client certificate; the
 * dashboard serves HTTPS and its probes use it.
 */
function tlsProblems(docs: J[], workloads: J[], secret: J): string[] {
  const problems: string[] = [];
  const mountedFromSecret = (w: J, c: J, file: string | undefined): boolean => {
    if (file === undefined || !/\/(tls\.crt|tls\.key|ca\.crt)$/.test(file)) return false;
    const vm = (c.volumeMounts ?? []).find((m: J) => file.startsWith(`${m.mountPath}/`));
    const vol = vm && (podSpec(w).volumes ?? []).find((v: J) => v.name === vm.name);
    return vol?.secret?.secretName !== undefined;
  };
  const etcd = find(docs, 'StatefulSet', 'etcd');
  if (etcd) {
    const ec = podSpec(etcd).containers[0];
    for (const n of ['ETCD_LISTEN_CLIENT_URLS', 'ETCD_ADVERTISE_CLIENT_URLS', 'ETCD_LISTEN_PEER_URLS', 'ETCD_INITIAL_ADVERTISE_PEER_URLS', 'ETCD_INITIAL_CLUSTER']) {
      if (/http:\/\//.test(envValue(ec, n) ?? 'http://')) problems.push(`etcd: ${n} is not https`);
    }
    for (const n of ['ETCD_CLIENT_CERT_AUTH', 'ETCD_PEER_CLIENT_CERT_AUTH']) if (envValue(ec, n) !== 'true') problems.push(`etcd: ${n} is not true`);
    for (const n of ['ETCD_CERT_FILE', 'ETCD_KEY_FILE', 'ETCD_TRUSTED_CA_FILE', 'ETCD_PEER_CERT_FILE', 'ETCD_PEER_KEY_FILE', 'ETCD_PEER_TRUSTED_CA_FILE']) {
      if (!mountedFromSecret(etcd, ec, envValue(ec, n))) problems.push(`etcd: ${n} is not a tls.crt/tls.key/ca.crt file of a Secret volume`);
    }
  }
  const job = workloads.find((w) => w.kind === 'Job' && podSpec(w).containers.some((c: J) => c.args?.[0] === 'etcd-auth'));
  if (!job) problems.push('no Job runs `redslot etcd-auth`: etcd authentication is never enabled');
  else {
    const c = podSpec(job).containers[0];
    for (const n of ['REDSLOT_ETCD_ROOT_PASSWORD', 'REDSLOT_ETCD_PROXY_PASSWORD', 'REDSLOT_ETCD_DASHBOARD_PASSWORD']) {
      const ref = c.env?.find((e: J) => e.name === n)?.valueFrom?.secretKeyRef;
      if (!ref || !(ref.key in (secret?.stringData ?? {}))) problems.push(`etcd-auth Job: ${n} is not taken from the Secret`);
    }
    for (const flag of ['--ca', '--cert', '--key']) if (!mountedFromSecret(job, c, argAfter(c.args, flag))) problems.push(`etcd-auth Job: ${flag} is not a file of a Secret volume`);
  }
  const proxy = find(docs, 'Deployment', 'redslot-proxy');
  const dash = find(docs, 'Deployment', 'redslot-dashboard');
  if (proxy) {
    const pc = podSpec(proxy).containers[0];
    const cfg = parseYaml(docs.find((d) => d.kind === 'ConfigMap' && d.data?.['proxy.yaml'])?.data['proxy.yaml'] ?? '') ?? {};
    if (cfg.etcd?.user !== 'redslot-proxy') problems.push('proxy: etcd.user is not redslot-proxy');
    if (!pc.env?.some((e: J) => e.name === 'REDSLOT_ETCD__PASSWORD' && e.valueFrom?.secretKeyRef)) problems.push('proxy: the etcd password is not taken from a Secret');
    for (const k of ['ca', 'cert', 'key']) if (!mountedFromSecret(proxy, pc, cfg.etcd?.tls?.[k])) problems.push(`proxy: etcd.tls.${k} is not a file of a Secret volume`);
  }
  if (dash) {
    const dc = podSpec(dash).containers.find((c: J) => c.name === 'dashboard');
    if (envValue(dc, 'REDSLOT_DASHBOARD_ETCD__USER') !== 'redslot-dashboard') problems.push('dashboard: etcd user is not redslot-dashboard');
    if (!dc.env?.some((e: J) => e.name === 'REDSLOT_DASHBOARD_ETCD__PASSWORD' && e.valueFrom?.secretKeyRef)) problems.push('dashboard: the etcd password is not taken from a Secret');
    for (const n of ['REDSLOT_DASHBOARD_ETCD__TLS__CA', 'REDSLOT_DASHBOARD_ETCD__TLS__CERT', 'REDSLOT_DASHBOARD_ETCD__TLS__KEY', 'REDSLOT_DASHBOARD_TLS__CERT', 'REDSLOT_DASHBOARD_TLS__KEY']) {
      if (!mountedFromSecret(dash, dc, envValue(dc, n))) problems.push(`dashboard: ${n} is not a file of a Secret volume`);
    }
    for (const probe of [dc.readinessProbe, dc.livenessProbe]) if (probe?.httpGet?.scheme !== 'HTTPS') problems.push('dashboard: a probe is not HTTPS');
  }
  return problems;
}

describe('lock-down: NetworkPolicies, Redis requirepass from the Secret, protected mode, TLS and etcd authentication', () => {
  it('base and dev overlay: only proxies and dashboards reach Redis and etcd, clients only the proxy port; passwords from the Secret', () => {
    expect(lockDownProblems(base.docs)).toEqual([]);
    expect(lockDownProblems(dev.docs)).toEqual([]);
  });

  const breakers: Array<[string, (docs: J[]) => void, RegExp]> = [
    ['default deny removed', (d) => d.splice(d.findIndex((x) => x.metadata.name === 'redslot-default-deny'), 1), /no default-deny/],
    ['Redis open to every pod', (d) => { d.find((x) => x.metadata.name === 'redslot-redis').spec.ingress[0].from = undefined; }, /redis-group-1.*reachable by any pod/],
    ['etcd policy forgets the dashboard', (d) => { d.find((x) => x.metadata.name === 'redslot-etcd').spec.ingress[0].from.splice(1, 1); }, /Deployment\/redslot-dashboard.* cannot reach etcd/],
    ['proxy backend password inline', (d) => {
      const c = d.find((x) => x.kind === 'Deployment' && x.metadata.name === 'redslot-proxy').spec.template.spec.containers[0];
      c.env = c.env.map((e: J) => (e.name === 'REDSLOT_BACKEND__PASSWORD' ? { name: e.name, value: 'x' } : e));
    }, /REDSLOT_BACKEND__PASSWORD is not taken from a Secret/],
    ['protected mode off', (d) => {
      const cm = d.find((x) => x.kind === 'ConfigMap' && x.data?.['redis-start.sh']);
      cm.data['redis-start.sh'] = cm.data['redis-start.sh'].replace('--protected-mode yes', '--protected-mode no');
    }, /protected mode is not on/],
    ['etcd clients over plain http', (d) => {
      const e = d.find((x) => x.kind === 'StatefulSet' && x.metadata.name === 'etcd').spec.template.spec.containers[0].env.find((x: J) => x.name === 'ETCD_LISTEN_CLIENT_URLS');
      e.value = 'http://0.0.0.0:2379';
    }, /ETCD_LISTEN_CLIENT_URLS is not https/],
    ['no client certificates asked by etcd', (d) => {
      const c = d.find((x) => x.kind === 'StatefulSet' && x.metadata.name === 'etcd').spec.template.spec.containers[0];
      c.env = c.env.filter((x: J) => x.name !== 'ETCD_CLIENT_CERT_AUTH');
    }, /ETCD_CLIENT_CERT_AUTH is not true/],
    ['etcd-auth Job removed', (d) => d.splice(d.findIndex((x) => x.kind === 'Job' && x.metadata.name === 'redslot-etcd-auth'), 1), /etcd authentication is never enabled/],
    ['dashboard certificate not from a Secret', (d) => {
      const spec = d.find((x) => x.kind === 'Deployment' && x.metadata.name === 'redslot-dashboard').spec.template.spec;
      spec.volumes = spec.volumes.map((v: J) => (v.name === 'tls' ? { name: 'tls', emptyDir: {} } : v));
    }, /REDSLOT_DASHBOARD_TLS__CERT is not a file of a Secret volume/],
    ['password on argv', (d) => { d.find((x) => x.kind === 'Deployment' && x.metadata.name === 'redslot-proxy').spec.template.spec.containers[0].args.push('--auth.password', 'x'); }, /a secret on the command line/],
  ];
  for (const [name, mutate, expected] of breakers) {
    it(`complains when: ${name}`, () => {
      const docs = base.docs.map(cloneDoc);
      mutate(docs);
      expect(lockDownProblems(docs).join('\n')).toMatch(expected);
    });
  }
});
