import type { K8sObject } from './helm.js';

/**
 * Validation of rendered objects against the OpenAPI schemas of two Kubernetes minor versions
 * (kubernetes-models 4.5 carries 1.33, kubernetes-models 5.1, installed as k8s-models-1-35,
 * carries 1.35) and against the CRD schemas of KEDA, the Prometheus operator and the Gateway API (the
 * @kubernetes-models CRD packages are generated from the projects' published CRDs).
 */
export const kubernetesVersions = ['1.33', '1.35'] as const;
export type KubernetesVersion = (typeof kubernetesVersions)[number];

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;
type ModelModule = Record<string, ModelClass | undefined>;

const crdPackages: Record<string, string> = {
  'keda.sh': '@kubernetes-models/keda',
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

/** Module specifier of the models for one apiVersion in one Kubernetes version. */
function moduleFor(apiVersion: string, version: KubernetesVersion): string {
  const [group, groupVersion] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const crdPackage = crdPackages[group ?? ''];
  if (crdPackage) return `${crdPackage}/${apiVersion}`;
  const base = version === '1.33' ? 'kubernetes-models' : 'k8s-models-1-35';
  return group ? `${base}/${group}/${groupVersion}` : `${base}/${groupVersion}`;
}

const modules = new Map<string, Promise<ModelModule>>();
function load(specifier: string): Promise<ModelModule> {
  let loaded = modules.get(specifier);
  if (!loaded) {
    loaded = import(specifier) as Promise<ModelModule>;
    modules.set(specifier, loaded);
  }
  return loaded;
}

export function isCustomResource(object: K8sObject): boolean {
  return (object.apiVersion.split('/')[0] ?? '') in crdPackages;
}

/** Validates one object; returns the problems (empty when valid), never throws for invalid input. */
export async function validateObject(object: K8sObject, version: KubernetesVersion): Promise<string[]> {
  const where = `${object.kind}/${object.metadata?.name} (${object.apiVersion}, Kubernetes ${version})`;
  let module: ModelModule;
  try {
    module = await load(moduleFor(object.apiVersion, version));
  } catch {
    return [`${where}: no schema for apiVersion ${object.apiVersion}`];
  }
  const Model = module[object.kind];
  if (!Model) return [`${where}: no schema for kind ${object.kind}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
}
