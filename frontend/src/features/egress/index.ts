export { AllowlistEditor } from './components/AllowlistEditor';
export { EgressLog } from './components/EgressLog';
export { SecretsPage } from './components/SecretsPage';
