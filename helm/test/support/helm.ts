import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { valuesDirVariable } from './values-dir.js';

const run = promisify(execFile);

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const chartDir = resolve(repoRoot, 'helm/ipa-platform');
export const environments = ['dev', 'staging', 'prod'] as const;
/** The chart-testing values files in ci/, each standalone over values.yaml. */
export const ciValuesFiles = readdirSync(resolve(chartDir, 'ci'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => `ci/${f}` as const)
  .sort();
/** Every values file a test must hold for: the three environments and the ci/ files. */
export const valuesFiles: readonly Environment[] = [...environments, ...ciValuesFiles];
/** `dev`, `staging`, `prod` (values-<env>.yaml) or a `ci/…yaml` path. */
export type Environment = (typeof environments)[number] | `ci/${string}`;

/** Path of an environment's values file. */
export function valuesPathOf(environment: Environment): string {
  return resolve(chartDir, environment.startsWith('ci/') ? environment : `values-${environment}.yaml`);
}

/** The CRD APIs a cluster with the Prometheus operator and KEDA serves, as `helm template` needs them. */
export const monitoringApiVersions = [
  'monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PodMonitor',
  'monitoring.coreos.com/v1/PrometheusRule',
  'gateway.networking.k8s.io/v1/HTTPRoute',
];

let helmPath: string | undefined;

/** Path of the real helm binary, fetched once into .tools/ by scripts/get-helm.sh. */
export function helmBinary(): string {
  helmPath ??= execFileSync('bash', [resolve(repoRoot, 'scripts/get-helm.sh')], { encoding: 'utf8' }).trim();
  return helmPath;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; a non-zero exit is returned, not thrown, so negative tests can read it. */
export async function helm(args: string[]): Promise<HelmResult> {
  try {
    return await runHelm(args);
  } finally {
    // values files written for this call are used once
    const dir = process.env[valuesDirVariable] ?? ownValuesDir;
    if (dir) for (const arg of args) if (arg.startsWith(dir)) rmSync(arg, { force: true });
  }
}

async function runHelm(args: string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(helmBinary(), args, { cwd: repoRoot, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(error),
    };
  }
}

export interface RenderOptions {
  environment?: Environment;
  /** Extra values as a YAML/JSON-compatible object, applied after the environment file. */
  values?: Record<string, unknown>;
  apiVersions?: string[];
  kubeVersion?: string;
  releaseName?: string;
  namespace?: string;
  showOnly?: string;
}

/** Rendered Kubernetes objects are free-form JSON; tests assert on their shape. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Free = any;
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: Free };
  [k: string]: Free;
};

let valuesFileCount = 0;
let ownValuesDir: string | undefined;

/**
 * The run's directory (values-dir.ts removes it at the end; each file goes after its render). A
 * script using these helpers outside vitest gets one of its own, made when first needed and
 * removed when the script exits.
 */
function valuesDir(): string {
  const shared = process.env[valuesDirVariable];
  if (shared) return shared;
  if (ownValuesDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'ipa-chart-test-values-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    ownValuesDir = dir;
  }
  return ownValuesDir;
}

/** Writes override values to a file (JSON is YAML), the one way helm takes a whole tree. */
export function valuesFile(values: Record<string, unknown>): string {
  valuesFileCount += 1;
  const path = join(valuesDir(), `values-${process.pid}-${valuesFileCount}.json`);
  writeFileSync(path, JSON.stringify(values));
  return path;
}

function renderArgs(o: RenderOptions): string[] {
  const args = ['template', o.releaseName ?? 'ipa', chartDir, '--namespace', o.namespace ?? 'ipa'];
  if (o.environment) args.push('-f', valuesPathOf(o.environment));
  if (o.values) args.push('-f', valuesFile(o.values));
  for (const v of o.apiVersions ?? []) args.push('--api-versions', v);
  if (o.kubeVersion) args.push('--kube-version', o.kubeVersion);
  if (o.showOnly) args.push('--show-only', o.showOnly);
  return args;
}

/** Renders the chart; throws with helm's message when rendering fails. */
export async function render(options: RenderOptions = {}): Promise<K8sObject[]> {
  const result = await renderRaw(options);
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseManifests(result.stdout);
}

export function renderRaw(options: RenderOptions = {}): Promise<HelmResult> {
  return helm(renderArgs(options));
}

/** Splits a multi-document manifest into objects; hook and test objects included. */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

export function find(objects: K8sObject[], kind: string, nameSuffix: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (!found) {
    const have = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`no ${kind} named *${nameSuffix} among: ${have}`);
  }
  return found;
}

export function findAll(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** Every pod spec in the render: Deployments, StatefulSets, Jobs and bare Pods. */
export function podSpecs(objects: K8sObject[]): { owner: string; spec: Free; metadata: Free }[] {
  return objects.flatMap((o) => {
    if (o.kind === 'Pod') return [{ owner: `Pod/${o.metadata.name}`, spec: o.spec, metadata: o.metadata }];
    if (['Deployment', 'StatefulSet', 'Job'].includes(o.kind)) {
      return [
        {
          owner: `${o.kind}/${o.metadata.name}`,
          spec: o.spec.template.spec,
          metadata: o.spec.template.metadata,
        },
      ];
    }
    return [];
  });
}

/** Renders an environment with every optional API present, cached per process. */
const cache = new Map<string, Promise<K8sObject[]>>();
export function renderEnvironment(environment: Environment): Promise<K8sObject[]> {
  let rendered = cache.get(environment);
  if (!rendered) {
    rendered = render({ environment, apiVersions: monitoringApiVersions });
    cache.set(environment, rendered);
  }
  return rendered;
}
