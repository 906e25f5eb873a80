export {
  chartDir,
  type Environment,
  environments,
  type Free,
  find,
  findAll,
  type HelmResult,
  helm,
  helmBinary,
  type K8sObject,
  monitoringApiVersions,
  parseManifests,
  podSpecs,
  type RenderOptions,
  render,
  renderEnvironment,
  renderRaw,
  repoRoot,
  valuesFile,
} from './helm.js';
export {
  isCustomResource,
  type KubernetesVersion,
  kubernetesVersions,
  validateObject,
} from './kube-schemas.js';
export { unknownFields } from './strict-fields.js';
export {
  documentedValues,
  readmeTable,
  schemaEnumHints,
  undocumentedValues,
  type ValueDoc,
  valuesTable,
  writeReadmeTable,
} from './values-doc.js';
