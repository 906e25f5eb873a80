export { availableLanguages, type RunFilters, useCancelRun, useRunScript, useRuns } from './api/automations';
export { AutomationsPage } from './components/AutomationsPage';
