import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import type { AdminStats } from '../../../lib';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { OpsPage } from './OpsPage';

// uPlot draws on a canvas jsdom does not have; the stand-in shows what each chart was given.
vi.mock('./LineChart', () => ({
  default: (props: { label: string; data: unknown[][]; series: { label: string }[] }) => (
    <div role="img" aria-label={props.label} data-points={props.data[0]?.length}>
      {props.series.map((item) => item.label).join(', ')}
    </div>
  ),
}));

const stats = (minutes: number): AdminStats => ({
  queue: { waiting: 3, active: 1, delayed: 2, failed: 0, completed: 9 },
  executions: {
    byStatus: { queued: 3, running: 1, succeeded: 40, failed: 7, cancelled: 0, timed_out: 1, skipped: 0 },
    perMinute: [
      { minute: '2026-05-01T10:00:00.000Z', succeeded: 6, failed: 2, p95DurationMs: 900, p95QueueWaitMs: 40 },
      {
        minute: '2026-05-01T10:01:00.000Z',
        succeeded: 4,
        failed: minutes === 15 ? 0 : 3,
        p95DurationMs: null,
        p95QueueWaitMs: null,
      },
    ],
  },
  workers: [
    {
      workerId: 'w1',
      hostname: 'node-a',
      pid: 42,
      startedAt: '2026-05-01T09:00:00.000Z',
      at: new Date().toISOString(),
      isolation: 'bwrap',
      concurrency: 4,
      running: 1,
      draining: false,
      pool: { live: 2 },
    },
  ],
});

function statsCalls(calls: { path: string }[]) {
  return calls.filter((call) => call.path.startsWith('/api/v1/admin/stats')).map((call) => call.path);
}

describe('OpsPage', () => {
  it('shows the failure rate with its counts, the three charts, and changes the range and refresh', async () => {
    const calls = recordRequests();
    server.use(
      http.get('/api/v1/admin/stats', ({ request }) =>
        HttpResponse.json(stats(Number(new URL(request.url).searchParams.get('minutes')))),
      ),
    );
    await renderWithApp(<OpsPage />);
    expect(await screen.findByRole('heading', { name: 'Operations' })).toBeTruthy();
    // 5 of 15 finished runs failed in the window.
    const rate = screen.getAllByText('Failure rate')[0]!.closest('.figure') as HTMLElement;
    expect(rate.textContent).toContain('33.3%');
    expect(within(rate).getByText('5 of 15 failed (Last hour)')).toBeTruthy();
    expect(screen.getByText('5').closest('.figure')?.textContent).toContain('Queue depth');
    for (const name of ['Executions per minute', 'Failure rate', 'Latency and queue wait (p95)']) {
      const chart = await screen.findByRole('img', { name });
      expect(chart.dataset.points).toBe('2');
    }

    await userEvent.selectOptions(screen.getByLabelText('Time range'), 'Last 15 minutes');
    expect(await screen.findByText('2 of 12 failed (Last 15 minutes)')).toBeTruthy();
    expect(statsCalls(calls)).toContain('/api/v1/admin/stats?minutes=15');

    const before = statsCalls(calls).length;
    await userEvent.selectOptions(screen.getByLabelText('Refresh'), 'Off');
    await userEvent.click(screen.getByRole('button', { name: 'Refresh' }));
    await waitFor(() => expect(statsCalls(calls).length).toBe(before + 1));
  });

  it('links each status count to the run history filtered by that status', async () => {
    server.use(http.get('/api/v1/admin/stats', () => HttpResponse.json(stats(60))));
    await renderWithApp(<OpsPage />);
    const failed = await screen.findByRole('link', { name: 'failed: 7 — show these runs' });
    expect(failed.getAttribute('href')).toBe('/automations?status=failed&kind=any');
    const running = screen.getAllByRole('link', { name: 'running: 1 — show these runs' });
    expect(running.map((link) => link.getAttribute('href'))).toEqual([
      '/automations?status=running&kind=any',
      '/automations?status=running&kind=any',
    ]);
    expect(screen.getByRole('link', { name: 'queued: 3 — show these runs' })).toBeTruthy();
  });

  it('names the controls in Traditional Chinese', async () => {
    server.use(http.get('/api/v1/admin/stats', () => HttpResponse.json(stats(60))));
    await renderWithApp(<OpsPage />, { language: 'zh-TW' });
    expect(await screen.findByRole('link', { name: /失敗：7/ })).toBeTruthy();
  });
});
