import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { K8sObject } from './helm.js';
import { repoRoot } from './helm.js';
import type { KubernetesVersion } from './kube-schemas.js';

/**
 * Unknown-field check (what kubeconform calls strict mode). The OpenAPI schemas of Kubernetes
 * allow unknown properties, so a misspelt or misplaced field passes schema validation and is
 * silently dropped by the API server. The kubernetes-models packages declare every object's
 * fields as TypeScript interfaces; this walks a rendered object along them and reports each
 * field the version does not know.
 */

const packageOf: Record<KubernetesVersion, string> = {
  '1.33': 'kubernetes-models',
  '1.35': 'k8s-models-1-35',
};

interface Shape {
  /** field → the declaration file of its object type ('' when the field is a scalar or a free-form map) */
  fields: Map<string, { file: string; list: boolean }>;
}

const shapes = new Map<string, Shape | undefined>();

/** Resolves an import of a declaration file to the `.d.ts` path on disk. */
function resolveImport(from: string, specifier: string): string {
  const bare = specifier.replace(/\.js$/, '');
  if (bare.startsWith('.')) return `${resolve(dirname(from), bare)}.d.ts`;
  const parts = bare.split('/');
  const name = bare.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '');
  const rest = parts.slice(bare.startsWith('@') ? 2 : 1).join('/');
  for (let dir = dirname(from); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(candidate)) return `${join(candidate, rest)}.d.ts`;
  }
  throw new Error(`cannot resolve ${specifier} from ${from}`);
}

/** Reads the first exported interface of a declaration file; undefined for type aliases. */
function shapeOf(file: string): Shape | undefined {
  if (shapes.has(file)) return shapes.get(file);
  const text = readFileSync(file, 'utf8');
  const imports = new Map<string, string>();
  for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
    for (const name of (m[1] ?? '').split(',').map((s) => s.trim())) imports.set(name, m[2] ?? '');
  }
  const start = text.search(/^export interface \w+/m);
  let shape: Shape | undefined;
  if (start >= 0) {
    const end = text.indexOf('\n}', start);
    const body = text.slice(start, end);
    shape = { fields: new Map() };
    for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
      const type = (m[2] ?? '').replace(/;$/, '');
      const list = /^Array<(\w+)>$/.exec(type);
      const ref = list?.[1] ?? (/^\w+$/.test(type) ? type : undefined);
      const from = ref ? imports.get(ref) : undefined;
      shape.fields.set(m[1] ?? '', { file: from ? resolveImport(file, from) : '', list: Boolean(list) });
    }
  }
  shapes.set(file, shape);
  return shape;
}

function walk(value: unknown, file: string, path: string, problems: string[], root: boolean): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const shape = shapeOf(file);
  if (!shape) return;
  for (const [key, child] of Object.entries(value)) {
    const field = shape.fields.get(key);
    if (!field) {
      if (!(root && (key === 'apiVersion' || key === 'kind'))) problems.push(`${path}.${key}`);
      continue;
    }
    if (!field.file) continue;
    if (field.list && Array.isArray(child)) {
      child.forEach((item, i) => {
        walk(item, field.file, `${path}.${key}[${i}]`, problems, false);
      });
    } else {
      walk(child, field.file, `${path}.${key}`, problems, false);
    }
  }
}

/** Paths of the fields of a core Kubernetes object that its schema in this version does not declare. */
export function unknownFields(object: K8sObject, version: KubernetesVersion): string[] {
  const [group, groupVersion] = object.apiVersion.includes('/')
    ? object.apiVersion.split('/')
    : ['', object.apiVersion];
  // The schema packages are the chart tests' own (helm/package.json); a root install also works.
  const modules =
    [join(repoRoot, 'helm', 'node_modules'), join(repoRoot, 'node_modules')].find((d) =>
      existsSync(join(d, packageOf[version])),
    ) ?? join(repoRoot, 'helm', 'node_modules');
  const dir = join(modules, packageOf[version], group ? `${group}/${groupVersion}` : `${groupVersion}`);
  const file = join(dir, `${object.kind}.d.ts`);
  if (!existsSync(file)) return [`${object.kind}: no declaration for ${object.apiVersion}`];
  const problems: string[] = [];
  walk(object, file, object.kind, problems, true);
  return problems.map(
    (p) => `${object.kind}/${object.metadata.name} (Kubernetes ${version}): unknown field ${p}`,
  );
}
