export { availableLanguages, type RunFilters, useCancelRun, useRunScript, useRuns } from './api/automations';
export { AutomationDetailPage } from './components/AutomationDetailPage';
export { AutomationsPage } from './components/AutomationsPage';
