export { type MinutePoint, statsQueryKey, toMinuteSeries, useAdminStats } from './api/ops';
export { OpsPage } from './components/OpsPage';
