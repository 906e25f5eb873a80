import { useQuery } from '@tanstack/react-query';
import { type AdminStats, api } from '../../../lib';

export const statsQueryKey = (minutes: number) => ['admin', 'stats', minutes] as const;

/**
 * Platform figures over the last `minutes`, refreshed every `refreshMs` while the dashboard is
 * open (0: only on demand).
 */
export function useAdminStats(minutes = 60, refreshMs = 5_000) {
  return useQuery({
    queryKey: statsQueryKey(minutes),
    queryFn: ({ signal }) => api<AdminStats>('/admin/stats', { signal, query: { minutes } }),
    refetchInterval: refreshMs > 0 ? refreshMs : false,
    refetchIntervalInBackground: false,
    placeholderData: (previous) => previous,
  });
}

export interface MinutePoint {
  /** Seconds since the epoch (uPlot's time axis). */
  time: number;
  total: number;
  failed: number;
  failureRate: number;
  p95DurationMs: number | null;
  p95QueueWaitMs: number | null;
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
        p95DurationMs: point.p95DurationMs ?? null,
        p95QueueWaitMs: point.p95QueueWaitMs ?? null,
      };
    })
    .filter((point) => Number.isFinite(point.time))
    .sort((a, b) => a.time - b.time);
}
