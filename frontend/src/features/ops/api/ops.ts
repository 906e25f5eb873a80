import { useQuery } from '@tanstack/react-query';
import { type AdminStats, api } from '../../../lib';

export const statsQueryKey = ['admin', 'stats'] as const;

/** Platform figures, refreshed every few seconds while the dashboard is open. */
export function useAdminStats(refreshMs = 5_000) {
  return useQuery({
    queryKey: statsQueryKey,
    queryFn: ({ signal }) => api<AdminStats>('/admin/stats', { signal }),
    refetchInterval: refreshMs,
    refetchIntervalInBackground: false,
  });
}

export interface MinutePoint {
  /** Seconds since the epoch (uPlot's time axis). */
  time: number;
  total: number;
  failed: number;
  failureRate: number;
}

/** Per-minute series for the charts, oldest first, with the failure rate of each minute. */
export function toMinuteSeries(perMinute: AdminStats['executions']['perMinute']): MinutePoint[] {
  return perMinute
    .map((point) => {
      const total = point.succeeded + point.failed;
      return {
        time: Math.floor(new Date(point.minute).getTime() / 1000),
        total,
        failed: point.failed,
        failureRate: total > 0 ? point.failed / total : 0,
      };
    })
    .filter((point) => Number.isFinite(point.time))
    .sort((a, b) => a.time - b.time);
}
